//! The foreign-key guard between registered tables.
//!
//! PostgreSQL's foreign-key checks ignore row-level security: a tenant could point a child row
//! at another tenant's parent row, and whether the insert succeeds tells it that the row
//! exists. For every foreign key from a registered table to a registered table, vital adds an
//! AFTER INSERT OR UPDATE trigger on the child that accepts a referenced row only of the child
//! row's own tenant or of the platform tenant, and otherwise raises exactly the error
//! PostgreSQL raises for a missing row (SQLSTATE 23503, same message and detail). The trigger
//! is named `vital_fk_guard_<constraint>` so it fires after PostgreSQL's `RI_ConstraintTrigger_*`.

use crate::error::{self, raise_with_detail, Code};
use crate::privileged::as_superuser_no_search_path;
use crate::sql;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// SQL true when trigger `t`'s argument is constraint `c`'s name: guards are recognised by the
/// constraint they guard, never by their own name, which PostgreSQL truncates to 63 bytes.
const GUARDS_CONSTRAINT: &str =
    "pg_catalog.convert_to(c.conname::text, pg_catalog.getdatabaseencoding()) || '\\x00'::bytea";

/// Makes the guard triggers match the foreign keys: one per top-level foreign key whose two
/// tables are both registered, none elsewhere. Idempotent; cheap when nothing changed.
pub fn sync_all() {
    // Guards that should exist but do not.
    let missing = sql::rows_text(
        &format!(
            "SELECT c.conrelid::regclass::text, c.conname::text,
                (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord)
                   FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                c.condeferrable::text, c.condeferred::text, cl.relkind::text
           FROM pg_catalog.pg_constraint c
           JOIN pg_catalog.pg_class cl ON cl.oid = c.conrelid
          WHERE c.contype = 'f' AND c.conparentid = 0
            AND c.conrelid IN (SELECT relid FROM vital.registrations)
            AND c.confrelid IN (SELECT relid FROM vital.registrations)
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                             WHERE t.tgrelid = c.conrelid AND t.tgparentid = 0
                               AND t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure
                               AND t.tgargs = {GUARDS_CONSTRAINT})"
        ),
        &[],
    );
    for row in missing {
        let (table, constraint, columns) = (
            row[0].clone().unwrap_or_default(),
            row[1].clone().unwrap_or_default(),
            row[2].clone().unwrap_or_default(),
        );
        let deferrable = row[3].as_deref() == Some("true");
        let deferred = row[4].as_deref() == Some("true");
        let partitioned = row[5].as_deref() == Some("p");
        let name = sql::ident(&sql::truncated_name(format!("vital_fk_guard_{constraint}")));
        let arg = pgrx::spi::quote_literal(&constraint);
        // A deferrable key is checked when PostgreSQL checks it; constraint triggers are not
        // available on partitioned tables, whose guard is immediate.
        let statement = if deferrable && !partitioned {
            format!(
                "CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OF {columns} ON {table} \
                 DEFERRABLE INITIALLY {} FOR EACH ROW EXECUTE FUNCTION vital.fk_guard({arg})",
                if deferred { "DEFERRED" } else { "IMMEDIATE" }
            )
        } else {
            format!(
                "CREATE TRIGGER {name} AFTER INSERT OR UPDATE OF {columns} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION vital.fk_guard({arg})"
            )
        };
        sql::run(&statement, &[]);
    }

    // Guards whose foreign key is gone, or whose tables are no longer both registered.
    let stale = sql::rows_text(
        &format!(
            "SELECT t.tgrelid::regclass::text, t.tgname::text
           FROM pg_catalog.pg_trigger t
          WHERE t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure AND t.tgparentid = 0
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_constraint c
                 WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = t.tgrelid
                   AND t.tgargs = {GUARDS_CONSTRAINT}
                   AND c.conrelid IN (SELECT relid FROM vital.registrations)
                   AND c.confrelid IN (SELECT relid FROM vital.registrations))"
        ),
        &[],
    );
    for row in stale {
        let table = row[0].clone().unwrap_or_default();
        let name = sql::ident(row[1].as_deref().unwrap_or_default());
        sql::run(&format!("DROP TRIGGER IF EXISTS {name} ON {table}"), &[]);
    }
}

/// What the guard needs to know about one foreign key, with its check prepared once per
/// backend (plans are re-made after any relcache invalidation: see `context::cache_generation`).
struct Guard {
    generation: u64,
    child_name: String,
    parent_name: String,
    child_columns_plain: Vec<String>,
    /// `SELECT <key is null> OR EXISTS (<same-tenant-or-platform parent row>)`, $1 = the row.
    check: OwnedPreparedStatement,
    /// `SELECT concat_ws(', ', <key values as text>)`, $1 = the row; for the error detail.
    key_text: String,
}

thread_local! {
    static GUARDS: RefCell<HashMap<(u32, String), Rc<Guard>>> = RefCell::new(HashMap::new());
}

