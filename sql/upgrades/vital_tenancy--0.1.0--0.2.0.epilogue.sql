-- vital_tenancy 0.1.0 -> 0.2.0, part 3 of 3 (see part 1): the registered tables.

-- Every registered table gets 0.2.0's policies (writes go through vital.tenant_for_write()),
-- its tenant index if it lost it, and 0.2.0's foreign-key guards, by registering it again as
-- it was registered (partitions come with their parent; nothing is scoped or unscoped anew).
DO $reregister$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT relid, shared_reads, scope_unique
               FROM vital.registrations
              WHERE parent IS NULL
              ORDER BY relid::pg_catalog.oid
    LOOP
        PERFORM vital.register_table(r.relid, r.shared_reads, r.scope_unique);
    END LOOP;
END
$reregister$;
