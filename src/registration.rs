//! `vital.register_table`, `vital.unregister_table`, `vital.register_schema`,
//! `vital.unregister_schema`: make a table tenant-aware, and undo it exactly.
//!
//! Registration, in the caller's transaction, holding an ACCESS EXCLUSIVE lock on the table:
//! 1. `tenant_id uuid NOT NULL`: added with the platform tenant as a constant default, which
//!    PostgreSQL stores in the catalog (no rewrite, no UPDATE); only then is the default
//!    switched to `vital.current_tenant()`. An existing `tenant_id uuid` is reused.
//! 2. an index leading with `tenant_id`, unless one exists (built in the caller's transaction:
//!    it holds the lock while it scans the table);
//! 3. ENABLE and FORCE row-level security; 4. the four policies (`policies.rs`);
//! 5. partitions, present (here) and future (the event trigger);
//! 6. unique keys scoped per tenant (`unique_scope.rs`); 7. foreign-key guards (`fk_guard.rs`).
//!
//! Everything needed to undo it is recorded in `vital.registrations`.

use crate::catalog::{self, Relation};
use crate::error::{raise, required, Code};
use crate::privileged::as_vital;
use crate::unique_scope::{self, OriginalUnique};
use crate::{fk_guard, policies, sql};
use pgrx::prelude::*;
use pgrx::JsonB;
use std::cell::Cell;

const PLATFORM_LITERAL: &str = "'00000000-0000-0000-0000-000000000001'::pg_catalog.uuid";

/// Comment left on a `tenant_id` that vital added and `unregister_table` kept, so that a later
/// registration knows the column is vital's and `drop_column => true` may remove it.
const KEPT_COLUMN_COMMENT: &str =
    "vital_tenancy: added by vital.register_table(), kept by vital.unregister_table()";

thread_local! {
    static IN_VITAL_DDL: Cell<bool> = const { Cell::new(false) };
}

/// True while vital itself runs DDL: the event trigger stays out of its way.
pub fn in_vital_ddl() -> bool {
    IN_VITAL_DDL.with(|f| f.get())
}

/// Marks the current backend as running vital's own DDL until dropped (also on error, since
/// PostgreSQL errors unwind through Rust frames in pgrx).
pub struct VitalDdl {
    previous: bool,
}

impl VitalDdl {
    pub fn enter() -> Self {
        VitalDdl {
            previous: IN_VITAL_DDL.with(|f| f.replace(true)),
        }
    }
}

impl Drop for VitalDdl {
    fn drop(&mut self) {
        IN_VITAL_DDL.with(|f| f.set(self.previous));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Table,
    Schema,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Table => "table",
            Via::Schema => "schema",
        }
    }
}

/// The recorded state of one registration.
struct Registration {
    parent: Option<pg_sys::Oid>,
    column_added: bool,
    column_default_before: Option<String>,
    column_not_null_before: Option<bool>,
    index_created: Option<String>,
    rls_before: bool,
    force_rls_before: bool,
    scope_unique: bool,
    uniques_before: Vec<OriginalUnique>,
    via: String,
}

fn load(oid: pg_sys::Oid) -> Option<Registration> {
    let rows = sql::rows_text(
        "SELECT parent::oid::text, column_added::text, column_default_before, column_not_null_before::text,
                index_created::text, rls_before::text, force_rls_before::text, scope_unique::text,
                uniques_before::text, via
           FROM vital.registrations WHERE relid = $1",
        &[oid.into()],
    );
    let r = rows.into_iter().next()?;
    let flag = |i: usize| r[i].as_deref() == Some("true");
    Some(Registration {
        parent: sql::oid(r[0].as_deref()),
        column_added: flag(1),
        column_default_before: r[2].clone(),
        column_not_null_before: r[3].as_deref().map(|s| s == "true"),
        index_created: r[4].clone(),
        rls_before: flag(5),
        force_rls_before: flag(6),
        scope_unique: flag(7),
        uniques_before: serde_json::from_str(r[8].as_deref().unwrap_or("[]")).unwrap_or_default(),
        via: r[9].clone().unwrap_or_else(|| "table".into()),
    })
}

pub fn is_registered(oid: pg_sys::Oid) -> bool {
    sql::one::<bool>(
        "SELECT EXISTS (SELECT FROM vital.registrations WHERE relid = $1)",
        &[oid.into()],
    )
    .unwrap_or(false)
}

