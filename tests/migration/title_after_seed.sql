-- The issue's database: personas has a required title and no description (run after seed.sql).
ALTER TABLE personas DROP COLUMN description;
ALTER TABLE personas ADD COLUMN title text;
UPDATE personas SET title = name;
ALTER TABLE personas ALTER COLUMN title SET NOT NULL;
