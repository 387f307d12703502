#!/usr/bin/env bash
# The VITAL migration under test, on the test cluster (PGHOST/PGPORT/PGUSER from the caller):
#  1. the four phases applied and verified, each tenant's view of every table checked as its
#     app role against expected counts, then rolled back: schema fingerprint and row counts
#     equal those before phase 1; then applied again;
#  2. phase 4 one tenant at a time;
#  3. a differently-shaped database (extra columns, an extra table, no knowledge table).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vital="$here/../../examples/vital"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
fresh_db() {  # fresh_db <name> <schema file> [file to run after the seed]
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
    PGDATABASE=$1 q -c "CREATE EXTENSION vital_tenancy" -f "$2" -f "$vital/seed.sql" ${3:+-f "$3"} >/dev/null
}
fingerprint() { PGDATABASE=$1 q -f "$vital/fingerprint.sql"; }

# Rows each app role sees per table after phase 4: visible, own, other tenants'.
expected_views() {
cat <<'TABLE'
vital_app_platform agent_tools 456 456 0
vital_app_platform agents 48 48 0
vital_app_platform chat_messages 60 60 0
vital_app_platform chat_sessions 10 10 0
vital_app_platform jobs_to_be_done 36 36 0
vital_app_platform knowledge 32 32 0
vital_app_platform org_departments 16 16 0
vital_app_platform organizational_levels 6 6 0
vital_app_platform personas 12 12 0
vital_app_platform prompts 96 96 0
vital_app_platform suite_functions 8 8 0
vital_app_platform tool_categories 10 10 0
vital_app_platform tools 40 40 0
vital_app_dhs agent_tools 636 180 0
vital_app_dhs agents 66 18 0
vital_app_dhs chat_messages 12 12 0
vital_app_dhs chat_sessions 3 3 0
vital_app_dhs jobs_to_be_done 42 6 0
vital_app_dhs knowledge 35 3 0
vital_app_dhs org_departments 16 0 0
vital_app_dhs organizational_levels 6 0 0
vital_app_dhs personas 15 3 0
vital_app_dhs prompts 132 36 0
vital_app_dhs suite_functions 8 0 0
vital_app_dhs tool_categories 10 0 0
vital_app_dhs tools 54 14 0
vital_app_pharma agent_tools 696 240 0
vital_app_pharma agents 72 24 0
vital_app_pharma chat_messages 12 12 0
vital_app_pharma chat_sessions 3 3 0
vital_app_pharma jobs_to_be_done 44 8 0
vital_app_pharma knowledge 36 4 0
vital_app_pharma org_departments 16 0 0
vital_app_pharma organizational_levels 6 0 0
vital_app_pharma personas 16 4 0
vital_app_pharma prompts 144 48 0
vital_app_pharma suite_functions 8 0 0
vital_app_pharma tool_categories 10 0 0
vital_app_pharma tools 57 17 0
TABLE
}

