-- The preflight (migrate.sh plan): reads the live schema and the data files and lists, phase
-- by phase, what each step would do, every table and column it needs and whether it is there.
-- Status: ok (present, or already done), do (would be done), skip (an optional table is
-- missing: the step is skipped), warn (proceeds, but look), ERROR (the phase cannot run).
-- The checks run in a READ ONLY transaction; what is set up before it lives in pg_temp only
-- (the data files' temporary tables, the list of findings and the function that adds to it).
\set vital_plan 1
\if :{?phases}
\else
\set phases '1 2 3 4'
\endif
SELECT set_config('vital_migration.phases', :'phases', false) \g /dev/null
\ir tables.sql
\ir roles.sql
\ir tenants.sql
\ir mapping.sql
SET client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS vital_plan (seq int, phase text, status text, item text);
TRUNCATE vital_plan;
RESET client_min_messages;
SET client_min_messages = error;  -- Citus warns that it does not propagate temporary functions
CREATE OR REPLACE FUNCTION pg_temp.vital_plan_add(phase text, status text, item text) RETURNS void
LANGUAGE sql AS $$ INSERT INTO vital_plan SELECT coalesce(max(seq), 0) + 1, $1, $2, $3 FROM vital_plan $$;
RESET client_min_messages;

BEGIN TRANSACTION READ ONLY;

-- The data files.
DO $files$
DECLARE
    f record;
    r record;
    p text := 'data';
    need text[];
    c text;
BEGIN
    FOR f IN SELECT k.file, k.target, h.columns FROM vital_data_files k LEFT JOIN vital_data_headers h USING (file)
              ORDER BY k.ord, k.file LOOP
        IF f.columns IS NULL THEN
            IF f.target IS NULL THEN
                PERFORM pg_temp.vital_plan_add(p, CASE f.file WHEN 'tenants.csv' THEN 'ERROR' ELSE 'warn' END,
                    format('data/%s is missing (%s)', f.file,
                           CASE f.file WHEN 'tenants.csv' THEN 'phase 4 has no tenants to create'
                                       ELSE 'no templates are cloned' END));
            ELSE
                PERFORM pg_temp.vital_plan_add(p, 'skip', format('data/%s is missing: %s is not seeded', f.file, f.target));
            END IF;
            CONTINUE;
        END IF;
        IF EXISTS (SELECT FROM unnest(f.columns) x WHERE x = '')
           OR (SELECT count(DISTINCT x) FROM unnest(f.columns) x) <> cardinality(f.columns) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s: its header has an empty or repeated column name', f.file));
            CONTINUE;
        END IF;
        need := CASE f.file WHEN 'tenants.csv' THEN '{slug,name,id}' WHEN 'templates.csv' THEN '{tenant,table,column,value}'
                            ELSE '{tenant}' END;
        FOREACH c IN ARRAY need LOOP
            IF NOT c = ANY (f.columns) THEN
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s has no column %s', f.file, c));
            END IF;
        END LOOP;
        PERFORM pg_temp.vital_plan_add(p, 'ok', format('data/%s: %s row(s), columns %s', f.file,
            (SELECT count(*) FROM vital_data d WHERE d.file = f.file), array_to_string(f.columns, ', ')));
        -- Rows whose tenant is not one of tenants.csv.
        IF f.file <> 'tenants.csv' THEN
            FOR r IN SELECT d.row_no, d.data ->> 'tenant' AS tenant FROM vital_data d
                      WHERE d.file = f.file AND NOT EXISTS (SELECT FROM vital_data t WHERE t.file = 'tenants.csv'
                                                              AND t.data ->> 'slug' = d.data ->> 'tenant')
                      ORDER BY d.row_no LOOP
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s row %s: tenant %s is not in data/tenants.csv',
                                                                   f.file, r.row_no, coalesce(r.tenant, '(empty)')));
            END LOOP;
        END IF;
    END LOOP;
    FOR f IN SELECT h.file FROM vital_data_headers h WHERE h.file NOT IN (SELECT file FROM vital_data_files) ORDER BY 1 LOOP
        PERFORM pg_temp.vital_plan_add(p, 'warn', format('data/%s is not used by the migration', f.file));
    END LOOP;
    FOR r IN SELECT d.row_no, d.data FROM vital_data d WHERE d.file = 'tenants.csv' ORDER BY d.row_no LOOP
        IF coalesce(r.data ->> 'slug', '') = '' OR coalesce(r.data ->> 'name', '') = '' THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/tenants.csv row %s: slug and name are required', r.row_no));
        ELSIF r.data ->> 'slug' = 'platform' THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', 'data/tenants.csv: platform is vital''s own tenant, not one to create');
        END IF;
        IF NOT coalesce(r.data ->> 'id' ~* '^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$', false) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/tenants.csv row %s: id %s is not a uuid', r.row_no,
                                                               coalesce(r.data ->> 'id', '(empty)')));
        END IF;
        IF (SELECT count(*) FROM vital_data d WHERE d.file = 'tenants.csv'
               AND (d.data ->> 'slug' = r.data ->> 'slug' OR d.data ->> 'id' = r.data ->> 'id')) > 1 THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/tenants.csv row %s: slug or id appears twice', r.row_no));
        END IF;
    END LOOP;
