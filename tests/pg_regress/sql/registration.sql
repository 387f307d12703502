-- Registering tables, as a DBA does it in psql: one table, two tenants, and back.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
SELECT vital.create_tenant('dhs', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
SELECT vital.create_tenant('pharma', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;

CREATE ROLE regress_owner NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_app NOSUPERUSER NOBYPASSRLS;
GRANT regress_app TO regress_owner;

-- A single-tenant table with data, owned by a non-superuser.
CREATE TABLE tools (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL UNIQUE,
    code  text
);
CREATE UNIQUE INDEX tools_code_idx ON tools (lower(code));
ALTER TABLE tools OWNER TO regress_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON tools TO regress_app;
INSERT INTO tools (name, code) VALUES ('Calculator', 'calc'), ('Web Search', 'web'), ('PubMed', 'pubmed');

SELECT vital.register_table('tools');
\d tools
SELECT relid, shared_reads, via FROM vital.registered_tables;
-- Existing rows belong to the platform tenant.
SELECT name, tenant_id FROM tools ORDER BY id;

-- Registering again is a no-op.
SELECT vital.register_table('tools');
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'tools'::regclass;

-- Two tenants, as the application role.
SET ROLE regress_app;
SELECT name FROM tools ORDER BY id;              -- no tenant: platform rows only
INSERT INTO tools (name) VALUES ('No tenant');   -- refused
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
INSERT INTO tools (name, code) VALUES ('FDA search', 'fda'), ('Calculator', 'calc');  -- per-tenant unique
SELECT name, tenant_id = vital.current_tenant() AS own FROM tools ORDER BY id;
UPDATE tools SET name = 'Hacked' WHERE name = 'Web Search';   -- platform row: 0 rows
DELETE FROM tools WHERE name = 'PubMed';                      -- platform row: 0 rows
UPDATE tools SET tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda' WHERE name = 'FDA search';  -- move: refused
INSERT INTO tools (name, tenant_id) VALUES ('Smuggled', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'); -- refused
INSERT INTO tools (name) VALUES ('FDA search');               -- duplicate within the tenant
\echo :LAST_ERROR_SQLSTATE
SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
SELECT name FROM tools ORDER BY id;                           -- none of the startup's rows
INSERT INTO tools (name) VALUES ('FDA search');               -- same name, other tenant: fine
UPDATE tools SET code = 'x' WHERE name = 'FDA search';        -- only its own row
SELECT name, code FROM tools WHERE name = 'FDA search';
RESET ROLE;

-- With shared_reads => false, platform rows are no longer readable by tenants.
SELECT vital.register_table('tools', shared_reads => false);
SET ROLE regress_app;
SELECT name FROM tools ORDER BY id;
SELECT vital.clear_tenant();
SELECT count(*) AS visible_without_tenant FROM tools;
RESET ROLE;
SELECT vital.register_table('tools', shared_reads => true);

-- The owner is bound too (FORCE ROW LEVEL SECURITY).
SET ROLE regress_owner;
SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
SELECT name FROM tools ORDER BY id;
RESET ROLE;
SELECT vital.clear_tenant();

-- DDL that would weaken isolation is refused, even for superusers: the table's state after
-- each command is checked, whatever the command (PostgreSQL itself refuses some first).
ALTER TABLE tools DISABLE ROW LEVEL SECURITY;
ALTER TABLE tools NO FORCE ROW LEVEL SECURITY;
DROP POLICY vital_select ON tools;
ALTER POLICY vital_update ON tools USING (true);
ALTER POLICY vital_update ON tools RENAME TO other;
ALTER TABLE tools DROP COLUMN tenant_id;
ALTER TABLE tools ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE tools ALTER COLUMN tenant_id TYPE text;
ALTER TABLE tools RENAME COLUMN tenant_id TO owner;
ALTER TABLE tools ALTER COLUMN tenant_id SET DEFAULT NULL;
\echo :LAST_ERROR_SQLSTATE
-- Other DDL still works.
ALTER TABLE tools ADD COLUMN description text;
CREATE POLICY other_policy ON tools AS RESTRICTIVE FOR SELECT USING (true);
DROP POLICY other_policy ON tools;

-- Errors: nothing is registered, nothing is changed.
CREATE VIEW tool_names AS SELECT name FROM tools;
SELECT vital.register_table('tool_names');
\echo :LAST_ERROR_SQLSTATE
CREATE MATERIALIZED VIEW tool_counts AS SELECT count(*) FROM tools;
SELECT vital.register_table('tool_counts');
\echo :LAST_ERROR_SQLSTATE
CREATE EXTENSION file_fdw;
CREATE SERVER regress_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE imported (id int) SERVER regress_files OPTIONS (filename '/dev/null');
SELECT vital.register_table('imported');
\echo :LAST_ERROR_SQLSTATE
CREATE TEMP TABLE scratch (x int);
SELECT vital.register_table('scratch');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_table('pg_catalog.pg_class');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_table('vital.tenants');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE legacy (id int, tenant_id text);
SELECT vital.register_table('legacy');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_table(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_table('no_such_table');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.unregister_table('legacy');
\echo :LAST_ERROR_SQLSTATE
\d legacy
SELECT count(*) AS registered FROM vital.registered_tables;

-- A pre-existing tenant_id uuid column is reused; its NULLs become the platform tenant.
CREATE TABLE prompts (id int PRIMARY KEY, tenant_id uuid, body text);
INSERT INTO prompts VALUES (1, NULL, 'shared'), (2, '11111111-1111-1111-1111-111111111111', 'private');
SELECT vital.register_table('prompts');
SELECT id, tenant_id FROM prompts ORDER BY id;
SELECT vital.unregister_table('prompts', drop_column => true);
\d prompts

-- DROP EXTENSION is refused while tables are registered.
DROP EXTENSION vital_tenancy;
\echo :LAST_ERROR_SQLSTATE
DROP EXTENSION vital_tenancy CASCADE;
\echo :LAST_ERROR_SQLSTATE

-- Unregistering restores the global unique keys, so it is refused (and changes nothing)
-- while two tenants share a name.
SELECT vital.unregister_table('tools');
\d tools
SELECT count(*) AS rows_kept FROM tools;
-- Once they do not, it restores the table: policies, RLS, index, unique keys, default.
DELETE FROM tools WHERE tenant_id <> vital.platform_tenant();
SELECT vital.unregister_table('tools');
\d tools
-- Registering again reuses the kept column; drop_column => true removes it.
SELECT vital.register_table('tools');
SELECT vital.unregister_table('tools', drop_column => true);
\d tools

-- A dropped registered table is forgotten.
CREATE TABLE doomed (id int);
SELECT vital.register_table('doomed');
DROP TABLE doomed;
SELECT count(*) AS registered FROM vital.registered_tables;

DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
DROP TABLE tools, legacy, prompts CASCADE;
DROP EXTENSION file_fdw CASCADE;
DROP ROLE regress_owner;
DROP ROLE regress_app;
