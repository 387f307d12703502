-- Benchmark: the server-side cost of the policy, without the client. Each query is parsed,
-- planned and executed :calls times in a loop (EXECUTE, so nothing is cached) as the
-- application role with tenant 7 set, against the same query with WHERE tenant_id = <literal>
-- on the unregistered copy; sides alternate, 5 rounds, medians. Run it as bench_app.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE bench_results (query text, variant text, round int, us float8);
SET bench.calls = :calls;
DO $bench$
DECLARE
    t0 timestamptz;
    r record;
    calls constant int := current_setting('bench.calls')::int;
    q record;
BEGIN
    FOR round IN 1 .. 5 LOOP
        FOR q IN SELECT * FROM (VALUES
            ('point read', 'vital',
             'SELECT id, body FROM notes_vital WHERE id = 700 * 100 + 7'),
            ('point read', 'plain',
             'SELECT id, body FROM notes_plain WHERE id = 700 * 100 + 7 AND tenant_id = ''b0000000-0000-0000-0000-000000000007'''),
            ('latest-20', 'vital',
             'SELECT count(*) FROM (SELECT id, body, created_at FROM notes_vital ORDER BY created_at DESC LIMIT 20) x'),
            ('latest-20', 'plain',
             'SELECT count(*) FROM (SELECT id, body, created_at FROM notes_plain WHERE tenant_id = ''b0000000-0000-0000-0000-000000000007'' ORDER BY created_at DESC LIMIT 20) x')
        ) v(query, variant, sql) ORDER BY query, (variant = 'vital') = (round % 2 = 0) LOOP
            t0 := clock_timestamp();
            FOR i IN 1 .. calls LOOP
                EXECUTE q.sql INTO r;
            END LOOP;
            INSERT INTO bench_results VALUES (q.query, q.variant, round,
                extract(epoch FROM clock_timestamp() - t0) * 1e6 / calls);
        END LOOP;
    END LOOP;
END
$bench$;
WITH m AS (SELECT query, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us
             FROM bench_results GROUP BY query, variant)
SELECT format('| 1c. %s, server side only (us per query: parse, plan, execute; median of 5 x %s) | %s | %s | %s |',
              v.query, :calls, round(v.us::numeric, 2), round(p.us::numeric, 2), round((p.us / v.us)::numeric, 2))
  FROM m v JOIN m p USING (query) WHERE v.variant = 'vital' AND p.variant = 'plain' ORDER BY v.query DESC;
