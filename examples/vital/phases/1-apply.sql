-- Phase 1, schema alignment: the names the apps expect, without copying data.
--   tools.category          <- tool_categories.name through tools.category_id (compat column)
--   business_functions      -> suite_functions        (compat view)
--   departments             -> org_departments        (compat view)
--   organizational_roles    -> organizational_levels  (compat view)
DO $phase1$
DECLARE
    v record;
BEGIN
    IF to_regclass('public.tools') IS NULL OR to_regclass('public.tool_categories') IS NULL THEN
        RAISE NOTICE 'phase 1: table public.tools or public.tool_categories is missing: tools.category skipped';
    ELSIF EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'column' AND target = 'public.tools'::regclass
                                                     AND column_name = 'category') THEN
        RAISE NOTICE 'phase 1: tools.category is already in place';
    ELSIF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tools'::regclass AND attname = 'category'
                                             AND NOT attisdropped) THEN
        RAISE NOTICE 'phase 1: public.tools already has its own category column: left alone';
    ELSE
        PERFORM vital.create_compat_column('public.tools', 'category', 'category_id', 'public.tool_categories', 'name');
        RAISE NOTICE 'phase 1: tools.category now follows tools.category_id';
    END IF;

    FOR v IN SELECT * FROM (VALUES ('public.business_functions', 'public.suite_functions'),
                                   ('public.departments', 'public.org_departments'),
                                   ('public.organizational_roles', 'public.organizational_levels')) x(alias, target)
    LOOP
        IF to_regclass(v.target) IS NULL THEN
            RAISE NOTICE 'phase 1: table % is missing: view % skipped', v.target, v.alias;
        ELSIF to_regclass(v.alias) IS NOT NULL
              AND NOT EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'view' AND view = to_regclass(v.alias)) THEN
            RAISE NOTICE 'phase 1: % already exists and is not a compat view: left alone', v.alias;
        ELSE
            PERFORM vital.create_compat_view(v.alias, v.target::regclass);
            RAISE NOTICE 'phase 1: view % over %', v.alias, v.target;
        END IF;
    END LOOP;
END
$phase1$;
