# shellcheck shell=bash
# Citus helpers for vital_tenancy's scale-out tests. Source it after lib.sh; do not run it.
#
#   ensure_citus                 Citus in $PG_CONFIG's PostgreSQL, built from the vendored
#                                tarball if missing. 0: ready; 2: skipped (one line says why);
#                                1: the build failed (its log's tail is printed). Under set -e:
#                                `status=0; ensure_citus || status=$?`.
#   start_citus_cluster [DB]     a coordinator and two workers on loopback, Citus set up in
#                                postgres and DB (default postgres) with both workers added.
#   citus_create_database NAME   a further database with Citus on every node, workers added
#                                (on a cluster that start_citus_cluster started).
#   citus_psql NODE [DB] ARGS..  psql on node 0 (coordinator), 1 or 2 (workers).
#   stop_citus_cluster           stops the three (idempotent).
#
# Citus is not in Debian's packages: its source is vendored beside the repository
# (../shared/vendor, or VITAL_CITUS_SRC). Ports and directories can be moved with
# VITAL_CITUS_{COORD,W1,W2}_{PORT,DIR}.

# shellcheck source-path=SCRIPTDIR source=lib.sh
declare -F start_cluster >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CITUS_SRC=${VITAL_CITUS_SRC:-$REPO_ROOT/../shared/vendor/citus-13.2.2.tar.gz}
# Coordinator first, then the two workers.
CITUS_DIRS=("${VITAL_CITUS_COORD_DIR:-/tmp/vital_citus_coord}"
            "${VITAL_CITUS_W1_DIR:-/tmp/vital_citus_w1}"
            "${VITAL_CITUS_W2_DIR:-/tmp/vital_citus_w2}")
CITUS_PORTS=("${VITAL_CITUS_COORD_PORT:-55440}"
             "${VITAL_CITUS_W1_PORT:-55441}"
             "${VITAL_CITUS_W2_PORT:-55442}")

ensure_citus() {
    local pkglib sharedir name build log missing=() pkg started
    pkglib=$("$PG_CONFIG" --pkglibdir)
    sharedir=$("$PG_CONFIG" --sharedir)
    if [ -f "$pkglib/citus.so" ] && [ -f "$sharedir/extension/citus.control" ]; then
        return 0
    fi
    if [ ! -f "$CITUS_SRC" ]; then
        say "skipping the Citus tests: Citus is not installed for PostgreSQL $PG_MAJOR and $CITUS_SRC does not exist (set VITAL_CITUS_SRC)"
        return 2
    fi
    # Citus 13.2's configure refuses anything else.
    case "$PG_MAJOR" in 15|16|17) ;; *)
        say "skipping the Citus tests: Citus 13.2 supports PostgreSQL 15-17, not $PG_MAJOR"
        return 2 ;;
    esac

    for pkg in liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libpam0g-dev \
               libcurl4-openssl-dev libssl-dev libreadline-dev flex bison autoconf; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages for Citus: ${missing[*]}"
        local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
    fi

    # One source tree per PostgreSQL version, kept in target/ (git-ignored): a rerun after a
    # wiped install only runs make install (seconds).
    name=$(basename "$CITUS_SRC" .tar.gz)
    build="$REPO_ROOT/target/citus-build/$name-pg$PG_MAJOR"
    log="$REPO_ROOT/target/citus-build/$name-pg$PG_MAJOR.log"
    mkdir -p "$build"
    [ -f "$build/configure" ] || tar -xzf "$CITUS_SRC" -C "$build" --strip-components=1 || return 1
    # PostgreSQL 15.18 and later also declare have_createdb_privilege(), which Citus defines
    # itself for 15: rename Citus's copy. On 16+ the macro now maps Citus's name onto the core
    # function, so the edit is right for every version; it is a no-op once done.
    sed -i -e 's/^#define have_createdb_privilege() have_createdb_privilege()$/#define citus_have_createdb_privilege() have_createdb_privilege()/' \
           -e 's/^have_createdb_privilege(void)$/citus_have_createdb_privilege(void)/' \
        "$build/src/include/pg_version_compat.h"
    sed -i 's/!have_createdb_privilege()/!citus_have_createdb_privilege()/' \
        "$build/src/backend/distributed/commands/serialize_distributed_ddls.c"

    say "building Citus ($name) for PostgreSQL $PG_MAJOR (2-4 minutes on 2 cores the first time; log: $log)"
    started=$SECONDS
    if ! (cd "$build" &&
          { [ -f config.status ] || nice ./configure PG_CONFIG="$PG_CONFIG"; } &&
          nice make -j2 && make install) > "$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "the Citus build failed; full log: $log" >&2
        return 1
    fi
    echo "Citus installed into $pkglib in $((SECONDS - started)) s"
}

