-- The pooled pattern pipelined (extended protocol, run with -M extended): one round trip.
\set t random(1, 100)
\set k random(0, 9999)
\set id :k * 100 + :t
\startpipeline
BEGIN;
SELECT vital.set_tenant(('b0000000-0000-0000-0000-' || lpad(:t::text, 12, '0'))::uuid, true);
SELECT id, body, created_at FROM notes_vital WHERE id = :id;
COMMIT;
\endpipeline
