//! The end of a tenant's life: `vital.drop_tenant` and `vital.export_tenant`.
//!
//! Each table's rows are deleted or read as that table's owner (privileged.rs), so the owner's
//! triggers and the rules of its foreign keys run with the owner's rights, never vital's.

use crate::error::{raise, required, Code};
use crate::privileged::{as_owner_of, as_vital};
use crate::registration::as_vital_ddl;
use crate::{sql, tenants};
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};

/// A registered table: its OID and its name as `regclass` prints it under the pinned path.
struct Table {
    oid: pg_sys::Oid,
    name: String,
}

/// Takes ACCESS SHARE on a listed table; false when a concurrent DROP removed it after the
/// registry was read (its rows went with it), as VACUUM does for a list of relations.
fn still_exists_locked(oid: pg_sys::Oid) -> bool {
    unsafe { pg_sys::LockRelationOid(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    let exists = unsafe {
        pg_sys::SearchSysCacheExists(
            pg_sys::SysCacheIdentifier::RELOID as i32,
            pg_sys::Datum::from(oid),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        )
    };
    if !exists {
        unsafe { pg_sys::UnlockRelationOid(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    }
    exists
}

/// Registered tables (partitions through their parent), children before parents: a table is
/// listed only after every registered table with a foreign key to it (self-references aside).
fn tables_children_first() -> Vec<Table> {
    let mut pending: Vec<Table> = sql::rows_text(
        "SELECT relid::oid::text, relid::text FROM vital.registrations WHERE parent IS NULL ORDER BY relid::oid",
        &[],
    )
    .into_iter()
    .filter_map(|r| {
        Some(Table {
            oid: sql::oid(r[0].as_deref())?,
            name: r[1].clone().unwrap_or_default(),
        })
    })
    .filter(|t| still_exists_locked(t.oid))
    .collect();
    // (child, parent) for every foreign key between two of them.
    let edges: Vec<(pg_sys::Oid, pg_sys::Oid)> = sql::rows_text(
        "SELECT DISTINCT c.conrelid::text, c.confrelid::text
           FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid <> c.confrelid
            AND c.conrelid IN (SELECT relid FROM vital.registrations WHERE parent IS NULL)
            AND c.confrelid IN (SELECT relid FROM vital.registrations WHERE parent IS NULL)",
        &[],
    )
    .into_iter()
    .filter_map(|r| Some((sql::oid(r[0].as_deref())?, sql::oid(r[1].as_deref())?)))
    .collect();
    let mut ordered: Vec<Table> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|table| {
                edges
                    .iter()
                    .filter(|(_, parent)| *parent == table.oid)
                    .all(|(child, _)| ordered.iter().any(|t| t.oid == *child))
            })
            // A cycle between tables: take the first and let the foreign keys decide.
            .unwrap_or(0);
        ordered.push(pending.remove(ready));
    }
    ordered
}

#[pg_extern]
fn drop_tenant(tenant: Option<Uuid>) -> i64 {
    let tenant = required(tenant, "vital.drop_tenant", "tenant");
    if *tenant == tenants::PLATFORM_TENANT {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("the platform tenant {tenant} cannot be dropped"),
            Some("The platform tenant owns the shared rows every tenant reads."),
        );
    }
    as_vital_ddl(|| {
        tenants::get(tenant);
        let mut deleted: u64 = 0;
        for table in tables_children_first() {
            let statement = format!(
                "DELETE FROM {} WHERE tenant_id OPERATOR(pg_catalog.=) $1",
                table.name
            );
            deleted += as_owner_of(table.oid, || {
                crate::citus::with_tenant_on_workers(tenant, || {
                    sql::execute_count(&statement, &[tenant.into()])
                })
            });
        }
        sql::run(
            "DELETE FROM vital.clone_map WHERE target = $1 OR source = $1",
            &[tenant.into()],
        );
        sql::run("DELETE FROM vital.tenants WHERE id = $1", &[tenant.into()]);
        deleted as i64
    })
}

#[pg_extern]
fn export_tenant(tenant: Option<Uuid>) -> JsonB {
    let tenant = required(tenant, "vital.export_tenant", "tenant");
    as_vital(|| {
        tenants::get(tenant);
        let header = sql::one::<JsonB>(
            "SELECT jsonb_build_object('id', id, 'slug', slug, 'name', name, 'status', status,
                                       'created_at', created_at, 'settings', settings)
               FROM vital.tenants WHERE id = $1",
            &[tenant.into()],
        )
        .map(|j| j.0)
        .unwrap_or(serde_json::Value::Null);
        let mut out = serde_json::Map::new();
        let mut tables = tables_children_first();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        for table in tables {
            // Rows in primary-key order (or physical order without one), as jsonb objects.
            let order = sql::one::<String>(
                "SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord)
                   FROM pg_catalog.pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1 AND i.indisprimary",
                &[table.oid.into()],
            )
            .map(|cols| format!(" ORDER BY {cols}"))
            .unwrap_or_default();
            let statement = format!(
                "SELECT coalesce(jsonb_agg(to_jsonb(t){order}), '[]'::jsonb) FROM {} t \
                 WHERE t.tenant_id OPERATOR(pg_catalog.=) $1",
                table.name
            );
            let rows = as_owner_of(table.oid, || {
                crate::citus::with_tenant_on_workers(tenant, || {
                    sql::one::<JsonB>(&statement, &[tenant.into()])
                })
            })
            .map(|j| j.0)
            .unwrap_or_else(|| serde_json::json!([]));
            out.insert(table.name, rows);
        }
        JsonB(serde_json::json!({ "tenant": header, "tables": out }))
    })
}
