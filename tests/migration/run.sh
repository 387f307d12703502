#!/usr/bin/env bash
# The VITAL migration under test, on the test cluster (PGHOST/PGPORT/PGUSER from the caller):
#  1. the four phases applied and verified, each tenant's view of every table checked as its
#     app role against expected counts, then rolled back: schema fingerprint and row counts
#     equal those before phase 1; then applied again;
#  2. phase 4 one tenant at a time;
#  3. a differently-shaped database (extra columns, an extra table, no knowledge table);
#  4. backup before apply all, a verify that catches a missing seed row, restore-backup;
#  5. rehearse on a copy;
#  6. the issue's database (personas.title NOT NULL, no description): plan and apply refuse and
#     change nothing; bad data files are named by the preflight; with a title column in the
#     data, the migration runs and rolls back;
#  7. an independently written database: bigint keys, partitioned chat_messages, missing tables;
#     a failure in phase 4 that no preflight sees (a refusing trigger) leaves nothing behind.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vital="$here/../../examples/vital"
failures=0
work=$(mktemp -d /tmp/vital_migration_test.XXXXXX)
export VITAL_BACKUP_DIR="$work/backups"

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
PGDATABASE=vital_migration "$vital/migrate.sh" plan > "$work/plan.log" 2>&1 || { cat "$work/plan.log"; fail "plan on the example database"; }
grep -q "^preflight: no errors, 0 warning(s)" "$work/plan.log" || fail "plan's summary"
grep -q "^phase 2  \[do\]   register public.chat_messages (shared reads: f" "$work/plan.log" || fail "plan lists the registrations"
[ "$before" = "$(fingerprint vital_migration)" ] || fail "plan changed the database"
PGDATABASE=vital_migration "$vital/migrate.sh" apply all > /tmp/vital_migration_apply.log 2>&1 \
    || { cat /tmp/vital_migration_apply.log; fail "apply all"; }
# The automatic backup came before phase 1, was read back, and is recorded.
grep -q "^backup: .*vital_migration-.*\.dump: [0-9]* bytes, [0-9]* archive entries" /tmp/vital_migration_apply.log || fail "no backup line"
[ "$(grep -n -m1 '^backup: ' /tmp/vital_migration_apply.log | cut -d: -f1)" -lt "$(grep -n -m1 '^== phases 1 2 3 4: apply' /tmp/vital_migration_apply.log | cut -d: -f1)" ] \
    || fail "the backup came after phase 1 started"
[ "$(awk -F'\t' '$2 == "vital_migration"' "$VITAL_BACKUP_DIR/backups.tsv" | wc -l)" = 1 ] || fail "backup not recorded"
# Each tenant's own rows are the data files' rows (personas as the startup's app).
[ "$(PGDATABASE=vital_migration PGUSER=vital_app_dhs q -c "SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111')" \
     -c "SELECT string_agg(name, ',' ORDER BY id) FROM personas WHERE tenant_id = vital.current_tenant()" | tail -1)" = \
  "$(awk -F, '$1 == "digital-health-startup" { printf "%s%s", sep, $2; sep = "," }' "$vital/data/personas.csv")" ] \
    || fail "the startup's personas are not those of data/personas.csv"
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

echo "== 4. backup, a verify that catches a missing seed row, restore-backup"
fresh_db vital_backup "$vital/schema.sql"
before=$(fingerprint vital_backup)
PGDATABASE=vital_backup VITAL_ROLE_PREFIX=bk "$vital/migrate.sh" apply all > "$work/backup_apply.log" 2>&1 \
    || { cat "$work/backup_apply.log"; fail "apply all (backup)"; }
PGDATABASE=vital_backup q -c "DELETE FROM knowledge WHERE title = 'Pre-Submission meeting minutes'"
PGDATABASE=vital_backup VITAL_ROLE_PREFIX=bk "$vital/migrate.sh" verify 4 > "$work/verify_missing.log" 2>&1 \
    && fail "verify passed with a seed row missing"
grep -q "as bk_app_dhs, public.knowledge shows 2 own rows; its data file has 3" "$work/verify_missing.log" \
    || { cat "$work/verify_missing.log"; fail "verify's message for a missing seed row"; }
# Refused while another session uses the database; nothing changes.
PGDATABASE=vital_backup psql -X -q -c "SELECT pg_sleep(30)" > /dev/null 2>&1 &
sleeper=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'vital_backup'")" = 1 ] && break
    sleep 0.2
done
PGDATABASE=vital_backup VITAL_ROLE_PREFIX=bk "$vital/migrate.sh" restore-backup > "$work/restore_refused.log" 2>&1 \
    && fail "restore-backup ran while another session used the database"
