-- Data for the read and write benchmarks: two identical tables of :rows notes spread evenly
-- over :tenants tenants. notes_vital is registered (no platform sharing, so both sides return
-- the same rows); notes_plain is the unregistered copy that hand-written SQL filters with
-- WHERE tenant_id = $1. Row id = k * :tenants + t belongs to tenant t (1-based), whose uuid is
-- b0000000-0000-0000-0000-<t, 12 digits>.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS notes_vital, notes_plain CASCADE;
DROP SEQUENCE IF EXISTS notes_vital_ids, notes_plain_ids;
SELECT vital.create_tenant('bench-' || t, 'Bench tenant ' || t,
                           ('b0000000-0000-0000-0000-' || lpad(t::text, 12, '0'))::uuid)
  FROM generate_series(1, :tenants) t
 WHERE NOT EXISTS (SELECT FROM vital.tenants WHERE slug = 'bench-' || t) \g /dev/null
CREATE TABLE notes_plain (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL,
                          created_at timestamptz NOT NULL);
INSERT INTO notes_plain
SELECT g, ('b0000000-0000-0000-0000-' || lpad((((g - 1) % :tenants) + 1)::text, 12, '0'))::uuid,
       'note ' || g || ' ' || repeat('x', 60), timestamptz '2026-01-01' + (g * 7 % 1000003) * interval '1 second'
  FROM generate_series(1, :rows) g;
CREATE TABLE notes_vital (LIKE notes_plain INCLUDING ALL);
INSERT INTO notes_vital SELECT * FROM notes_plain;
CREATE INDEX ON notes_plain (tenant_id, created_at);
CREATE INDEX ON notes_vital (tenant_id, created_at);
CREATE SEQUENCE notes_vital_ids START 100000000;
CREATE SEQUENCE notes_plain_ids START 100000000;
SELECT vital.register_table('notes_vital', shared_reads => false) \g /dev/null
VACUUM ANALYZE notes_plain;
VACUUM ANALYZE notes_vital;

-- bench_app: the application role with its tenant (tenant 7) set once per connection by the
-- DBA (ALTER ROLE ... SET is allowed for superusers only); bench_plain: same rights, no tenant.
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN
        CREATE ROLE bench_app LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_plain') THEN
        CREATE ROLE bench_plain LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END $$;
GRANT SELECT, INSERT, UPDATE ON notes_vital, notes_plain TO bench_app, bench_plain;
GRANT USAGE ON SEQUENCE notes_vital_ids, notes_plain_ids TO bench_app, bench_plain;
ALTER ROLE bench_app SET vital.tenant = 'b0000000-0000-0000-0000-000000000007';
