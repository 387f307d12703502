-- Phase 1 rollback: drop the compat column and views (only the ones vital made).
DO $rollback1$
DECLARE
    v record;
BEGIN
    IF to_regclass('public.tools') IS NOT NULL
       AND EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'column' AND target = 'public.tools'::regclass
                                                      AND column_name = 'category') THEN
        PERFORM vital.drop_compat_column('public.tools', 'category');
    END IF;
    FOR v IN SELECT o.view::text AS alias FROM vital.compat_objects o
              WHERE o.kind = 'view' AND o.view::text IN ('business_functions', 'departments', 'organizational_roles')
    LOOP
        PERFORM vital.drop_compat_view(v.alias);
    END LOOP;
    RAISE NOTICE 'phase 1 rolled back';
END
$rollback1$;
