-- Phase 3, isolation: the apps connect as NOSUPERUSER NOBYPASSRLS roles that are not the
-- tables' owners, may use only their tenant, and cannot TRUNCATE; then vital.audit() must
-- find nothing wrong. The side channels around the policies are closed too (docs/security.md):
-- vital is loaded in every session (its LOCK and EXPLAIN checks), the per-relation statistics
-- functions are for monitoring roles only, app sessions time out instead of holding locks, no
-- role creates temporary objects, and the app roles get USAGE only on the sequences their
-- serial columns need (identity columns need none).
\ir roles.sql
DO $phase3$
DECLARE
    r record;
    s regclass;
    is_serial boolean;
    preload text := vital.login_setting(0, 'session_preload_libraries');
BEGIN
    FOR r IN SELECT * FROM vital_migration_roles LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', r.role_name);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r.role_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', r.role_name);
        -- A serial column's sequence (dependency 'a') needs USAGE for inserts; an identity
        -- column's ('i') needs none, and an earlier migration granted USAGE on every sequence.
        FOR s, is_serial IN SELECT seq.oid::regclass, d.deptype = 'a'
                           FROM pg_class seq
                           JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = seq.oid
                                           AND d.deptype IN ('a', 'i')
                          WHERE seq.relkind = 'S' AND seq.relnamespace = 'public'::regnamespace LOOP
            IF is_serial THEN
                EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', s, r.role_name);
            ELSE
                EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', s, r.role_name);
            END IF;
        END LOOP;
        EXECUTE format('REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM %I', r.role_name);
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM %I', current_database(), r.role_name);
        EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r.role_name, '5s');
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r.role_name, '60s');
        RAISE NOTICE 'phase 3: role % for the % app (port %)', r.role_name, r.app, r.port;
    END LOOP;
    REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM PUBLIC;
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    IF NOT vital.names_vital_library(preload) THEN
        EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(),
                       concat_ws(', ', nullif(preload, ''), 'vital_tenancy'));
    END IF;
    PERFORM vital.restrict_statistics();
    -- The platform app may use the platform tenant only; the others get theirs in phase 4.
    PERFORM vital.allow_tenant(role_name::regrole, vital.platform_tenant())
       FROM vital_migration_roles WHERE tenant_slug = 'platform';
END
$phase3$;
