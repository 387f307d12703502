//! Small helpers over pgrx's SPI: run a statement, fetch one value, fetch a column.
//! Values are always bound as arguments; only identifiers (quoted with [`ident`] /
//! [`qualified`]) and vital's own constants are ever written into statement text.

use crate::error;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Runs a statement that returns nothing of interest.
pub fn run(query: &str, args: &[DatumWithOid]) {
    error::spi(Spi::run_with_args(query, args), "running a statement");
}

/// The first column of the first row, `None` when there is no row or the value is NULL.
pub fn one<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid]) -> Option<T> {
    error::spi(
        Spi::connect_mut(|client| {
            let table = client.update(query, Some(1), args)?;
            if table.is_empty() {
                Ok(None)
            } else {
                table.first().get_one::<T>()
            }
        }),
        "fetching a value",
    )
}

/// Like [`one`], for a query that only reads and may run in a parallel worker: it runs
/// read-only under the calling statement's snapshot (no new snapshot, no command-counter
/// increment, which parallel workers refuse). It does not see changes made earlier by the same
/// statement, so it is for lookups only.
pub fn read_one<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid]) -> Option<T> {
    error::spi(
        Spi::connect(|client| {
            let table = client.select(query, Some(1), args)?;
            if table.is_empty() {
                Ok(None)
            } else {
                table.first().get_one::<T>()
            }
        }),
        "fetching a value",
    )
}

/// The first column of every row (NULLs skipped).
pub fn column<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid]) -> Vec<T> {
    error::spi(
        Spi::connect_mut(|client| {
            let table = client.update(query, None, args)?;
            let mut out = Vec::with_capacity(table.len());
            for row in table {
                if let Some(v) = row.get::<T>(1)? {
                    out.push(v);
                }
            }
            Ok(out)
        }),
        "fetching a column",
    )
}

/// Every row as a vector of nullable text values (for small catalog queries).
pub fn rows_text(query: &str, args: &[DatumWithOid]) -> Vec<Vec<Option<String>>> {
    error::spi(
        Spi::connect_mut(|client| texts_of(client.update(query, None, args)?)),
        "fetching rows",
    )
}

