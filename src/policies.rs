//! The row-level-security policies vital puts on a registered table, one per command.
//!
//! Shape, chosen for correctness and speed (see isolation.md, "Performance notes"):
//! * reads:  `tenant_id = ANY (ARRAY[vital.current_tenant(), vital.platform_tenant()])` when
//!   platform rows are shared, else `tenant_id = vital.current_tenant()`. One btree index scan
//!   on `tenant_id` serves both values; `current_tenant()` is STABLE and written directly in
//!   the policy (no sub-select, which Citus refuses in policies on distributed tables), so it
//!   is evaluated once per scan when used as an index condition.
//! * writes: `tenant_id = vital.tenant_for_write()` for INSERT (check), UPDATE (using and
//!   check) and DELETE (using): the current tenant, and with none an error naming
//!   `vital.set_tenant` (so every write is refused, and says why); a platform session writes
//!   platform rows; a row cannot be moved to another tenant.

use crate::catalog::Relation;
use crate::sql;

pub const SELECT_POLICY: &str = "vital_select";
pub const INSERT_POLICY: &str = "vital_insert";
pub const UPDATE_POLICY: &str = "vital_update";
pub const DELETE_POLICY: &str = "vital_delete";
pub const ALL_POLICIES: [&str; 4] = [SELECT_POLICY, INSERT_POLICY, UPDATE_POLICY, DELETE_POLICY];

const OWN_ROWS: &str = "tenant_id = vital.current_tenant()";
/// Writes: like OWN_ROWS, but with no tenant set the write fails with an error that names
/// vital.set_tenant (context.rs) instead of PostgreSQL's bare row-level-security error.
const WRITTEN_ROWS: &str = "tenant_id = vital.tenant_for_write()";
const OWN_AND_PLATFORM_ROWS: &str =
    "tenant_id = ANY (ARRAY[vital.current_tenant(), vital.platform_tenant()])";

/// Turns row-level security on, for the owner too.
pub fn enable_row_security(rel: &Relation) {
    sql::run(
        &format!(
            "ALTER TABLE {} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
            rel.qualified()
        ),
        &[],
    );
}

/// Puts row-level security back to the flags it had before registration.
pub fn restore_row_security(rel: &Relation, enabled: bool, forced: bool) {
    sql::run(
        &format!(
            "ALTER TABLE {} {} ROW LEVEL SECURITY, {} ROW LEVEL SECURITY",
            rel.qualified(),
            if enabled { "ENABLE" } else { "DISABLE" },
            if forced { "FORCE" } else { "NO FORCE" },
        ),
        &[],
    );
}

/// Creates (or re-creates, when options changed) the four policies.
pub fn create_policies(rel: &Relation, shared_reads: bool) {
    drop_policies(rel);
    let table = rel.qualified();
    let read = if shared_reads {
        OWN_AND_PLATFORM_ROWS
    } else {
        OWN_ROWS
    };
    sql::run(
        &format!("CREATE POLICY {SELECT_POLICY} ON {table} FOR SELECT USING ({read})"),
        &[],
    );
    sql::run(
        &format!("CREATE POLICY {INSERT_POLICY} ON {table} FOR INSERT WITH CHECK ({WRITTEN_ROWS})"),
        &[],
    );
    sql::run(
        &format!(
            "CREATE POLICY {UPDATE_POLICY} ON {table} FOR UPDATE USING ({WRITTEN_ROWS}) WITH CHECK ({WRITTEN_ROWS})"
        ),
        &[],
    );
    sql::run(
        &format!("CREATE POLICY {DELETE_POLICY} ON {table} FOR DELETE USING ({WRITTEN_ROWS})"),
        &[],
    );
}

pub fn drop_policies(rel: &Relation) {
    let table = rel.qualified();
    let existing = sql::column::<String>(
        "SELECT polname::text FROM pg_catalog.pg_policy WHERE polrelid = $1",
        &[rel.oid.into()],
    );
    for policy in ALL_POLICIES.iter().filter(|p| existing.iter().any(|e| e == *p)) {
        sql::run(&format!("DROP POLICY {policy} ON {table}"), &[]);
    }
}

/// The policies of a table as PostgreSQL deparses them: `name|cmd|permissive|roles|qual|check`.
/// Recorded at registration; the audit compares the live catalog with this fingerprint.
pub fn fingerprint(rel: &Relation) -> String {
    sql::one::<String>(
        "SELECT coalesce(string_agg(concat_ws('|', polname, polcmd, polpermissive, polroles::text,
                                          pg_catalog.pg_get_expr(polqual, polrelid),
                                          pg_catalog.pg_get_expr(polwithcheck, polrelid)),
                                 E'\\n' ORDER BY polname), '')
           FROM pg_catalog.pg_policy
          WHERE polrelid = $1 AND polname LIKE 'vital\\_%'",
        &[rel.oid.into()],
    )
    .unwrap_or_default()
}
