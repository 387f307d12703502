-- A fingerprint of the public schema (tables, columns, defaults, constraints, indexes,
-- triggers, policies, row level security, privileges, views, functions) and the row count of
-- every table. Two databases in the same state print the same two lines.
SELECT 'schema ' || md5(string_agg(line, E'\n' ORDER BY line)) AS fingerprint FROM (
    SELECT format('rel %s %s rls=%s force=%s acl=%s', c.relname, c.relkind, c.relrowsecurity,
                  c.relforcerowsecurity, coalesce(c.relacl, acldefault('r', c.relowner))) AS line
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT format('col %s.%s %s notnull=%s default=%s identity=%s', c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0
       AND NOT a.attisdropped
    UNION ALL
    SELECT format('con %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('idx %s', pg_get_indexdef(i.indexrelid))
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('trg %s.%s %s', c.relname, t.tgname, t.tgenabled)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT format('pol %s.%s %s %s', c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('fn %s', p.oid::regprocedure) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL
    -- What phase 3 changes outside the schema: the database's privileges and settings, and who
    -- may call the statistics functions.
    SELECT format('db acl=%s', (SELECT array_agg(a::text ORDER BY a::text)
                                  FROM unnest(coalesce(d.datacl, acldefault('d', d.datdba))) a))
      FROM pg_database d WHERE d.datname = current_database()
    UNION ALL
    SELECT format('db setting %s', c)
      FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c
     WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT format('stat fn %s acl=%s', p.oid::regprocedure, (SELECT array_agg(a::text ORDER BY a::text)
                                                               FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) a))
      FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND left(p.proname, 12) = 'pg_stat_get_'
) lines;
SELECT 'rows ' || coalesce(string_agg(format('%s=%s', relname,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', schemaname, relname),
                                                false, true, '')))[1]::text), ' ' ORDER BY relname), '') AS row_counts
  FROM pg_stat_user_tables WHERE schemaname = 'public';
