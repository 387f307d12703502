//! Per-tenant statement statistics: `vital.tenant_stats()` and `vital.tenant_stats_reset()`.
//!
//! Every top-level statement that runs the executor (SELECT, INSERT, UPDATE, DELETE, MERGE,
//! also through EXECUTE and the extended protocol) is counted for the tenant current when it
//! ends (`vital.tenant`, however it was set: session, transaction, login setting), or for "no
//! tenant". Statements inside functions count in the statement that called them, as with
//! `pg_stat_statements`' default; a statement that fails is not counted.
//!
//! The counts live in shared memory (so `shared_preload_libraries = 'vital_tenancy'` is
//! required) in a fixed table of [`SLOTS`] tenants under one LWLock, taken exclusively for
//! the few arithmetic operations of one update; a backend remembers its tenant's slot, so the
//! common update reads no other slot. When the table is full, a new tenant replaces the one
//! with the fewest statements (its counts are lost; `evicted` in the docs' query counts how
//! often). A restart or `tenant_stats_reset()` starts from zero.
//!
//! Time and buffers come from the executor's own instrumentation of the whole statement
//! (`queryDesc->totaltime`, as `pg_stat_statements` and `auto_explain` use it): two clock
//! reads per statement.

use crate::error::{raise, Code};
use crate::privileged::as_vital;
use crate::sql;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock, Uuid};
use std::cell::Cell;
use std::collections::HashMap;

/// Tenants tracked at once. 1000 slots take 88 kB of shared memory.
pub const SLOTS: usize = 1000;

#[derive(Copy, Clone)]
#[repr(C)]
struct Entry {
    used: bool,
    /// `None` in SQL: statements run with no tenant set.
    has_tenant: bool,
    tenant: [u8; 16],
    calls: i64,
    total_ms: f64,
    max_ms: f64,
    rows: i64,
    blocks_hit: i64,
    blocks_read: i64,
    since: pg_sys::TimestampTz,
}

const EMPTY: Entry = Entry {
    used: false,
    has_tenant: false,
    tenant: [0; 16],
    calls: 0,
    total_ms: 0.0,
    max_ms: 0.0,
    rows: 0,
    blocks_hit: 0,
    blocks_read: 0,
    since: 0,
};

#[derive(Copy, Clone)]
#[repr(C)]
struct Stats {
    entries: [Entry; SLOTS],
    reset_at: pg_sys::TimestampTz,
    evictions: i64,
}

// SAFETY: plain data without pointers, the same in every process.
unsafe impl PGRXSharedMemory for Stats {}

static STATS: PgLwLock<Stats> = unsafe { PgLwLock::new(c"vital_tenant_stats") };

/// Set in the postmaster when the library is preloaded (and so inherited by every backend):
/// only then does STATS exist.
static mut PRELOADED: bool = false;

static mut PREVIOUS_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREVIOUS_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREVIOUS_EXECUTOR_RUN: pg_sys::ExecutorRun_hook_type = None;
static mut PREVIOUS_EXECUTOR_FINISH: pg_sys::ExecutorFinish_hook_type = None;
static mut PREVIOUS_EXECUTOR_END: pg_sys::ExecutorEnd_hook_type = None;

thread_local! {
    /// How many executor runs enclose the current point: statements started at depth 0 are
    /// the client's; deeper ones run inside functions.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The slot this backend last updated, and for which tenant: checked under the lock.
    static LAST_SLOT: Cell<Option<(usize, Option<[u8; 16]>)>> = const { Cell::new(None) };
}

/// Called from `_PG_init`: sets up the shared table and the hooks, in the postmaster only.
pub fn init() {
    // SAFETY: reads a flag PostgreSQL sets while it loads shared_preload_libraries.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    pg_shmem_init!(
        STATS = Stats {
            entries: [EMPTY; SLOTS],
            // SAFETY: reads the clock.
            reset_at: unsafe { pg_sys::GetCurrentTimestamp() },
            evictions: 0,
        }
    );
    // SAFETY: the postmaster loads preloaded libraries once, before any backend exists; we
    // chain to the hooks installed before us.
    unsafe {
        PRELOADED = true;
        PREVIOUS_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
        PREVIOUS_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREVIOUS_EXECUTOR_RUN = pg_sys::ExecutorRun_hook;
        pg_sys::ExecutorRun_hook = Some(executor_run);
        PREVIOUS_EXECUTOR_FINISH = pg_sys::ExecutorFinish_hook;
        pg_sys::ExecutorFinish_hook = Some(executor_finish);
        PREVIOUS_EXECUTOR_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end);
    }
}

