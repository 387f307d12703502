//! The foreign-key guard between registered tables.
//!
//! PostgreSQL's foreign-key checks ignore row-level security: a tenant could point a child row
//! at another tenant's parent row, and whether the insert succeeds tells it that the row
//! exists. For every foreign key from a registered table to a registered table, vital adds an
//! AFTER INSERT OR UPDATE trigger on the child that accepts a referenced row only of the child
//! row's own tenant or of the platform tenant, and otherwise raises exactly the error
//! PostgreSQL raises for a missing row (SQLSTATE 23503, same message and detail). The trigger
//! is named `vital_fk_guard_<constraint>` so it fires after PostgreSQL's `RI_ConstraintTrigger_*`.
//!
//! The lookup follows `ri_triggers.c` (`RI_FKey_check`, `ri_PerformCheck`): it runs as the
//! **owner of the referenced table** with `SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS`
//! (through `privileged::as_owner`), never as a superuser, and its statement names the table as
//! `schema.table` and every operator as `OPERATOR(schema.op)` (`quoteOneName`, `ri_GenerateQual`),
//! with `search_path` pinned while it is prepared and whenever the kept plan is re-planned.
//! A referenced row counts only when the child row's tenant can read it: its own, or the
//! platform's when the referenced table shares platform rows (`shared_reads`).
//!
//! The refusal is raised the way `ri_ReportViolation` raises it — SQLSTATE 23503, the same
//! message and detail, and the schema, table and constraint error fields — from a plain C entry
//! point (`vital_fk_guard`), because pgrx's own error path carries only message, detail, hint
//! and context.

use crate::error::{self, Code};
use crate::privileged::{as_owner, as_vital, pinned};
use crate::sql;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CString};
use std::rc::Rc;

/// SQL true when trigger `t`'s argument is constraint `c`'s name: guards are recognised by the
/// constraint they guard, never by their own name, which PostgreSQL truncates to 63 bytes.
macro_rules! guards_constraint {
    () => {
        "pg_catalog.convert_to(c.conname::text, pg_catalog.getdatabaseencoding()) || '\\x00'::bytea"
    };
}

/// SQL true when foreign key `c` pairs the child's `tenant_id` with the parent's as its first
/// columns, like the co-located keys `vital.distribute()` makes: such a key already holds the
/// child row to its own tenant's parent row (and blocks moves), so it needs no guard.
macro_rules! same_tenant_key {
    () => {
        "EXISTS (SELECT FROM pg_catalog.pg_attribute ca, pg_catalog.pg_attribute pa
                  WHERE ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1] AND ca.attname = 'tenant_id'
                    AND pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] AND pa.attname = 'tenant_id')"
    };
}

/// Foreign keys between registered tables without their guard; `$scope` narrows the keys.
macro_rules! missing_guards {
    ($scope:literal) => {
        concat!(
            "SELECT c.conrelid::regclass::text, c.conname::text,
                (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord)
                   FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                c.condeferred::text, cl.relkind::text
           FROM pg_catalog.pg_constraint c
           JOIN pg_catalog.pg_class cl ON cl.oid = c.conrelid
          WHERE c.contype = 'f' AND c.conparentid = 0 ",
            $scope,
            "
            AND c.conrelid IN (SELECT relid FROM vital.registrations)
            AND c.confrelid IN (SELECT relid FROM vital.registrations)
            AND NOT ",
            same_tenant_key!(),
            "
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                             WHERE t.tgrelid = c.conrelid AND t.tgparentid = 0
                               AND t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure
                               AND t.tgargs = ",
            guards_constraint!(),
            ")"
        )
    };
}

/// Guards whose foreign key is gone, or whose tables are no longer both registered; `$scope`
/// narrows the guards.
macro_rules! stale_guards {
    ($scope:literal) => {
        concat!(
            "SELECT t.tgrelid::regclass::text, t.tgname::text, t.tgrelid::text
           FROM pg_catalog.pg_trigger t
          WHERE t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure AND t.tgparentid = 0
            AND t.tgnargs > 0 ",
            $scope,
            "
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_constraint c
                 WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = t.tgrelid
                   AND t.tgargs = ",
            guards_constraint!(),
            "
                   AND c.conrelid IN (SELECT relid FROM vital.registrations)
                   AND c.confrelid IN (SELECT relid FROM vital.registrations)
                   AND NOT ",
            same_tenant_key!(),
            ")"
        )
    };
}

