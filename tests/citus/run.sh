#!/usr/bin/env bash
# The Citus tests: a coordinator and two workers on loopback, the VITAL migration, then
# vital.distribute() (its dry run first: the plan must be what it does), the isolation suite of
# tests/citus.rs (every query shape per tenant app, tokens, foreign keys on shards, the pooled
# pattern through pgbouncer, audit of every shard), and vital.undistribute(), which must give
# back the exact fingerprint of the database before distribute().
#
# Citus is built from ../shared/vendor when it is not installed (scripts/citus.sh); without
# either, this says so in one line and succeeds. Needs the extension installed for the
# PostgreSQL of scripts/lib.sh (scripts/test.sh does that first).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
source scripts/citus.sh
reserve_test_ports

status=0
ensure_citus || status=$?
if [ "$status" -eq 2 ]; then exit 0; fi
if [ "$status" -ne 0 ]; then exit 1; fi

POOLER_DIR=/tmp/vital_citus_pgbouncer
POOLER_PORT=56440
DB=vital_citus
cleanup() { stop_pgbouncer "$POOLER_DIR" >/dev/null 2>&1 || true; stop_citus_cluster >/dev/null 2>&1 || true; }
# VITAL_CITUS_KEEP=1 leaves the cluster running, distributed, after the isolation suite.
[ -n "${VITAL_CITUS_KEEP:-}" ] || trap cleanup EXIT

say "Citus: a coordinator (55440) and two workers (55441, 55442)"
start_citus_cluster >/dev/null
citus_create_database "$DB" >/dev/null
export PGHOST=127.0.0.1 PGPORT=${CITUS_PORTS[0]} PGUSER=postgres PGDATABASE=$DB
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vital_tenancy" \
     -f examples/vital/schema.sql -f examples/vital/seed.sql >/dev/null

say "Citus: the VITAL migration on the coordinator"
# The backup before phase 1 goes to scratch space, not the home directory.
export VITAL_BACKUP_DIR=/tmp/vital_citus_backups
examples/vital/migrate.sh apply all > /tmp/vital_citus_migrate.log 2>&1 \
    || { tail -30 /tmp/vital_citus_migrate.log; exit 1; }
# The fingerprint, and its lines (to show what differs if it does).
fingerprint_lines() {
    sed -e "s/^SELECT 'schema '.*FROM (\$/SELECT line FROM (/" \
        -e 's/^) lines;/) lines ORDER BY line;/' examples/vital/fingerprint.sql | psql -X -q -At
}
psql -X -q -At -f examples/vital/fingerprint.sql > /tmp/vital_citus_fingerprint_before.txt
fingerprint_lines > /tmp/vital_citus_fingerprint_lines_before.txt

say "Citus: vital.distribute() (dry run, then for real)"
plan="SELECT relid::text || ' ' || kind || ' ' || array_to_string(actions, '; ') FROM vital.distribute(dry_run => \$1)"
dry=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "PREPARE p(boolean) AS $plan" -c "EXECUTE p(true)")
if [ "$(psql -X -At -c "SELECT count(*) FROM pg_dist_partition")" != 0 ]; then
    echo "the dry run distributed something"; exit 1
fi
done_=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
             -c "PREPARE p(boolean) AS $plan" -c "EXECUTE p(false)")
if [ "$dry" != "$done_" ]; then
    echo "distribute() did not do what its dry run said:"; diff <(echo "$dry") <(echo "$done_") || true; exit 1
fi
echo "$done_" | sed 's/^/    /'
kinds=$(psql -X -At -c "SELECT count(*) FILTER (WHERE partmethod = 'h') || ' distributed, ' || count(*) FILTER (WHERE partmethod = 'n') || ' reference' FROM pg_dist_partition")
echo "    Citus now has $kinds tables"

say "Citus: pgbouncer (transaction pooling) on 127.0.0.1:$POOLER_PORT in front of the coordinator"
start_pgbouncer "$POOLER_DIR" "$POOLER_PORT" "$PGPORT"

say "Citus: the isolation suite (tests/citus.rs)"
VITAL_TEST_CITUS_DSN="host=127.0.0.1 port=$PGPORT user=postgres dbname=$DB" \
VITAL_TEST_CITUS_WORKERS="127.0.0.1:${CITUS_PORTS[1]},127.0.0.1:${CITUS_PORTS[2]}" \
VITAL_TEST_CITUS_POOLER="host=127.0.0.1 port=$POOLER_PORT" \
    cargo test -q --features "pg15 pg_test" --test citus -- --ignored --test-threads=4

if [ -n "${VITAL_CITUS_KEEP:-}" ]; then
    say "Citus: the cluster keeps running (VITAL_CITUS_KEEP), distributed"; exit 0
fi

say "Citus: vital.undistribute() gives back the database as it was"
psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "SELECT vital.undistribute()" >/dev/null
psql -X -q -At -f examples/vital/fingerprint.sql > /tmp/vital_citus_fingerprint_after.txt
if ! diff -q /tmp/vital_citus_fingerprint_before.txt /tmp/vital_citus_fingerprint_after.txt >/dev/null; then
    echo "the fingerprint after undistribute() differs from the one before distribute():"
    diff /tmp/vital_citus_fingerprint_lines_before.txt <(fingerprint_lines) | head -100
    exit 1
fi
# Every phase's checks, the audit among them (it accepts VITAL's sequence keys by name).
examples/vital/migrate.sh verify all > /tmp/vital_citus_migrate.log 2>&1 \
    || { tail -30 /tmp/vital_citus_migrate.log; exit 1; }
say "Citus: a table owner's trigger while distribute() and undistribute() move rows (tests/citus/owner_code.sh)"
tests/citus/owner_code.sh
say "Citus: the Citus benchmark's smoke run (bench/citus.sh --smoke, clusters of its own)"
stop_pgbouncer "$POOLER_DIR" >/dev/null 2>&1 || true
stop_citus_cluster >/dev/null 2>&1 || true
bench/citus.sh --smoke > /tmp/vital_citus_bench_smoke.log 2>&1 \
    || { tail -30 /tmp/vital_citus_bench_smoke.log; exit 1; }
grep -c '^|' /tmp/vital_citus_bench_smoke.log | sed 's/^/    result lines: /'
say "Citus tests passed"