/// Refuses everything that cannot be made tenant-aware, before anything is changed.
fn check_registrable(rel: &Relation) {
    let what = match rel.kind.as_str() {
        "r" | "p" => None,
        "v" => Some("a view"),
        "m" => Some("a materialized view"),
        "f" => Some("a foreign table"),
        "S" => Some("a sequence"),
        "i" | "I" => Some("an index"),
        "c" => Some("a composite type"),
        "t" => Some("a TOAST table"),
        _ => Some("not a table"),
    };
    if let Some(what) = what {
        raise(
            Code::ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot register {}: it is {what}", rel.qualified()),
            Some("Only ordinary and partitioned tables can be registered; register the tables a view reads."),
        );
    }
    if rel.persistence == "t" {
        raise(
            Code::ERRCODE_WRONG_OBJECT_TYPE,
            // The pg_temp_N schema name varies by backend; the table name is enough.
            format!(
                "cannot register {}: it is a temporary table",
                sql::ident(&rel.name)
            ),
            None,
        );
    }
    if matches!(
        rel.schema.as_str(),
        "pg_catalog" | "information_schema" | "pg_toast"
    ) {
        raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot register {}: it is a system catalog", rel.qualified()),
            None,
        );
    }
    if rel.schema == "vital" {
        raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "cannot register {}: it belongs to vital_tenancy itself",
                rel.qualified()
            ),
            None,
        );
    }
}

/// Adds or adopts `tenant_id`. Returns (added, default before, NOT NULL before).
fn ensure_tenant_column(rel: &Relation) -> (bool, Option<String>, Option<bool>) {
    let table = rel.qualified();
    match catalog::tenant_column(rel.oid) {
        None => {
            // A constant default is stored in the catalog: no rewrite, no UPDATE, and existing
            // rows belong to the platform tenant (never to the migrating session's tenant).
            sql::run(
                &format!("ALTER TABLE {table} ADD COLUMN tenant_id uuid NOT NULL DEFAULT {PLATFORM_LITERAL}"),
                &[],
            );
            (true, None, None)
        }
        Some(col) if col.type_name != "uuid" => raise(
            Code::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "cannot register {table}: its column tenant_id is of type {}, not uuid",
                col.type_name
            ),
            Some("Rename or convert the column, then register the table again."),
        ),
        Some(col) if col.comment.as_deref() == Some(KEPT_COLUMN_COMMENT) => {
            sql::run(&format!("COMMENT ON COLUMN {table}.tenant_id IS NULL"), &[]);
            (true, None, None)
        }
        Some(col) => {
            if !col.not_null {
                // As the table's owner (privileged.rs): the UPDATE fires the owner's triggers
                // and CHECKs, and SET NOT NULL evaluates the owner's CHECK expressions while it
                // proves the column has no NULLs; neither may run with vital's rights.
                let backfill =
                    format!("UPDATE {table} SET tenant_id = {PLATFORM_LITERAL} WHERE tenant_id IS NULL");
                let not_null = format!("ALTER TABLE {table} ALTER COLUMN tenant_id SET NOT NULL");
                crate::privileged::as_owner_of(rel.oid, || {
                    sql::run(&backfill, &[]);
                    sql::run(&not_null, &[]);
                });
            }
            (false, col.default, Some(col.not_null))
        }
    }
}

/// Creates an index on `(tenant_id)` unless an index already leads with it; returns its name.
fn ensure_tenant_index(rel: &Relation) -> Option<String> {
    let exists = sql::one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_index i
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                         WHERE i.indrelid = $1 AND a.attname = 'tenant_id')",
        &[rel.oid.into()],
    )
    .unwrap_or(false);
    if exists {
        return None;
    }
    sql::run(&format!("CREATE INDEX ON {} (tenant_id)", rel.qualified()), &[]);
    sql::one::<String>(
        "SELECT c.relname::text FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
           JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = $1 AND a.attname = 'tenant_id'
          ORDER BY i.indexrelid DESC LIMIT 1",
        &[rel.oid.into()],
    )
}

