//! vital's DDL event trigger.
//!
//! pgrx 0.18 has no event-trigger macro, so the trigger function is a C-language function
//! that reads `EventTriggerData` from `fcinfo->context`, which gives us the parse tree at
//! `ddl_command_start` (a plpgsql trigger cannot see it).
//!
//! Today it guards `DROP EXTENSION vital_tenancy`: dropping the extension while tables are
//! registered would drop their policies (and with CASCADE their tenant defaults) and leave
//! tenants' rows readable by everyone, so it is refused until the tables are unregistered.

use crate::error::{self, raise, Code};
use crate::privileged::as_superuser;
use pgrx::prelude::*;
use std::ffi::CStr;

const EXTENSION_NAME: &str = "vital_tenancy";

#[pg_extern(sql = "
CREATE FUNCTION vital.ddl_command_start_guard() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn ddl_command_start_guard(fcinfo: pg_sys::FunctionCallInfo) {
    let data = unsafe { event_trigger_data(fcinfo) };
    if data.tag == pg_sys::CommandTag::CMDTAG_DROP_EXTENSION
        && unsafe { drops_this_extension(data.parsetree) }
    {
        refuse_drop_while_registered();
    }
}

unsafe fn event_trigger_data<'a>(fcinfo: pg_sys::FunctionCallInfo) -> &'a pg_sys::EventTriggerData {
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            raise(
                Code::ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED,
                "vital.ddl_command_start_guard() can only be called as an event trigger",
                None,
            );
        }
        &*(context as *const pg_sys::EventTriggerData)
    }
}

/// Whether a `DropStmt` for extensions names vital_tenancy.
unsafe fn drops_this_extension(parsetree: *mut pg_sys::Node) -> bool {
    unsafe {
        if parsetree.is_null() || (*parsetree).type_ != pg_sys::NodeTag::T_DropStmt {
            return false;
        }
        let stmt = &*(parsetree as *const pg_sys::DropStmt);
        if stmt.removeType != pg_sys::ObjectType::OBJECT_EXTENSION || stmt.objects.is_null() {
            return false;
        }
        let list = &*stmt.objects;
        (0..list.length as usize).any(|i| {
            let node = (*list.elements.add(i)).ptr_value as *const pg_sys::Node;
            !node.is_null()
                && (*node).type_ == pg_sys::NodeTag::T_String
                && CStr::from_ptr((*(node as *const pg_sys::String)).sval).to_bytes()
                    == EXTENSION_NAME.as_bytes()
        })
    }
}

fn refuse_drop_while_registered() {
    let registered: i64 = as_superuser(|| {
        error::spi(
            Spi::get_one::<i64>(
                "SELECT CASE WHEN to_regclass('vital.registered_tables') IS NULL THEN 0 \
                 ELSE (SELECT count(*) FROM vital.registered_tables) END",
            ),
            "counting registered tables",
        )
        .unwrap_or(0)
    });
    if registered > 0 {
        raise(
            Code::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop extension {EXTENSION_NAME}: {registered} table(s) are still registered"),
            Some("Unregister them first: SELECT vital.unregister_table(relid) FROM vital.registered_tables;"),
        );
    }
}
