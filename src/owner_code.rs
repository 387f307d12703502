//! Code that runs when rows are written into a table (its triggers, CHECK and domain
//! constraints, index expressions and predicates, generated columns, and the operators and
//! functions these call), owned by a role that is not a superuser.
//!
//! Citus copies a table's rows between nodes (`create_distributed_table`,
//! `create_reference_table`, `undistribute_table`) over connections as the current user, and
//! the receiving node runs that code as that user. vital's distribute() and undistribute() run
//! as a superuser (Citus refuses a transaction that modifies placements as more than one
//! user, so they cannot switch to each table's owner for the copy): a non-superuser's
//! function would run as a superuser, and a trigger could make its owner one on a worker
//! (tests/citus/owner_code.sh). So they refuse tables with rows and such code.

use crate::error::{raise, Code};
use crate::sql;
use pgrx::prelude::*;

/// The functions (`regprocedure` text, with their owner) that writing a row into `table` may
/// run and that a role other than a superuser owns.
pub fn untrusted_functions(table: pg_sys::Oid) -> Vec<String> {
    sql::column::<String>(
        "WITH RECURSIVE edges(classid, objid, refclassid, refobjid) AS (
             SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_catalog.pg_depend d
             UNION ALL
             -- A domain's CHECK constraints depend on the domain, not the other way round.
             SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, c.contypid,
                    'pg_catalog.pg_constraint'::pg_catalog.regclass, c.oid
               FROM pg_catalog.pg_constraint c WHERE c.contypid OPERATOR(pg_catalog.<>) 0
         ), code(classid, objid) AS (
             -- What a written row meets: the table's triggers, constraints, indexes, defaults
             -- and generated columns, and its columns' types (domains).
             SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
              WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refobjid OPERATOR(pg_catalog.=) $1
                AND d.classid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_trigger', 'pg_catalog.pg_constraint',
                                                'pg_catalog.pg_class', 'pg_catalog.pg_attrdef']::pg_catalog.regclass[])
             UNION
             SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, a.atttypid FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0
             UNION
             SELECT e.refclassid, e.refobjid FROM code c
               JOIN edges e ON e.classid OPERATOR(pg_catalog.=) c.classid AND e.objid OPERATOR(pg_catalog.=) c.objid
              WHERE e.refclassid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_proc', 'pg_catalog.pg_operator',
                                                  'pg_catalog.pg_type', 'pg_catalog.pg_constraint']::pg_catalog.regclass[])
         )
         SELECT DISTINCT pg_catalog.format('%I.%I(%s) (owned by %I)', n.nspname, p.proname,
                                           pg_catalog.pg_get_function_identity_arguments(p.oid), r.rolname)
           FROM code c
           JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) c.objid
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
           JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.proowner
          WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND NOT r.rolsuper
          ORDER BY 1",
        &[table.into()],
    )
}

/// Refuses `what` (distribute() or undistribute()) on `table` (named `name`) when it has rows
/// and Citus would run a non-superuser's code as a superuser while it copies them.
pub fn refuse_copying_as_superuser(table: pg_sys::Oid, name: &str, what: &str) {
    let functions = untrusted_functions(table);
    if functions.is_empty() {
        return;
    }
    // Not `SELECT FROM`: Citus plans a subquery without columns into a query it cannot run.
    let has_rows = sql::one::<bool>(&format!("SELECT EXISTS (SELECT 1 FROM {name})"), &[]);
    if has_rows != Some(true) {
        return;
    }
    raise(
        Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!(
            "{what} would run {} as a superuser while Citus copies the rows of {name}",
            functions.join(", ")
        ),
        Some("Review the function and give it to a superuser (ALTER FUNCTION ... OWNER TO), or move the rows out, run it on the empty table, and insert them again as the table's owner."),
    );
}
