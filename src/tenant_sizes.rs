//! `vital.tenant_sizes()`: rows and approximate bytes per tenant per registered table.
//!
//! Rows are exact: one `count(*) ... GROUP BY tenant_id` per table, which the planner answers
//! from the `tenant_id` index vital keeps on every registered table (an index-only scan where
//! the visibility map allows, so the table's wide rows are not read). Bytes are approximate:
//! the table's total size (heap, indexes, TOAST; every partition; every shard on Citus)
//! divided by row share, so a tenant whose rows are much wider than the average is
//! under-stated.
//!
//! The counts run as each table's owner (privileged.rs), whom row-level security does not
//! bind here; on a Citus table, whose shards bind the owner on the workers, as vital: a
//! `count(*)` grouped by a uuid column runs no code of the owner's (no trigger, no policy for
//! a superuser, no other column read).

use crate::privileged::{as_owner_of, as_vital};
use crate::sql;
use pgrx::prelude::*;
use pgrx::Uuid;
use std::collections::HashMap;

struct Table {
    oid: pg_sys::Oid,
    name: String,
    bytes: i64,
    citus: bool,
}

fn registered_tables() -> Vec<Table> {
    sql::rows_text(
        "SELECT c.oid::text, c.oid::pg_catalog.regclass::text
           FROM vital.registrations r JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
          WHERE r.parent IS NULL ORDER BY c.oid",
        &[],
    )
    .into_iter()
    .map(|r| {
        let oid = sql::oid(r[0].as_deref()).unwrap_or(pg_sys::InvalidOid);
        let citus = crate::citus::is_citus_table(oid);
        let size = if citus {
            "SELECT pg_catalog.citus_total_relation_size($1::pg_catalog.oid::pg_catalog.regclass)"
        } else {
            // pg_partition_tree has no rows for a table outside a partition tree.
            "SELECT coalesce((SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(p.relid))::bigint
                                FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) p),
                             pg_catalog.pg_total_relation_size($1::pg_catalog.oid::pg_catalog.regclass))"
        };
        Table {
            oid,
            name: r[1].clone().unwrap_or_default(),
            bytes: sql::one::<i64>(size, &[oid.into()]).unwrap_or(0),
            citus,
        }
    })
    .collect()
}

#[pg_extern(sql = "
CREATE FUNCTION vital.tenant_sizes()
RETURNS TABLE(tenant uuid, slug text, relid regclass, rows bigint, bytes bigint)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn tenant_sizes() -> TableIterator<
    'static,
    (
        name!(tenant, Uuid),
        name!(slug, Option<String>),
        name!(relid, pg_sys::Oid),
        name!(rows, i64),
        name!(bytes, i64),
    ),
> {
    let (tables, slugs) = as_vital(|| {
        let slugs: HashMap<String, String> = sql::rows_text("SELECT id::text, slug FROM vital.tenants", &[])
            .into_iter()
            .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
            .collect();
        (registered_tables(), slugs)
    });
    let mut out = Vec::new();
    for table in tables {
        let query = format!(
            "SELECT tenant_id::text, pg_catalog.count(*)::text FROM {} GROUP BY tenant_id",
            table.name
        );
        let count = || {
            sql::rows_text(&query, &[])
                .into_iter()
                .filter_map(|r| Some((r[0].clone()?, r[1].as_deref()?.parse::<i64>().ok()?)))
                .collect::<Vec<_>>()
        };
        let counts = if table.citus {
            as_vital(count)
        } else {
            as_owner_of(table.oid, count)
        };
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        for (tenant, rows) in counts {
            let Ok(id) = uuid::Uuid::try_parse(&tenant) else {
                continue;
            };
            let bytes = if total > 0 {
                (table.bytes as f64 * rows as f64 / total as f64).round() as i64
            } else {
                0
            };
            out.push((
                Uuid::from_bytes(*id.as_bytes()),
                slugs.get(&tenant).cloned(),
                table.oid,
                rows,
                bytes,
            ));
        }
    }
    out.sort_by(|a, b| (a.1.as_deref(), a.2.to_u32()).cmp(&(b.1.as_deref(), b.2.to_u32())));
    TableIterator::new(out)
}
