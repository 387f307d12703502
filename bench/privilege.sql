-- Benchmark: what the privilege model's two per-row paths cost.
--
-- 6a. The foreign-key guard: :rows inserts into a registered child whose foreign key points at
--     a registered parent (vital: RLS check + PostgreSQL's FK check + vital's guard, which runs
--     as the parent's owner with search_path pinned) against an identical unregistered pair with
--     a plain foreign key and tenant_id written by hand.
-- 6b. Compat propagation: renaming a lookup row that :refs rows reference (vital: the compat
--     column follows by itself, written as the table's owner) against the hand-written way
--     (UPDATE the lookup, then UPDATE the referencing rows' label).
-- Fresh rows each round, alternating which side goes first; medians. Runs as a superuser with
-- a tenant set, the way a migration or a DBA's batch would.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE bench_results (variant text, round int, seconds float8);
SET bench.rounds = :rounds;
SET bench.rows = :rows;
SET bench.refs = :refs;

SELECT vital.create_tenant('bench-priv', 'Bench privilege', '22222222-2222-2222-2222-222222222222');
CREATE TABLE bp_parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE bp_child (id bigserial PRIMARY KEY, parent_id int REFERENCES bp_parent, v text);
CREATE TABLE pp_parent (tenant_id uuid NOT NULL, id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE pp_child (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, parent_id int REFERENCES pp_parent, v text);
CREATE INDEX ON pp_parent (tenant_id);
CREATE INDEX ON pp_child (tenant_id);
INSERT INTO bp_parent SELECT g, 'parent ' || g FROM generate_series(1, 1000) g;
INSERT INTO pp_parent SELECT '00000000-0000-0000-0000-000000000001', g, 'parent ' || g FROM generate_series(1, 1000) g;
SELECT vital.register_table('bp_parent');
SELECT vital.register_table('bp_child');
SELECT vital.set_tenant('22222222-2222-2222-2222-222222222222');

DO $bench$
DECLARE
    t0 timestamptz;
    rows_n constant bigint := current_setting('bench.rows')::bigint;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        TRUNCATE bp_child, pp_child;
        FOR side IN 0 .. 1 LOOP
            t0 := clock_timestamp();
            IF (side + r) % 2 = 0 THEN
                INSERT INTO bp_child (parent_id, v) SELECT 1 + g % 1000, 'x' FROM generate_series(1, rows_n) g;
                INSERT INTO bench_results VALUES ('guard_vital', r, extract(epoch FROM clock_timestamp() - t0));
            ELSE
                INSERT INTO pp_child (tenant_id, parent_id, v)
                SELECT '22222222-2222-2222-2222-222222222222', 1 + g % 1000, 'x' FROM generate_series(1, rows_n) g;
                INSERT INTO bench_results VALUES ('guard_plain', r, extract(epoch FROM clock_timestamp() - t0));
            END IF;
        END LOOP;
    END LOOP;
END
$bench$;

-- 6b: a lookup and :refs referencing rows, registered with a compat column, and a plain pair.
CREATE TABLE bc_cat (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE bc_item (id bigserial PRIMARY KEY, cat_id int REFERENCES bc_cat, v text);
INSERT INTO bc_cat VALUES (1, 'name 0'), (2, 'other');
SELECT vital.register_table('bc_cat');
SELECT vital.register_table('bc_item');
SELECT vital.create_compat_column('bc_item', 'category', 'cat_id', 'bc_cat', 'name');
CREATE TABLE pc_cat (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE pc_item (id bigserial PRIMARY KEY, cat_id int REFERENCES pc_cat, v text, category text);
CREATE INDEX ON pc_item (cat_id);
CREATE INDEX ON bc_item (cat_id);
INSERT INTO pc_cat VALUES (1, 'name 0'), (2, 'other');
INSERT INTO bc_item (cat_id, v) SELECT 1 + (g % 10 = 0)::int, 'x' FROM generate_series(1, current_setting('bench.refs')::int * 10 / 9) g;
INSERT INTO pc_item (cat_id, v, category) SELECT cat_id, v, category FROM bc_item;

DO $bench$
DECLARE
    t0 timestamptz;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        FOR side IN 0 .. 1 LOOP
            t0 := clock_timestamp();
            IF (side + r) % 2 = 0 THEN
                UPDATE bc_cat SET name = 'name ' || r WHERE id = 1;
                INSERT INTO bench_results VALUES ('propagate_vital', r, extract(epoch FROM clock_timestamp() - t0));
            ELSE
                UPDATE pc_cat SET name = 'name ' || r WHERE id = 1;
                UPDATE pc_item SET category = 'name ' || r WHERE cat_id = 1;
                INSERT INTO bench_results VALUES ('propagate_plain', r, extract(epoch FROM clock_timestamp() - t0));
            END IF;
        END LOOP;
    END LOOP;
    IF (SELECT count(*) FROM bc_item WHERE category IS DISTINCT FROM (SELECT name FROM bc_cat WHERE id = cat_id)) > 0 THEN
        RAISE EXCEPTION 'propagation benchmark: labels did not follow';
    END IF;
END
$bench$;

WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s FROM bench_results GROUP BY variant)
SELECT format('| 6a. insert %s child rows whose foreign key the guard checks (us per row, median of %s) vs a plain foreign key | %s | %s | %s |',
              :rows, :rounds, round((v.s * 1e6 / :rows)::numeric, 2), round((p.s * 1e6 / :rows)::numeric, 2),
              round((p.s / v.s)::numeric, 2))
  FROM m v, m p WHERE v.variant = 'guard_vital' AND p.variant = 'guard_plain';
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s FROM bench_results GROUP BY variant)
SELECT format('| 6b. rename a lookup row that %s rows reference: compat propagation vs UPDATE lookup + UPDATE rows (ms, median of %s) | %s | %s | %s |',
              :refs, :rounds, round((v.s * 1e3)::numeric, 2), round((p.s * 1e3)::numeric, 2),
              round((p.s / v.s)::numeric, 2))
  FROM m v, m p WHERE v.variant = 'propagate_vital' AND p.variant = 'propagate_plain';

SELECT vital.clear_tenant();
SELECT vital.drop_compat_column('bc_item', 'category');
SELECT vital.unregister_table('bc_item');
SELECT vital.unregister_table('bc_cat');
SELECT vital.unregister_table('bp_child');
SELECT vital.unregister_table('bp_parent');
DROP TABLE bp_child, bp_parent, pp_child, pp_parent, bc_item, bc_cat, pc_item, pc_cat;
SELECT vital.drop_tenant('22222222-2222-2222-2222-222222222222');
