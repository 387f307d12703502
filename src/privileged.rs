//! The one door through which vital acts with rights its caller does not have.
//!
//! Nothing else in the crate switches the current user or changes a setting for its own work;
//! every such switch is one of the three below, and each pins `search_path` to
//! `pg_catalog, pg_temp` for as long as it lasts (CVE-2018-1058): statements parsed inside it,
//! and kept plans re-planned inside it, resolve names as vital wrote them, never to a caller's
//! shadowing schema or temporary view. The statements are schema-qualified on top of that.
//!
//! | work | runs as | security context | why |
//! |---|---|---|---|
//! | reads and writes of vital's own tables (`vital.tenants`, `vital.registrations`, ...); catalog lookups | vital ([`as_vital`]: the bootstrap superuser, vital's owner) | `SECURITY_LOCAL_USERID_CHANGE` | application roles may not read or write them, yet `set_tenant` / `current_tenant` must; these tables carry no code but vital's |
//! | DDL on a registered table (`ALTER TABLE`, `CREATE POLICY/TRIGGER/INDEX`, compat views) | vital ([`as_vital`]) | `SECURITY_LOCAL_USERID_CHANGE` | only a table's owner or a superuser may run it, on behalf of the DBA who called vital; PostgreSQL itself runs the owner's code that DDL reaches (index expressions, since CVE-2022-1552) as the owner |
//! | reading or writing rows of a user's table: the foreign-key guard's lookup, compat-column backfill and propagation, `clone_for_tenant`, `drop_tenant`, `export_tenant`, registration's `UPDATE ... SET tenant_id` and `SET NOT NULL` (which evaluates the owner's CHECKs) | **the table's owner** ([`as_owner`]), never a superuser | `SECURITY_LOCAL_USERID_CHANGE \| SECURITY_NOFORCE_RLS \| SECURITY_RESTRICTED_OPERATION` | the owner's triggers, CHECKs, DEFAULTs and index expressions run with the owner's own rights, as in PostgreSQL's foreign-key checks (`ri_triggers.c`, `ri_PerformCheck`) and maintenance commands (CVE-2022-1552); `NOFORCE_RLS` lets the owner see every tenant's rows, as the foreign-key checks do; `RESTRICTED_OPERATION` forbids the owner's code to change session state that outlives the operation |
//!
//! The tenant setting itself (`vital.tenant`, SUSET) is written here too, by
//! [`set_tenant_setting`], for `set_tenant` / `clear_tenant` after their checks.
//!
//! What runs as the caller (no switch): `set_tenant`'s checks, the compat-column sync trigger
//! (it reads the lookup table under the writer's own rights and policies), and the parse-only
//! check of a clone filter.
//!
//! A switch is undone when its closure returns, and by the `Drop` of [`UserSwitch`] when a
//! PostgreSQL error unwinds through it; the pinned setting is undone by the transaction or
//! subtransaction abort, exactly as for a function with a `SET` clause.

use crate::error::{raise, Code};
use crate::sql;
use pgrx::pg_sys;
use std::ffi::{c_int, CStr, CString};

/// The only `search_path` vital's own statements ever run under.
pub const PINNED_SEARCH_PATH: &CStr = c"pg_catalog, pg_temp";

/// Restores the user and security context it saved when dropped: on return, and also when a
/// PostgreSQL error (turned into a Rust panic by pgrx) unwinds through the switched region.
struct UserSwitch {
    user: pg_sys::Oid,
    context: c_int,
}

impl UserSwitch {
    /// Becomes `user` with the current security context plus `flags`.
    fn to(user: pg_sys::Oid, flags: u32) -> Self {
        let mut saved = UserSwitch {
            user: pg_sys::InvalidOid,
            context: 0,
        };
        // SAFETY: both calls only read or write the backend's global user/context variables;
        // the pointers are to our own stack locals, valid for the call.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved.user, &mut saved.context);
            pg_sys::SetUserIdAndSecContext(user, saved.context | flags as c_int);
        }
        saved
    }
}

impl Drop for UserSwitch {
    fn drop(&mut self) {
        // SAFETY: restores values read from the same globals by `to`; it cannot fail.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
    }
}

