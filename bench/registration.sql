-- Benchmark: vital.register_table on a :rows-row table vs the seed's migration on an identical
-- copy (ADD COLUMN; UPDATE every row; SET NOT NULL; CREATE INDEX). Fresh tables each round,
-- alternating which goes first; medians.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE bench_results (variant text, round int, seconds float8);
SET bench.rounds = :rounds;
SET bench.rows = :rows;
DO $bench$
DECLARE
    t0 timestamptz;
    rows_n constant bigint := current_setting('bench.rows')::bigint;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        DROP TABLE IF EXISTS reg_vital, reg_seed;
        CREATE TABLE reg_vital (id bigint PRIMARY KEY, body text, created_at timestamptz);
        INSERT INTO reg_vital SELECT g, 'row ' || g, now() FROM generate_series(1, rows_n) g;
        CREATE TABLE reg_seed (LIKE reg_vital INCLUDING ALL);
        INSERT INTO reg_seed SELECT * FROM reg_vital;
        FOR side IN 0 .. 1 LOOP
            t0 := clock_timestamp();
            IF (side + r) % 2 = 0 THEN
                PERFORM vital.register_table('reg_vital');
                INSERT INTO bench_results VALUES ('vital', r, extract(epoch FROM clock_timestamp() - t0));
            ELSE
                ALTER TABLE reg_seed ADD COLUMN tenant_id uuid;
                UPDATE reg_seed SET tenant_id = '00000000-0000-0000-0000-000000000001';
                ALTER TABLE reg_seed ALTER COLUMN tenant_id SET NOT NULL;
                CREATE INDEX ON reg_seed (tenant_id);
                INSERT INTO bench_results VALUES ('seed', r, extract(epoch FROM clock_timestamp() - t0));
            END IF;
        END LOOP;
        PERFORM vital.unregister_table('reg_vital');
    END LOOP;
    DROP TABLE reg_vital, reg_seed;
END
$bench$;
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s FROM bench_results GROUP BY variant)
SELECT format('| 3. registering a %s-row table (s, median of %s): vital.register_table vs ADD COLUMN + UPDATE + SET NOT NULL + CREATE INDEX | %s | %s | %s (vital is %s times faster) |',
              :rows, :rounds, round(v.s::numeric, 3), round(p.s::numeric, 3), round((p.s / v.s)::numeric, 2),
              round((p.s / v.s)::numeric, 1))
  FROM m v, m p WHERE v.variant = 'vital' AND p.variant = 'seed';