/// Registered tables referenced by a foreign key from a registered table, without the trigger
/// that guards their rows' moves (`vital_fk_moves`); `$scope` narrows the keys.
macro_rules! missing_moves_guards {
    ($scope:literal) => {
        concat!(
            "SELECT DISTINCT c.confrelid::regclass::text,
                (SELECT relkind FROM pg_catalog.pg_class WHERE oid = c.confrelid)::text
           FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.conparentid = 0 ",
            $scope,
            "
            AND c.conrelid IN (SELECT relid FROM vital.registrations)
            AND c.confrelid IN (SELECT relid FROM vital.registrations)
            AND NOT ",
            same_tenant_key!(),
            "
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                             WHERE t.tgrelid = c.confrelid AND t.tgparentid = 0 AND t.tgnargs = 0
                               AND t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure)"
        )
    };
}

/// `vital_fk_moves` triggers on tables no registered foreign key references any more.
macro_rules! stale_moves_guards {
    ($scope:literal) => {
        concat!(
            "SELECT t.tgrelid::regclass::text, t.tgname::text, t.tgrelid::text
           FROM pg_catalog.pg_trigger t
          WHERE t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure AND t.tgparentid = 0
            AND t.tgnargs = 0 ",
            $scope,
            "
            AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_constraint c
                 WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confrelid = t.tgrelid
                   AND c.conrelid IN (SELECT relid FROM vital.registrations)
                   AND c.confrelid IN (SELECT relid FROM vital.registrations)
                   AND NOT ",
            same_tenant_key!(),
            ")"
        )
    };
}

/// The trigger on a referenced table that refuses moving a row away from the tenants whose
/// rows reference it (guarantee 10). One per table; it checks every foreign key to the table.
const MOVES_TRIGGER: &str = "vital_fk_moves";

/// Runs one of the sync queries below: over every foreign key and guard (`all`), or over those
/// of `tables` only (`scoped`, which takes them as `$1`).
fn sync_query(
    all: &'static str,
    scoped: &'static str,
    tables: Option<&[pg_sys::Oid]>,
) -> Vec<Vec<Option<String>>> {
    const OID_ARRAY: PgOid = PgOid::BuiltIn(pgrx::PgBuiltInOids::OIDARRAYOID);
    match tables {
        None => sql::rows_text_kept(all, &[], &[]),
        Some(tables) => sql::rows_text_kept(scoped, &[OID_ARRAY], &[tables.to_vec().into()]),
    }
}

/// Drops the triggers listed as (table, trigger name[, table OID]) rows. A Citus shard's copy
/// of a guard is never stale here: it guards the shard's copy of the key, which has another
/// name, and it goes with its table's guard (Citus propagates the drop).
fn drop_triggers(rows: Vec<Vec<Option<String>>>) {
    for row in rows {
        if sql::oid(row.get(2).and_then(|o| o.as_deref())).is_some_and(crate::citus::is_shard) {
            continue;
        }
        let table = row[0].clone().unwrap_or_default();
        let name = sql::ident(row[1].as_deref().unwrap_or_default());
        sql::run(&format!("DROP TRIGGER IF EXISTS {name} ON {table}"), &[]);
    }
}

/// Makes the guard triggers match the foreign keys: one per top-level foreign key whose two
/// tables are both registered, none elsewhere. Idempotent; cheap when nothing changed.
pub fn sync_all() {
    sync(None)
}

