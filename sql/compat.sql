-- vital_tenancy: the trigger functions behind vital.create_compat_column().
--
-- A compat column is a text column of `target` that always equals `lookup.label_column` of
-- the row its `fk_column` references. Both functions read their configuration from
-- vital.compat_objects (by the id passed as the trigger argument), never from the trigger
-- arguments themselves, so attaching them to another table does nothing useful.
-- Values are bound (USING); identifiers come from the catalog and are quoted with %I / regclass.

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
            RETURN NEW;
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

-- AFTER UPDATE OF the label on the lookup table: vital.compat_label_propagate(), written in
-- Rust (src/compat.rs) because it writes the table as that table's owner, never as vital.
