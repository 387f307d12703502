-- Phase 3 rollback: revoke what the app roles were given and drop them.
\ir roles.sql
DO $rollback3$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM vital_migration_roles LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.role_name);
        PERFORM vital.disallow_tenant(a.role, a.tenant) FROM vital.tenant_allowances a
          WHERE a.role = r.role_name::regrole;
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', r.role_name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', r.role_name);
        EXECUTE format('REVOKE USAGE ON SCHEMA public FROM %I', r.role_name);
        EXECUTE format('DROP ROLE %I', r.role_name);
    END LOOP;
    RAISE NOTICE 'phase 3 rolled back';
END
$rollback3$;
