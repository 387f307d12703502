-- Cloning platform templates into tenants, dropping and exporting tenants.
\set SHOW_CONTEXT never
CREATE EXTENSION vital_tenancy;
SELECT vital.create_tenant('dhs', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111') IS NOT NULL AS t;
SELECT vital.create_tenant('pharma', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda') IS NOT NULL AS t;
SELECT vital.create_tenant('paused', 'Paused', '33333333-3333-3333-3333-333333333333') IS NOT NULL AS t;
SELECT vital.suspend_tenant('33333333-3333-3333-3333-333333333333');

-- Templates: tools with uuid keys, agents with bigint identity keys and a parent agent, and
-- the agent-tool join table.
CREATE TABLE tools (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL UNIQUE,
                    category text NOT NULL);
CREATE TABLE agents (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                     business_function text NOT NULL, parent_id bigint REFERENCES agents (id));
CREATE TABLE agent_tools (agent_id bigint NOT NULL REFERENCES agents (id),
                          tool_id uuid NOT NULL REFERENCES tools (id),
                          PRIMARY KEY (agent_id, tool_id));
INSERT INTO tools (name, category) VALUES
    ('FDA search', 'Regulatory'), ('Clinical Trials search', 'Regulatory'),
    ('PubMed', 'Research'), ('Calculator', 'General');
INSERT INTO agents (name, business_function) VALUES ('Regulatory lead', 'Regulatory Affairs');
INSERT INTO agents (name, business_function, parent_id) VALUES
    ('Submission writer', 'Regulatory Affairs', 1), ('Label reviewer', 'Regulatory Affairs', 2),
    ('Medicinal chemist', 'Drug Development', NULL);
INSERT INTO agent_tools SELECT a.id, t.id FROM agents a JOIN tools t
    ON (a.business_function = 'Regulatory Affairs' AND t.category = 'Regulatory')
    OR (a.business_function = 'Drug Development' AND t.category IN ('Research', 'General'));
SELECT vital.register_table(t) FROM unnest('{tools,agents,agent_tools}'::regclass[]) t;

-- The startup gets the regulatory tools and agents; then the links, which point at its copies.
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$category = 'Regulatory'$$);
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'agents',
                              $$business_function = 'Regulatory Affairs'$$);
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'agent_tools',
                              $$agent_id IN (1, 2, 3)$$);
-- Again: nothing new. (Links of agents the startup did not get would be copies of the
-- platform's own links, and are skipped.)
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$category = 'Regulatory'$$);
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'agent_tools');

-- Row by row: each copy is a new row of the startup; its references point at the startup's
-- copies (parent agents, agents and tools of links).
SELECT a.name, a.id > 4 AS new_key, p.name AS parent, p.tenant_id = a.tenant_id AS parent_is_own
FROM agents a LEFT JOIN agents p ON p.id = a.parent_id
WHERE a.tenant_id = '11111111-1111-1111-1111-111111111111' ORDER BY a.name;
SELECT a.name AS agent, t.name AS tool,
       a.tenant_id = l.tenant_id AS agent_is_own, t.tenant_id = l.tenant_id AS tool_is_own
FROM agent_tools l JOIN agents a ON a.id = l.agent_id JOIN tools t ON t.id = l.tool_id
WHERE l.tenant_id = '11111111-1111-1111-1111-111111111111' ORDER BY 1, 2;
SELECT count(*) AS new_tool_keys FROM tools c JOIN tools s USING (name)
WHERE c.tenant_id = '11111111-1111-1111-1111-111111111111' AND s.tenant_id = vital.platform_tenant()
  AND c.id <> s.id;

-- Pharmaceuticals: drug development. Its links to tools that were not cloned keep pointing at
-- the platform's tools.
SELECT vital.clone_for_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda', 'agents',
                              $$business_function = 'Drug Development'$$);
SELECT vital.clone_for_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda', 'tools', $$name = 'PubMed'$$);
SELECT vital.clone_for_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda', 'agent_tools', $$agent_id = 4$$);
SELECT a.name AS agent, t.name AS tool, t.tenant_id = vital.platform_tenant() AS platform_tool
FROM agent_tools l JOIN agents a ON a.id = l.agent_id JOIN tools t ON t.id = l.tool_id
WHERE l.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda' ORDER BY 1, 2;

-- Errors: nothing is written.
SELECT (SELECT count(*) FROM tools) + (SELECT count(*) FROM agents) + (SELECT count(*) FROM agent_tools)
       + (SELECT count(*) FROM vital.clone_map) AS rows_before \gset
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$(SELECT true)$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$true; DROP TABLE tools$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools',
                              $$true) UNION SELECT FROM agents WHERE (true$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools',
                              $$name IN (SELECT name FROM public.agents)$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$random() < 0.5$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$no_such_column = 1$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$name$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'tools', $$name = 'x' OR$$);
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('99999999-9999-9999-9999-999999999999', 'tools');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant('33333333-3333-3333-3333-333333333333', 'tools');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant(vital.platform_tenant(), 'tools');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE unregistered (id serial PRIMARY KEY);
SELECT vital.clone_for_tenant('11111111-1111-1111-1111-111111111111', 'unregistered');
\echo :LAST_ERROR_SQLSTATE
SELECT vital.clone_for_tenant(NULL, 'tools');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM tools) + (SELECT count(*) FROM agents) + (SELECT count(*) FROM agent_tools)
       + (SELECT count(*) FROM vital.clone_map) = :rows_before AS nothing_written;
