//! Compatibility objects for applications that expect other names:
//! `vital.create_compat_view` / `vital.drop_compat_view` and
//! `vital.create_compat_column` / `vital.drop_compat_column`, listed in `vital.compat_objects`.
//!
//! Views are `security_invoker` (a plain view runs with its owner's rights and would show every
//! tenant's rows), simple `SELECT *` views that PostgreSQL makes insertable, updatable and
//! deletable through to the table, with its policies applied. The event trigger re-creates
//! them when their table gains columns (`refresh_views_of`).
//!
//! Columns are real text columns kept equal to a lookup table's label by the triggers in
//! `sql/compat.sql`.

use crate::catalog::{self, Relation};
use crate::error::{raise, required, Code};
use crate::registration::as_vital_ddl;
use crate::sql;
use pgrx::prelude::*;

/// Splits `alias` (as SQL would: quotes respected) into schema and name; `public` by default.
fn parse_alias(alias: &str) -> (String, String) {
    let parts: Vec<String> =
        sql::one::<Vec<String>>("SELECT pg_catalog.parse_ident($1)", &[alias.into()]).unwrap_or_default();
    if let Some(long) = parts.iter().find(|p| p.len() >= pg_sys::NAMEDATALEN as usize) {
        raise(
            Code::ERRCODE_NAME_TOO_LONG,
            format!(
                "compat view name {long:?} is longer than {} bytes",
                pg_sys::NAMEDATALEN - 1
            ),
            None,
        );
    }
    match parts.as_slice() {
        [name] => ("public".to_string(), name.clone()),
        [schema, name] => (schema.clone(), name.clone()),
        _ => raise(
            Code::ERRCODE_INVALID_NAME,
            format!("invalid compat view name {alias:?}"),
            Some("Use name or schema.name."),
        ),
    }
}

fn require_table(rel: &Relation, role: &str) {
    if !matches!(rel.kind.as_str(), "r" | "p") {
        raise(
            Code::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{role} {} is not a table", rel.qualified()),
            Some("Compatibility objects are made over ordinary or partitioned tables."),
        );
    }
}

fn relation_in(schema: &str, name: &str) -> Option<pg_sys::Oid> {
    sql::one::<pg_sys::Oid>(
        "SELECT c.oid FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2",
        &[schema.into(), name.into()],
    )
}

/// (Re-)creates `view` as `SELECT * FROM target`, security_invoker, owned like the table.
fn define_view(view: &str, target: &Relation, replace: bool) {
    let table = target.qualified();
    sql::run(
        &format!(
            "CREATE {}VIEW {view} WITH (security_invoker = true) AS SELECT * FROM {table}",
            if replace { "OR REPLACE " } else { "" }
        ),
        &[],
    );
}

/// Gives the view the table's owner and the table's grants: with security_invoker the caller
/// still needs the table's privileges and passes its policies, so this widens nothing.
fn copy_owner_and_grants(view: &str, target: &Relation) {
    let owner = sql::one::<String>(
        "SELECT pg_catalog.quote_ident(r.rolname) FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_roles r ON r.oid = c.relowner WHERE c.oid = $1",
        &[target.oid.into()],
    )
    .unwrap_or_default();
    sql::run(&format!("ALTER VIEW {view} OWNER TO {owner}"), &[]);
    let grants = sql::rows_text(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END,
                a.privilege_type
           FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
          WHERE c.oid = $1 AND a.grantee <> c.relowner
            AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')",
        &[target.oid.into()],
    );
    for g in grants {
        let (grantee, privilege) = (g[0].clone().unwrap_or_default(), g[1].clone().unwrap_or_default());
        sql::run(&format!("GRANT {privilege} ON {view} TO {grantee}"), &[]);
    }
}

fn comment_view(view: &str, target: &Relation) {
    let comment = format!(
        "vital_tenancy compat view over {}; drop with vital.drop_compat_view()",
        target.qualified()
    );
    sql::run(
        &format!("COMMENT ON VIEW {view} IS {}", pgrx::spi::quote_literal(comment)),
        &[],
    );
}

