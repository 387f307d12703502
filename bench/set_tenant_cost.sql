-- Benchmark: the server-side cost of vital.set_tenant(), per call, against set_config() of a
-- plain custom setting (what an application would do without vital) in the same loop; and for
-- a shared role (vital.shared_role = on), whose set_tenant(t, true) first checks that the
-- pooled session is clean (pooled_session.rs).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- Not a temporary table: a shared role's set_tenant refuses a session that has temporary objects.
DROP TABLE IF EXISTS bench_results;
CREATE UNLOGGED TABLE bench_results (variant text, round int, us float8);
SET bench.calls = :calls;
-- is_local needs a transaction block.
BEGIN;
DO $bench$
DECLARE
    t0 timestamptz;
    calls constant int := current_setting('bench.calls')::int;
    t uuid := 'b0000000-0000-0000-0000-000000000007';
BEGIN
    FOR r IN 1 .. 5 LOOP
        t0 := clock_timestamp();
        FOR i IN 1 .. calls LOOP
            PERFORM vital.set_tenant(t, true);
        END LOOP;
        INSERT INTO bench_results VALUES ('vital', r, extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls);
        t0 := clock_timestamp();
        FOR i IN 1 .. calls LOOP
            PERFORM set_config('bench.tenant', t::text, true);
        END LOOP;
        INSERT INTO bench_results VALUES ('plain', r, extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls);
        PERFORM set_config('vital.shared_role', 'on', true);
        t0 := clock_timestamp();
        FOR i IN 1 .. calls LOOP
            PERFORM vital.set_tenant(t, true);
        END LOOP;
        INSERT INTO bench_results VALUES ('shared', r, extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls);
        PERFORM set_config('vital.shared_role', 'off', true);
    END LOOP;
END
$bench$;
COMMIT;
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us FROM bench_results GROUP BY variant)
SELECT format('| 4. set_tenant server-side cost (us per call, median of 5 x %s calls) vs set_config() | %s | %s | %s |',
              :calls, round(v.us::numeric, 2), round(p.us::numeric, 2), round((p.us / v.us)::numeric, 2))
  FROM m v, m p WHERE v.variant = 'vital' AND p.variant = 'plain';
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us FROM bench_results GROUP BY variant)
SELECT format('| 4. set_tenant(t, true) of a shared role, with its clean-session check (us per call) vs set_config() | %s | %s | %s |',
              round(v.us::numeric, 2), round(p.us::numeric, 2), round((p.us / v.us)::numeric, 2))
  FROM m v, m p WHERE v.variant = 'shared' AND p.variant = 'plain';
SELECT format('set_tenant_us=%s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 2))
  FROM bench_results WHERE variant = 'vital';
DROP TABLE bench_results;
