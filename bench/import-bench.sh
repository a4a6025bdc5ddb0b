#!/usr/bin/env bash
# Bulk import speed: generates a clean CSV of
# ROWS incidents (our own columns, default 1,000,000) in /var/tmp, imports it into an empty
# incidents table with `IncidentMap.Api import FILE --source bench`, and compares with psql's \copy
# of the same file into an UNLOGGED table of the same columns (the raw reference: parsing CSV and
# writing rows, with no validation, indexes, triggers or history). Then imports the file a second
# time (everything unchanged). Prints rows/s, the API/\copy ratio and the importer's peak memory.
# The import writes on Imports__Writers connections (default 2); set it to compare, e.g. 1.
# Uses the database incidentmap_importbench, which it empties; never incidentmap or incidentmap_test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS="${ROWS:-1000000}"
DB=incidentmap_importbench
API_BIN=src/IncidentMap.Api/bin/Release/net10.0
CSV="/var/tmp/incidentmap-import-bench-${ROWS}.csv"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

db/cluster.sh start
db/cluster.sh ensure-db "$DB"
export ConnectionStrings__Incidents="$(db/cluster.sh url "$DB")"
psql_db() { db/cluster.sh psql -d "$DB" -v ON_ERROR_STOP=1 "$@"; }

dotnet build src/IncidentMap.Api -c Release -v quiet -nologo
(cd "$API_BIN" && dotnet IncidentMap.Api.dll migrate)

if [ ! -s "$CSV" ]; then
    echo "[import-bench] generating $ROWS rows into $CSV" >&2
    # Deterministic (srand(42)): points scattered around conflict cities, one to three actors,
    # a source, tolls mostly small; commas in summaries make every row carry a quoted field.
    awk -v n="$ROWS" 'BEGIN {
        srand(42)
        split("Homs,34.73,36.71,SY|Aleppo,36.20,37.16,SY|Baghdad,33.31,44.36,IQ|Mosul,36.34,43.13,IQ|Kabul,34.53,69.17,AF|Mogadishu,2.04,45.34,SO|Maiduguri,11.85,13.16,NG|Sanaa,15.37,44.19,YE|Tripoli,32.89,13.19,LY|Donetsk,48.02,37.80,UA", cities, "|")
        split("battles,explosions_remote_violence,violence_against_civilians,protests,riots,strategic_developments", types, ",")
        split("Armed clash,Shelling/artillery/missile attack,Attack,Peaceful protest,Mob violence,Agreement", subs, ",")
        split("day,day,day,exact,week,month", precisions, ",")
        split("exact,near,town,region", geos, ",")
        print "external_id,title,summary,event_type,sub_event_type,occurred_at,time_precision,location_name,admin1,country,geo_precision,fatalities_min,fatalities_max,actors,tags,sources,lon,lat"
        for (i = 1; i <= n; i++) {
            split(cities[1 + int(rand() * 10)], c, ",")
            t = 1 + int(rand() * 6)
            day = sprintf("20%02d-%02d-%02dT%02d:%02d:00Z", 16 + int(rand() * 9), 1 + int(rand() * 12), 1 + int(rand() * 28), int(rand() * 24), int(rand() * 60))
            low = int(rand() * rand() * 40); high = low + int(rand() * 5)
            printf "bench:%d,%s near %s,\"Reported near %s, %s; event %d of the benchmark.\",%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,Actor %d;Actor %d,bench,\"[{\"\"publisher\"\":\"\"Bench Wire\"\"}]\",%.5f,%.5f\n",
                i, subs[t], c[1], c[1], c[4], i, types[t], subs[t], day, precisions[1 + int(rand() * 6)], c[1], c[1], c[4],
                geos[1 + int(rand() * 4)], low, high, int(rand() * 50), int(rand() * 50), c[3] + (rand() - 0.5) * 0.8, c[2] + (rand() - 0.5) * 0.8
        }
    }' > "$CSV.tmp"
    mv "$CSV.tmp" "$CSV"
fi
size_mb=$(( $(stat -c %s "$CSV") / 1024 / 1024 ))

# Raw reference: the same file into an UNLOGGED table with the same columns.
psql_db -q -c "DROP TABLE IF EXISTS import_bench_raw" -c "CREATE UNLOGGED TABLE import_bench_raw (
    external_id text, title text, summary text, event_type text, sub_event_type text, occurred_at timestamptz,
    time_precision text, location_name text, admin1 text, country text, geo_precision text, fatalities_min integer,
    fatalities_max integer, actors text, tags text, sources jsonb, lon float8, lat float8)"
start=$(date +%s.%N)
psql_db -q -c "\\copy import_bench_raw FROM '$CSV' WITH (FORMAT csv, HEADER true)"
copy_s=$(echo "$(date +%s.%N) - $start" | bc)
psql_db -q -c "DROP TABLE import_bench_raw"

# An empty incidents table (bench rows only), with its feed and history.
if [ "$(psql_db -qAt -c "SELECT count(*) FROM incidents WHERE external_id IS NULL OR external_id NOT LIKE 'bench:%'")" != 0 ]; then
    echo "$DB holds incidents the bench did not write; refusing to empty it" >&2
    exit 1
