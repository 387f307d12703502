-- vital_tenancy: privileges and the event triggers. Runs after every generated function.

-- Anyone may look; only superusers (and roles a DBA grants) may write.
GRANT USAGE ON SCHEMA vital TO PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA vital FROM PUBLIC;
GRANT SELECT ON vital.tenants, vital.registered_tables, vital.compat_objects TO PUBLIC;

-- Functions are executable by superusers only, except the tenant context and the lookups
-- an application needs. A DBA grants the rest explicitly to an administrative role.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA vital FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    vital.set_tenant(uuid, boolean),
    vital.clear_tenant(),
    vital.current_tenant(),
    vital.platform_tenant(),
    vital.tenant_id(text)
TO PUBLIC;

-- Refuses DDL that would weaken a registered table, and DROP EXTENSION while tables are registered.
CREATE EVENT TRIGGER vital_ddl_command_start
    ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'ALTER TABLE', 'DROP POLICY', 'ALTER POLICY',
                 'DROP TRIGGER', 'ALTER TRIGGER')
    EXECUTE FUNCTION vital.ddl_command_start_guard();

-- Registers new tables and partitions, keeps foreign-key guards in step, forgets dropped tables.
CREATE EVENT TRIGGER vital_ddl_command_end
    ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP VIEW')
    EXECUTE FUNCTION vital.ddl_command_end_handler();

-- Every change to the tenant registry reaches the per-backend caches of set_tenant() and
-- current_tenant(), whoever makes it.
CREATE TRIGGER tenant_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vital.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION vital.tenant_registry_changed();
CREATE TRIGGER tenant_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vital.tenant_allowances
    FOR EACH STATEMENT EXECUTE FUNCTION vital.tenant_registry_changed();
