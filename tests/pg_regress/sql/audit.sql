-- vital.audit(): every check, each problem created and then seen reported.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
CREATE ROLE regress_app LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_backup LOGIN NOSUPERUSER BYPASSRLS;
CREATE TABLE codes (code text PRIMARY KEY);
INSERT INTO codes VALUES ('p1');
CREATE TABLE parents (id int PRIMARY KEY, code text UNIQUE REFERENCES codes);
INSERT INTO parents VALUES (1, 'p1');
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents (id));
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE other_events (id int);
SELECT vital.register_table(t) FROM unnest('{codes,parents,children,events,other_events}'::regclass[]) t;
GRANT SELECT, INSERT, UPDATE, DELETE ON parents, children TO regress_app;

-- Side channels around the policies (docs/security.md): in a database as PostgreSQL makes it,
-- the app role's sessions do not load vital (no LOCK or EXPLAIN checks from their first
-- statement), every role may call the statistics functions, and the app role has no timeouts.
-- (How many statistics functions there are depends on the PostgreSQL version.)
SELECT severity, object, regexp_replace(problem, '^[0-9]+ of ', '<n> of ') AS problem
  FROM vital.audit() WHERE object NOT LIKE 'role %' OR object LIKE 'role regress%' ORDER BY 1, 2, 3;
-- vital's recommended setup closes them; the indexes that do not lead with tenant_id stay
-- listed (timing remains a channel).
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), 'vital_tenancy'); END $$;
ALTER ROLE regress_app SET lock_timeout = '5s';
ALTER ROLE regress_app SET idle_in_transaction_session_timeout = '1min';
CREATE EXTENSION pg_stat_statements;
SELECT count(*) AS pg_stat_statements_readers FROM vital.statistics_functions() f WHERE f::text LIKE 'pg_stat_statements%';
SELECT vital.restrict_statistics() > 60 AS restricted;
SELECT has_function_privilege('regress_app', f, 'EXECUTE') AS app_may_read_pg_stat_statements
  FROM vital.statistics_functions() f WHERE f::text LIKE 'pg_stat_statements(%';
-- A key drawn from one sequence is a residual every tenant shares; one that starts with
-- tenant_id is not.
CREATE TABLE counters (id serial PRIMARY KEY, n int);
SELECT vital.register_table('counters');
SELECT severity, object, problem FROM vital.audit() WHERE object LIKE '%counters%' ORDER BY 1, 2, 3;
ALTER TABLE counters DROP CONSTRAINT counters_pkey, ADD PRIMARY KEY (tenant_id, id);
SELECT severity, object, problem FROM vital.audit() WHERE object LIKE '%counters%' ORDER BY 1, 2, 3;
SELECT vital.unregister_table('counters', true);
DROP TABLE counters;
-- A shared role (one role for every tenant, behind a pool) that may create temporary objects.
CREATE ROLE regress_shared LOGIN NOSUPERUSER NOBYPASSRLS;
ALTER ROLE regress_shared SET vital.shared_role = on;
ALTER ROLE regress_shared SET lock_timeout = '5s';
ALTER ROLE regress_shared SET idle_in_transaction_session_timeout = '1min';
GRANT SELECT ON parents TO regress_shared;
SELECT severity, object, problem FROM vital.audit() WHERE object = 'role regress_shared' ORDER BY 1, 2, 3;
DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$;
SELECT severity, object, problem FROM vital.audit() WHERE object = 'role regress_shared' ORDER BY 1, 2, 3;
DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;
REVOKE ALL ON parents FROM regress_shared;
DROP ROLE regress_shared;

-- Healthy: no error and no warning; the roles that bypass RLS are listed as info.
SELECT severity, object, problem FROM vital.audit() WHERE (object NOT LIKE 'role %' OR object LIKE 'role regress%') AND problem NOT LIKE 'does not lead with tenant_id%';

