-- The customer tenants (data/tenants.csv) and what they clone from the platform's templates
-- (data/templates.csv), and which of them phase 4 handles: the psql variable tenant is all
-- (default) or one tenant's slug.
\if :{?tenant}
\else
\set tenant all
\endif
\ir data.sql
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_migration_tenants (slug text, name text, id uuid);
TRUNCATE vital_migration_tenants;
RESET client_min_messages;
INSERT INTO vital_migration_tenants
SELECT d.data ->> 'slug', d.data ->> 'name',
       CASE WHEN d.data ->> 'id' ~* '^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$' THEN (d.data ->> 'id')::uuid END
  FROM vital_data d WHERE d.file = 'tenants.csv' ORDER BY d.row_no;
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_migration_templates (tenant text, tbl text, col text, value text);
TRUNCATE vital_migration_templates;
RESET client_min_messages;
INSERT INTO vital_migration_templates
SELECT d.data ->> 'tenant', 'public.' || (d.data ->> 'table'), d.data ->> 'column', d.data ->> 'value'
  FROM vital_data d WHERE d.file = 'templates.csv' ORDER BY d.row_no;
DELETE FROM vital_migration_tenants WHERE :'tenant' <> 'all' AND slug IS DISTINCT FROM :'tenant';
SELECT set_config('vital_migration.tenant', :'tenant', false) \g /dev/null
\if :{?vital_plan}
\else
DO $check$
BEGIN
    IF NOT EXISTS (SELECT FROM vital_migration_tenants) THEN
        RAISE EXCEPTION 'phase 4: unknown tenant %', current_setting('vital_migration.tenant')
              USING HINT = 'Use all or a slug of data/tenants.csv ('
                           || coalesce((SELECT string_agg(d.data ->> 'slug', ', ' ORDER BY d.row_no) FROM vital_data d
                                         WHERE d.file = 'tenants.csv'), 'it has none') || ').';
    END IF;
END
$check$;
\endif