thread_local! {
    static KEPT: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// [`rows_text`] for one of vital's fixed queries on a hot path (the event triggers run for
/// every DDL command): parsed and planned once per backend and kept, and always run with its
/// generic plan (a custom plan per run would plan on every DDL command). PostgreSQL's plan cache
/// re-plans it when what it reads changes. Prepared as a mutating statement, so that each run
/// takes a new snapshot and sees what the running command did.
pub fn rows_text_kept(
    query: &'static str,
    types: &[PgOid],
    args: &[DatumWithOid],
) -> Vec<Vec<Option<String>>> {
    run_kept(query, types, args, true)
}

/// [`rows_text_kept`] for a query without parameters, whose one plan is generic anyway: no
/// `plan_cache_mode` switch (which costs more than such a query does).
pub fn rows_text_kept_without_params(query: &'static str) -> Vec<Vec<Option<String>>> {
    run_kept(query, &[], &[], false)
}

/// Runs the kept statement for `query` (prepared and kept on first use), under
/// `plan_cache_mode = force_generic_plan` when `force_generic` is set.
fn run_kept(
    query: &'static str,
    types: &[PgOid],
    args: &[DatumWithOid],
    force_generic: bool,
) -> Vec<Vec<Option<String>>> {
    let kept = KEPT.with(|k| k.borrow().get(query).cloned());
    error::spi(
        Spi::connect_mut(|client| {
            let statement = match kept {
                Some(statement) => statement,
                None => {
                    let statement = Rc::new(client.prepare_mut(query, types)?.keep());
                    KEPT.with(|k| k.borrow_mut().insert(query, statement.clone()));
                    statement
                }
            };
            if force_generic {
                crate::privileged::with_setting(c"plan_cache_mode", c"force_generic_plan", || {
                    texts_of(client.update(&*statement, None, args)?)
                })
            } else {
                texts_of(client.update(&*statement, None, args)?)
            }
        }),
        "fetching rows",
    )
}

fn texts_of(table: SpiTupleTable) -> pgrx::spi::SpiResult<Vec<Vec<Option<String>>>> {
    let mut out = Vec::with_capacity(table.len());
    for row in table {
        let n = row.columns();
        let mut values = Vec::with_capacity(n);
        for i in 1..=n {
            values.push(row.get::<String>(i)?);
        }
        out.push(values);
    }
    Ok(out)
}

/// Whether the function `signature` (as `to_regprocedure` reads it: `vital.f(oid[],boolean)`)
/// exists. The library runs under the SQL of an older release between a package upgrade and
/// `ALTER EXTENSION vital_tenancy UPDATE`: a check that needs a function only the current SQL
/// has asks first.
pub fn function_exists(signature: &str) -> bool {
    crate::privileged::as_vital(|| {
        one::<bool>(
            "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL",
            &[signature.into()],
        )
    })
    .unwrap_or(false)
}

/// An OID from a text column of a catalog query.
pub fn oid(text: Option<&str>) -> Option<pg_sys::Oid> {
    text?.parse::<u32>().ok().map(pg_sys::Oid::from)
}

/// A quoted identifier.
pub fn ident(name: &str) -> String {
    pgrx::spi::quote_identifier(name)
}

/// `name` cut to what PostgreSQL keeps of an identifier (NAMEDATALEN - 1 bytes, whole characters).
pub fn truncated_name(mut name: String) -> String {
    while name.len() >= pg_sys::NAMEDATALEN as usize {
        name.pop();
    }
    name
}

/// A quoted schema-qualified name.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Runs a data-modifying statement and returns how many rows it processed.
pub fn execute_count(query: &str, args: &[DatumWithOid]) -> u64 {
    error::spi(
        Spi::connect_mut(|client| client.update(query, None, args).map(|t| t.len() as u64)),
        "running a statement",
    )
}

/// [`rows_text`] for a read-only query run under `snapshot` instead of a new one: what the
/// catalogs said when that snapshot was taken (the event triggers ask what was already broken
/// before a command). Names and expressions are printed with today's catalog, as in any query.
pub fn rows_text_as_of(
    snapshot: pg_sys::Snapshot,
    query: &str,
    types: &[pg_sys::Oid],
    args: &[pg_sys::Datum],
) -> Vec<Vec<Option<String>>> {
    let query = std::ffi::CString::new(query).expect("vital's queries have no NUL");
    let mut types = types.to_vec();
    let mut args = args.to_vec();
    let nulls = vec![b' ' as std::ffi::c_char; args.len()];
    // SAFETY: one SPI connection, closed below; an ERROR aborts the transaction, which closes it.
    unsafe {
        if pg_sys::SPI_connect() < 0 {
            error::raise(
                error::Code::ERRCODE_INTERNAL_ERROR,
                "could not connect to SPI",
                None,
            );
        }
        let plan = pg_sys::SPI_prepare(query.as_ptr(), types.len() as i32, types.as_mut_ptr());
        let status = pg_sys::SPI_execute_snapshot(
            plan,
            args.as_mut_ptr(),
            nulls.as_ptr(),
            snapshot,
            std::ptr::null_mut(),
            true,
            false,
            0,
        );
        let mut out = Vec::new();
        if status >= 0 && !pg_sys::SPI_tuptable.is_null() {
            let table = &*pg_sys::SPI_tuptable;
            let natts = (*table.tupdesc).natts;
            for i in 0..pg_sys::SPI_processed as usize {
                let tuple = *table.vals.add(i);
                let mut row = Vec::with_capacity(natts as usize);
                for column in 1..=natts {
                    let value = pg_sys::SPI_getvalue(tuple, table.tupdesc, column);
                    row.push(if value.is_null() {
                        None
                    } else {
                        Some(std::ffi::CStr::from_ptr(value).to_string_lossy().into_owned())
                    });
                }
                out.push(row);
            }
        }
        pg_sys::SPI_finish();
        out
    }
}