# What an app role actually sees, in the same format (it connects as itself: no superuser).
actual_views() {  # actual_views <db>
    for pair in vital_app_platform:00000000-0000-0000-0000-000000000001 \
                vital_app_dhs:11111111-1111-1111-1111-111111111111 \
                vital_app_pharma:f7aa6fd4-0af9-4706-8b31-034f1f7accda; do
        role=${pair%%:*}; tenant=${pair#*:}
        PGDATABASE=$1 PGUSER=$role q <<SQL
SELECT vital.set_tenant('$tenant') \g /dev/null
SELECT '$role' || ' ' || r.relid::text || ' ' ||
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', r.relid), false, true, '')))[1]::text || ' ' ||
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = vital.current_tenant()', r.relid), false, true, '')))[1]::text || ' ' ||
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id NOT IN (vital.current_tenant(), vital.platform_tenant())', r.relid), false, true, '')))[1]::text
  FROM vital.registered_tables r ORDER BY r.relid::text;
SQL
    done
}

echo "== 1. apply, check each tenant's view, roll back, compare, apply again"
fresh_db vital_migration "$vital/schema.sql"
before=$(fingerprint vital_migration)
PGDATABASE=vital_migration "$vital/migrate.sh" apply all > /tmp/vital_migration_apply.log 2>&1 \
    || { cat /tmp/vital_migration_apply.log; fail "apply all"; }
diff <(expected_views | sort) <(actual_views vital_migration | sort) || fail "tenant views after phase 4"
# The compat names work for the apps too.
[ "$(PGDATABASE=vital_migration PGUSER=vital_app_dhs q -c "SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111')" \
     -c "SELECT count(*) FROM tools WHERE category = 'Digital Health' AND tenant_id = vital.current_tenant()" | tail -1)" = 4 ] \
    || fail "tools.category as the startup app"
PGDATABASE=vital_migration "$vital/migrate.sh" rollback all > /tmp/vital_migration_rollback.log 2>&1 \
    || { cat /tmp/vital_migration_rollback.log; fail "rollback all"; }
after=$(fingerprint vital_migration)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "fingerprint after rollback"; }
PGDATABASE=vital_migration "$vital/migrate.sh" apply all > /tmp/vital_migration_reapply.log 2>&1 \
    || { cat /tmp/vital_migration_reapply.log; fail "re-apply all"; }
PGDATABASE=vital_migration "$vital/migrate.sh" apply all > /tmp/vital_migration_rerun.log 2>&1 \
    || { cat /tmp/vital_migration_rerun.log; fail "applying twice"; }
diff <(expected_views | sort) <(actual_views vital_migration | sort) || fail "tenant views after re-applying"

echo "== 1b. pg_dump and pg_restore of the migrated database keep tenants, registrations and isolation"
dump=$(mktemp -d)/vital.dump
pg_dump -Fc -d vital_migration -f "$dump" || fail "pg_dump"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS vital_restored" -c "CREATE DATABASE vital_restored" 2>/dev/null
pg_restore -d vital_restored --exit-on-error "$dump" > /tmp/vital_restore.log 2>&1 || { cat /tmp/vital_restore.log; fail "pg_restore"; }
[ "$(PGDATABASE=vital_restored q -c "SELECT count(*) FROM vital.registered_tables")" = 13 ] || fail "registrations after restore"
[ "$(PGDATABASE=vital_restored q -c "SELECT string_agg(slug, ',' ORDER BY slug) FROM vital.tenants")" = \
  "digital-health-startup,pharmaceuticals,platform" ] || fail "tenants after restore"
# A dump restored into a database it did not create (no --create) leaves out the database's own
# settings and privileges: the audit names what phase 3 set there, and the DBA sets it again.
[ "$(PGDATABASE=vital_restored q -c "SELECT count(*) FROM vital.audit() WHERE problem LIKE 'vital_tenancy is not loaded when its sessions start%'")" = 3 ] \
    || { PGDATABASE=vital_restored psql -X -c "SELECT * FROM vital.audit()"; fail "audit after restore: the preload setting"; }
PGDATABASE=vital_restored q -c "ALTER DATABASE vital_restored SET session_preload_libraries = 'vital_tenancy'" \
    -c "REVOKE TEMPORARY ON DATABASE vital_restored FROM PUBLIC"
[ "$(PGDATABASE=vital_restored q -c "SELECT count(*) FROM vital.audit() WHERE severity IN ('error', 'warning')
                                      AND problem NOT LIKE 'key drawn from a sequence that every tenant shares%'")" = 0 ] \
    || { PGDATABASE=vital_restored psql -X -c "SELECT * FROM vital.audit()"; fail "audit after restore"; }
diff <(expected_views | sort) <(actual_views vital_restored | sort) || fail "tenant views after restore"
PGDATABASE=vital_restored "$vital/migrate.sh" verify all >/dev/null 2>&1 || fail "verify after restore"
# The app roles hold privileges in the restored copy; drop it so that phase 3 can drop them.
psql -X -q -d postgres -c "DROP DATABASE vital_restored"

echo "== 2. phase 4 one tenant at a time"
PGDATABASE=vital_migration "$vital/migrate.sh" rollback 4 >/dev/null 2>&1 || fail "rollback 4"
PGDATABASE=vital_migration "$vital/migrate.sh" apply 4 digital-health-startup >/dev/null 2>&1 || fail "apply 4 for the startup"
[ "$(PGDATABASE=vital_migration q -c "SELECT string_agg(slug, ',' ORDER BY slug) FROM vital.tenants")" = \
  "digital-health-startup,platform" ] || fail "only the startup after its phase 4"
PGDATABASE=vital_migration "$vital/migrate.sh" apply 4 pharmaceuticals >/dev/null 2>&1 || fail "apply 4 for pharma"
diff <(expected_views | sort) <(actual_views vital_migration | sort) || fail "tenant views after one-by-one seeding"
PGDATABASE=vital_migration "$vital/migrate.sh" apply 4 no-such-tenant >/dev/null 2>&1 && fail "unknown tenant accepted"
PGDATABASE=vital_migration "$vital/migrate.sh" rollback all >/dev/null 2>&1 || fail "final rollback"
[ "$before" = "$(fingerprint vital_migration)" ] || fail "fingerprint after the final rollback"

echo "== 3. a differently-shaped database"
fresh_db vital_shaped "$here/shaped_schema.sql" "$here/shaped_after_seed.sql"
before=$(fingerprint vital_shaped)
PGDATABASE=vital_shaped VITAL_ROLE_PREFIX=shaped "$vital/migrate.sh" apply all > /tmp/vital_shaped.log 2>&1 \
    || { cat /tmp/vital_shaped.log; fail "apply all on the shaped database"; }
grep -q "public.knowledge is missing: skipped" /tmp/vital_shaped.log || fail "missing knowledge table not reported"
[ "$(PGDATABASE=vital_shaped q -c "SELECT count(*) FROM vital.registered_tables WHERE relid::text = 'audit_log'")" = 0 ] \
    || fail "the extra table was registered"
[ "$(PGDATABASE=vital_shaped q -c "SELECT count(*) FROM tools WHERE vendor = 'in-house' AND tenant_id = vital.platform_tenant()")" = 40 ] \
    || fail "extra column lost its data"
PGDATABASE=vital_shaped VITAL_ROLE_PREFIX=shaped "$vital/migrate.sh" rollback all > /tmp/vital_shaped_rb.log 2>&1 \
    || { cat /tmp/vital_shaped_rb.log; fail "rollback on the shaped database"; }
[ "$before" = "$(fingerprint vital_shaped)" ] || fail "shaped fingerprint after rollback"

if [ $failures -gt 0 ]; then
    echo "migration tests: $failures failure(s)" >&2
    exit 1
fi
echo "migration tests passed"
