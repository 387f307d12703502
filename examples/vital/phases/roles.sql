-- The application roles of the three VITAL apps (one per tenant app), named from the psql
-- variable role_prefix (default vital): <prefix>_app_platform (port 3000),
-- <prefix>_app_dhs (port 3001), <prefix>_app_pharma (port 3002).
\if :{?role_prefix}
\else
\set role_prefix vital
\endif
SELECT set_config('vital_migration.role_prefix', :'role_prefix', false) \g /dev/null
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_migration_roles (app text, role_name text, tenant_slug text, port int);
TRUNCATE vital_migration_roles;
RESET client_min_messages;
INSERT INTO vital_migration_roles VALUES
    ('Platform', :'role_prefix' || '_app_platform', 'platform', 3000),
    ('Digital Health Startup', :'role_prefix' || '_app_dhs', 'digital-health-startup', 3001),
    ('Pharmaceuticals', :'role_prefix' || '_app_pharma', 'pharmaceuticals', 3002);