/// [`sync_all`] for the foreign keys of `tables` and the guards on them only: what a DDL command
/// on those tables can have changed (a drop reaches the tables whose foreign keys it dropped,
/// which sql_drop reports as touched; registering and unregistering sync everything).
pub fn sync(tables: Option<&[pg_sys::Oid]>) {
    let missing = sync_query(
        missing_guards!(""),
        missing_guards!("AND c.conrelid = ANY ($1)"),
        tables,
    );
    for row in missing {
        let (table, constraint, columns) = (
            row[0].clone().unwrap_or_default(),
            row[1].clone().unwrap_or_default(),
            row[2].clone().unwrap_or_default(),
        );
        // Also when the child row moves to another tenant (guarantee 10 of the contract).
        let columns = if columns.split(", ").any(|c| c == "tenant_id") {
            columns
        } else {
            format!("{columns}, tenant_id")
        };
        let deferred = row[3].as_deref() == Some("true");
        let partitioned = row[4].as_deref() == Some("p");
        let name = sql::ident(&sql::truncated_name(format!("vital_fk_guard_{constraint}")));
        let arg = pgrx::spi::quote_literal(&constraint);
        // A deferrable key is checked when PostgreSQL checks it. Every guard can be deferred
        // (SET CONSTRAINTS ... DEFERRED), so that a DBA can move a parent and its children to
        // another tenant in one transaction; constraint triggers are not available on
        // partitioned tables, whose guard is immediate.
        let statement = if !partitioned {
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

    drop_triggers(sync_query(
        stale_guards!(""),
        stale_guards!("AND t.tgrelid = ANY ($1)"),
        tables,
    ));

    // The referenced side: a row that rows of other tenants reference may not move away.
    // A new foreign key comes with its child table; a referenced table gets its trigger when it
    // is registered (a full sync) and keeps it (the invariants).
    let missing_moves = sync_query(
        missing_moves_guards!(""),
        missing_moves_guards!("AND c.conrelid = ANY ($1)"),
        tables,
    );
    for row in missing_moves {
        let table = row[0].clone().unwrap_or_default();
        // Deferrable like the guards (see above), where PostgreSQL allows it.
        let (kind, timing) = if row[1].as_deref() == Some("p") {
            ("TRIGGER", "")
        } else {
            ("CONSTRAINT TRIGGER", "DEFERRABLE INITIALLY IMMEDIATE")
        };
        sql::run(
            &format!(
                "CREATE {kind} {MOVES_TRIGGER} AFTER UPDATE OF tenant_id ON {table} {timing} FOR EACH ROW \
                 WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id) EXECUTE FUNCTION vital.fk_guard()"
            ),
            &[],
        );
    }
    drop_triggers(sync_query(
        stale_moves_guards!(""),
        stale_moves_guards!("AND t.tgrelid = ANY ($1)"),
        tables,
    ));
}

/// Drops vital's guard triggers on `table` (its foreign keys' guards and the guard of its rows'
/// moves): they depend on its `tenant_id`, which unregistering may drop. `sync_all` puts back
/// what still applies afterwards.
pub fn drop_guards_on(table: pg_sys::Oid) {
    drop_triggers(sql::rows_text(
        "SELECT t.tgrelid::regclass::text, t.tgname::text FROM pg_catalog.pg_trigger t
          WHERE t.tgrelid = $1 AND t.tgparentid = 0
            AND t.tgfoid = 'vital.fk_guard()'::pg_catalog.regprocedure",
        &[table.into()],
    ));
}

/// What the guard needs to know about one foreign key, with its check prepared once per
/// backend (plans are re-made after any relcache invalidation: see `context::cache_generation`).
struct Guard {
    generation: u64,
    /// The constraint's name as PostgreSQL reports it here: on a Citus shard, the shard's copy
    /// (`fk_102008`), or the refusal would differ from PostgreSQL's own for a missing row.
    constraint_name: String,
    child_schema: String,
    child_name: String,
    parent_name: String,
    /// The referenced table's owner: the check runs as this role.
    parent_owner: pg_sys::Oid,
    child_columns_plain: Vec<String>,
    /// `SELECT <key is null> OR EXISTS (<row the child's tenant can read>)`, $1 = the row.
    check: OwnedPreparedStatement,
    /// `SELECT concat_ws(', ', <key values as text>)`, $1 = the row; for the error detail.
    key_text: String,
}

thread_local! {
    static GUARDS: RefCell<HashMap<(u32, String), Rc<Guard>>> = RefCell::new(HashMap::new());
}

/// One column pair of the foreign key, as read from the catalogs.
struct KeyColumn {
    child_quoted: String,
    parent_quoted: String,
    child_plain: String,
    parent_plain: String,
    /// `schema.op`, both parts quoted, for `OPERATOR(...)`.
    operator: String,
}

/// The column pairs of foreign key `constraint` and their equality operators, in key order.
/// Read as vital, under the pinned path.
fn key_columns(constraint: pg_sys::Oid) -> Vec<KeyColumn> {
    sql::rows_text(
        "SELECT pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa_att.attname),
                ca.attname::text, pa_att.attname::text,
                pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
                    OPERATOR(pg_catalog.||) o.oprname::text
           FROM pg_catalog.pg_constraint c
           CROSS JOIN LATERAL unnest(c.conkey, c.confkey, c.conpfeqop)
                WITH ORDINALITY k(fk_att, pk_att, op, ord)
           JOIN pg_catalog.pg_attribute ca ON ca.attrelid OPERATOR(pg_catalog.=) c.conrelid
                                          AND ca.attnum OPERATOR(pg_catalog.=) k.fk_att
           JOIN pg_catalog.pg_attribute pa_att ON pa_att.attrelid OPERATOR(pg_catalog.=) c.confrelid
                                              AND pa_att.attnum OPERATOR(pg_catalog.=) k.pk_att
           JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) k.op
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
          WHERE c.oid OPERATOR(pg_catalog.=) $1
          ORDER BY k.ord",
        &[constraint.into()],
    )
    .into_iter()
    .map(|r| {
        let text = |i: usize| r[i].clone().unwrap_or_default();
        KeyColumn {
            child_quoted: text(0),
            parent_quoted: text(1),
            child_plain: text(2),
            parent_plain: text(3),
            operator: text(4),
        }
    })
    .collect()
}

/// On a Citus shard (`tools_102008`), the suffix Citus gives the shard's copies of the table's
/// constraints (`_102008`); otherwise empty.
fn shard_suffix(relid: pg_sys::Oid) -> String {
    if !crate::citus::is_shard(relid) {
        return String::new();
    }
    // SAFETY: the name of a relation the trigger manager holds open.
    let name = unsafe { std::ffi::CStr::from_ptr(pg_sys::get_rel_name(relid)) }
        .to_string_lossy()
        .into_owned();
    name.rfind('_').map(|i| name[i..].to_string()).unwrap_or_default()
}

/// Builds the guard for `constraint` as seen from `relid` (a partition sees its parent's key).
fn build_guard(relid: pg_sys::Oid, constraint: &str, row_type: pg_sys::Oid) -> Option<Guard> {
    // vital's registry and the catalogs, read as vital under the pinned search_path.
    let (head, columns) = as_vital(|| {
        // The foreign key itself: the partition's own copy first, else its ancestor's.
        let head = sql::rows_text(
            "SELECT chn.nspname::text, ch.relname::text, pa.relname::text,
                    pg_catalog.quote_ident(pan.nspname) OPERATOR(pg_catalog.||) '.'
                        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(pa.relname),
                    pa.relkind::text, pa.relowner::text,
                    coalesce((SELECT r.shared_reads FROM vital.registrations r
                               WHERE r.relid OPERATOR(pg_catalog.=) c.confrelid),
                             -- A Citus shard of a registered table is not registered on its
                             -- node; its vital_select policy says whether it shares.
                             (SELECT pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
                                     OPERATOR(pg_catalog.~~) '%vital.platform_tenant()%'
                                FROM pg_catalog.pg_policy pol
                               WHERE pol.polrelid OPERATOR(pg_catalog.=) c.confrelid
                                 AND pol.polname OPERATOR(pg_catalog.=) 'vital_select'),
                             true)::text,
                    c.oid::text, c.conname::text
               FROM pg_catalog.pg_constraint c
               JOIN pg_catalog.pg_class ch ON ch.oid OPERATOR(pg_catalog.=) $1
               JOIN pg_catalog.pg_namespace chn ON chn.oid OPERATOR(pg_catalog.=) ch.relnamespace
               JOIN pg_catalog.pg_class pa ON pa.oid OPERATOR(pg_catalog.=) c.confrelid
               JOIN pg_catalog.pg_namespace pan ON pan.oid OPERATOR(pg_catalog.=) pa.relnamespace
              WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                AND (c.conname OPERATOR(pg_catalog.=) $2
                     OR c.conname OPERATOR(pg_catalog.=) ($2 OPERATOR(pg_catalog.||) $3))
                AND (c.conrelid OPERATOR(pg_catalog.=) $1
                     OR c.conrelid OPERATOR(pg_catalog.=) ANY (
                            SELECT a.relid FROM pg_catalog.pg_partition_ancestors($1) a))
              ORDER BY c.conparentid OPERATOR(pg_catalog.=) 0
              LIMIT 1",
            &[relid.into(), constraint.into(), shard_suffix(relid).into()],
        )
        .into_iter()
        .next();
        // Its column pairs and equality operators, in key order.
        let columns = match head.as_ref().and_then(|h| sql::oid(h[7].as_deref())) {
            Some(constraint_oid) => key_columns(constraint_oid),
            None => Vec::new(),
        };
        (head, columns)
    });
    let head = head?;
    let text = |i: usize| head[i].clone().unwrap_or_default();
    if columns.is_empty() {
        return None;
    }
    // `ONLY` for a plain table, as ri_triggers.c does: rows of inheritance children are not
    // referenced rows. A partitioned table's rows live in its partitions.
    let only = if text(4) == "p" { "" } else { "ONLY " };
    let parent = text(3);
    let parent_owner = sql::oid(head[5].as_deref()).unwrap_or(pg_sys::InvalidOid);
    let shared_reads = text(6) == "true";
    let null_checks: Vec<String> = columns
        .iter()
        .map(|c| format!("($1).{} IS NULL", c.child_quoted))
        .collect();
    let matches: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "p.{} OPERATOR({}) ($1).{}",
                c.parent_quoted, c.operator, c.child_quoted
            )
        })
        .collect();
    // The rows the child row's tenant may read (policies.rs, vital_select).
    let readable = if shared_reads {
        "p.tenant_id OPERATOR(pg_catalog.=) ANY (ARRAY[($1).tenant_id, \
         '00000000-0000-0000-0000-000000000001'::pg_catalog.uuid])"
    } else {
        "p.tenant_id OPERATOR(pg_catalog.=) ($1).tenant_id"
    };
    let check_sql = format!(
        "SELECT {} OR EXISTS (SELECT FROM {only}{parent} p WHERE {} AND {readable})",
        null_checks.join(" OR "),
        matches.join(" AND ")
    );
    let values: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE((($1).{})::pg_catalog.text, 'null')", c.child_quoted))
        .collect();
    // Prepared as the owner (schema USAGE is checked while parsing), with the path pinned.
    let check = as_owner(parent_owner, || {
        error::spi(
            Spi::connect(|client| {
                client
                    .prepare(check_sql.as_str(), &[PgOid::from(row_type)])
                    .map(|p| p.keep())
            }),
            "preparing the foreign-key guard",
        )
    });
    Some(Guard {
        generation: crate::context::cache_generation(),
        constraint_name: text(8),
        child_schema: text(0),
        child_name: text(1),
        parent_name: text(2),
        parent_owner,
        child_columns_plain: columns.iter().map(|c| c.child_plain.clone()).collect(),
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

/// One foreign key that references a table, as its rows' moves must respect it.
struct MoveCheck {
    constraint: String,
    child_schema: String,
    child_name: String,
    parent_name: String,
    /// The referencing table's owner: the lookup reads that table, so it runs as this role.
    child_owner: pg_sys::Oid,
    parent_columns_plain: Vec<String>,
    /// `SELECT <key values as text> WHERE EXISTS (<a referencing row that may no longer see
    /// the moved row>)`, $1 = the referenced row.
    check: OwnedPreparedStatement,
}

/// A table's move checks and the cache generation they were built in.
type MoveChecks = (u64, Rc<Vec<MoveCheck>>);

thread_local! {
    static MOVES: RefCell<HashMap<u32, MoveChecks>> = RefCell::new(HashMap::new());
}

/// The foreign keys from registered tables to `relid` (or to a partitioned table it is a
/// partition of), with their lookups prepared; cached per backend like the guards.
fn move_checks(relid: pg_sys::Oid, row_type: pg_sys::Oid) -> Rc<Vec<MoveCheck>> {
    let generation = crate::context::cache_generation();
    if let Some((g, checks)) = MOVES.with(|m| m.borrow().get(&relid.to_u32()).cloned()) {
        if g == generation {
            return checks;
        }
    }
    let keys = as_vital(|| {
        sql::rows_text(
            "SELECT c.oid::text, c.conname::text, chn.nspname::text, ch.relname::text,
                    pg_catalog.quote_ident(chn.nspname) OPERATOR(pg_catalog.||) '.'
                        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(ch.relname),
                    ch.relkind::text, ch.relowner::text, pa.relname::text,
                    coalesce((SELECT r.shared_reads FROM vital.registrations r
                               WHERE r.relid OPERATOR(pg_catalog.=) c.confrelid), true)::text
               FROM pg_catalog.pg_constraint c
               JOIN pg_catalog.pg_class ch ON ch.oid OPERATOR(pg_catalog.=) c.conrelid
               JOIN pg_catalog.pg_namespace chn ON chn.oid OPERATOR(pg_catalog.=) ch.relnamespace
               JOIN pg_catalog.pg_class pa ON pa.oid OPERATOR(pg_catalog.=) c.confrelid
              WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0
                AND (c.confrelid OPERATOR(pg_catalog.=) $1
                     OR c.confrelid OPERATOR(pg_catalog.=) ANY (
                            SELECT a.relid FROM pg_catalog.pg_partition_ancestors($1) a))
                AND c.conrelid IN (SELECT r.relid FROM vital.registrations r)
              ORDER BY c.conname",
            &[relid.into()],
        )
        .into_iter()
        .map(|head| {
            let columns = sql::oid(head[0].as_deref()).map(key_columns).unwrap_or_default();
            (head, columns)
        })
        .collect::<Vec<_>>()
    });
    let mut checks = Vec::new();
    for (head, columns) in keys {
        let text = |i: usize| head[i].clone().unwrap_or_default();
        if columns.is_empty() {
            continue;
        }
        let matches: Vec<String> = columns
            .iter()
            .map(|k| {
                format!(
                    "($1).{} OPERATOR({}) c.{}",
                    k.parent_quoted, k.operator, k.child_quoted
                )
            })
            .collect();
        let values: Vec<String> = columns
            .iter()
            .map(|k| format!("COALESCE((($1).{})::pg_catalog.text, 'null')", k.parent_quoted))
            .collect();
        // Who may still reference the moved row: its (new) tenant's rows, and everyone's when it
        // became a shared platform row (the rule of the child-side guard, seen from the parent).
        let still_visible = if text(8) == "true" {
            "c.tenant_id OPERATOR(pg_catalog.=) ($1).tenant_id OR ($1).tenant_id OPERATOR(pg_catalog.=) \
             '00000000-0000-0000-0000-000000000001'::pg_catalog.uuid"
        } else {
            "c.tenant_id OPERATOR(pg_catalog.=) ($1).tenant_id"
        };
        let only = if text(5) == "p" { "" } else { "ONLY " };
        let check_sql = format!(
            "SELECT pg_catalog.concat_ws(', ', {}) WHERE EXISTS (SELECT FROM {only}{} c WHERE {} AND NOT ({still_visible}))",
            values.join(", "),
            text(4),
            matches.join(" AND ")
        );
        let child_owner = sql::oid(head[6].as_deref()).unwrap_or(pg_sys::InvalidOid);
        let check = as_owner(child_owner, || {
            error::spi(
                Spi::connect(|client| {
                    client
                        .prepare(check_sql.as_str(), &[PgOid::from(row_type)])
                        .map(|p| p.keep())
                }),
                "preparing the foreign-key guard of moved rows",
            )
        });
        checks.push(MoveCheck {
            constraint: text(1),
            child_schema: text(2),
            child_name: text(3),
            parent_name: text(7),
            child_owner,
            parent_columns_plain: columns.iter().map(|k| k.parent_plain.clone()).collect(),
            check,
        });
    }
    let checks = Rc::new(checks);
    MOVES.with(|m| {
        m.borrow_mut()
            .insert(relid.to_u32(), (generation, checks.clone()))
    });
    checks
}

/// The referenced side (guarantee 10): a row of `relid` moved to another tenant. Refused like
/// PostgreSQL refuses updating a referenced key when a registered row that references it could
/// no longer read it.
fn check_moved_row(relid: pg_sys::Oid, new_row: PgHeapTuple<'_, AllocatedByPostgres>) -> Option<Violation> {
    // SAFETY: plain catalog lookup of a relation the trigger manager holds open and locked.
    let row_type = unsafe { pg_sys::get_rel_type_id(relid) };
    // SAFETY: the tuple is the trigger's new row, of `row_type`, alive for this call.
    let row = unsafe { DatumWithOid::new(new_row, row_type) };
    for fk in move_checks(relid, row_type).iter() {
        let key = as_owner(fk.child_owner, || {
            error::spi(
                Spi::connect(|client| {
                    let table = client.select(&fk.check, Some(1), std::slice::from_ref(&row))?;
                    if table.is_empty() {
                        Ok(None)
                    } else {
                        table.first().get_one::<String>()
                    }
                }),
                "running the foreign-key guard of moved rows",
            )
        });
        if let Some(key) = key {
            return Some(Violation {
                message: format!(
                    "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                    fk.parent_name, fk.constraint, fk.child_name
                ),
                schema: fk.child_schema.clone(),
                table: fk.child_name.clone(),
                constraint: fk.constraint.clone(),
                detail: format!(
                    "Key ({})=({}) is still referenced from table \"{}\".",
                    fk.parent_columns_plain.join(", "),
                    key,
                    fk.child_name
                ),
            });
        }
    }
    None
}

/// A refused row: everything `ri_ReportViolation` would put in its error.
struct Violation {
    message: String,
    schema: String,
    table: String,
    constraint: String,
    detail: String,
}

extension_sql!(
    r#"
-- AFTER INSERT OR UPDATE row trigger on a registered child table; its argument names the
-- foreign key it guards. A plain C entry point (see fk_guard.rs) so that its refusal carries
-- PostgreSQL's error fields.
CREATE FUNCTION vital.fk_guard() RETURNS trigger LANGUAGE c AS 'MODULE_PATHNAME', 'vital_fk_guard';
"#,
    name = "fk_guard_function",
    requires = ["bootstrap"]
);

/// Version-1 calling convention marker for `vital_fk_guard` (what `PG_FUNCTION_INFO_V1` emits).
#[no_mangle]
pub extern "C" fn pg_finfo_vital_fk_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The trigger function. The check runs inside a pgrx guard (Rust panics and PostgreSQL errors
/// are handled there); a refusal comes back as a value and is raised here, where no Rust value
/// with a destructor is alive, as `ri_ReportViolation` raises it.
///
/// # Safety
/// Called by PostgreSQL's trigger manager with a valid `fcinfo` whose context is TriggerData.
#[no_mangle]
pub unsafe extern "C-unwind" fn vital_fk_guard(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: `fcinfo` comes from PostgreSQL's trigger manager (see above).
    let violation = unsafe { check_row(fcinfo) };
    if !violation.is_null() {
        // SAFETY: a pointer made by Box::into_raw in check_row, owned by nobody else.
        unsafe { report_violation(Box::from_raw(violation)) };
    }
    pg_sys::Datum::from(0)
}

/// Checks the new row; returns a refusal (from `Box::into_raw`) or null.
#[pg_guard]
unsafe extern "C-unwind" fn check_row(fcinfo: pg_sys::FunctionCallInfo) -> *mut Violation {
    // SAFETY: `fcinfo` is the trigger call's, valid for this call.
    let trigger = match unsafe { fcinfo.as_ref() }.map(|f| unsafe { PgTrigger::from_fcinfo(f) }) {
        Some(Ok(t)) => t,
        _ => error::raise(
            Code::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
            "vital.fk_guard() can only be called as a trigger",
            None,
        ),
    };
    // On a Citus shard the catalog queries below must see the shard, which Citus hides from
    // pg_class for ordinary sessions (on the coordinator, where reference tables have a copy).
    let on_shard = trigger.relid().is_ok_and(crate::citus::is_shard);
    let violation = if on_shard {
        crate::privileged::with_setting(c"citus.override_table_visibility", c"off", || check(&trigger))
    } else {
        check(&trigger)
    };
    match violation {
        Some(v) => Box::into_raw(Box::new(v)),
        None => std::ptr::null_mut(),
    }
}

fn check(trigger: &PgTrigger<'_>) -> Option<Violation> {
    // A guard that cannot read its own trigger data refuses to run rather than accept the row.
    let protocol = |e: PgTriggerError| -> ! {
        error::raise(
            Code::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
            format!("vital.fk_guard(): {e}"),
            None,
        )
    };
    let args = trigger.extra_args().unwrap_or_else(|e| protocol(e));
    let relid = trigger.relid().unwrap_or_else(|e| protocol(e));
    let new_row = trigger.new()?;
    // Without an argument the trigger sits on a referenced table (`vital_fk_moves`).
    let Some(constraint) = args.first() else {
        return check_moved_row(relid, new_row);
    };
    // SAFETY: plain catalog lookups of a relation the trigger manager holds open and locked.
    let row_type = unsafe { pg_sys::get_rel_type_id(relid) };
    // PostgreSQL leaves the key values out of the error when row-level security applies to
    // the caller (ri_ReportViolation); so must we, or the message would differ.
    let show_values = unsafe { pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, true) }
        != pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32;

    let Some(guard) = guard_for(relid, constraint, row_type) else {
        // On a Citus shard the key must be there (Citus copies it with the trigger): a guard
        // that cannot find it refuses the row rather than let it pass unchecked.
        if crate::citus::is_shard(relid) {
            error::raise(
                Code::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                format!("vital.fk_guard(): the shard has no copy of foreign key {constraint:?}"),
                Some("Run SELECT * FROM vital.audit() on the coordinator."),
            );
        }
        return None;
    };
    // SAFETY: the tuple is the trigger's new row, of `row_type`, alive for this call.
    let row = unsafe { DatumWithOid::new(new_row, row_type) };
    let accepted = as_owner(guard.parent_owner, || {
        error::spi(
            Spi::connect(|client| {
                client
                    .select(&guard.check, Some(1), std::slice::from_ref(&row))?
                    .first()
                    .get_one::<bool>()
            }),
            "running the foreign-key guard",
        )
    })
    .unwrap_or(false);
    if accepted {
        return None;
    }
    // Same words as PostgreSQL's ri_ReportViolation for a missing row.
    let detail = if show_values {
        let key_values = pinned(|| sql::read_one::<String>(&guard.key_text, &[row])).unwrap_or_default();
        format!(
            "Key ({})=({}) is not present in table \"{}\".",
            guard.child_columns_plain.join(", "),
            key_values,
            guard.parent_name
        )
    } else {
        format!("Key is not present in table \"{}\".", guard.parent_name)
    };
    Some(Violation {
        message: format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            guard.child_name, guard.constraint_name
        ),
        schema: guard.child_schema.clone(),
        table: guard.child_name.clone(),
        constraint: guard.constraint_name.clone(),
        detail,
    })
}

// PostgreSQL's error-reporting entry points. pgrx keeps them out of its bindings; they are
// called only from `report_violation`, where no Rust destructor is pending.
unsafe extern "C-unwind" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errmsg(fmt: *const c_char, ...) -> c_int;
    fn errdetail(fmt: *const c_char, ...) -> c_int;
}

