//! Shared roles: one login role that serves several tenants through a transaction pooler
//! (isolation line 38). A DBA marks such a role with `ALTER ROLE app SET vital.shared_role = on`
//! (superuser-only, see `gucs.rs`). For it, `vital.set_tenant`:
//!
//! * refuses session scope: a tenant set for the session would stay on the server connection
//!   and apply to the next client's statements;
//! * with `is_local => true`, refuses to start on a session another client left dirty: a
//!   temporary object (a temp view named like a registered table captures the next client's
//!   rows), a prepared statement made with SQL `PREPARE` (one named like the pooler's own would
//!   run the attacker's SQL in the next client's transaction), a `LISTEN`, a tenant set for the
//!   session, or a session-level value of a setting that changes what the next client's
//!   statements do (`search_path`, `default_transaction_read_only`, ...).
//!
//! Whether the role is shared is read from the setting and, failing closed, from the catalogs
//! (`pg_db_role_setting`, as `vital.login_setting()` reads it): a client's startup option
//! `-c vital.shared_role=off` reaches a preloaded library as a placeholder that outranks the
//! role's setting and is then rejected (superuser-only), which would leave the default, off.
//!
//! Refusing rather than cleaning: the request fails loudly instead of running on state nobody
//! chose, and cleaning from inside a running statement (dropping temporary objects it may
//! reference) is not safe. A pooler that resets connections (`DISCARD ALL`) never trips it.

use crate::error::{raise, Code};
use crate::{gucs, privileged, sql};
use pgrx::prelude::*;
use pgrx::Uuid;
use std::cell::Cell;
use std::ffi::CStr;

/// Settings whose session-level value changes what the next client's statements read, write
/// or wait for.
const SESSION_SETTINGS: [&CStr; 17] = [
    c"search_path",
    c"default_transaction_read_only",
    c"default_transaction_isolation",
    c"default_transaction_deferrable",
    c"row_security",
    c"role",
    c"session_authorization",
    c"statement_timeout",
    c"lock_timeout",
    c"idle_in_transaction_session_timeout",
    c"temp_tablespaces",
    c"synchronous_commit",
    c"exit_on_error",
    c"gin_fuzzy_search_limit",
    c"transform_null_equals",
    // On Citus: a session-level token or forwarding mode left for the next client.
    c"vital.tenant_token",
    c"citus.propagate_set_commands",
];

thread_local! {
    /// Whether this transaction already set its tenant with `set_tenant(t, true)`.
    static LOCAL_TENANT_SET: Cell<bool> = const { Cell::new(false) };
    /// What the catalogs say of the session user, read once: role settings apply to sessions
    /// that start after they change, as PostgreSQL's own do.
    static SHARED_IN_CATALOG: Cell<Option<(pg_sys::Oid, bool)>> = const { Cell::new(None) };
    /// Whether this session may hold SQL-level prepared statements or LISTENs: true until a
    /// look finds none, and again after any PREPARE or LISTEN (statement_guard.rs sees every
    /// utility statement once the library is loaded; before that, the first look covers it).
    static MAY_HOLD_SESSION_OBJECTS: Cell<bool> = const { Cell::new(true) };
}

/// Called for every `PREPARE` and `LISTEN` (statement_guard.rs).
pub fn note_session_object() {
    MAY_HOLD_SESSION_OBJECTS.with(|m| m.set(true));
}

pub fn init() {
    // SAFETY: a plain callback registration, once per backend from _PG_init.
    unsafe { pg_sys::RegisterXactCallback(Some(transaction_ends), std::ptr::null_mut()) };
}

#[pg_guard]
unsafe extern "C-unwind" fn transaction_ends(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent as E;
    if matches!(
        event,
        E::XACT_EVENT_COMMIT
            | E::XACT_EVENT_ABORT
            | E::XACT_EVENT_PREPARE
            | E::XACT_EVENT_PARALLEL_COMMIT
            | E::XACT_EVENT_PARALLEL_ABORT
    ) {
        LOCAL_TENANT_SET.with(|s| s.set(false));
    }
}

/// Whether the session's login role is a shared role: the setting says so, or the catalogs do.
pub fn is_shared_role() -> bool {
    gucs::SHARED_ROLE.get() || shared_in_catalog()
}

fn shared_in_catalog() -> bool {
    let session_user = unsafe { pg_sys::GetSessionUserId() };
    if let Some((user, shared)) = SHARED_IN_CATALOG.with(|c| c.get()) {
        if user == session_user {
            return shared;
        }
    }
    // Before ALTER EXTENSION ... UPDATE from 0.1.0 there is no login_setting(), and no role was
    // made shared through the catalogs.
    let shared = sql::function_exists("vital.login_setting(oid,text)")
        && privileged::as_vital(|| {
            sql::one::<bool>(
                "SELECT pg_catalog.lower(COALESCE(vital.login_setting($1, 'vital.shared_role'), 'off'))
                    OPERATOR(pg_catalog.=) ANY ('{on,true,yes,1}'::pg_catalog.text[])",
                &[session_user.into()],
            )
        })
        .unwrap_or(false);
    SHARED_IN_CATALOG.with(|c| c.set(Some((session_user, shared))));
    shared
}

/// `set_tenant(tenant, is_local => false)` by a shared role.
pub fn refuse_session_scope(tenant: Uuid) -> ! {
    raise(
        Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!(
            "vital.set_tenant({tenant}) for the whole session is refused to shared role \"{}\" (vital.shared_role is on): the tenant would stay on the pooled connection for the next client",
            session_role_name()
        ),
        Some("Set the tenant for the request's transaction: BEGIN; SELECT vital.set_tenant(tenant, true); ..."),
    )
}