/// Builds the guard for `constraint` as seen from `relid` (a partition sees its parent's key).
/// Every name and operator in the statements is schema-qualified, so they mean the same under
/// any search_path, including when PostgreSQL re-plans them later.
fn build_guard(relid: pg_sys::Oid, constraint: &str, row_type: pg_sys::Oid) -> Option<Guard> {
    let rows = sql::rows_text(
        "SELECT ch.relname::text, pa.relname::text, c.confrelid::regclass::text,
                pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa_att.attname), ca.attname::text,
                pg_catalog.quote_ident(o.oprnamespace::regnamespace::text) || '.' || o.oprname
           FROM pg_catalog.pg_constraint c
           JOIN pg_catalog.pg_class ch ON ch.oid = $1
           JOIN pg_catalog.pg_class pa ON pa.oid = c.confrelid
           CROSS JOIN LATERAL unnest(c.conkey, c.confkey, c.conpfeqop) WITH ORDINALITY k(fk_att, pk_att, op, ord)
           JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.fk_att
           JOIN pg_catalog.pg_attribute pa_att ON pa_att.attrelid = c.confrelid AND pa_att.attnum = k.pk_att
           JOIN pg_catalog.pg_operator o ON o.oid = k.op
          WHERE c.contype = 'f' AND c.conname = $2
            AND (c.conrelid = $1 OR c.conrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1)))
          ORDER BY c.conparentid = 0, k.ord",
        &[relid.into(), constraint.into()],
    );
    let first = rows.first()?;
    let text = |r: &Vec<Option<String>>, i: usize| r[i].clone().unwrap_or_default();
    let parent = text(first, 2);
    let null_checks: Vec<String> = rows
        .iter()
        .map(|r| format!("($1).{} IS NULL", text(r, 3)))
        .collect();
    let matches: Vec<String> = rows
        .iter()
        .map(|r| format!("p.{} OPERATOR({}) ($1).{}", text(r, 4), text(r, 6), text(r, 3)))
        .collect();
    let check_sql = format!(
        "SELECT {} OR EXISTS (SELECT FROM {parent} p WHERE {} AND p.tenant_id OPERATOR(pg_catalog.=) ANY \
         (ARRAY[($1).tenant_id, '00000000-0000-0000-0000-000000000001'::pg_catalog.uuid]))",
        null_checks.join(" OR "),
        matches.join(" AND ")
    );
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "pg_catalog.coalesce((($1).{})::pg_catalog.text, 'null')",
                text(r, 3)
            )
        })
        .collect();
    let check = error::spi(
        Spi::connect(|client| {
            client
                .prepare(check_sql.as_str(), &[PgOid::from(row_type)])
                .map(|p| p.keep())
        }),
        "preparing the foreign-key guard",
    );
    Some(Guard {
        generation: crate::context::cache_generation(),
        child_name: text(first, 0),
        parent_name: text(first, 1),
        child_columns_plain: rows.iter().map(|r| text(r, 5)).collect(),
        check,
        key_text: format!("SELECT pg_catalog.concat_ws(', ', {})", values.join(", ")),
    })
}

fn guard_for(relid: pg_sys::Oid, constraint: &str, row_type: pg_sys::Oid) -> Option<Rc<Guard>> {
    let key = (relid.to_u32(), constraint.to_string());
    let generation = crate::context::cache_generation();
    if let Some(g) = GUARDS.with(|m| m.borrow().get(&key).cloned()) {
        if g.generation == generation {
            return Some(g);
        }
    }
    let guard = Rc::new(build_guard(relid, constraint, row_type)?);
    GUARDS.with(|m| m.borrow_mut().insert(key, guard.clone()));
    Some(guard)
}

#[pg_trigger]
fn fk_guard<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let args = trigger.extra_args()?;
    let Some(constraint) = args.first() else {
        error::raise(
            Code::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
            "vital.fk_guard() needs the foreign key's name as its argument",
            None,
        );
    };
    let relid = trigger.relid()?;
    let Some(new_row) = trigger.new() else {
        return Ok(None);
    };
    let row_type = unsafe { pg_sys::get_rel_type_id(relid) };
    // PostgreSQL leaves the key values out of the error when row-level security applies to
    // the caller (ri_ReportViolation); so must we, or the message would differ.
    let show_values = unsafe { pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, true) }
        != pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32;

    // The parent row is looked for with vital's rights: row-level security must not hide a
    // platform row from the check, nor may the check depend on the session's tenant.
    as_superuser_no_search_path(|| {
        let Some(guard) = guard_for(relid, constraint, row_type) else {
            return;
        };
        let row = unsafe { DatumWithOid::new(new_row, row_type) };
        let accepted = error::spi(
            Spi::connect(|client| {
                client
                    .select(&guard.check, Some(1), std::slice::from_ref(&row))?
                    .first()
                    .get_one::<bool>()
            }),
            "running the foreign-key guard",
        )
        .unwrap_or(false);
        if accepted {
            return;
        }
        // Same words as PostgreSQL's ri_ReportViolation for a missing row.
        let detail = if show_values {
            let key_values = sql::one::<String>(&guard.key_text, &[row]).unwrap_or_default();
            format!(
                "Key ({})=({}) is not present in table \"{}\".",
                guard.child_columns_plain.join(", "),
                key_values,
                guard.parent_name
            )
        } else {
            format!("Key is not present in table \"{}\".", guard.parent_name)
        };
        raise_with_detail(
            Code::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!(
                "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                guard.child_name, constraint
            ),
            detail,
            None,
        );
    });
    Ok(None)
}