END
$files$;

-- Phase 1, schema alignment.
DO $plan1$
DECLARE
    v record;
    p text := 'phase 1';
    pk record;
BEGIN
    IF to_regclass('public.tools') IS NULL OR to_regclass('public.tool_categories') IS NULL THEN
        PERFORM pg_temp.vital_plan_add(p, 'skip', 'table public.tools or public.tool_categories is missing: no tools.category');
    ELSIF EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'column' AND target = 'public.tools'::regclass
                                                     AND column_name = 'category') THEN
        PERFORM pg_temp.vital_plan_add(p, 'ok', 'compat column tools.category is in place');
    ELSIF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tools'::regclass AND attname = 'category' AND NOT attisdropped) THEN
        PERFORM pg_temp.vital_plan_add(p, 'warn', 'public.tools has a category column of its own: left alone');
    ELSE
        SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid INTO pk
          FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.conrelid = 'public.tool_categories'::regclass AND k.contype = 'p' AND cardinality(k.conkey) = 1;
        IF pk IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', 'public.tool_categories needs a one-column primary key (the lookup key of tools.category)');
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('column public.tool_categories.%I %s (primary key)', pk.attname, pk.type));
        END IF;
        IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tool_categories'::regclass AND attname = 'name' AND NOT attisdropped) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', 'column public.tool_categories.name');
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', 'column public.tool_categories.name is missing (the label of tools.category)');
        END IF;
        IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tools'::regclass AND attname = 'category_id' AND NOT attisdropped) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', 'column public.tools.category_id is missing (the key of tools.category)');
        ELSIF pk IS NOT NULL AND NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tools'::regclass
                                                AND attname = 'category_id' AND atttypid = pk.atttypid) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('column public.tools.category_id must have the type of public.tool_categories.%I (%s)', pk.attname, pk.type));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'ok', 'column public.tools.category_id');
        END IF;
        PERFORM pg_temp.vital_plan_add(p, 'do', 'compat column tools.category: tool_categories.name through tools.category_id');
    END IF;
    FOR v IN SELECT * FROM (VALUES ('public.business_functions', 'public.suite_functions'),
                                   ('public.departments', 'public.org_departments'),
                                   ('public.organizational_roles', 'public.organizational_levels')) x(alias, target) LOOP
        IF to_regclass(v.target) IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'skip', format('table %s is missing: no view %s', v.target, v.alias));
        ELSIF EXISTS (SELECT FROM vital.compat_objects WHERE kind = 'view' AND view = to_regclass(v.alias)) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('compat view %s over %s is in place', v.alias, v.target));
        ELSIF to_regclass(v.alias) IS NOT NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'warn', format('%s exists and is not a compat view: left alone', v.alias));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'do', format('compat view %s over %s', v.alias, v.target));
        END IF;
    END LOOP;
END
$plan1$;

-- Phase 2, tenant columns.
DO $plan2$
DECLARE
    t record;
    p text := 'phase 2';
BEGIN
    FOR t IN SELECT m.*, c.oid, c.relkind, c.relispartition, c.reltuples, pg_total_relation_size(c.oid) AS bytes,
                    (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_type,
                    (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) AS partitions,
                    EXISTS (SELECT FROM vital.registered_tables r WHERE r.relid = c.oid) AS registered
               FROM vital_migration_tables m LEFT JOIN pg_class c ON c.oid = to_regclass(m.name) ORDER BY m.ord LOOP
        IF t.oid IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'skip', format('table %s is missing: not registered', t.name));
        ELSIF t.relkind NOT IN ('r', 'p') THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('%s is not a table (relkind %s): register_table refuses it', t.name, t.relkind));
        ELSIF t.relispartition THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('%s is a partition: register its partitioned table instead', t.name));
        ELSIF t.tenant_type IS NOT NULL AND t.tenant_type <> 'uuid' THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('%s.tenant_id exists with type %s: vital needs uuid', t.name, t.tenant_type));
        ELSIF t.registered THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('%s is registered', t.name));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'do', format('register %s (shared reads: %s; %s, %s%s%s; ACCESS EXCLUSIVE lock while it runs)',
                t.name, t.shared_reads,
                CASE WHEN t.reltuples < 0 THEN 'rows unknown (never analyzed)' ELSE format('about %s rows', t.reltuples::bigint) END,
                pg_size_pretty(t.bytes),
                CASE WHEN t.relkind = 'p' THEN format(', partitioned: its %s partitions too', t.partitions) ELSE '' END,
                CASE WHEN t.tenant_type = 'uuid' THEN ', its own tenant_id uuid reused' ELSE '' END));
        END IF;
    END LOOP;
