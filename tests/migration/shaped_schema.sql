-- A differently-shaped VITAL database: the same core tables, plus columns and a table the
-- migration does not know. (shaped_after_seed.sql then drops the optional knowledge table.)
\ir ../../examples/vital/schema.sql
ALTER TABLE tools ADD COLUMN vendor text DEFAULT 'in-house';
ALTER TABLE agents ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
CREATE TABLE audit_log (id bigserial PRIMARY KEY, happened_at timestamptz DEFAULT now(), what text);
