//! Internal lookups and writes that must not depend on the caller's privileges or search_path.
//!
//! `set_tenant` and `current_tenant` are executable by any role, yet they read vital's own
//! tables, which application roles may not be able to read. PostgreSQL's own RI checks solve
//! the same problem by switching the current user for the duration of the query; we do the
//! same, and pin `search_path` so that a caller's objects can never be picked up by a query
//! that runs with elevated rights.

use pgrx::pg_sys;

/// Runs `f` as the bootstrap superuser with `search_path = pg_catalog, pg_temp`.
///
/// On error the transaction (or subtransaction) abort restores both the user and the GUC
/// nest level, exactly as it does for a `SECURITY DEFINER` function with a `SET` clause.
pub fn as_superuser<R>(f: impl FnOnce() -> R) -> R {
    with_setting("search_path", "pg_catalog, pg_temp", || {
        as_superuser_no_search_path(f)
    })
}

/// Runs `f` as the bootstrap superuser, leaving `search_path` alone: only for statements whose
/// every name and operator is schema-qualified (the foreign-key guard, on every row written).
pub fn as_superuser_no_search_path<R>(f: impl FnOnce() -> R) -> R {
    unsafe {
        let mut saved_user = pg_sys::InvalidOid;
        let mut saved_context: std::ffi::c_int = 0;
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(
            pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as std::ffi::c_int,
        );
        let result = f();
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
        result
    }
}

/// Runs `f` with one setting changed, restored afterwards (also on error, by the abort).
pub fn with_setting<R>(name: &str, value: &str, f: impl FnOnce() -> R) -> R {
    let name = std::ffi::CString::new(name).expect("setting name has no NUL");
    let value = std::ffi::CString::new(value).expect("setting value has no NUL");
    unsafe {
        let nest_level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let result = f();
        pg_sys::AtEOXact_GUC(true, nest_level);
        result
    }
}
