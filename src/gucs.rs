//! The settings vital defines. Registered from `_PG_init`.
//!
//! `vital.tenant` holds the current tenant. It is a `SUSET` setting: a role that is not a
//! superuser cannot `SET`, `SET LOCAL`, `set_config()`, `ALTER ROLE ... SET` or pass it as a
//! startup option; only `vital.set_tenant()` / `vital.clear_tenant()` change it for them
//! (they call `set_config_option` with superuser context after their own checks).
//! `RESET ALL` and `DISCARD ALL` reset it to empty, which is what connection poolers rely on.
//! The `vital` prefix is reserved so that no placeholder `vital.*` setting can be invented.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use std::ffi::{c_char, c_void, CStr, CString};

/// Name of the setting that stores the current tenant.
pub const TENANT_GUC_NAME: &CStr = c"vital.tenant";

/// The current tenant as text: NULL or empty when none is set, otherwise a uuid.
pub static TENANT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `vital.tenant_token`: a signed tenant for the nodes of a Citus cluster (see `citus.rs`).
/// Settable by every role, because Citus forwards only `SET LOCAL` of settings the connecting
/// role may set; hidden from non-superusers (`SHOW`, `current_setting`, `pg_settings`).
pub static TENANT_TOKEN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `vital.token_max_age`: how many seconds after its distributed transaction began a node still
/// accepts a tenant token (`citus.rs`). Superuser-only.
pub static TOKEN_MAX_AGE: GucSetting<i32> = GucSetting::<i32>::new(600);

/// `vital.shared_role`: this login role serves several tenants through a connection pool
/// (see `pooled_session.rs`). Superuser-only, so that the role cannot turn it off; a DBA sets it
/// with `ALTER ROLE app SET vital.shared_role = on`.
pub static SHARED_ROLE: GucSetting<bool> = GucSetting::<bool>::new(false);
/// `vital.track_tenant_stats`: count statements per tenant (tenant_stats.rs).
pub static TRACK_TENANT_STATS: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn init() {
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            TENANT_GUC_NAME,
            c"The current tenant of this session (set it with vital.set_tenant()).",
            c"Empty means no tenant. Only superusers can SET it directly; every other role \
              goes through vital.set_tenant(), which checks the tenant and the role's allowances.",
            &TENANT,
            GucContext::Suset,
            GucFlags::DISALLOW_IN_FILE | GucFlags::DISALLOW_IN_AUTO_FILE,
            Some(check_tenant_setting),
            None,
            None,
        );
        GucRegistry::define_string_guc(
            c"vital.tenant_token",
            c"The current transaction's tenant on the nodes of a Citus cluster.",
            c"Made by vital.set_tenant(tenant, true) on a distributed database and forwarded \
              by Citus; current_tenant() accepts only a valid token of the same transaction \
              and role.",
            &TENANT_TOKEN,
            GucContext::Userset,
            GucFlags::NO_SHOW_ALL
                | GucFlags::SUPERUSER_ONLY
                | GucFlags::DISALLOW_IN_FILE
                | GucFlags::DISALLOW_IN_AUTO_FILE,
        );
        GucRegistry::define_int_guc(
            c"vital.token_max_age",
            c"Seconds after its distributed transaction began that a tenant token is accepted.",
            c"A token seen again later (its text shows in the commands Citus sends) is refused.",
            &TOKEN_MAX_AGE,
            1,
            86_400,
            GucContext::Suset,
            GucFlags::UNIT_S,
        );
        GucRegistry::define_bool_guc(
            c"vital.track_tenant_stats",
            c"Count statements, time, rows and buffers per tenant for vital.tenant_stats().",
            c"Needs shared_preload_libraries = 'vital_tenancy'. Only superusers can change it.",
            &TRACK_TENANT_STATS,
            GucContext::Suset,
            GucFlags::default(),
        );
        GucRegistry::define_bool_guc(
            c"vital.shared_role",
            c"This role serves several tenants through a connection pool.",
            c"On: vital.set_tenant() accepts only is_local => true, and refuses to start a \
              transaction on a session that another client left dirty. Only superusers can set it.",
            &SHARED_ROLE,
            GucContext::Suset,
            GucFlags::default(),
        );
        pg_sys::MarkGUCPrefixReserved(c"vital".as_ptr());
    }
}

/// The raw current value without copying it: `None` when unset or empty.
pub fn tenant_raw() -> Option<&'static [u8]> {
    unsafe {
        let ptr: *mut c_char = *TENANT.as_ptr();
        if ptr.is_null() {
            return None;
        }
        let bytes = CStr::from_ptr(ptr).to_bytes();
        if bytes.is_empty() {
            None
        } else {
            Some(bytes)
        }
    }
}

/// The raw tenant token (see `citus.rs`): `None` when unset or empty.
pub fn token_raw() -> Option<&'static [u8]> {
    unsafe {
        let ptr: *mut c_char = *TENANT_TOKEN.as_ptr();
        if ptr.is_null() {
            return None;
        }
        let bytes = CStr::from_ptr(ptr).to_bytes();
        (!bytes.is_empty()).then_some(bytes)
    }
}

/// Accepts an empty value or a well-formed uuid; a superuser's typo must not become a tenant.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn check_tenant_setting(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    unsafe {
        if newval.is_null() || (*newval).is_null() {
            return true;
        }
        let bytes = CStr::from_ptr(*newval).to_bytes();
        if bytes.is_empty() || uuid::Uuid::try_parse_ascii(bytes).is_ok() {
            return true;
        }
        pg_sys::GUC_check_errcode(pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as i32);
        false
    }
}
