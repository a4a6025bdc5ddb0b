#!/usr/bin/env bash
# Runs IncidentMap on http://localhost:8080 against a private PostGIS cluster (installed and
# started on first use), with migrations applied and the sample incidents loaded.
# Ctrl+C stops the service; `db/cluster.sh stop` stops the database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

db/cluster.sh start
db/cluster.sh ensure-db incidentmap

export ConnectionStrings__Incidents="${ConnectionStrings__Incidents:-$(db/cluster.sh url incidentmap)}"
export Seed__Path="${Seed__Path:-$PWD/db/sample/incidents.geojson}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build src/IncidentMap.Api -c Release -v quiet -nologo
# From the build folder, so the service finds its appsettings.json.
cd src/IncidentMap.Api/bin/Release/net10.0

# A fresh key for this run (the previous "local-dev" key is revoked); keys are stored only as hashes.
# Its log goes to a file, shown only if it fails (a database it cannot reach, a failed migration).
log="$(mktemp)"
if ! key="$(Logging__Console__LogToStandardErrorThreshold=Trace dotnet IncidentMap.Api.dll keys create local-dev --scopes read,write,admin --replace 2>"$log")"; then
    cat "$log" >&2
    rm -f "$log"
    echo "run.sh: could not prepare the database (see above)" >&2
    exit 1
fi
rm -f "$log"
cat <<BANNER
IncidentMap        http://localhost:8080/collections/incidents/items
Swagger UI         http://localhost:8080/swagger
Write/admin key    $key   (send as X-API-Key; a new one each run)
BANNER
exec dotnet IncidentMap.Api.dll "$@"