END
$plan2$;

-- Phase 3, isolation.
DO $plan3$
DECLARE
    r record;
    p text := 'phase 3';
BEGIN
    FOR r IN SELECT m.*, pr.rolsuper, pr.rolbypassrls, pr.rolname IS NOT NULL AS exists
               FROM vital_migration_roles m LEFT JOIN pg_roles pr ON pr.rolname = m.role_name LOOP
        IF r.exists AND (r.rolsuper OR r.rolbypassrls) THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('role %s exists and bypasses row level security (superuser or BYPASSRLS)', r.role_name));
        ELSIF r.exists THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('role %s exists: reused for the %s app', r.role_name, r.app));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'do', format('create role %s for the %s app (port %s)', r.role_name, r.app, r.port));
        END IF;
    END LOOP;
    PERFORM pg_temp.vital_plan_add(p, 'do', 'grants on the tables of public (no TRUNCATE), USAGE on serial sequences only, no TEMPORARY, lock and idle timeouts');
    PERFORM pg_temp.vital_plan_add(p, CASE WHEN vital.names_vital_library(vital.login_setting(0, 'session_preload_libraries')) THEN 'ok' ELSE 'do' END,
                                   'the database preloads vital_tenancy (session_preload_libraries)');
    PERFORM pg_temp.vital_plan_add(p, 'do', 'vital.restrict_statistics(); then vital.audit() must report no error');
END
$plan3$;

-- Phase 4, seeding.
DO $plan4$
DECLARE
    t record;
    s record;
    c record;
    r record;
    p text := 'phase 4';
    n bigint;
    has_col boolean;
    bad text;