/// Registers `oid` (and its partitions). Runs as superuser with vital's DDL flag set.
pub fn register(
    oid: pg_sys::Oid,
    shared_reads: bool,
    scope_unique: bool,
    via: Via,
    parent: Option<pg_sys::Oid>,
) {
    let rel = catalog::existing_relation(oid);
    check_registrable(&rel);
    let table = rel.qualified();
    crate::citus::refuse_citus_table(oid, &table, "registered");
    if rel.is_partition && parent.is_none() && !is_registered(oid) {
        let parent_name = catalog::partition_parent(oid)
            .and_then(catalog::relation)
            .map(|p| p.qualified())
            .unwrap_or_default();
        raise(
            Code::ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot register {table} on its own: it is a partition of {parent_name}"),
            Some("Register the partitioned table; its partitions are registered with it."),
        );
    }
    // Serializes concurrent registrations of the same table; the loser sees the winner's row.
    sql::run(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"), &[]);
    // Read the table again under the lock: a concurrent unregister may have just changed its
    // row-security flags, which are recorded below as the state to restore.
    let rel = catalog::existing_relation(oid);
    let previous = load(oid);

    let (column_added, default_before, not_null_before, index_created, rls_before, force_before) =
        match &previous {
            Some(p) => (
                p.column_added,
                p.column_default_before.clone(),
                p.column_not_null_before,
                // Registering again repairs a dropped tenant index.
                ensure_tenant_index(&rel).or_else(|| p.index_created.clone()),
                p.rls_before,
                p.force_rls_before,
            ),
            None => {
                let (added, default, not_null) = if parent.is_some() {
                    // The parent's ADD COLUMN reached the partition already, or ATTACH
                    // required a matching column.
                    let col = catalog::tenant_column(oid);
                    (
                        false,
                        col.as_ref().and_then(|c| c.default.clone()),
                        col.map(|c| c.not_null),
                    )
                } else {
                    ensure_tenant_column(&rel)
                };
                let index = ensure_tenant_index(&rel);
                (
                    added,
                    default,
                    not_null,
                    index,
                    rel.row_security,
                    rel.force_row_security,
                )
            }
        };
    sql::run(
        &format!("ALTER TABLE {table} ALTER COLUMN tenant_id SET DEFAULT vital.current_tenant()"),
        &[],
    );

    policies::enable_row_security(&rel);
    policies::create_policies(&rel, shared_reads);

    let mut uniques: Vec<OriginalUnique> = previous
        .as_ref()
        .map(|p| p.uniques_before.clone())
        .unwrap_or_default();
    let was_scoped = previous.as_ref().map(|p| p.scope_unique).unwrap_or(false);
    if scope_unique {
        uniques.extend(unique_scope::scope(&rel));
    } else if was_scoped {
        unique_scope::restore(&rel, &uniques);
        uniques.clear();
    }

    let via_text = previous
        .as_ref()
        .map(|p| p.via.clone())
        .unwrap_or_else(|| via.as_str().to_string());
    let uniques_json = JsonB(serde_json::to_value(&uniques).unwrap_or_default());
    sql::run(
        "INSERT INTO vital.registrations AS r
                (relid, shared_reads, via, parent, scope_unique, column_added, column_default_before,
                 column_not_null_before, index_created, rls_before, force_rls_before, uniques_before)
         VALUES ($1::oid::regclass, $2, $3, $4::oid::regclass, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (relid) DO UPDATE
            SET shared_reads = EXCLUDED.shared_reads, scope_unique = EXCLUDED.scope_unique,
                uniques_before = EXCLUDED.uniques_before, index_created = EXCLUDED.index_created",
        &[
            oid.into(),
            shared_reads.into(),
            via_text.into(),
            parent.into(),
            scope_unique.into(),
            column_added.into(),
            default_before.into(),
            not_null_before.into(),
            index_created.into(),
            rls_before.into(),
            force_before.into(),
            uniques_json.into(),
        ],
    );
    sql::run(
        "UPDATE vital.registrations SET policy_fingerprint = $2 WHERE relid = $1",
        &[oid.into(), policies::fingerprint(&rel).into()],
    );

    if rel.is_partitioned() {
        for part in catalog::partitions(oid) {
            register(part, shared_reads, scope_unique, via, Some(oid));
        }
    }
    // Compat views over the table show tenant_id too (the event trigger skips vital's own DDL).
    crate::compat::refresh_views_of(oid);
}

/// Undoes a registration exactly (partitions first). The caller then drops the foreign-key
/// guards that no longer apply (`fk_guard::sync_all`), once for all the tables it unregistered.
pub fn unregister(oid: pg_sys::Oid, drop_column: bool, merge_tenants: bool, through_parent: bool) {
    let rel = catalog::existing_relation(oid);
    let table = rel.qualified();
    crate::citus::refuse_citus_table(oid, &table, "unregistered");
    // Lock first, then read the registration: a concurrent unregister that committed while we
    // waited is seen, and this call fails cleanly instead of undoing things twice.
    sql::run(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"), &[]);
    let Some(reg) = load(oid) else {
        // Unregistered already (say by unregister_schema), but still holding the tenant_id that
        // vital added and kept: dropping it finishes the rollback.
        let kept =
            catalog::tenant_column(oid).is_some_and(|c| c.comment.as_deref() == Some(KEPT_COLUMN_COMMENT));
        if drop_column && kept && !through_parent {
            if !merge_tenants {
                refuse_merging_tenants(&rel);
            }
            crate::compat::with_views_detached(oid, || {
                sql::run(&format!("ALTER TABLE {table} DROP COLUMN tenant_id"), &[]);
            });
            return;
        }
        raise(
            Code::ERRCODE_UNDEFINED_OBJECT,
            format!("table {table} is not registered with vital"),
            Some("vital.registered_tables lists the registered tables."),
        );
    };
    if let (Some(parent), false) = (reg.parent, through_parent) {
        let parent_name = catalog::relation(parent)
            .map(|p| p.qualified())
            .unwrap_or_default();
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{table} is registered as a partition of {parent_name}"),
            Some("Unregister the partitioned table; its partitions are unregistered with it."),
        );
    }
    if drop_column && reg.column_added && reg.parent.is_none() && !merge_tenants {
        refuse_merging_tenants(&rel);
    }
    for part in sql::column::<pg_sys::Oid>(
        "SELECT relid::oid FROM vital.registrations WHERE parent = $1::oid::regclass",
        &[oid.into()],
    ) {
        unregister(part, drop_column, merge_tenants, true);
    }

    sql::run("DELETE FROM vital.registrations WHERE relid = $1", &[oid.into()]);
    fk_guard::drop_guards_on(oid);
    policies::drop_policies(&rel);
    policies::restore_row_security(&rel, reg.rls_before, reg.force_rls_before);
    if reg.scope_unique {
        unique_scope::restore(&rel, &reg.uniques_before);
    }
    if let Some(index) = &reg.index_created {
        // An index that became a partition of the parent's index (the table was attached to a
        // registered parent) goes with the parent's, which is dropped after its partitions.
        let attached = sql::one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                             WHERE c.relname = $1 AND c.relnamespace = $2)",
            &[index.as_str().into(), rel_namespace(oid).into()],
        )
        .unwrap_or(false);
        if !attached {
            sql::run(
                &format!("DROP INDEX IF EXISTS {}", sql::qualified(&rel.schema, index)),
                &[],
            );
        }
    }

    if reg.parent.is_some() {
        // The column belongs to the parent; only the partition's own default is ours.
        restore_column_default(&table, reg.column_default_before.as_deref());
    } else if reg.column_added {
        if drop_column {
            crate::compat::with_views_detached(oid, || {
                sql::run(&format!("ALTER TABLE {table} DROP COLUMN tenant_id"), &[]);
            });
        } else {
            // Keep the column and its data; new rows belong to the platform, as before.
            sql::run(
                &format!("ALTER TABLE {table} ALTER COLUMN tenant_id SET DEFAULT {PLATFORM_LITERAL}"),
                &[],
            );
            sql::run(
                &format!(
                    "COMMENT ON COLUMN {table}.tenant_id IS {}",
                    pgrx::spi::quote_literal(KEPT_COLUMN_COMMENT)
                ),
                &[],
            );
        }
    } else {
        restore_column_default(&table, reg.column_default_before.as_deref());
        if reg.column_not_null_before == Some(false) {
            sql::run(
                &format!("ALTER TABLE {table} ALTER COLUMN tenant_id DROP NOT NULL"),
                &[],
            );
        }
        if drop_column {
            pgrx::notice!("vital: kept column tenant_id of {table}: it existed before registration");
        }
    }
}

