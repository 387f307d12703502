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
            crate::privileged::with_setting(c"plan_cache_mode", c"force_generic_plan", || {
                texts_of(client.update(&*statement, None, args)?)
            })
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
