-- vital_tenancy: the state tables that 0.1.0 did not have. A block of its own in the install
-- script, so that the upgrade from 0.1.0 (assembled from this script without the block that
-- creates 0.1.0's tables: install_release_scripts in scripts/lib.sh) creates them from the same
-- text as a fresh install. Privileges: finalize.sql.

-- The version of the state vital keeps in these tables and on registered tables: an upgrade
-- script that changes how that state is kept migrates it and raises this number (0.1.0 had no
-- table, state 1; 0.2.0 is state 2). Not dumped: CREATE EXTENSION writes the current one.
CREATE TABLE vital.state_version (
    version integer NOT NULL CHECK (version > 0)
);
CREATE UNIQUE INDEX state_version_one_row ON vital.state_version ((true));
INSERT INTO vital.state_version VALUES (2);

-- The key that signs tenant tokens on a Citus cluster (src/citus.rs): written on every node by
-- vital.distribute(), readable by superusers only. Not dumped: a restored database gets a new
-- key when it is distributed again.
CREATE TABLE vital.cluster_key (
    key bytea NOT NULL CHECK (pg_catalog.length(key) = 32)
);
CREATE UNIQUE INDEX cluster_key_one_row ON vital.cluster_key ((true));

-- What vital.distribute() did to each table on Citus, and what vital.undistribute() restores
-- (src/distribute.rs). Not dumped: a dump is restored as plain tables.
CREATE TABLE vital.distributions (
    relid    regclass PRIMARY KEY,
    kind     text NOT NULL CHECK (kind IN ('distributed', 'reference')),
    position integer NOT NULL,
    actions  text[] NOT NULL,
    restore  jsonb NOT NULL
);

-- On the workers of a Citus cluster: the compat columns of vital.compat_objects, by name, for
-- their triggers on the shards (src/distribute.rs writes them, src/compat.rs and compat.sql
-- read them). By name, because Citus drops and re-creates the workers' copies of the tables.
CREATE TABLE vital.shard_compat_columns (
    id           integer PRIMARY KEY,
    object       text NOT NULL,
    target       text NOT NULL,
    column_name  name NOT NULL,
    fk_column    name NOT NULL,
    lookup       text NOT NULL,
    label_column name NOT NULL,
    key_column   name NOT NULL
);