grep -q "other sessions use vital_backup" "$work/restore_refused.log" || { cat "$work/restore_refused.log"; fail "restore-backup's refusal"; }
[ "$(PGDATABASE=vital_backup q -c "SELECT count(*) FROM vital.tenants")" = 3 ] || fail "the refused restore changed the database"
PGDATABASE=vital_backup VITAL_ROLE_PREFIX=bk "$vital/migrate.sh" restore-backup --force > "$work/restore.log" 2>&1 \
    || { cat "$work/restore.log"; fail "restore-backup --force"; }
wait "$sleeper" 2>/dev/null || true
[ "$before" = "$(fingerprint vital_backup)" ] || { cat "$work/restore.log"; fail "fingerprint after restore-backup"; }
[ "$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bk\_app\_%'")" = 0 ] || fail "restore-backup left the app roles"
PGDATABASE=vital_backup "$vital/migrate.sh" restore-backup "$work/no-such.dump" > /dev/null 2>&1 && fail "restore-backup of a missing file"
psql -X -q -d postgres -c "DROP DATABASE vital_backup"

echo "== 5. rehearse on a copy"
before=$(fingerprint vital_migration)
PGDATABASE=vital_migration "$vital/migrate.sh" rehearse > "$work/rehearse.log" 2>&1 || { cat "$work/rehearse.log"; fail "rehearse"; }
grep -q "^fingerprint after rollback   equal" "$work/rehearse.log" || fail "rehearse's fingerprint line"
grep -q "^rehearsal passed" "$work/rehearse.log" || fail "rehearse's verdict"
grep -q "page queries as vital_rehearsal_app_dhs (ms): agents with their tool counts [0-9.]*;" "$work/rehearse.log" || fail "rehearse's page query timings"
[ "$before" = "$(fingerprint vital_migration)" ] || fail "rehearse changed the database it copied"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'vital_migration_vital_rehearsal'")" = 0 ] || fail "the copy was not dropped"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'vital\_rehearsal\_%'")" = 0 ] || fail "rehearse left app roles"

echo "== 6. the issue's database: a required personas.title and no description"
fresh_db vital_title "$vital/schema.sql" "$here/title_after_seed.sql"
before=$(fingerprint vital_title)
PGDATABASE=vital_title VITAL_ROLE_PREFIX=title "$vital/migrate.sh" plan > "$work/title_plan.log" 2>&1 && fail "plan passed without personas.title"
grep -q "\[ERROR\] data/personas.csv has no column title, and public.personas.title is NOT NULL without a default" "$work/title_plan.log" \
    || { cat "$work/title_plan.log"; fail "plan does not name the file and the column"; }
grep -q "\[warn\] data/personas.csv: column description is not in public.personas: ignored" "$work/title_plan.log" || fail "plan does not name the ignored column"
PGDATABASE=vital_title VITAL_ROLE_PREFIX=title "$vital/migrate.sh" apply all > "$work/title_apply.log" 2>&1 && fail "apply ran without personas.title"
grep -q "apply refused: the preflight found errors" "$work/title_apply.log" || fail "apply's refusal"
grep -q "^backup:" "$work/title_apply.log" && fail "a refused apply made a backup"
[ "$before" = "$(fingerprint vital_title)" ] || fail "the refused apply changed the database"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'title\_app\_%'")" = 0 ] || fail "the refused apply made roles"
# Bad data files: each problem named by file, row and column.
cp -r "$vital/data" "$work/bad_data"
sed -i 's/^pharmaceuticals,PX-101 Investigator Brochure,internal,IB v7,\(.*\),2026-01-20$/pharmaceuticals,PX-101 Investigator Brochure,internal,IB v7,\1,someday/' "$work/bad_data/knowledge.csv"
sed -i '2s/^digital-health-startup,/digital-health-start-up,/' "$work/bad_data/chat_messages.csv"
sed -i 's/,Head of Clinical,Director,Clinical Trial Management,/,Head of Clinical,Director,No Such Department,/' "$work/bad_data/personas.csv"
PGDATABASE=vital_migration VITAL_DATA_DIR="$work/bad_data" "$vital/migrate.sh" plan > "$work/bad_plan.log" 2>&1 && fail "plan passed with bad data"
grep -q "\[ERROR\] data/knowledge.csv row 4: column published: someday is not a valid date" "$work/bad_plan.log" || { cat "$work/bad_plan.log"; fail "a bad date not named"; }
grep -q "\[ERROR\] data/chat_messages.csv row 1: tenant digital-health-start-up is not in data/tenants.csv" "$work/bad_plan.log" || fail "an unknown tenant not named"
grep -q "\[ERROR\] data/personas.csv row 2: column department_id:name: no org_departments row has name = No Such Department" "$work/bad_plan.log" || fail "a failed lookup not named"
# With a title in the data, the same database migrates and rolls back.
cp -r "$vital/data" "$work/title_data"
awk -F, -v OFS=, 'NR == 1 { print $0, "title"; next } { print $0, $2 }' "$vital/data/personas.csv" > "$work/title_data/personas.csv"
PGDATABASE=vital_title VITAL_ROLE_PREFIX=title VITAL_DATA_DIR="$work/title_data" "$vital/migrate.sh" apply all > "$work/title_apply2.log" 2>&1 \
    || { cat "$work/title_apply2.log"; fail "apply all with titles"; }