SELECT count(*) AS tables_left FROM pg_class WHERE relname = 'tools';

-- Large clones say so.
CREATE TABLE bulk (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int NOT NULL);
INSERT INTO bulk (n) SELECT generate_series(1, 10000);
SELECT vital.register_table('bulk');
SELECT vital.clone_for_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda', 'bulk');
SELECT count(*) AS pharma_bulk FROM bulk WHERE tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda';

-- Export: the tenant and its rows, nothing of the platform or other tenants.
SELECT jsonb_object_keys(vital.export_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda'));
SELECT key AS tbl, jsonb_array_length(value) AS rows
FROM jsonb_each(vital.export_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') -> 'tables') ORDER BY 1;
SELECT vital.export_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') #> '{tenant,slug}' AS slug;
SELECT e ->> 'name' AS name FROM jsonb_array_elements(
    vital.export_tenant('f7aa6fd4-0af9-4706-8b31-034f1f7accda') #> '{tables,public.agents}') e;

-- Drop: the startup's rows, children first, then the tenant; nothing else.
SELECT tenant_id, count(*) FROM (SELECT tenant_id FROM tools UNION ALL SELECT tenant_id FROM agents
                                 UNION ALL SELECT tenant_id FROM agent_tools) x GROUP BY 1 ORDER BY 1;
SELECT vital.drop_tenant('11111111-1111-1111-1111-111111111111');
SELECT tenant_id, count(*) FROM (SELECT tenant_id FROM tools UNION ALL SELECT tenant_id FROM agents
                                 UNION ALL SELECT tenant_id FROM agent_tools) x GROUP BY 1 ORDER BY 1;
SELECT count(*) AS startup_left FROM vital.tenants WHERE id = '11111111-1111-1111-1111-111111111111';
SELECT vital.drop_tenant(vital.platform_tenant());
\echo :LAST_ERROR_SQLSTATE
SELECT vital.drop_tenant('11111111-1111-1111-1111-111111111111');
\echo :LAST_ERROR_SQLSTATE

-- Keys led by tenant_id (as vital.distribute() makes them): tenant_id is not part of a copy's
-- identity, and a same-tenant foreign key (tenant_id, x) -> (tenant_id, id) is remapped.
SELECT vital.create_tenant('composite', 'Composite keys', '22222222-2222-2222-2222-222222222222') IS NOT NULL AS created;
CREATE TABLE folders (id int GENERATED BY DEFAULT AS IDENTITY, name text);
CREATE TABLE notes (id int GENERATED BY DEFAULT AS IDENTITY, folder_id int, body text);
SELECT vital.register_table(t) FROM unnest('{folders,notes}'::regclass[]) t;
ALTER TABLE folders ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE notes ADD PRIMARY KEY (tenant_id, id),
    ADD FOREIGN KEY (tenant_id, folder_id) REFERENCES folders (tenant_id, id);
INSERT INTO folders (tenant_id, id, name) OVERRIDING SYSTEM VALUE
     VALUES (vital.platform_tenant(), 100, 'templates'), (vital.platform_tenant(), 101, 'other');
INSERT INTO notes (tenant_id, folder_id, body)
     VALUES (vital.platform_tenant(), 100, 'a'), (vital.platform_tenant(), 100, 'b');
SELECT vital.clone_for_tenant('22222222-2222-2222-2222-222222222222', 'folders', 'id = 100');
SELECT vital.clone_for_tenant('22222222-2222-2222-2222-222222222222', 'notes');
SELECT vital.clone_for_tenant('22222222-2222-2222-2222-222222222222', 'notes');
SELECT f.name, n.body FROM notes n JOIN folders f ON f.tenant_id = n.tenant_id AND f.id = n.folder_id
 WHERE n.tenant_id = '22222222-2222-2222-2222-222222222222' ORDER BY n.body;
SELECT count(*) AS folder_ids_reused FROM folders WHERE tenant_id = '22222222-2222-2222-2222-222222222222' AND id IN (100, 101);
SELECT vital.drop_tenant('22222222-2222-2222-2222-222222222222');
SELECT vital.unregister_table(t, true) FROM unnest('{notes,folders}'::regclass[]) t;
DROP TABLE notes, folders;

DELETE FROM bulk WHERE tenant_id <> vital.platform_tenant();
SELECT vital.unregister_table('bulk', true);
DROP TABLE bulk;
-- Dropping tenant_id while tenants' rows exist would merge them: refused with the counts.
SELECT vital.unregister_table(t, true) FROM unnest('{agent_tools,agents,tools}'::regclass[]) t;
\echo :LAST_ERROR_SQLSTATE
-- Even when merging is wanted, tenants that share a value a global key would refuse block it.
SELECT vital.unregister_table(t, true, merge_tenants => true) FROM unnest('{agent_tools,agents,tools}'::regclass[]) t;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM agent_tools WHERE tenant_id <> vital.platform_tenant();
DELETE FROM agents WHERE tenant_id <> vital.platform_tenant() AND parent_id IS NOT NULL;
DELETE FROM agents WHERE tenant_id <> vital.platform_tenant();
DELETE FROM tools WHERE tenant_id <> vital.platform_tenant();
SELECT vital.unregister_table(t, true) FROM unnest('{agent_tools,agents,tools}'::regclass[]) t;
DROP TABLE agent_tools, agents, tools, unregistered;
DROP EXTENSION vital_tenancy;
DROP SCHEMA vital;
