#!/usr/bin/env bash
# Runs every test of vital_tenancy. On PostgreSQL 15: lint, #[pg_test]s, pg_regress, the
# integration tests, the migration and upgrade tests, a benchmark smoke run. Then on
# PostgreSQL 16, 17 and 18: pg_regress and the attack, side-channel and pooler tests
# (`./scripts/test.sh --pg 17` runs only those, on one version).
# Works on a fresh Debian 12 machine as root: installs what is missing first.
set -euo pipefail
if [ "${1:-}" = --pg ]; then
    export VITAL_PG=${2:?usage: scripts/test.sh [--pg 16|17|18]}
fi
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ensure_toolchain

# pg_regress on the scratch cluster at 127.0.0.1:$1, with this version's pg_regress.
run_pg_regress() {
    local port=$1 out=/tmp/vital_regress_out_pg$PG_MAJOR tests
    rm -rf "$out"; mkdir -p "$out"
    psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE vital_regress"
    tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
    if ! "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
            --use-existing --host=127.0.0.1 --port="$port" --user=postgres \
            --dbname=vital_regress \
            --inputdir=tests/pg_regress --outputdir="$out" \
            --bindir="$PG_BIN" \
            $tests > "$out/summary.log" 2>&1; then
        cat "$out/summary.log" "$out/regression.diffs" || true
        exit 1
    fi
    grep -E "^(ok|test)|tests passed" "$out/summary.log" || true
}

# Per-tenant monitoring needs shared memory, so a cluster that preloads vital_tenancy, on
# 127.0.0.1:$1; its statistics are the whole server's: one test at a time.
run_tenant_stats_tests() {
    local port=$1 dir=/tmp/vital_stats_cluster_pg$PG_MAJOR
    say "PostgreSQL $PG_MAJOR: per-tenant monitoring, on a cluster that preloads vital_tenancy (127.0.0.1:$port)"
    start_cluster "$dir" "$port" "-c shared_preload_libraries=vital_tenancy"
    VITAL_TEST_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres" \
        cargo test -q --features "pg15 pg_test" --test tenant_stats -- --ignored --test-threads=1 \
        || { stop_cluster "$dir"; exit 1; }
    stop_cluster "$dir"
}

if [ -n "${VITAL_PG:-}" ] && [ "$PG_MAJOR" != 15 ]; then
    install_extension
    CLUSTER=/tmp/vital_test_cluster_pg$PG_MAJOR
    PORT=$((55400 + PG_MAJOR))
    POOLER_DIR=/tmp/vital_test_pgbouncer_pg$PG_MAJOR
    RESET_POOLER_DIR=/tmp/vital_test_pgbouncer_reset_pg$PG_MAJOR
    say "PostgreSQL $PG_MAJOR: scratch cluster on 127.0.0.1:$PORT, pg_regress"
    start_cluster "$CLUSTER" "$PORT"
    trap 'stop_pgbouncer "$POOLER_DIR"; stop_pgbouncer "$RESET_POOLER_DIR"; stop_cluster "$CLUSTER"' EXIT
    run_pg_regress "$PORT"
    start_pgbouncer "$POOLER_DIR" $((56400 + PG_MAJOR)) "$PORT"
    start_pgbouncer "$RESET_POOLER_DIR" $((56420 + PG_MAJOR)) "$PORT" reset
    say "PostgreSQL $PG_MAJOR: the attack, side-channel, pooler and docs tests"
    VITAL_TEST_DSN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres" \
    VITAL_TEST_POOLER="host=127.0.0.1 port=$((56400 + PG_MAJOR))" \
    VITAL_TEST_POOLER_RESET="host=127.0.0.1 port=$((56420 + PG_MAJOR))" \
    VITAL_TEST_PG_BIN="$PG_BIN" \
        cargo test -q --features "pg15 pg_test" --test attacks --test side_channels --test pooler \
            --test docs -- --ignored --test-threads=4
    run_tenant_stats_tests $((55410 + PG_MAJOR))
    say "PostgreSQL $PG_MAJOR: all tests passed"
    exit 0
