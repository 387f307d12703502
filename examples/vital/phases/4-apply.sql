-- Phase 4, seeding: the Digital Health Startup and Pharmaceuticals tenants with their fixed
-- ids; their agents and tools cloned from the platform's templates by category and business
-- function (the links and prompts follow the cloned agents); their own personas, jobs to be
-- done, private knowledge and chat history, written as the tenant. Re-runnable: clones are
-- idempotent and private data is written once.
\ir tables.sql
\ir roles.sql
\ir tenants.sql
DO $phase4$
DECLARE
    t record;
    agent_filter text;
    n bigint;
    role_name text;
    p1 bigint; p2 bigint;
    s uuid;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tenants LOOP
        IF NOT EXISTS (SELECT FROM vital.tenants WHERE id = t.id) THEN
            PERFORM vital.create_tenant(t.slug, t.name, t.id);
        END IF;
        SELECT r.role_name INTO role_name FROM vital_migration_roles r WHERE r.tenant_slug = t.slug;
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            PERFORM vital.allow_tenant(role_name::regrole, t.id);
        END IF;

        -- Templates: tools, agents (with their lead agents), then the agents' tool links and prompts.
        IF to_regclass('public.tools') IS NOT NULL THEN
            n := vital.clone_for_tenant(t.id, 'public.tools',
                     format('category = ANY (%L::text[])', t.tool_categories));
            RAISE NOTICE 'phase 4: % gets % tools', t.slug, n;
        END IF;
        IF to_regclass('public.agents') IS NOT NULL THEN
            n := vital.clone_for_tenant(t.id, 'public.agents',
                     format('business_function = ANY (%L::text[])', t.business_functions));
            RAISE NOTICE 'phase 4: % gets % agents', t.slug, n;
            SELECT format('agent_id = ANY (%L::uuid[])', array_agg(id ORDER BY id)) INTO agent_filter
              FROM public.agents WHERE tenant_id = vital.platform_tenant()
               AND business_function = ANY (t.business_functions);
            IF to_regclass('public.agent_tools') IS NOT NULL THEN
                n := vital.clone_for_tenant(t.id, 'public.agent_tools', agent_filter);
                RAISE NOTICE 'phase 4: % gets % agent-tool links', t.slug, n;
            END IF;
            IF to_regclass('public.prompts') IS NOT NULL THEN
                n := vital.clone_for_tenant(t.id, 'public.prompts', agent_filter);
                RAISE NOTICE 'phase 4: % gets % prompts', t.slug, n;
            END IF;
        END IF;

        -- The tenant's own data, written as the tenant (tenant_id comes from the session).
        CONTINUE WHEN to_regclass('public.personas') IS NULL
                   OR EXISTS (SELECT FROM public.personas WHERE tenant_id = t.id);
        PERFORM vital.set_tenant(t.id);
        INSERT INTO public.personas (name, level_id, department_id, description)
        SELECT p.name, (SELECT id FROM public.organizational_levels WHERE name = p.level),
               (SELECT id FROM public.org_departments WHERE name = p.department), p.description
          FROM (VALUES ('digital-health-startup', 'Founder & CEO', 'Executive', 'Digital Product', 'Owns the product vision and the fundraising story'),
                       ('digital-health-startup', 'Head of Clinical', 'Director', 'Clinical Trial Management', 'Runs the pivotal study of the app'),
                       ('digital-health-startup', 'Regulatory Consultant', 'Specialist', 'Regulatory Strategy', 'Prepares the De Novo request'),
                       ('pharmaceuticals', 'VP Drug Development', 'Executive', 'Translational Medicine', 'Owns the oncology portfolio'),
                       ('pharmaceuticals', 'Regulatory Lead Oncology', 'Lead', 'Regulatory Strategy', 'Plans the BLA for PX-101'),
                       ('pharmaceuticals', 'Safety Scientist', 'Specialist', 'Signal Management', 'Evaluates signals for PX-101'),
                       ('pharmaceuticals', 'Medicinal Chemistry Director', 'Director', 'Discovery Biology', 'Leads the kinase inhibitor series')
               ) p(tenant, name, level, department, description)
         WHERE p.tenant = t.slug;
        IF to_regclass('public.jobs_to_be_done') IS NOT NULL THEN
            INSERT INTO public.jobs_to_be_done (persona_id, statement, priority)
            SELECT p.id, j.statement || ' (' || p.name || ')', j.priority
              FROM public.personas p
             CROSS JOIN (VALUES ('Get the next milestone approved on time', 1),
                                ('Know what the health authority expects before we ask', 2)) j(statement, priority)
             WHERE p.tenant_id = t.id;
        END IF;
        IF to_regclass('public.knowledge') IS NOT NULL THEN
            INSERT INTO public.knowledge (title, source, reference, summary, published)
            SELECT k.title, 'internal', k.reference, k.summary, k.published::date
              FROM (VALUES ('digital-health-startup', 'Pre-Submission meeting minutes', 'Q-Sub Q240117', 'FDA feedback on the De Novo pathway', '2026-02-10'),
                           ('digital-health-startup', 'Pivotal study protocol v3', 'DHS-PIV-001', 'Decentralized trial of the digital therapeutic', '2026-03-01'),
                           ('digital-health-startup', 'Cybersecurity threat model', 'DHS-SEC-004', 'STRIDE analysis of the mobile app', '2026-03-15'),
                           ('pharmaceuticals', 'PX-101 Investigator Brochure', 'IB v7', 'Nonclinical and clinical data for PX-101', '2026-01-20'),
                           ('pharmaceuticals', 'PX-101 Type B meeting package', 'IND 123456', 'End-of-phase-2 questions', '2026-02-28'),
                           ('pharmaceuticals', 'Hepatotoxicity signal assessment', 'SAR-2026-03', 'Evaluation of ALT elevations', '2026-03-12'),
                           ('pharmaceuticals', 'Kinase series SAR summary', 'CHEM-KS-12', 'Selectivity and potency trends', '2026-04-02')
                   ) k(tenant, title, reference, summary, published)
             WHERE k.tenant = t.slug;
        END IF;
        IF to_regclass('public.chat_sessions') IS NOT NULL AND to_regclass('public.chat_messages') IS NOT NULL THEN
            FOR n IN 1 .. 3 LOOP
                INSERT INTO public.chat_sessions (agent_id, persona_id, title, started_at)
                SELECT (SELECT id FROM public.agents WHERE tenant_id = t.id ORDER BY name OFFSET n - 1 LIMIT 1),
                       (SELECT id FROM public.personas WHERE tenant_id = t.id ORDER BY id OFFSET (n - 1) % 3 LIMIT 1),
                       t.name || ' conversation ' || n, timestamptz '2026-04-01 10:00+00' + n * interval '1 day'
                RETURNING id INTO s;
                INSERT INTO public.chat_messages (session_id, role, content, created_at)
                SELECT s, CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
                       t.name || ' private message ' || m, timestamptz '2026-04-01 10:00+00' + m * interval '1 minute'
                  FROM generate_series(1, 4) m;
            END LOOP;
        END IF;
        PERFORM vital.clear_tenant();
        RAISE NOTICE 'phase 4: % has its own personas, jobs, knowledge and chat history', t.slug;
    END LOOP;
END
$phase4$;
