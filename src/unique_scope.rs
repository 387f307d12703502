//! `scope_unique`: unique constraints and unique indexes (other than the primary key) of a
//! registered table become unique per tenant, with `tenant_id` as their first column, so a
//! duplicate-key error or an ON CONFLICT target never involves another tenant's rows.
//!
//! Each scoped key carries a comment that marks it as vital's (and keeps the original comment).
//! `unregister_table` finds the scoped keys by that mark and takes `tenant_id` out of their
//! *current* definitions, so renaming the table, its columns or the keys in between does not
//! matter. (Registrations made before the mark existed are restored from the recorded
//! definitions, as before.)

use crate::catalog::Relation;
use crate::error::{raise, Code};
use crate::privileged::{as_owner_of, as_vital};
use crate::sql;
use serde::{Deserialize, Serialize};

/// The comment on a key vital scoped; an original comment follows `ORIGINAL_COMMENT`.
const SCOPED_MARK: &str = "vital_tenancy: scoped per tenant by vital.register_table()";
const ORIGINAL_COMMENT: &str = "\noriginal comment: ";

/// One unique constraint or index as it was before vital scoped it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct OriginalUnique {
    /// "constraint" or "index".
    pub kind: String,
    pub name: String,
    /// `pg_get_constraintdef` or `pg_get_indexdef` output, fully qualified.
    pub definition: String,
    /// Its comment, if it had one.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Runs a catalog query returning (name, definition) rows for `rel` as originals of `kind`.
fn originals(kind: &str, query: &str, rel: &Relation) -> Vec<OriginalUnique> {
    sql::rows_text(query, &[rel.oid.into()])
        .into_iter()
        .map(|r| OriginalUnique {
            kind: kind.into(),
            name: r[0].clone().unwrap_or_default(),
            definition: r[1].clone().unwrap_or_default(),
            comment: r[2].clone(),
        })
        .collect()
}

/// Unique constraints of `rel` that do not include `tenant_id`, are not inherited from a
/// partitioned parent, and that no foreign key depends on.
fn global_constraints(rel: &Relation) -> Vec<OriginalUnique> {
    originals(
        "constraint",
        "SELECT c.conname::text, pg_catalog.pg_get_constraintdef(c.oid),
                pg_catalog.obj_description(c.oid, 'pg_constraint')
           FROM pg_catalog.pg_constraint c
          WHERE c.conrelid = $1 AND c.contype = 'u' AND c.conparentid = 0
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                               AND a.attname = 'tenant_id')
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint f
                             WHERE f.contype = 'f' AND f.conindid = c.conindid)
          ORDER BY c.conname",
        rel,
    )
}

/// Unique indexes that back no constraint, are not partitions of a parent index, do not
/// include `tenant_id`, and that no foreign key depends on.
fn global_indexes(rel: &Relation) -> Vec<OriginalUnique> {
    originals(
        "index",
        "SELECT ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid),
                pg_catalog.obj_description(i.indexrelid, 'pg_class')
           FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid
                                                                     AND c.contype IN ('p', 'u', 'x'))
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
                               AND a.attname = 'tenant_id')
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint f
                             WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
          ORDER BY ic.relname",
        rel,
    )
}

/// Inserts `tenant_id, ` right after the first `(` that follows `marker` in `definition`:
/// the key column list of `UNIQUE (...)` or of `CREATE UNIQUE INDEX ... USING am (...)`.
fn with_leading_tenant(definition: &str, marker: &str) -> Option<String> {
    let from = definition.find(marker)? + marker.len();
    let paren = from + definition[from..].find('(')?;
    Some(format!(
        "{}tenant_id, {}",
        &definition[..=paren],
        &definition[paren + 1..]
    ))
}

