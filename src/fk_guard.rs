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
use crate::privileged::as_superuser;
use crate::sql;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

const TRIGGER_PREFIX: &str = "vital_fk_guard_";

/// The guard trigger's name for a constraint (PostgreSQL truncates names to 63 bytes).
fn trigger_name(constraint: &str) -> String {
    let mut name = format!("{TRIGGER_PREFIX}{constraint}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// Makes the guard triggers match the foreign keys: one per top-level foreign key whose two
/// tables are both registered, none elsewhere. Idempotent; cheap when nothing changed.
pub fn sync_all() {
    // Guards that should exist but do not.
    let missing = sql::rows_text(
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
                               AND t.tgname = left($1 || c.conname, 63))",
        &[TRIGGER_PREFIX.into()],
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
        let name = sql::ident(&trigger_name(&constraint));
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
        "SELECT t.tgrelid::regclass::text, t.tgname::text
           FROM pg_catalog.pg_trigger t
          WHERE t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure AND t.tgparentid = 0
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_constraint c
                 WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = t.tgrelid
                   AND left($1 || c.conname, 63) = t.tgname
                   AND c.conrelid IN (SELECT relid FROM vital.registrations)
                   AND c.confrelid IN (SELECT relid FROM vital.registrations))",
        &[TRIGGER_PREFIX.into()],
    );
    for row in stale {
        let table = row[0].clone().unwrap_or_default();
        let name = sql::ident(row[1].as_deref().unwrap_or_default());
        sql::run(&format!("DROP TRIGGER IF EXISTS {name} ON {table}"), &[]);
    }
}

/// What the guard needs to know about one foreign key.
struct ForeignKey {
    child_name: String,
    parent_name: String,
    parent: String,
    /// (child column, parent column), quoted, in key order.
    pairs: Vec<(String, String)>,
    child_columns_plain: Vec<String>,
}

fn foreign_key(relid: pg_sys::Oid, constraint: &str) -> Option<ForeignKey> {
    let rows = sql::rows_text(
        "SELECT ch.relname::text, pa.relname::text, c.confrelid::regclass::text,
                pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa_att.attname), ca.attname::text
           FROM pg_catalog.pg_constraint c
           JOIN pg_catalog.pg_class ch ON ch.oid = $1
           JOIN pg_catalog.pg_class pa ON pa.oid = c.confrelid
           CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY k(fk_att, pk_att, ord)
           JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.fk_att
           JOIN pg_catalog.pg_attribute pa_att ON pa_att.attrelid = c.confrelid AND pa_att.attnum = k.pk_att
          WHERE c.contype = 'f' AND c.conname = $2
            AND (c.conrelid = $1 OR c.conrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1)))
          ORDER BY c.conparentid = 0, k.ord",
        &[relid.into(), constraint.into()],
    );
    let first = rows.first()?;
    let text = |r: &Vec<Option<String>>, i: usize| r[i].clone().unwrap_or_default();
    Some(ForeignKey {
        child_name: text(first, 0),
        parent_name: text(first, 1),
        parent: text(first, 2),
        pairs: rows.iter().map(|r| (text(r, 3), text(r, 4))).collect(),
        child_columns_plain: rows.iter().map(|r| text(r, 5)).collect(),
    })
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

    as_superuser(|| {
        let Some(fk) = foreign_key(relid, constraint) else {
            return;
        };
        let null_checks: Vec<String> = fk
            .pairs
            .iter()
            .map(|(c, _)| format!("($1).{c} IS NULL"))
            .collect();
        let matches: Vec<String> = fk
            .pairs
            .iter()
            .map(|(c, p)| format!("p.{p} = ($1).{c}"))
            .collect();
        let query = format!(
            "SELECT {} OR EXISTS (SELECT FROM {} p WHERE {} AND p.tenant_id = ANY \
             (ARRAY[($1).tenant_id, '00000000-0000-0000-0000-000000000001'::uuid]))",
            null_checks.join(" OR "),
            fk.parent,
            matches.join(" AND ")
        );
        let row = unsafe { DatumWithOid::new(new_row, row_type) };
        let accepted = sql::one::<bool>(&query, std::slice::from_ref(&row)).unwrap_or(false);
        if accepted {
            return;
        }
        // Same words as PostgreSQL's ri_ReportViolation for a missing row.
        let detail = if show_values {
            let values: Vec<String> = fk
                .pairs
                .iter()
                .map(|(c, _)| format!("coalesce((($1).{c})::text, 'null')"))
                .collect();
            let key_values =
                sql::one::<String>(&format!("SELECT concat_ws(', ', {})", values.join(", ")), &[row])
                    .unwrap_or_default();
            format!(
                "Key ({})=({}) is not present in table \"{}\".",
                fk.child_columns_plain.join(", "),
                key_values,
                fk.parent_name
            )
        } else {
            format!("Key is not present in table \"{}\".", fk.parent_name)
        };
        raise_with_detail(
            Code::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!(
                "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                fk.child_name, constraint
            ),
            detail,
            None,
        );
    });
    Ok(None)
}
