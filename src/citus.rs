//! Citus: the current tenant on every node.
//!
//! Citus runs the pieces of a distributed statement on the workers over its own connections,
//! as the current user. `vital.tenant` never reaches them: it is superuser-only, and Citus
//! forwards only `SET LOCAL` statements (with `citus.propagate_set_commands = 'local'`) of
//! settings the connecting role may set. So on a node where `vital.distribute()` has run,
//! `set_tenant(t, true)` also runs `SET LOCAL vital.tenant_token = '<token>'`, which Citus
//! replays on every worker connection of the transaction, right after
//! `assign_distributed_transaction_id(...)`.
//!
//! A token says: "in distributed transaction (initiator node, number, timestamp), role R was
//! checked for tenant T". It is signed with HMAC-SHA256 (PostgreSQL's own `pg_hmac_*`) under
//! the cluster key that `vital.distribute()` writes on every node (`vital.cluster_key`, which
//! only superusers can read). `current_tenant()` on a node where `vital.tenant` is empty
//! accepts a token only with a valid signature, for its current user, inside that same
//! distributed transaction. An application role may set the setting (it must, for Citus to
//! forward it) but cannot make a token, and one it sees (in `pg_stat_activity` of its own
//! Citus connections) names another transaction. Anything else in the setting is an error
//! (42501), never a tenant.
//!
//! Citus is found at run time: its library is loaded into the global symbol namespace by
//! `shared_preload_libraries`, and vital looks up the two transaction-id functions it needs.

use crate::error::{raise, Code};
use crate::{context, privileged, sql};
use pgrx::prelude::*;
use pgrx::Uuid;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};

/// Citus's `DistributedTransactionId` (transaction_identifier.h, Citus 11–13).
#[repr(C)]
struct DistributedTransactionId {
    initiator_node_identifier: c_int,
    transaction_originator: bool,
    transaction_number: u64,
    timestamp: i64,
}

/// The distributed transaction a token belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TransactionId {
    pub initiator: i32,
    pub number: u64,
    pub timestamp: i64,
}

type GetCurrentFn = unsafe extern "C" fn() -> *mut DistributedTransactionId;
type EnsureFn = unsafe extern "C" fn();
type KnownShardFn = unsafe extern "C" fn(pg_sys::Oid) -> bool;
type CitusTableFn = unsafe extern "C" fn(pg_sys::Oid) -> bool;
type IsCoordinatorFn = unsafe extern "C" fn() -> bool;

unsafe extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn pg_hmac_create(kind: c_int) -> *mut c_void;
    fn pg_hmac_init(ctx: *mut c_void, key: *const u8, len: usize) -> c_int;
    fn pg_hmac_update(ctx: *mut c_void, data: *const u8, len: usize) -> c_int;
    fn pg_hmac_final(ctx: *mut c_void, dest: *mut u8, len: usize) -> c_int;
    fn pg_hmac_free(ctx: *mut c_void);
}

/// `PG_SHA256` in PostgreSQL's `pg_cryptohash_type` (common/cryptohash.h, 14 to 18).
const PG_SHA256: c_int = 3;

/// A token `current_tenant()` accepted, for whom and in which transaction.
struct Accepted {
    token: Vec<u8>,
    user: pg_sys::Oid,
    transaction: u64,
    tenant: Uuid,
}

struct Symbols {
    get_current: GetCurrentFn,
    ensure: EnsureFn,
    known_shard: KnownShardFn,
    citus_table: CitusTableFn,
    is_coordinator: IsCoordinatorFn,
}

thread_local! {
    static SYMBOLS: std::cell::OnceCell<Option<Symbols>> = const { std::cell::OnceCell::new() };
    /// The cluster key and the cache generation it was read in.
    static KEY: RefCell<Option<(u64, Option<Vec<u8>>)>> = const { RefCell::new(None) };
    /// The last token accepted.
    static ACCEPTED: RefCell<Option<Accepted>> = const { RefCell::new(None) };
}

fn lookup(name: &CStr) -> *mut c_void {
    // SAFETY: RTLD_DEFAULT (a null handle on glibc) searches the global namespace, where
    // PostgreSQL's dlopen(RTLD_GLOBAL) put every preloaded library.
    unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) }
}

fn with_symbols<R>(f: impl FnOnce(Option<&Symbols>) -> R) -> R {
    SYMBOLS.with(|cell| {
        let symbols = cell.get_or_init(|| {
            let get_current = lookup(c"GetCurrentDistributedTransactionId");
            let ensure = lookup(c"EnsureDistributedTransactionId");
            let known_shard = lookup(c"RelationIsAKnownShard");
            let citus_table = lookup(c"IsCitusTable");
            let is_coordinator = lookup(c"IsCoordinator");
            let found = [get_current, ensure, known_shard, citus_table, is_coordinator];
            found.iter().all(|p| !p.is_null()).then(|| Symbols {
                // SAFETY: Citus's functions with these C signatures (transaction_identifier.h,
                // transaction_management.h, worker_shard_visibility.h, metadata_cache.h).
                get_current: unsafe { std::mem::transmute::<*mut c_void, GetCurrentFn>(get_current) },
                ensure: unsafe { std::mem::transmute::<*mut c_void, EnsureFn>(ensure) },
                known_shard: unsafe { std::mem::transmute::<*mut c_void, KnownShardFn>(known_shard) },
                citus_table: unsafe { std::mem::transmute::<*mut c_void, CitusTableFn>(citus_table) },
                is_coordinator: unsafe {
                    std::mem::transmute::<*mut c_void, IsCoordinatorFn>(is_coordinator)
                },
            })
        });
        f(symbols.as_ref())
    })
}

