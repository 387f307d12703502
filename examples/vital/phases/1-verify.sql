-- Phase 1 verify: the compat column matches its key everywhere; the views are security_invoker
-- compat views over their tables.
DO $verify1$
DECLARE
    v record;
    mismatched bigint;
BEGIN
    IF to_regclass('public.tools') IS NOT NULL AND to_regclass('public.tool_categories') IS NOT NULL THEN
        IF NOT EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'column' AND target = 'public.tools'::regclass
                                                          AND column_name = 'category') THEN
            RAISE EXCEPTION 'phase 1 verify: tools.category is not a compat column (apply phase 1)';
        END IF;
        SELECT count(*) INTO mismatched
          FROM public.tools t LEFT JOIN public.tool_categories c ON c.id = t.category_id
         WHERE (to_jsonb(t) ->> 'category') IS DISTINCT FROM c.name;
        IF mismatched > 0 THEN
            RAISE EXCEPTION 'phase 1 verify: % tools have a category that does not match category_id', mismatched;
        END IF;
    END IF;
    FOR v IN SELECT * FROM (VALUES ('public.business_functions', 'public.suite_functions'),
                                   ('public.departments', 'public.org_departments'),
                                   ('public.organizational_roles', 'public.organizational_levels')) x(alias, target)
    LOOP
        CONTINUE WHEN to_regclass(v.target) IS NULL;
        IF NOT EXISTS (SELECT FROM vital.compat_objects o JOIN pg_class c ON c.oid = o.view
                        WHERE o.kind = 'view' AND o.view = to_regclass(v.alias) AND o.target = to_regclass(v.target)
                          AND 'security_invoker=true' = ANY (c.reloptions)) THEN
            RAISE EXCEPTION 'phase 1 verify: % is not a security_invoker compat view over %', v.alias, v.target;
        END IF;
    END LOOP;
    RAISE NOTICE 'phase 1 verified: compat column and views in place';
END
$verify1$;
