-- Phase 4 rollback: drop the seeded tenants (their rows, clone map entries and allowances).
\ir tenants.sql
DO $rollback4$
DECLARE
    t record;
    n bigint;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tenants LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM vital.tenants WHERE id = t.id);
        n := vital.drop_tenant(t.id);
        RAISE NOTICE 'phase 4: dropped tenant % and its % rows', t.slug, n;
    END LOOP;
END
$rollback4$;