# citus_psql NODE [DB] [psql arguments...]: psql as postgres on node 0 (the coordinator),
# 1 or 2, stopping at the first error.
citus_psql() {
    local node=$1 db=${2:-postgres}
    shift; [ $# -gt 0 ] && shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${CITUS_PORTS[$node]}" \
        -U postgres -d "$db" "$@"
}

# start_citus_cluster [DB]: stops and wipes the three clusters, starts them fresh with Citus
# preloaded, and sets Citus up in DB (default postgres).
start_citus_cluster() {
    local db=${1:-postgres} node
    stop_citus_cluster
    for node in 0 1 2; do
        _citus_start_node "${CITUS_DIRS[$node]}" "${CITUS_PORTS[$node]}" || return 1
    done
    if [ "$db" = postgres ]; then
        _citus_setup_database postgres
    else
        _citus_setup_database postgres && citus_create_database "$db"
    fi
}

# citus_create_database NAME: a database with Citus on every node and both workers added.
# CREATE DATABASE reaches the workers by Citus's propagation (off by default, so set here);
# CREATE EXTENSION citus does not, and citus_add_node needs it on the worker first.
citus_create_database() {
    local db=$1
    citus_psql 0 postgres -c "SET citus.enable_create_database_propagation = on" \
        -c "CREATE DATABASE \"$db\"" || return 1
    _citus_setup_database "$db"
}

stop_citus_cluster() {
    local dir
    for dir in "${CITUS_DIRS[@]}"; do
        stop_cluster "$dir"
    done
}

# _citus_start_node DIR PORT: start_cluster's scratch cluster (same layout, trust on loopback,
# the same retry on a port still taken) with Citus preloaded: start_cluster takes no settings.
_citus_start_node() {
    local dir=$1 port=$2
    stop_cluster "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_postgres "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-instructions >/dev/null || return 1
    for _ in 1 2 3 4 5; do
        if as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
                -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_preload_libraries=citus" \
                start >/dev/null; then
            return 0
        fi
        grep -q "Address already in use" "$dir/server.log" || break
        sleep 5
    done
    cat "$dir/server.log" >&2
    return 1
}

# _citus_setup_database DB: Citus in DB on every node, the coordinator registered, the workers
# added. Workers first: their CREATE EXTENSION citus turns SSL on (a self-signed certificate),
# which the coordinator's connections require (citus.node_conninfo is sslmode=require).
_citus_setup_database() {
    local db=$1 node
    for node in 1 2; do
        citus_psql "$node" "$db" -c "CREATE EXTENSION IF NOT EXISTS citus" || return 1
        # SSL comes on with a configuration reload, which is asynchronous.
        for _ in $(seq 50); do
            [ "$(citus_psql "$node" "$db" -Atc "SHOW ssl")" = on ] && break
            sleep 0.1
        done
    done
    citus_psql 0 "$db" -c "CREATE EXTENSION IF NOT EXISTS citus" \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', ${CITUS_PORTS[0]})" \
        -c "SELECT citus_add_node('127.0.0.1', ${CITUS_PORTS[1]})" \
        -c "SELECT citus_add_node('127.0.0.1', ${CITUS_PORTS[2]})" >/dev/null
}