fn tracking() -> bool {
    crate::gucs::TRACK_TENANT_STATS.get()
}

/// One level deeper while it lives; restored when an error unwinds through the hook too.
struct Deeper;

impl Deeper {
    fn enter() -> Self {
        DEPTH.with(|d| d.set(d.get() + 1));
        Deeper
    }
}

impl Drop for Deeper {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Statements a utility command runs (DO, CALL, CREATE TABLE AS, EXPLAIN ANALYZE, COPY
/// (query), event triggers) are inside it, not the client's; EXECUTE runs the client's
/// prepared statement, which counts (as pg_stat_statements does).
#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: PostgreSQL passes a valid PlannedStmt whose utilityStmt is a parse node.
    let execute = unsafe { (*pstmt).utilityStmt.as_ref() }
        .is_some_and(|node| node.type_ == pg_sys::NodeTag::T_ExecuteStmt);
    let _deeper = (!execute).then(Deeper::enter);
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary,
    // so that they unwind through `_deeper`.
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
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: i32) {
    let top_level = DEPTH.with(|d| d.get()) == 0;
    // Queries other hooks run while the statement starts (statement_guard.rs's checks) are
    // not the client's either.
    let deeper = Deeper::enter();
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary.
    unsafe {
        match PREVIOUS_EXECUTOR_START {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc, eflags)),
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
    }
    drop(deeper);
    // SAFETY: the executor has set up the QueryDesc's EState; the instrumentation lives in
    // the query's own memory context, as pg_stat_statements allocates it.
    unsafe {
        if top_level && tracking() && (*query_desc).totaltime.is_null() {
            let context = pg_sys::MemoryContextSwitchTo((*(*query_desc).estate).es_query_cxt);
            (*query_desc).totaltime = pg_sys::InstrAlloc(
                1,
                (pg_sys::InstrumentOption::INSTRUMENT_TIMER | pg_sys::InstrumentOption::INSTRUMENT_BUFFERS)
                    as i32,
                false,
            );
            pg_sys::MemoryContextSwitchTo(context);
        }
    }
}

#[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query_desc: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    let _deeper = Deeper::enter();
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary.
    unsafe {
        match PREVIOUS_EXECUTOR_RUN {
            Some(previous) => {
                pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc, direction, count, execute_once))
            }
            None => pg_sys::standard_ExecutorRun(query_desc, direction, count, execute_once),
        }
    }
}

#[cfg(feature = "pg18")]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query_desc: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
) {
    let _deeper = Deeper::enter();
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary.
    unsafe {
        match PREVIOUS_EXECUTOR_RUN {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc, direction, count)),
            None => pg_sys::standard_ExecutorRun(query_desc, direction, count),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_finish(query_desc: *mut pg_sys::QueryDesc) {
    let _deeper = Deeper::enter();
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary.
    unsafe {
        match PREVIOUS_EXECUTOR_FINISH {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc)),
            None => pg_sys::standard_ExecutorFinish(query_desc),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_end(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: the QueryDesc is still whole here; the instrumentation stopped running when the
    // last ExecutorRun returned.
    unsafe {
        let instrument = (*query_desc).totaltime;
        if DEPTH.with(|d| d.get()) == 0 && tracking() && !instrument.is_null() {
            pg_sys::InstrEndLoop(instrument);
            let estate = (*query_desc).estate;
            #[cfg(feature = "pg15")]
            let rows = (*estate).es_processed;
            #[cfg(not(feature = "pg15"))]
            let rows = (*estate).es_total_processed;
            record(
                current_tenant_bytes(),
                (*instrument).total * 1000.0,
                rows as i64,
                (*instrument).bufusage.shared_blks_hit,
                (*instrument).bufusage.shared_blks_read,
            );
        }
        match PREVIOUS_EXECUTOR_END {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc)),
            None => pg_sys::standard_ExecutorEnd(query_desc),
        }
    }
}

/// The tenant of `vital.tenant` as it is now, without validating it again: only
/// `set_tenant` (after its checks) and superusers set it.
fn current_tenant_bytes() -> Option<[u8; 16]> {
    crate::gucs::tenant_raw()
        .and_then(|raw| uuid::Uuid::try_parse_ascii(raw).ok())
        .map(|u| *u.as_bytes())
}

