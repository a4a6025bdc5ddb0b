#!/usr/bin/env bash
# A private PostgreSQL 15 + PostGIS 3 cluster for IncidentMap development and tests.
#
#   db/cluster.sh start    install packages if missing, create the cluster once, start it
#   db/cluster.sh stop     stop it (data is kept)
#   db/cluster.sh restart [fast|immediate]   restart it (the fault tests use this)
#   db/cluster.sh status   say where it is and whether it runs
#   db/cluster.sh url DB   print an Npgsql connection string for database DB (as the superuser postgres)
#   db/cluster.sh url DB app   the same as the service's own login, incidentmap_app (no superuser)
#   db/cluster.sh ensure-db DB     create database DB if it is missing
#   db/cluster.sh recreate-db DB   drop database DB and create it empty
#   db/cluster.sh psql ... run psql against the cluster
#   db/cluster.sh destroy  stop it and delete its data
#
# The cluster listens on 127.0.0.1 only, on its own port (INCIDENTMAP_PG_PORT, else the first
# free port from 55432, chosen once and remembered),
# with a generated password; it never touches a system cluster. Its data lives in .pgdata/ of
# the checkout, or, when the postgres user cannot enter the checkout (a clone under /root, as
# CI uses), under /var/tmp/incidentmap-pg-<hash of the checkout path>.
#
# Two logins: postgres, the superuser, creates databases and extensions and applies migrations;
# incidentmap_app (created by `start`, with a generated password of its own) is the service's:
# no superuser, no CREATEDB or CREATEROLE, only what the migrations grant it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_VERSION=15
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
STATE="${INCIDENTMAP_PG_STATE:-$ROOT/.pgdata}"   # the password, the port and the pointer to the data (a second cluster: set INCIDENTMAP_PG_STATE)
SU=()                          # how to run server commands (as postgres when we are root)
APP_ROLE=incidentmap_app       # the service's login (cluster-wide, like every role)

