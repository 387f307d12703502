//! The tenant registry: `vital.tenants`, its lifecycle functions, and role allowances.

use crate::error::{raise, required, Code};
use crate::privileged::as_vital;
use crate::sql;
use pgrx::prelude::*;
use pgrx::Uuid;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// The platform tenant: owns every row that existed before a table was registered, and its
/// rows are shared read-only with every tenant.
pub const PLATFORM_TENANT: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Display names are for people: a bound keeps a runaway value out of the registry.
const MAX_NAME_CHARS: usize = 200;

pub fn platform() -> Uuid {
    Uuid::from_bytes(PLATFORM_TENANT)
}

/// What vital knows about one tenant.
#[derive(Clone)]
pub struct TenantRow {
    pub slug: String,
    pub active: bool,
}

/// A per-backend cache that empties itself when the catalog-cache generation moves on.
struct GenerationCache<K, V> {
    generation: u64,
    entries: HashMap<K, V>,
}

impl<K: std::hash::Hash + Eq, V: Clone> GenerationCache<K, V> {
    fn new() -> Self {
        GenerationCache {
            generation: 0,
            entries: HashMap::new(),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        (self.generation == crate::context::cache_generation()).then(|| self.entries.get(key).cloned())?
    }

    fn insert(&mut self, key: K, value: V) {
        let generation = crate::context::cache_generation();
        if self.generation != generation {
            self.generation = generation;
            self.entries.clear();
        }
        self.entries.insert(key, value);
    }
}

/// Every restricted role's allowed tenants: role OID -> tenant ids.
type Allowances = HashMap<u32, HashSet<[u8; 16]>>;

thread_local! {
    /// Tenants and role allowances already looked up in this backend. Every change to
    /// vital.tenants or vital.tenant_allowances sends a relcache invalidation for vital.tenants
    /// (the statement trigger `tenant_registry_changed`), which moves the generation on in every
    /// backend at its next statement; so set_tenant() usually costs hash lookups, not queries.
    static TENANTS: RefCell<GenerationCache<[u8; 16], Option<TenantRow>>> = RefCell::new(GenerationCache::new());
    static ALLOWANCES: RefCell<GenerationCache<(), Rc<Allowances>>> = RefCell::new(GenerationCache::new());
}

/// Looks a tenant up by id (cached per backend); `None` when it does not exist.
pub fn find(id: Uuid) -> Option<TenantRow> {
    if let Some(row) = TENANTS.with(|c| c.borrow().get(&*id)) {
        return row;
    }
    let row = lookup(id);
    TENANTS.with(|c| c.borrow_mut().insert(*id, row.clone()));
    row
}

/// One text value from vital's registry. During a parallel query (leader or worker) only a
/// read-only lookup under the statement's snapshot is allowed; otherwise a fresh snapshot sees
/// what the transaction changed earlier in the same statement.
fn registry_lookup(query: &str, args: &[pgrx::datum::DatumWithOid]) -> Option<String> {
    if unsafe { pg_sys::IsInParallelMode() } {
        sql::read_one::<String>(query, args)
    } else {
        sql::one::<String>(query, args)
    }
}

/// Looks a tenant up by id with vital's own rights, bypassing the cache.
fn lookup(id: Uuid) -> Option<TenantRow> {
    let (slug, status) = as_vital(|| {
        registry_lookup(
            "SELECT slug || '/' || status FROM vital.tenants WHERE id = $1",
            &[id.into()],
        )
    })
    .and_then(|s| s.split_once('/').map(|(a, b)| (a.to_string(), b.to_string())))?;
    Some(TenantRow {
        slug,
        active: status == "active",
    })
}

/// Like [`find`], but an unknown tenant is an error that names it.
pub fn get(id: Uuid) -> TenantRow {
    match find(id) {
        Some(row) => row,
        None => raise(
            Code::ERRCODE_UNDEFINED_OBJECT,
            format!("tenant {id} does not exist"),
            Some("See vital.tenants for the known tenants, or create one with vital.create_tenant()."),
        ),
    }
}

/// Slugs are lower-case `[a-z0-9-]`, 1 to 63 characters (they fit in an identifier).
fn check_slug(slug: &str) {
    let well_formed = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        raise(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid tenant slug {slug:?}"),
            Some("A slug is 1 to 63 characters of lower-case letters, digits and '-'."),
        );
    }
}

