-- Phase 2, tenant columns: register every table that holds tenant data. Existing rows
-- become platform rows (no rewrite, no UPDATE); new rows get the current tenant.
\ir tables.sql
DO $phase2$
DECLARE
    t record;
    started timestamptz;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tables ORDER BY ord LOOP
        IF to_regclass(t.name) IS NULL THEN
            RAISE NOTICE 'phase 2: table % is missing: skipped', t.name;
        ELSE
            -- Progress: registration locks the table and may build an index on a large one.
            started := clock_timestamp();
            RAISE NOTICE 'phase 2: registering % (%) ...', t.name,
                  (SELECT CASE WHEN c.reltuples < 0 THEN 'never analyzed' ELSE format('about %s rows', c.reltuples::bigint) END
                          || ', ' || pg_size_pretty(pg_total_relation_size(c.oid))
                     FROM pg_class c WHERE c.oid = t.name::regclass);
            PERFORM vital.register_table(t.name::regclass, shared_reads => t.shared_reads);
            RAISE NOTICE 'phase 2: registered % (shared reads: %) in % ms', t.name, t.shared_reads,
                  round(extract(epoch FROM clock_timestamp() - started) * 1000);
        END IF;
    END LOOP;
END
$phase2$;
