-- Benchmark 7: what vital's event triggers cost per DDL command, with :tables registered tables.
--
-- A schema migration's statements (ADD COLUMN, CREATE INDEX, SET DEFAULT, COMMENT, DROP INDEX,
-- DROP COLUMN, CREATE TABLE, DROP TABLE), :iterations of each per round, run three ways in the
-- same run on twin schemas:
--   plain       vital's event triggers disabled, unregistered tables: PostgreSQL alone;
--   bystander   event triggers on, the same unregistered tables (what every other schema pays);
--   registered  event triggers on, registered tables (each with a guarded foreign key), so
--               every command is checked against the invariants and the guards are synced.
-- Alternating order per round; medians; microseconds per statement.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE bench_results (variant text, round int, seconds float8);
SET bench.rounds = :rounds;
SET bench.iterations = :iterations;
SET bench.tables = :tables;

CREATE SCHEMA bd_reg;
CREATE SCHEMA bd_plain;
CREATE SCHEMA bd_new;
CREATE TABLE bd_reg.parent (id int PRIMARY KEY);
CREATE TABLE bd_plain.parent (id int PRIMARY KEY);
DO $setup$
BEGIN
    FOR i IN 1 .. current_setting('bench.tables')::int LOOP
        EXECUTE format('CREATE TABLE bd_reg.%I (id int PRIMARY KEY, parent_id int REFERENCES bd_reg.parent, name text)', 't' || i);
        EXECUTE format('CREATE TABLE bd_plain.%I (id int PRIMARY KEY, parent_id int REFERENCES bd_plain.parent, name text)', 't' || i);
    END LOOP;
END
$setup$;
SELECT vital.register_schema('bd_reg');

-- One round of the migration on schema `sch`; returns its duration in seconds.
CREATE FUNCTION pg_temp.migrate(sch text, n int) RETURNS float8 LANGUAGE plpgsql AS $migrate$
DECLARE
    t0 timestamptz := clock_timestamp();
    t text;
BEGIN
    FOR i IN 1 .. n LOOP
        t := 't' || i;
        EXECUTE format('ALTER TABLE %I.%I ADD COLUMN extra int', sch, t);
        EXECUTE format('CREATE INDEX extra_idx ON %I.%I (extra)', sch, t);
        EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN extra SET DEFAULT 0', sch, t);
        EXECUTE format('COMMENT ON COLUMN %I.%I.extra IS %L', sch, t, 'added by the migration');
        EXECUTE format('DROP INDEX %I.extra_idx', sch);
        EXECUTE format('ALTER TABLE %I.%I DROP COLUMN extra', sch, t);
        EXECUTE format('CREATE TABLE bd_new.%I (id int)', sch || '_' || t);
        EXECUTE format('DROP TABLE bd_new.%I', sch || '_' || t);
    END LOOP;
    RETURN extract(epoch FROM clock_timestamp() - t0);
END
$migrate$;

DO $bench$
DECLARE
    n constant int := current_setting('bench.iterations')::int;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        FOR side IN 0 .. 2 LOOP
            CASE (side + r) % 3
            WHEN 0 THEN
                ALTER EVENT TRIGGER vital_ddl_command_start DISABLE;
                ALTER EVENT TRIGGER vital_sql_drop DISABLE;
                ALTER EVENT TRIGGER vital_ddl_command_end DISABLE;
                INSERT INTO bench_results VALUES ('plain', r, pg_temp.migrate('bd_plain', n));
                ALTER EVENT TRIGGER vital_ddl_command_start ENABLE;
                ALTER EVENT TRIGGER vital_sql_drop ENABLE;
                ALTER EVENT TRIGGER vital_ddl_command_end ENABLE;
            WHEN 1 THEN
                INSERT INTO bench_results VALUES ('bystander', r, pg_temp.migrate('bd_plain', n));
            ELSE
                INSERT INTO bench_results VALUES ('registered', r, pg_temp.migrate('bd_reg', n));
            END CASE;
        END LOOP;
    END LOOP;
END
$bench$;

WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) * 1e6 / (8 * :iterations) AS us
             FROM bench_results GROUP BY variant)
SELECT format('| 7. DDL statement on an unregistered table, %s tables registered elsewhere: event triggers on vs off (us per statement, median of %s) | %s | %s | %s |',
              :tables, :rounds, round(b.us::numeric, 1), round(p.us::numeric, 1), round((p.us / b.us)::numeric, 2))
  FROM m b, m p WHERE b.variant = 'bystander' AND p.variant = 'plain'
UNION ALL
SELECT format('| 7. DDL statement on a registered table (of %s, each with a guarded foreign key), invariants checked, vs the same on an unregistered twin without vital (us per statement, median of %s) | %s | %s | %s |',
              :tables, :rounds, round(g.us::numeric, 1), round(p.us::numeric, 1), round((p.us / g.us)::numeric, 2))
  FROM m g, m p WHERE g.variant = 'registered' AND p.variant = 'plain';

SELECT vital.unregister_schema('bd_reg');
DROP SCHEMA bd_reg, bd_plain, bd_new CASCADE;
