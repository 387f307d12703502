-- vital_tenancy: privileges and the event triggers. Runs after every generated function.

-- Anyone may look; only superusers (and roles a DBA grants) may write.
GRANT USAGE ON SCHEMA vital TO PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA vital FROM PUBLIC;
-- Not vital.tenants: one customer's application must not learn the names of the others.
GRANT SELECT ON vital.registered_tables, vital.compat_objects, vital.shard_compat_columns TO PUBLIC;

-- Functions are executable by superusers only, except the tenant context and the lookups
-- an application needs. A DBA grants the rest explicitly to an administrative role.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA vital FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    vital.set_tenant(uuid, boolean),
    vital.clear_tenant(),
    vital.current_tenant(),
    vital.tenant_for_write(),
    vital.platform_tenant(),
    vital.tenant_id(text)
TO PUBLIC;
-- Per-tenant monitoring is for DBAs: superusers, and members of pg_read_all_stats (the role
-- PostgreSQL has for reading every session's statistics). Resetting stays with superusers.
GRANT EXECUTE ON FUNCTION vital.tenant_stats(), vital.tenant_stats_evictions(), vital.tenant_sizes()
TO pg_read_all_stats;
-- Called by the compat-column trigger, which runs with the writer's rights, on a Citus shard:
-- it reads only what vital.compat_objects and Citus's catalogs show everyone.
GRANT EXECUTE ON FUNCTION vital.compat_config_on_shard(integer, regclass) TO PUBLIC;

-- The event triggers fire for every command: what they keep is the state of registered tables,
-- whichever command changed it (event_trigger.rs).
CREATE EVENT TRIGGER vital_ddl_command_start
    ON ddl_command_start
    EXECUTE FUNCTION vital.ddl_command_start_guard();

CREATE EVENT TRIGGER vital_sql_drop
    ON sql_drop
    EXECUTE FUNCTION vital.sql_drop_handler();

CREATE EVENT TRIGGER vital_ddl_command_end
    ON ddl_command_end
    EXECUTE FUNCTION vital.ddl_command_end_handler();

-- Every change to the tenant registry reaches the per-backend caches of set_tenant() and
-- current_tenant(), whoever makes it.
CREATE TRIGGER tenant_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vital.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION vital.tenant_registry_changed();
CREATE TRIGGER tenant_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vital.tenant_allowances
    FOR EACH STATEMENT EXECUTE FUNCTION vital.tenant_registry_changed();

-- Every change to the table registry reaches the per-backend cache the event triggers use
-- (registry.rs). Per row, so that a statement that changes nothing (the event triggers' own
-- bookkeeping, after most DDL) invalidates nothing: the invalidation also drops every cached
-- plan that reads the registry.
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON vital.registrations
    FOR EACH ROW EXECUTE FUNCTION vital.registry_changed();
CREATE TRIGGER registry_truncated AFTER TRUNCATE ON vital.registrations
    FOR EACH STATEMENT EXECUTE FUNCTION vital.registry_changed();
CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON vital.registered_schemas
    FOR EACH ROW EXECUTE FUNCTION vital.registry_changed();
CREATE TRIGGER registry_truncated AFTER TRUNCATE ON vital.registered_schemas
    FOR EACH STATEMENT EXECUTE FUNCTION vital.registry_changed();
