-- The invariants of registered tables (sql-api.md, "Registered tables"), one row per table and
-- broken invariant. The event triggers refuse a DDL command that leaves a row here for a table
-- it touched (event_trigger.rs); vital.audit() reports every row (for databases where the
-- event triggers were off). `tables` NULL means every registered table.
--
-- Severity follows the audit's rule: `error` where isolation is broken, `warning` where it is
-- weakened. The event triggers refuse both. `functions`: also check vital's own functions (a
-- scan of pg_proc, so the event triggers ask only when a command touched one).
--
-- Speed matters: the event triggers call this before and after every DDL command on a
-- registered table. So it is PL/pgSQL, for its plan cache (planned once per session, with a
-- generic plan), and every check is a LATERAL lookup from the table's OID: the plan is the
-- same handful of index probes per table whether one table is checked or all of them.
CREATE FUNCTION vital.broken_invariants(tables oid[] DEFAULT NULL, functions boolean DEFAULT true)
RETURNS TABLE (severity text, relid oid, object text, problem text, fix text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $invariants$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH registered AS MATERIALIZED (
    SELECT r.relid::oid AS oid, r.relid::text AS name, r.policy_fingerprint,
           c.relrowsecurity, c.relforcerowsecurity
      FROM vital.registrations r
      JOIN pg_class c ON c.oid = r.relid::oid
     WHERE tables IS NULL OR r.relid = ANY (tables::regclass[])
)
SELECT f.severity, reg.oid, f.object, f.problem, f.fix
  FROM registered reg
 CROSS JOIN LATERAL (
    -- tenant_id uuid NOT NULL with vital's default ------------------------------------------
    SELECT 'error'::text AS severity, reg.name AS object, 'has no column tenant_id'::text AS problem,
           format('SELECT vital.unregister_table(%L), then register it again', reg.name) AS fix
     WHERE NOT EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = reg.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
    UNION ALL
    SELECT tc.severity, reg.name, tc.problem, tc.fix
      FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     CROSS JOIN LATERAL (
        SELECT 'error'::text, format('tenant_id is of type %s, not uuid', format_type(a.atttypid, NULL)),
               format('SELECT vital.unregister_table(%L), then convert the column and register it again', reg.name)
         WHERE a.atttypid <> 'uuid'::regtype
        UNION ALL
        SELECT 'warning', 'tenant_id allows NULL: such rows belong to no tenant',
               format('ALTER TABLE %s ALTER COLUMN tenant_id SET NOT NULL', reg.name)
         WHERE NOT a.attnotnull
        UNION ALL
        SELECT 'warning', 'tenant_id''s default is not vital.current_tenant(): new rows do not get the current tenant',
               format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT vital.current_tenant()', reg.name)
         WHERE pg_get_expr(d.adbin, d.adrelid) IS DISTINCT FROM 'vital.current_tenant()'
            OR a.attgenerated <> '' OR a.attidentity <> ''
     ) tc(severity, problem, fix)
     WHERE a.attrelid = reg.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    -- row level security, enabled and forced --------------------------------------------------
    UNION ALL
    SELECT 'error', reg.name, 'row level security is not enabled',
           format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', reg.name)
     WHERE NOT reg.relrowsecurity
    UNION ALL
    SELECT 'error', reg.name, 'row level security is not forced: the table owner bypasses the policies',
           format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', reg.name)
     WHERE NOT reg.relforcerowsecurity
    -- vital's policies unchanged (as recorded at registration), no other permissive policy ----
    UNION ALL
    SELECT 'error', reg.name, 'vital''s policies are missing or were changed',
           format('SELECT vital.register_table(%L) to re-create them', reg.name)
     WHERE reg.policy_fingerprint IS DISTINCT FROM
           coalesce((SELECT string_agg(concat_ws('|', p.polname, p.polcmd, p.polpermissive, p.polroles::text,
                                                 pg_get_expr(p.polqual, p.polrelid),
                                                 pg_get_expr(p.polwithcheck, p.polrelid)),
                                       E'\n' ORDER BY p.polname)
                       FROM pg_policy p WHERE p.polrelid = reg.oid AND p.polname LIKE 'vital\_%'), '')
    UNION ALL
    SELECT 'error', format('policy %I on %s', p.polname, reg.name),
           'a permissive policy widens what vital''s policies allow',
           format('DROP POLICY %I ON %s, or create it AS RESTRICTIVE', p.polname, reg.name)
      FROM pg_policy p
     WHERE p.polrelid = reg.oid AND p.polpermissive AND p.polname NOT LIKE 'vital\_%'
    -- no rules --------------------------------------------------------------------------------
    UNION ALL
    SELECT 'error', format('rule %I on %s', rw.rulename, reg.name),
           'a rule runs its own commands on every access, outside what the policies check',
           format('DROP RULE %I ON %s', rw.rulename, reg.name)
      FROM pg_rewrite rw
     WHERE rw.ev_class = reg.oid
    -- vital's triggers (their function lives in schema vital): enabled the normal way, named
    -- as vital named them, tied to no other extension ----------------------------------------
    UNION ALL
    SELECT vt.severity, format('trigger %I on %s', t.tgname, reg.name), vt.problem, vt.fix
      FROM pg_trigger t
      JOIN pg_proc pr ON pr.oid = t.tgfoid AND pr.pronamespace = 'vital'::regnamespace
     CROSS JOIN LATERAL (
        SELECT 'error'::text,
               CASE t.tgenabled WHEN 'D' THEN 'vital''s trigger is disabled'
                                WHEN 'R' THEN 'vital''s trigger fires only in replica sessions'
                                ELSE 'vital''s trigger also fires in replica sessions' END,
               format('ALTER TABLE %s ENABLE TRIGGER %I', reg.name, t.tgname)
         WHERE t.tgenabled <> 'O'
        UNION ALL
        SELECT 'error', 'vital''s trigger was renamed: vital no longer knows it as its own',
               format('SELECT vital.unregister_table(%L), then register it again', reg.name)
         WHERE t.tgname NOT LIKE 'vital\_%'
        UNION ALL
        SELECT 'warning', format('depends on extension %s: dropping that extension drops vital''s trigger', e.extname),
               format('ALTER TRIGGER %I ON %s NO DEPENDS ON EXTENSION %I', t.tgname, reg.name, e.extname)
          FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.objsubid = 0 AND d.deptype = 'x'
     ) vt(severity, problem, fix)
     WHERE t.tgrelid = reg.oid
    -- the tenant index: some index leads with tenant_id, and none of those is tied to another
    -- extension (vital's own index and the unique keys it scoped all lead with tenant_id) ------
    UNION ALL
    SELECT 'warning', reg.name, 'no index leads with tenant_id: every tenant-scoped query scans the table',
           format('CREATE INDEX ON %s (tenant_id)', reg.name)
     WHERE NOT EXISTS (SELECT FROM pg_index i
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                        WHERE i.indrelid = reg.oid AND a.attname = 'tenant_id')
    UNION ALL
    SELECT 'warning', format('index %s on %s', i.indexrelid::regclass, reg.name),
           format('depends on extension %s: dropping that extension drops the tenant index', e.extname),
           format('ALTER INDEX %s NO DEPENDS ON EXTENSION %I', i.indexrelid::regclass, e.extname)
      FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND a.attname = 'tenant_id'
      JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.objsubid = 0
                      AND d.deptype = 'x'
      JOIN pg_extension e ON e.oid = d.refobjid
     WHERE i.indrelid = reg.oid
    -- partitions and inheritance: every table in the tree is registered ----------------------
    UNION ALL
    SELECT 'error', part.inhrelid::regclass::text,
           format('partition of registered table %s is not registered: queried directly it shows every tenant''s rows', reg.name),
           format('SELECT vital.register_table(%L)', reg.name)
      FROM pg_inherits part
     WHERE part.inhparent = reg.oid
       AND NOT EXISTS (SELECT FROM vital.registrations r WHERE r.relid = part.inhrelid::regclass)
    UNION ALL
    SELECT 'error', reg.name,
           format('is a child of %s, which is not registered: queried through it, it shows every tenant''s rows',
                  inh.inhparent::regclass),
           format('SELECT vital.register_table(%L), or detach %s from it', inh.inhparent::regclass::text, reg.name)
      FROM pg_inherits inh
     WHERE inh.inhrelid = reg.oid
       AND NOT EXISTS (SELECT FROM vital.registrations r WHERE r.relid = inh.inhparent::regclass)
 ) f
-- vital's own functions tied to another extension's lifetime -------------------------------
UNION ALL
SELECT 'warning', NULL::oid, format('function %s', p.oid::regprocedure),
       format('depends on extension %s: dropping that extension drops vital''s function', e.extname),
       format('ALTER FUNCTION %s NO DEPENDS ON EXTENSION %I', p.oid::regprocedure, e.extname)
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.objsubid = 0 AND d.deptype = 'x'
  JOIN pg_extension e ON e.oid = d.refobjid
 WHERE functions AND p.pronamespace = 'vital'::regnamespace;
END
$invariants$;
