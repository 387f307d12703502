-- Benchmark: vital.clone_for_tenant vs the hand-written INSERT ... SELECT with remapping.
-- Three linked tables (tools with uuid keys; agents with identity keys and a parent agent;
-- the agent_tools join table), :templates platform rows in each. Each round clones all of
-- them into a fresh tenant both ways, in alternating order; medians are reported.
-- psql variables: templates, rounds.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_clone CASCADE;
CREATE SCHEMA bench_clone;
CREATE TABLE bench_clone.tools (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL,
                                category text NOT NULL);
CREATE TABLE bench_clone.agents (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                                 business_function text NOT NULL,
                                 parent_id bigint REFERENCES bench_clone.agents (id));
CREATE TABLE bench_clone.agent_tools (agent_id bigint NOT NULL REFERENCES bench_clone.agents (id),
                                      tool_id uuid NOT NULL REFERENCES bench_clone.tools (id),
                                      PRIMARY KEY (agent_id, tool_id));
INSERT INTO bench_clone.tools (name, category)
    SELECT 'tool ' || g, (ARRAY['Regulatory', 'Research', 'General'])[g % 3 + 1] FROM generate_series(1, :templates) g;
INSERT INTO bench_clone.agents (name, business_function, parent_id)
    SELECT 'agent ' || g, 'Drug Development', NULL FROM generate_series(1, :templates) g;
UPDATE bench_clone.agents SET parent_id = id - 1 WHERE id % 2 = 0;
INSERT INTO bench_clone.agent_tools
    SELECT a.id, t.id FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM bench_clone.agents) a
    JOIN (SELECT id, row_number() OVER (ORDER BY name) n FROM bench_clone.tools) t USING (n);
SELECT vital.register_table(t) FROM unnest('{bench_clone.tools,bench_clone.agents,bench_clone.agent_tools}'::regclass[]) t \g /dev/null
ANALYZE bench_clone.tools, bench_clone.agents, bench_clone.agent_tools;

CREATE TEMP TABLE bench_results (variant text, round int, seconds float8, rows bigint);
SET bench.rounds = :rounds;

DO $bench$
DECLARE
    rounds constant int := current_setting('bench.rounds')::int;
    t0 timestamptz;
    n bigint;
    v uuid;
    h uuid;
    platform constant uuid := vital.platform_tenant();
BEGIN
    FOR r IN 1 .. rounds LOOP
        v := vital.create_tenant('bench-clone-v' || r || '-' || txid_current(), 'vital round ' || r);
        h := vital.create_tenant('bench-clone-h' || r || '-' || txid_current(), 'hand round ' || r);
        FOR side IN 0 .. 1 LOOP
            IF (side + r) % 2 = 0 THEN
                t0 := clock_timestamp();
                n := vital.clone_for_tenant(v, 'bench_clone.tools')
                   + vital.clone_for_tenant(v, 'bench_clone.agents')
                   + vital.clone_for_tenant(v, 'bench_clone.agent_tools');
                INSERT INTO bench_results VALUES ('vital.clone_for_tenant', r,
                    extract(epoch FROM clock_timestamp() - t0), n);
            ELSE
                t0 := clock_timestamp();
                -- The hand-written way: a key map per table, then INSERT ... SELECT through it.
                CREATE TEMP TABLE map_tools ON COMMIT DROP AS
                    SELECT id AS old_id, gen_random_uuid() AS new_id FROM bench_clone.tools WHERE tenant_id = platform;
                CREATE INDEX ON map_tools (old_id);
                INSERT INTO bench_clone.tools (id, name, category, tenant_id)
                    SELECT m.new_id, t.name, t.category, h FROM bench_clone.tools t JOIN map_tools m ON m.old_id = t.id;
                CREATE TEMP TABLE map_agents ON COMMIT DROP AS
                    SELECT id AS old_id, nextval(pg_get_serial_sequence('bench_clone.agents', 'id')) AS new_id
                      FROM bench_clone.agents WHERE tenant_id = platform;
                CREATE INDEX ON map_agents (old_id);
                INSERT INTO bench_clone.agents (id, name, business_function, parent_id, tenant_id) OVERRIDING SYSTEM VALUE
                    SELECT m.new_id, a.name, a.business_function, coalesce(p.new_id, a.parent_id), h
                      FROM bench_clone.agents a JOIN map_agents m ON m.old_id = a.id
                      LEFT JOIN map_agents p ON p.old_id = a.parent_id;
                INSERT INTO bench_clone.agent_tools (agent_id, tool_id, tenant_id)
                    SELECT ma.new_id, mt.new_id, h FROM bench_clone.agent_tools l
                      JOIN map_agents ma ON ma.old_id = l.agent_id JOIN map_tools mt ON mt.old_id = l.tool_id
                     WHERE l.tenant_id = platform;
                GET DIAGNOSTICS n = ROW_COUNT;
                SELECT n + count(*) FROM map_tools INTO n;
                SELECT n + count(*) FROM map_agents INTO n;
                DROP TABLE map_tools, map_agents;
                INSERT INTO bench_results VALUES ('hand-written INSERT ... SELECT', r,
                    extract(epoch FROM clock_timestamp() - t0), n);
            END IF;
        END LOOP;
    END LOOP;
END
$bench$;

-- One result line per benchmark: name | vital | plain | ratio (vital throughput / plain).
WITH m AS (
    SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s, max(rows) AS rows
      FROM bench_results GROUP BY variant
)
SELECT format('| clone %s rows over 3 linked tables (rows/s, median of %s) | %s | %s | %s |',
              v.rows, :rounds, round(v.rows / v.s), round(h.rows / h.s), round((h.s / v.s)::numeric, 2)) AS result
  FROM m v, m h WHERE v.variant = 'vital.clone_for_tenant' AND h.variant <> v.variant;
DROP SCHEMA bench_clone CASCADE;
