-- vital_tenancy: the trigger functions behind vital.create_compat_column().
--
-- A compat column is a text column of `target` that always equals `lookup.label_column` of
-- the row its `fk_column` references. Both functions read their configuration from
-- vital.compat_objects (by the id passed as the trigger argument), never from the trigger
-- arguments themselves, so attaching them to another table does nothing useful.
-- Values are bound (USING); identifiers come from the catalog and are quoted with %I / regclass.

-- On a Citus shard (tools_102012), the configuration of its table's compat column, with the
-- lookup table replaced by this node's copy of it (a reference table has one on every node):
-- reading the lookup table itself from inside a shard's trigger would be a distributed query
-- within a distributed query, which Citus refuses. NULL when the relation is not a shard or its
-- table has no such compat column. The coordinator has the configuration in
-- vital.compat_objects; the workers in vital.shard_compat_columns.
CREATE FUNCTION vital.compat_config_on_shard(id integer, shard regclass)
RETURNS vital.compat_objects
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cfg vital.compat_objects;
    shard_id bigint;
    logical regclass;
    lookup_copy regclass;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
        RETURN NULL;
    END IF;
    -- From the name as regclass prints it: Citus hides shards from pg_class queries.
    shard_id := substring(shard::text FROM '_([0-9]+)"?$')::bigint;
    IF shard_id IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT logicalrelid FROM pg_catalog.pg_dist_shard WHERE shardid = $1' INTO logical USING shard_id;
    SELECT c.* INTO cfg FROM vital.compat_objects c
     WHERE c.id = compat_config_on_shard.id AND c.kind = 'column' AND c.target = logical;
    IF NOT FOUND THEN
        SELECT s.id, 'column', s.object, logical, NULL, s.column_name, s.fk_column, to_regclass(s.lookup),
               s.label_column, s.key_column
          INTO cfg.id, cfg.kind, cfg.object, cfg.target, cfg.view, cfg.column_name, cfg.fk_column,
               cfg.lookup, cfg.label_column, cfg.key_column
          FROM vital.shard_compat_columns s
         WHERE s.id = compat_config_on_shard.id AND to_regclass(s.target) = logical;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    EXECUTE 'SELECT to_regclass(format(''%I.%I'', n.nspname, c.relname || ''_'' || s.shardid))
               FROM pg_catalog.pg_dist_shard s
               JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid = s.logicalrelid AND p.partmethod = ''n''
               JOIN pg_class c ON c.oid = s.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE s.logicalrelid = $1'
       INTO lookup_copy USING cfg.lookup;
    IF lookup_copy IS NULL THEN
        RAISE EXCEPTION 'compat column %: its lookup table % has no copy on this node', cfg.object, cfg.lookup
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'On Citus the lookup table of a compat column must be a reference table (vital.distribute() makes it one).';
    END IF;
    cfg.lookup := lookup_copy;
    RETURN cfg;
END $$;

-- BEFORE INSERT OR UPDATE on the table with the compat column. Runs with the writer's rights,
-- so row-level security on the lookup table applies: a tenant resolves labels only to its own
-- rows and the platform's (its own first).
CREATE FUNCTION vital.compat_column_sync() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cfg vital.compat_objects;
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb;
    new_label text;
    new_key jsonb;
    label_changed boolean;
    key_changed boolean;
    found_key jsonb;
    key_label text;
    prefer_own text := '';
    label_of_key constant text :=
        'SELECT l.%1$I::text FROM %2$s l WHERE l.%3$I = (jsonb_populate_record(NULL::%2$s, $1)).%3$I';