-- What vital's event triggers refuse, done with them off (as some managed services require,
-- or `session_replication_role = replica`): the audit still sees every broken invariant.
ALTER EVENT TRIGGER vital_ddl_command_start DISABLE;
ALTER EVENT TRIGGER vital_sql_drop DISABLE;
ALTER EVENT TRIGGER vital_ddl_command_end DISABLE;
ALTER TABLE parents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE children DISABLE ROW LEVEL SECURITY;
ALTER POLICY vital_select ON children USING (true);
ALTER TABLE children DISABLE TRIGGER vital_fk_guard_children_parent_id_fkey;
ALTER TABLE parents ENABLE REPLICA TRIGGER vital_fk_guard_parents_code_fkey;
CREATE TABLE events_2026 (LIKE events);
ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE UNIQUE INDEX children_parent ON children (parent_id);
CREATE TABLE parent_log (id int, code text);
CREATE RULE log_parents AS ON INSERT TO parents DO ALSO INSERT INTO parent_log VALUES (NEW.id, NEW.code);
CREATE POLICY everyone ON parents FOR SELECT USING (true);
CREATE POLICY positive ON parents AS RESTRICTIVE FOR SELECT USING (id > 0);
ALTER TABLE children ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE events ALTER COLUMN tenant_id SET DEFAULT '00000000-0000-0000-0000-000000000001';
CREATE EXTENSION IF NOT EXISTS citext;
ALTER TRIGGER vital_fk_guard_children_parent_id_fkey ON children DEPENDS ON EXTENSION citext;
ALTER INDEX parents_tenant_id_idx DEPENDS ON EXTENSION citext;
ALTER FUNCTION vital.platform_tenant() DEPENDS ON EXTENSION citext;
ALTER TRIGGER vital_fk_guard_parents_code_fkey ON parents RENAME TO parents_code_guard;
CREATE TABLE archive (id int, tenant_id uuid);
ALTER TABLE other_events INHERIT archive;
CREATE TABLE loose (id int);
SELECT vital.register_table('loose');
ALTER TABLE loose RENAME COLUMN tenant_id TO tid;
CREATE TABLE doomed (id int);
SELECT vital.register_table('doomed');
DROP TABLE doomed;
-- Everything else the audit looks for.
CREATE VIEW parent_codes AS SELECT p.code, c.id FROM parents p JOIN children c ON c.parent_id = p.id;
CREATE VIEW safe_parent_codes WITH (security_invoker = true) AS SELECT code FROM parents;
CREATE MATERIALIZED VIEW parent_count AS SELECT count(*) FROM parents;
CREATE FUNCTION count_parents() RETURNS bigint SECURITY DEFINER LANGUAGE sql
    AS 'SELECT count(*) FROM public.parents';
GRANT TRUNCATE ON parents TO regress_app;
DROP INDEX children_tenant_id_idx;
GRANT SET ON PARAMETER vital.tenant TO regress_app;

SELECT severity, regexp_replace(object, '^registration [0-9]+$', 'registration <oid>') AS object, problem
  FROM vital.audit() WHERE (object NOT LIKE 'role %' OR object LIKE 'role regress%') AND problem NOT LIKE 'does not lead with tenant_id%';
SELECT count(*) AS findings_with_a_fix FROM vital.audit() WHERE fix <> '' AND (object NOT LIKE 'role %' OR object LIKE 'role regress%') AND problem NOT LIKE 'does not lead with tenant_id%';

