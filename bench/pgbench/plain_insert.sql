-- Insert by hand: the application supplies tenant_id.
INSERT INTO notes_plain (id, tenant_id, body, created_at)
VALUES (nextval('notes_plain_ids'), 'b0000000-0000-0000-0000-000000000007', 'new note', now());
