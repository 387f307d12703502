-- Hand-written read behind a pooler: the tenant travels as a parameter of the query.
\set t random(1, 100)
\set k random(0, 9999)
\set id :k * 100 + :t
SELECT id, body, created_at FROM notes_plain
 WHERE id = :id AND tenant_id = ('b0000000-0000-0000-0000-' || lpad(:t::text, 12, '0'))::uuid;
