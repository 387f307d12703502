//! vital's DDL event triggers.
//!
//! pgrx 0.18 has no event-trigger macro, so the trigger functions are C-language functions
//! that read `EventTriggerData` from `fcinfo->context`.
//!
//! * `ddl_command_start` sees the parse tree before anything happens. It refuses
//!   `DROP EXTENSION vital_tenancy` while tables are registered, and DDL that would weaken a
//!   registered table: DISABLE / NO FORCE ROW LEVEL SECURITY, dropping, altering or renaming
//!   vital's policies or foreign-key guards, disabling the guards, and dropping, retyping,
//!   renaming or un-NOT-NULLing `tenant_id`.
//! * `ddl_command_end` registers tables created later in a registered schema and partitions
//!   created in or attached to a registered table, keeps the foreign-key guards in step with
//!   the foreign keys, and forgets dropped tables and schemas.
//!
//! vital's own DDL (inside register/unregister) is skipped: see `registration::VitalDdl`.

use crate::error::{raise, Code};
use crate::privileged::as_vital;
use crate::registration::{self, Via};
use crate::{fk_guard, sql};
use pgrx::prelude::*;
use std::ffi::CStr;

const EXTENSION_NAME: &str = "vital_tenancy";

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

/// Whether the registry exists (it does not while the extension itself is being created).
fn registry_exists() -> bool {
    sql::one::<bool>("SELECT to_regclass('vital.registrations') IS NOT NULL", &[]).unwrap_or(false)
}