fn rel_namespace(oid: pg_sys::Oid) -> pg_sys::Oid {
    sql::one::<pg_sys::Oid>(
        "SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = $1",
        &[oid.into()],
    )
    .unwrap_or(pg_sys::InvalidOid)
}

/// Dropping `tenant_id` while rows of tenants other than the platform exist would merge them
/// into one table: refused (55000) with the count per tenant, unless the caller said
/// `merge_tenants => true`. Counted as the table's owner (privileged.rs), partitions included.
fn refuse_merging_tenants(rel: &Relation) {
    let query = format!(
        "SELECT pg_catalog.string_agg(tenant_id::pg_catalog.text || '=' || n::pg_catalog.text, ',' ORDER BY n DESC)
           FROM (SELECT tenant_id, pg_catalog.count(*) AS n FROM {} GROUP BY tenant_id) c
          WHERE tenant_id OPERATOR(pg_catalog.<>) {PLATFORM_LITERAL}",
        rel.qualified()
    );
    let Some(counts) = crate::privileged::as_owner_of(rel.oid, || sql::one::<String>(&query, &[])) else {
        return;
    };
    let pairs: Vec<(String, String)> = counts
        .split(',')
        .filter_map(|p| p.split_once('=').map(|(t, n)| (t.to_string(), n.to_string())))
        .collect();
    let ids: Vec<String> = pairs.iter().map(|(t, _)| t.clone()).collect();
    let slugs: Vec<String> = sql::column::<String>(
        "SELECT coalesce(t.slug, u.id) FROM unnest($1::text[]) WITH ORDINALITY u(id, ord)
           LEFT JOIN vital.tenants t ON t.id::text = u.id ORDER BY u.ord",
        &[ids.into()],
    );
    let listed: Vec<String> = slugs
        .iter()
        .zip(&pairs)
        .map(|(slug, (_, n))| format!("{slug}: {n} row(s)"))
        .collect();
    raise(
        Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "cannot drop tenant_id of {}: it would merge the rows of {} tenant(s) into one table ({})",
            rel.qualified(),
            listed.len(),
            listed.join(", ")
        ),
        Some("Export or drop those tenants' rows first (vital.export_tenant, vital.drop_tenant), keep the column (drop_column => false), or pass merge_tenants => true to merge them."),
    );
}

