//! The end of a tenant's life: `vital.drop_tenant` and `vital.export_tenant`.

use crate::error::{raise, required, Code};
use crate::privileged::as_superuser;
use crate::registration::as_vital_ddl;
use crate::{sql, tenants};
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};

/// Registered tables (partitions through their parent), children before parents: a table is
/// listed only after every registered table with a foreign key to it (self-references aside).
fn tables_children_first() -> Vec<(pg_sys::Oid, String)> {
    let rows = sql::rows_text(
        "SELECT r.relid::oid::text, r.relid::text,
                coalesce((SELECT array_agg(DISTINCT c.conrelid::oid)::text
                            FROM pg_catalog.pg_constraint c
                           WHERE c.contype = 'f' AND c.confrelid = r.relid AND c.conrelid <> r.relid
                             AND c.conparentid = 0
                             AND c.conrelid IN (SELECT relid FROM vital.registrations WHERE parent IS NULL)),
                         '{}')
           FROM vital.registrations r WHERE r.parent IS NULL ORDER BY r.relid::oid",
        &[],
    );
    let parse_oid = |s: &str| pg_sys::Oid::from(s.parse::<u32>().unwrap_or(0));
    let mut pending: Vec<(pg_sys::Oid, String, Vec<pg_sys::Oid>)> = rows
        .into_iter()
        .map(|r| {
            let children = r[2]
                .as_deref()
                .unwrap_or("{}")
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter(|s| !s.is_empty())
                .map(parse_oid)
                .collect();
            (
                parse_oid(r[0].as_deref().unwrap_or("0")),
                r[1].clone().unwrap_or_default(),
                children,
            )
        })
        .collect();
    let mut ordered: Vec<(pg_sys::Oid, String)> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|(_, _, children)| children.iter().all(|c| ordered.iter().any(|(o, _)| o == c)))
            // A cycle between tables: take the first and let the foreign keys decide.
            .unwrap_or(0);
        let (oid, name, _) = pending.remove(ready);
        ordered.push((oid, name));
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
        for (_, table) in tables_children_first() {
            deleted += sql::execute_count(
                &format!("DELETE FROM {table} WHERE tenant_id = $1"),
                &[tenant.into()],
            );
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
    as_superuser(|| {
        tenants::get(tenant);
        let header = sql::one::<JsonB>(
            "SELECT jsonb_build_object('id', id, 'slug', slug, 'name', name, 'status', status,
                                       'created_at', created_at, 'settings', settings)
               FROM vital.tenants WHERE id = $1",
            &[tenant.into()],
        )
        .map(|j| j.0)
        .unwrap_or(serde_json::Value::Null);
        let mut tables = serde_json::Map::new();
        let mut names: Vec<String> = tables_children_first().into_iter().map(|(_, n)| n).collect();
        names.sort();
        for table in names {
            // Rows in primary-key order (or physical order without one), as jsonb objects.
            let order = sql::one::<String>(
                "SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord)
                   FROM pg_catalog.pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1::regclass AND i.indisprimary",
                &[table.clone().into()],
            )
            .map(|cols| format!(" ORDER BY {cols}"))
            .unwrap_or_default();
            let rows = sql::one::<JsonB>(
                &format!(
                    "SELECT coalesce(jsonb_agg(to_jsonb(t){order}), '[]'::jsonb) FROM {table} t WHERE t.tenant_id = $1"
                ),
                &[tenant.into()],
            )
            .map(|j| j.0)
            .unwrap_or_else(|| serde_json::json!([]));
            tables.insert(table, rows);
        }
        JsonB(serde_json::json!({ "tenant": header, "tables": tables }))
    })
}
