-- Phase 2 rollback: unregister the tables, children first, dropping tenant_id. Refused (and
-- nothing changes) while tenant rows would break a unique key: roll back phase 4 first.
\ir tables.sql
DO $rollback2$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tables ORDER BY ord DESC LOOP
        CONTINUE WHEN to_regclass(t.name) IS NULL;
        CONTINUE WHEN NOT EXISTS (SELECT FROM vital.registered_tables WHERE relid = t.name::regclass);
        PERFORM vital.unregister_table(t.name::regclass, drop_column => true);
    END LOOP;
    RAISE NOTICE 'phase 2 rolled back';
END
$rollback2$;
