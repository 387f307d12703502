-- Update by hand.
\set k random(0, 9999)
\set id :k * 100 + 7
UPDATE notes_plain SET body = 'edited ' || :k WHERE id = :id AND tenant_id = 'b0000000-0000-0000-0000-000000000007';
