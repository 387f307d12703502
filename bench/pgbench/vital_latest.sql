-- The latest 20 notes under vital, tenant 7 set once per connection.
SELECT id, body, created_at FROM notes_vital ORDER BY created_at DESC LIMIT 20;
