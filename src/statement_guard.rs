//! Statements refused to roles that row level security binds, because what they show or hold
//! reaches past the policies into other tenants' rows (isolation lines 35 and 36):
//!
//! * `EXPLAIN` of a statement that reads a registered table. Row estimates come from statistics
//!   over every tenant's rows, and `EXPLAIN ANALYZE` counts the rows the policy removed after an
//!   index condition the caller wrote (`Rows Removed by Filter`): a binary search over such
//!   counts recovers other tenants' values.
//! * `LOCK TABLE` stronger than `ROW EXCLUSIVE` on a registered table (or a view over one): any
//!   role with `UPDATE` may take `ACCESS EXCLUSIVE` and stop every tenant.
//!
//! A role is bound when it is not a superuser, has no `BYPASSRLS` and does not have the table
//! owner's privileges: exactly the roles for which the policies are the barrier. Owners and
//! DBAs keep both commands.
//!
//! Both checks are hooks (`ProcessUtility`, and `ExecutorStart` for the plan an `EXPLAIN`
//! shows, which catches `EXPLAIN EXECUTE` of a plan cached earlier). A hook is in force in a
//! session once this library is loaded there, which is why vital asks for
//! `session_preload_libraries` (or `shared_preload_libraries`), and `audit()` warns without it.

use crate::error::{raise, Code};
use crate::{catalog, privileged, registry, sql};
use pgrx::prelude::*;
use std::cell::Cell;
use std::ffi::{c_char, c_int};

static mut PREVIOUS_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREVIOUS_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;

thread_local! {
    /// How many `EXPLAIN` statements are running in this backend (they nest through functions).
    static EXPLAINING: Cell<u32> = const { Cell::new(0) };
}

pub fn init() {
    // SAFETY: _PG_init runs once per process, before any statement; we chain to whatever hook
    // was installed before us.
    unsafe {
        PREVIOUS_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
        PREVIOUS_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
    }
}

/// Restores `EXPLAINING` when dropped: on return and when an error unwinds through the hook.
struct Explaining(u32);

impl Explaining {
    fn set(depth: u32) -> Self {
        Explaining(EXPLAINING.with(|e| e.replace(depth)))
    }
}

impl Drop for Explaining {
    fn drop(&mut self) {
        EXPLAINING.with(|e| e.set(self.0));
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: PostgreSQL passes a valid PlannedStmt whose utilityStmt is a parse node.
    let statement = unsafe { (*pstmt).utilityStmt };
    let _explaining = match unsafe { statement.as_ref() }.map(|node| node.type_) {
        Some(pg_sys::NodeTag::T_LockStmt) => {
            refuse_strong_lock(statement.cast());
            None
        }
        Some(pg_sys::NodeTag::T_ExplainStmt) => Some(Explaining::set(EXPLAINING.with(|e| e.get()) + 1)),
        _ => None,
    };
    // SAFETY: the arguments are passed through unchanged, as every ProcessUtility hook does. A
    // previous hook is a raw C pointer: its errors are caught at the FFI boundary, so that they
    // unwind through `_explaining` (which restores the depth) instead of jumping over it.
    unsafe {
        match PREVIOUS_PROCESS_UTILITY {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| {
                previous(
                    pstmt,
                    query_string,
                    read_only_tree,
                    context,
                    params,
                    query_env,
                    dest,
                    qc,
                )
            }),
            None => pg_sys::standard_ProcessUtility(
                pstmt,
                query_string,
                read_only_tree,
                context,
                params,
                query_env,
                dest,
                qc,
            ),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    if EXPLAINING.with(|e| e.get()) > 0 {
        // The check's own catalog queries start executors too: not as part of the EXPLAIN.
        let _outside = Explaining::set(0);
        // SAFETY: the executor is handed a valid QueryDesc with its PlannedStmt.
        refuse_explain(unsafe { (*(*query_desc).plannedstmt).relationOids });
    }
    // SAFETY: passed through unchanged.
    unsafe {
        match PREVIOUS_EXECUTOR_START {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc, eflags)),
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
    }
}

/// Whether row level security is the current user's barrier to `table`: not a superuser, no
/// `BYPASSRLS`, not (a member of) the owner.
fn bound_by_policies(table: pg_sys::Oid) -> bool {
    // SAFETY: reads of the backend's user and the role catalogs.
    unsafe {
        let user = pg_sys::GetUserId();
        !pg_sys::superuser_arg(user)
            && !pg_sys::has_bypassrls_privilege(user)
            && !pg_sys::has_privs_of_role(user, privileged::owner_of(table))
    }
}

/// The registered tables among `relations` (the OIDs an executor plan reads), bound for the
/// current user; the first one, if any.
fn refuse_explain(relations: *mut pg_sys::List) {
    let Some(registry) = registry::get() else {
        return;
    };
    let Some(table) = oids(relations)
        .into_iter()
        .find(|&oid| registry.is_registered(oid) && bound_by_policies(oid))
    else {
        return;
    };
    raise(
        Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!(
            "EXPLAIN of a statement that reads registered table {} is refused to role \"{}\": its estimates and counts come from every tenant's rows",
            name_of(table),
            current_role_name()
        ),
        Some("Run the statement without EXPLAIN, or EXPLAIN it as the table's owner, a superuser or a BYPASSRLS role."),
    );
}

/// `LOCK TABLE` in a mode stronger than `ROW EXCLUSIVE` on a registered table, or on a view
/// that reads one (PostgreSQL locks a view's tables too), by a role the policies bind.
fn refuse_strong_lock(statement: *mut pg_sys::LockStmt) {
    // SAFETY: a LockStmt parse node, as its tag said.
    let (mode, relations) = unsafe { ((*statement).mode, (*statement).relations) };
    if mode <= pg_sys::RowExclusiveLock as c_int {
        return;
    }
    let Some(registry) = registry::get() else {
        return;
    };
    for range_var in pointers(relations) {
        // SAFETY: the LockStmt's relations are RangeVars; no lock is taken here (LOCK takes
        // it), and a missing relation is left for LOCK to report.
        let rel = unsafe {
            pg_sys::RangeVarGetRelidExtended(
                range_var.cast(),
                pg_sys::NoLock as pg_sys::LOCKMODE,
                pg_sys::RVROption::RVR_MISSING_OK,
                None,
                std::ptr::null_mut(),
            )
        };
        if rel == pg_sys::InvalidOid {
            continue;
        }
        let tables = if unsafe { pg_sys::get_rel_relkind(rel) } == pg_sys::RELKIND_VIEW as c_char {
            tables_under_view(rel)
        } else {
            vec![rel]
        };
        if let Some(&table) = tables
            .iter()
            .find(|&&table| registry.is_registered(table) && bound_by_policies(table))
        {
            raise(
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "LOCK TABLE {} IN {} MODE is refused to role \"{}\": it would block every tenant of registered table {}",
                    name_of(rel),
                    lock_mode_name(mode),
                    current_role_name(),
                    name_of(table)
                ),
                Some("Roles bound by row level security may lock registered tables up to ROW EXCLUSIVE MODE; the table's owner may lock it in any mode."),
            );
        }
    }
}

