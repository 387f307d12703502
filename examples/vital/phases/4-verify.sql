-- Phase 4 verify: each seeded tenant exists and is active; everything it owns references its
-- own rows or the platform's; and, as its app role, it sees no row of another tenant.
\ir tables.sql
\ir roles.sql
\ir tenants.sql
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
        IF to_regclass('public.agents') IS NOT NULL THEN
            SELECT count(*) INTO bad FROM public.agents a JOIN public.agents p ON p.id = a.parent_agent_id
             WHERE a.tenant_id = t.id AND p.tenant_id <> t.id;
            IF bad > 0 THEN
                RAISE EXCEPTION 'phase 4 verify: % agents of % report to another tenant''s lead', bad, t.slug;
            END IF;
        END IF;
    END LOOP;
END
$verify4$;
-- As each app role: rows of any tenant other than its own and the platform are invisible.
DO $crosscheck$
DECLARE
    r record;
    tbl record;
    seen bigint;
BEGIN
    FOR r IN SELECT t.id, t.slug, ro.role_name FROM vital_migration_tenants t
               JOIN vital_migration_roles ro ON ro.tenant_slug = t.slug
               JOIN pg_roles pr ON pr.rolname = ro.role_name LOOP
        EXECUTE format('SET LOCAL ROLE %I', r.role_name);
        PERFORM vital.set_tenant(r.id);
        FOR tbl IN SELECT relid::text AS name FROM vital.registered_tables LOOP
            EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id NOT IN ($1, vital.platform_tenant())', tbl.name)
               INTO seen USING r.id;
            IF seen > 0 THEN
                RAISE EXCEPTION 'phase 4 verify: as %, % shows % rows of other tenants', r.role_name, tbl.name, seen;
            END IF;
        END LOOP;
        PERFORM vital.clear_tenant();
        RESET ROLE;
    END LOOP;
    RAISE NOTICE 'phase 4 verified: tenants seeded; no app role sees another tenant''s rows';
END
$crosscheck$;