/// Is Citus loaded in this backend?
pub fn loaded() -> bool {
    with_symbols(|s| s.is_some())
}

/// Is `rel` a shard (a placement of a distributed or reference table) on this node?
pub fn is_shard(rel: pg_sys::Oid) -> bool {
    // SAFETY: a catalog lookup by OID in Citus's metadata.
    with_symbols(|s| s.is_some_and(|s| unsafe { (s.known_shard)(rel) }))
}

/// Is `rel` a table Citus manages (distributed, reference or Citus local)?
pub fn is_citus_table(rel: pg_sys::Oid) -> bool {
    // SAFETY: a lookup in Citus's metadata cache by OID.
    with_symbols(|s| s.is_some_and(|s| unsafe { (s.citus_table)(rel) }))
}

/// Refuses to register or unregister (`what`) a table Citus manages: its shards would not
/// follow (DDL propagation may be off) and Citus refuses some of the changes. vital.distribute()
/// and vital.undistribute() are the way in and out.
pub fn refuse_citus_table(rel: pg_sys::Oid, name: &str, what: &str) {
    if is_citus_table(rel) {
        raise(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{name} is a Citus table: it cannot be {what} while it is distributed"),
            Some("Registered tables are distributed by vital.distribute() and back with vital.undistribute(); undistribute_table() a table distributed by hand first."),
        );
    }
}

/// Runs `f` (work on a registered table as its owner, who is the current user by now) with
/// `tenant` reaching the workers: on a distributed database the owner is bound by the shards'
/// policies there, so it gets a token of its own for this transaction, reset afterwards.
pub fn with_tenant_on_workers<R>(tenant: Uuid, f: impl FnOnce() -> R) -> R {
    if !distributed() {
        return f();
    }
    propagate_tenant(tenant);
    let result = f();
    sql::run("RESET vital.tenant_token", &[]);
    result
}

/// The current distributed transaction, when Citus is loaded and one is assigned; with
/// `ensure`, assigns one first (as Citus does before it opens a worker connection).
pub fn transaction_id(ensure: bool) -> Option<TransactionId> {
    with_symbols(|symbols| {
        let symbols = symbols?;
        // SAFETY: Citus's own accessors of this backend's distributed transaction id; ensure
        // is only called inside a transaction block (set_tenant checked it).
        let id = unsafe {
            if ensure {
                (symbols.ensure)();
            }
            &*(symbols.get_current)()
        };
        (id.transaction_number != 0).then_some(TransactionId {
            initiator: id.initiator_node_identifier,
            number: id.transaction_number,
            timestamp: id.timestamp,
        })
    })
}

/// The cluster key, when `vital.distribute()` has written one on this node.
fn cluster_key() -> Option<Vec<u8>> {
    let generation = context::cache_generation();
    if let Some((g, key)) = KEY.with(|k| k.borrow().clone()) {
        if g == generation {
            return key;
        }
    }
    let key = privileged::as_vital(|| sql::read_one::<Vec<u8>>("SELECT key FROM vital.cluster_key", &[]));
    KEY.with(|k| *k.borrow_mut() = Some((generation, key.clone())));
    key
}

