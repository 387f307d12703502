-- Phase 3, isolation: the apps connect as NOSUPERUSER NOBYPASSRLS roles that are not the
-- tables' owners, may use only their tenant, and cannot TRUNCATE; then vital.audit() must
-- find nothing wrong.
\ir roles.sql
DO $phase3$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM vital_migration_roles LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', r.role_name);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r.role_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', r.role_name);
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', r.role_name);
        EXECUTE format('REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM %I', r.role_name);
        RAISE NOTICE 'phase 3: role % for the % app (port %)', r.role_name, r.app, r.port;
    END LOOP;
    REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM PUBLIC;
    -- The platform app may use the platform tenant only; the others get theirs in phase 4.
    PERFORM vital.allow_tenant(role_name::regrole, vital.platform_tenant())
       FROM vital_migration_roles WHERE tenant_slug = 'platform';
END
$phase3$;
