-- The tables that hold tenant data, in an order where referenced tables come first; whether
-- platform rows are shared read-only with every tenant; and, for the tables whose template
-- rows follow another table's clones in phase 4, that table and the referencing column
-- (an agent's tool links and prompts are cloned with the agent). Used by phases 2 to 4.
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_migration_tables (ord int, name text, shared_reads boolean,
                                                        follows text, follow_col text);
TRUNCATE vital_migration_tables;
RESET client_min_messages;
INSERT INTO vital_migration_tables VALUES
    (1, 'public.suite_functions', true, NULL, NULL),
    (2, 'public.org_departments', true, NULL, NULL),
    (3, 'public.organizational_levels', true, NULL, NULL),
    (4, 'public.tool_categories', true, NULL, NULL),
    (5, 'public.tools', true, NULL, NULL),
    (6, 'public.agents', true, NULL, NULL),
    (7, 'public.agent_tools', true, 'public.agents', 'agent_id'),
    (8, 'public.prompts', true, 'public.agents', 'agent_id'),
    (9, 'public.knowledge', true, NULL, NULL),
    (10, 'public.personas', true, NULL, NULL),
    (11, 'public.jobs_to_be_done', true, NULL, NULL),
    (12, 'public.chat_sessions', false, NULL, NULL),   -- conversations are never shared
    (13, 'public.chat_messages', false, NULL, NULL);
