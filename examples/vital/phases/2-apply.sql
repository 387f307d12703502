-- Phase 2, tenant columns: register every table that holds tenant data. Existing rows
-- become platform rows (no rewrite, no UPDATE); new rows get the current tenant.
\ir tables.sql
DO $phase2$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tables ORDER BY ord LOOP
        IF to_regclass(t.name) IS NULL THEN
            RAISE NOTICE 'phase 2: table % is missing: skipped', t.name;
        ELSE
            PERFORM vital.register_table(t.name::regclass, shared_reads => t.shared_reads);
            RAISE NOTICE 'phase 2: registered % (shared reads: %)', t.name, t.shared_reads;
        END IF;
    END LOOP;
END
$phase2$;
