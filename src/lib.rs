//! vital_tenancy: in-database multi-tenancy for PostgreSQL.
//!
//! `lib.rs` only wires the modules together; each module owns one concern.

use pgrx::prelude::*;

mod catalog;
mod citus;
mod cloning;
mod compat;
mod context;
mod distribute;
mod error;
mod event_trigger;
mod fk_guard;
mod gucs;
mod invariants;
mod legacy;
mod lifecycle;
mod owner_code;
mod policies;
mod pooled_session;
mod privileged;
mod registration;
mod registry;
mod sql;
mod statement_guard;
mod tenant_sizes;
mod tenant_stats;
mod tenants;
mod unique_scope;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

pgrx::pg_module_magic!();

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../sql/since_0_2_0.sql",
    name = "since_0_2_0",
    requires = ["bootstrap"]
);
extension_sql_file!(
    "../sql/compat.sql",
    name = "compat",
    requires = ["bootstrap", "since_0_2_0"]
);
extension_sql_file!(
    "../sql/invariants.sql",
    name = "invariants",
    requires = ["bootstrap"]
);
extension_sql_file!(
    "../sql/side_channels.sql",
    name = "side_channels",
    requires = ["bootstrap"]
);
extension_sql_file!(
    "../sql/citus.sql",
    name = "citus",
    requires = ["bootstrap", "since_0_2_0"]
);
extension_sql_file!(
    "../sql/audit.sql",
    name = "audit",
    requires = [
        "bootstrap",
        "fk_guard_function",
        "invariants",
        "side_channels",
        "citus"
    ]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    error::init();
    gucs::init();
    context::init();
    registry::init();
    event_trigger::init();
    pooled_session::init();
    statement_guard::init();
    // After statement_guard: its hooks' own queries run inside this module's depth count.
    tenant_stats::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // The scratch cluster of the integration tests keeps PostgreSQL's defaults; this one
        // lets audit_warns_about_prepared_transactions see the finding, and
        // audit_reads_timeouts_from_the_server_configuration a server-wide timeout.
        vec!["max_prepared_transactions = 2", "lock_timeout = '5s'"]
    }
}
