-- Update under vital.
\set k random(0, 9999)
\set id :k * 100 + 7
UPDATE notes_vital SET body = 'edited ' || :k WHERE id = :id;
