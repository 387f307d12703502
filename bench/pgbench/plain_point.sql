-- Point read by hand: the tenant in the WHERE clause.
\set k random(0, 9999)
\set id :k * 100 + 7
SELECT id, body, created_at FROM notes_plain WHERE id = :id AND tenant_id = 'b0000000-0000-0000-0000-000000000007';
