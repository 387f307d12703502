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

-- Deep check: rows that reference a row of another tenant through a foreign key between
-- registered tables (a reference counts as valid when the referenced row belongs to the same
-- tenant, or to the platform while the referenced table shares its rows: the rule of the
-- foreign-key guard). Runs as the caller: a role bound by row level security sees only the
-- rows its policies show, which the result says. Only built-in operators are run.
CREATE FUNCTION vital.cross_tenant_references()
RETURNS TABLE (severity text, object text, problem text, fix text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $deep$
DECLARE
    fk record;
    bad bigint;
BEGIN
    FOR fk IN
        SELECT c.conname, c.conrelid::regclass AS child, c.confrelid::regclass AS parent, r.shared_reads,
               (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ' ORDER BY k.n)
                  FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS not_null,
               (SELECT string_agg(format('p.%I OPERATOR(%I.%s) c.%I', pa.attname, opn.nspname, op.oprname, ca.attname),
                                  ' AND ' ORDER BY k.n)
                  FROM unnest(c.conkey, c.confkey, c.conpfeqop) WITH ORDINALITY k(fkatt, pkatt, eqop, n)
                  JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.fkatt
                  JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pkatt
                  JOIN pg_operator op ON op.oid = k.eqop
                  JOIN pg_namespace opn ON opn.oid = op.oprnamespace) AS keys_match,
               -- An equality operator created by a user is user code: not run here (below).
               EXISTS (SELECT FROM unnest(c.conpfeqop) op WHERE op >= 16384) AS user_operator
          FROM pg_constraint c
          JOIN vital.registrations r ON r.relid = c.confrelid::regclass
         WHERE c.contype = 'f' AND c.conparentid = 0
           AND c.conrelid IN (SELECT relid FROM vital.registrations)
         ORDER BY c.conrelid::regclass::text, c.conname
    LOOP
        -- The caller is usually a superuser: running a table owner's operator as one would hand
        -- the owner the superuser's rights (the reason vital's own work on user tables runs as
        -- their owner). Such keys are listed, not scanned.
        IF fk.user_operator THEN
            severity := 'info';
            object := format('%I on %s', fk.conname, fk.child);
            problem := 'not scanned by the deep check: the key''s equality operator is user code';
            fix := format('Check it as the owner of %s: rows whose referenced row has another tenant_id', fk.parent);
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- Names are quoted with %I; the operator is written schema-qualified (its name is a
        -- symbol such as =, which %I would turn into an identifier).
        EXECUTE format(
            'SELECT count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT FROM %s p WHERE %s
                AND (p.tenant_id OPERATOR(pg_catalog.=) c.tenant_id
                     OR ($1 AND p.tenant_id OPERATOR(pg_catalog.=) vital.platform_tenant())))',
            fk.child, fk.not_null, fk.parent, fk.keys_match)
        INTO bad USING fk.shared_reads;
        IF bad > 0 THEN
            severity := 'error';
            object := format('%I on %s', fk.conname, fk.child);
            problem := format('%s row(s) reference a row of %s that belongs to another tenant', bad, fk.parent);
            fix := format('Point them at a row of their own tenant (or the platform''s), or move them to the referenced row''s tenant');
            RETURN NEXT;
        END IF;
    END LOOP;
    IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
        severity := 'info';
        object := format('role %s', current_user);
        problem := 'the deep check ran under row level security and saw only the rows this role''s tenant context shows';
        fix := 'Run vital.audit(deep => true) as a superuser or a BYPASSRLS role to check every tenant''s rows';
        RETURN NEXT;
    END IF;
END
$deep$;