/// Called by `set_tenant(tenant, is_local => true)` for a shared role, before it sets anything.
pub fn refuse_unless_clean(tenant: Uuid) {
    let mut dirt = Vec::new();
    if !LOCAL_TENANT_SET.with(|s| s.get()) && gucs::tenant_raw().is_some() {
        dirt.push("a tenant set for the session".to_string());
    }
    dirt.extend(changed_settings());
    dirt.extend(session_objects());
    let temporary = temporary_objects();
    if !temporary.is_empty() {
        dirt.push(format!("temporary objects ({})", temporary.join(", ")));
    }
    if !dirt.is_empty() {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "vital.set_tenant({tenant}, is_local => true) refused: the session of shared role \"{}\" carries state from an earlier client: {}",
                session_role_name(),
                dirt.join("; ")
            ),
            Some("The pooler must reset server connections between clients (pgbouncer: server_reset_query = DISCARD ALL, server_reset_query_always = 1); call vital.set_tenant(tenant, true) first in the transaction."),
        );
    }
}

/// Called after `set_tenant(tenant, is_local => true)` succeeded.
pub fn note_local_tenant() {
    LOCAL_TENANT_SET.with(|s| s.set(true));
}

/// The settings in [`SESSION_SETTINGS`] whose value differs from what `RESET` would give
/// (the server's, the database's or the role's default), described.
fn changed_settings() -> Vec<String> {
    let mut changed = Vec::new();
    for name in SESSION_SETTINGS {
        // The token is hidden (its reset value too): set at all is dirty, and it is not
        // repeated to whoever meets the dirty session.
        if name == c"vital.tenant_token" {
            if crate::gucs::token_raw().is_some() {
                changed.push("vital.tenant_token (a token, default none)".to_string());
            }
            continue;
        }
        // SAFETY: known setting names; both calls return strings owned by the GUC machinery,
        // copied before anything else runs.
        let (value, default) = unsafe {
            // NULL: not defined here (Citus's settings without Citus).
            let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
            if value.is_null() {
                continue;
            }
            let default = pg_sys::GetConfigOptionResetString(name.as_ptr());
            if default.is_null() {
                continue;
            }
            (
                CStr::from_ptr(value).to_string_lossy().into_owned(),
                CStr::from_ptr(default).to_string_lossy().into_owned(),
            )
        };
        if value != default {
            // A token is not repeated to whoever meets the dirty session.
            let shown = if name == c"vital.tenant_token" {
                "(a token)".to_string()
            } else {
                value
            };
            changed.push(format!(
                "{} = '{shown}' (default '{default}')",
                name.to_string_lossy()
            ));
        }
    }
    changed
}

/// SQL-level prepared statements (`PREPARE`; the pooler's protocol-level ones are not) and
/// `LISTEN` channels, described. One kept query: this runs on every request of a shared role.
/// It runs as the caller, with no rights of vital's, and names nothing unqualified, so it needs
/// no pinned `search_path` (whose switch would cost more than the query).
fn session_objects() -> Vec<String> {
    if !MAY_HOLD_SESSION_OBJECTS.with(|m| m.get()) {
        return Vec::new();
    }
    let rows = sql::rows_text_kept_without_params(
        "SELECT 'prepared statement ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(p.name)
           FROM pg_catalog.pg_prepared_statements p WHERE p.from_sql
         UNION ALL
         SELECT 'LISTEN ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(l.channel)
           FROM pg_catalog.pg_listening_channels() l(channel)",
    );
    if rows.is_empty() {
        MAY_HOLD_SESSION_OBJECTS.with(|m| m.set(false));
    }
    rows.into_iter()
        .filter_map(|mut row| row.swap_remove(0))
        .take(3)
        .collect()
}

/// Up to three of the objects in this session's temporary schema, by name.
fn temporary_objects() -> Vec<String> {
    let mut namespace = pg_sys::InvalidOid;
    let mut toast_namespace = pg_sys::InvalidOid;
    // SAFETY: writes the backend's temporary namespace OIDs into our locals.
    unsafe { pg_sys::GetTempNamespaceState(&mut namespace, &mut toast_namespace) };
    if namespace == pg_sys::InvalidOid {
        return Vec::new();
    }
    privileged::as_vital(|| {
        sql::column::<String>(
            "SELECT name FROM (
                 SELECT c.relname::pg_catalog.text AS name FROM pg_catalog.pg_class c
                  WHERE c.relnamespace OPERATOR(pg_catalog.=) $1
                 UNION ALL
                 SELECT p.proname::pg_catalog.text FROM pg_catalog.pg_proc p
                  WHERE p.pronamespace OPERATOR(pg_catalog.=) $1
                 UNION ALL
                 SELECT o.oprname::pg_catalog.text FROM pg_catalog.pg_operator o
                  WHERE o.oprnamespace OPERATOR(pg_catalog.=) $1
                 UNION ALL
                 SELECT t.typname::pg_catalog.text FROM pg_catalog.pg_type t
                  WHERE t.typnamespace OPERATOR(pg_catalog.=) $1 AND t.typrelid OPERATOR(pg_catalog.=) 0
                    AND t.typelem OPERATOR(pg_catalog.=) 0
             ) o ORDER BY name LIMIT 3",
            &[namespace.into()],
        )
    })
}

fn session_role_name() -> String {
    crate::tenants::role_name(unsafe { pg_sys::GetSessionUserId() })
}