/// The tables a view reads, through any views it reads in turn (its rewrite rules' dependencies).
fn tables_under_view(view: pg_sys::Oid) -> Vec<pg_sys::Oid> {
    privileged::as_vital(|| {
        sql::column::<pg_sys::Oid>(
            "WITH RECURSIVE reads(oid) AS (
                 SELECT $1::pg_catalog.oid
                 UNION
                 SELECT d.refobjid
                   FROM reads
                   JOIN pg_catalog.pg_rewrite rw ON rw.ev_class OPERATOR(pg_catalog.=) reads.oid
                   JOIN pg_catalog.pg_depend d
                     ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) rw.oid
                    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
             )
             SELECT oid FROM reads WHERE oid OPERATOR(pg_catalog.<>) $1::pg_catalog.oid",
            &[view.into()],
        )
    })
}

fn lock_mode_name(mode: c_int) -> &'static str {
    match mode as u32 {
        pg_sys::ShareUpdateExclusiveLock => "SHARE UPDATE EXCLUSIVE",
        pg_sys::ShareLock => "SHARE",
        pg_sys::ShareRowExclusiveLock => "SHARE ROW EXCLUSIVE",
        pg_sys::ExclusiveLock => "EXCLUSIVE",
        _ => "ACCESS EXCLUSIVE",
    }
}

fn name_of(rel: pg_sys::Oid) -> String {
    privileged::as_vital(|| catalog::relation(rel))
        .map_or_else(|| format!("with OID {}", rel.to_u32()), |r| r.qualified())
}

fn current_role_name() -> String {
    crate::tenants::role_name(unsafe { pg_sys::GetUserId() })
}

/// The OIDs of an OID list.
fn oids(list: *mut pg_sys::List) -> Vec<pg_sys::Oid> {
    cells(list).map(|cell| unsafe { cell.oid_value }).collect()
}

/// The pointers of a pointer list.
fn pointers(list: *mut pg_sys::List) -> Vec<*mut std::ffi::c_void> {
    cells(list).map(|cell| unsafe { cell.ptr_value }).collect()
}

fn cells(list: *mut pg_sys::List) -> impl Iterator<Item = pg_sys::ListCell> {
    // SAFETY: a NIL (null) list has no cells; otherwise `elements` holds `length` cells.
    let (length, elements) = match unsafe { list.as_ref() } {
        Some(list) => (list.length as usize, list.elements),
        None => (0, std::ptr::null_mut()),
    };
    (0..length).map(move |i| unsafe { *elements.add(i) })
}