-- vital.audit(): what is broken (error), weakened (warning) or worth knowing (info) about
-- tenant isolation in this database. A healthy database returns no error and no warning rows.
-- Plain SQL over the catalogs, so a DBA can read exactly what each check means. The
-- invariants the event triggers keep come from vital.broken_invariants(); the rest is below.
-- One row per object and problem.
CREATE FUNCTION vital.audit(deep boolean DEFAULT false)
RETURNS TABLE (severity text, object text, problem text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $audit$
SELECT severity, object, problem, fix FROM (
WITH registered AS (
    SELECT r.relid::oid AS oid, r.relid::text AS name, c.relowner, c.relacl
      FROM vital.registrations r JOIN pg_class c ON c.oid = r.relid::oid
),
dependent_views AS (
    SELECT v.oid, v.oid::regclass::text AS name, v.relkind, v.reloptions,
           string_agg(DISTINCT reg.name, ', ') AS tables
      FROM registered reg
      JOIN pg_depend d ON d.refobjid = reg.oid AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite rw ON rw.oid = d.objid
      JOIN pg_class v ON v.oid = rw.ev_class
     WHERE v.oid <> reg.oid AND v.relkind IN ('v', 'm')
     GROUP BY v.oid
),
-- Login roles the policies bind on some registered table: what applications connect as.
app_roles AS (
    SELECT r.oid, r.rolname
      FROM pg_roles r
     WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
       AND EXISTS (SELECT FROM registered reg
                    WHERE NOT pg_has_role(r.oid, reg.relowner, 'USAGE')
                      AND has_table_privilege(r.oid, reg.oid, 'SELECT, INSERT, UPDATE, DELETE'))
),
-- App roles that serve several tenants through a pool (pooled_session.rs).
shared_roles AS (
    SELECT ar.oid, ar.rolname
      FROM app_roles ar
     WHERE lower(coalesce(vital.login_setting(ar.oid, 'vital.shared_role'), 'off')) IN ('on', 'true', 'yes', '1')
),
definer_functions AS (
    SELECT p.oid, string_agg(DISTINCT reg.name, ', ') AS tables
      FROM pg_proc p
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
     WHERE p.prosecdef
       AND p.pronamespace NOT IN ('vital'::regnamespace, 'pg_catalog'::regnamespace, 'information_schema'::regnamespace)
     GROUP BY p.oid
)
-- every invariant the event triggers keep ---------------------------------------------------
SELECT severity, object, problem, fix FROM vital.broken_invariants()
-- errors: isolation is broken ------------------------------------------------------------
UNION ALL
SELECT 'error', dv.name,
       format('view over registered table(s) %s runs with its owner''s rights, bypassing their policies', dv.tables),
       format('ALTER VIEW %s SET (security_invoker = true)', dv.name)
  FROM dependent_views dv
 WHERE dv.relkind = 'v'
   AND coalesce((SELECT lower(option_value) FROM pg_options_to_table(dv.reloptions)
                  WHERE option_name = 'security_invoker'), 'false') NOT IN ('true', 'on', 'yes', '1')
UNION ALL
SELECT 'error', dv.name,
       format('materialized view over registered table(s) %s cannot have row level security: it shows every tenant''s rows', dv.tables),
       format('DROP MATERIALIZED VIEW %s (use a security_invoker view, or a registered table)', dv.name)
  FROM dependent_views dv WHERE dv.relkind = 'm'
UNION ALL
-- As severe as a view that is not security_invoker: both run with their owner's rights.
SELECT 'error', df.oid::regprocedure::text,
       format('SECURITY DEFINER function reads registered table(s) %s with its owner''s rights, bypassing their policies', df.tables),
       'Make it SECURITY INVOKER, or check vital.current_tenant() inside it'
  FROM definer_functions df
UNION ALL
SELECT 'error', format('parameter vital.tenant: %s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END),
       'may SET the tenant directly, bypassing vital.set_tenant() and its checks',
       format('REVOKE SET ON PARAMETER vital.tenant FROM %s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END)
  FROM pg_parameter_acl pa, aclexplode(pa.paracl) a
 WHERE pa.parname = 'vital.tenant' AND a.privilege_type = 'SET'
   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE oid = a.grantee), false)
-- warnings: isolation is weakened --------------------------------------------------------
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
       format('SELECT vital.register_table(%L) to re-create the guard', c.conrelid::regclass::text)
  FROM pg_constraint c
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND c.conrelid IN (SELECT oid FROM registered) AND c.confrelid IN (SELECT oid FROM registered)
   -- A key that pairs tenant_id with tenant_id (vital.distribute() makes them) holds by itself.
   AND NOT EXISTS (SELECT FROM pg_attribute ca, pg_attribute pa
                    WHERE ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1] AND ca.attname = 'tenant_id'
                      AND pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] AND pa.attname = 'tenant_id')
   -- A guard is recognised by its argument, the constraint's name, not by its (truncated) name.
   AND NOT EXISTS (SELECT FROM pg_trigger g
                    WHERE g.tgrelid = c.conrelid AND g.tgfoid = 'vital.fk_guard()'::regprocedure
                      AND g.tgargs = convert_to(c.conname::text, getdatabaseencoding()) || '\x00'::bytea)
UNION ALL
SELECT 'warning', reg.name,
       'registered rows reference it, but moving its rows to another tenant is not guarded: a DBA''s UPDATE of tenant_id can leave references across tenants',
       format('SELECT vital.register_table(%L) to re-create the guard', reg.name)
  FROM registered reg
 WHERE EXISTS (SELECT FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confrelid = reg.oid
                  AND c.conrelid IN (SELECT oid FROM registered)
                  AND NOT EXISTS (SELECT FROM pg_attribute ca, pg_attribute pa
                                   WHERE ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1] AND ca.attname = 'tenant_id'
                                     AND pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] AND pa.attname = 'tenant_id'))
   AND NOT EXISTS (SELECT FROM pg_trigger g
                    WHERE g.tgrelid = reg.oid AND g.tgnargs = 0 AND g.tgfoid = 'vital.fk_guard()'::regprocedure)