fn restore_column_default(table: &str, default: Option<&str>) {
    match default {
        Some(expr) => sql::run(
            &format!("ALTER TABLE {table} ALTER COLUMN tenant_id SET DEFAULT {expr}"),
            &[],
        ),
        None => sql::run(
            &format!("ALTER TABLE {table} ALTER COLUMN tenant_id DROP DEFAULT"),
            &[],
        ),
    }
}

/// Runs `f` as vital's own DDL, with vital's rights and pinned search_path.
pub fn as_vital_ddl<R>(f: impl FnOnce() -> R) -> R {
    let _ddl = VitalDdl::enter();
    as_vital(f)
}

#[pg_extern(sql = "
CREATE FUNCTION vital.register_table(tbl regclass, shared_reads boolean DEFAULT true,
                                     scope_unique boolean DEFAULT true) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn register_table(tbl: Option<pg_sys::Oid>, shared_reads: Option<bool>, scope_unique: Option<bool>) {
    let tbl = required(tbl, "vital.register_table", "tbl");
    let shared_reads = required(shared_reads, "vital.register_table", "shared_reads");
    let scope_unique = required(scope_unique, "vital.register_table", "scope_unique");
    as_vital_ddl(|| {
        register(tbl, shared_reads, scope_unique, Via::Table, None);
        fk_guard::sync_all();
    });
}

#[pg_extern(sql = "
CREATE FUNCTION vital.unregister_table(tbl regclass, drop_column boolean DEFAULT false,
                                       merge_tenants boolean DEFAULT false) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
pub fn unregister_table_with_options(
    tbl: Option<pg_sys::Oid>,
    drop_column: Option<bool>,
    merge_tenants: Option<bool>,
) {
    let tbl = required(tbl, "vital.unregister_table", "tbl");
    let drop_column = required(drop_column, "vital.unregister_table", "drop_column");
    let merge_tenants = required(merge_tenants, "vital.unregister_table", "merge_tenants");
    as_vital_ddl(|| {
        unregister(tbl, drop_column, merge_tenants, false);
        fk_guard::sync_all();
    });
}

