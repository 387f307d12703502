#!/usr/bin/env bash
# The main job: the VITAL migration on a scratch PostgreSQL cluster of its own (VITAL_PG picks
# the version, 15 by default).
# Installs what is missing, builds and installs vital_tenancy, starts the cluster (never the
# system one), loads the pre-migration VITAL database, runs the four migration phases with
# their checks, and shows what each tenant app sees. Leaves the cluster running.
#
# --citus: the same on a Citus cluster (a coordinator and two workers, scripts/citus.sh; Citus
# is built from ../shared/vendor when missing), with the migrated tables distributed by
# vital.distribute() before the apps look.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

CITUS=no
for arg in "$@"; do
    case "$arg" in
        --citus) CITUS=yes ;;
        *) echo "usage: $0 [--citus]" >&2; exit 2 ;;
    esac
done

CLUSTER=${VITAL_DEMO_DIR:-/tmp/vital_demo_cluster}
PORT=${VITAL_DEMO_PORT:-55433}

ensure_toolchain
install_extension
if [ "$CITUS" = yes ]; then
    # Ports and directories of its own, so that the demo and the tests never share a cluster.
    export VITAL_CITUS_COORD_PORT=55450 VITAL_CITUS_W1_PORT=55451 VITAL_CITUS_W2_PORT=55452
    export VITAL_CITUS_COORD_DIR=/tmp/vital_demo_citus_coord VITAL_CITUS_W1_DIR=/tmp/vital_demo_citus_w1 \
           VITAL_CITUS_W2_DIR=/tmp/vital_demo_citus_w2
    source scripts/citus.sh
    status=0
    ensure_citus || status=$?
    [ "$status" -eq 0 ] || { echo "Citus is not available (see above)" >&2; exit 1; }
    say "starting a Citus cluster: coordinator 127.0.0.1:${CITUS_PORTS[0]}, workers ${CITUS_PORTS[1]} and ${CITUS_PORTS[2]}"
    start_citus_cluster >/dev/null
    citus_create_database vital >/dev/null
    CLUSTER=${CITUS_DIRS[0]}
    PORT=${CITUS_PORTS[0]}
else
    say "starting a scratch PostgreSQL $PG_MAJOR cluster in $CLUSTER on 127.0.0.1:$PORT"
    # Preloaded: vital's hooks from every session's first statement, and per-tenant statistics.
    start_cluster "$CLUSTER" "$PORT" "-c shared_preload_libraries=vital_tenancy"
    psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE vital"
fi
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=vital
export VITAL_BACKUP_DIR="$CLUSTER/backups"   # migrate.sh's backup before phase 1

say "loading the pre-migration VITAL database (single-tenant: no tenant_id anywhere)"
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vital_tenancy" \
     -f examples/vital/schema.sql -f examples/vital/seed.sql
psql -X -q -At -f examples/vital/fingerprint.sql | tee "$CLUSTER/fingerprint-before.txt"

if [ "$CITUS" = no ]; then
    say "a rehearsal on a copy: preflight, the four phases, their checks, rollback, fingerprints compared"
    examples/vital/migrate.sh rehearse
fi

say "the migration: preflight, a verified backup, then the four phases (each applied, then verified)"
examples/vital/migrate.sh apply all

if [ "$CITUS" = yes ]; then
    say "vital.distribute(): the registered tables on Citus, by tenant_id"
    psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
         -c "SELECT relid, kind, array_to_string(actions, E'\n') AS actions FROM vital.distribute()"
fi

# Per-tenant statistics need the library preloaded: the single-node cluster has it.
[ "$CITUS" = yes ] || psql -X -q -c "SELECT vital.tenant_stats_reset()" >/dev/null
say "what each tenant app sees"
psql -X -q -f examples/vital/show_tenants.sql
if [ "$CITUS" = no ]; then
    say "per tenant: what those page queries cost (vital.tenant_stats()) and what each tenant holds (vital.tenant_sizes())"
    psql -X -q -f examples/vital/show_tenant_stats.sql
fi

if [ "$CITUS" = yes ]; then
    cat <<MSG

The distributed database is still running (coordinator 127.0.0.1:$PORT).
  connect as the DBA:         psql -h 127.0.0.1 -p $PORT -U postgres vital
  connect as a tenant app:    psql -h 127.0.0.1 -p $PORT -U vital_app_dhs vital
                              then, per transaction (a session tenant does not reach the workers):
                              BEGIN; SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111', true); ... COMMIT;
  back to one node:           psql -h 127.0.0.1 -p $PORT -U postgres -c 'SELECT vital.undistribute()' vital
                              (then migrate.sh rollback all works as below)
  stop the three nodes:       for d in $CLUSTER ${CITUS_DIRS[1]} ${CITUS_DIRS[2]}; do runuser -u postgres -- $PG_BIN/pg_ctl -D \$d/data stop; done
MSG
    exit 0
fi

cat <<MSG

The migrated database is still running.
  connect as the DBA:         psql -h 127.0.0.1 -p $PORT -U postgres vital
  connect as a tenant app:    psql -h 127.0.0.1 -p $PORT -U vital_app_dhs vital
                              then SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111');
  roll back (phases 4 to 1):  PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=vital \\
                              examples/vital/migrate.sh rollback all
  compare with the start:     psql -h 127.0.0.1 -p $PORT -U postgres -At -f examples/vital/fingerprint.sql vital
                              (before: $CLUSTER/fingerprint-before.txt)
  last resort, the backup:    PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=vital VITAL_BACKUP_DIR=$CLUSTER/backups \\
                              examples/vital/migrate.sh restore-backup     (recorded in $CLUSTER/backups/backups.tsv)
  stop the cluster:           runuser -u postgres -- $PG_BIN/pg_ctl -D $CLUSTER/data stop
MSG