UNION ALL
SELECT 'warning', format('%s: %s', reg.name, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END),
       'may TRUNCATE the table, which ignores row level security',
       format('REVOKE TRUNCATE ON %s FROM %s', reg.name, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END)
  FROM registered reg, aclexplode(reg.relacl) a
 WHERE a.privilege_type = 'TRUNCATE' AND a.grantee <> reg.relowner
UNION ALL
SELECT 'warning', format('event trigger %s', evtname),
       'vital''s event trigger does not fire in normal sessions: new tables are not registered and DDL that breaks a registered table is not refused',
       format('ALTER EVENT TRIGGER %I ENABLE', evtname)
  FROM pg_event_trigger WHERE evtname LIKE 'vital\_%' AND evtenabled IN ('D', 'R')
UNION ALL
SELECT 'warning', format('registration %s', r.relid::oid),
       'registers a table that no longer exists (dropped while vital''s event triggers were off); a new table could reuse its OID',
       format('DELETE FROM vital.registrations WHERE relid = %s', r.relid::oid)
  FROM vital.registrations r
 WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = r.relid::oid)
-- side channels around the policies (docs/security.md) -------------------------------------
UNION ALL
-- LOCK TABLE and EXPLAIN are refused by hooks, which a session has only once it loaded vital.
SELECT 'warning', format('role %s', ar.rolname),
       'vital_tenancy is not loaded when its sessions start: until a session calls one of vital''s functions, LOCK TABLE and EXPLAIN of registered tables are not refused in it',
       format('ALTER DATABASE %I SET session_preload_libraries = ''vital_tenancy'' (or add it to shared_preload_libraries)', current_database())
  FROM app_roles ar
 WHERE NOT vital.names_vital_library(current_setting('shared_preload_libraries'))
   AND NOT vital.names_vital_library(vital.login_setting(ar.oid, 'session_preload_libraries'))
UNION ALL
SELECT 'warning', g.object,
       format('%s of vital.statistics_functions() (such as %s) may be called by %s: their counters include every tenant''s rows, so a tenant learns how many rows of other tenants its conditions matched',
              g.n, g.example, g.who),
       'SELECT vital.restrict_statistics() (EXECUTE for pg_read_all_stats only)'
  FROM (SELECT 'statistics functions' AS object, 'PUBLIC' AS who, count(*) AS n, min(f::text) AS example
          FROM vital.statistics_functions() f
         WHERE has_function_privilege('public', f, 'EXECUTE')
        HAVING count(*) > 0
        UNION ALL
        SELECT format('role %s', ar.rolname), format('role %s', ar.rolname), count(*), min(f::text)
          FROM app_roles ar CROSS JOIN vital.statistics_functions() f
         WHERE has_function_privilege(ar.oid, f, 'EXECUTE') AND NOT has_function_privilege('public', f, 'EXECUTE')
         GROUP BY ar.rolname) g
UNION ALL
SELECT 'warning', format('role %s', ar.rolname),
       format('has no %s: a session of it that stops in the middle of a transaction keeps its locks (and the platform rows its foreign keys locked), and every tenant waits for them', t.setting),
       format('ALTER ROLE %I SET %s = %L', ar.rolname, t.setting, t.suggested)
  FROM app_roles ar
 CROSS JOIN (VALUES ('lock_timeout', '5s'), ('idle_in_transaction_session_timeout', '60s')) t(setting, suggested)
 WHERE vital.is_zero_duration(vital.login_setting(ar.oid, t.setting))
UNION ALL
SELECT 'warning', 'setting max_prepared_transactions',
       format('is %s: a tenant''s PREPARE TRANSACTION keeps its locks after it disconnects, blocking other tenants until a DBA commits or rolls it back', current_setting('max_prepared_transactions')),
       'Set max_prepared_transactions = 0 unless this database uses two-phase commit; then watch pg_prepared_xacts'
 WHERE current_setting('max_prepared_transactions')::int > 0
   -- Citus needs two-phase commit; citus_findings() says what to watch instead.
   AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')
