-- The names a function body mentions, as (qualifier, name) pairs: `a.b` gives (a, b) and
-- (NULL, a); a bare `a` gives (NULL, a). Quoted identifiers are unquoted, others folded to lower
-- case, as PostgreSQL reads them. One fixed pattern finds the identifiers; the names found are
-- data for the caller to compare with `=`.
CREATE FUNCTION vital.names_in(body text)
RETURNS TABLE (qualifier text, name text)
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $names$
WITH tokens AS (
    SELECT m[1] AS first, m[2] AS second
      FROM regexp_matches(body,
             '("(?:[^"]|"")+"|[[:alpha:]_][[:alnum:]_$]*)(?:[[:space:]]*\.[[:space:]]*("(?:[^"]|"")+"|[[:alpha:]_][[:alnum:]_$]*))?',
             'g') AS m
), normalized AS (
    SELECT CASE WHEN left(first, 1) = '"' THEN replace(substr(first, 2, length(first) - 2), '""', '"')
                ELSE lower(first) END AS first,
           CASE WHEN second IS NULL THEN NULL
                WHEN left(second, 1) = '"' THEN replace(substr(second, 2, length(second) - 2), '""', '"')
                ELSE lower(second) END AS second
      FROM tokens
)
SELECT first, second FROM normalized WHERE second IS NOT NULL
UNION
SELECT NULL, first FROM normalized
$names$;

-- vital.audit(): what is broken (error), weakened (warning) or worth knowing (info) about
-- tenant isolation in this database. A healthy database returns no error and no warning rows.
-- Plain SQL over the catalogs, so a DBA can read exactly what each check means.
CREATE FUNCTION vital.audit()
RETURNS TABLE (severity text, object text, problem text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $audit$
SELECT severity, object, problem, fix FROM (
WITH registered AS (
    SELECT r.relid::oid AS oid, r.relid::text AS name, r.parent IS NOT NULL AS is_partition,
           r.policy_fingerprint, c.relrowsecurity, c.relforcerowsecurity, c.relowner, c.relacl, c.relkind
      FROM vital.registrations r JOIN pg_class c ON c.oid = r.relid::oid
),
live_policies AS (
    SELECT reg.oid,
           coalesce((SELECT string_agg(concat_ws('|', polname, polcmd, polpermissive, polroles::text,
                                                 pg_get_expr(polqual, polrelid),
                                                 pg_get_expr(polwithcheck, polrelid)),
                                       E'\n' ORDER BY polname)
                       FROM pg_policy WHERE polrelid = reg.oid AND polname LIKE 'vital\_%'), '') AS fingerprint
      FROM registered reg
),
dependent_views AS (
    SELECT DISTINCT v.oid, v.oid::regclass::text AS name, v.relkind, v.reloptions, reg.name AS table_name
      FROM registered reg
      JOIN pg_depend d ON d.refobjid = reg.oid AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite rw ON rw.oid = d.objid
      JOIN pg_class v ON v.oid = rw.ev_class
     WHERE v.oid <> reg.oid AND v.relkind IN ('v', 'm')
)
-- errors: isolation is broken ------------------------------------------------------------
SELECT 'error', name, 'row level security is not enabled',
       format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', name)
  FROM registered WHERE NOT relrowsecurity
UNION ALL
SELECT 'error', name, 'row level security is not forced: the table owner bypasses the policies',
       format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', name)
  FROM registered WHERE NOT relforcerowsecurity
UNION ALL
SELECT 'error', reg.name, 'vital''s policies are missing or were changed',
       format('SELECT vital.register_table(%L) to re-create them', reg.name)
  FROM registered reg JOIN live_policies lp USING (oid)
 WHERE lp.fingerprint IS DISTINCT FROM reg.policy_fingerprint
UNION ALL
SELECT 'error', format('policy %I on %s', p.polname, reg.name),
       'another permissive policy widens what vital''s policies allow',
       format('DROP POLICY %I ON %s, or make it AS RESTRICTIVE', p.polname, reg.name)
  FROM registered reg JOIN pg_policy p ON p.polrelid = reg.oid
 WHERE p.polpermissive AND p.polname NOT LIKE 'vital\_%'
UNION ALL
SELECT 'error', part.inhrelid::regclass::text,
       format('partition of registered table %s is not registered: queried directly it shows every tenant''s rows', reg.name),
       format('SELECT vital.register_table(%L)', reg.name)
  FROM registered reg JOIN pg_inherits part ON part.inhparent = reg.oid
 WHERE NOT EXISTS (SELECT FROM vital.registrations r WHERE r.relid::oid = part.inhrelid)
UNION ALL
SELECT 'error', dv.name,
       format('view over registered table %s runs with its owner''s rights and shows every tenant''s rows', dv.table_name),
       format('ALTER VIEW %s SET (security_invoker = true)', dv.name)
  FROM dependent_views dv
 WHERE dv.relkind = 'v'
   AND coalesce((SELECT lower(option_value) FROM pg_options_to_table(dv.reloptions)
                  WHERE option_name = 'security_invoker'), 'false') NOT IN ('true', 'on', 'yes', '1')
UNION ALL
SELECT 'error', dv.name,
       format('materialized view over registered table %s cannot have row level security: it shows every tenant''s rows', dv.table_name),
       format('DROP MATERIALIZED VIEW %s (use a security_invoker view, or a registered table)', dv.name)
  FROM dependent_views dv WHERE dv.relkind = 'm'
UNION ALL
SELECT 'error', format('parameter vital.tenant: %s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END),
       'may SET the tenant directly, bypassing vital.set_tenant() and its checks',
       format('REVOKE SET ON PARAMETER vital.tenant FROM %s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END)
  FROM pg_parameter_acl pa, aclexplode(pa.paracl) a
 WHERE pa.parname = 'vital.tenant' AND a.privilege_type = 'SET'
   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE oid = a.grantee), false)
-- warnings: isolation is weakened --------------------------------------------------------
UNION ALL
SELECT 'warning', reg.name, 'no index leads with tenant_id: every tenant-scoped query scans the table',
       format('CREATE INDEX ON %s (tenant_id)', reg.name)
  FROM registered reg
 WHERE NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = reg.oid AND a.attname = 'tenant_id')
UNION ALL
SELECT 'warning', format('%s on %s', ic.relname, reg.name),
       'unique key without tenant_id: a duplicate-key error reveals another tenant''s value',
       format('SELECT vital.register_table(%L, scope_unique => true), or add tenant_id to the key', reg.name)
  FROM registered reg
  JOIN pg_index i ON i.indrelid = reg.oid AND i.indisunique AND NOT i.indisprimary
  JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = reg.oid AND a.attname = 'tenant_id'
                                               AND a.attnum = ANY (i.indkey::int2[]))
