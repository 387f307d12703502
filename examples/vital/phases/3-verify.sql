-- Phase 3 verify: the app roles cannot bypass row level security, and vital.audit() reports
-- no error and no warning.
\ir roles.sql
DO $verify3$
DECLARE
    r record;
    f record;
    problems int := 0;
BEGIN
    FOR r IN SELECT * FROM vital_migration_roles LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.role_name AND NOT rolsuper AND NOT rolbypassrls) THEN
            RAISE EXCEPTION 'phase 3 verify: role % is missing or bypasses row level security', r.role_name;
        END IF;
    END LOOP;
    FOR f IN SELECT * FROM vital.audit() WHERE severity IN ('error', 'warning') LOOP
        RAISE WARNING 'audit: % % %: %', f.severity, f.object, f.problem, f.fix;
        problems := problems + 1;
    END LOOP;
    IF problems > 0 THEN
        RAISE EXCEPTION 'phase 3 verify: vital.audit() reports % problem(s)', problems;
    END IF;
    RAISE NOTICE 'phase 3 verified: app roles bound by row level security; vital.audit() is clean';
END
$verify3$;