-- Following the fixes, with the event triggers on again, brings it back to healthy: a command
-- that repairs one problem is not refused for the problems that remain.
ALTER EVENT TRIGGER vital_ddl_command_start ENABLE;
ALTER EVENT TRIGGER vital_sql_drop ENABLE;
ALTER EVENT TRIGGER vital_ddl_command_end ENABLE;
REVOKE SET ON PARAMETER vital.tenant FROM regress_app;
REVOKE TRUNCATE ON parents FROM regress_app;
DROP FUNCTION count_parents();
DROP MATERIALIZED VIEW parent_count;
ALTER VIEW parent_codes SET (security_invoker = true);
DROP POLICY everyone ON parents;
DROP RULE log_parents ON parents;
ALTER TABLE parents FORCE ROW LEVEL SECURITY;
ALTER TRIGGER parents_code_guard ON parents RENAME TO vital_fk_guard_parents_code_fkey;
ALTER TABLE parents ENABLE TRIGGER vital_fk_guard_parents_code_fkey;
ALTER FUNCTION vital.platform_tenant() NO DEPENDS ON EXTENSION citext;
ALTER TABLE loose RENAME COLUMN tid TO tenant_id;
SELECT vital.unregister_table('loose', true);
DROP TABLE loose;
ALTER TABLE children ENABLE ROW LEVEL SECURITY;
ALTER TABLE children ENABLE TRIGGER vital_fk_guard_children_parent_id_fkey;
ALTER TRIGGER vital_fk_guard_children_parent_id_fkey ON children NO DEPENDS ON EXTENSION citext;
ALTER INDEX parents_tenant_id_idx NO DEPENDS ON EXTENSION citext;
ALTER TABLE children ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE events ALTER COLUMN tenant_id SET DEFAULT vital.current_tenant();
ALTER TABLE other_events NO INHERIT archive;
DELETE FROM vital.registrations WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = relid::oid);
SELECT vital.register_table(t) FROM unnest('{parents,children,events}'::regclass[]) t;
SELECT severity, object, problem FROM vital.audit() WHERE (object NOT LIKE 'role %' OR object LIKE 'role regress%') AND problem NOT LIKE 'does not lead with tenant_id%';

-- The deep check scans the data: a child row that references another tenant's parent.
SELECT vital.create_tenant('regress-a', 'A') IS NOT NULL AS a, vital.create_tenant('regress-b', 'B') IS NOT NULL AS b;
INSERT INTO parents (id, code, tenant_id) VALUES (10, 'p1', vital.tenant_id('regress-a'));
-- The guard refuses such a row; a replica session (a restore, logical replication) fires no triggers.
SET session_replication_role = replica;
INSERT INTO children (id, parent_id, tenant_id) VALUES (10, 10, vital.tenant_id('regress-a')),
                                                       (11, 10, vital.tenant_id('regress-b')),
                                                       (12, 1, vital.tenant_id('regress-b'));
RESET session_replication_role;
SELECT severity, object, problem FROM vital.audit(deep => true) WHERE severity <> 'info';
-- A key whose equality operator is not built in (citext's) is listed, not scanned: the deep
-- check never runs a table owner's (or an extension's) code with the DBA's rights.
CREATE TABLE ci_parents (code citext PRIMARY KEY);
CREATE TABLE ci_children (id int PRIMARY KEY, code citext REFERENCES ci_parents);
SELECT vital.register_table('ci_parents'), vital.register_table('ci_children');
SELECT severity, object, problem FROM vital.audit(deep => true) WHERE object LIKE '%ci_children%' AND problem NOT LIKE 'does not lead with tenant_id%';
SELECT vital.unregister_table('ci_children', true), vital.unregister_table('ci_parents', true);
DROP TABLE ci_children, ci_parents;
SELECT count(*) AS without_deep FROM vital.audit() WHERE severity <> 'info';
DELETE FROM children WHERE id IN (10, 11, 12);
DELETE FROM parents WHERE id = 10;

-- Indexes a tenant's search cannot use under row level security (operators not LEAKPROOF).
CREATE INDEX parents_code_fts ON parents USING gin (to_tsvector('simple', code));
SELECT severity, object, problem FROM vital.audit() WHERE object LIKE 'index %' AND problem NOT LIKE 'does not lead with tenant_id%';
DROP INDEX parents_code_fts;

-- The audit belongs to DBAs.
SET ROLE regress_app;
SELECT count(*) FROM vital.audit();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP VIEW parent_codes, safe_parent_codes;
SELECT vital.unregister_table(t, true) FROM unnest('{children,parents,codes,events,other_events}'::regclass[]) t;
DROP TABLE children, parents, codes, events, other_events, parent_log, archive;
DROP EXTENSION citext;
SELECT vital.drop_tenant(vital.tenant_id('regress-a'));
SELECT vital.drop_tenant(vital.tenant_id('regress-b'));
SELECT vital.restrict_statistics(restricted => false) > 60 AS restored;
DROP EXTENSION pg_stat_statements;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET session_preload_libraries', current_database()); END $$;
DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
DROP ROLE regress_app;
DROP ROLE regress_backup;
