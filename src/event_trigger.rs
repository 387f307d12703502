//! vital's DDL event triggers.
//!
//! pgrx 0.18 has no event-trigger macro, so the trigger functions are C-language functions
//! that read `EventTriggerData` from `fcinfo->context`. They fire for every command (no tag
//! list): what they keep is the state of registered tables, whatever command changed it.
//!
//! * `ddl_command_start` refuses `DROP EXTENSION vital_tenancy` while tables are registered and
//!   `DROP INDEX CONCURRENTLY` of a tenant index (neither can be undone at the end), and notes
//!   the tables a `SET SCHEMA` or rename may bring into a registered schema.
//! * `sql_drop` forgets dropped tables (however they were dropped), refuses dropping vital's
//!   triggers from a registered table, and notes the registered tables a drop touched.
//! * `ddl_command_end` registers tables that arrived in a registered schema or partition tree,
//!   keeps partition bookkeeping right, then checks the invariants of every registered table
//!   the command touched (`invariants.rs`) and refuses the command (55000) when one broke;
//!   last, it keeps the foreign-key guards in step with the foreign keys.
//!
//! vital's own DDL (inside register/unregister) is skipped: see `registration::VitalDdl`.

use crate::error::{raise, Code};
use crate::privileged::as_vital;
use crate::registration::{self, Via};
use crate::{fk_guard, invariants, registry, sql};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::CStr;

const EXTENSION_NAME: &str = "vital_tenancy";
const OID_ARRAY: pgrx::PgOid = pgrx::PgOid::BuiltIn(pgrx::PgBuiltInOids::OIDARRAYOID);

unsafe fn event_trigger_data<'a>(fcinfo: pg_sys::FunctionCallInfo) -> &'a pg_sys::EventTriggerData {
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            raise(
                Code::ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED,
                "vital's event trigger functions can only be called as event triggers",
                None,
            );
        }
        &*(context as *const pg_sys::EventTriggerData)
    }
}

/// What `ddl_command_start` and `sql_drop` learned for the `ddl_command_end` of the same
/// command. Reset when a command starts, taken when it ends.
#[derive(Default)]
struct Pending {
    /// The (sub)transaction nesting level the command started in.
    level: i32,
    /// Relations a `SET SCHEMA` or rename may have brought into a registered schema.
    moved: Vec<pg_sys::Oid>,
    /// Registered tables the command dropped something from.
    touched: Vec<pg_sys::Oid>,
    /// Whether the command dropped a registered table (guards elsewhere may be stale now).
    forgot_tables: bool,
    /// The catalogs as the command found them (a registered snapshot, released at the end or
    /// by the abort): a command is refused only for problems it created (invariants.rs).
    before: Option<pg_sys::Snapshot>,
}

thread_local! {
    /// One entry per DDL command under way (a command can run another: a function it calls),
    /// pushed by ddl_command_start, popped by ddl_command_end; entries of aborted
    /// (sub)transactions are dropped by the callbacks below.
    static PENDING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
}

/// Changes the entry of the command under way (there is one between start and end).
fn with_pending(f: impl FnOnce(&mut Pending)) {
    PENDING.with(|p| {
        if let Some(top) = p.borrow_mut().last_mut() {
            f(top)
        }
    });
}

