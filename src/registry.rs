//! What `vital.registrations` and `vital.registered_schemas` say, cached per backend, so that
//! the event triggers cost next to nothing for DDL on tables vital does not manage.
//!
//! The trigger `registry_changed` on both tables sends a relcache invalidation for the
//! changed table (as `tenant_registry_changed` does for the tenant registry); the callback
//! below drops the cache when that invalidation, or a full reset, arrives. Invalidations reach
//! this backend at the next command of its own transaction, and from other transactions when
//! they commit and this backend next takes a lock, which any DDL command does first.

use crate::sql;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// The registry as of the last load.
pub struct Registry {
    tables: HashSet<pg_sys::Oid>,
    /// Registered schemas and their exclude lists.
    schemas: HashMap<pg_sys::Oid, Vec<String>>,
    /// Whether the installed SQL has `vital.broken_invariants()`: not between a package upgrade
    /// from 0.1.0 and `ALTER EXTENSION vital_tenancy UPDATE`, whose re-registrations drop this
    /// cache in every backend.
    checks_invariants: bool,
}

impl Registry {
    pub fn is_registered(&self, table: pg_sys::Oid) -> bool {
        self.tables.contains(&table)
    }

    pub fn checks_invariants(&self) -> bool {
        self.checks_invariants
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.schemas.is_empty()
    }

    /// Whether a table named `name` arriving in schema `nsp` is registered with it.
    pub fn schema_wants(&self, nsp: pg_sys::Oid, name: &str) -> bool {
        self.schemas
            .get(&nsp)
            .is_some_and(|exclude| !exclude.iter().any(|e| e == name))
    }
}

/// The registry's tables' OIDs, whose invalidations drop the cache.
#[derive(Clone, Copy, Default)]
struct Watched {
    registrations: pg_sys::Oid,
    registered_schemas: pg_sys::Oid,
}

thread_local! {
    static CACHE: RefCell<Option<Rc<Registry>>> = const { RefCell::new(None) };
    static WATCHED: RefCell<Watched> = RefCell::new(Watched::default());
}

pub fn init() {
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(registry_invalidated), pg_sys::Datum::from(0)) };
}

#[pg_guard]
unsafe extern "C-unwind" fn registry_invalidated(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let watched = WATCHED.with(|w| *w.borrow());
    if relid == pg_sys::InvalidOid || relid == watched.registrations || relid == watched.registered_schemas {
        CACHE.with(|c| c.borrow_mut().take());
    }
}

/// The registry, loaded (with vital's rights: the tables are vital's) when needed; `None`
/// while vital's tables do not exist (the extension is being created or dropped).
pub fn get() -> Option<Rc<Registry>> {
    if let Some(registry) = CACHE.with(|c| c.borrow().clone()) {
        return Some(registry);
    }
    crate::privileged::as_vital(load)
}

fn load() -> Option<Rc<Registry>> {
    let watched = Watched {
        registrations: sql::one::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass('vital.registrations')::oid",
            &[],
        )?,
        registered_schemas: sql::one::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass('vital.registered_schemas')::oid",
            &[],
        )?,
    };
    // Watch first: an invalidation that arrives while loading then drops what was loaded.
    WATCHED.with(|w| *w.borrow_mut() = watched);
    let tables = sql::column::<pg_sys::Oid>("SELECT relid::pg_catalog.oid FROM vital.registrations", &[])
        .into_iter()
        .collect();
    let mut schemas: HashMap<pg_sys::Oid, Vec<String>> = HashMap::new();
    for row in sql::rows_text(
        "SELECT s.nsp::pg_catalog.oid::text, e.name
           FROM vital.registered_schemas s LEFT JOIN LATERAL pg_catalog.unnest(s.exclude) e(name) ON true",
        &[],
    ) {
        let Some(nsp) = sql::oid(row[0].as_deref()) else {
            continue;
        };
        let exclude = schemas.entry(nsp).or_default();
        exclude.extend(row[1].clone());
    }
    let checks_invariants = sql::function_exists("vital.broken_invariants(oid[],boolean)");
    let registry = Rc::new(Registry {
        tables,
        schemas,
        checks_invariants,
    });
    CACHE.with(|c| *c.borrow_mut() = Some(registry.clone()));
    Some(registry)
}

/// Row (and TRUNCATE) trigger on vital's registry tables: every backend's cache above is dropped.
#[pg_trigger]
fn registry_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(trigger.relid()?) };
    Ok(None)
}
