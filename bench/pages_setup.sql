-- The VITAL database after the migration (examples/vital, phases 1-4), grown so that its large
-- tables hold :messages chat messages (in :sessions sessions) and :knowledge knowledge rows,
-- spread over the Digital Health Startup, Pharmaceuticals and 20 more tenants. Written as a
-- superuser with explicit tenant ids. Session n of a tenant has id md5(slug || ' session ' || n).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT vital.create_tenant('page-tenant-' || t, 'Page tenant ' || t) FROM generate_series(1, 20) t \g /dev/null
CREATE TEMP TABLE page_tenants AS
    SELECT row_number() OVER (ORDER BY slug) - 1 AS n, id, slug FROM vital.tenants WHERE slug <> 'platform';
SET bench.sessions = :sessions;
SET bench.messages = :messages;
SET bench.knowledge = :knowledge;
INSERT INTO chat_sessions (id, agent_id, persona_id, title, started_at, tenant_id)
SELECT md5(t.slug || ' session ' || s)::uuid, NULL, NULL, 'Conversation ' || s,
       timestamptz '2026-01-01' + s * interval '37 minutes', t.id
  FROM page_tenants t, generate_series(1, current_setting('bench.sessions')::int / 22) s;
INSERT INTO chat_messages (session_id, role, content, created_at, tenant_id)
SELECT md5(t.slug || ' session ' || (m % (current_setting('bench.sessions')::int / 22) + 1))::uuid,
       CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END,
       'message ' || m || ' ' || repeat('lorem ipsum ', 8),
       timestamptz '2026-01-01' + m * interval '1 second', t.id
  FROM page_tenants t, generate_series(1, current_setting('bench.messages')::int / 22) m;
INSERT INTO knowledge (title, source, reference, summary, published, tenant_id)
SELECT 'Internal guidance ' || k || CASE WHEN k % 10 = 0 THEN ' on validation' ELSE '' END, 'internal',
       'DOC-' || k, 'summary of document ' || k, date '2020-01-01' + (k % 2000), t.id
  FROM page_tenants t, generate_series(1, current_setting('bench.knowledge')::int / 22) k;
VACUUM ANALYZE chat_sessions;
VACUUM ANALYZE chat_messages;
VACUUM ANALYZE knowledge;
-- The startup's app connects with its tenant set once per connection.
ALTER ROLE vital_app_dhs SET vital.tenant = '11111111-1111-1111-1111-111111111111';
SELECT format('dhs_sessions=%s', count(*)) FROM chat_sessions WHERE tenant_id = '11111111-1111-1111-1111-111111111111';
