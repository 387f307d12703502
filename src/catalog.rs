//! What vital needs to know about a relation, read from the system catalogs.

use crate::error::{raise, Code};
use crate::sql;
use pgrx::prelude::*;

/// The facts about one relation that registration decisions depend on.
#[derive(Clone, Debug)]
pub struct Relation {
    pub oid: pg_sys::Oid,
    pub schema: String,
    pub name: String,
    /// `pg_class.relkind`: 'r' table, 'p' partitioned table, 'v' view, ...
    pub kind: String,
    /// `pg_class.relpersistence`: 'p' permanent, 'u' unlogged, 't' temporary.
    pub persistence: String,
    pub is_partition: bool,
    pub row_security: bool,
    pub force_row_security: bool,
}

impl Relation {
    /// `schema.name`, quoted.
    pub fn qualified(&self) -> String {
        sql::qualified(&self.schema, &self.name)
    }

    pub fn is_partitioned(&self) -> bool {
        self.kind == "p"
    }
}

pub fn relation(oid: pg_sys::Oid) -> Option<Relation> {
    let rows = sql::rows_text(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text,
                c.relispartition::text, c.relrowsecurity::text, c.relforcerowsecurity::text
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = $1",
        &[oid.into()],
    );
    let row = rows.into_iter().next()?;
    let text = |i: usize| row[i].clone().unwrap_or_default();
    Some(Relation {
        oid,
        schema: text(0),
        name: text(1),
        kind: text(2),
        persistence: text(3),
        is_partition: text(4) == "true",
        row_security: text(5) == "true",
        force_row_security: text(6) == "true",
    })
}

/// Like [`relation`], but a missing relation is an error.
pub fn existing_relation(oid: pg_sys::Oid) -> Relation {
    relation(oid).unwrap_or_else(|| {
        raise(
            Code::ERRCODE_UNDEFINED_TABLE,
            format!("relation with OID {} does not exist", oid.to_u32()),
            None,
        )
    })
}

/// The direct partitions of a partitioned table.
pub fn partitions(oid: pg_sys::Oid) -> Vec<pg_sys::Oid> {
    sql::column::<pg_sys::Oid>(
        "SELECT i.inhrelid FROM pg_catalog.pg_inherits i
           JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1 AND c.relkind IN ('r', 'p')
          ORDER BY i.inhrelid",
        &[oid.into()],
    )
}

/// The partitioned table a partition belongs to.
pub fn partition_parent(oid: pg_sys::Oid) -> Option<pg_sys::Oid> {
    sql::one::<pg_sys::Oid>(
        "SELECT i.inhparent FROM pg_catalog.pg_inherits i
           JOIN pg_catalog.pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
          WHERE i.inhrelid = $1",
        &[oid.into()],
    )
}

/// What the `tenant_id` column of a relation looks like, if it has one.
pub struct TenantColumn {
    pub type_name: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub comment: Option<String>,
}

pub fn tenant_column(oid: pg_sys::Oid) -> Option<TenantColumn> {
    let rows = sql::rows_text(
        "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                pg_catalog.pg_get_expr(d.adbin, d.adrelid), pg_catalog.col_description(a.attrelid, a.attnum)
           FROM pg_catalog.pg_attribute a
           LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1 AND a.attname = 'tenant_id' AND NOT a.attisdropped AND a.attnum > 0",
        &[oid.into()],
    );
    let row = rows.into_iter().next()?;
    Some(TenantColumn {
        type_name: row[0].clone().unwrap_or_default(),
        not_null: row[1].as_deref() == Some("true"),
        default: row[2].clone(),
        comment: row[3].clone(),
    })
}
