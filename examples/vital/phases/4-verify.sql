-- Phase 4 verify: each seeded tenant exists and is active; everything it owns references its
-- own rows or the platform's; and, as its app role (the platform's too): it sees its own rows
-- of every data file, every shared platform row and no row of another tenant; the compat names
-- return data; and the typical page queries answer in under 200 ms (reported, a WARNING when
-- slower: a measure, not a test).
\ir tables.sql
\ir roles.sql
\ir tenants.sql
\ir mapping.sql
DO $verify4$
DECLARE
    t record;
    bad bigint;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tenants LOOP
        IF NOT EXISTS (SELECT FROM vital.tenants WHERE id = t.id AND status = 'active') THEN
            RAISE EXCEPTION 'phase 4 verify: tenant % (%) is missing or suspended', t.slug, t.id;
        END IF;
        IF to_regclass('public.agent_tools') IS NOT NULL THEN
            SELECT count(*) INTO bad FROM public.agent_tools l JOIN public.agents a ON a.id = l.agent_id
             WHERE l.tenant_id = t.id AND a.tenant_id <> t.id;
            IF bad > 0 THEN
                RAISE EXCEPTION 'phase 4 verify: % agent-tool links of % point at agents that are not its own', bad, t.slug;
            END IF;
        END IF;
        IF to_regclass('public.agents') IS NOT NULL
           AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.agents'::regclass AND attname = 'parent_agent_id' AND NOT attisdropped) THEN
            SELECT count(*) INTO bad FROM public.agents a JOIN public.agents p ON p.id = a.parent_agent_id
             WHERE a.tenant_id = t.id AND p.tenant_id <> t.id;
            IF bad > 0 THEN
                RAISE EXCEPTION 'phase 4 verify: % agents of % report to another tenant''s lead', bad, t.slug;
            END IF;
        END IF;
    END LOOP;
END
$verify4$;
-- As each app role, what the seed's success metrics ask.
DO $crosscheck$
DECLARE
    r record;
    tbl record;
    q record;
    seen bigint;
    expected jsonb;
    platform_rows jsonb := '{}';
    started timestamptz;
    ms numeric;
    timings text[];
    slow text[];
