-- Page: one conversation's latest 50 messages.
\set s random(1, :sessions_per_tenant)
SELECT role, content, created_at FROM chat_messages
 WHERE session_id = md5('digital-health-startup session ' || :s)::uuid
 ORDER BY created_at DESC LIMIT 50;