/// Scopes every global unique key of `rel`; returns the originals, to restore later.
pub fn scope(rel: &Relation) -> Vec<OriginalUnique> {
    let table = rel.qualified();
    let mut originals = Vec::new();
    for c in global_constraints(rel) {
        let Some(scoped) = with_leading_tenant(&c.definition, "UNIQUE") else {
            continue;
        };
        let name = sql::ident(&c.name);
        sql::run(
            &format!("ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {scoped}"),
            &[],
        );
        let mark = pgrx::spi::quote_literal(scoped_mark(c.comment.as_deref()));
        sql::run(&format!("COMMENT ON CONSTRAINT {name} ON {table} IS {mark}"), &[]);
        originals.push(c);
    }
    for i in global_indexes(rel) {
        // Anchor on the table name so that an index name cannot confuse the search.
        let plain = format!(" ON {table} USING ");
        let only = format!(" ON ONLY {table} USING ");
        let Some(scoped) =
            with_leading_tenant(&i.definition, &plain).or_else(|| with_leading_tenant(&i.definition, &only))
        else {
            continue;
        };
        sql::run(
            &format!("DROP INDEX {}", sql::qualified(&rel.schema, &i.name)),
            &[],
        );
        sql::run(&scoped, &[]);
        let mark = pgrx::spi::quote_literal(scoped_mark(i.comment.as_deref()));
        sql::run(
            &format!(
                "COMMENT ON INDEX {} IS {mark}",
                sql::qualified(&rel.schema, &i.name)
            ),
            &[],
        );
        originals.push(i);
    }
    originals
}

fn scoped_mark(original_comment: Option<&str>) -> String {
    match original_comment {
        Some(comment) => format!("{SCOPED_MARK}{ORIGINAL_COMMENT}{comment}"),
        None => SCOPED_MARK.to_string(),
    }
}

/// The original comment kept in a scoped key's mark, as a SQL literal (or NULL).
fn original_comment_literal(mark: &str) -> String {
    match mark.split_once(ORIGINAL_COMMENT) {
        Some((_, comment)) => pgrx::spi::quote_literal(comment),
        None => "NULL".to_string(),
    }
}

/// Removes the `tenant_id, ` that `with_leading_tenant` put after the first `(` following
/// `marker`.
fn without_leading_tenant(definition: &str, marker: &str) -> Option<String> {
    let from = definition.find(marker)? + marker.len();
    let paren = from + definition[from..].find('(')?;
    let rest = definition[paren + 1..].strip_prefix("tenant_id, ")?;
    Some(format!("{}{rest}", &definition[..=paren]))
}

/// A key vital scoped, as it is now.
struct ScopedKey {
    /// "constraint" or "index".
    kind: String,
    name: String,
    definition: String,
    mark: String,
    /// Its key's plain columns after tenant_id, quoted; empty when it has expressions.
    columns: Vec<String>,
    /// Its index's predicate, for partial unique indexes.
    predicate: Option<String>,
}

