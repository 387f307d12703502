-- The DBA's data files (migrate.sh's VITAL_DATA_DIR, default examples/vital/data), read into
-- temporary tables of this session: vital_data_headers (file, columns) and vital_data (file,
-- row_no, data jsonb: one object per CSV row, keyed by the header). Nothing else is changed.
--   tenants.csv            slug, name, id                    the customer tenants
--   templates.csv          tenant, table, column, value      which platform rows each clones
--   personas.csv, jobs_to_be_done.csv, knowledge.csv, chat_sessions.csv, chat_messages.csv
--                          tenant, then columns of the table the file is named after; a
--                          column written "fk_col:label" is looked up: the row of the table
--                          fk_col references whose label equals the value (the tenant's own
--                          row first, then the platform's)
-- migrate.sh data-headers prints "file<TAB>header line" for every *.csv of the directory.
\getenv vital_migrate VITAL_MIGRATE
\if :{?vital_migrate}
\else
DO $$ BEGIN RAISE EXCEPTION 'the phases read the data files through examples/vital/migrate.sh: run them with it'; END $$;
\endif
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_data_headers (file text, header text, columns text[]);
TRUNCATE vital_data_headers;
RESET client_min_messages;
\copy vital_data_headers (file, header) FROM PROGRAM '"$VITAL_MIGRATE" data-headers'
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_data_files (ord int, file text, target text);
TRUNCATE vital_data_files;
RESET client_min_messages;
INSERT INTO vital_data_files VALUES
    (0, 'tenants.csv', NULL),
    (0, 'templates.csv', NULL),
    (1, 'personas.csv', 'public.personas'),
    (2, 'jobs_to_be_done.csv', 'public.jobs_to_be_done'),
    (3, 'knowledge.csv', 'public.knowledge'),
    (4, 'chat_sessions.csv', 'public.chat_sessions'),
    (5, 'chat_messages.csv', 'public.chat_messages');
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_data (file text, row_no int, data jsonb);
TRUNCATE vital_data;
RESET client_min_messages;
-- One temporary table per known file, its columns (all text) named by the file's header.
DO $data$
DECLARE
    f record;
    cols text[];
BEGIN
    UPDATE vital_data_headers SET columns = (SELECT array_agg(btrim(btrim(c), '"') ORDER BY n)
                                               FROM unnest(string_to_array(header, ',')) WITH ORDINALITY u(c, n));
    FOR f IN SELECT k.file, h.columns FROM vital_data_files k LEFT JOIN vital_data_headers h USING (file) LOOP
        IF to_regclass(format('pg_temp.%I', 'vital_data_' || split_part(f.file, '.', 1))) IS NOT NULL THEN
            EXECUTE format('DROP TABLE pg_temp.%I', 'vital_data_' || split_part(f.file, '.', 1));
        END IF;
        IF f.columns IS NULL OR EXISTS (SELECT FROM unnest(f.columns) c WHERE c = '')
           OR (SELECT count(DISTINCT c) FROM unnest(f.columns) c) <> cardinality(f.columns) THEN
            cols := '{}';   -- no file, or a header the preflight reports (empty or repeated names)
        ELSE
            cols := f.columns;
        END IF;
        EXECUTE format('CREATE TEMP TABLE %I (%s)', 'vital_data_' || split_part(f.file, '.', 1),
                       coalesce((SELECT string_agg(format('%I text', c), ', ' ORDER BY n)
                                   FROM unnest(cols) WITH ORDINALITY u(c, n)), ''));
    END LOOP;
END
$data$;
SELECT bool_or(file = 'tenants.csv' AND cardinality(columns) > 0) AS vital_has_tenants,
       bool_or(file = 'templates.csv' AND cardinality(columns) > 0) AS vital_has_templates,
       bool_or(file = 'personas.csv' AND cardinality(columns) > 0) AS vital_has_personas,
       bool_or(file = 'jobs_to_be_done.csv' AND cardinality(columns) > 0) AS vital_has_jobs,
       bool_or(file = 'knowledge.csv' AND cardinality(columns) > 0) AS vital_has_knowledge,
       bool_or(file = 'chat_sessions.csv' AND cardinality(columns) > 0) AS vital_has_sessions,
       bool_or(file = 'chat_messages.csv' AND cardinality(columns) > 0) AS vital_has_messages
  FROM (SELECT k.file, coalesce(h.columns, '{}') AS columns FROM vital_data_files k LEFT JOIN vital_data_headers h USING (file)) x \gset
\if :vital_has_tenants
\copy pg_temp.vital_data_tenants FROM PROGRAM 'cat "$VITAL_DATA_DIR/tenants.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_templates
\copy pg_temp.vital_data_templates FROM PROGRAM 'cat "$VITAL_DATA_DIR/templates.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_personas
\copy pg_temp.vital_data_personas FROM PROGRAM 'cat "$VITAL_DATA_DIR/personas.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_jobs
\copy pg_temp.vital_data_jobs_to_be_done FROM PROGRAM 'cat "$VITAL_DATA_DIR/jobs_to_be_done.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_knowledge
\copy pg_temp.vital_data_knowledge FROM PROGRAM 'cat "$VITAL_DATA_DIR/knowledge.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_sessions
\copy pg_temp.vital_data_chat_sessions FROM PROGRAM 'cat "$VITAL_DATA_DIR/chat_sessions.csv"' WITH (FORMAT csv, HEADER true)
\endif
\if :vital_has_messages
\copy pg_temp.vital_data_chat_messages FROM PROGRAM 'cat "$VITAL_DATA_DIR/chat_messages.csv"' WITH (FORMAT csv, HEADER true)
\endif
-- Every row as jsonb, numbered in file order (row 1 is the line after the header).
DO $rows$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT file FROM vital_data_files LOOP
        EXECUTE format('INSERT INTO vital_data SELECT $1, row_number() OVER (ORDER BY ctid), to_jsonb(x) FROM pg_temp.%I x',
                       'vital_data_' || split_part(f.file, '.', 1)) USING f.file;
    END LOOP;
END
$rows$;