pub fn init() {
    // SAFETY: plain callback registrations, once per backend from _PG_init.
    unsafe {
        pg_sys::RegisterXactCallback(Some(transaction_ends), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(subtransaction_ends), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn transaction_ends(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent as E;
    match event {
        // A command that never reached its end (it cannot have committed without one, but be
        // safe): release its snapshot before the resource owner checks for leaks.
        E::XACT_EVENT_PRE_COMMIT | E::XACT_EVENT_PARALLEL_PRE_COMMIT | E::XACT_EVENT_PRE_PREPARE => {
            for pending in PENDING.with(|p| std::mem::take(&mut *p.borrow_mut())) {
                release(pending.before);
            }
        }
        // The abort releases the snapshots; forget them.
        E::XACT_EVENT_ABORT | E::XACT_EVENT_PARALLEL_ABORT => PENDING.with(|p| p.borrow_mut().clear()),
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn subtransaction_ends(
    event: pg_sys::SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // Commands started inside the aborted subtransaction never reach their end.
        let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
        let aborted: Vec<Pending> = PENDING.with(|p| {
            let mut pending = p.borrow_mut();
            let keep = pending.iter().take_while(|e| e.level < level).count();
            pending.split_off(keep)
        });
        for pending in aborted {
            release(pending.before);
        }
    }
}

/// Unregisters a command's snapshot from the transaction's resource owner.
fn release(before: Option<pg_sys::Snapshot>) {
    if let Some(before) = before {
        // SAFETY: registered on TopTransactionResourceOwner by ddl_command_start and not
        // released since (each Pending is released once: it is removed from PENDING first).
        unsafe { pg_sys::UnregisterSnapshotFromOwner(before, pg_sys::TopTransactionResourceOwner) };
    }
}

fn command_tag(data: &pg_sys::EventTriggerData) -> String {
    unsafe { cstr(pg_sys::GetCommandTagName(data.tag)) }.to_string()
}

// ---------------------------------------------------------------------------------------
// ddl_command_start: what cannot be undone at the end, and what the end needs to know
// ---------------------------------------------------------------------------------------

#[pg_extern(sql = "
CREATE FUNCTION vital.ddl_command_start_guard() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn ddl_command_start_guard(fcinfo: pg_sys::FunctionCallInfo) {
    if registration::in_vital_ddl() {
        return;
    }
    let data = unsafe { event_trigger_data(fcinfo) };
    PENDING.with(|p| {
        p.borrow_mut().push(Pending {
            level: unsafe { pg_sys::GetCurrentTransactionNestLevel() },
            ..Pending::default()
        })
    });
    let tree = data.parsetree;
    if tree.is_null() {
        return;
    }
    // SAFETY: a copy of the latest snapshot, registered with the transaction's resource owner
    // (not the portal's, which a command may outlive): ddl_command_end unregisters it, so do the
    // callbacks below for a command that never reaches its end, and an abort releases it.
    let before = unsafe {
        pg_sys::RegisterSnapshotOnOwner(pg_sys::GetLatestSnapshot(), pg_sys::TopTransactionResourceOwner)
    };
    with_pending(|p| p.before = Some(before));
    unsafe {
        match (*tree).type_ {
            pg_sys::NodeTag::T_DropStmt => check_drop(&*(tree as *const pg_sys::DropStmt)),
            pg_sys::NodeTag::T_AlterObjectSchemaStmt => {
                note_moved((*(tree as *const pg_sys::AlterObjectSchemaStmt)).relation)
            }
            pg_sys::NodeTag::T_RenameStmt => {
                let stmt = &*(tree as *const pg_sys::RenameStmt);
                if matches!(
                    stmt.renameType,
                    pg_sys::ObjectType::OBJECT_TABLE
                        | pg_sys::ObjectType::OBJECT_VIEW
                        | pg_sys::ObjectType::OBJECT_MATVIEW
                        | pg_sys::ObjectType::OBJECT_FOREIGN_TABLE
                ) {
                    note_moved(stmt.relation)
                }
            }
            _ => {}
        }
    }
}

unsafe fn cstr<'a>(p: *const std::ffi::c_char) -> &'a str {
    if p.is_null() {
        ""
    } else {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
    }
}

unsafe fn list_nodes(list: *const pg_sys::List) -> Vec<*mut pg_sys::Node> {
    if list.is_null() {
        return Vec::new();
    }
    unsafe {
        let list = &*list;
        (0..list.length as usize)
            .map(|i| (*list.elements.add(i)).ptr_value as *mut pg_sys::Node)
            .collect()
    }
}

unsafe fn string_value<'a>(node: *const pg_sys::Node) -> Option<&'a str> {
    unsafe {
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_String {
            return None;
        }
        Some(cstr((*(node as *const pg_sys::String)).sval))
    }
}

/// The relation a RangeVar names, if it exists (no lock: the command takes its own).
unsafe fn relation_of(rv: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
    if rv.is_null() {
        return None;
    }
    let oid = unsafe {
        pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as _,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

unsafe fn note_moved(rv: *mut pg_sys::RangeVar) {
    if let Some(oid) = unsafe { relation_of(rv) } {
        with_pending(|p| p.moved.push(oid));
    }
}

unsafe fn check_drop(stmt: &pg_sys::DropStmt) {
    match stmt.removeType {
        pg_sys::ObjectType::OBJECT_EXTENSION => {
            let names: Vec<&str> = unsafe { list_nodes(stmt.objects) }
                .into_iter()
                .filter_map(|n| unsafe { string_value(n) })
                .collect();
            if names.contains(&EXTENSION_NAME) {
                refuse_drop_while_registered();
            }
        }
        // A dropped index no longer says whose it was: note its table now. DROP INDEX
        // CONCURRENTLY commits before ddl_command_end could refuse it: check it now.
        pg_sys::ObjectType::OBJECT_INDEX => {
            for object in unsafe { list_nodes(stmt.objects) } {
                let rv = unsafe { pg_sys::makeRangeVarFromNameList(object as *mut pg_sys::List) };
                let Some(index) = (unsafe { relation_of(rv) }) else {
                    continue;
                };
                let table = unsafe { pg_sys::IndexGetRelation(index, true) };
                if table != pg_sys::InvalidOid {
                    with_pending(|p| p.touched.push(table));
                }
                if stmt.concurrent {
                    refuse_last_tenant_index_drop(index);
                }
            }
        }
        _ => {}
    }
}

fn refuse_last_tenant_index_drop(index: pg_sys::Oid) {
    if registry::get().is_none_or(|r| r.is_empty()) {
        return;
    }
    let table = as_vital(|| {
        sql::one::<String>(
            "SELECT i.indrelid::pg_catalog.regclass::text
               FROM pg_catalog.pg_index i
               JOIN vital.registrations r ON r.relid OPERATOR(pg_catalog.=) i.indrelid
              WHERE i.indexrelid OPERATOR(pg_catalog.=) $1
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_index j
                                  JOIN pg_catalog.pg_attribute a ON a.attrelid = j.indrelid AND a.attnum = j.indkey[0]
                                 WHERE j.indrelid = i.indrelid AND j.indexrelid <> i.indexrelid
                                   AND a.attname = 'tenant_id')
                AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND a.attname = 'tenant_id')",
            &[index.into()],
        )
    });
    if let Some(table) = table {
        invariants::refuse(
            "DROP INDEX CONCURRENTLY",
            &table,
            "no index would lead with tenant_id: every tenant-scoped query would scan the table",
        );
    }
}

fn refuse_drop_while_registered() {
    let registered: i64 = match registry::get() {
        Some(_) => as_vital(|| sql::one::<i64>("SELECT count(*) FROM vital.registrations", &[]).unwrap_or(0)),
        None => 0,
    };
    if registered > 0 {
        raise(
            Code::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop extension {EXTENSION_NAME}: {registered} table(s) are still registered"),
            Some("Unregister them first: SELECT vital.unregister_table(relid) FROM vital.registered_tables;"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// sql_drop: forget dropped tables, keep vital's triggers, note what the drop touched
// ---------------------------------------------------------------------------------------

#[pg_extern(sql = "
CREATE FUNCTION vital.sql_drop_handler() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn sql_drop_handler(fcinfo: pg_sys::FunctionCallInfo) {
    let data = unsafe { event_trigger_data(fcinfo) };
    let tag = command_tag(data);
    // vital's own DDL (a compat view re-created, a guard dropped) keeps its own books.
    if registration::in_vital_ddl() {
        return;
    }
    if registry::get().is_none() {
        return;
    }
    as_vital(|| {
        // One statement: forget dropped tables, schemas and compat objects, however they were
        // dropped (by this command, or by a CASCADE from it), and list the registered tables
        // that survive the command but lost something: objects named (schema, table, name)
        // belong to a table, a dropped column names its table by OID, and a dropped index no
        // longer says whose it was (any registered table without a tenant index counts).
        let rows = sql::rows_text_kept(
            "WITH dropped AS MATERIALIZED (SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects()),
             gone AS (SELECT objid FROM dropped
                       WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objsubid = 0),
             forgotten AS (DELETE FROM vital.registrations
                            WHERE relid IN (SELECT objid::pg_catalog.regclass FROM gone) RETURNING 1),
             compat AS (DELETE FROM vital.compat_objects
                         WHERE target IN (SELECT objid::pg_catalog.regclass FROM gone)
                            OR view IN (SELECT objid::pg_catalog.regclass FROM gone)
                            OR lookup IN (SELECT objid::pg_catalog.regclass FROM gone) RETURNING 1),
             schemas AS (DELETE FROM vital.registered_schemas
                          WHERE nsp IN (SELECT objid::pg_catalog.regnamespace FROM dropped
                                         WHERE classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass) RETURNING 1),
             touched AS (
                 SELECT x.tbl, d.object_type, d.address_names[3] AS name
                   FROM dropped d
                  CROSS JOIN LATERAL (
                        SELECT CASE WHEN d.object_type IN ('trigger', 'policy', 'rule', 'table constraint')
                                    THEN pg_catalog.to_regclass(pg_catalog.format('%I.%I', d.address_names[1], d.address_names[2]))::oid
                                    WHEN d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid <> 0
                                    THEN d.objid END AS tbl) x
                 UNION
                 -- Indexes dropped by other commands (a CASCADE from a function, an operator
                 -- class...): any registered table left without a tenant index is touched.
                 SELECT r.relid::oid, 'index', NULL
                   FROM vital.registrations r
                  WHERE $1 AND EXISTS (SELECT FROM dropped d WHERE d.object_type = 'index')
                    AND NOT EXISTS (SELECT FROM pg_catalog.pg_index i
                                      JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                                     WHERE i.indrelid = r.relid::oid AND a.attname = 'tenant_id'))
             SELECT NULL, 'forgotten', (SELECT count(*) FROM forgotten)::text, NULL
             UNION ALL
             SELECT t.tbl::text, t.object_type, t.name, t.tbl::pg_catalog.regclass::text
               FROM touched t
              WHERE t.tbl IN (SELECT relid::oid FROM vital.registrations)
                AND t.tbl NOT IN (SELECT objid FROM gone)",
            &[pgrx::PgOid::BuiltIn(pgrx::PgBuiltInOids::BOOLOID)],
            // DROP INDEX noted its tables at the start; DROP TABLE and ALTER TABLE name the
            // table of every index they drop (the table itself, a column, a constraint).
            &[(!matches!(tag.as_str(), "DROP INDEX" | "DROP TABLE" | "ALTER TABLE")).into()],
        );
        let mut pending = Pending::default();
        for row in rows {
            let (object_type, name, table) = (
                row[1].as_deref().unwrap_or(""),
                row[2].as_deref().unwrap_or(""),
                row[3].as_deref().unwrap_or(""),
            );
            if object_type == "forgotten" {
                pending.forgot_tables |= name != "0";
                continue;
            }
            if object_type == "trigger" && name.starts_with("vital_") {
                invariants::refuse(
                    &tag,
                    table,
                    &format!("vital's trigger {} would be dropped", sql::ident(name)),
                );
            }
            if let Some(oid) = sql::oid(row[0].as_deref()) {
                pending.touched.push(oid);
            }
        }
        with_pending(|p| {
            p.forgot_tables |= pending.forgot_tables;
            p.touched.append(&mut pending.touched);
        });
    });
}

// ---------------------------------------------------------------------------------------
// ddl_command_end: register arrivals, keep bookkeeping, check invariants, sync guards
// ---------------------------------------------------------------------------------------

#[pg_extern(sql = "
CREATE FUNCTION vital.ddl_command_end_handler() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn ddl_command_end_handler(fcinfo: pg_sys::FunctionCallInfo) {
    if registration::in_vital_ddl() {
        return;
    }
    let data = unsafe { event_trigger_data(fcinfo) };
    let tag = command_tag(data);
    // The entry stays on the stack (with its snapshot) while the checks run: if they refuse
    // the command, the abort callbacks release it.
    let Some(pending) = PENDING.with(|p| {
        p.borrow_mut().last_mut().map(|top| Pending {
            level: top.level,
            moved: std::mem::take(&mut top.moved),
            touched: std::mem::take(&mut top.touched),
            forgot_tables: top.forgot_tables,
            before: top.before,
        })
    }) else {
        return;
    };
    if let Some(registry) = registry::get() {
        end_of_command(&tag, pending, registry);
    }
    if let Some(done) = PENDING.with(|p| p.borrow_mut().pop()) {
        release(done.before);
    }
}

fn end_of_command(tag: &str, pending: Pending, registry: std::rc::Rc<registry::Registry>) {
    registration::as_vital_ddl(|| {
        let mut touched: Vec<pg_sys::Oid> = pending.touched.clone();
        let mut newly_registered: Vec<pg_sys::Oid> = Vec::new();
        let mut vital_functions_touched = false;
        let mut trees_involved = pending.forgot_tables;
        for command in changed_relations() {
            vital_functions_touched |= command.vital_function;
            trees_involved |= command.in_tree;
            // Shards are Citus's: what holds on a table holds on its shards (audit() checks).
            if command.table == pg_sys::InvalidOid || crate::citus::is_shard(command.table) {
                continue;
            }
            let moved = pending.moved.contains(&command.table);
            newly_registered.extend(register_if_wanted(&registry, &command, moved));
            if command.has_compat_views && command.tag == "ALTER TABLE" {
                crate::compat::refresh_views_of(command.table);
            }
            touched.push(command.table);
        }
        touched.extend(pending.moved.iter().copied());
        // Partitions and inheritance children are only looked for where there can be some: a
        // command on an unregistered parent (ATTACH PARTITION) can still reach a registered
        // table below it.
        let registered = if trees_involved || !pending.touched.is_empty() {
            touched.extend(newly_registered);
            registered_in_trees(&touched)
        } else {
            // (The cached registry does not know yet what was registered just now.)
            touched.retain(|&t| registry.is_registered(t));
            touched.extend(newly_registered);
            touched.sort_by_key(|t| t.to_u32());
            touched.dedup();
            touched
        };
        if registered.is_empty() && !pending.forgot_tables && !vital_functions_touched {
            return;
        }
        if trees_involved {
            sync_partition_parents(&registered);
        }
        invariants::refuse_if_broken(tag, &registered, vital_functions_touched, pending.before);
        fk_guard::sync(Some(&registered));
    });
}

/// One relation a DDL command created or changed, as `pg_event_trigger_ddl_commands()` and the
/// catalogs describe it.
struct Changed {
    /// The table: the relation itself, or the table of the index, trigger, policy, rule,
    /// constraint or default the command made or altered; InvalidOid for other objects.
    table: pg_sys::Oid,
    tag: String,
    /// `relkind`, `relpersistence`, `relispartition`, schema and name of the table.
    kind: String,
    persistence: String,
    is_partition: bool,
    namespace: pg_sys::Oid,
    name: String,
    /// The partitioned table it is a partition of.
    partition_parent: Option<pg_sys::Oid>,
    /// The command changed one of vital's own functions (ALTER FUNCTION ... DEPENDS ON ...).
    vital_function: bool,
    /// Compat views show the table (they follow its new columns).
    has_compat_views: bool,
    /// The table is partitioned, a partition, or has or had inheritance children.
    in_tree: bool,
}

/// Everything the end of a command needs about what it changed, in one query.
fn changed_relations() -> Vec<Changed> {
    sql::rows_text_kept(
        "SELECT DISTINCT x.tbl::text, c.command_tag, rel.relkind::text, rel.relpersistence::text,
                rel.relispartition::text, rel.relnamespace::text, rel.relname::text,
                (SELECT i.inhparent::text FROM pg_catalog.pg_inherits i
                  WHERE i.inhrelid = x.tbl AND rel.relispartition),
                (c.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                 AND EXISTS (SELECT FROM pg_catalog.pg_proc p
                              WHERE p.oid = c.objid AND p.pronamespace = 'vital'::pg_catalog.regnamespace))::text,
                EXISTS (SELECT FROM vital.compat_objects o WHERE o.kind = 'view' AND o.target = x.tbl::pg_catalog.regclass)::text,
                (rel.relkind = 'p' OR rel.relispartition OR rel.relhassubclass)::text
           FROM pg_catalog.pg_event_trigger_ddl_commands() c
          CROSS JOIN LATERAL (SELECT CASE c.classid
              WHEN 'pg_catalog.pg_class'::pg_catalog.regclass
                   THEN coalesce((SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = c.objid), c.objid)
              WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass
                   THEN (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = c.objid)
              WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass
                   THEN (SELECT polrelid FROM pg_catalog.pg_policy WHERE oid = c.objid)
              WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                   THEN (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = c.objid)
              WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass
                   THEN (SELECT conrelid FROM pg_catalog.pg_constraint WHERE oid = c.objid)
              WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                   THEN (SELECT adrelid FROM pg_catalog.pg_attrdef WHERE oid = c.objid)
              END AS tbl) x
           -- One index probe per object, never a scan of pg_class (OFFSET 0 keeps the planner
           -- from turning the lookup into a join).
           LEFT JOIN LATERAL (SELECT * FROM pg_catalog.pg_class WHERE oid = x.tbl OFFSET 0) rel ON true",
        &[],
        &[],
    )
    .into_iter()
    .map(|r| {
        let text = |i: usize| r[i].clone().unwrap_or_default();
        Changed {
            table: sql::oid(r[0].as_deref()).unwrap_or(pg_sys::InvalidOid),
            tag: text(1),
            kind: text(2),
            persistence: text(3),
            is_partition: text(4) == "true",
            namespace: sql::oid(r[5].as_deref()).unwrap_or(pg_sys::InvalidOid),
            name: text(6),
            partition_parent: sql::oid(r[7].as_deref()),
            vital_function: text(8) == "true",
            has_compat_views: text(9) == "true",
            in_tree: text(10) == "true",
        }
    })
    .collect()
}

/// The registered tables among `tables` and their partitions and inheritance children, at any
/// depth (a command on a parent reaches its partitions).
fn registered_in_trees(tables: &[pg_sys::Oid]) -> Vec<pg_sys::Oid> {
    if tables.is_empty() {
        return Vec::new();
    }
    sql::rows_text_kept(
        "WITH RECURSIVE tree(oid) AS (
             SELECT unnest($1::pg_catalog.oid[])
             UNION
             SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.oid)
         SELECT t.oid::text FROM tree t
          WHERE t.oid::pg_catalog.regclass IN (SELECT relid FROM vital.registrations)",
        &[OID_ARRAY],
        &[tables.to_vec().into()],
    )
    .into_iter()
    .filter_map(|r| sql::oid(r[0].as_deref()))
    .collect()
}

/// Registers a table the command created, moved or changed, when a registered schema or a
/// registered partitioned parent asks for it. `moved`: the command was its SET SCHEMA or rename.
/// Returns what it registered.
fn register_if_wanted(registry: &registry::Registry, rel: &Changed, moved: bool) -> Vec<pg_sys::Oid> {
    if !matches!(rel.kind.as_str(), "r" | "p") || rel.persistence == "t" {
        return Vec::new();
    }
    let registered = registry.is_registered(rel.table);
    if !registered && rel.is_partition {
        if let Some(parent) = rel.partition_parent.filter(|&p| registry.is_registered(p)) {
            if let Some((shared_reads, scope_unique, via)) = registration_options(parent) {
                registration::register(rel.table, shared_reads, scope_unique, via, Some(parent));
                return vec![rel.table];
            }
        }
        return Vec::new();
    }
    let arrives = moved
        || matches!(
            rel.tag.as_str(),
            "CREATE TABLE" | "CREATE TABLE AS" | "SELECT INTO"
        );
    if !registered && arrives {
        if registry.schema_wants(rel.namespace, &rel.name) {
            registration::register(rel.table, true, true, Via::Schema, None);
            return vec![rel.table];
        }
        return Vec::new();
    }
    // ALTER TABLE ... ATTACH PARTITION on a registered parent: register the new partitions.
    let mut registered_now = Vec::new();
    if registered && rel.kind == "p" && rel.tag == "ALTER TABLE" {
        if let Some((shared_reads, scope_unique, via)) = registration_options(rel.table) {
            for part in crate::catalog::partitions(rel.table) {
                if !registration::is_registered(part) {
                    registration::register(part, shared_reads, scope_unique, via, Some(rel.table));
                    registered_now.push(part);
                }
            }
        }
    }
    registered_now
}

/// A registered table attached to a registered parent is unregistered with it and exported
/// through it; one detached is on its own again.
fn sync_partition_parents(tables: &[pg_sys::Oid]) {
    if tables.is_empty() {
        return;
    }
    sql::rows_text_kept(
        "UPDATE vital.registrations r SET parent = a.parent
           FROM (SELECT r2.relid,
                        (SELECT i.inhparent::pg_catalog.regclass
                           FROM pg_catalog.pg_inherits i
                           JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid AND c.relispartition
                          WHERE i.inhrelid = r2.relid::oid
                            AND i.inhparent IN (SELECT relid::oid FROM vital.registrations)) AS parent
                   FROM vital.registrations r2
                  WHERE r2.relid::oid = ANY ($1) OR r2.parent::oid = ANY ($1)) a
          WHERE a.relid = r.relid AND r.parent IS DISTINCT FROM a.parent",
        &[OID_ARRAY],
        &[tables.to_vec().into()],
    );
}

fn registration_options(oid: pg_sys::Oid) -> Option<(bool, bool, Via)> {
    let rows = sql::rows_text(
        "SELECT shared_reads::text, scope_unique::text, via FROM vital.registrations WHERE relid = $1",
        &[oid.into()],
    );
    let r = rows.into_iter().next()?;
    let via = if r[2].as_deref() == Some("schema") {
        Via::Schema
    } else {
        Via::Table
    };
    Some((
        r[0].as_deref() == Some("true"),
        r[1].as_deref() == Some("true"),
        via,
    ))
}
