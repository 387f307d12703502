//! The invariants of registered tables, kept after every DDL command.
//!
//! The checks are SQL over the catalogs (`vital.broken_invariants()` in `sql/invariants.sql`),
//! shared with `vital.audit()` so that the event triggers and the audit agree on what "broken"
//! means. Here they run for the tables a command touched; a command that broke one is refused,
//! which rolls it back whole.

use crate::error::{raise, Code};
use crate::sql;
use pgrx::prelude::*;
use pgrx::{PgBuiltInOids, PgOid};
use std::collections::HashMap;

/// One broken invariant: the object it is about, the problem, its fix, and the registered
/// table it belongs to (none for vital's own functions).
pub struct Problem {
    object: String,
    problem: String,
    fix: String,
    table: Option<String>,
}

const BROKEN: &str = "SELECT b.object, b.problem, b.fix, b.relid::pg_catalog.regclass::text
                        FROM vital.broken_invariants($1, $2) b
                       ORDER BY b.severity, b.object, b.problem";

fn problems(rows: Vec<Vec<Option<String>>>) -> Vec<Problem> {
    rows.into_iter()
        .map(|r| Problem {
            object: r[0].clone().unwrap_or_default(),
            problem: r[1].clone().unwrap_or_default(),
            fix: r[2].clone().unwrap_or_default(),
            table: r[3].clone(),
        })
        .collect()
}

/// The broken invariants of `tables` (and of vital's functions, with `vital_functions`).
pub fn broken(tables: &[pg_sys::Oid], vital_functions: bool) -> Vec<Problem> {
    if tables.is_empty() && !vital_functions {
        return Vec::new();
    }
    problems(sql::rows_text_kept(
        BROKEN,
        &[
            PgOid::BuiltIn(PgBuiltInOids::OIDARRAYOID),
            PgOid::BuiltIn(PgBuiltInOids::BOOLOID),
        ],
        &[tables.to_vec().into(), vital_functions.into()],
    ))
}

/// [`broken`] as the catalogs were when `before` was taken (the command's start).
fn broken_before(before: pg_sys::Snapshot, tables: &[pg_sys::Oid], vital_functions: bool) -> Vec<Problem> {
    let tables = tables.to_vec().into_datum().unwrap_or(pg_sys::Datum::from(0));
    problems(sql::rows_text_as_of(
        before,
        BROKEN,
        &[pg_sys::OIDARRAYOID, pg_sys::BOOLOID],
        &[tables, pg_sys::Datum::from(vital_functions)],
    ))
}

thread_local! {
    static WARNED_SQL_IS_OLDER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Once per session: the extension's SQL is older than the library, so DDL on registered
/// tables goes unchecked until `ALTER EXTENSION vital_tenancy UPDATE`.
fn warn_sql_is_older() {
    if WARNED_SQL_IS_OLDER.with(|w| w.replace(true)) {
        return;
    }
    pgrx::warning!(
        "vital_tenancy's SQL is older than its library: DDL on registered tables is not checked until ALTER EXTENSION vital_tenancy UPDATE"
    );
}

/// Refuses the running command (55000) when one of `tables` breaks an invariant that was not
/// already broken before it: only when a problem is found are the catalogs read again as of
/// `before`, the snapshot taken when the command started, to tell old problems (a table left
/// broken while the event triggers were off, or a pg_restore half way) from new ones. Also
/// checks vital's own functions when the command touched one.
pub fn refuse_if_broken(
    command: &str,
    tables: &[pg_sys::Oid],
    vital_functions_touched: bool,
    before: Option<pg_sys::Snapshot>,
) {
    if !crate::registry::get().is_some_and(|r| r.checks_invariants()) {
        warn_sql_is_older();
        return;
    }
    let problems = broken(tables, vital_functions_touched);
    if problems.is_empty() {
        return;
    }
    let baseline = match before {
        Some(before) => broken_before(before, tables, vital_functions_touched),
        None => Vec::new(),
    };
    // A problem is new unless the table had as many of its kind before: renaming an object
    // that has a problem (a replica-only trigger renamed back to vital's name) creates none.
    let mut before: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    for p in &baseline {
        *before
            .entry((p.table.as_deref(), p.problem.as_str()))
            .or_default() += 1;
    }
    let new: Vec<&Problem> = problems
        .iter()
        .filter(
            |p| match before.get_mut(&(p.table.as_deref(), p.problem.as_str())) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            },
        )
        .collect();
    let Some(first) = new.first() else {
        return;
    };
    let others: Vec<String> = new[1..]
        .iter()
        .map(|p| format!("{}: {}", p.object, p.problem))
        .collect();
    report(
        command,
        &first.object,
        &first.problem,
        Some(&first.fix),
        first.table.as_deref(),
        &others,
    );
}

/// Refuses the running command because it would leave `problem` on registered `table`.
pub fn refuse(command: &str, table: &str, problem: &str) -> ! {
    report(command, table, problem, None, Some(table), &[])
}

fn report(
    command: &str,
    object: &str,
    problem: &str,
    fix: Option<&str>,
    table: Option<&str>,
    others: &[String],
) -> ! {
    let mut hint = String::new();
    if let Some(fix) = fix {
        hint.push_str(&format!("To repair it: {fix}. "));
    }
    match table {
        Some(table) => hint.push_str(&format!(
            "To change the table freely, take it out of vital first: SELECT vital.unregister_table({});",
            pgrx::spi::quote_literal(table)
        )),
        None => hint.push_str("vital.unregister_table() takes a table out of vital first."),
    }
    let mut message = format!("{command} would break tenant isolation of {object}: {problem}");
    if !others.is_empty() {
        message.push_str(&format!(" (and {} more: {})", others.len(), others.join("; ")));
    }
    raise(
        Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        message,
        Some(&hint),
    )
}