#[pg_extern(sql = "
CREATE FUNCTION vital.create_compat_view(alias text, target regclass) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn create_compat_view(alias: Option<&str>, target: Option<pg_sys::Oid>) {
    let alias = required(alias, "vital.create_compat_view", "alias");
    let target = required(target, "vital.create_compat_view", "target");
    as_vital_ddl(|| {
        let (schema, name) = parse_alias(alias);
        let target = catalog::existing_relation(target);
        require_table(&target, "target");
        if sql::one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            &[schema.as_str().into()],
        ) != Some(true)
        {
            raise(
                Code::ERRCODE_INVALID_SCHEMA_NAME,
                format!("schema {} does not exist", sql::ident(&schema)),
                None,
            );
        }
        let view = sql::qualified(&schema, &name);
        if let Some(oid) = relation_in(&schema, &name) {
            let same = sql::one::<bool>(
                "SELECT EXISTS (SELECT FROM vital.compat_objects
                                 WHERE kind = 'view' AND view = $1::oid::regclass AND target = $2::oid::regclass)",
                &[oid.into(), target.oid.into()],
            );
            if same == Some(true) {
                return; // already there: re-running is a no-op
            }
            raise(
                Code::ERRCODE_DUPLICATE_TABLE,
                format!("cannot create compat view {view}: a relation of that name already exists"),
                Some("Pick another alias, or drop the existing object first."),
            );
        }
        define_view(&view, &target, false);
        copy_owner_and_grants(&view, &target);
        comment_view(&view, &target);
        sql::run(
            "INSERT INTO vital.compat_objects (kind, object, target, view)
             VALUES ('view', $1, $2::oid::regclass, $3::regclass)",
            &[view.clone().into(), target.oid.into(), view.into()],
        );
    });
}

#[pg_extern(sql = "
CREATE FUNCTION vital.drop_compat_view(alias text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn drop_compat_view(alias: Option<&str>) {
    let alias = required(alias, "vital.drop_compat_view", "alias");
    as_vital_ddl(|| {
        let (schema, name) = parse_alias(alias);
        let view = sql::qualified(&schema, &name);
        let known = relation_in(&schema, &name).and_then(|oid| {
            sql::one::<i32>(
                "SELECT id FROM vital.compat_objects WHERE kind = 'view' AND view = $1::oid::regclass",
                &[oid.into()],
            )
        });
        let Some(id) = known else {
            raise(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("{view} is not a compat view made by vital.create_compat_view()"),
                Some("vital.compat_objects lists them."),
            );
        };
        sql::run("DELETE FROM vital.compat_objects WHERE id = $1", &[id.into()]);
        sql::run(&format!("DROP VIEW {view}"), &[]);
    });
}

/// After DDL on `table`: compat views over it pick up columns it gained.
pub fn refresh_views_of(table: pg_sys::Oid) {
    let views = sql::rows_text(
        "SELECT o.view::text FROM vital.compat_objects o
          WHERE o.kind = 'view' AND o.target = $1::oid::regclass
            AND (SELECT count(*) FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = o.target AND a.attnum > 0 AND NOT a.attisdropped)
             <> (SELECT count(*) FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = o.view AND a.attnum > 0 AND NOT a.attisdropped)",
        &[table.into()],
    );
    if views.is_empty() {
        return;
    }
    let target = catalog::existing_relation(table);
    for v in views {
        define_view(v[0].as_deref().unwrap_or_default(), &target, true);
    }
}

/// Runs `f` (which drops columns of `table`) with the compat views over `table` taken off
/// and put back afterwards: a view's columns cannot be dropped in place. The views come back
/// with the same names, owner, grants and comment, and keep their `vital.compat_objects` rows.
pub fn with_views_detached<R>(table: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    let views = sql::rows_text(
        "SELECT id::text, view::text FROM vital.compat_objects WHERE kind = 'view' AND target = $1::oid::regclass",
        &[table.into()],
    );
    for v in &views {
        sql::run(&format!("DROP VIEW {}", v[1].as_deref().unwrap_or_default()), &[]);
    }
    let result = f();
    let target = catalog::existing_relation(table);
    for v in &views {
        let (id, view) = (v[0].clone().unwrap_or_default(), v[1].clone().unwrap_or_default());
        define_view(&view, &target, false);
        copy_owner_and_grants(&view, &target);
        comment_view(&view, &target);
        sql::run(
            "UPDATE vital.compat_objects SET view = $2::regclass WHERE id = $1::int",
            &[id.into(), view.into()],
        );
    }
    result
}

fn column_type(rel: pg_sys::Oid, column: &str) -> Option<String> {
    sql::one::<String>(
        "SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute
          WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped",
        &[rel.into(), column.into()],
    )
}

/// The lookup column `fk_col` refers to: the foreign key's referenced column, or else the
/// lookup table's single-column primary key.
fn referenced_key(tbl: &Relation, fk_col: &str, lookup: &Relation) -> String {
    let via_fk = sql::one::<String>(
        "SELECT pa.attname::text FROM pg_catalog.pg_constraint c
           JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1]
           JOIN pg_catalog.pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
          WHERE c.contype = 'f' AND c.conrelid = $1 AND c.confrelid = $2
            AND array_length(c.conkey, 1) = 1 AND ca.attname = $3
          LIMIT 1",
        &[tbl.oid.into(), lookup.oid.into(), fk_col.into()],
    );
    let key = via_fk.or_else(|| {
        sql::one::<String>(
            "SELECT a.attname::text FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid = $1 AND i.indisprimary AND i.indnatts = 1",
            &[lookup.oid.into()],
        )
    });
    key.unwrap_or_else(|| {
        raise(
            Code::ERRCODE_INVALID_FOREIGN_KEY,
            format!(
                "cannot tell which column of {} {}.{} refers to",
                lookup.qualified(),
                tbl.qualified(),
                sql::ident(fk_col)
            ),
            Some("Add a foreign key from the column to the lookup table, or give the lookup table a one-column primary key."),
        )
    })
}

