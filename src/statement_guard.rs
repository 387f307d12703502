//! Statements refused to roles that row level security binds, because what they show or hold
//! reaches past the policies into other tenants' rows (isolation lines 35 and 36):
//!
//! * `EXPLAIN` of a statement that reads a registered table. Row estimates come from statistics
//!   over every tenant's rows, and `EXPLAIN ANALYZE` counts the rows the policy removed after an
//!   index condition the caller wrote (`Rows Removed by Filter`): a binary search over such
//!   counts recovers other tenants' values.
//! * `LOCK TABLE` stronger than `ROW EXCLUSIVE` on a registered table (or a view over one): any
//!   role with `UPDATE` may take `ACCESS EXCLUSIVE` and stop every tenant.
//! * DDL that PostgreSQL locks a named table for before it checks the role's privileges
//!   (`CREATE RULE` takes `ACCESS EXCLUSIVE`, `CREATE TRIGGER`, a foreign key to it, a partition
//!   or child of it, `COMMENT ON`, `SECURITY LABEL`, `CREATE STATISTICS`): the attempt fails in
//!   the end, but while its lock request waits behind any reader, every other tenant's statement
//!   queues behind it.
//! * Any statement that reads a registered table while `client_min_messages` sends LOG messages
//!   to the client: `debug_print_plan` (user-settable) prints the plan with its estimates, and
//!   `auto_explain`, where a DBA loaded it, prints `EXPLAIN ANALYZE`'s counts.
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

static mut PREVIOUS_PLANNER: pg_sys::planner_hook_type = None;