/// Does a session here need tokens: Citus loaded and `vital.distribute()` run?
pub fn distributed() -> bool {
    loaded() && cluster_key().is_some()
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: PostgreSQL's HMAC over OpenSSL (or its fallback); every call is checked and the
    // context is freed on every path.
    unsafe {
        let ctx = pg_hmac_create(PG_SHA256);
        if ctx.is_null() {
            raise(
                Code::ERRCODE_OUT_OF_MEMORY,
                "could not create an HMAC context",
                None,
            );
        }
        let ok = pg_hmac_init(ctx, key.as_ptr(), key.len()) == 0
            && pg_hmac_update(ctx, message.as_ptr(), message.len()) == 0
            && pg_hmac_final(ctx, out.as_mut_ptr(), out.len()) == 0;
        pg_hmac_free(ctx);
        if !ok {
            raise(Code::ERRCODE_INTERNAL_ERROR, "HMAC-SHA256 failed", None);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signed part of a token: version, tenant, role name (hex), transaction id.
fn claim(tenant: Uuid, role: &str, xact: TransactionId) -> String {
    format!(
        "v1:{tenant}:{}:{}:{}:{}",
        hex(role.as_bytes()),
        xact.initiator,
        xact.number,
        xact.timestamp
    )
}

/// Makes the current transaction's tenant reach every node: called by `set_tenant(t, true)`
/// after its checks, on a node where [`distributed`] holds.
pub fn propagate_tenant(tenant: Uuid) {
    let key = cluster_key().expect("distributed() checked the key");
    let xact = transaction_id(true).unwrap_or_else(|| {
        raise(
            Code::ERRCODE_INTERNAL_ERROR,
            "Citus assigned no distributed transaction id",
            None,
        )
    });
    let role = current_user_name();
    let claim = claim(tenant, &role, xact);
    let token = format!("{claim}:{}", hex(&hmac(&key, claim.as_bytes())));
    // Citus forwards SET LOCAL only while this says 'local'; for this transaction only.
    privileged::set_local(c"citus.propagate_set_commands", c"local");
    // A real SET LOCAL statement, so that Citus's utility hook sees and forwards it. The
    // token is hex digits, digits, '-' and ':' only.
    sql::run(&format!("SET LOCAL vital.tenant_token = '{token}'"), &[]);
}

/// Ends the transaction's token on every node (`clear_tenant`): `RESET` is forwarded by Citus.
pub fn clear_token() {
    if crate::gucs::token_raw().is_some() {
        sql::run("RESET vital.tenant_token", &[]);
    }
}

fn current_user_name() -> String {
    // SAFETY: the name of an existing role (the current user), copied at once.
    unsafe {
        CStr::from_ptr(pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false))
            .to_string_lossy()
            .into_owned()
    }
}

fn refuse(token: &[u8], why: &str) -> ! {
    let shown = String::from_utf8_lossy(&token[..token.len().min(12)]).into_owned();
    raise(
        Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("vital.tenant_token \"{shown}...\" is not valid here: {why}"),
        Some("Only vital.set_tenant(tenant, true) makes tenant tokens; RESET vital.tenant_token."),
    )
}

/// The tenant a token in `vital.tenant_token` stands for on this node (see the module
/// comment); an error for anything that is not a valid token of this transaction and user.
pub fn tenant_from_token(token: &[u8]) -> Uuid {
    // The coordinator has the registry and its sessions set vital.tenant: a token there can
    // only be a replay (attack review: a token captured with citus.log_remote_commands,
    // replayed after assign_distributed_transaction_id, which every role may call).
    // SAFETY: reads Citus's node metadata.
    if with_symbols(|s| s.is_some_and(|s| unsafe { (s.is_coordinator)() })) {
        refuse(token, "tokens are accepted on the workers only");
    }
    let user = unsafe { pg_sys::GetUserId() };
    let xact = transaction_id(false);
    if let Some(tenant) = ACCEPTED.with(|a| {
        a.borrow().as_ref().and_then(|a| {
            let same = a.token.as_slice() == token
                && a.user == user
                && Some(a.transaction) == xact.map(|x| x.number);
            same.then_some(a.tenant)
        })
    }) {
        return tenant;
    }
    let text = std::str::from_utf8(token).unwrap_or_else(|_| refuse(token, "not a token"));
    let Some((claimed, signature)) = text.rsplit_once(':') else {
        refuse(token, "not a token")
    };
    let Some(key) = cluster_key() else {
        refuse(
            token,
            "this node has no cluster key (run vital.distribute() on the coordinator)",
        )
    };
    let expected = hex(&hmac(&key, claimed.as_bytes()));
    // Compared in full whatever the first difference, so that time tells nothing.
    let same = expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        refuse(token, "bad signature");
    }
    let fields: Vec<&str> = claimed.split(':').collect();
    let [_, tenant, role_hex, initiator, number, timestamp] = fields[..] else {
        refuse(token, "not a token")
    };
    let tenant = Uuid::from_bytes(
        *uuid::Uuid::try_parse(tenant)
            .unwrap_or_else(|_| refuse(token, "not a token"))
            .as_bytes(),
    );
    if role_hex != hex(current_user_name().as_bytes()) {
        refuse(token, "it was made for another role");
    }
    let made_for = TransactionId {
        initiator: initiator.parse().unwrap_or_else(|_| refuse(token, "not a token")),
        number: number.parse().unwrap_or_else(|_| refuse(token, "not a token")),
        timestamp: timestamp.parse().unwrap_or_else(|_| refuse(token, "not a token")),
    };
    if xact != Some(made_for) {
        refuse(token, "it was made for another transaction");
    }
    // A replay must also claim the old transaction's id, which any role can do on a worker:
    // tokens expire (vital.token_max_age after their transaction began).
    let age_us = unsafe { pg_sys::GetCurrentTimestamp() } - made_for.timestamp;
    if age_us > i64::from(crate::gucs::TOKEN_MAX_AGE.get()) * 1_000_000 {
        refuse(token, "it has expired (vital.token_max_age)");
    }
    ACCEPTED.with(|a| {
        *a.borrow_mut() = Some(Accepted {
            token: token.to_vec(),
            user,
            transaction: made_for.number,
            tenant,
        })
    });
    tenant
}
