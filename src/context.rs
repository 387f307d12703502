//! The current tenant: `vital.set_tenant`, `vital.clear_tenant`, `vital.current_tenant`.
//!
//! The tenant lives in the `SUSET` setting `vital.tenant` (see `gucs.rs`), so it follows
//! PostgreSQL's own rules for session and transaction scope, `RESET ALL` and `DISCARD ALL`.
//!
//! `current_tenant()` is called by every row-level-security policy, sometimes once per row,
//! so it must be cheap: it reads the setting in place and compares it with the last tenant it
//! validated. The validation (the tenant exists and is active) is repeated only after the
//! registry changed: a statement trigger on vital's registry tables sends a relcache
//! invalidation, which every backend processes at its next statement, and our callback
//! forgets the validated tenant. That is how a session already in a suspended tenant loses
//! access at its next statement.

use crate::error::{raise, required, Code};
use crate::gucs;
use crate::tenants;
use pgrx::prelude::*;
use pgrx::Uuid;
use std::cell::Cell;

thread_local! {
    /// The tenant `current_tenant()` last found active; cleared by any relcache reset or
    /// invalidation, which is how registry changes reach us.
    static VALIDATED: Cell<Option<[u8; 16]>> = const { Cell::new(None) };
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
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_validated_tenant(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    // Any relcache invalidation drops the cache: cheap (one lookup at the next call) and it
    // cannot miss an invalidation for vital.tenants, whatever its OID after a restore.
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
    let row = check_usable(tenant);

    if !unsafe { pg_sys::superuser() } {
        let current_user = unsafe { pg_sys::GetUserId() };
        let session_user = unsafe { pg_sys::GetSessionUserId() };
        for role in [current_user, session_user] {
            if !tenants::role_may_use(role, tenant) {
                raise(
                    Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!(
                        "role \"{}\" is not allowed to use tenant \"{}\" ({tenant})",
                        tenants::role_name(role),
                        row.slug
                    ),
                    Some("A DBA grants it with vital.allow_tenant(role, tenant)."),
                );
            }
        }
    }

    crate::privileged::set_tenant_setting(&tenant.to_string(), is_local);
    VALIDATED.with(|v| v.set(Some(*tenant)));
    tenant
}

#[pg_extern]
fn clear_tenant() {
    crate::privileged::set_tenant_setting("", false);
}

/// The current tenant, validated; `None` when no tenant is set (unset or empty setting).
pub fn current() -> Option<Uuid> {
    let raw = gucs::tenant_raw()?;
    let parsed = match uuid::Uuid::try_parse_ascii(raw) {
        Ok(u) => *u.as_bytes(),
        // The check hook admits only uuids; anything else means no tenant.
        Err(_) => return None,
    };
    if VALIDATED.with(|v| v.get()) == Some(parsed) {
        return Some(Uuid::from_bytes(parsed));
    }
    let tenant = Uuid::from_bytes(parsed);
    // Parallel workers run for a leader that validated the tenant when its statement began.
    if unsafe { pg_sys::ParallelWorkerNumber } >= 0 {
        return Some(tenant);
    }
    check_usable(tenant);
    VALIDATED.with(|v| v.set(Some(parsed)));
    Some(tenant)
}

#[pg_extern(stable, parallel_safe)]
fn current_tenant() -> Option<Uuid> {
    current()
}