/// Runs `f` with `search_path` pinned to [`PINNED_SEARCH_PATH`], under the current user.
pub fn pinned<R>(f: impl FnOnce() -> R) -> R {
    with_setting(c"search_path", PINNED_SEARCH_PATH, f)
}

/// Runs `f` as vital: the bootstrap superuser, with `search_path` pinned. Only for vital's own
/// tables, the system catalogs, and DDL (see the table at the top of this module).
pub fn as_vital<R>(f: impl FnOnce() -> R) -> R {
    pinned(|| {
        let _switch = UserSwitch::to(
            pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
            pg_sys::SECURITY_LOCAL_USERID_CHANGE,
        );
        f()
    })
}

/// The owner of relation `rel`; an error naming the OID when it does not exist.
pub fn owner_of(rel: pg_sys::Oid) -> pg_sys::Oid {
    pinned(|| {
        sql::read_one::<pg_sys::Oid>(
            "SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
            &[rel.into()],
        )
    })
    .unwrap_or_else(|| {
        raise(
            Code::ERRCODE_UNDEFINED_TABLE,
            format!("relation with OID {} does not exist", rel.to_u32()),
            None,
        )
    })
}

/// Runs `f` as `owner` (the owner of the table `f` reads or writes; see [`owner_of`]), the way
/// PostgreSQL's foreign-key checks and maintenance commands do: `SECURITY_LOCAL_USERID_CHANGE`,
/// `SECURITY_NOFORCE_RLS` (the owner sees every tenant's rows of its own table) and
/// `SECURITY_RESTRICTED_OPERATION` (the owner's code cannot leave session state behind), with
/// `search_path` pinned. Never a superuser unless the table's owner is one.
pub fn as_owner<R>(owner: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    pinned(|| {
        let _switch = UserSwitch::to(
            owner,
            pg_sys::SECURITY_LOCAL_USERID_CHANGE
                | pg_sys::SECURITY_NOFORCE_RLS
                | pg_sys::SECURITY_RESTRICTED_OPERATION,
        );
        f()
    })
}

/// Runs `f` as the owner of `rel` (see [`as_owner`]).
pub fn as_owner_of<R>(rel: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    as_owner(owner_of(rel), f)
}

/// Writes the SUSET setting `vital.tenant` (gucs.rs) with superuser context, for the session or
/// (`local`) the transaction. Only `set_tenant` / `clear_tenant` call it, after their checks.
pub fn set_tenant_setting(value: &str, local: bool) {
    let value = CString::new(value).expect("uuid text has no NUL");
    let action = if local {
        pg_sys::GucAction::GUC_ACTION_LOCAL
    } else {
        pg_sys::GucAction::GUC_ACTION_SET
    };
    set_option(crate::gucs::TENANT_GUC_NAME, &value, action);
}

/// Sets `name` for the rest of the transaction (`SET LOCAL`), with superuser context.
pub fn set_local(name: &CStr, value: &CStr) {
    set_option(name, value, pg_sys::GucAction::GUC_ACTION_LOCAL);
}

/// Runs `f` with one setting changed, restored afterwards (on error, by the abort). The names
/// and values are constants: nothing is allocated on the foreign-key guard's per-row path.
pub fn with_setting<R>(name: &CStr, value: &CStr, f: impl FnOnce() -> R) -> R {
    // SAFETY: a new GUC nest level, closed by AtEOXact_GUC on return, or by the
    // (sub)transaction abort on error.
    let nest_level = unsafe { pg_sys::NewGUCNestLevel() };
    set_option(name, value, pg_sys::GucAction::GUC_ACTION_SAVE);
    let result = f();
    // SAFETY: closes the nest level opened above, keeping nothing set inside it.
    unsafe { pg_sys::AtEOXact_GUC(true, nest_level) };
    result
}

/// `set_config_option` with superuser context, as a session-level source, erroring on failure.
fn set_option(name: &CStr, value: &CStr, action: pg_sys::GucAction::Type) {
    // SAFETY: both strings are NUL-terminated and outlive the call, which copies them.
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            0,
            false,
        );
    }
}
