-- What the README's walk-through starts from: one application table and its platform rows.
CREATE TABLE tools (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);
INSERT INTO tools (name) VALUES ('PubMed search'), ('Calculator');
