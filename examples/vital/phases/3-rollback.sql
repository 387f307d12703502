-- Phase 3 rollback: revoke what the app roles were given and drop them; put the database's
-- temporary-object privilege, preload setting and statistics functions back as they were.
\ir roles.sql
DO $rollback3$
DECLARE
    r record;
    preload text;
BEGIN
    FOR r IN SELECT * FROM vital_migration_roles LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.role_name);
        PERFORM vital.disallow_tenant(a.role, a.tenant) FROM vital.tenant_allowances a
          WHERE a.role = r.role_name::regrole;
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', r.role_name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', r.role_name);
        EXECUTE format('REVOKE USAGE ON SCHEMA public FROM %I', r.role_name);
        EXECUTE format('ALTER ROLE %I RESET ALL', r.role_name);
        EXECUTE format('DROP ROLE %I', r.role_name);
    END LOOP;
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
    PERFORM vital.restrict_statistics(restricted => false);
    -- The database's own preload list, without vital_tenancy.
    SELECT string_agg(l.library, ', ' ORDER BY l.n) INTO preload
      FROM pg_db_role_setting s
     CROSS JOIN LATERAL unnest(s.setconfig) c
     CROSS JOIN LATERAL unnest(string_to_array(substr(c, length('session_preload_libraries=') + 1), ',')) WITH ORDINALITY l(library, n)
     WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND left(c, length('session_preload_libraries=')) = 'session_preload_libraries='
       AND NOT vital.names_vital_library(l.library);
    IF preload IS NULL THEN
        EXECUTE format('ALTER DATABASE %I RESET session_preload_libraries', current_database());
    ELSE
        EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), btrim(preload));
    END IF;
    RAISE NOTICE 'phase 3 rolled back';
END
$rollback3$;
