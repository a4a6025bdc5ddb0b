#!/usr/bin/env bash
# Runs IncidentMap on http://localhost:8080 against a private PostGIS cluster (installed and
# started on first use), with migrations applied and the sample incidents loaded.
# Ctrl+C stops the service; `db/cluster.sh stop` stops the database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

db/cluster.sh start     # also makes the service's login, incidentmap_app
db/cluster.sh ensure-db incidentmap

# Two logins (README: Configuration): the service serves as incidentmap_app, which may read and write
# the data and nothing else; migrations run as the cluster's superuser, which creates the extensions,
# owns the schema and grants incidentmap_app what the service needs. A ConnectionStrings__Incidents
# of your own is used alone, for both, as before.
migrations=""
if [ -z "${ConnectionStrings__Incidents:-}" ]; then
    export ConnectionStrings__Incidents="$(db/cluster.sh url incidentmap app)"
    migrations="${ConnectionStrings__Migrations:-$(db/cluster.sh url incidentmap)}"
fi
export Seed__Path="${Seed__Path:-$PWD/db/sample/incidents.geojson}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build src/IncidentMap.Api -c Release -v quiet -nologo
# From the build folder, so the service finds its appsettings.json.
cd src/IncidentMap.Api/bin/Release/net10.0

# A fresh key for this run (the previous "local-dev" key is revoked); keys are stored only as hashes.
# The command migrates first, as the migrating login. Its log goes to a file, shown only if it fails
# (a database it cannot reach, a failed migration).
log="$(mktemp)"
if ! key="$(ConnectionStrings__Migrations="${migrations:-${ConnectionStrings__Migrations:-}}" Logging__Console__LogToStandardErrorThreshold=Trace \
        dotnet IncidentMap.Api.dll keys create local-dev --scopes read,write,admin --replace 2>"$log")"; then
    cat "$log" >&2
    rm -f "$log"
    echo "run.sh: could not prepare the database (see above)" >&2
    exit 1
fi
rm -f "$log"
# Where it serves (http://localhost:8080 unless --urls=, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS or PORT say
# otherwise) the service says itself once it listens: "IncidentMap is at …; Swagger UI at …".
cat <<BANNER
Write/admin key    $key   (send as X-API-Key; a new one each run)
BANNER
# The service itself never holds the superuser's password: it finds the schema migrated and serves.
if [ -n "$migrations" ]; then unset ConnectionStrings__Migrations; fi
exec dotnet IncidentMap.Api.dll "$@"
