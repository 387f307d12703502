-- The roles the docs' examples use (cluster-wide, so created once and reset each time).
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['app', 'app_pharma', 'tenant_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS', r);
        END IF;
        EXECUTE pg_catalog.format('ALTER ROLE %I RESET ALL', r);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app, app_pharma;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app, app_pharma;