BEGIN
    -- The platform's rows of every shared table, counted as the DBA.
    FOR tbl IN SELECT relid FROM vital.registered_tables WHERE shared_reads LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id = vital.platform_tenant()', tbl.relid) INTO seen;
        platform_rows := platform_rows || jsonb_build_object(tbl.relid::text, seen);
    END LOOP;
    FOR r IN SELECT t.id, t.slug, ro.role_name FROM vital_migration_tenants t
               JOIN vital_migration_roles ro ON ro.tenant_slug = t.slug
               JOIN pg_roles pr ON pr.rolname = ro.role_name
             UNION ALL
             SELECT vital.platform_tenant(), 'platform', ro.role_name FROM vital_migration_roles ro
               JOIN pg_roles pr ON pr.rolname = ro.role_name WHERE ro.tenant_slug = 'platform' LOOP
        -- Its own rows of each data file whose table exists (read before leaving the DBA's role).
        SELECT coalesce(jsonb_object_agg(f.target, x.n), '{}') INTO expected
          FROM vital_data_files f
          JOIN LATERAL (SELECT count(*) AS n FROM vital_data d WHERE d.file = f.file AND d.data ->> 'tenant' = r.slug) x ON x.n > 0
         WHERE f.target IS NOT NULL AND to_regclass(f.target) IS NOT NULL;
        EXECUTE format('SET LOCAL ROLE %I', r.role_name);
        PERFORM vital.set_tenant(r.id);
        FOR tbl IN SELECT relid, shared_reads FROM vital.registered_tables LOOP
            EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id NOT IN ($1, vital.platform_tenant())', tbl.relid)
               INTO seen USING r.id;
            IF seen > 0 THEN
                RAISE EXCEPTION 'phase 4 verify: as %, % shows % rows of other tenants', r.role_name, tbl.relid, seen;
            END IF;
            IF tbl.shared_reads AND r.slug <> 'platform' THEN
                EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id = vital.platform_tenant()', tbl.relid) INTO seen;
                IF seen <> (platform_rows ->> tbl.relid::text)::bigint THEN
                    RAISE EXCEPTION 'phase 4 verify: as %, % shows % of the platform''s % shared rows',
                          r.role_name, tbl.relid, seen, platform_rows ->> tbl.relid::text;
                END IF;
            END IF;
        END LOOP;
        FOR q IN SELECT key AS target, value::bigint AS n FROM jsonb_each_text(expected) LOOP
            EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id = $1', q.target::regclass) INTO seen USING r.id;
            IF seen < q.n THEN
                RAISE EXCEPTION 'phase 4 verify: as %, % shows % own rows; its data file has %', r.role_name, q.target, seen, q.n;
            END IF;
        END LOOP;
        -- The names the apps use.
        FOR q IN SELECT v.view::text AS name FROM vital.compat_objects v WHERE v.kind = 'view' LOOP
            EXECUTE format('SELECT count(*) FROM %s', q.name) INTO seen;
            IF seen = 0 THEN
                RAISE EXCEPTION 'phase 4 verify: as %, the compat view % returns no rows', r.role_name, q.name;
            END IF;
        END LOOP;
        FOR q IN SELECT v.target::text AS tbl, v.column_name FROM vital.compat_objects v WHERE v.kind = 'column' LOOP
            EXECUTE format('SELECT count(%I) FROM %s', q.column_name, q.tbl) INTO seen;
            IF seen = 0 THEN
                RAISE EXCEPTION 'phase 4 verify: as %, the compat column %.% has no value', r.role_name, q.tbl, q.column_name;
            END IF;
        END LOOP;
        -- The typical page queries, timed (those whose tables and columns this database has).
        timings := '{}';
        slow := '{}';
        FOR q IN SELECT * FROM (VALUES
                ('agents with their tool counts', 'SELECT a.name, count(l.tool_id) FROM agents a LEFT JOIN agent_tools l ON l.agent_id = a.id GROUP BY a.id, a.name ORDER BY a.name LIMIT 50'),
                ('tools by category', 'SELECT name, category FROM tools ORDER BY category, name LIMIT 100'),
                ('an agent''s prompts', 'SELECT p.title FROM prompts p JOIN agents a ON a.id = p.agent_id WHERE a.name = (SELECT min(name) FROM agents)'),
                ('business functions and departments', 'SELECT b.name, count(d.id) FROM business_functions b LEFT JOIN departments d ON d.function_id = b.id GROUP BY b.name'),
                ('personas and their jobs', 'SELECT p.name, j.statement FROM personas p JOIN jobs_to_be_done j ON j.persona_id = p.id ORDER BY p.name LIMIT 100'),
                ('knowledge search', 'SELECT title FROM knowledge WHERE title ILIKE ''%clinical%'' LIMIT 20'),
                ('latest conversation with its messages', 'SELECT m.role, m.content FROM chat_messages m WHERE m.session_id = (SELECT id FROM chat_sessions ORDER BY started_at DESC LIMIT 1) ORDER BY m.created_at')
            ) x(page, query) LOOP
            BEGIN
                started := clock_timestamp();
                EXECUTE q.query;
                ms := round(extract(epoch FROM clock_timestamp() - started)::numeric * 1000, 1);
                timings := timings || format('%s %s', q.page, ms);
                IF ms >= 200 THEN
                    slow := slow || q.page;
                END IF;
            EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function THEN
                timings := timings || format('%s skipped (%s)', q.page, SQLERRM);
            END;
        END LOOP;
        RAISE NOTICE 'page queries as % (ms): %', r.role_name, array_to_string(timings, '; ');
        IF cardinality(slow) > 0 THEN
            RAISE WARNING 'page queries as %: % took 200 ms or more (the target is under 200 ms)', r.role_name, array_to_string(slow, ', ');
        END IF;
        PERFORM vital.clear_tenant();
        RESET ROLE;
    END LOOP;
    RAISE NOTICE 'phase 4 verified: tenants seeded; each app role sees its own rows and the platform''s shared ones, no other tenant''s; compat names answer';
END
$crosscheck$;
