-- The demo session: install vital_tenancy, create the VITAL tenants, use the tenant context.
\pset footer off
CREATE EXTENSION vital_tenancy;

SELECT vital.create_tenant('digital-health-startup', 'Digital Health Startup',
                           '11111111-1111-1111-1111-111111111111');
SELECT vital.create_tenant('pharmaceuticals', 'Pharmaceuticals',
                           'f7aa6fd4-0af9-4706-8b31-034f1f7accda');

\echo '-- the tenant registry'
SELECT id, slug, name, status FROM vital.tenants ORDER BY created_at, slug;

-- An application role: not a superuser, cannot bypass row-level security.
CREATE ROLE vital_app LOGIN NOSUPERUSER NOBYPASSRLS;
SET ROLE vital_app;

\echo '-- as vital_app: no tenant yet'
SELECT vital.current_tenant() AS current_tenant;

\echo '-- as vital_app: the Digital Health Startup for this session'
SELECT vital.set_tenant(vital.tenant_id('digital-health-startup'));
SELECT vital.current_tenant() AS current_tenant;

\echo '-- as vital_app: a plain SET of the tenant setting is refused'
\set ON_ERROR_STOP 0
SET vital.tenant = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda';
\set ON_ERROR_STOP 1
SELECT vital.current_tenant() AS still_current_tenant;

\echo '-- as vital_app: Pharmaceuticals for one transaction only'
BEGIN;
SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda', is_local => true);
SELECT vital.current_tenant() AS in_transaction;
COMMIT;
SELECT vital.current_tenant() AS after_commit;
RESET ROLE;
