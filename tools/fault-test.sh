#!/usr/bin/env bash
# The PostgreSQL fault test at full length, on a private cluster of its own, in one command:
#
#   tools/fault-test.sh                  # FAULT_ROUNDS=10 rounds (about two minutes)
#   FAULT_ROUNDS=3 tools/fault-test.sh   # what ./test.sh runs
#
# Writers (POST with an Idempotency-Key, retried with the same key) and readers load the service while
# PostgreSQL is restarted (-m fast, -m immediate), stopped for 2 s and started, and has its backends
# terminated. The test then checks every acknowledged write is stored exactly once, that no request
# got a 500 and that the service recovered within seconds, and prints a "FAULT SUMMARY" line.
#
# The cluster it breaks is a second one (state in /var/tmp/incidentmap-fault-<hash of the checkout>,
# or INCIDENTMAP_FAULT_PG_STATE), never the one in .pgdata/ that ./run.sh and ./test.sh use; it is
# stopped again at the end. Build output goes to /var/tmp as well, so concurrent builds of the
# checkout are not disturbed. Extra arguments go to `dotnet test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

hash="$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
state="${INCIDENTMAP_FAULT_PG_STATE:-/var/tmp/incidentmap-fault-$hash}"
artifacts="${INCIDENTMAP_FAULT_ARTIFACTS:-/var/tmp/incidentmap-fault-build-$hash}"
db=incidentmap_fault

# The second cluster: its own state dir; a port meant for the main cluster must not leak in.
cluster() { env -u INCIDENTMAP_PG_PORT INCIDENTMAP_PG_STATE="$state" "$ROOT/db/cluster.sh" "$@"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# cluster.sh picks the first free port from 55432 when it creates a cluster: were the main cluster
# stopped just now, the fault cluster would take its port for good. Choose one well away from it.
if [ ! -f "$state/port" ]; then
    main_port="$(cat "$ROOT/.pgdata/port" 2>/dev/null || echo 55432)"
    port=55532
    while port_in_use "$port" || [ "$port" = "$main_port" ]; do port=$((port + 1)); done
    mkdir -p "$state"
    echo "$port" > "$state/port"
fi

cluster start
trap 'cluster stop || true' EXIT
cluster recreate-db "$db"
connection="$(cluster url "$db")"
app_connection="$(cluster url "$db" app)"

export INCIDENTMAP_FAULT_PG_STATE="$state"
export INCIDENTMAP_FAULT_CLUSTER_SCRIPT="$ROOT/db/cluster.sh"
export INCIDENTMAP_FAULT_CONNECTION="$connection"
export INCIDENTMAP_FAULT_APP_CONNECTION="$app_connection"
# The suite's shared fixture needs a database too: give it the fault database, not the test database.
export INCIDENTMAP_TEST_CONNECTION="$connection"
export INCIDENTMAP_TEST_APP_CONNECTION="$app_connection"
unset INCIDENTMAP_CLUSTER_SCRIPT INCIDENTMAP_PG_STATE INCIDENTMAP_PG_PORT
export FAULT_ROUNDS="${FAULT_ROUNDS:-10}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "[fault-test] FAULT_ROUNDS=$FAULT_ROUNDS against $(cluster status)" >&2
log="$(mktemp)"
status=0
dotnet test tests/IncidentMap.Tests/IncidentMap.Tests.csproj -c Release --artifacts-path "$artifacts" \
    --filter "FullyQualifiedName~IncidentMap.Tests.Faults." --logger "console;verbosity=detailed" "$@" 2>&1 \
    | tee "$log" || status=$?

echo
grep -h 'FAULT SUMMARY' "$log" | sed 's/^ *//' | sort -u || echo "[fault-test] no summary printed (see above)"
rm -f "$log"
exit "$status"
