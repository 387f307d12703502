-- Phase 2 verify: every present table is registered with the intended sharing and has a
-- NOT NULL uuid tenant_id.
\ir tables.sql
DO $verify2$
DECLARE
    t record;
    n int := 0;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tables ORDER BY ord LOOP
        CONTINUE WHEN to_regclass(t.name) IS NULL;
        IF NOT EXISTS (SELECT FROM vital.registered_tables r WHERE r.relid = t.name::regclass
                                                             AND r.shared_reads = t.shared_reads) THEN
            RAISE EXCEPTION 'phase 2 verify: % is not registered (shared reads %)', t.name, t.shared_reads;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = t.name::regclass AND attname = 'tenant_id'
                                                  AND atttypid = 'uuid'::regtype AND attnotnull) THEN
            RAISE EXCEPTION 'phase 2 verify: %.tenant_id is not uuid NOT NULL', t.name;
        END IF;
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'phase 2 verified: % tables registered', n;
END
$verify2$;
