-- The latest 20 notes by hand.
SELECT id, body, created_at FROM notes_plain WHERE tenant_id = 'b0000000-0000-0000-0000-000000000007'
 ORDER BY created_at DESC LIMIT 20;
