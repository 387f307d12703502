-- vital_tenancy: the extension's own tables. Created before any generated function.
-- The schema `vital` is created by CREATE EXTENSION from the control file.

-- The tenant registry.
CREATE TABLE vital.tenants (
    id          uuid        PRIMARY KEY,
    slug        text        NOT NULL UNIQUE
                            CHECK (slug ~ '^[a-z0-9-]{1,63}$'),
    name        text        NOT NULL CHECK (btrim(name) <> ''),
    status      text        NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    settings    jsonb       NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE vital.tenants IS 'Tenants known to vital_tenancy. Change through vital.create_tenant() and friends.';

-- The platform tenant owns pre-existing rows and shares them read-only with every tenant.
INSERT INTO vital.tenants (id, slug, name)
VALUES ('00000000-0000-0000-0000-000000000001', 'platform', 'Platform');

-- Which tenants a role may set. A role with no rows here may set any active tenant.
-- `regrole` so that pg_dump writes role names, not OIDs.
CREATE TABLE vital.tenant_allowances (
    role        regrole     NOT NULL,
    tenant      uuid        NOT NULL REFERENCES vital.tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (role, tenant)
);

-- Tables made tenant-aware by vital.register_table(), and what is needed to undo it.
-- vital.registered_tables (below) shows the public part.
CREATE TABLE vital.registrations (
    relid         regclass    PRIMARY KEY,
    shared_reads  boolean     NOT NULL DEFAULT true,
    via           text        NOT NULL DEFAULT 'table' CHECK (via IN ('table', 'schema')),
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- set for a partition registered through its partitioned parent
    parent        regclass,
    scope_unique  boolean     NOT NULL DEFAULT true,
    -- true when vital added tenant_id; false when it reused the table's own column
    column_added  boolean     NOT NULL,
    -- the reused column's default and NOT NULL before registration
    column_default_before text,
    column_not_null_before boolean,
    -- the index vital created, if it had to (same schema as the table)
    index_created name,
    rls_before    boolean     NOT NULL,
    force_rls_before boolean  NOT NULL,
    -- unique constraints and indexes as they were before scope_unique: [{kind, name, definition}]
    uniques_before jsonb      NOT NULL DEFAULT '[]'::jsonb,
    -- vital's policies as PostgreSQL deparsed them right after creating them (for the audit)
    policy_fingerprint text   NOT NULL DEFAULT ''
);

CREATE VIEW vital.registered_tables AS
    SELECT relid, shared_reads, via, registered_at FROM vital.registrations;

-- Schemas whose tables are registered now and when they are created later.
CREATE TABLE vital.registered_schemas (
    nsp           regnamespace PRIMARY KEY,
    exclude       text[]      NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- Compatibility objects made by vital.create_compat_view() / vital.create_compat_column().
CREATE TABLE vital.compat_objects (
    id            integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('view', 'column')),
    -- what applications use: 'public.business_functions' or 'public.tools.category'
    object        text        NOT NULL,
    -- view: the table it shows; column: the table that has the column
    target        regclass    NOT NULL,
    view          regclass,
    column_name   name,
    fk_column     name,
    lookup        regclass,
    label_column  name,
    key_column    name,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'view') = (view IS NOT NULL)),
    CHECK ((kind = 'column') = (column_name IS NOT NULL AND fk_column IS NOT NULL AND lookup IS NOT NULL
                                AND label_column IS NOT NULL AND key_column IS NOT NULL))
);
CREATE UNIQUE INDEX compat_objects_view ON vital.compat_objects (view) WHERE kind = 'view';
CREATE UNIQUE INDEX compat_objects_column ON vital.compat_objects (target, column_name) WHERE kind = 'column';

-- Which source row each clone came from, per target tenant: makes clone_for_tenant idempotent
-- and lets later clones point at earlier ones. Keys are the primary keys as jsonb objects.
CREATE TABLE vital.clone_map (
    relid       regclass    NOT NULL,
    -- No foreign keys to vital.tenants: checking them costs a third of a clone's time;
    -- vital.drop_tenant deletes a tenant's entries itself.
    target      uuid        NOT NULL,
    source      uuid        NOT NULL,
    source_key  jsonb       NOT NULL,
    clone_key   jsonb       NOT NULL,
    cloned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relid, target, source_key)
);

-- pg_dump keeps what users created; the platform row comes back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('vital.tenants',
    $$WHERE id <> '00000000-0000-0000-0000-000000000001'$$);
SELECT pg_catalog.pg_extension_config_dump('vital.tenant_allowances', '');
SELECT pg_catalog.pg_extension_config_dump('vital.registrations', '');
SELECT pg_catalog.pg_extension_config_dump('vital.registered_schemas', '');
SELECT pg_catalog.pg_extension_config_dump('vital.compat_objects', '');
SELECT pg_catalog.pg_extension_config_dump('vital.clone_map', '');
