# syntax=docker/dockerfile:1
# Multi-stage build: the SDK image builds, the ASP.NET runtime image runs as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source
COPY IncidentMap.sln ./
COPY src/IncidentMap.Api/IncidentMap.Api.csproj src/IncidentMap.Api/
RUN dotnet restore src/IncidentMap.Api/IncidentMap.Api.csproj
COPY db/ db/
COPY src/ src/
RUN dotnet publish src/IncidentMap.Api/IncidentMap.Api.csproj -c Release -o /app --no-restore

# Ubuntu 24.04 (the default for .NET 10 tags), which has ICU: the service runs with it (accent and
# Unicode normalisation of names need it). Not a -chiseled or -alpine tag, which leave ICU out.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
COPY db/sample/ ./sample/
# Configuration, all by environment (README: Configuration):
#   ConnectionStrings__Incidents   Npgsql connection string of the service's own login (required to serve):
#                                  no superuser, only what the migrations grant it
#   ConnectionStrings__Migrations  the login that owns the schema and migrates (optional; else the service's own)
#   Database__AppRole              the role migrations grant the service's privileges to (default: the user
#                                  of ConnectionStrings__Incidents, when ConnectionStrings__Migrations is another)
#   PORT                           port to listen on (default 8080)
#   Seed__Path                     e.g. /app/sample/incidents.geojson to load the sample incidents
#   Database__MigrateOnStartup     true (default) or false
ENV PORT=8080 \
    Logging__Console__FormatterName=json \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
EXPOSE 8080
USER $APP_UID
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["dotnet", "IncidentMap.Api.dll", "healthcheck"]
# The listening address goes through the environment, so that a command (migrate, keys …) stays
# the first argument: `docker compose run --rm api keys create newsroom --scopes read,write`.
ENTRYPOINT ["sh", "-c", "exec env Urls=http://+:${PORT} dotnet IncidentMap.Api.dll \"$@\"", "--"]