log() { printf '\033[1;34m[cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[cluster]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

install_packages() {
    if [ -x "$PG_BIN/initdb" ] && [ -d /usr/share/postgresql/${PG_VERSION}/extension ] \
        && ls /usr/share/postgresql/${PG_VERSION}/extension/postgis.control >/dev/null 2>&1; then
        return
    fi
    log "installing PostgreSQL ${PG_VERSION} + PostGIS 3 (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    # Keep the package from creating and starting a system cluster of its own.
    as_root apt-get install -y -qq postgresql-common >/dev/null
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/incidentmap.conf >/dev/null
    as_root apt-get install -y -qq "postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-postgis-3" >/dev/null
}

resolve_datadir() {
    mkdir -p "$STATE"
    if [ -f "$STATE/datadir" ]; then DATA="$(cat "$STATE/datadir")"; return; fi
    if [ "$(id -u)" -ne 0 ]; then
        DATA="$STATE/cluster"
    else
        # Root: the server must run as postgres, which may not be able to enter the checkout.
        local probe="$STATE/cluster"
        mkdir -p "$probe" && chown postgres: "$probe"
        if runuser -u postgres -- test -w "$probe" 2>/dev/null; then
            DATA="$probe"
        else
            rmdir "$probe"
            DATA="/var/tmp/incidentmap-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
            log "postgres cannot enter $ROOT; keeping the cluster in $DATA"
        fi
    fi
    echo "$DATA" > "$STATE/datadir"
}

setup_user() {
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "user postgres is missing (the postgresql package creates it)"
        SU=(runuser -u postgres --)
    fi
}

run_pg() { (cd / && "${SU[@]}" "$@"); }

password() { cat "$STATE/password"; }

# psql as the superuser in the maintenance database (over TCP: the cluster has no Unix socket).
admin_psql() { PGPASSWORD="$(password)" psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }

app_password() {
    [ -f "$STATE/app-password" ] || die "no password on record for $APP_ROLE: run db/cluster.sh start"
    cat "$STATE/app-password"
}

new_password() { (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$1"); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port is chosen when the cluster is created and kept in $STATE/port.
resolve_port() {
    if [ -n "${INCIDENTMAP_PG_PORT:-}" ]; then PORT="$INCIDENTMAP_PG_PORT"
    elif [ -f "$STATE/port" ]; then PORT="$(cat "$STATE/port")"
    else
        PORT=55432
        while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
    fi
    mkdir -p "$STATE"; echo "$PORT" > "$STATE/port"
}

# Outside the checkout, the password and port also live beside the data ($DATA.password, $DATA.port):
# a new clone at the same path finds the cluster a previous one left there.
remember_outside() {
    case "$DATA" in "$STATE"/*) return ;; esac
    cp "$STATE/password" "$DATA.password"
    [ -f "$STATE/port" ] && cp "$STATE/port" "$DATA.port"
    chmod 600 "$DATA.password"
    if [ -f "$STATE/app-password" ]; then cp "$STATE/app-password" "$DATA.app-password"; chmod 600 "$DATA.app-password"; fi
    return 0
}

recover_outside() {
    case "$DATA" in "$STATE"/*) return ;; esac
    [ -f "$STATE/password" ] || { [ -f "$DATA.password" ] && (umask 077; cp "$DATA.password" "$STATE/password"); }
    [ -f "$STATE/port" ] || { [ -f "$DATA.port" ] && cp "$DATA.port" "$STATE/port"; }
    [ -f "$STATE/app-password" ] || { [ -f "$DATA.app-password" ] && (umask 077; cp "$DATA.app-password" "$STATE/app-password"); }
    return 0
}

create_cluster() {
    recover_outside
    if [ -f "$DATA/PG_VERSION" ] && [ ! -f "$STATE/password" ]; then
        # A cluster whose password is lost is of no use to anyone: start afresh.
        log "the cluster in $DATA has no password on record; recreating it"
        setup_user
        run_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$DATA"
    fi
    [ -f "$DATA/PG_VERSION" ] && return
    log "creating cluster in $DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    [ -f "$STATE/password" ] || new_password "$STATE/password"
    local pwfile; pwfile="$(mktemp)"; cp "$STATE/password" "$pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
    run_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    remember_outside
    cat >> "$DATA/postgresql.conf" <<CONF
# IncidentMap private cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 512MB
effective_cache_size = 4GB
random_page_cost = 1.1
synchronous_commit = on
fsync = on
logging_collector = off
timezone = 'UTC'
CONF
}

is_running() { [ -n "${DATA:-}" ] && run_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
    install_packages
    setup_user
    resolve_datadir
    create_cluster
    resolve_port
    [ -f "$STATE/port" ] && case "$DATA" in "$STATE"/*) ;; *) cp "$STATE/port" "$DATA.port" ;; esac
    if is_running; then
        log "already running on 127.0.0.1:$PORT ($DATA)"
    else
        port_in_use "$PORT" && die "port $PORT is taken by another server; set INCIDENTMAP_PG_PORT"
        log "starting on 127.0.0.1:$PORT ($DATA)"
        run_pg "$PG_BIN/pg_ctl" -D "$DATA" -o "-p $PORT" -l "$DATA/server.log" -w -t 60 start >/dev/null \
            || { tail -20 "$DATA/server.log" >&2; die "could not start PostgreSQL (log above)"; }
    fi
    ensure_app_role
    tune_parallel
}

# Parallel query on a machine of two cores or fewer: off. A parallel worker is a new process, and starting
# one took 35 ms on the project's 2-core VMs (pgbench, a one-row table under force_parallel_mode: 35 ms a
# query against 0.13 ms), which was more than the workers saved on any of the service's statements: the
# z3 cluster tile 2.6-2.9 s against 1.9 s serial, a count of a million rows 129 against 68 ms, a world
# /clusters 2.2 against 1.1 s (docs/query-performance.md, "Parallel query"). And with the service's own
# work on the same two cores, a worker can only take CPU from another request. Larger machines keep
# PostgreSQL's default. INCIDENTMAP_PG_PARALLEL_WORKERS sets the value; a steady start writes nothing.
tune_parallel() {
    local want="${INCIDENTMAP_PG_PARALLEL_WORKERS:-}"
    if [ -z "$want" ]; then
        if [ "$(nproc)" -le 2 ]; then want=0; else want=default; fi
    fi
    [[ "$want" =~ ^([0-9]+|default)$ ]] || die "INCIDENTMAP_PG_PARALLEL_WORKERS must be a number or 'default'"
    local sql="ALTER SYSTEM SET max_parallel_workers_per_gather = $want"
    [ "$want" = default ] && sql="ALTER SYSTEM RESET max_parallel_workers_per_gather"
    local now; now="$(admin_psql -qAt \
        -c "SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = 'max_parallel_workers_per_gather' AND sourcefile LIKE '%postgresql.auto.conf' AND applied), 'default')")"
    [ "$now" = "$want" ] && return 0
    admin_psql -qAt -v ON_ERROR_STOP=1 \
        -c "$sql" -c "SELECT pg_reload_conf()" >/dev/null
    log "max_parallel_workers_per_gather: $want ($(nproc) cores)"
}

# The service's login: created once, its attributes and password put right when they are not (a
# steady start writes nothing to the catalog). Its password is generated like the superuser's and
# kept beside it ($STATE/app-password). What it may do in a database, the migrations grant.
ensure_app_role() {
    [ -f "$STATE/app-password" ] || new_password "$STATE/app-password"
    remember_outside
    local pw; pw="$(cat "$STATE/app-password")"
    [[ "$pw" =~ ^[A-Za-z0-9]+$ ]] || die "$STATE/app-password is not a generated password; delete it to get a new one"
    admin_psql -qAt -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'incidentmap_app') THEN
        BEGIN
            CREATE ROLE incidentmap_app LOGIN;
        EXCEPTION WHEN duplicate_object THEN NULL;  -- another start made it just now
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'incidentmap_app'
               AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin)) THEN
        ALTER ROLE incidentmap_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END
$$;
SQL
    # The password goes on standard input, never on a command line (where ps shows it).
    if ! PGPASSWORD="$pw" PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PORT" -U "$APP_ROLE" -d postgres -qAt -c 'SELECT 1' >/dev/null 2>&1; then
        printf "ALTER ROLE %s PASSWORD '%s';\n" "$APP_ROLE" "$pw" \
            | admin_psql -qAt -v ON_ERROR_STOP=1 >/dev/null
        log "login $APP_ROLE ready (the service's; db/cluster.sh url DB app)"
    fi
}

stop() {
    setup_user
    [ -f "$STATE/datadir" ] || { log "no cluster here"; return; }
    DATA="$(cat "$STATE/datadir")"
    if is_running; then run_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; log "stopped"; else log "not running"; fi
}

ensure_db() {
    local db="$1"
    admin_psql -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
        || admin_psql -q \
            -c "CREATE DATABASE \"$db\""
}

[ -f "$STATE/port" ] && PORT="${INCIDENTMAP_PG_PORT:-$(cat "$STATE/port")}" || PORT="${INCIDENTMAP_PG_PORT:-55432}"

case "${1:-}" in
    start)   start ;;
    stop)    stop ;;
    status)  setup_user; resolve_datadir
             if is_running; then echo "running on 127.0.0.1:$PORT, data in $DATA"; else echo "stopped, data in $DATA"; fi ;;
    restart) setup_user; resolve_datadir
             run_pg "$PG_BIN/pg_ctl" -D "$DATA" -m "${2:-fast}" -w -t 60 restart -o "-p $PORT" -l "$DATA/server.log" >/dev/null
             log "restarted (${2:-fast})" ;;
    ensure-db) ensure_db "$2" ;;
    recreate-db)
             admin_psql -q \
                 -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\"" ;;
    url)     case "${3:-}" in
                 "")  echo "Host=127.0.0.1;Port=$PORT;Username=postgres;Password=$(password);Database=${2:-incidentmap}" ;;
                 app) echo "Host=127.0.0.1;Port=$PORT;Username=$APP_ROLE;Password=$(app_password);Database=${2:-incidentmap}" ;;
                 *)   die "url DB [app]: '$3' is not a login this script knows" ;;
             esac ;;
    psql)    shift; PGPASSWORD="$(password)" exec psql -h 127.0.0.1 -p "$PORT" -U postgres "$@" ;;
    destroy) stop; DATA="$(cat "$STATE/datadir" 2>/dev/null || true)"
             [ -n "$DATA" ] && as_root rm -rf "$DATA" "$DATA.password" "$DATA.app-password" "$DATA.port"; rm -rf "$STATE"; log "destroyed" ;;
    *)       sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
