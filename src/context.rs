//! The current tenant: `vital.set_tenant`, `vital.clear_tenant`, `vital.current_tenant`.
//!
//! The tenant lives in the `SUSET` setting `vital.tenant` (see `gucs.rs`), so it follows
//! PostgreSQL's own rules for session and transaction scope, `RESET ALL` and `DISCARD ALL`.
//!
//! `current_tenant()` is called by every row-level-security policy, sometimes once per row,
//! so it must be cheap: it reads the setting in place and compares it (and the current and
//! session user) with what it last validated. The validation (the tenant exists and is active,
//! and the roles may use it) is repeated when the user changes (`SET ROLE`, `SECURITY DEFINER`)
//! and after the registry or the roles changed: a statement trigger on vital's registry tables
//! sends a relcache invalidation, which every backend processes at its next statement, and
//! changes to roles and memberships reach our syscache callback. That is how a session already
//! in a suspended or disallowed tenant loses access at its next statement — in every process:
//! parallel workers validate for themselves, with read-only lookups.

use crate::error::{raise, required, Code};
use crate::gucs;
use crate::pooled_session;
use crate::tenants;
use pgrx::prelude::*;
use pgrx::Uuid;
use std::cell::Cell;

/// A tenant `current_tenant()` found usable, and for which roles: the current user (which
/// `SET ROLE` and `SECURITY DEFINER` change) and the session user.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Validated {
    tenant: [u8; 16],
    current_user: pg_sys::Oid,
    session_user: pg_sys::Oid,
}

// Declared here rather than taken from pgrx's bindings, which wrap every call in an error
// boundary (a sigsetjmp): these two only read a backend global and cannot raise an error, and
// current_tenant() calls them on every use.
unsafe extern "C" {
    fn GetUserId() -> pg_sys::Oid;
    fn GetSessionUserId() -> pg_sys::Oid;
}

/// The current and the session user.
fn users() -> (pg_sys::Oid, pg_sys::Oid) {
    // SAFETY: plain reads of backend globals (miscinit.c), valid in any backend process.
    unsafe { (GetUserId(), GetSessionUserId()) }
}

