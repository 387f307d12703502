#!/usr/bin/env bash
# Attack: a table owner's own code (a trigger; CHECK constraints, index expressions and domains
# are the same case) runs while Citus copies the table's rows between nodes in
# vital.distribute() and vital.undistribute(). Citus copies over connections as the current
# user, a superuser, and the receiving node runs the table's code as that user: the trigger
# below made its owner superuser on a worker. vital refuses (42501) to move rows through code
# a non-superuser owns, changes nothing, and moves the table once it is empty.
# Runs on the cluster of tests/citus/run.sh (scripts/citus.sh), in a database of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
source scripts/citus.sh
DB=vital_citus_owner_code
citus_psql 0 postgres -c "SET citus.enable_create_database_propagation = on" \
    -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS vital_hostile_owner" >/dev/null 2>&1
citus_create_database "$DB" >/dev/null
citus_psql 0 "$DB" >/dev/null <<'SQL'
CREATE EXTENSION vital_tenancy;
CREATE ROLE vital_hostile_owner LOGIN;
GRANT CREATE ON SCHEMA public TO vital_hostile_owner;
SET ROLE vital_hostile_owner;
CREATE TABLE hostile (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v text);
-- Whoever runs it as a superuser makes the owner one.
CREATE FUNCTION hostile_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE vital_hostile_owner SUPERUSER';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hostile BEFORE INSERT OR UPDATE ON hostile FOR EACH ROW EXECUTE FUNCTION hostile_trigger();
INSERT INTO hostile (v) VALUES ('a'), ('b'), ('c');
RESET ROLE;
SELECT vital.register_table('hostile');
SELECT vital.allow_tenant('vital_hostile_owner', vital.platform_tenant());
SQL

failures=0
check() {  # check WHAT EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL: $1: expected $2, got $3" >&2; failures=$((failures + 1)); fi
}
q() { citus_psql 0 "$DB" -At -c "SET client_min_messages = warning" -c "$1" 2>&1 || true; }
superuser_anywhere() {
    local node out=""
    for node in 0 1 2; do
        out="$out$(citus_psql "$node" "$DB" -At -c "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'vital_hostile_owner'")"
    done
    echo "$out"
}
sqlstate() {  # sqlstate SQL: the SQLSTATE it fails with (00000 when it succeeds)
    citus_psql 0 "$DB" -At -v ON_ERROR_STOP=0 -c "SET client_min_messages = warning" -c "$1" \
        -c '\echo :LAST_ERROR_SQLSTATE' 2>/dev/null | tail -1
}
distributed() { q "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'hostile'::regclass"; }
as_owner() {  # as_owner SQL: in a transaction of the platform tenant, as the table's owner
    citus_psql 0 "$DB" -c "SET ROLE vital_hostile_owner" -c "BEGIN" \
        -c "SELECT vital.set_tenant(vital.platform_tenant(), true)" -c "$1" -c "COMMIT" >/dev/null
}

refusal=$(q "SELECT count(*) FROM vital.distribute()")
check "distribute() refuses to copy rows through the owner's trigger" \
    "ERROR:  vital.distribute() would run public.hostile_trigger() (owned by vital_hostile_owner) as a superuser while Citus copies the rows of public.hostile" \
    "$(echo "$refusal" | head -1)"
check "nothing distributed" 0 "$(distributed)"
check "the owner is superuser on no node" fff "$(superuser_anywhere)"
check "the dry run refuses too" 42501 \
    "$(sqlstate "SELECT count(*) FROM vital.distribute(dry_run => true)")"

# Emptied, the table moves: no row is copied, no code runs.
as_owner "DELETE FROM hostile"
q "SELECT count(*) FROM vital.distribute()" >/dev/null
check "distributed once empty" 1 "$(distributed)"
check "the owner is superuser on no node after distribute()" fff "$(superuser_anywhere)"
as_owner "INSERT INTO hostile (v) VALUES ('a'), ('b'), ('c')"
check "rows written by the owner, on the shards" 3 "$(q "SELECT count(*) FROM hostile")"
check "the owner is superuser on no node after its inserts" fff "$(superuser_anywhere)"

check "undistribute() refuses to copy the rows back through the trigger" 42501 \
    "$(sqlstate "SELECT vital.undistribute()")"
check "still distributed" 1 "$(distributed)"
check "rows kept" 3 "$(q "SELECT count(*) FROM hostile")"
as_owner "DELETE FROM hostile"
check "undistribute() once empty" 00000 "$(sqlstate "SELECT vital.undistribute()")"
check "back on one node once empty" 0 "$(distributed)"
check "the owner is superuser on no node after undistribute()" fff "$(superuser_anywhere)"
check "audit errors" 0 "$(q "SELECT count(*) FROM vital.audit() WHERE severity = 'error'")"

if [ -z "${VITAL_CITUS_KEEP:-}" ]; then
    citus_psql 0 postgres -c "SET citus.enable_create_database_propagation = on" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
    citus_psql 0 postgres -c "DROP ROLE vital_hostile_owner" >/dev/null
fi
[ "$failures" -eq 0 ] || exit 1
echo "    the owner's trigger never ran as a superuser: distribute() and undistribute() refused (42501) while rows would pass through it"
