-- The tenant registry and the tenant context, as a DBA uses them in psql.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;

-- The platform tenant comes with the extension.
SELECT vital.platform_tenant();
SELECT id, slug, name, status, settings FROM vital.tenants ORDER BY slug;

-- Tenants with fixed ids, as the VITAL apps use them.
SELECT vital.create_tenant('digital-health-startup', 'Digital Health Startup',
                           '11111111-1111-1111-1111-111111111111');
SELECT vital.create_tenant('pharma', 'Pharmaceuticals',
                           'f7aa6fd4-0af9-4706-8b31-034f1f7accda');
-- A generated id: not shown, it changes every run.
SELECT vital.create_tenant('generated', 'Generated') IS NOT NULL AS created;
SELECT vital.create_tenant('scratch', 'Scratch', '22222222-2222-2222-2222-222222222222');
SELECT vital.tenant_id('pharma');
-- tenant_id() is PARALLEL SAFE: it works inside a parallel worker.
-- force_parallel_mode until PostgreSQL 15, debug_parallel_query from 16.
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS parallel;
SELECT vital.tenant_id('pharma') AS in_a_parallel_worker;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', false) AS parallel;
SELECT slug, status FROM vital.tenants ORDER BY slug;

-- Bad input: each error has its own SQLSTATE, and nothing is created.
SELECT vital.create_tenant('Pharma Co', 'Bad slug');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_tenant('pharma', 'Taken slug');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_tenant('other', 'Taken id', '11111111-1111-1111-1111-111111111111');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_tenant(NULL, 'No slug');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.tenant_id('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS tenants FROM vital.tenants;

-- The current tenant: NULL until set.
SELECT vital.current_tenant();
SELECT vital.set_tenant(vital.tenant_id('pharma'));
SELECT vital.current_tenant();
SELECT vital.clear_tenant();
SELECT vital.current_tenant() IS NULL AS cleared;

-- Transaction scope: only inside a transaction block.
SELECT vital.set_tenant(vital.tenant_id('pharma'), is_local => true);
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111', is_local => true);
SELECT vital.current_tenant();
COMMIT;
SELECT vital.current_tenant() IS NULL AS ended_with_transaction;

-- Unknown, NULL or suspended tenants are refused and the previous tenant stays.
SELECT vital.set_tenant(vital.tenant_id('pharma'));
SELECT vital.set_tenant('99999999-9999-9999-9999-999999999999');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.set_tenant(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.suspend_tenant(vital.tenant_id('scratch'));
SELECT vital.set_tenant(vital.tenant_id('scratch'));
\echo :LAST_ERROR_SQLSTATE
SELECT vital.current_tenant();

-- A session in a tenant that gets suspended loses it at its next statement.
SELECT vital.suspend_tenant(vital.tenant_id('pharma'));
SELECT vital.current_tenant();
\echo :LAST_ERROR_SQLSTATE
SELECT vital.resume_tenant(vital.tenant_id('pharma'));
SELECT vital.current_tenant();

-- The platform tenant cannot be suspended.
SELECT vital.suspend_tenant(vital.platform_tenant());
\echo :LAST_ERROR_SQLSTATE

-- RESET ALL and DISCARD ALL clear the tenant (connection poolers rely on it).
RESET ALL;
SELECT vital.current_tenant() IS NULL AS cleared_by_reset_all;
SELECT vital.set_tenant(vital.tenant_id('pharma'));
DISCARD ALL;
SELECT vital.current_tenant() IS NULL AS cleared_by_discard_all;

-- The setting itself is superuser-only and accepts only uuids.
SET vital.tenant = 'not-a-uuid';
\echo :LAST_ERROR_SQLSTATE
SELECT name, context FROM pg_settings WHERE name = 'vital.tenant';

-- Only the tenant context and lookups are open to every role.
SELECT p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'vital' AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT proname, provolatile, proparallel, proleakproof
FROM pg_proc WHERE oid = 'vital.current_tenant()'::regprocedure;

-- Role allowances.
CREATE ROLE regress_app LOGIN NOSUPERUSER NOBYPASSRLS;
SELECT vital.allow_tenant('regress_app', vital.tenant_id('pharma'));
SET ROLE regress_app;
SELECT vital.set_tenant(vital.tenant_id('pharma'));
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111');
\echo :LAST_ERROR_SQLSTATE
SET vital.tenant = '11111111-1111-1111-1111-111111111111';
\echo :LAST_ERROR_SQLSTATE
SELECT vital.allow_tenant('regress_app', '11111111-1111-1111-1111-111111111111');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.current_tenant();
RESET ROLE;
SELECT vital.disallow_tenant('regress_app', vital.tenant_id('pharma'));
SELECT vital.allow_tenant('no_such_role', vital.tenant_id('pharma'));
\echo :LAST_ERROR_SQLSTATE
DROP ROLE regress_app;

-- Dropping the extension with no registered tables works. Its objects go; the schema named
-- in the control file stays (PostgreSQL does not make it a member), empty.
DROP EXTENSION vital_tenancy;
SELECT count(*) AS objects_left FROM pg_class WHERE relnamespace = 'vital'::regnamespace;
DROP SCHEMA vital;