BEGIN
    -- Phase 4 clones and writes through the registered tables: phase 2 must have run, or run first.
    IF '4' = ANY (string_to_array(current_setting('vital_migration.phases'), ' '))
       AND NOT '2' = ANY (string_to_array(current_setting('vital_migration.phases'), ' ')) THEN
        FOR t IN SELECT m.name FROM vital_migration_tables m
                  WHERE to_regclass(m.name) IS NOT NULL
                    AND NOT EXISTS (SELECT FROM vital.registered_tables rt WHERE rt.relid = to_regclass(m.name)) ORDER BY m.ord LOOP
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('%s is not registered: apply phase 2 first (or apply all)', t.name));
        END LOOP;
    END IF;
    IF current_setting('vital_migration.tenant') <> 'all' AND NOT EXISTS (SELECT FROM vital_migration_tenants) THEN
        PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('unknown tenant %s: data/tenants.csv has %s', current_setting('vital_migration.tenant'),
            coalesce((SELECT string_agg(d.data ->> 'slug', ', ' ORDER BY d.row_no) FROM vital_data d WHERE d.file = 'tenants.csv'), 'none')));
    END IF;
    FOR t IN SELECT m.*, vt.slug AS existing_slug, vt.id AS existing_id,
                    (SELECT ro.role_name FROM vital_migration_roles ro WHERE ro.tenant_slug = m.slug) AS role_name
               FROM vital_migration_tenants m
               LEFT JOIN vital.tenants vt ON vt.id = m.id OR vt.slug = m.slug LOOP
        CONTINUE WHEN t.slug IS NULL OR t.id IS NULL;   -- reported with the data files
        IF t.existing_id IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'do', format('create tenant %s (%s) with id %s', t.slug, t.name, t.id));
        ELSIF t.existing_id = t.id AND t.existing_slug = t.slug THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('tenant %s exists', t.slug));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('tenant %s / %s: vital.tenants has %s / %s', t.slug, t.id, t.existing_slug, t.existing_id));
        END IF;
        IF t.role_name IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'warn', format('no app role serves %s (roles.sql): no allowance', t.slug));
        END IF;
        -- Template selection.
        FOR s IN SELECT x.tbl, x.col, array_agg(x.value ORDER BY x.value) AS vals, m.name IS NOT NULL AS known
                   FROM vital_migration_templates x LEFT JOIN vital_migration_tables m ON m.name = x.tbl
                  WHERE x.tenant = t.slug GROUP BY x.tbl, x.col, m.name ORDER BY min(m.ord), x.col LOOP
            IF NOT s.known THEN
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/templates.csv: %s is not one of the tables the migration registers', s.tbl));
                CONTINUE;
            ELSIF to_regclass(s.tbl) IS NULL THEN
                PERFORM pg_temp.vital_plan_add(p, 'skip', format('%s: table %s is missing: nothing cloned from it', t.slug, s.tbl));
                CONTINUE;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = s.tbl::regclass AND contype = 'p') THEN
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('%s has no primary key: clone_for_tenant needs one', s.tbl));
            END IF;
            has_col := EXISTS (SELECT FROM pg_attribute WHERE attrelid = s.tbl::regclass AND attname = s.col AND attnum > 0 AND NOT attisdropped);
            IF has_col THEN
                EXECUTE format('SELECT count(*) FROM %s WHERE (%I)::text = ANY ($1)%s', s.tbl::regclass, s.col,
                               CASE WHEN EXISTS (SELECT FROM vital.registered_tables WHERE relid = s.tbl::regclass)
                                    THEN ' AND tenant_id = vital.platform_tenant()' ELSE '' END) INTO n USING s.vals;
                PERFORM pg_temp.vital_plan_add(p, CASE WHEN n = 0 THEN 'warn' ELSE 'do' END,
                    format('%s: clone %s %s row(s) where %s is one of %s', t.slug, s.tbl, n, s.col, array_to_string(s.vals, ', ')));
            ELSIF s.tbl = 'public.tools' AND s.col = 'category' AND to_regclass('public.tool_categories') IS NOT NULL
                  AND '1' = ANY (string_to_array(current_setting('vital_migration.phases'), ' '))
                  AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.tools'::regclass AND attname = 'category_id' AND NOT attisdropped) THEN
                SELECT count(*) INTO n FROM public.tools x JOIN public.tool_categories k ON k.id = x.category_id WHERE k.name = ANY (s.vals);
                PERFORM pg_temp.vital_plan_add(p, CASE WHEN n = 0 THEN 'warn' ELSE 'do' END,
                    format('%s: clone %s %s row(s) where category (made by phase 1) is one of %s', t.slug, s.tbl, n, array_to_string(s.vals, ', ')));
            ELSE
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/templates.csv: column %s.%s is missing (it selects %s''s templates)', s.tbl, s.col, t.slug));
            END IF;
        END LOOP;
        FOR s IN SELECT m.* FROM vital_migration_tables m WHERE m.follows IS NOT NULL AND to_regclass(m.name) IS NOT NULL
                   AND EXISTS (SELECT FROM vital_migration_templates x WHERE x.tenant = t.slug AND x.tbl = m.follows) LOOP
            IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = s.name::regclass AND attname = s.follow_col AND NOT attisdropped) THEN
                PERFORM pg_temp.vital_plan_add(p, 'do', format('%s: clone the rows of %s that belong to the cloned %s (%s)', t.slug, s.name, s.follows, s.follow_col));
            ELSE
                PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('column %s.%s is missing (its rows follow the cloned %s)', s.name, s.follow_col, s.follows));
            END IF;
        END LOOP;
    END LOOP;
    -- Seed data: every file's columns against its table.
    FOR c IN SELECT * FROM vital_data_columns ORDER BY file, n LOOP
        IF c.status = 'absent' THEN
            PERFORM pg_temp.vital_plan_add(p, 'warn', format('data/%s: column %s is not in %s: ignored', c.file, c.col, c.target));
        ELSIF c.status = 'not writable' THEN
            PERFORM pg_temp.vital_plan_add(p, 'warn', format('data/%s: %s.%s is not written by the migration (tenant_id, generated or GENERATED ALWAYS): ignored', c.file, c.target, c.col));
        ELSIF c.status = 'bad lookup' THEN
            PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s: column %s: %s.%s has no one-column foreign key, or the table it references has no column %s',
                                                               c.file, c.header_col, c.target, c.col, c.label));
        ELSE
            -- Values: typed, required ones present, lookups resolvable.
            bad := NULL;
            FOR r IN SELECT d.row_no, d.data ->> c.header_col AS v FROM vital_data d WHERE d.file = c.file ORDER BY d.row_no LOOP
                IF r.v IS NULL THEN
                    IF EXISTS (SELECT FROM vital_data_required q WHERE q.file = c.file AND q.col = c.col) THEN
                        PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s row %s: column %s is empty, and %s.%s is NOT NULL without a default',
                                                                           c.file, r.row_no, c.header_col, c.target, c.col));
                    END IF;
                ELSIF c.label IS NULL THEN
                    BEGIN
                        EXECUTE format('SELECT $1::%s', c.coltype) USING r.v;
                    EXCEPTION WHEN others THEN
                        PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s row %s: column %s: %s is not a valid %s (%s)',
                                                                           c.file, r.row_no, c.header_col, r.v, c.coltype, SQLERRM));
                    END;
                ELSE
                    -- Among the rows the tenant will see: its own and the platform's.
                    EXECUTE format('SELECT EXISTS (SELECT FROM %s x WHERE (x.%I)::text = $1%s)', c.ref_table::regclass, c.label,
                                   CASE WHEN c.ref_tenant THEN ' AND x.tenant_id IN (vital.platform_tenant(), (SELECT id FROM vital.tenants WHERE slug = $2))' ELSE '' END)
                       INTO has_col USING r.v, (SELECT d.data ->> 'tenant' FROM vital_data d WHERE d.file = c.file AND d.row_no = r.row_no);
                    IF NOT has_col AND NOT EXISTS (
                        SELECT FROM vital_data_files rf JOIN vital_data rd ON rd.file = rf.file
                         WHERE to_regclass(rf.target) = c.ref_table::regclass
                           AND rd.data ->> c.label = r.v
                           AND rd.data ->> 'tenant' = (SELECT d.data ->> 'tenant' FROM vital_data d WHERE d.file = c.file AND d.row_no = r.row_no)) THEN
                        PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s row %s: column %s: no %s row has %s = %s',
                                                                           c.file, r.row_no, c.header_col, c.ref_table, c.label, r.v));
                    END IF;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
    FOR c IN SELECT * FROM vital_data_required q WHERE NOT q.in_file ORDER BY file, col LOOP
        PERFORM pg_temp.vital_plan_add(p, 'ERROR', format('data/%s has no column %s, and %s.%s is NOT NULL without a default',
                                                           c.file, c.col, c.target, c.col));
    END LOOP;
    FOR c IN SELECT f.file, f.target, d.data ->> 'tenant' AS tenant, count(*) AS n
               FROM vital_data_files f JOIN vital_data d ON d.file = f.file
              WHERE f.target IS NOT NULL AND d.data ->> 'tenant' IN (SELECT slug FROM vital_migration_tenants)
              GROUP BY f.file, f.target, f.ord, d.data ->> 'tenant' ORDER BY f.ord, 3 LOOP
        IF to_regclass(c.target) IS NULL THEN
            PERFORM pg_temp.vital_plan_add(p, 'skip', format('table %s is missing: data/%s (%s rows of %s) not loaded', c.target, c.file, c.n, c.tenant));
            CONTINUE;
        END IF;
        has_col := false;
        IF EXISTS (SELECT FROM vital.registered_tables WHERE relid = c.target::regclass) THEN
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE tenant_id = (SELECT id FROM vital.tenants WHERE slug = $1))',
                           c.target::regclass) INTO has_col USING c.tenant;
        END IF;
        IF has_col THEN
            PERFORM pg_temp.vital_plan_add(p, 'ok', format('%s: %s has rows of the tenant already: data/%s not loaded again', c.tenant, c.target, c.file));
        ELSE
            PERFORM pg_temp.vital_plan_add(p, 'do', format('%s: load %s row(s) of data/%s into %s (columns %s)', c.tenant, c.n, c.file, c.target,
                (SELECT string_agg(x.col, ', ' ORDER BY x.n) FROM vital_data_columns x WHERE x.file = c.file AND x.status = 'ok')));
        END IF;
    END LOOP;
END
$plan4$;
COMMIT;

\pset format unaligned
\pset tuples_only on
\pset footer off
SELECT format('%-8s %-6s %s', phase, '[' || status || ']', item) FROM vital_plan ORDER BY seq;
SELECT count(*) FILTER (WHERE status = 'ERROR') > 0 AS vital_plan_failed,
       count(*) FILTER (WHERE status = 'ERROR') AS vital_plan_errors,
       count(*) FILTER (WHERE status = 'warn') AS vital_plan_warnings FROM vital_plan \gset
\echo
\if :vital_plan_failed
\echo 'preflight:' :vital_plan_errors 'error(s),' :vital_plan_warnings 'warning(s): the migration cannot run as it is; nothing was changed'
DO $$ BEGIN RAISE EXCEPTION 'preflight failed: see the [ERROR] lines above'; END $$;
\else
\echo 'preflight: no errors,' :vital_plan_warnings 'warning(s)'
\endif
