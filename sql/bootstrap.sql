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

-- Tables made tenant-aware by vital.register_table(). Filled by the registration module.
CREATE TABLE vital.registered_tables (
    relid         regclass    PRIMARY KEY,
    shared_reads  boolean     NOT NULL DEFAULT true,
    via           text        NOT NULL DEFAULT 'table' CHECK (via IN ('table', 'schema')),
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- pg_dump keeps what users created; the platform row comes back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('vital.tenants',
    $$WHERE id <> '00000000-0000-0000-0000-000000000001'$$);
SELECT pg_catalog.pg_extension_config_dump('vital.tenant_allowances', '');
SELECT pg_catalog.pg_extension_config_dump('vital.registered_tables', '');