#[pg_extern(immutable, parallel_safe)]
pub fn platform_tenant() -> Uuid {
    platform()
}

#[pg_extern]
fn create_tenant(slug: Option<&str>, name: Option<&str>, id: default!(Option<Uuid>, "NULL")) -> Uuid {
    let slug = required(slug, "vital.create_tenant", "slug");
    let name = required(name, "vital.create_tenant", "name");
    check_slug(slug);
    if name.trim().is_empty() {
        raise(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("tenant {slug:?} needs a non-empty name"),
            None,
        );
    }
    if name.chars().count() > MAX_NAME_CHARS {
        raise(
            Code::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
            format!("tenant {slug:?}: name is longer than {MAX_NAME_CHARS} characters"),
            None,
        );
    }
    let id = id.unwrap_or_else(|| Uuid::from_bytes(*uuid::Uuid::new_v4().as_bytes()));

    if find(id).is_some() {
        raise(
            Code::ERRCODE_UNIQUE_VIOLATION,
            format!("tenant {id} already exists"),
            Some("Pass another id, or NULL to have one generated."),
        );
    }
    let slug_taken = as_vital(|| {
        sql::one::<bool>(
            "SELECT EXISTS (SELECT FROM vital.tenants WHERE slug = $1)",
            &[slug.into()],
        )
    });
    if slug_taken == Some(true) {
        raise(
            Code::ERRCODE_UNIQUE_VIOLATION,
            format!("tenant slug {slug:?} is already taken"),
            Some("Slugs are unique; pick another one."),
        );
    }
    as_vital(|| {
        sql::run(
            "INSERT INTO vital.tenants (id, slug, name) VALUES ($1, $2, $3)",
            &[id.into(), slug.into(), name.into()],
        )
    });
    id
}

#[pg_extern(stable, parallel_safe)]
fn tenant_id(slug: Option<&str>) -> Uuid {
    let slug = required(slug, "vital.tenant_id", "slug");
    // PARALLEL SAFE: in a parallel worker this must be a read-only lookup.
    let id =
        as_vital(|| sql::read_one::<Uuid>("SELECT id FROM vital.tenants WHERE slug = $1", &[slug.into()]));
    // A role restricted by allowances learns only its own tenants' ids.
    let visible = |id: &Uuid| {
        let (current_user, session_user) = unsafe { (pg_sys::GetUserId(), pg_sys::GetSessionUserId()) };
        role_may_use(current_user, *id) && role_may_use(session_user, *id)
    };
    match id.filter(visible) {
        Some(id) => id,
        None => raise(
            Code::ERRCODE_UNDEFINED_OBJECT,
            format!("tenant {slug:?} does not exist"),
            Some("See vital.tenants for the known slugs."),
        ),
    }
}

fn set_status(function: &str, tenant: Option<Uuid>, status: &str) {
    let tenant = required(tenant, function, "tenant");
    get(tenant);
    if *tenant == PLATFORM_TENANT && status != "active" {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("the platform tenant {tenant} cannot be suspended"),
            Some("The platform tenant owns the shared rows every tenant reads."),
        );
    }
    as_vital(|| {
        sql::run(
            "UPDATE vital.tenants SET status = $2 WHERE id = $1",
            &[tenant.into(), status.into()],
        )
    });
}

#[pg_extern]
fn suspend_tenant(tenant: Option<Uuid>) {
    set_status("vital.suspend_tenant", tenant, "suspended");
}

#[pg_extern]
fn resume_tenant(tenant: Option<Uuid>) {
    set_status("vital.resume_tenant", tenant, "active");
}