fi

say "cargo fmt --check"
cargo fmt --check

say "cargo clippy"
cargo clippy --all-targets --features "pg15 pg_test" -- -D warnings

say "#[pg_test] unit tests (cargo pgrx test)"
PGRX_TEST_DIR=/tmp/vital_pgrx_test
rm -rf "$PGRX_TEST_DIR"; mkdir -p "$PGRX_TEST_DIR"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGRX_TEST_DIR"
cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DIR/data"

install_extension

CLUSTER=/tmp/vital_test_cluster
PORT=${VITAL_TEST_PORT:-55432}
say "scratch cluster on 127.0.0.1:$PORT"
start_cluster "$CLUSTER" "$PORT"
trap 'stop_cluster "$CLUSTER"' EXIT

say "pg_regress"
run_pg_regress "$PORT"

POOLER_DIR=/tmp/vital_test_pgbouncer
POOLER_PORT=${VITAL_TEST_POOLER_PORT:-56432}
say "pgbouncer (transaction pooling) on 127.0.0.1:$POOLER_PORT"
start_pgbouncer "$POOLER_DIR" "$POOLER_PORT" "$PORT"
RESET_POOLER_DIR=/tmp/vital_test_pgbouncer_reset
RESET_POOLER_PORT=$((POOLER_PORT + 1))
say "pgbouncer (transaction pooling, DISCARD ALL after every transaction) on 127.0.0.1:$RESET_POOLER_PORT"
start_pgbouncer "$RESET_POOLER_DIR" "$RESET_POOLER_PORT" "$PORT" reset
trap 'stop_pgbouncer "$POOLER_DIR"; stop_pgbouncer "$RESET_POOLER_DIR"; stop_cluster "$CLUSTER"' EXIT

say "integration tests over real connections"
# Every tests/*.rs but citus.rs, which needs the cluster tests/citus/run.sh starts, and
# tenant_stats.rs, which needs one that preloads the library (run_tenant_stats_tests).
integration_tests=()
for file in tests/*.rs; do
    name=$(basename "$file" .rs)
    case "$name" in citus|tenant_stats) ;; *) integration_tests+=(--test "$name") ;; esac
done
VITAL_TEST_PG_BIN="$PG_BIN" \
VITAL_TEST_DSN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres" \
VITAL_TEST_POOLER="host=127.0.0.1 port=$POOLER_PORT" \
VITAL_TEST_POOLER_RESET="host=127.0.0.1 port=$RESET_POOLER_PORT" \
    cargo test --features "pg15 pg_test" "${integration_tests[@]}" -- --ignored --test-threads=4

run_tenant_stats_tests "$((PORT + 2))"

say "the isolation tests again, on a database installed at 0.1.0 and updated with ALTER EXTENSION"
VITAL_TEST_DSN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres" VITAL_TEST_UPGRADE_FROM=0.1.0 \
    cargo test --features "pg15 pg_test" --test attacks --test privilege --test side_channels \
        --test invariants --test registered_tables --test roles --test moves -- --ignored --test-threads=4

say "the VITAL migration: plan, apply, tenant views, rollback, fingerprints, backup and restore-backup, rehearse, three differently-shaped databases"
PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres tests/migration/run.sh

stop_pgbouncer "$POOLER_DIR"
stop_pgbouncer "$RESET_POOLER_DIR"
stop_cluster "$CLUSTER"

say "upgrades: 0.1.0 as released, migrated, then ALTER EXTENSION UPDATE (installs the current build again)"
tests/upgrade/run.sh

say "Citus: a coordinator and two workers, the VITAL migration distributed (skipped without Citus or its source)"
tests/citus/run.sh

say "benchmark smoke run (tiny data; the real run is ./bench/run.sh)"
./bench/run.sh --smoke

for major in 16 17 18; do
    say "PostgreSQL $major"
    "$0" --pg "$major"
done

say "all tests passed"