#[pg_extern(sql = "
CREATE FUNCTION vital.create_compat_column_text(tbl regclass, col text, fk_col text, lookup regclass,
                                                label_col text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION vital.create_compat_column(tbl regclass, col name, fk_col name, lookup regclass,
                                           label_col name) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS 'SELECT vital.create_compat_column_text(tbl, col::text, fk_col::text, lookup, label_col::text)';
")]
fn create_compat_column_text(
    tbl: Option<pg_sys::Oid>,
    col: Option<&str>,
    fk_col: Option<&str>,
    lookup: Option<pg_sys::Oid>,
    label_col: Option<&str>,
) {
    let f = "vital.create_compat_column";
    let (tbl, col, fk_col) = (
        required(tbl, f, "tbl"),
        required(col, f, "col"),
        required(fk_col, f, "fk_col"),
    );
    let (lookup, label_col) = (required(lookup, f, "lookup"), required(label_col, f, "label_col"));
    as_vital_ddl(|| {
        let table = catalog::existing_relation(tbl);
        let lookup = catalog::existing_relation(lookup);
        require_table(&table, "relation");
        require_table(&lookup, "lookup table");
        let t = table.qualified();

        let existing = sql::one::<bool>(
            "SELECT EXISTS (SELECT FROM vital.compat_objects
                             WHERE kind = 'column' AND target = $1::oid::regclass AND column_name = $2
                               AND fk_column = $3 AND lookup = $4::oid::regclass AND label_column = $5)",
            &[
                tbl.into(),
                col.into(),
                fk_col.into(),
                lookup.oid.into(),
                label_col.into(),
            ],
        );
        if existing == Some(true) {
            return; // the same compat column already exists
        }
        if column_type(tbl, col).is_some() {
            raise(
                Code::ERRCODE_DUPLICATE_COLUMN,
                format!("column {} of {t} already exists", sql::ident(col)),
                Some("A compat column must have a new name."),
            );
        }
        let Some(fk_type) = column_type(tbl, fk_col) else {
            raise(
                Code::ERRCODE_UNDEFINED_COLUMN,
                format!("column {} of {t} does not exist", sql::ident(fk_col)),
                None,
            );
        };
        if column_type(lookup.oid, label_col).is_none() {
            raise(
                Code::ERRCODE_UNDEFINED_COLUMN,
                format!(
                    "column {} of {} does not exist",
                    sql::ident(label_col),
                    lookup.qualified()
                ),
                None,
            );
        }
        let key = referenced_key(&table, fk_col, &lookup);
        let key_type = column_type(lookup.oid, &key).unwrap_or_default();
        if key_type != fk_type {
            raise(
                Code::ERRCODE_DATATYPE_MISMATCH,
                format!(
                    "{t}.{} is {fk_type} but {}.{} is {key_type}",
                    sql::ident(fk_col),
                    lookup.qualified(),
                    sql::ident(&key)
                ),
                Some("The foreign-key column and the lookup key must have the same type."),
            );
        }

        let (c, fk, label, key_q) = (
            sql::ident(col),
            sql::ident(fk_col),
            sql::ident(label_col),
            sql::ident(&key),
        );
        sql::run(&format!("ALTER TABLE {t} ADD COLUMN {c} text"), &[]);
        // Backfill every tenant's rows as the table's owner (privileged.rs: its CHECKs and
        // index expressions run with its own rights, and it sees every tenant's rows); user
        // triggers stay quiet, as for any column added by a migration.
        let backfill = format!(
            "UPDATE {t} t SET {c} = l.{label}::pg_catalog.text FROM {} l \
             WHERE l.{key_q} OPERATOR(pg_catalog.=) t.{fk}",
            lookup.qualified()
        );
        crate::privileged::with_setting(c"session_replication_role", c"replica", || {
            crate::privileged::as_owner_of(tbl, || sql::run(&backfill, &[]));
        });
        let id = sql::one::<i32>(
            "INSERT INTO vital.compat_objects (kind, object, target, column_name, fk_column, lookup,
                                               label_column, key_column)
             VALUES ('column', $1, $2::oid::regclass, $3, $4, $5::oid::regclass, $6, $7) RETURNING id",
            &[
                format!("{t}.{c}").into(),
                tbl.into(),
                col.into(),
                fk_col.into(),
                lookup.oid.into(),
                label_col.into(),
                key.clone().into(),
            ],
        )
        .unwrap_or_default();
        let sync = sql::ident(&sql::truncated_name(format!("vital_compat_{col}")));
        let propagate = sql::ident(&sql::truncated_name(format!("vital_compat_{}_{col}", table.name)));
        sql::run(
            &format!(
                "CREATE TRIGGER {sync} BEFORE INSERT OR UPDATE ON {t}
                 FOR EACH ROW EXECUTE FUNCTION vital.compat_column_sync('{id}')"
            ),
            &[],
        );
        sql::run(
            &format!(
                "CREATE TRIGGER {propagate} AFTER UPDATE OF {label} ON {}
                 FOR EACH ROW EXECUTE FUNCTION vital.compat_label_propagate('{id}')",
                lookup.qualified()
            ),
            &[],
        );
        // Compat views over the table show the new column too.
        refresh_views_of(tbl);
    });
}