/// Adds or removes one allowance after checking the role and the tenant.
fn change_allowance(function: &str, role: Option<pg_sys::Oid>, tenant: Option<Uuid>, statement: &str) {
    let role = required(role, function, "role");
    let tenant = required(tenant, function, "tenant");
    check_role_exists(role);
    get(tenant);
    as_vital(|| sql::run(statement, &[role.into(), tenant.into()]));
}

#[pg_extern(sql = "
CREATE FUNCTION vital.allow_tenant(\"role\" regrole, tenant uuid) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn allow_tenant(role: Option<pg_sys::Oid>, tenant: Option<Uuid>) {
    change_allowance(
        "vital.allow_tenant",
        role,
        tenant,
        "INSERT INTO vital.tenant_allowances (role, tenant) VALUES ($1::oid::regrole, $2) ON CONFLICT DO NOTHING",
    );
}

#[pg_extern(sql = "
CREATE FUNCTION vital.disallow_tenant(\"role\" regrole, tenant uuid) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn disallow_tenant(role: Option<pg_sys::Oid>, tenant: Option<Uuid>) {
    change_allowance(
        "vital.disallow_tenant",
        role,
        tenant,
        "DELETE FROM vital.tenant_allowances WHERE role = $1::oid::regrole AND tenant = $2",
    );
}

fn check_role_exists(role: pg_sys::Oid) {
    let name = unsafe { pg_sys::GetUserNameFromId(role, true) };
    if name.is_null() {
        raise(
            Code::ERRCODE_UNDEFINED_OBJECT,
            format!("role with OID {} does not exist", role.to_u32()),
            None,
        );
    }
}

/// Whether `role` may use `tenant`. A role with allowances may use only those tenants, and so
/// may every role that has its privileges (a member of it, directly or through other roles):
/// the tenant must be allowed by every restricted role whose privileges `role` has.
/// Superusers are exempt.
pub fn role_may_use(role: pg_sys::Oid, tenant: Uuid) -> bool {
    if unsafe { pg_sys::superuser_arg(role) } {
        return true;
    }
    let allowances = all_allowances();
    allowances.iter().all(|(&restricted, allowed)| {
        allowed.contains(&*tenant)
            || !unsafe { pg_sys::has_privs_of_role(role, pg_sys::Oid::from(restricted)) }
    })
}

/// Every role's allowances (role OID -> tenants), cached per backend like `find`. Membership
/// is PostgreSQL's own (cached) role graph, asked per check.
fn all_allowances() -> Rc<Allowances> {
    if let Some(all) = ALLOWANCES.with(|c| c.borrow().get(&())) {
        return all;
    }
    let rows = as_vital(|| {
        registry_lookup(
            "SELECT string_agg(role::oid::text || '/' || tenant::text, ',') FROM vital.tenant_allowances",
            &[],
        )
    })
    .unwrap_or_default();
    let mut all = Allowances::new();
    for pair in rows.split(',').filter(|p| !p.is_empty()) {
        let Some((role, tenant)) = pair.split_once('/') else {
            continue;
        };
        if let (Ok(role), Ok(tenant)) = (role.parse::<u32>(), uuid::Uuid::try_parse(tenant)) {
            all.entry(role).or_default().insert(*tenant.as_bytes());
        }
    }
    let all = Rc::new(all);
    ALLOWANCES.with(|c| c.borrow_mut().insert((), all.clone()));
    all
}

pub fn role_name(role: pg_sys::Oid) -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(role, true);
        if name.is_null() {
            format!("{}", role.to_u32())
        } else {
            std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
}

/// Statement trigger on vital.tenants and vital.tenant_allowances: whoever changes them (the
/// functions above, or a superuser's plain UPDATE), every backend's caches learn of it. A
/// relcache invalidation of the changed table is broadcast at commit; the callback in
/// `context.rs` drops the validated tenant and moves the cache generation on for any relation.
#[pg_trigger]
fn tenant_registry_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(trigger.relid()?) };
    Ok(None)
}