thread_local! {
    /// How many `EXPLAIN` statements are running in this backend (they nest through functions).
    static EXPLAINING: Cell<u32> = const { Cell::new(0) };
    /// Set while the checks below run their own catalog queries, which plan and start
    /// executors too: those are not checked.
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

pub fn init() {
    // SAFETY: _PG_init runs once per process, before any statement; we chain to whatever hook
    // was installed before us.
    unsafe {
        PREVIOUS_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
        PREVIOUS_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREVIOUS_PLANNER = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(planner);
    }
}

/// Marks the checks' own queries (see `CHECKING`) until dropped.
struct Checking(bool);

impl Checking {
    fn start() -> Self {
        Checking(CHECKING.with(|c| c.replace(true)))
    }
}

impl Drop for Checking {
    fn drop(&mut self) {
        CHECKING.with(|c| c.set(self.0));
    }
}

/// Whether LOG-level messages reach the client (`client_min_messages` at LOG or a DEBUG level).
fn client_sees_log() -> bool {
    // SAFETY: a plain read of a backend global.
    unsafe { pg_sys::client_min_messages <= pg_sys::LOG as c_int }
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
        Some(pg_sys::NodeTag::T_PrepareStmt | pg_sys::NodeTag::T_ListenStmt) => {
            crate::pooled_session::note_session_object();
            None
        }
        Some(_) => {
            refuse_lock_before_check(statement);
            None
        }
        None => None,
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
    let explaining = EXPLAINING.with(|e| e.get()) > 0;
    let remote_commands = citus_logs_commands();
    if (explaining || client_sees_log() || remote_commands) && !CHECKING.with(|c| c.get()) {
        let _checking = Checking::start();
        // SAFETY: the executor is handed a valid QueryDesc with its PlannedStmt.
        let relations = unsafe { (*(*query_desc).plannedstmt).relationOids };
        if explaining {
            refuse_reading(relations, Shown::Explain);
        } else if client_sees_log() {
            refuse_reading(relations, Shown::LogMessages);
        } else {
            refuse_reading(relations, Shown::RemoteCommands);
        }
    }
    // SAFETY: passed through unchanged.
    unsafe {
        match PREVIOUS_EXECUTOR_START {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| previous(query_desc, eflags)),
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn planner(
    parse: *mut pg_sys::Query,
    query_string: *const c_char,
    cursor_options: c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // Before Citus plans it: a distributed plan does not name the tables it reads in
    // relationOids (the attack review's EXPLAIN ANALYZE of a distributed table), the query does.
    let explaining = EXPLAINING.with(|e| e.get()) > 0;
    if (explaining || client_sees_log() || citus_logs_commands()) && !CHECKING.with(|c| c.get()) {
        let _checking = Checking::start();
        let mut relations: *mut pg_sys::List = std::ptr::null_mut();
        let mut inval_items: *mut pg_sys::List = std::ptr::null_mut();
        let mut row_security = false;
        // SAFETY: walks the query the planner was handed; fills two fresh lists.
        unsafe {
            pg_sys::extract_query_dependencies(
                parse.cast(),
                &mut relations,
                &mut inval_items,
                &mut row_security,
            )
        };
        let shown = if explaining {
            Shown::Explain
        } else if client_sees_log() {
            Shown::LogMessages
        } else {
            Shown::RemoteCommands
        };
        refuse_reading(relations, shown);
    }
    // SAFETY: passed through unchanged; a previous hook's errors are caught at the boundary.
    let planned = unsafe {
        match PREVIOUS_PLANNER {
            Some(previous) => pg_sys::ffi::pg_guard_ffi_boundary(|| {
                previous(parse, query_string, cursor_options, bound_params)
            }),
            None => pg_sys::standard_planner(parse, query_string, cursor_options, bound_params),
        }
    };
    // pg_plan_query prints the plan (debug_print_plan) right after this returns.
    if client_sees_log() && !CHECKING.with(|c| c.get()) {
        let _checking = Checking::start();
        // SAFETY: the planner returned a valid PlannedStmt.
        refuse_reading(unsafe { (*planned).relationOids }, Shown::LogMessages);
    }
    planned
}

/// What would show other tenants' rows (or a tenant token) to the client.
#[derive(Clone, Copy)]
enum Shown {
    Explain,
    LogMessages,
    /// Citus's `citus.log_remote_commands`: the commands sent to the workers carry the
    /// transaction's tenant token (citus.rs), which a role could replay.
    RemoteCommands,
}

/// Whether Citus prints the commands it sends to the workers to the client.
fn citus_logs_commands() -> bool {
    if !crate::citus::loaded() {
        return false;
    }
    // SAFETY: a defined setting (Citus is loaded); the string is read at once.
    unsafe {
        let value = pg_sys::GetConfigOption(c"citus.log_remote_commands".as_ptr(), true, false);
        !value.is_null() && std::ffi::CStr::from_ptr(value).to_bytes() == b"on"
    }
}

/// Is `oid` a table vital protects here: registered, or (on a Citus node) a shard with row
/// level security, which is how a registered table's shard looks (its node has no registry).
fn protected(registry: &registry::Registry, oid: pg_sys::Oid) -> bool {
    registry.is_registered(oid)
        || (crate::citus::is_shard(oid)
            // SAFETY: a catalog lookup of an existing relation's row-security flag.
            && unsafe { pg_sys::check_enable_rls(oid, pg_sys::InvalidOid, true) }
                == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32)
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

/// Refuses a plan that reads a registered table (`relations`: the OIDs the plan reads) the
/// policies bind the current user to, when `shown` would print what the plan saw.
fn refuse_reading(relations: *mut pg_sys::List, shown: Shown) {
    // Citus hides shards from queries on pg_class (owner lookups below) in ordinary sessions.
    if crate::citus::loaded() {
        privileged::with_setting(c"citus.override_table_visibility", c"off", || {
            refuse_reading_visible(relations, shown)
        })
    } else {
        refuse_reading_visible(relations, shown)
    }
}

fn refuse_reading_visible(relations: *mut pg_sys::List, shown: Shown) {
    let Some(registry) = registry::get() else {
        return;
    };
    let Some(table) = oids(relations)
        .into_iter()
        .find(|&oid| protected(&registry, oid) && bound_by_policies(oid))
    else {
        return;
    };
    match shown {
        Shown::Explain => raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "EXPLAIN of a statement that reads registered table {} is refused to role \"{}\": its estimates and counts come from every tenant's rows",
                name_of(table),
                current_role_name()
            ),
            Some("Run the statement without EXPLAIN, or EXPLAIN it as the table's owner, a superuser or a BYPASSRLS role."),
        ),
        Shown::LogMessages => raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "reading registered table {} with client_min_messages at LOG or DEBUG is refused to role \"{}\": plans printed to the client (debug_print_plan, auto_explain) show every tenant's rows",
                name_of(table),
                current_role_name()
            ),
            Some("SET client_min_messages = notice (the default)."),
        ),
        Shown::RemoteCommands => raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "reading registered table {} with citus.log_remote_commands on is refused to role \"{}\": the commands sent to the workers carry the transaction's tenant token",
                name_of(table),
                current_role_name()
            ),
            Some("SET citus.log_remote_commands = off (the default)."),
        ),
    }
}