fn record(tenant: Option<[u8; 16]>, ms: f64, rows: i64, hit: i64, read: i64) {
    let mut stats = STATS.exclusive();
    let matches =
        |e: &Entry| e.used && e.has_tenant == tenant.is_some() && e.tenant == tenant.unwrap_or_default();
    let remembered = LAST_SLOT
        .with(|s| s.get())
        .filter(|(slot, t)| *t == tenant && matches(&stats.entries[*slot]))
        .map(|(slot, _)| slot);
    let slot = remembered.unwrap_or_else(|| {
        if let Some(found) = stats.entries.iter().position(matches) {
            return found;
        }
        // A free slot, or the tenant with the fewest statements gives its slot up.
        let free = stats.entries.iter().position(|e| !e.used);
        let slot = free.unwrap_or_else(|| {
            let fewest = (0..SLOTS).min_by_key(|&i| stats.entries[i].calls).unwrap_or(0);
            stats.evictions += 1;
            fewest
        });
        let since = if stats.evictions == 0 {
            stats.reset_at
        } else {
            // SAFETY: reads the clock.
            unsafe { pg_sys::GetCurrentTimestamp() }
        };
        stats.entries[slot] = Entry {
            used: true,
            has_tenant: tenant.is_some(),
            tenant: tenant.unwrap_or_default(),
            since,
            ..EMPTY
        };
        slot
    });
    LAST_SLOT.with(|s| s.set(Some((slot, tenant))));
    let entry = &mut stats.entries[slot];
    entry.calls += 1;
    entry.total_ms += ms;
    entry.max_ms = entry.max_ms.max(ms);
    entry.rows += rows;
    entry.blocks_hit += hit;
    entry.blocks_read += read;
}

fn require_preloaded(function: &str) {
    // SAFETY: a flag written once in the postmaster before any backend started.
    if !unsafe { PRELOADED } {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{function} needs vital_tenancy in shared_preload_libraries"),
            Some("Add vital_tenancy to shared_preload_libraries in postgresql.conf and restart the server (docs/operations.md, \"Monitoring\")."),
        );
    }
}

#[pg_extern(sql = "
CREATE FUNCTION vital.tenant_stats()
RETURNS TABLE(tenant uuid, slug text, calls bigint, total_exec_ms double precision,
              mean_exec_ms double precision, max_exec_ms double precision, rows bigint,
              shared_blks_hit bigint, shared_blks_read bigint, since timestamptz)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
#[allow(clippy::type_complexity)] // pg_extern reads the row type from the signature itself.
fn tenant_stats() -> TableIterator<
    'static,
    (
        name!(tenant, Option<Uuid>),
        name!(slug, Option<String>),
        name!(calls, i64),
        name!(total_exec_ms, f64),
        name!(mean_exec_ms, f64),
        name!(max_exec_ms, f64),
        name!(rows, i64),
        name!(shared_blks_hit, i64),
        name!(shared_blks_read, i64),
        name!(since, Option<TimestampWithTimeZone>),
    ),
> {
    require_preloaded("vital.tenant_stats()");
    let entries: Vec<Entry> = STATS.share().entries.iter().filter(|e| e.used).copied().collect();
    let slugs: HashMap<String, String> = as_vital(|| {
        sql::rows_text("SELECT id::text, slug FROM vital.tenants", &[])
            .into_iter()
            .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
            .collect()
    });
    let rows: Vec<_> = entries
        .into_iter()
        .map(|e| {
            let tenant = e.has_tenant.then(|| Uuid::from_bytes(e.tenant));
            let slug = tenant.and_then(|t| slugs.get(&t.to_string()).cloned());
            (
                tenant,
                slug,
                e.calls,
                e.total_ms,
                if e.calls > 0 {
                    e.total_ms / e.calls as f64
                } else {
                    0.0
                },
                e.max_ms,
                e.rows,
                e.blocks_hit,
                e.blocks_read,
                TimestampWithTimeZone::try_from(e.since).ok(),
            )
        })
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(sql = "
CREATE FUNCTION vital.tenant_stats_reset() RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn tenant_stats_reset() {
    require_preloaded("vital.tenant_stats_reset()");
    let mut stats = STATS.exclusive();
    stats.entries = [EMPTY; SLOTS];
    stats.evictions = 0;
    // SAFETY: reads the clock.
    stats.reset_at = unsafe { pg_sys::GetCurrentTimestamp() };
}

/// How many tenants gave their slot up since the last reset (docs: the top-tenants query).
#[pg_extern(sql = "
CREATE FUNCTION vital.tenant_stats_evictions() RETURNS bigint
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn tenant_stats_evictions() -> i64 {
    require_preloaded("vital.tenant_stats_evictions()");
    STATS.share().evictions
}
