#!/usr/bin/env bash
# The main job: the VITAL migration on a scratch PostgreSQL cluster of its own (VITAL_PG picks
# the version, 15 by default).
# Installs what is missing, builds and installs vital_tenancy, starts the cluster (never the
# system one), loads the pre-migration VITAL database, runs the four migration phases with
# their checks, and shows what each tenant app sees. Leaves the cluster running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

CLUSTER=${VITAL_DEMO_DIR:-/tmp/vital_demo_cluster}
PORT=${VITAL_DEMO_PORT:-55433}
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=vital

ensure_toolchain
install_extension
say "starting a scratch PostgreSQL $PG_MAJOR cluster in $CLUSTER on 127.0.0.1:$PORT"
start_cluster "$CLUSTER" "$PORT"
psql -X -q -d postgres -c "CREATE DATABASE vital"

say "loading the pre-migration VITAL database (single-tenant: no tenant_id anywhere)"
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vital_tenancy" \
     -f examples/vital/schema.sql -f examples/vital/seed.sql
psql -X -q -At -f examples/vital/fingerprint.sql | tee "$CLUSTER/fingerprint-before.txt"

say "the migration, phase by phase (each phase is applied, then verified)"
examples/vital/migrate.sh apply all

say "what each tenant app sees"
psql -X -q -f examples/vital/show_tenants.sql

cat <<MSG

The migrated database is still running.
  connect as the DBA:         psql -h 127.0.0.1 -p $PORT -U postgres vital
  connect as a tenant app:    psql -h 127.0.0.1 -p $PORT -U vital_app_dhs vital
                              then SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111');
  roll back (phases 4 to 1):  PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=vital \\
                              examples/vital/migrate.sh rollback all
  compare with the start:     psql -h 127.0.0.1 -p $PORT -U postgres -At -f examples/vital/fingerprint.sql vital
                              (before: $CLUSTER/fingerprint-before.txt)
  stop the cluster:           runuser -u postgres -- $PG_BIN/pg_ctl -D $CLUSTER/data stop
MSG