#[pg_extern(sql = "
CREATE FUNCTION vital.drop_compat_column_text(tbl regclass, col text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION vital.drop_compat_column(tbl regclass, col name) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS 'SELECT vital.drop_compat_column_text(tbl, col::text)';
")]
fn drop_compat_column_text(tbl: Option<pg_sys::Oid>, col: Option<&str>) {
    let tbl = required(tbl, "vital.drop_compat_column", "tbl");
    let col = required(col, "vital.drop_compat_column", "col");
    as_vital_ddl(|| {
        let table = catalog::existing_relation(tbl);
        let t = table.qualified();
        let rows = sql::rows_text(
            "SELECT id::text, lookup::text FROM vital.compat_objects
              WHERE kind = 'column' AND target = $1::oid::regclass AND column_name = $2",
            &[tbl.into(), col.into()],
        );
        let Some(row) = rows.into_iter().next() else {
            raise(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!(
                    "column {} of {t} is not a compat column made by vital.create_compat_column()",
                    sql::ident(col)
                ),
                Some("vital.compat_objects lists them."),
            );
        };
        let (id, lookup) = (
            row[0].clone().unwrap_or_default(),
            row[1].clone().unwrap_or_default(),
        );
        let sync = sql::ident(&sql::truncated_name(format!("vital_compat_{col}")));
        let propagate = sql::ident(&sql::truncated_name(format!("vital_compat_{}_{col}", table.name)));
        sql::run(&format!("DROP TRIGGER IF EXISTS {sync} ON {t}"), &[]);
        sql::run(&format!("DROP TRIGGER IF EXISTS {propagate} ON {lookup}"), &[]);
        with_views_detached(tbl, || {
            sql::run(&format!("ALTER TABLE {t} DROP COLUMN {}", sql::ident(col)), &[]);
        });
        sql::run(
            "DELETE FROM vital.compat_objects WHERE id = $1::int",
            &[id.into()],
        );
    });
}

/// AFTER UPDATE OF the label on a lookup table: every row of every tenant that references the
/// updated row takes the new label. The UPDATE runs as the owner of the table with the compat
/// column (privileged.rs), so that table's own triggers, CHECKs and index expressions run with
/// its owner's rights, never vital's. The configuration comes from `vital.compat_objects`
/// (by the id in the trigger's argument), never from the trigger arguments themselves.
#[pg_trigger]
fn compat_label_propagate<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let id: i32 = match trigger.extra_args()?.first().map(|a| a.parse()) {
        Some(Ok(id)) => id,
        _ => return Ok(None),
    };
    let relid = trigger.relid()?;
    let (Some(new), Some(old)) = (trigger.new(), trigger.old()) else {
        return Ok(None);
    };
    let config = crate::privileged::as_vital(|| {
        sql::rows_text(
            "SELECT o.target::oid::text,
                    pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
                        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),
                    pg_catalog.quote_ident(o.column_name), pg_catalog.quote_ident(o.fk_column),
                    pg_catalog.quote_ident(o.label_column), pg_catalog.quote_ident(o.key_column)
               FROM vital.compat_objects o
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) o.target
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE o.id OPERATOR(pg_catalog.=) $1 AND o.kind OPERATOR(pg_catalog.=) 'column'
                AND (o.lookup OPERATOR(pg_catalog.=) $2
                     OR o.lookup OPERATOR(pg_catalog.=) ANY (
                            SELECT a.relid FROM pg_catalog.pg_partition_ancestors($2) a))",
            &[id.into(), relid.into()],
        )
    });
    let Some(cfg) = config.into_iter().next() else {
        // SAFETY: plain catalog lookup of the relation the trigger fired on; both tuples are
        // the trigger's rows of that type, alive for this call.
        let args = unsafe {
            let row_type = pg_sys::get_rel_type_id(relid);
            [
                pgrx::datum::DatumWithOid::new(new, row_type),
                pgrx::datum::DatumWithOid::new(old, row_type),
            ]
        };
        propagate_on_shard(id, relid, &args);
        return Ok(None);
    };
    let text = |i: usize| cfg[i].clone().unwrap_or_default();
    let Some(target) = sql::oid(cfg[0].as_deref()) else {
        return Ok(None);
    };
    let (table, col, fk, label, key) = (text(1), text(2), text(3), text(4), text(5));
    // $1 = the new lookup row, $2 = the old one. The first condition is a one-time filter:
    // nothing is scanned when the label did not change.
    let statement = format!(
        "UPDATE {table} t SET {col} = (($1).{label})::pg_catalog.text
          WHERE (($1).{label})::pg_catalog.text IS DISTINCT FROM (($2).{label})::pg_catalog.text
            AND t.{fk} OPERATOR(pg_catalog.=) ($1).{key}
            AND t.{col} IS DISTINCT FROM (($1).{label})::pg_catalog.text"
    );
    // SAFETY: plain catalog lookup of the relation the trigger fired on.
    let row_type = unsafe { pg_sys::get_rel_type_id(relid) };
    // SAFETY: both tuples are the trigger's rows of `row_type`, alive for this call.
    let args = unsafe {
        [
            pgrx::datum::DatumWithOid::new(new, row_type),
            pgrx::datum::DatumWithOid::new(old, row_type),
        ]
    };
    crate::privileged::as_owner_of(target, || sql::run(&statement, &args));
    Ok(None)
}

