//! Error reporting: every error vital raises carries a real SQLSTATE (never XX000),
//! a message that names the object, and a hint where the fix is known.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

pub use pgrx::PgSqlErrorCode as Code;

/// Called from `_PG_init`: errors that reach a client never carry a Rust backtrace.
///
/// pgrx's panic hook captures `std::backtrace::Backtrace` for every error raised from Rust and
/// appends it to the DETAIL the client sees when `RUST_BACKTRACE` is set in the server's
/// environment (clusters started from a shell inherit it). `Backtrace::capture` reads
/// `RUST_LIB_BACKTRACE` (which takes precedence) once per copy of `std` and caches the answer,
/// so we make that first answer "disabled" for the `std` linked into this library and put the
/// environment back as it was: nothing else in the server is affected.
pub fn init() {
    const VAR: &str = "RUST_LIB_BACKTRACE";
    let saved = std::env::var_os(VAR);
    // The backend is single-threaded here; nothing reads the environment concurrently.
    std::env::set_var(VAR, "0");
    let _ = std::backtrace::Backtrace::capture();
    match saved {
        Some(value) => std::env::set_var(VAR, value),
        None => std::env::remove_var(VAR),
    }
}

/// Raises an ERROR with `code`, `message` and an optional hint. Never returns.
#[track_caller]
pub fn raise(code: Code, message: impl Into<String>, hint: Option<&str>) -> ! {
    report(ErrorReport::new(code, message.into(), "vital_tenancy"), hint)
}

/// Unwraps an argument that must not be NULL, naming the argument in the error.
#[track_caller]
pub fn required<T>(value: Option<T>, function: &str, argument: &str) -> T {
    match value {
        Some(v) => v,
        None => raise(
            Code::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{function}: argument \"{argument}\" must not be NULL"),
            None,
        ),
    }
}

/// Unwraps the result of an SPI call. PostgreSQL errors raised inside SPI keep their own
/// SQLSTATE; this only catches SPI's own status failures, which are reported as
/// external-routine errors instead of a bare internal error.
#[track_caller]
pub fn spi<T>(result: Result<T, pgrx::spi::SpiError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => raise(
            Code::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
            format!("vital: {what} failed: {e}"),
            None,
        ),
    }
}

/// Adds the hint, if any, and raises the report at ERROR level.
#[track_caller]
fn report(mut report: ErrorReport, hint: Option<&str>) -> ! {
    if let Some(hint) = hint {
        report = report.set_hint(hint.to_string());
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR-level reports do not return")
}
