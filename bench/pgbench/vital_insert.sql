-- Insert under vital: tenant_id comes from the session's tenant, checked by the policy.
INSERT INTO notes_vital (id, body, created_at) VALUES (nextval('notes_vital_ids'), 'new note', now());