/// [`compat_label_propagate`] on a Citus shard of the lookup table: rewrites the label in this
/// node's copies of the target table (each node's copy of the lookup table fires, so every copy
/// is reached once), as the target's owner, like on one node.
/// `args` are the new and the old lookup row.
fn propagate_on_shard(id: i32, relid: pg_sys::Oid, args: &[pgrx::datum::DatumWithOid]) {
    if !crate::citus::is_shard(relid) {
        return;
    }
    let copies = crate::privileged::as_vital(|| {
        sql::rows_text(
            "SELECT target_copy, owner::text, column_name, fk_column, label_column, key_column
               FROM vital.compat_targets_on_shard($1, $2)",
            &[id.into(), relid.into()],
        )
    });
    for copy in copies {
        let text = |i: usize| copy[i].clone().unwrap_or_default();
        let (table, col, fk, label, key) = (text(0), text(2), text(3), text(4), text(5));
        let owner = sql::oid(copy[1].as_deref()).unwrap_or(pg_sys::InvalidOid);
        let statement = format!(
            "UPDATE {table} t SET {col} = (($1).{label})::pg_catalog.text
              WHERE (($1).{label})::pg_catalog.text IS DISTINCT FROM (($2).{label})::pg_catalog.text
                AND t.{fk} OPERATOR(pg_catalog.=) ($1).{key}
                AND t.{col} IS DISTINCT FROM (($1).{label})::pg_catalog.text"
        );
        // Citus refuses writes to a shard by name unless told this one is meant.
        crate::privileged::with_setting(c"citus.enable_manual_changes_to_shards", c"on", || {
            crate::privileged::as_owner(owner, || sql::run(&statement, args))
        });
    }
}
