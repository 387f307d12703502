-- Phase 3 verify: the app roles cannot bypass row level security, hold none of the side
-- channels phase 3 closes, and vital.audit() reports no error and no warning except the one
-- residual this migration accepts: VITAL's keys stay sequence-backed (changing them to uuid
-- is a change to the apps; docs/security.md, "Keys").
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
        IF has_database_privilege(r.role_name, current_database(), 'TEMPORARY') THEN
            RAISE EXCEPTION 'phase 3 verify: role % may create temporary objects', r.role_name;
        END IF;
        IF EXISTS (SELECT FROM pg_sequence seq
                     JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = seq.seqrelid AND d.deptype = 'i'
                    WHERE has_sequence_privilege(r.role_name, seq.seqrelid, 'USAGE')) THEN
            RAISE EXCEPTION 'phase 3 verify: role % has USAGE on an identity column''s sequence', r.role_name;
        END IF;
    END LOOP;
    FOR f IN SELECT * FROM vital.audit() WHERE severity IN ('error', 'warning') LOOP
        IF f.severity = 'warning' AND f.problem LIKE 'key drawn from a sequence that every tenant shares%' THEN
            RAISE NOTICE 'audit: accepted residual: % (sequence-backed key)', f.object;
            CONTINUE;
        END IF;
        RAISE WARNING 'audit: % % %: %', f.severity, f.object, f.problem, f.fix;
        problems := problems + 1;
    END LOOP;
    IF problems > 0 THEN
        RAISE EXCEPTION 'phase 3 verify: vital.audit() reports % problem(s)', problems;
    END IF;
    RAISE NOTICE 'phase 3 verified: app roles bound by row level security; vital.audit() is clean';
END
$verify3$;