[ "$(PGDATABASE=vital_title q -c "SELECT count(*) FROM personas WHERE title = name AND tenant_id <> vital.platform_tenant()")" = 7 ] || fail "personas' titles"
PGDATABASE=vital_title VITAL_ROLE_PREFIX=title VITAL_DATA_DIR="$work/title_data" "$vital/migrate.sh" rollback all > "$work/title_rb.log" 2>&1 \
    || { cat "$work/title_rb.log"; fail "rollback all with titles"; }
[ "$before" = "$(fingerprint vital_title)" ] || fail "title fingerprint after rollback"

echo "== 7. bigint keys, partitioned chat_messages, no organizational_levels and no knowledge"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS vital_bigint" -c "CREATE DATABASE vital_bigint" 2>/dev/null
PGDATABASE=vital_bigint q -c "CREATE EXTENSION vital_tenancy" -f "$here/bigint_schema.sql" > /dev/null
# A failure no preflight can see (the DBA's trigger refuses the chat history): apply all stops in
# phase 4 and leaves nothing of phases 1-4 behind.
PGDATABASE=vital_bigint q -c "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'no new messages today'; END\$\$" \
    -c "CREATE TRIGGER refuse BEFORE INSERT ON chat_messages FOR EACH ROW EXECUTE FUNCTION refuse()"
before=$(fingerprint vital_bigint)
PGDATABASE=vital_bigint VITAL_ROLE_PREFIX=big "$vital/migrate.sh" apply all > "$work/bigint_refused.log" 2>&1 && fail "apply all passed through the refusing trigger"
grep -q "no new messages today" "$work/bigint_refused.log" || { cat "$work/bigint_refused.log"; fail "the trigger's error"; }
[ "$before" = "$(fingerprint vital_bigint)" ] || fail "a failed apply all left changes behind"
[ "$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'big\_app\_%'")" = 0 ] || fail "a failed apply all left app roles"
PGDATABASE=vital_bigint q -c "DROP TRIGGER refuse ON chat_messages" -c "DROP FUNCTION refuse()"
before=$(fingerprint vital_bigint)
PGDATABASE=vital_bigint VITAL_ROLE_PREFIX=big "$vital/migrate.sh" apply 4 > "$work/bigint_4.log" 2>&1 && fail "phase 4 ran before phase 2"
grep -q "\[ERROR\] public.chat_messages is not registered: apply phase 2 first" "$work/bigint_4.log" || { cat "$work/bigint_4.log"; fail "phase 4 before phase 2: the reason"; }
[ "$before" = "$(fingerprint vital_bigint)" ] || fail "the refused phase 4 changed the database"
PGDATABASE=vital_bigint VITAL_ROLE_PREFIX=big "$vital/migrate.sh" apply all > "$work/bigint.log" 2>&1 \
    || { cat "$work/bigint.log"; fail "apply all on the bigint database"; }
grep -q "\[warn\] data/personas.csv: column level_id is not in public.personas: ignored" "$work/bigint.log" || fail "bigint: the ignored column"
grep -q "register public.chat_messages (shared reads: f; .*partitioned: its 3 partitions too" "$work/bigint.log" || fail "bigint: plan of the partitioned table"
[ "$(PGDATABASE=vital_bigint q -c "SELECT count(*) FROM vital.registered_tables WHERE relid::text LIKE 'chat_messages%'")" = 4 ] \
    || fail "bigint: chat_messages and its partitions registered"
# As the startup's app: its 12 messages (all in the April partition), none of pharma's, also
# when the partition is queried directly.
[ "$(PGDATABASE=vital_bigint PGUSER=big_app_dhs q -c "SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111')" \
     -c "SELECT (SELECT count(*) FROM chat_messages) || ' ' || (SELECT count(*) FROM chat_messages_2026_04) || ' ' || (SELECT count(*) FROM agents WHERE tenant_id = vital.current_tenant())" | tail -1)" = "12 12 6" ] \
    || fail "bigint: what the startup's app sees"
PGDATABASE=vital_bigint VITAL_ROLE_PREFIX=big "$vital/migrate.sh" rollback all > "$work/bigint_rb.log" 2>&1 \
    || { cat "$work/bigint_rb.log"; fail "rollback all on the bigint database"; }
[ "$before" = "$(fingerprint vital_bigint)" ] || fail "bigint fingerprint after rollback"

if [ $failures -gt 0 ]; then
    echo "migration tests: $failures failure(s)" >&2
    exit 1
fi
rm -rf "$work"
echo "migration tests passed"
