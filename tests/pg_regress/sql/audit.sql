-- vital.audit(): every check, each problem created and then seen reported.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
CREATE ROLE regress_app LOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE regress_backup LOGIN NOSUPERUSER BYPASSRLS;
CREATE TABLE parents (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents (id));
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT vital.register_table(t) FROM unnest('{parents,children,events}'::regclass[]) t;
GRANT SELECT, INSERT, UPDATE, DELETE ON parents, children TO regress_app;

-- Healthy: no error and no warning; the roles that bypass RLS are listed as info.
SELECT severity, object, problem FROM vital.audit() WHERE object NOT LIKE 'role %' OR object LIKE 'role regress%';

-- Weakening that vital refuses when its event trigger is on; with it off (as some managed
-- services require), the audit still sees the drift.
ALTER EVENT TRIGGER vital_ddl_command_start DISABLE;
ALTER TABLE parents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE children DISABLE ROW LEVEL SECURITY;
ALTER POLICY vital_select ON children USING (true);
ALTER TABLE children DISABLE TRIGGER vital_fk_guard_children_parent_id_fkey;
ALTER EVENT TRIGGER vital_ddl_command_start ENABLE;
ALTER EVENT TRIGGER vital_ddl_command_end DISABLE;
CREATE TABLE events_2026 (LIKE events);
ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE UNIQUE INDEX children_parent ON children (parent_id);
-- Everything else the audit looks for.
CREATE POLICY everyone ON parents FOR SELECT USING (true);
CREATE VIEW parent_codes AS SELECT code FROM parents;
CREATE VIEW safe_parent_codes WITH (security_invoker = true) AS SELECT code FROM parents;
CREATE MATERIALIZED VIEW parent_count AS SELECT count(*) FROM parents;
CREATE FUNCTION count_parents() RETURNS bigint SECURITY DEFINER LANGUAGE sql
    AS 'SELECT count(*) FROM public.parents';
GRANT TRUNCATE ON parents TO regress_app;
DROP INDEX children_tenant_id_idx;
GRANT SET ON PARAMETER vital.tenant TO regress_app;

SELECT severity, object, problem FROM vital.audit() WHERE object NOT LIKE 'role %' OR object LIKE 'role regress%';
SELECT count(*) AS findings_with_a_fix FROM vital.audit() WHERE fix <> '' AND (object NOT LIKE 'role %' OR object LIKE 'role regress%');

-- Following the fixes brings it back to healthy.
REVOKE SET ON PARAMETER vital.tenant FROM regress_app;
REVOKE TRUNCATE ON parents FROM regress_app;
DROP FUNCTION count_parents();
DROP MATERIALIZED VIEW parent_count;
ALTER VIEW parent_codes SET (security_invoker = true);
DROP POLICY everyone ON parents;
ALTER EVENT TRIGGER vital_ddl_command_end ENABLE;
ALTER EVENT TRIGGER vital_ddl_command_start DISABLE;
ALTER TABLE parents FORCE ROW LEVEL SECURITY;
ALTER TABLE children ENABLE ROW LEVEL SECURITY;
ALTER TABLE children ENABLE TRIGGER vital_fk_guard_children_parent_id_fkey;
ALTER EVENT TRIGGER vital_ddl_command_start ENABLE;
SELECT vital.register_table(t) FROM unnest('{parents,children,events}'::regclass[]) t;
SELECT severity, object, problem FROM vital.audit() WHERE object NOT LIKE 'role %' OR object LIKE 'role regress%';

-- The audit belongs to DBAs.
SET ROLE regress_app;
SELECT count(*) FROM vital.audit();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP VIEW parent_codes, safe_parent_codes;
SELECT vital.unregister_table(t, true) FROM unnest('{children,parents,events}'::regclass[]) t;
DROP TABLE children, parents, events;
DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
DROP ROLE regress_app;
DROP ROLE regress_backup;