UNION ALL
SELECT severity, object, problem, fix FROM vital.citus_findings()
UNION ALL
SELECT 'warning', format('%s.%I', reg.name, a.attname),
       'key drawn from a sequence that every tenant shares: a tenant that inserts explicit values just ahead of the sequence makes other tenants'' inserts fail as duplicates, and a role that may read the sequence sees how many rows all tenants insert',
       'Prefer uuid keys (DEFAULT gen_random_uuid()) or a key that starts with tenant_id; grant USAGE on the sequence only where a serial column needs it (docs/security.md, "Keys")'
  FROM registered reg
  JOIN pg_attribute a ON a.attrelid = reg.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE (a.attidentity <> ''
        OR EXISTS (SELECT FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
                    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                      AND d.refobjid = reg.oid AND d.refobjsubid = a.attnum AND s.relkind = 'S'))
   -- A key that includes tenant_id collides only within one tenant.
   AND EXISTS (SELECT FROM pg_index i
                WHERE i.indrelid = reg.oid AND i.indisunique AND a.attnum = ANY (i.indkey::int2[])
                  AND NOT EXISTS (SELECT FROM pg_attribute t
                                   WHERE t.attrelid = reg.oid AND t.attname = 'tenant_id'
                                     AND t.attnum = ANY (i.indkey::int2[])))
UNION ALL
SELECT 'warning', format('role %s', sr.rolname),
       'shared role (vital.shared_role) may create temporary objects: a temporary view named like a registered table, left on a pooled connection, would read the next client''s rows',
       format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC (and from %I)', current_database(), sr.rolname)
  FROM shared_roles sr
 WHERE has_database_privilege(sr.oid, current_database(), 'TEMPORARY')
-- the deep check: data that references across tenants -------------------------------------
UNION ALL
SELECT severity, object, problem, fix FROM vital.cross_tenant_references() WHERE deep
-- info: facts a DBA should know ----------------------------------------------------------
UNION ALL
-- Under row level security, PostgreSQL uses an operator as an index condition ahead of the
-- policy only when it is LEAKPROOF: a tenant's search with these operators cannot use the index.
SELECT 'info', format('index %s on %s', li.indexrelid::regclass, reg.name),
       format('its operators %s are not LEAKPROOF: under row level security a tenant''s query using them cannot use this index',
              li.operators),
       'See docs/operations.md, "Searching under row level security" (the LEAKPROOF remedy and its risk)'
  FROM registered reg
 CROSS JOIN LATERAL (
        SELECT i.indexrelid, string_agg(DISTINCT o.oprname::text, ' ' ORDER BY o.oprname::text) AS operators
          FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indclass::oid[]) oc(opclass)
          JOIN pg_opclass c ON c.oid = oc.opclass
          JOIN pg_amop a ON a.amopfamily = c.opcfamily AND a.amoppurpose = 's'
          JOIN pg_operator o ON o.oid = a.amopopr
          JOIN pg_proc p ON p.oid = o.oprcode
         WHERE i.indrelid = reg.oid AND NOT p.proleakproof
         GROUP BY i.indexrelid) li
UNION ALL
-- The index scans a tenant's query makes test its conditions on other tenants' entries before
-- the policy filters them. What would count them (EXPLAIN, statistics functions) is closed
-- above; the time a query takes is not.
SELECT 'info', format('index %s on %s', i.indexrelid::regclass, reg.name),
       'does not lead with tenant_id: a tenant''s query that scans it tests its conditions on every tenant''s entries before the policy; EXPLAIN and statistics functions are refused to the roles the policies bind, but the time such a query takes still grows with other tenants'' matching rows',
       format('For a tenant''s searches, an index led by tenant_id: CREATE INDEX ON %s (tenant_id, ...)', reg.name)
  FROM registered reg
  JOIN pg_index i ON i.indrelid = reg.oid
 WHERE i.indkey[0] <> (SELECT t.attnum FROM pg_attribute t WHERE t.attrelid = reg.oid AND t.attname = 'tenant_id')
UNION ALL
SELECT 'info', format('role %s', sr.rolname),
       'shared role: one SQL injection in any tenant''s request can call vital.set_tenant() for every tenant the role is allowed',
       'Where injection matters, give each tenant app its own login role (docs/security.md, "Shared roles")'
  FROM shared_roles sr
UNION ALL
SELECT 'info', format('role %s', rolname),
       CASE WHEN rolsuper THEN 'superuser: bypasses row level security, even when it is forced'
            ELSE 'BYPASSRLS: bypasses row level security, even when it is forced' END,
       'Use it for administration and backups (pg_dump) only; never let an application connect as it'
  FROM pg_roles WHERE rolcanlogin AND (rolsuper OR rolbypassrls)
) findings (severity, object, problem, fix)
ORDER BY CASE severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, object, problem
$audit$;