thread_local! {
    /// What `current_tenant()` last validated; cleared by any relcache reset or invalidation
    /// (registry changes) and by any change to roles or memberships.
    static VALIDATED: Cell<Option<Validated>> = const { Cell::new(None) };
    /// Bumped by every relcache invalidation: per-backend caches built from the catalogs
    /// (the foreign-key guards' plans) compare it with the generation they were built in.
    static CACHE_GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// The current generation of catalog-derived caches (see `CACHE_GENERATION`).
pub fn cache_generation() -> u64 {
    CACHE_GENERATION.with(|g| g.get())
}

pub fn init() {
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(forget_validated_tenant), pg_sys::Datum::from(0));
        // Who is a member of whom, and who is a superuser, decide what allowances mean.
        for cache in [
            pg_sys::SysCacheIdentifier::AUTHMEMMEMROLE,
            pg_sys::SysCacheIdentifier::AUTHMEMROLEMEM,
            pg_sys::SysCacheIdentifier::AUTHOID,
        ] {
            pg_sys::CacheRegisterSyscacheCallback(cache as i32, Some(roles_changed), pg_sys::Datum::from(0));
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_validated_tenant(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    // Any relcache invalidation drops the cache: cheap (one lookup at the next call) and it
    // cannot miss an invalidation for vital.tenants, whatever its OID after a restore.
    VALIDATED.with(|v| v.set(None));
    CACHE_GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

#[pg_guard]
unsafe extern "C-unwind" fn roles_changed(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    VALIDATED.with(|v| v.set(None));
    CACHE_GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

/// Checks that `tenant` exists and is active, naming it in the error otherwise.
fn check_usable(tenant: Uuid) -> tenants::TenantRow {
    let row = tenants::get(tenant);
    if !row.active {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("tenant \"{}\" ({tenant}) is suspended", row.slug),
            Some("A DBA can resume it with vital.resume_tenant(); until then use vital.clear_tenant()."),
        );
    }
    row
}

#[pg_extern]
fn set_tenant(tenant: Option<Uuid>, is_local: default!(Option<bool>, "false")) -> Uuid {
    let tenant = required(tenant, "vital.set_tenant", "tenant");
    let is_local = required(is_local, "vital.set_tenant", "is_local");
    if is_local && !unsafe { pg_sys::IsTransactionBlock() } {
        raise(
            Code::ERRCODE_NO_ACTIVE_SQL_TRANSACTION,
            format!(
                "vital.set_tenant({tenant}, is_local => true) outside a transaction block would end at once"
            ),
            Some("Call it after BEGIN, or use is_local => false for the whole session."),
        );
    }
    let shared_role = pooled_session::is_shared_role();
    if shared_role {
        if !is_local {
            pooled_session::refuse_session_scope(tenant);
        }
        pooled_session::refuse_unless_clean(tenant);
    }
    let distributed = crate::citus::distributed();
    if distributed && !is_local {
        raise(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("vital.set_tenant({tenant}) for the session does not reach the Citus workers"),
            Some("On a distributed database set the tenant per transaction: BEGIN; SELECT vital.set_tenant(tenant, true); ... COMMIT;"),
        );
    }
    let validated = check_allowed(tenant, "is not allowed to use");

    crate::privileged::set_tenant_setting(&tenant.to_string(), is_local);
    if distributed {
        crate::citus::propagate_tenant(tenant);
    }
    VALIDATED.with(|v| v.set(Some(validated)));
    if is_local {
        pooled_session::note_local_tenant();
    }
    tenant
}

/// Checks that `tenant` is usable (exists, active) and allowed for the current and the session
/// user (superusers are exempt); `refusal` words the 42501 error.
fn check_allowed(tenant: Uuid, refusal: &str) -> Validated {
    let row = check_usable(tenant);
    let (current_user, session_user) = users();
    if !unsafe { pg_sys::superuser_arg(current_user) } {
        for role in [current_user, session_user] {
            if !tenants::role_may_use(role, tenant) {
                raise(
                    Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!(
                        "role \"{}\" {refusal} tenant \"{}\" ({tenant})",
                        tenants::role_name(role),
                        row.slug
                    ),
                    Some("A DBA grants it with vital.allow_tenant(role, tenant); vital.clear_tenant() leaves the tenant."),
                );
            }
        }
    }
    Validated {
        tenant: *tenant,
        current_user,
        session_user,
    }
}

#[pg_extern]
fn clear_tenant() {
    crate::privileged::set_tenant_setting("", false);
    crate::citus::clear_token();
}

/// The current tenant, validated; `None` when no tenant is set (unset or empty setting).
pub fn current() -> Option<Uuid> {
    let Some(raw) = gucs::tenant_raw() else {
        // On a Citus node the transaction's tenant arrives as a signed token; without Citus
        // the setting means nothing (any role may set it) and is ignored.
        if !crate::citus::loaded() {
            return None;
        }
        return gucs::token_raw().map(crate::citus::tenant_from_token);
    };
    let parsed = match uuid::Uuid::try_parse_ascii(raw) {
        Ok(u) => *u.as_bytes(),
        // The check hook admits only uuids; anything else means no tenant.
        Err(_) => return None,
    };
    let (current_user, session_user) = users();
    let validated = VALIDATED.with(|v| v.get());
    if validated.is_some_and(|v| {
        v.tenant == parsed && v.current_user == current_user && v.session_user == session_user
    }) {
        return Some(Uuid::from_bytes(parsed));
    }
    // First use in this process (parallel workers included: they check for themselves), or
    // the registry, the roles or the current user changed since: check again. A suspended
    // tenant or a revoked allowance stops the session here, at its next statement.
    let tenant = Uuid::from_bytes(parsed);
    if crate::citus::distributed() && tenants::find(tenant).is_none() {
        // A Citus worker knows no tenant but the platform: vital.tenant arrived here as a
        // session or login setting (ALTER ROLE ... SET), which cannot work on Citus.
        raise(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("vital.tenant {tenant} is set for the session on a node that does not know it"),
            Some("On a distributed database set the tenant per transaction with vital.set_tenant(tenant, true); remove login settings of vital.tenant (ALTER ROLE ... RESET vital.tenant)."),
        );
    }
    let validated = check_allowed(tenant, "may no longer use");
    VALIDATED.with(|v| v.set(Some(validated)));
    Some(tenant)
}

#[pg_extern(stable, parallel_safe)]
fn current_tenant() -> Option<Uuid> {
    current()
}

/// The tenant a written row must belong to (vital's write policies): the current tenant, or,
/// when none is set, an error that tells the developer what is missing instead of PostgreSQL's
/// bare row-level-security refusal.
#[pg_extern(stable, parallel_safe)]
fn tenant_for_write() -> Uuid {
    match current() {
        Some(tenant) => tenant,
        None => raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "no tenant is set: rows of registered tables can only be written for a tenant",
            Some("Call vital.set_tenant(tenant) first, or vital.set_tenant(tenant, true) inside the transaction."),
        ),
    }
}
