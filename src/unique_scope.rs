//! `scope_unique`: unique constraints and unique indexes (other than the primary key) of a
//! registered table become unique per tenant, with `tenant_id` as their first column, so a
//! duplicate-key error or an ON CONFLICT target never involves another tenant's rows.
//! The original definitions are recorded and restored by `unregister_table`.

use crate::catalog::Relation;
use crate::sql;
use serde::{Deserialize, Serialize};

/// One unique constraint or index as it was before vital scoped it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct OriginalUnique {
    /// "constraint" or "index".
    pub kind: String,
    pub name: String,
    /// `pg_get_constraintdef` or `pg_get_indexdef` output, fully qualified.
    pub definition: String,
}

/// Runs a catalog query returning (name, definition) rows for `rel` as originals of `kind`.
fn originals(kind: &str, query: &str, rel: &Relation) -> Vec<OriginalUnique> {
    sql::rows_text(query, &[rel.oid.into()])
        .into_iter()
        .map(|r| OriginalUnique {
            kind: kind.into(),
            name: r[0].clone().unwrap_or_default(),
            definition: r[1].clone().unwrap_or_default(),
        })
        .collect()
}

/// Unique constraints of `rel` that do not include `tenant_id`, are not inherited from a
/// partitioned parent, and that no foreign key depends on.
fn global_constraints(rel: &Relation) -> Vec<OriginalUnique> {
    originals(
        "constraint",
        "SELECT c.conname::text, pg_catalog.pg_get_constraintdef(c.oid)
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
        "SELECT ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid)
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
        originals.push(i);
    }
    originals
}

/// Puts the recorded originals back. Fails (and so rolls the caller back) when tenants now
/// share a value that the global key would refuse: the error names the key.
pub fn restore(rel: &Relation, originals: &[OriginalUnique]) {
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
