#!/usr/bin/env bash
# Upgrades from every released version to the current one, the way a DBA does them:
#  1. the release installed as it was released — its library and SQL, built from its commit
#     (0.1.0: ca8646c) — and the VITAL database migrated on it with that release's migration;
#  2. the current library installed, ALTER EXTENSION vital_tenancy UPDATE;
#  3. (a) the catalog of schema vital, vital's stored state and everything on the registered
#     tables equal a fresh install of the current version that ran the same migration
#     (tests/upgrade/catalog.sql, diffed); (b) the current migration's phase 3 re-applied and
#     every phase verified on the upgraded database, and each app role sees only its tenant.
# Runs on a scratch cluster of its own; installs the current build again at the end. The
# integration tests run on an upgraded database too (scripts/test.sh, VITAL_TEST_UPGRADE_FROM).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$REPO_ROOT"

RELEASE=0.1.0
RELEASE_COMMIT=ca8646c
CLUSTER=/tmp/vital_upgrade_cluster
PORT=${VITAL_UPGRADE_PORT:-55437}
OLD=/tmp/vital_upgrade_$RELEASE
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
run_phases() {  # run_phases <db> <examples dir>: the migration's apply files, phases 1-4
    local p
    for p in 1 2 3 4; do
        (cd "$2/phases" && PGDATABASE=$1 psql -X -q -v ON_ERROR_STOP=1 -v tenant=all -v role_prefix=upgrade \
             < "$p-apply.sql") > /dev/null 2>&1 || { echo "phase $p on $1 failed" >&2; return 1; }
    done
}

say "upgrade: build and install vital_tenancy $RELEASE as released ($RELEASE_COMMIT)"
rm -rf "$OLD"; git worktree prune
git worktree add -f "$OLD" "$RELEASE_COMMIT" > /dev/null 2>&1
# A target directory of its own: built in the main one, the release's artifacts would stand in
# for the current ones at the next install (pgrx reuses its schema generator).
(cd "$OLD" && CARGO_TARGET_DIR="$REPO_ROOT/target/release-$RELEASE" cargo pgrx install --pg-config "$PG_CONFIG" \
     > /tmp/vital_upgrade_build.log 2>&1) \
    || { tail -20 /tmp/vital_upgrade_build.log; exit 1; }
start_cluster "$CLUSTER" "$PORT"
trap 'stop_cluster "$CLUSTER"; git -C "$REPO_ROOT" worktree remove --force "$OLD" 2>/dev/null || true' EXIT
q -d postgres -c "CREATE DATABASE vital_upgraded"
PGDATABASE=vital_upgraded q -c "CREATE EXTENSION vital_tenancy" -f "$OLD/examples/vital/schema.sql" -f "$OLD/examples/vital/seed.sql" > /dev/null
[ "$(PGDATABASE=vital_upgraded q -c "SELECT extversion FROM pg_extension WHERE extname = 'vital_tenancy'")" = "$RELEASE" ] \
    || fail "the release did not install as $RELEASE"
run_phases vital_upgraded "$OLD/examples/vital" || fail "the $RELEASE migration on $RELEASE"
stop_cluster "$CLUSTER"

say "upgrade: install the current build, ALTER EXTENSION vital_tenancy UPDATE"
install_extension > /tmp/vital_upgrade_install.log 2>&1 || { tail -20 /tmp/vital_upgrade_install.log; exit 1; }
as_postgres env "$PG_BIN/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/server.log" -w \
    -o "-p $PORT -k $CLUSTER -c listen_addresses=127.0.0.1" start > /dev/null
# The window between the package upgrade and ALTER EXTENSION UPDATE: the current library under
# the release's SQL. The apps keep working; DDL on a registered table goes through, unchecked,
# with a warning.
[ "$(PGDATABASE=vital_upgraded PGUSER=upgrade_app_dhs q \
       -c "SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111')" \
       -c "SELECT count(*) FROM agents WHERE tenant_id <> vital.current_tenant() AND tenant_id <> vital.platform_tenant()" | tail -1)" = 0 ] \
    || fail "an app role under the $RELEASE SQL and the current library"
PGDATABASE=vital_upgraded psql -X -q -v ON_ERROR_STOP=1 -c "ALTER TABLE agents ALTER COLUMN model SET DEFAULT 'gpt-4o'" 2> /tmp/vital_upgrade_window.log \
    || fail "DDL on a registered table under the $RELEASE SQL and the current library"
grep -q "SQL is older than its library" /tmp/vital_upgrade_window.log || fail "no warning that DDL goes unchecked before the update"
PGDATABASE=vital_upgraded q -c "ALTER EXTENSION vital_tenancy UPDATE" || fail "ALTER EXTENSION UPDATE"
current=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ "$(PGDATABASE=vital_upgraded q -c "SELECT extversion FROM pg_extension WHERE extname = 'vital_tenancy'")" = "$current" ] \
    || fail "not at $current after the update"

say "upgrade: a fresh install of $current, the same migration"
q -d postgres -c "CREATE DATABASE vital_fresh"
PGDATABASE=vital_fresh q -c "CREATE EXTENSION vital_tenancy" -f "$OLD/examples/vital/schema.sql" -f "$OLD/examples/vital/seed.sql" > /dev/null
run_phases vital_fresh "$OLD/examples/vital" || fail "the $RELEASE migration on a fresh $current"
diff <(PGDATABASE=vital_fresh q -f tests/upgrade/catalog.sql) <(PGDATABASE=vital_upgraded q -f tests/upgrade/catalog.sql) \
    > /tmp/vital_upgrade_catalog.diff || { head -60 /tmp/vital_upgrade_catalog.diff; fail "catalog after the update differs from a fresh install (< fresh, > upgraded)"; }

say "upgrade: the current migration's phase 3 and every verify on the upgraded database"
(cd examples/vital/phases && PGDATABASE=vital_upgraded psql -X -q -v ON_ERROR_STOP=1 -v role_prefix=upgrade < 3-apply.sql) \
    > /tmp/vital_upgrade_phase3.log 2>&1 || { cat /tmp/vital_upgrade_phase3.log; fail "phase 3 on the upgraded database"; }
PGDATABASE=vital_upgraded VITAL_ROLE_PREFIX=upgrade examples/vital/migrate.sh verify all > /tmp/vital_upgrade_verify.log 2>&1 \
    || { tail -20 /tmp/vital_upgrade_verify.log; fail "verify all on the upgraded database"; }

stop_cluster "$CLUSTER"
if [ $failures -gt 0 ]; then
    echo "upgrade tests: $failures failure(s)" >&2
    exit 1
fi
say "upgrade tests passed: $RELEASE -> $current"