UNION ALL
SELECT 'warning', format('%s on %s', c.conname, c.conrelid::regclass),
       'foreign key between registered tables without vital''s tenant guard: it accepts another tenant''s rows',
       CASE WHEN g.tgname IS NULL
            THEN format('SELECT vital.register_table(%L) to re-create the guard', c.conrelid::regclass::text)
            ELSE format('ALTER TABLE %s ENABLE TRIGGER %I', c.conrelid::regclass, g.tgname) END
  FROM pg_constraint c
  -- A guard is recognised by its argument, the constraint's name, not by its (truncated) name.
  LEFT JOIN pg_trigger g ON g.tgrelid = c.conrelid AND g.tgfoid = 'vital.fk_guard()'::regprocedure
                        AND g.tgargs = convert_to(c.conname::text, getdatabaseencoding()) || '\x00'::bytea
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND c.conrelid IN (SELECT oid FROM registered) AND c.confrelid IN (SELECT oid FROM registered)
   AND (g.tgname IS NULL OR g.tgenabled = 'D')
UNION ALL
SELECT DISTINCT 'warning', p.oid::regprocedure::text,
       format('SECURITY DEFINER function reads registered table %s with its owner''s rights', reg.name),
       'Make it SECURITY INVOKER, or check vital.current_tenant() inside it'
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN registered reg ON (
           -- SQL-standard bodies record what they read ...
           EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                             AND d.refobjid = reg.oid)
           -- ... other bodies are searched for the table's name: schema-qualified, or bare when
           -- the table is in the function's own schema or in public. Names are compared as
           -- data with the names the body mentions (vital.names_in), never used as patterns.
        OR EXISTS (SELECT FROM pg_class c JOIN pg_namespace tn ON tn.oid = c.relnamespace
                    CROSS JOIN vital.names_in(p.prosrc) m
                    WHERE c.oid = reg.oid AND m.name = c.relname
                      AND (m.qualifier = tn.nspname
                           OR (m.qualifier IS NULL AND tn.oid IN (p.pronamespace, 'public'::regnamespace)))))
 WHERE p.prosecdef AND n.nspname NOT IN ('vital', 'pg_catalog', 'information_schema')
UNION ALL
SELECT 'warning', format('%s: %s', reg.name, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END),
       'may TRUNCATE the table, which ignores row level security',
       format('REVOKE TRUNCATE ON %s FROM %s', reg.name, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END)
  FROM registered reg, aclexplode(reg.relacl) a
 WHERE a.privilege_type = 'TRUNCATE' AND a.grantee <> reg.relowner
UNION ALL
SELECT 'warning', format('event trigger %s', evtname),
       'vital''s event trigger is disabled: new tables and partitions are not registered and weakening DDL is not refused',
       format('ALTER EVENT TRIGGER %I ENABLE', evtname)
  FROM pg_event_trigger WHERE evtname LIKE 'vital\_%' AND evtenabled = 'D'
-- info: facts a DBA should know ----------------------------------------------------------
UNION ALL
SELECT 'info', format('role %s', rolname),
       CASE WHEN rolsuper THEN 'superuser: bypasses row level security, even when it is forced'
            ELSE 'BYPASSRLS: bypasses row level security, even when it is forced' END,
       'Use it for administration and backups (pg_dump) only; never let an application connect as it'
  FROM pg_roles WHERE rolcanlogin AND (rolsuper OR rolbypassrls)
) findings (severity, object, problem, fix)
ORDER BY CASE severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, object, problem
$audit$;
