#!/usr/bin/env bash
# The main job: builds vital_tenancy, starts a scratch PostgreSQL 15 cluster of its own
# (never the system one), and runs the VITAL demo in it. Leaves the cluster running so you
# can look around; prints how to connect and how to stop it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

CLUSTER=${VITAL_DEMO_DIR:-/tmp/vital_demo_cluster}
PORT=${VITAL_DEMO_PORT:-55433}
DB=vital

ensure_toolchain
install_extension
say "starting a scratch PostgreSQL 15 cluster in $CLUSTER on 127.0.0.1:$PORT"
start_cluster "$CLUSTER" "$PORT"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"

say "installing the extension and the VITAL tenants"
"${PSQL[@]}" -d "$DB" -f examples/demo.sql

cat <<MSG

The cluster is still running.
  connect:  psql -h 127.0.0.1 -p $PORT -U postgres $DB
  stop it:  runuser -u postgres -- $PG_BIN/pg_ctl -D $CLUSTER/data stop
MSG
