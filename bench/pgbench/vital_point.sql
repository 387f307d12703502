-- Point read under vital, tenant 7 set once per connection.
\set k random(0, 9999)
\set id :k * 100 + 7
SELECT id, body, created_at FROM notes_vital WHERE id = :id;