/// The schema's OID, or an error naming it.
fn schema_oid(name: &str) -> pg_sys::Oid {
    sql::one::<pg_sys::Oid>(
        "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1",
        &[name.into()],
    )
    .unwrap_or_else(|| {
        raise(
            Code::ERRCODE_INVALID_SCHEMA_NAME,
            format!("schema {} does not exist", sql::ident(name)),
            None,
        )
    })
}

// pgrx 0.18 cannot take a `name` argument, so the public signature is a SQL wrapper over
// a C function that takes text.
#[pg_extern(sql = "
CREATE FUNCTION vital.register_schema_text(sch text, exclude text[]) RETURNS integer
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION vital.register_schema(sch name, exclude text[] DEFAULT '{}') RETURNS integer
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS 'SELECT vital.register_schema_text(sch::text, exclude)';
")]
fn register_schema_text(sch: Option<&str>, exclude: Option<Vec<Option<String>>>) -> i32 {
    let sch = required(sch, "vital.register_schema", "sch");
    let exclude: Vec<String> = required(exclude, "vital.register_schema", "exclude")
        .into_iter()
        .flatten()
        .collect();
    as_vital_ddl(|| {
        let nsp = schema_oid(sch);
        if matches!(sch, "pg_catalog" | "information_schema" | "pg_toast" | "vital") {
            raise(
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "cannot register schema {}: it is a system schema or vital's own",
                    sql::ident(sch)
                ),
                None,
            );
        }
        sql::run(
            "INSERT INTO vital.registered_schemas (nsp, exclude) VALUES ($1::oid::regnamespace, $2)
             ON CONFLICT (nsp) DO UPDATE SET exclude = EXCLUDED.exclude",
            &[nsp.into(), exclude.clone().into()],
        );
        let tables = sql::column::<pg_sys::Oid>(
            "SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND c.relpersistence <> 't' AND NOT (c.relname::text = ANY ($2))
                AND NOT EXISTS (SELECT FROM vital.registrations r WHERE r.relid = c.oid)
              ORDER BY c.oid",
            &[nsp.into(), exclude.into()],
        );
        for &t in &tables {
            register(t, true, true, Via::Schema, None);
        }
        fk_guard::sync_all();
        tables.len() as i32
    })
}

#[pg_extern(sql = "
CREATE FUNCTION vital.unregister_schema_text(sch text, drop_column boolean, merge_tenants boolean) RETURNS integer
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
CREATE FUNCTION vital.unregister_schema(sch name, drop_column boolean DEFAULT false,
                                        merge_tenants boolean DEFAULT false) RETURNS integer
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS 'SELECT vital.unregister_schema_text(sch::text, drop_column, merge_tenants)';
")]
pub fn unregister_schema_with_options(
    sch: Option<&str>,
    drop_column: Option<bool>,
    merge_tenants: Option<bool>,
) -> i32 {
    let sch = required(sch, "vital.unregister_schema", "sch");
    let drop_column = required(drop_column, "vital.unregister_schema", "drop_column");
    let merge_tenants = required(merge_tenants, "vital.unregister_schema", "merge_tenants");
    as_vital_ddl(|| {
        let nsp = schema_oid(sch);
        let removed = sql::one::<i64>(
            "WITH d AS (DELETE FROM vital.registered_schemas WHERE nsp = $1::oid::regnamespace RETURNING 1)
             SELECT count(*) FROM d",
            &[nsp.into()],
        )
        .unwrap_or(0);
        if removed == 0 {
            raise(
                Code::ERRCODE_UNDEFINED_OBJECT,
                format!("schema {} is not registered with vital", sql::ident(sch)),
                None,
            );
        }
        let tables = sql::column::<pg_sys::Oid>(
            "SELECT r.relid::oid FROM vital.registrations r JOIN pg_catalog.pg_class c ON c.oid = r.relid
              WHERE c.relnamespace = $1 AND r.via = 'schema' AND r.parent IS NULL ORDER BY r.relid::oid",
            &[nsp.into()],
        );
        for &t in &tables {
            unregister(t, drop_column, merge_tenants, false);
        }
        fk_guard::sync_all();
        tables.len() as i32
    })
}