// ---------------------------------------------------------------------------------------
// ddl_command_start: refuse what would weaken isolation
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
    let tree = data.parsetree;
    if tree.is_null() {
        return;
    }
    unsafe {
        match (*tree).type_ {
            pg_sys::NodeTag::T_DropStmt => check_drop(&*(tree as *const pg_sys::DropStmt)),
            pg_sys::NodeTag::T_AlterTableStmt => check_alter_table(&*(tree as *const pg_sys::AlterTableStmt)),
            pg_sys::NodeTag::T_RenameStmt => check_rename(&*(tree as *const pg_sys::RenameStmt)),
            pg_sys::NodeTag::T_AlterPolicyStmt => {
                let stmt = &*(tree as *const pg_sys::AlterPolicyStmt);
                check_vital_object(stmt.table, cstr(stmt.policy_name), "alter policy")
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

/// The registered relation a RangeVar names, if it names one.
unsafe fn registered_relation(rv: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
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
    if oid == pg_sys::InvalidOid {
        return None;
    }
    let registered = as_vital(|| registry_exists() && registration::is_registered(oid));
    registered.then_some(oid)
}

fn refuse(oid: pg_sys::Oid, what: &str) -> ! {
    let name =
        as_vital(|| sql::one::<String>("SELECT $1::oid::regclass::text", &[oid.into()])).unwrap_or_default();
    raise(
        Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("cannot {what} on table {name}: it is registered with vital, and this would weaken tenant isolation"),
        Some(&format!("Call vital.unregister_table('{name}') first if you really mean it.")),
    );
}

fn is_vital_object(name: &str) -> bool {
    name.starts_with("vital_")
}

unsafe fn check_vital_object(rv: *mut pg_sys::RangeVar, name: &str, what: &str) {
    if is_vital_object(name) {
        if let Some(oid) = unsafe { registered_relation(rv) } {
            refuse(oid, &format!("{what} {name}"));
        }
    }
}

unsafe fn check_alter_table(stmt: &pg_sys::AlterTableStmt) {
    let Some(oid) = (unsafe { registered_relation(stmt.relation) }) else {
        return;
    };
    for node in unsafe { list_nodes(stmt.cmds) } {
        if node.is_null() || unsafe { (*node).type_ } != pg_sys::NodeTag::T_AlterTableCmd {
            continue;
        }
        let cmd = unsafe { &*(node as *const pg_sys::AlterTableCmd) };
        let name = unsafe { cstr(cmd.name) };
        use pg_sys::AlterTableType as At;
        match cmd.subtype {
            At::AT_DisableRowSecurity => refuse(oid, "disable row level security"),
            At::AT_NoForceRowSecurity => refuse(oid, "stop forcing row level security"),
            At::AT_DisableTrigAll | At::AT_DisableTrigUser => refuse(oid, "disable triggers"),
            At::AT_DisableTrig if is_vital_object(name) => refuse(oid, &format!("disable trigger {name}")),
            At::AT_DropColumn if name == "tenant_id" => refuse(oid, "drop column tenant_id"),
            At::AT_DropNotNull if name == "tenant_id" => refuse(oid, "drop NOT NULL of tenant_id"),
            At::AT_AlterColumnType if name == "tenant_id" => refuse(oid, "change the type of tenant_id"),
            _ => {}
        }
    }
}

unsafe fn check_rename(stmt: &pg_sys::RenameStmt) {
    let subname = unsafe { cstr(stmt.subname) };
    match stmt.renameType {
        pg_sys::ObjectType::OBJECT_COLUMN if subname == "tenant_id" => {
            if let Some(oid) = unsafe { registered_relation(stmt.relation) } {
                refuse(oid, "rename column tenant_id");
            }
        }
        pg_sys::ObjectType::OBJECT_POLICY | pg_sys::ObjectType::OBJECT_TRIGGER => unsafe {
            check_vital_object(stmt.relation, subname, "rename")
        },
        _ => {}
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
        pg_sys::ObjectType::OBJECT_POLICY | pg_sys::ObjectType::OBJECT_TRIGGER => {
            // Each object is a name list: [schema,] table, policy-or-trigger.
            for object in unsafe { list_nodes(stmt.objects) } {
                let parts = unsafe { list_nodes(object as *const pg_sys::List) };
                let Some((&last, _)) = parts.split_last() else {
                    continue;
                };
                let name = unsafe { string_value(last) }.unwrap_or("");
                if !is_vital_object(name) {
                    continue;
                }
                unsafe {
                    let table_names = pg_sys::list_truncate(
                        pg_sys::list_copy(object as *const pg_sys::List),
                        (parts.len() - 1) as i32,
                    );
                    let rv = pg_sys::makeRangeVarFromNameList(table_names);
                    check_vital_object(rv, name, "drop");
                }
            }
        }
        _ => {}
    }
}

fn refuse_drop_while_registered() {
    let registered: i64 = as_vital(|| {
        if !registry_exists() {
            return 0;
        }
        sql::one::<i64>("SELECT count(*) FROM vital.registrations", &[]).unwrap_or(0)
    });
    if registered > 0 {
        raise(
            Code::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop extension {EXTENSION_NAME}: {registered} table(s) are still registered"),
            Some("Unregister them first: SELECT vital.unregister_table(relid) FROM vital.registered_tables;"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// ddl_command_end: register new tables and partitions, keep guards in step, forget drops
// ---------------------------------------------------------------------------------------

#[pg_extern(sql = "
CREATE FUNCTION vital.ddl_command_end_handler() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn ddl_command_end_handler(fcinfo: pg_sys::FunctionCallInfo) {
    if registration::in_vital_ddl() {
        return;
    }
    let _ = unsafe { event_trigger_data(fcinfo) };
    registration::as_vital_ddl(|| {
        if !registry_exists() {
            return;
        }
        forget_dropped();
        let commands = sql::rows_text(
            "SELECT objid::text, command_tag FROM pg_catalog.pg_event_trigger_ddl_commands()
              WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND object_type = 'table'",
            &[],
        );
        for command in commands {
            let Some(oid) = sql::oid(command[0].as_deref()) else {
                continue;
            };
            let tag = command[1].as_deref().unwrap_or("");
            register_if_wanted(oid, tag);
            if tag == "ALTER TABLE" {
                crate::compat::refresh_views_of(oid);
            }
        }
        fk_guard::sync_all();
    });
}

/// Registers a table the command created or changed, when a registered schema or a
/// registered partitioned parent asks for it.
fn register_if_wanted(oid: pg_sys::Oid, tag: &str) {
    let Some(rel) = crate::catalog::relation(oid) else {
        return;
    };
    if !matches!(rel.kind.as_str(), "r" | "p") || rel.persistence == "t" {
        return;
    }
    let registered = registration::is_registered(oid);
    if !registered && rel.is_partition {
        if let Some(parent) = crate::catalog::partition_parent(oid) {
            if let Some((shared_reads, scope_unique, via)) = registration_options(parent) {
                registration::register(oid, shared_reads, scope_unique, via, Some(parent));
                return;
            }
        }
    }
    let creates = matches!(tag, "CREATE TABLE" | "CREATE TABLE AS" | "SELECT INTO");
    if !registered && creates && !rel.is_partition {
        let nsp = sql::one::<pg_sys::Oid>(
            "SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = $1",
            &[oid.into()],
        );
        if nsp.is_some_and(|nsp| registration::schema_wants(nsp, &rel.name)) {
            registration::register(oid, true, true, Via::Schema, None);
        }
        return;
    }
    // ALTER TABLE ... ATTACH PARTITION on a registered parent: register the new partitions.
    if registered && rel.is_partitioned() {
        if let Some((shared_reads, scope_unique, via)) = registration_options(oid) {
            for part in crate::catalog::partitions(oid) {
                if !registration::is_registered(part) {
                    registration::register(part, shared_reads, scope_unique, via, Some(oid));
                }
            }
        }
    }
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

/// Drops registry rows of tables and schemas that no longer exist.
fn forget_dropped() {
    sql::run(
        "DELETE FROM vital.registrations r
          WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.relid::oid)",
        &[],
    );
    sql::run(
        "DELETE FROM vital.compat_objects o
          WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = o.target::oid)
             OR (o.view IS NOT NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = o.view::oid))
             OR (o.lookup IS NOT NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = o.lookup::oid))",
        &[],
    );
    sql::run(
        "DELETE FROM vital.registered_schemas s
          WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.oid = s.nsp::oid)",
        &[],
    );
}
