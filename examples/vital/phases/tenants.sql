-- The two customer tenants, what they get from the platform's templates, and which of them
-- phase 4 handles: the psql variable tenant is all (default), digital-health-startup or
-- pharmaceuticals.
\if :{?tenant}
\else
\set tenant all
\endif
CREATE TEMP TABLE IF NOT EXISTS vital_migration_tenants (
    slug text, name text, id uuid, tool_categories text[], business_functions text[]);
TRUNCATE vital_migration_tenants;
INSERT INTO vital_migration_tenants VALUES
    ('digital-health-startup', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111',
     '{Regulatory Intelligence,Clinical Trials,Digital Health}',
     '{Regulatory Affairs,Clinical Operations,Digital Health}'),
    ('pharmaceuticals', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda',
     '{Research,Chemistry,Safety & Pharmacovigilance,Regulatory Intelligence}',
     '{Drug Development,Pharmacovigilance,Regulatory Affairs,Medical Affairs}');
DELETE FROM vital_migration_tenants WHERE :'tenant' <> 'all' AND slug <> :'tenant';
SELECT set_config('vital_migration.tenant', :'tenant', false) \g /dev/null
DO $check$
BEGIN
    IF NOT EXISTS (SELECT FROM vital_migration_tenants) THEN
        RAISE EXCEPTION 'phase 4: unknown tenant %', current_setting('vital_migration.tenant')
              USING HINT = 'Use all, digital-health-startup or pharmaceuticals.';
    END IF;
END
$check$;
