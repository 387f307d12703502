-- Compatibility views and columns with the VITAL names: the apps query business_functions,
-- departments, organizational_roles and tools.category; the database has suite_functions,
-- org_departments, organizational_levels and tools.category_id.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
SELECT vital.create_tenant('dhs', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
SELECT vital.create_tenant('pharma', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
CREATE ROLE regress_app NOSUPERUSER NOBYPASSRLS;

CREATE TABLE suite_functions (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE org_departments (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE organizational_levels (id int PRIMARY KEY, name text NOT NULL, rank int);
CREATE TABLE tool_categories (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE tools (id int PRIMARY KEY, name text NOT NULL,
                    category_id int REFERENCES tool_categories (id));
INSERT INTO suite_functions VALUES (1, 'Drug Development'), (2, 'Regulatory Affairs');
INSERT INTO org_departments VALUES (1, 'Clinical Operations');
INSERT INTO organizational_levels VALUES (1, 'Director', 1);
INSERT INTO tool_categories VALUES (1, 'Research'), (2, 'Regulatory');
INSERT INTO tools VALUES (1, 'PubMed', 1), (2, 'FDA search', 2), (3, 'Calculator', NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO regress_app;
SELECT vital.register_table(t) FROM unnest('{suite_functions,org_departments,organizational_levels,tool_categories,tools}'::regclass[]) t;

-- Views: security_invoker, over the real table.
SELECT vital.create_compat_view('business_functions', 'suite_functions');
SELECT vital.create_compat_view('public.departments', 'org_departments');
SELECT vital.create_compat_view('organizational_roles', 'organizational_levels');
SELECT vital.create_compat_view('business_functions', 'suite_functions');  -- again: a no-op
SELECT c.relname, c.reloptions, pg_get_userbyid(c.relowner) = current_user AS owner_kept,
       has_table_privilege('regress_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS app_may_use
FROM pg_class c WHERE relname IN ('business_functions', 'departments', 'organizational_roles') ORDER BY 1;

-- The column: tools.category follows tools.category_id.
SELECT vital.create_compat_column('tools', 'category', 'category_id', 'tool_categories', 'name');
SELECT id, name, category_id, category FROM tools ORDER BY id;
SELECT kind, object, target, view, column_name, fk_column, lookup, label_column, key_column
FROM vital.compat_objects ORDER BY id;

SET ROLE regress_app;
SELECT vital.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
-- Writes through the views reach the tables, with their policies.
INSERT INTO business_functions (id, name) VALUES (10, 'Digital Therapeutics');
UPDATE business_functions SET name = name || ' (startup)' WHERE id = 10;
UPDATE business_functions SET name = 'Hacked' WHERE id = 1;           -- platform row: 0 rows
DELETE FROM business_functions WHERE id = 2;                            -- platform row: 0 rows
SELECT id, name FROM business_functions ORDER BY id;
-- Labels resolve to the tenant's own and the platform's rows.
INSERT INTO tool_categories VALUES (10, 'Digital Biomarkers');
INSERT INTO tools (id, name, category) VALUES (10, 'Wearables API', 'Digital Biomarkers'),
                                               (11, 'Trial finder', 'Research');
INSERT INTO tools (id, name, category_id) VALUES (12, 'Submission helper', 2);
INSERT INTO tools (id, name, category) VALUES (13, 'Unknown', 'No such category');
\echo :LAST_ERROR_SQLSTATE
UPDATE tools SET category = 'Regulatory' WHERE id = 10;
UPDATE tools SET category_id = 10 WHERE id = 11;
UPDATE tools SET category = NULL WHERE id = 12;
SELECT id, name, category_id, category FROM tools ORDER BY id;

SELECT vital.set_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
SELECT id, name FROM business_functions ORDER BY id;                    -- no startup rows
UPDATE business_functions SET name = 'x' WHERE id = 10;                 -- 0 rows
DELETE FROM business_functions WHERE id = 10;                           -- 0 rows
-- Another tenant's private label does not resolve.
INSERT INTO tools (id, name, category) VALUES (20, 'Pharma tool', 'Digital Biomarkers');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO tools (id, name, category) VALUES (20, 'Pharma tool', 'Research');
SELECT id, name, category FROM tools ORDER BY id;

-- A platform rename reaches every tenant's rows.
SELECT vital.set_tenant(vital.platform_tenant()) IS NOT NULL AS t;
UPDATE tool_categories SET name = 'Research & Literature' WHERE id = 1;
RESET ROLE;
SELECT id, category_id, category FROM tools ORDER BY id;

-- The views follow columns added to their table.
ALTER TABLE suite_functions ADD COLUMN description text;
SELECT attname FROM pg_attribute WHERE attrelid = 'business_functions'::regclass AND attnum > 0 ORDER BY attnum;

-- Errors: each with its SQLSTATE, and nothing is created.
SELECT vital.create_compat_view('tools', 'suite_functions');             -- name taken
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_view('business_functions', 'org_departments'); -- alias used for another target
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_view('bf2', 'business_functions');             -- target is a view
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_view('a.b.c', 'suite_functions');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_view('nowhere.bf', 'suite_functions');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_view(NULL, 'suite_functions');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_column('tools', 'name', 'category_id', 'tool_categories', 'name');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_column('tools', 'kind', 'no_such_col', 'tool_categories', 'name');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_column('tools', 'kind', 'category_id', 'tool_categories', 'no_such_col');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_column('tools', 'kind', 'name', 'tool_categories', 'name');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.create_compat_column('business_functions', 'kind', 'id', 'tool_categories', 'name');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.drop_compat_view('tools');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.drop_compat_column('tools', 'name');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS compat_objects FROM vital.compat_objects;

-- Dropping restores the tables.
SELECT vital.drop_compat_column('tools', 'category');
SELECT vital.drop_compat_view('business_functions');
SELECT vital.drop_compat_view('departments');
SELECT vital.drop_compat_view('organizational_roles');
\d tools
SELECT count(*) AS compat_objects FROM vital.compat_objects;

SELECT vital.unregister_table(relid, true, merge_tenants => true) FROM vital.registered_tables ORDER BY relid::text DESC;
DROP TABLE tools, tool_categories, suite_functions, org_departments, organizational_levels;
DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
DROP ROLE regress_app;
