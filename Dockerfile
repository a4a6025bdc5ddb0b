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
#   PORT                           port to listen on, on every address (default 8080); ASPNETCORE_URLS (or Urls)
#                                  and ASPNETCORE_HTTP_PORTS, when set, take precedence, for the service and the
#                                  HEALTHCHECK alike (both read them as one setting: README, Configuration, Urls)
#   Seed__Path                     e.g. /app/sample/incidents.geojson to load the sample incidents
#   Database__MigrateOnStartup     true (default) or false
# The base image's ASPNETCORE_HTTP_PORTS=8080 is cleared: it would take precedence over PORT.
ENV PORT=8080 \
    ASPNETCORE_HTTP_PORTS="" \
    Logging__Console__FormatterName=json \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
EXPOSE 8080
USER $APP_UID
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["dotnet", "IncidentMap.Api.dll", "healthcheck"]
# The service reads PORT itself, as the HEALTHCHECK above does (this entrypoint once turned it into Urls for the
# service alone, so the probe asked port 8080 and an operator's ASPNETCORE_URLS was overridden). A command stays the
# first argument: `docker compose run --rm api keys create newsroom --scopes read,write`.
ENTRYPOINT ["dotnet", "IncidentMap.Api.dll"]
