#!/usr/bin/env bash
# Runs the whole test suite against a real PostGIS: installs what the tests need (PostgreSQL 15 +
# PostGIS 3, GDAL), starts the private cluster, recreates the test database, runs every test.
# Extra arguments go to `dotnet test` (e.g. --filter Paging).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# GDAL's ogr2ogr/ogrinfo are real OGC API clients the tests drive.
if ! command -v ogr2ogr >/dev/null; then
    echo "[test] installing gdal-bin (apt-get)" >&2
    sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq gdal-bin >/dev/null
fi

db/cluster.sh start
# INCIDENTMAP_TEST_DB lets two suites share one cluster without dropping each other's database.
test_db="${INCIDENTMAP_TEST_DB:-incidentmap_test}"
db/cluster.sh recreate-db "$test_db"

# The tests' own setup logs in as the superuser; the service under test as its own login,
# incidentmap_app, with migrations run as the superuser: the whole suite proves the grants suffice.
export INCIDENTMAP_TEST_CONNECTION="$(db/cluster.sh url "$test_db")"
export INCIDENTMAP_TEST_APP_CONNECTION="$(db/cluster.sh url "$test_db" app)"
# Fault tests restart PostgreSQL through this script.
export INCIDENTMAP_CLUSTER_SCRIPT="$PWD/db/cluster.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

results="$(mktemp -d)"
set +e
dotnet test IncidentMap.sln -c Release --logger "console;verbosity=normal" \
    --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@" \
    2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# Repeat every failure (name, message, top of the stack) at the end, where a CI log's tail shows it.
awk '/^  Failed /{on=1; n=0} /^  (Passed|Skipped) /{on=0} /^\[xUnit|^Test Run|^Results File/{on=0}
     on && n++ < 40' "$results/console.log" > "$results/failures.txt"
if [ -s "$results/failures.txt" ]; then
    echo "---- failed tests ----"
    cat "$results/failures.txt"
    echo "----------------------"
fi

# One plain summary line, whatever the runner printed above.
if ls "$results"/*.trx >/dev/null 2>&1; then
    passed=$(grep -o 'passed="[0-9]*"' "$results"/*.trx | head -1 | tr -dc 0-9)
    failed=$(grep -o 'failed="[0-9]*"' "$results"/*.trx | head -1 | tr -dc 0-9)
    echo "tests: ${passed:-0} passed, ${failed:-0} failed"
fi
rm -rf "$results"
exit $status
