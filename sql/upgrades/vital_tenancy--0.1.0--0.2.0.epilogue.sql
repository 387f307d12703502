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

-- The version of vital's stored state (see vital.state_version in the install script).
CREATE TABLE vital.state_version (
    version integer NOT NULL CHECK (version > 0)
);
CREATE UNIQUE INDEX state_version_one_row ON vital.state_version ((true));
INSERT INTO vital.state_version VALUES (2);
REVOKE ALL ON vital.state_version FROM PUBLIC;

-- The key that signs tenant tokens on a Citus cluster (see vital.cluster_key in the install script).
CREATE TABLE vital.cluster_key (
    key bytea NOT NULL CHECK (pg_catalog.length(key) = 32)
);
CREATE UNIQUE INDEX cluster_key_one_row ON vital.cluster_key ((true));
REVOKE ALL ON vital.cluster_key FROM PUBLIC;

-- What vital.distribute() did to each table on Citus, and what vital.undistribute() restores
-- (src/distribute.rs). Not dumped: a dump is restored as plain tables.
CREATE TABLE vital.distributions (
    relid    regclass PRIMARY KEY,
    kind     text NOT NULL CHECK (kind IN ('distributed', 'reference')),
    position integer NOT NULL,
    actions  text[] NOT NULL,
    restore  jsonb NOT NULL
);
REVOKE ALL ON vital.distributions FROM PUBLIC;