BEGIN
    SELECT * INTO cfg FROM vital.compat_objects WHERE id = TG_ARGV[0]::integer AND kind = 'column'
                                                  AND target = TG_RELID::regclass;
    IF NOT FOUND THEN
        -- A partition's trigger: the configuration names the partitioned table.
        SELECT c.* INTO cfg FROM vital.compat_objects c
         WHERE c.id = TG_ARGV[0]::integer AND c.kind = 'column'
           AND c.target IN (SELECT relid FROM pg_partition_ancestors(TG_RELID));
        IF NOT FOUND THEN
            cfg := vital.compat_config_on_shard(TG_ARGV[0]::integer, TG_RELID);
            IF cfg IS NULL THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    new_label := new_row ->> cfg.column_name;
    new_key := new_row -> cfg.fk_column;
    IF TG_OP = 'UPDATE' THEN
        old_row := to_jsonb(OLD);
        label_changed := new_label IS DISTINCT FROM old_row ->> cfg.column_name;
        key_changed := new_key IS DISTINCT FROM old_row -> cfg.fk_column;
    ELSE
        label_changed := new_label IS NOT NULL;
        key_changed := true;
    END IF;

    IF label_changed THEN
        IF new_label IS NULL THEN
            NEW := jsonb_populate_record(NEW, jsonb_build_object(cfg.fk_column, NULL));
            RETURN NEW;
        END IF;
        IF new_key IS NOT NULL AND new_key <> 'null'::jsonb THEN
            EXECUTE format(label_of_key, cfg.label_column, cfg.lookup, cfg.key_column)
               INTO key_label USING jsonb_build_object(cfg.key_column, new_key);
            IF key_label IS NOT DISTINCT FROM new_label THEN
                RETURN NEW;   -- the key already points at this label
            END IF;
        END IF;
        IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = cfg.lookup AND attname = 'tenant_id'
                                              AND NOT attisdropped) THEN
            prefer_own := ' ORDER BY (l.tenant_id = vital.current_tenant()) IS TRUE DESC';
        END IF;
        EXECUTE format('SELECT to_jsonb(l.%1$I) FROM %2$s l WHERE l.%3$I::text = $1%4$s LIMIT 1',
                       cfg.key_column, cfg.lookup, cfg.label_column, prefer_own)
           INTO found_key
          USING new_label;
        IF found_key IS NULL THEN
            RAISE EXCEPTION 'unknown %: no row of % has % = %', cfg.object, cfg.lookup, cfg.label_column,
                            quote_literal(new_label)
                  USING ERRCODE = 'foreign_key_violation',
                        HINT = format('Use a %s that exists in %s, or set %s instead.',
                                      cfg.label_column, cfg.lookup, cfg.fk_column);
        END IF;
        NEW := jsonb_populate_record(NEW, jsonb_build_object(cfg.fk_column, found_key));
    ELSIF key_changed THEN
        IF new_key IS NOT NULL AND new_key <> 'null'::jsonb THEN
            EXECUTE format(label_of_key, cfg.label_column, cfg.lookup, cfg.key_column)
               INTO key_label USING jsonb_build_object(cfg.key_column, new_key);
        END IF;
        NEW := jsonb_populate_record(NEW, jsonb_build_object(cfg.column_name, key_label));
    END IF;
    RETURN NEW;
END $$;

-- On a Citus shard of a compat column's lookup table: this node's copies of the table with the
-- compat column (its shards here, or its copy if it is a reference table), with the names the
-- label propagation needs. Every node's copy of the lookup table fires, so every copy of the
-- target is reached once.
CREATE FUNCTION vital.compat_targets_on_shard(id integer, shard regclass)
RETURNS TABLE (target_copy text, owner oid, column_name text, fk_column text, label_column text, key_column text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    shard_id bigint;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
        RETURN;
    END IF;
    -- From the name as regclass prints it: Citus hides shards from pg_class queries.
    shard_id := substring(shard::text FROM '_([0-9]+)"?$')::bigint;
    RETURN QUERY EXECUTE
        'SELECT format(''%I.%I'', n.nspname, c.relname || ''_'' || ts.shardid), c.relowner,
                quote_ident(o.column_name), quote_ident(o.fk_column), quote_ident(o.label_column),
                quote_ident(o.key_column)
           FROM (SELECT id, target, lookup, column_name::text, fk_column::text, label_column::text, key_column::text
                   FROM vital.compat_objects WHERE kind = ''column''
                 UNION ALL
                 SELECT id, to_regclass(target), to_regclass(lookup), column_name::text, fk_column::text,
                        label_column::text, key_column::text
                   FROM vital.shard_compat_columns) o
           JOIN pg_catalog.pg_dist_shard ls ON ls.logicalrelid = o.lookup AND ls.shardid = $2
           JOIN pg_catalog.pg_dist_shard ts ON ts.logicalrelid = o.target
           JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = ts.shardid
                AND pl.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group)
           JOIN pg_class c ON c.oid = o.target JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE o.id = $1'
        USING id, shard_id;
END $$;

-- AFTER UPDATE OF the label on the lookup table: vital.compat_label_propagate(), written in
-- Rust (src/compat.rs) because it writes the table as that table's owner, never as vital.
