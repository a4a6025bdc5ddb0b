#!/usr/bin/env bash
# Benchmarks the API's read paths against PostgreSQL running the same SQL (see bench/README.md).
# ROWS synthetic incidents (default 1000000) in the database incidentmap_bench, the API on
# 127.0.0.1:8091. Results go to stdout and bench/results/latest.txt. Arguments go to the harness,
# e.g. `bench/run.sh --only radius,tile-z14 --duration 5`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS="${ROWS:-1000000}"
DB=incidentmap_bench
PORT=8091
API_URL="http://127.0.0.1:$PORT"
API_BIN=src/IncidentMap.Api/bin/Release/net10.0
BENCH=bench/IncidentMap.Bench/bin/Release/net10.0/IncidentMap.Bench.dll
RESULTS=bench/results
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# The load tools: wrk drives the API, pgbench (PostgreSQL's, installed with the cluster) the raw SQL.
if ! command -v wrk >/dev/null; then
    echo "[bench] installing wrk (apt-get)" >&2
    sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq wrk >/dev/null
fi

db/cluster.sh start
db/cluster.sh ensure-db "$DB"
export ConnectionStrings__Incidents="$(db/cluster.sh url "$DB")"

# Building the bench also builds the API it references, into the API's own bin folder.
dotnet build bench/IncidentMap.Bench -c Release -v quiet -nologo
(cd "$API_BIN" && dotnet IncidentMap.Api.dll migrate)

rows="$(db/cluster.sh psql -d "$DB" -qAt -c 'SELECT count(*) FROM incidents')"
if [ "$rows" -lt "$ROWS" ]; then
    dotnet "$BENCH" generate --rows "$ROWS"
fi
# Autovacuum acts on its statistics, and an immediate restart of the cluster (the fault tests do one)
# resets them: on 2026-11-30, after migrations 0027 and 0028 had rewritten the bench's incidents, the
# statistics showed the table never vacuumed nor analysed, and the raw z14 tile ran at 1,777 q/s before
# this vacuum and 2,247 after. (The heap was the same 1.1 GB after a VACUUM FULL, so the gain was not
# reclaimed space: visibility-map bits and fresh planner statistics.) Seconds when there is nothing to do.
db/cluster.sh psql -d "$DB" -qc "VACUUM (ANALYZE)"

# Another server on the port would be benchmarked in place of ours.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is already in use; stop what listens there" >&2
    exit 1
fi
mkdir -p "$RESULTS"

# Runs only mean something on an otherwise idle machine: a test run or an earlier bench winding down
# skews them by tens of percent. Wait (up to BENCH_QUIET_WAIT seconds) for the 1-minute load average
# to fall under BENCH_QUIET_LOAD; then go on regardless, as the harness prints the load anyway.
quiet_load="${BENCH_QUIET_LOAD:-1.5}"
quiet_wait="${BENCH_QUIET_WAIT:-120}"
for ((waited = 0; waited < quiet_wait; waited += 5)); do
    awk -v limit="$quiet_load" '{ exit !($1 < limit) }' /proc/loadavg && break
    [ "$waited" -eq 0 ] && echo "[bench] waiting up to ${quiet_wait} s for the load average ($(cut -d' ' -f1 /proc/loadavg)) to fall under $quiet_load" >&2
    sleep 5
done

# From its bin folder, so the API finds its appsettings.json; exec keeps $! the API's own pid.
# --urls=URL in one word (a separate URL argument works too: a first argument starting with '-' means serve).
(cd "$API_BIN" && exec env Logging__LogLevel__Default=Warning Database__MigrateOnStartup=false Tiles__Cache=false RateLimits__AnonymousPerMinute=1000000000 \
    RateLimits__ConnectionsPerClient=1024 \
    dotnet IncidentMap.Api.dll --urls="$API_URL") >"$RESULTS/api.log" 2>&1 &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true' EXIT

for attempt in $(seq 120); do
    curl -fsS "$API_URL/health/ready" >/dev/null 2>&1 && break
    if [ "$attempt" -eq 120 ] || ! kill -0 "$api_pid" 2>/dev/null; then
        cat "$RESULTS/api.log" >&2
        echo "the API did not become ready on $API_URL" >&2
        exit 1
    fi
    sleep 0.5
done

{
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    [ -z "$(git status --porcelain -- src db 2>/dev/null)" ] || commit="$commit with uncommitted changes in src/ or db/"
    echo "commit: $commit"
    dotnet "$BENCH" run --api "$API_URL" --api-pid "$api_pid" "$@"
} | tee "$RESULTS/latest.txt"
