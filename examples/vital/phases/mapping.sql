-- How each data file's columns map onto the live table it seeds (after data.sql): one row per
-- header column, with its status: ok, absent (no such column: ignored), not writable
-- (tenant_id, generated or GENERATED ALWAYS identity: ignored), bad lookup ("fk_col:label"
-- where fk_col has no single-column foreign key, or the referenced table has no column label).
-- vital_data_required lists the table's columns that must have a value (NOT NULL, no default).
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_data_columns (
    file text, target text, header_col text, col text, label text, status text, coltype text,
    ref_table text, ref_col text, ref_tenant boolean, n int);
TRUNCATE vital_data_columns;
RESET client_min_messages;
INSERT INTO vital_data_columns
SELECT f.file, f.target, h.c, split_part(h.c, ':', 1), nullif(split_part(h.c, ':', 2), ''),
       CASE WHEN a.attname IS NULL THEN 'absent'
            WHEN a.attname = 'tenant_id' OR a.attgenerated <> '' OR a.attidentity = 'a' THEN 'not writable'
            WHEN nullif(split_part(h.c, ':', 2), '') IS NOT NULL AND ra.attname IS NULL THEN 'bad lookup'
            ELSE 'ok' END,
       format_type(a.atttypid, a.atttypmod), fk.confrelid::regclass::text, rk.attname,
       EXISTS (SELECT FROM pg_attribute t WHERE t.attrelid = fk.confrelid AND t.attname = 'tenant_id' AND NOT t.attisdropped),
       h.n
  FROM vital_data_files f
  JOIN vital_data_headers d ON d.file = f.file
 CROSS JOIN LATERAL unnest(d.columns) WITH ORDINALITY h(c, n)
  LEFT JOIN pg_attribute a ON a.attrelid = to_regclass(f.target) AND a.attname = split_part(h.c, ':', 1)
                          AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_constraint fk ON fk.conrelid = a.attrelid AND fk.contype = 'f' AND fk.conkey = ARRAY[a.attnum]
                            AND nullif(split_part(h.c, ':', 2), '') IS NOT NULL
  LEFT JOIN pg_attribute rk ON rk.attrelid = fk.confrelid AND rk.attnum = fk.confkey[1]
  LEFT JOIN pg_attribute ra ON ra.attrelid = fk.confrelid AND ra.attname = nullif(split_part(h.c, ':', 2), '')
                           AND ra.attnum > 0 AND NOT ra.attisdropped
 WHERE f.target IS NOT NULL AND to_regclass(f.target) IS NOT NULL AND h.c <> 'tenant';
SET client_min_messages = warning;  -- quiet when the table exists already
CREATE TEMP TABLE IF NOT EXISTS vital_data_required (file text, target text, col text, in_file boolean);
TRUNCATE vital_data_required;
RESET client_min_messages;
INSERT INTO vital_data_required
SELECT f.file, f.target, a.attname,
       EXISTS (SELECT FROM vital_data_columns c WHERE c.file = f.file AND c.col = a.attname AND c.status = 'ok')
  FROM vital_data_files f
  JOIN pg_attribute a ON a.attrelid = to_regclass(f.target) AND a.attnum > 0 AND NOT a.attisdropped
 WHERE f.target IS NOT NULL AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
   AND a.attname <> 'tenant_id'
   AND EXISTS (SELECT FROM vital_data_headers h WHERE h.file = f.file AND cardinality(h.columns) > 0);
