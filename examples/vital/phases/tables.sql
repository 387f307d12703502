-- The tables that hold tenant data, in an order where referenced tables come first, and
-- whether platform rows are shared read-only with every tenant. Used by phases 2 to 4.
CREATE TEMP TABLE IF NOT EXISTS vital_migration_tables (ord int, name text, shared_reads boolean);
TRUNCATE vital_migration_tables;
INSERT INTO vital_migration_tables VALUES
    (1, 'public.suite_functions', true),
    (2, 'public.org_departments', true),
    (3, 'public.organizational_levels', true),
    (4, 'public.tool_categories', true),
    (5, 'public.tools', true),
    (6, 'public.agents', true),
    (7, 'public.agent_tools', true),
    (8, 'public.prompts', true),
    (9, 'public.knowledge', true),
    (10, 'public.personas', true),
    (11, 'public.jobs_to_be_done', true),
    (12, 'public.chat_sessions', false),   -- conversations are never shared
    (13, 'public.chat_messages', false);