fn scoped_keys(rel: &Relation) -> Vec<ScopedKey> {
    sql::rows_text(
        "SELECT CASE WHEN c.oid IS NULL THEN 'index' ELSE 'constraint' END,
                coalesce(c.conname, ic.relname)::text,
                coalesce(pg_catalog.pg_get_constraintdef(c.oid), pg_catalog.pg_get_indexdef(i.indexrelid)),
                coalesce(pg_catalog.obj_description(c.oid, 'pg_constraint'),
                         pg_catalog.obj_description(i.indexrelid, 'pg_class')),
                CASE WHEN 0 = ANY (i.indkey::int2[]) THEN NULL
                     ELSE (SELECT string_agg(pg_catalog.quote_ident(a.attname), ',' ORDER BY k.ord)
                             FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                            WHERE k.ord > 1 AND k.ord <= i.indnkeyatts) END,
                pg_catalog.pg_get_expr(i.indpred, i.indrelid)
           FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
           LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
                                                AND c.conrelid = i.indrelid
          WHERE i.indrelid = $1 AND i.indisunique
            AND pg_catalog.starts_with(coalesce(pg_catalog.obj_description(c.oid, 'pg_constraint'),
                                     pg_catalog.obj_description(i.indexrelid, 'pg_class')), $2)
          ORDER BY 2",
        &[rel.oid.into(), SCOPED_MARK.into()],
    )
    .into_iter()
    .map(|r| {
        let text = |i: usize| r[i].clone().unwrap_or_default();
        ScopedKey {
            kind: text(0),
            name: text(1),
            definition: text(2),
            mark: text(3),
            columns: r[4]
                .as_deref()
                .map(|c| c.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            predicate: r[5].clone(),
        }
    })
    .collect()
}

/// Refuses (23505, naming the key and the tenants) when rows of different tenants share a
/// value that `key` without `tenant_id` would refuse. Keys over expressions are left to
/// PostgreSQL's own error.
fn check_no_shared_values(rel: &Relation, key: &ScopedKey) {
    if key.columns.is_empty() {
        return;
    }
    let columns = key.columns.join(", ");
    let not_null: Vec<String> = key.columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    let predicate = key
        .predicate
        .as_deref()
        .map(|p| format!(" AND ({p})"))
        .unwrap_or_default();
    let query = format!(
        "SELECT pg_catalog.array_to_string(pg_catalog.array_agg(DISTINCT tenant_id::pg_catalog.text), ',')
           FROM {} WHERE {}{predicate}
          GROUP BY {columns} HAVING pg_catalog.count(DISTINCT tenant_id) OPERATOR(pg_catalog.>) 1 LIMIT 1",
        rel.qualified(),
        not_null.join(" AND ")
    );
    // Every tenant's rows, read as the table's owner (privileged.rs).
    let Some(tenants) = as_owner_of(rel.oid, || sql::one::<String>(&query, &[])) else {
        return;
    };
    let ids: Vec<String> = tenants.split(',').map(str::to_string).collect();
    let slugs = as_vital(|| {
        sql::one::<String>(
            "SELECT string_agg(coalesce(t.slug, u.id), ', ' ORDER BY u.id)
               FROM unnest($1::text[]) u(id) LEFT JOIN vital.tenants t ON t.id::text = u.id",
            &[ids.into()],
        )
    })
    .unwrap_or_default();
    raise(
        Code::ERRCODE_UNIQUE_VIOLATION,
        format!(
            "cannot unregister {}: tenants {slugs} share a value of ({}) that its unique key {} would refuse without tenant_id",
            rel.qualified(),
            key.columns.join(", "),
            sql::ident(&key.name)
        ),
        Some("Make the values distinct or delete one tenant's rows (vital.drop_tenant), then unregister again; nothing was changed."),
    );
}

/// Puts the unique keys back as they were before scoping. Fails (and so rolls the caller back)
/// when tenants now share a value that a global key would refuse: the error names the key and
/// the tenants.
pub fn restore(rel: &Relation, originals: &[OriginalUnique]) {
    let table = rel.qualified();
    let scoped = scoped_keys(rel);
    if scoped.is_empty() {
        restore_recorded(rel, originals);
        return;
    }
    for key in &scoped {
        check_no_shared_values(rel, key);
    }
    for key in scoped {
        let name = sql::ident(&key.name);
        let comment = original_comment_literal(&key.mark);
        if key.kind == "constraint" {
            let Some(global) = without_leading_tenant(&key.definition, "UNIQUE") else {
                continue;
            };
            sql::run(
                &format!("ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {global}"),
                &[],
            );
            sql::run(
                &format!("COMMENT ON CONSTRAINT {name} ON {table} IS {comment}"),
                &[],
            );
        } else {
            let Some(global) = without_leading_tenant(&key.definition, &format!(" ON {table} USING "))
                .or_else(|| without_leading_tenant(&key.definition, &format!(" ON ONLY {table} USING ")))
            else {
                continue;
            };
            let index = sql::qualified(&rel.schema, &key.name);
            sql::run(&format!("DROP INDEX {index}"), &[]);
            sql::run(&global, &[]);
            sql::run(&format!("COMMENT ON INDEX {index} IS {comment}"), &[]);
        }
    }
}

/// The restore of registrations made before scoped keys were marked: the recorded definitions.
fn restore_recorded(rel: &Relation, originals: &[OriginalUnique]) {
    let table = rel.qualified();
    for o in originals {
        let name = sql::ident(&o.name);
        if o.kind == "constraint" {
            sql::run(
                &format!(
                    "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}, ADD CONSTRAINT {name} {}",
                    o.definition
                ),
                &[],
            );
        } else {
            sql::run(
                &format!("DROP INDEX IF EXISTS {}", sql::qualified(&rel.schema, &o.name)),
                &[],
            );
            sql::run(&o.definition, &[]);
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::with_leading_tenant;
    use pgrx::prelude::*;

    #[pg_test]
    fn tenant_id_goes_first_in_the_key() {
        assert_eq!(
            with_leading_tenant("UNIQUE NULLS NOT DISTINCT (a, b) INCLUDE (c)", "UNIQUE").unwrap(),
            "UNIQUE NULLS NOT DISTINCT (tenant_id, a, b) INCLUDE (c)"
        );
        assert_eq!(
            with_leading_tenant(
                "CREATE UNIQUE INDEX x ON public.t USING btree (lower(name)) WHERE (a > 1)",
                " ON public.t USING "
            )
            .unwrap(),
            "CREATE UNIQUE INDEX x ON public.t USING btree (tenant_id, lower(name)) WHERE (a > 1)"
        );
    }
}