/// DDL that PostgreSQL locks a named relation for before checking the role's privileges on it
/// (see the module comment): refused when one of those relations is a registered table the
/// policies bind the current user to.
fn refuse_lock_before_check(statement: *mut pg_sys::Node) {
    let targets = locked_before_check(statement);
    if targets.is_empty() {
        return;
    }
    let Some(registry) = registry::get() else {
        return;
    };
    for (range_var, needs) in targets {
        let Some(table) = existing_relation(range_var) else {
            continue;
        };
        if registry.is_registered(table) && bound_by_policies(table) && !has_privilege(table, needs) {
            // SAFETY: CreateCommandTag reads the parse node; the name is a static string.
            let command = unsafe {
                std::ffi::CStr::from_ptr(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(statement)))
            };
            raise(
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "{} naming registered table {} is refused to role \"{}\": PostgreSQL locks the table before it checks the role's privileges, so even a refused attempt would block every tenant while it waits",
                    command.to_string_lossy(),
                    name_of(table),
                    current_role_name()
                ),
                Some("Only the table's owner (or a superuser) may run it."),
            );
        }
    }
}

/// What PostgreSQL checks, after locking, before it lets the command act on a table.
#[derive(Clone, Copy)]
enum Needs {
    /// Ownership (what bound_by_policies already excludes).
    Owner,
    /// A table privilege (TRIGGER), or REFERENCES on the table or any of its columns.
    Privilege(u32),
}

/// Whether the current user has what `needs` asks for on `table` (ownership is decided by
/// `bound_by_policies`).
fn has_privilege(table: pg_sys::Oid, needs: Needs) -> bool {
    let Needs::Privilege(mode) = needs else {
        return false;
    };
    // SAFETY: catalog reads for the current user.
    unsafe {
        let user = pg_sys::GetUserId();
        pg_sys::pg_class_aclcheck(table, user, mode as pg_sys::AclMode) == pg_sys::AclResult::ACLCHECK_OK
            || (mode == pg_sys::ACL_REFERENCES
                && pg_sys::pg_attribute_aclcheck_all(
                    table,
                    user,
                    mode as pg_sys::AclMode,
                    pg_sys::AclMaskHow::ACLMASK_ANY,
                ) == pg_sys::AclResult::ACLCHECK_OK)
    }
}

/// The relations a utility statement names that PostgreSQL 15–18 lock before their privilege
/// check, with the check: the statement's own target where the command checks ownership or a
/// privilege after opening it, and the other tables it opens that way (a foreign key's
/// referenced table, a parent).
fn locked_before_check(statement: *mut pg_sys::Node) -> Vec<(*mut pg_sys::RangeVar, Needs)> {
    use pg_sys::NodeTag as T;
    let mut owned = Vec::new();
    let mut referenced = Vec::new();
    let mut triggered = Vec::new();
    let targets = &mut owned;
    // SAFETY: each cast follows the node's tag; lists hold the node types the grammar puts there.
    unsafe {
        match (*statement).type_ {
            T::T_RuleStmt => targets.push((*statement.cast::<pg_sys::RuleStmt>()).relation),
            T::T_CreateTrigStmt => triggered.push((*statement.cast::<pg_sys::CreateTrigStmt>()).relation),
            T::T_CreateStatsStmt => {
                for node in pointers((*statement.cast::<pg_sys::CreateStatsStmt>()).relations) {
                    if is_a(node, T::T_RangeVar) {
                        targets.push(node.cast());
                    }
                }
            }
            T::T_CreateStmt => {
                let create = &*statement.cast::<pg_sys::CreateStmt>();
                targets.extend(
                    pointers(create.inhRelations)
                        .into_iter()
                        .map(|p| p.cast::<pg_sys::RangeVar>()),
                );
                for element in pointers(create.tableElts)
                    .into_iter()
                    .chain(pointers(create.constraints))
                {
                    referenced.extend(referenced_tables(element.cast()));
                }
            }
            T::T_AlterTableStmt => {
                for cmd in pointers((*statement.cast::<pg_sys::AlterTableStmt>()).cmds) {
                    let cmd = &*cmd.cast::<pg_sys::AlterTableCmd>();
                    match cmd.subtype {
                        pg_sys::AlterTableType::AT_AddConstraint | pg_sys::AlterTableType::AT_AddColumn => {
                            referenced.extend(referenced_tables(cmd.def))
                        }
                        pg_sys::AlterTableType::AT_AddInherit if is_a(cmd.def, T::T_RangeVar) => {
                            targets.push(cmd.def.cast())
                        }
                        pg_sys::AlterTableType::AT_AttachPartition if is_a(cmd.def, T::T_PartitionCmd) => {
                            targets.push((*cmd.def.cast::<pg_sys::PartitionCmd>()).name)
                        }
                        _ => {}
                    }
                }
            }
            T::T_CommentStmt => {
                let comment = &*statement.cast::<pg_sys::CommentStmt>();
                targets.extend(relation_of_object(comment.objtype, comment.object));
            }
            T::T_SecLabelStmt => {
                let label = &*statement.cast::<pg_sys::SecLabelStmt>();
                targets.extend(relation_of_object(label.objtype, label.object));
            }
            _ => {}
        }
    }
    let with = |list: Vec<*mut pg_sys::RangeVar>, needs: Needs| list.into_iter().map(move |rv| (rv, needs));
    with(owned, Needs::Owner)
        .chain(with(referenced, Needs::Privilege(pg_sys::ACL_REFERENCES)))
        .chain(with(triggered, Needs::Privilege(pg_sys::ACL_TRIGGER)))
        .filter(|(rv, _)| !rv.is_null())
        .collect()
}