/// Copies `s` into palloc'd memory of the current context (freed by the error's cleanup).
fn palloc_str(s: &str) -> *mut c_char {
    let c = CString::new(s.replace('\0', "")).unwrap_or_default();
    // SAFETY: pstrdup copies the NUL-terminated string before `c` is dropped.
    unsafe { pg_sys::pstrdup(c.as_ptr()) }
}

/// Raises the 23503 error with `ri_ReportViolation`'s message and detail and the fields of
/// `errtableconstraint()`. Never returns.
unsafe fn report_violation(v: Box<Violation>) -> ! {
    let message = palloc_str(&v.message);
    let detail = palloc_str(&v.detail);
    let schema = palloc_str(&v.schema);
    let table = palloc_str(&v.table);
    let constraint = palloc_str(&v.constraint);
    // Everything Rust owned is released before errfinish longjmps out of this frame.
    drop(v);
    // SAFETY: the ereport() sequence of elog.h; every pointer is palloc'd above or static.
    unsafe {
        if errstart(pg_sys::PGERROR as c_int, std::ptr::null()) {
            errcode(Code::ERRCODE_FOREIGN_KEY_VIOLATION as c_int);
            errmsg(c"%s".as_ptr(), message);
            errdetail(c"%s".as_ptr(), detail);
            pg_sys::err_generic_string(pg_sys::PG_DIAG_SCHEMA_NAME as c_int, schema);
            pg_sys::err_generic_string(pg_sys::PG_DIAG_TABLE_NAME as c_int, table);
            pg_sys::err_generic_string(pg_sys::PG_DIAG_CONSTRAINT_NAME as c_int, constraint);
            errfinish(
                c"fk_guard.rs".as_ptr(),
                line!() as c_int,
                c"vital_fk_guard".as_ptr(),
            );
        }
        // errstart() returns true for ERROR, and errfinish() does not return at ERROR.
        std::process::abort()
    }
}
