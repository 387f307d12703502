-- What an upgraded database and a fresh install of the current version must have alike: every
-- object of schema vital (and the extension's membership), the event triggers, vital's stored
-- state, and everything vital puts on the registered tables. One sorted line per fact; OIDs,
-- timestamps and generated names are left out.
SELECT line FROM (
    SELECT format('rel %s %s acl=%s', c.relname, c.relkind,
                  (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a)) AS line
      FROM pg_class c WHERE c.relnamespace = 'vital'::regnamespace
    UNION ALL
    SELECT format('col %s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'vital'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('idx %s', pg_get_indexdef(i.indexrelid))
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'vital'::regnamespace
    UNION ALL
    SELECT format('con %s %s', c.conrelid::regclass, pg_get_constraintdef(c.oid))
      FROM pg_constraint c WHERE c.connamespace = 'vital'::regnamespace
    UNION ALL
    SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
      FROM pg_class c WHERE c.relnamespace = 'vital'::regnamespace AND c.relkind = 'v'
    UNION ALL
    SELECT format('fn %s returns %s lang=%s vol=%s strict=%s secdef=%s leakproof=%s config=%s args=%s acl=%s body=%s',
                  p.oid::regprocedure, p.prorettype::regtype, l.lanname, p.provolatile, p.proisstrict,
                  p.prosecdef, p.proleakproof, p.proconfig, pg_get_function_arguments(p.oid),
                  (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(p.proacl) a), md5(p.prosrc))
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace = 'vital'::regnamespace
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND (c.relnamespace = 'vital'::regnamespace
                                   OR t.tgrelid IN (SELECT relid FROM vital.registrations))
    UNION ALL
    SELECT format('event trigger %s on %s %s enabled=%s tags=%s', e.evtname, e.evtevent, e.evtfoid::regprocedure,
                  e.evtenabled, e.evttags)
      FROM pg_event_trigger e
    UNION ALL
    SELECT format('member %s', pg_describe_object(d.classid, d.objid, d.objsubid))
      FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND x.extname = 'vital_tenancy'
    UNION ALL
    SELECT format('state version %s', v.version) FROM vital.state_version v
    UNION ALL
    SELECT format('tenant %s %s %s %s', t.id, t.slug, t.name, t.status) FROM vital.tenants t
    UNION ALL
    SELECT format('allowance %s %s', a.role::regrole, a.tenant) FROM vital.tenant_allowances a
    UNION ALL
    SELECT format('registration %s shared=%s via=%s parent=%s scoped=%s added=%s default=%s notnull=%s index=%s rls=%s force=%s uniques=%s',
                  r.relid, r.shared_reads, r.via, r.parent, r.scope_unique, r.column_added,
                  r.column_default_before, r.column_not_null_before, r.index_created, r.rls_before,
                  r.force_rls_before, r.uniques_before) || ' policies=' || coalesce(r.policy_fingerprint::text, '')
      FROM vital.registrations r
    UNION ALL
    SELECT format('compat %s', row_to_json(o)::jsonb - 'id' - 'created_at') FROM vital.compat_objects o
    UNION ALL
    -- The registered tables: what vital adds to them and what it keeps there.
    SELECT format('table %s rls=%s force=%s acl=%s', c.oid::regclass, c.relrowsecurity, c.relforcerowsecurity,
                  (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a))
      FROM pg_class c WHERE c.oid IN (SELECT relid FROM vital.registrations)
    UNION ALL
    SELECT format('col %s.%s %s notnull=%s default=%s', a.attrelid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid IN (SELECT relid FROM vital.registrations) AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('idx %s', pg_get_indexdef(i.indexrelid))
      FROM pg_index i WHERE i.indrelid IN (SELECT relid FROM vital.registrations)
    UNION ALL
    SELECT format('con %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
      FROM pg_constraint c WHERE c.conrelid IN (SELECT relid FROM vital.registrations)
    UNION ALL
    SELECT format('policy %s %s %s permissive=%s roles=%s using=%s check=%s', p.polrelid::regclass, p.polname,
                  p.polcmd, p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p WHERE p.polrelid IN (SELECT relid FROM vital.registrations)
) facts
ORDER BY line;
