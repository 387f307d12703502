-- Page: knowledge search by title.
SELECT title, reference, published FROM knowledge WHERE title ILIKE '%validation%' ORDER BY published DESC LIMIT 20;