fi
psql_db -q -c "TRUNCATE incidents, incident_changes, incident_revisions RESTART IDENTITY"

# CPU seconds the cluster has used so far: the postmaster, the backends it has reaped and the live ones.
pg_cpu() {
    local data pm
    data="$(db/cluster.sh status 2>&1 | sed -n 's/.*data in //p')"
    pm="$(head -1 "$data/postmaster.pid")"
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
      for child in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || true; done
    } | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.2f", s / hz}'
}

# CPU seconds the whole machine has been busy (every core; not idle, iowait or time stolen by the hypervisor): the figure that cannot
# miss a backend that exited between two readings, and that tells a CPU-bound import (two cores' worth of
# seconds a second) from one that waits.
busy_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat
}

# One import: its wall time, peak resident memory (GNU time's %M, KiB), the importer's CPU seconds,
# PostgreSQL's (where a row's cost goes when the machine is busy with other work) and the machine's.
run_import() {
    local log; log="$(mktemp)"
    local pg_before; pg_before="$(pg_cpu)"
    local busy_before; busy_before="$(busy_cpu)"
    local start; start=$(date +%s.%N)
    (cd "$API_BIN" && Logging__LogLevel__Default=Warning /usr/bin/time -f '%M %U %S' -o "$log.mem" \
        dotnet IncidentMap.Api.dll import "$CSV" --source bench) > "$log.report" 2> "$log.progress"
    local seconds; seconds=$(echo "$(date +%s.%N) - $start" | bc)
    local busy_seconds; busy_seconds=$(echo "$(busy_cpu) - $busy_before" | bc)
    # The import's backends exit with it. Until the postmaster has reaped them their CPU is in neither of the
    # totals pg_cpu adds up (they are no longer listed as live children), so wait for them to be gone.
    for _ in $(seq 1 50); do
        [ "$(psql_db -qAt -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")" = 0 ] && break
        sleep 0.1
    done
    sleep 0.2
    local pg_seconds; pg_seconds=$(echo "$(pg_cpu) - $pg_before" | bc)
    tail -1 "$log.progress" | tr '\r' '\n' | tail -1 >&2
    grep -E '"(inserted|updated|unchanged|rejected)"' "$log.report" | tr -d ' ,\n' >&2; echo >&2
    read -r kib user sys < "$log.mem"
    echo "$seconds $kib $(echo "$user + $sys" | bc) $pg_seconds $busy_seconds"
    rm -f "$log" "$log.mem" "$log.report" "$log.progress"
}
command -v /usr/bin/time >/dev/null || { echo "[import-bench] installing GNU time (apt-get)" >&2; sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }; sudo_if_needed apt-get update -qq; DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq time >/dev/null; }

read -r first_s first_kib first_cpu first_pg first_busy < <(run_import)
read -r again_s again_kib again_cpu again_pg again_busy < <(run_import)

rate() { echo "scale=0; $ROWS / $1" | bc; }
echo
echo "import bench: $ROWS rows, ${size_mb} MiB CSV, $(nproc) cores, ${Imports__Writers:-2} writers, load $(cut -d' ' -f1-3 /proc/loadavg)"
per_row() { echo "scale=1; $1 * 1000000 / $ROWS" | bc; }
# Machine busy: CPU µs a row of the whole machine, and how many of its cores that kept busy on average.
cores_busy() { echo "scale=2; $1 / $2" | bc; }
printf '%-44s %10s %12s %12s %14s %14s %22s\n' "" "seconds" "rows/s" "peak RSS" "importer CPU" "PostgreSQL CPU" "machine busy"
printf '%-44s %10.1f %12s %12s\n' "psql \\copy into an UNLOGGED table (raw)" "$copy_s" "$(rate "$copy_s")" "-"
printf '%-44s %10.1f %12s %8s MiB %9s µs/row %7s µs/row %7s µs/row %4s cores\n' "import into an empty incidents table" "$first_s" "$(rate "$first_s")" "$((first_kib / 1024))" "$(per_row "$first_cpu")" "$(per_row "$first_pg")" "$(per_row "$first_busy")" "$(cores_busy "$first_busy" "$first_s")"
printf '%-44s %10.1f %12s %8s MiB %9s µs/row %7s µs/row %7s µs/row %4s cores\n' "import again (every row unchanged)" "$again_s" "$(rate "$again_s")" "$((again_kib / 1024))" "$(per_row "$again_cpu")" "$(per_row "$again_pg")" "$(per_row "$again_busy")" "$(cores_busy "$again_busy" "$again_s")"
echo "import/\\copy ratio: $(echo "scale=3; $copy_s / $first_s" | bc) (first import), $(echo "scale=3; $copy_s / $again_s" | bc) (unchanged re-import)"
echo "target: >= 50,000 rows/s for the first import: $([ "$(rate "$first_s")" -ge 50000 ] && echo ok || echo MISS)"
