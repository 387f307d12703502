-- Page: the latest 20 conversations.
SELECT id, title, started_at FROM chat_sessions ORDER BY started_at DESC LIMIT 20;
