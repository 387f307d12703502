-- vital_tenancy 0.1.0 -> 0.2.0, part 1 of 3. `install_release_scripts` (scripts/lib.sh) makes
-- the upgrade script from this part, the 0.2.0 install script without its tables (part 2: every
-- function CREATE OR REPLACEd, the triggers, event triggers and privileges made again), and
-- the epilogue (part 3: registered tables brought to 0.2.0). Until 0.2.0 is released part 2
-- follows the install script; at the release the assembled file is frozen in sql/releases/.
--
-- Part 1 takes away what 0.2.0 defines differently, so that its definitions can follow.

-- The event triggers first: they must not fire on this script's own DDL half way.
DROP EVENT TRIGGER IF EXISTS vital_ddl_command_start;
DROP EVENT TRIGGER IF EXISTS vital_ddl_command_end;
DROP TRIGGER IF EXISTS tenant_registry_changed ON vital.tenants;
DROP TRIGGER IF EXISTS tenant_registry_changed ON vital.tenant_allowances;

-- 0.1.0's foreign-key guards (plain AFTER triggers on the child only); part 3 makes 0.2.0's
-- (deferrable constraint triggers on both sides of each foreign key).
DO $guards$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT t.tgname, t.tgrelid::regclass AS tbl
               FROM pg_catalog.pg_trigger t
              WHERE t.tgfoid OPERATOR(pg_catalog.=) 'vital.fk_guard()'::pg_catalog.regprocedure
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', g.tgname, g.tbl);
    END LOOP;
END
$guards$;

-- Functions whose arguments or result changed (CREATE OR REPLACE cannot change them).
DROP FUNCTION vital.unregister_table(regclass, boolean);
DROP FUNCTION vital.unregister_schema(name);
DROP FUNCTION vital.unregister_schema_text(text);
DROP FUNCTION vital.audit();
