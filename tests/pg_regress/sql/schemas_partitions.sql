-- Registered schemas, the event trigger, partitions and foreign keys between registered tables.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
SELECT vital.create_tenant('dhs', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
SELECT vital.create_tenant('pharma', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
CREATE ROLE regress_app NOSUPERUSER NOBYPASSRLS;

CREATE SCHEMA vital_app;
GRANT USAGE ON SCHEMA vital_app TO regress_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA vital_app GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO regress_app;
CREATE TABLE vital_app.agents (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE vital_app.audit_log (id int);
INSERT INTO vital_app.agents VALUES (1, 'Regulatory Affairs'), (2, 'Clinical Operations');

SELECT vital.register_schema('vital_app', exclude => '{audit_log}');
SELECT relid, via FROM vital.registered_tables ORDER BY relid::text;

-- Tables created later in the schema are registered by the event trigger.
CREATE TABLE vital_app.agent_tools (agent_id int REFERENCES vital_app.agents (id), tool text);
CREATE TABLE vital_app.snapshot AS SELECT * FROM vital_app.agents;
SELECT * INTO vital_app.copy FROM vital_app.agents;
CREATE TABLE vital_app.audit_log2 (id int);
SELECT relid, via FROM vital.registered_tables ORDER BY relid::text;
SELECT count(*) AS snapshot_rows_are_platform FROM vital_app.snapshot WHERE tenant_id = vital.platform_tenant();

-- Foreign keys between registered tables accept own or platform rows only, and fail like
-- a missing row otherwise.
SELECT tgname FROM pg_trigger WHERE tgrelid = 'vital_app.agent_tools'::regclass AND NOT tgisinternal;
SET ROLE regress_app;
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
INSERT INTO vital_app.agents VALUES (10, 'Startup agent');
INSERT INTO vital_app.agent_tools VALUES (10, 'own'), (1, 'platform');
SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
INSERT INTO vital_app.agent_tools VALUES (10, 'other tenant');   -- exists, but not ours
\echo :LAST_ERROR_SQLSTATE
INSERT INTO vital_app.agent_tools VALUES (99, 'missing');        -- does not exist: same error
\echo :LAST_ERROR_SQLSTATE
SELECT agent_id, tool FROM vital_app.agent_tools;
RESET ROLE;

-- Partitions: the parent and every partition, including later ones.
CREATE TABLE vital_app.messages (id bigint, sent date, body text) PARTITION BY RANGE (sent);
CREATE TABLE vital_app.messages_2025 PARTITION OF vital_app.messages
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- An existing table (LIKE copies tenant_id) attached later.
CREATE TABLE public.messages_2026 (LIKE vital_app.messages);
ALTER TABLE vital_app.messages ATTACH PARTITION public.messages_2026
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT c.oid::regclass AS rel, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       r.via
FROM pg_class c LEFT JOIN vital.registered_tables r ON r.relid = c.oid
WHERE c.relname LIKE 'messages%' AND c.relkind IN ('r', 'p') ORDER BY 1::text;
GRANT SELECT, INSERT ON public.messages_2026 TO regress_app;
SET ROLE regress_app;
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
INSERT INTO vital_app.messages VALUES (1, '2025-03-01', 'startup 2025'), (2, '2026-03-01', 'startup 2026');
SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
INSERT INTO vital_app.messages VALUES (3, '2026-04-01', 'pharma 2026');
-- Queried directly, a partition shows only the tenant's rows.
SELECT body FROM vital_app.messages_2025;
SELECT body FROM public.messages_2026;
RESET ROLE;

-- A partition cannot be unregistered on its own.
SELECT vital.unregister_table('vital_app.messages_2025');
\echo :LAST_ERROR_SQLSTATE

-- unregister_schema unregisters what the schema registered (partitions with their parent).
SELECT vital.unregister_schema('vital_app');
SELECT relid, via FROM vital.registered_tables ORDER BY relid::text;

-- A partition of an unregistered table cannot be registered alone: queries through the
-- parent would not see its policies.
CREATE TABLE vital_app.plain_parent (id int, k int) PARTITION BY LIST (k);
CREATE TABLE vital_app.plain_child PARTITION OF vital_app.plain_parent FOR VALUES IN (1);
SELECT vital.register_table('vital_app.plain_child');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_schema('no_such_schema');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.unregister_schema('vital_app');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.register_schema('vital');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM vital.registered_tables;
SELECT count(*) AS guards FROM pg_trigger WHERE tgname LIKE 'vital_fk_guard%';

DROP SCHEMA vital_app CASCADE;
DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
DROP ROLE regress_app;
