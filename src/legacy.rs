//! C symbols that released install scripts name and this version no longer uses by that name.
//!
//! `CREATE EXTENSION vital_tenancy VERSION '0.1.0'` runs the 0.1.0 script as released
//! (`sql/releases/`) against the current shared library, and `ALTER EXTENSION ... UPDATE` then
//! replaces its functions: until then every function that script created must find its symbol
//! here, taking the arguments the old script gives it. Never remove a symbol from this module.

use crate::error::required;
use pgrx::prelude::*;

/// 0.1.0's `vital.fk_guard()` (pgrx's wrapper of the old Rust trigger function): the guard
/// itself, now a plain C entry point.
#[no_mangle]
pub extern "C" fn pg_finfo_fk_guard_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// # Safety
/// Called by PostgreSQL's trigger manager, as `vital_fk_guard` is.
#[no_mangle]
pub unsafe extern "C-unwind" fn fk_guard_wrapper(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the same contract as vital_fk_guard's.
    unsafe { crate::fk_guard::vital_fk_guard(fcinfo) }
}

/// 0.1.0's `vital.unregister_table(tbl regclass, drop_column boolean)`.
#[pg_extern(sql = false)]
fn unregister_table(tbl: Option<pg_sys::Oid>, drop_column: Option<bool>) {
    crate::registration::unregister_table_with_options(tbl, drop_column, Some(false));
}

/// 0.1.0's `vital.unregister_schema_text(sch text)` (behind `vital.unregister_schema(name)`).
#[pg_extern(sql = false)]
fn unregister_schema_text(sch: Option<&str>) -> i32 {
    let sch = required(sch, "vital.unregister_schema", "sch");
    crate::registration::unregister_schema_with_options(Some(sch), Some(false), Some(false))
}