/// The tables a column definition's or a table constraint's foreign keys reference.
fn referenced_tables(node: *mut pg_sys::Node) -> Vec<*mut pg_sys::RangeVar> {
    use pg_sys::NodeTag as T;
    // SAFETY: casts follow the node tags.
    unsafe {
        let constraints = if is_a(node, T::T_ColumnDef) {
            pointers((*node.cast::<pg_sys::ColumnDef>()).constraints)
        } else if is_a(node, T::T_Constraint) {
            vec![node.cast()]
        } else {
            Vec::new()
        };
        constraints
            .into_iter()
            .map(|c| &*c.cast::<pg_sys::Constraint>())
            .filter(|c| c.contype == pg_sys::ConstrType::CONSTR_FOREIGN)
            .map(|c| c.pktable)
            .collect()
    }
}

/// The relation a `COMMENT ON` / `SECURITY LABEL` object names: the object itself for tables and
/// the like, the table for a column, constraint, trigger, policy or rule.
fn relation_of_object(
    kind: pg_sys::ObjectType::Type,
    object: *mut pg_sys::Node,
) -> Option<*mut pg_sys::RangeVar> {
    use pg_sys::ObjectType as O;
    let names: *mut pg_sys::List = object.cast();
    // SAFETY: for these object types the grammar gives a list of name strings.
    unsafe {
        if !is_a(object, pg_sys::NodeTag::T_List) {
            return None;
        }
        let length = (*names).length;
        let relation_names = match kind {
            O::OBJECT_TABLE | O::OBJECT_VIEW | O::OBJECT_MATVIEW | O::OBJECT_FOREIGN_TABLE => names,
            O::OBJECT_COLUMN
            | O::OBJECT_TABCONSTRAINT
            | O::OBJECT_TRIGGER
            | O::OBJECT_POLICY
            | O::OBJECT_RULE
                if length > 1 =>
            {
                pg_sys::list_copy_head(names, length - 1)
            }
            _ => return None,
        };
        Some(pg_sys::makeRangeVarFromNameList(relation_names))
    }
}

fn is_a<N>(node: *mut N, tag: pg_sys::NodeTag) -> bool {
    // SAFETY: any node starts with its tag.
    !node.is_null() && unsafe { (*node.cast::<pg_sys::Node>()).type_ } == tag
}

/// The OID of the relation `range_var` names, without locking it; `None` when there is none.
fn existing_relation(range_var: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
    // SAFETY: a RangeVar from the parse tree; no lock is taken, a missing relation is left for
    // the command to report.
    let rel = unsafe {
        pg_sys::RangeVarGetRelidExtended(
            range_var,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    (rel != pg_sys::InvalidOid).then_some(rel)
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
        let Some(rel) = existing_relation(range_var.cast()) else {
            continue;
        };
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
