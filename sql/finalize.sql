-- vital_tenancy: privileges and the event trigger. Runs after every generated function.

-- Anyone may look; only superusers (and roles a DBA grants) may write.
GRANT USAGE ON SCHEMA vital TO PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA vital FROM PUBLIC;
GRANT SELECT ON vital.tenants, vital.registered_tables TO PUBLIC;

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

CREATE EVENT TRIGGER vital_ddl_command_start
    ON ddl_command_start
    EXECUTE FUNCTION vital.ddl_command_start_guard();
