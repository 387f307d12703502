-- Phase 4, seeding: the tenants of data/tenants.csv with their fixed ids; the platform's
-- template rows each one selects in data/templates.csv cloned for it (tools by category,
-- agents by business function; an agent's tool links and prompts follow it, tables.sql);
-- then its own rows from the other data files (personas, jobs to be done, knowledge, chat
-- history), written as the tenant, mapped onto the columns the tables have (mapping.sql).
-- Re-runnable: clones are idempotent and a table that already has rows of the tenant is not
-- seeded again.
\ir tables.sql
\ir roles.sql
\ir tenants.sql
\ir mapping.sql
DO $phase4$
DECLARE
    t record;
    m record;
    f record;
    n bigint;
    role_name text;
    filter text;
    selected text;
    id_type text;
    started timestamptz;
    cols text;
    exprs text;
    seeded boolean;
BEGIN
    FOR t IN SELECT * FROM vital_migration_tenants LOOP
        IF NOT EXISTS (SELECT FROM vital.tenants WHERE id = t.id) THEN
            PERFORM vital.create_tenant(t.slug, t.name, t.id);
        END IF;
        SELECT r.role_name INTO role_name FROM vital_migration_roles r WHERE r.tenant_slug = t.slug;
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            PERFORM vital.allow_tenant(role_name::regrole, t.id);
        END IF;

        -- Templates: the selected rows of each table, then the rows that follow a cloned table.
        FOR m IN SELECT x.*, (SELECT array_agg(DISTINCT s.col) FROM vital_migration_templates s
                               WHERE s.tenant = t.slug AND s.tbl = x.name) AS cols
                   FROM vital_migration_tables x WHERE to_regclass(x.name) IS NOT NULL ORDER BY x.ord LOOP
            filter := NULL;
            IF m.cols IS NOT NULL THEN
                -- One condition per column: its value is one of the selected ones.
                SELECT string_agg(format('(%I)::text = ANY (%L::text[])', c.col,
                                         (SELECT array_agg(s.value ORDER BY s.value) FROM vital_migration_templates s
                                           WHERE s.tenant = t.slug AND s.tbl = m.name AND s.col = c.col)), ' OR ')
                  INTO filter FROM unnest(m.cols) c(col);
            ELSIF m.follows IS NOT NULL AND to_regclass(m.follows) IS NOT NULL
                  AND EXISTS (SELECT FROM vital_migration_templates s WHERE s.tenant = t.slug AND s.tbl = m.follows) THEN
                -- The platform rows of the followed table that this tenant selected, by primary key.
                SELECT string_agg(format('(%I)::text = ANY (%L::text[])', s.col,
                                         (SELECT array_agg(s2.value ORDER BY s2.value) FROM vital_migration_templates s2
                                           WHERE s2.tenant = t.slug AND s2.tbl = m.follows AND s2.col = s.col)), ' OR ')
                  INTO selected FROM (SELECT DISTINCT col FROM vital_migration_templates
                                       WHERE tenant = t.slug AND tbl = m.follows) s;
                SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO cols, id_type
                  FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                 WHERE k.conrelid = m.follows::regclass AND k.contype = 'p';
                EXECUTE format('SELECT coalesce(array_agg(%I ORDER BY %I), %L)::text FROM %s WHERE tenant_id = vital.platform_tenant() AND (%s)',
                               cols, cols, '{}', m.follows::regclass, selected) INTO selected;
                filter := format('%I = ANY (%L::%s[])', m.follow_col, selected, id_type);
            END IF;
            CONTINUE WHEN filter IS NULL;
            started := clock_timestamp();
            RAISE NOTICE 'phase 4: % cloning % ...', t.slug, m.name;
            n := vital.clone_for_tenant(t.id, m.name::regclass, filter);
            RAISE NOTICE 'phase 4: % gets % % (% ms)', t.slug, n, replace(split_part(m.name, '.', 2), '_', ' '),
                         round(extract(epoch FROM clock_timestamp() - started) * 1000);
        END LOOP;

        -- The tenant's own data, written as the tenant (tenant_id comes from the session).
        PERFORM vital.set_tenant(t.id);
        FOR f IN SELECT * FROM vital_data_files WHERE target IS NOT NULL AND to_regclass(target) IS NOT NULL ORDER BY ord LOOP
            CONTINUE WHEN NOT EXISTS (SELECT FROM vital_data d WHERE d.file = f.file AND d.data ->> 'tenant' = t.slug);
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE tenant_id = $1)', f.target::regclass) INTO STRICT seeded USING t.id;
            IF seeded THEN
                RAISE NOTICE 'phase 4: % already has rows in %: % not loaded again', t.slug, f.target, f.file;
                CONTINUE;
            END IF;
            SELECT string_agg(format('%I', c.col), ', ' ORDER BY c.n),
                   string_agg(CASE WHEN c.label IS NULL THEN format('(d.data ->> %L)::%s', c.header_col, c.coltype)
                                   ELSE format('(SELECT r.%I FROM %s r WHERE (r.%I)::text = d.data ->> %L%s LIMIT 1)',
                                               c.ref_col, c.ref_table::regclass, c.label, c.header_col,
                                               CASE WHEN c.ref_tenant THEN ' AND r.tenant_id IN (vital.current_tenant(), vital.platform_tenant()) ORDER BY r.tenant_id = vital.current_tenant() DESC' ELSE '' END)
                              END, ', ' ORDER BY c.n)
              INTO cols, exprs
              FROM vital_data_columns c WHERE c.file = f.file AND c.status = 'ok';
            EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM vital_data d WHERE d.file = $1 AND d.data ->> %L = $2 ORDER BY d.row_no',
                           f.target::regclass, cols, exprs, 'tenant') USING f.file, t.slug;
            GET DIAGNOSTICS n = ROW_COUNT;
            RAISE NOTICE 'phase 4: % gets % rows of % from %', t.slug, n, f.target, f.file;
        END LOOP;
        PERFORM vital.clear_tenant();
        RAISE NOTICE 'phase 4: % has its own data', t.slug;
    END LOOP;
END
$phase4$;
