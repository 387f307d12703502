-- vital_tenancy: what vital.audit() checks on a Citus cluster (src/distribute.rs, src/citus.rs).
--
-- Nothing here runs without Citus: every statement that names Citus's catalogs or functions is
-- dynamic, so the extension installs the same way with or without it.

-- What a shard must look like, as one comparable text: row level security enabled and forced,
-- vital's four policies with their expressions, no other permissive policy, no rule, and
-- vital's triggers all firing the normal way. %s is the relation (a table, or a shard's name
-- in run_command_on_placements, which substitutes it like format(): so no other percent sign).
-- Names are compared as data; the shard's own suffixes are taken off the trigger names.
CREATE FUNCTION vital.shard_shape_query()
RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $shape$
SELECT $q$SELECT pg_catalog.concat_ws(' | ',
    'rls=' || c.relrowsecurity::text, 'force=' || c.relforcerowsecurity::text,
    (SELECT pg_catalog.string_agg(p.polname || ':' || p.polcmd::text || ':' || p.polpermissive::text || ':'
                                  || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '')
                                  || ':' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                  ', ' ORDER BY p.polname)
       FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid),
    'rules=' || (SELECT pg_catalog.count(*) FROM pg_catalog.pg_rewrite r
                  WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')::text,
    (SELECT pg_catalog.string_agg(pg_catalog.regexp_replace(t.tgname, '_[0-9]+$', '') || ':' || t.tgenabled::text,
                                  ', ' ORDER BY pg_catalog.regexp_replace(t.tgname, '_[0-9]+$', ''))
       FROM pg_catalog.pg_trigger t
      WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND pg_catalog.starts_with(t.tgname, 'vital_')))
  FROM pg_catalog.pg_class c WHERE c.oid = '%s'::pg_catalog.regclass$q$
$shape$;

CREATE FUNCTION vital.citus_findings()
RETURNS TABLE (severity text, object text, problem text, fix text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $citus$
DECLARE
    t record;
    expected text;
    bad record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;

    -- Registered tables Citus manages that vital.distribute() did not make so: nothing says
    -- their shards were given what the table has (the "open door" of registering with DDL
    -- propagation off).
    FOR t IN EXECUTE
        'SELECT r.relid::text AS name FROM vital.registrations r
          WHERE r.relid IN (SELECT logicalrelid FROM pg_catalog.pg_dist_partition)
            AND r.relid NOT IN (SELECT relid FROM vital.distributions)
            AND r.parent IS NULL'
    LOOP
        RETURN QUERY SELECT 'error'::text, t.name,
            'a Citus table that vital.distribute() did not distribute: its shards may lack the policies, guards and tenant column rules of the table'::text,
            'SELECT undistribute_table(...) and then SELECT * FROM vital.distribute()'::text;
    END LOOP;

    -- Every placement of every distributed or reference table looks like its table.
    FOR t IN SELECT d.relid::oid AS oid, d.relid::text AS name FROM vital.distributions d ORDER BY d.position LOOP
        EXECUTE format(vital.shard_shape_query(), t.oid::regclass::text) INTO expected;
        FOR bad IN EXECUTE
            'SELECT nodename, nodeport, shardid, success, result
               FROM pg_catalog.run_command_on_placements($1::regclass, $2)
              WHERE NOT success OR result IS DISTINCT FROM $3'
            USING t.oid, vital.shard_shape_query(), expected
        LOOP
            RETURN QUERY SELECT 'error'::text,
                format('%s: shard %s on %s:%s', t.name, bad.shardid, bad.nodename, bad.nodeport),
                CASE WHEN bad.success
                     THEN format('differs from its table (row level security, vital''s policies or triggers): %s, expected %s', bad.result, expected)
                     ELSE format('could not be checked: %s', bad.result) END,
                'Repair it on that node as its table is (or undistribute and distribute again); find who changed it'::text;
        END LOOP;
    END LOOP;

    -- Every node has vital at the coordinator's version and the coordinator's cluster key, or
    -- the tenant tokens set_tenant makes are refused there.
    IF EXISTS (SELECT FROM vital.distributions) THEN
        FOR bad IN EXECUTE
            'SELECT nodename, nodeport, success, result
               FROM pg_catalog.run_command_on_workers($1)
              WHERE NOT success OR result IS DISTINCT FROM $2'
            USING $q$SELECT coalesce((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vital_tenancy'), 'none')
                             || ' ' || coalesce((SELECT pg_catalog.md5(key) FROM vital.cluster_key), 'no key')
                             || ' compat columns: ' || (SELECT pg_catalog.count(*) FROM vital.shard_compat_columns)$q$,
                  (SELECT extversion FROM pg_extension WHERE extname = 'vital_tenancy') || ' '
                      || coalesce((SELECT md5(key) FROM vital.cluster_key), 'no key')
                      || ' compat columns: ' || (SELECT count(*) FROM vital.compat_objects WHERE kind = 'column')
        LOOP
            RETURN QUERY SELECT 'error'::text, format('node %s:%s', bad.nodename, bad.nodeport),
                format('vital_tenancy, the cluster key or the compat columns differ from the coordinator''s (%s): tenant tokens are refused there, or compat columns do not follow', bad.result),
                'ALTER EXTENSION vital_tenancy UPDATE on that node; vital.undistribute() and vital.distribute() write the key and the compat columns again'::text;
        END LOOP;
        RETURN QUERY SELECT 'info'::text, 'setting max_prepared_transactions'::text,
            'Citus commits distributed transactions in two phases, so prepared transactions are allowed: a tenant''s PREPARE TRANSACTION can still keep locks after it disconnects'::text,
            'Watch pg_prepared_xacts for transactions that are not Citus''s own'::text;
    END IF;
END
$citus$;
