//! `vital.clone_for_tenant`: copy a source tenant's rows of a registered table (platform
//! templates by default) into a target tenant, with new primary keys and references remapped.
//!
//! One set-based statement per call: a MATERIALIZED CTE picks the source rows not yet cloned
//! into the target and computes each copy (defaults and identities re-evaluated for the key,
//! single-column foreign keys remapped through `vital.clone_map` to clones made earlier);
//! the copies and their source→clone entries are inserted from it; a self-reference to a row
//! copied by the same statement takes the copy's new key. `vital.clone_map` makes it idempotent.
//!
//! The copy runs as the table's owner (privileged.rs): the owner's defaults, triggers, CHECKs
//! and index expressions run with the owner's own rights. The owner cannot read or write
//! `vital.clone_map`, so vital reads the map entries the statement needs beforehand (passed as
//! one jsonb argument) and records the new entries the statement returns afterwards.
//!
//! The filter is parsed and analyzed by PostgreSQL as `SELECT FROM table s WHERE filter` (no
//! parentheses added, so `x) OR (y` does not parse), refused unless it is one boolean expression over the table's columns (no subqueries, no
//! other tables, no volatile functions), and then **deparsed from the analyzed tree**: the
//! text that runs is PostgreSQL's rendering of that one expression, never the caller's text,
//! so `x) OR (y` cannot escape the source-tenant condition it is ANDed with.

use crate::catalog::{self, Relation};
use crate::error::{raise, required, Code};
use crate::privileged::{as_owner_of, as_vital};
use crate::tenants;
// Named in `requires` below: clone_for_tenant's default calls vital.platform_tenant().
use crate::sql;
#[allow(unused_imports)]
use crate::tenants::platform_tenant;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use std::ffi::CString;

/// A NOTICE reports clones at least this large.
const NOTICE_ROWS: u64 = 10_000;

struct Column {
    name: String,
    type_name: String,
    identity: bool,
    generated: bool,
    default: Option<String>,
    in_primary_key: bool,
}

fn columns(rel: &Relation) -> Vec<Column> {
    sql::rows_text(
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                (a.attidentity <> '')::text, (a.attgenerated <> '')::text,
                pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                (a.attname <> 'tenant_id'
                 AND EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                                                              AND a.attnum = ANY (i.indkey::int2[])))::text
           FROM pg_catalog.pg_attribute a
           LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
        &[rel.oid.into()],
    )
    .into_iter()
    .map(|r| Column {
        name: r[0].clone().unwrap_or_default(),
        type_name: r[1].clone().unwrap_or_default(),
        identity: r[2].as_deref() == Some("true"),
        generated: r[3].as_deref() == Some("true"),
        default: r[4].clone(),
        in_primary_key: r[5].as_deref() == Some("true"),
    })
    .collect()
}

/// A foreign key from one column to a table's one-column primary key: remappable. `tenant_id`
/// is not counted on either side: a copy's key is its tenant's, so a same-tenant key
/// `(tenant_id, x) -> (tenant_id, id)` (as `vital.distribute()` makes them) is a reference of
/// `x` to `id` too.
struct Reference {
    column: String,
    parent: pg_sys::Oid,
    parent_key: String,
}

fn references(rel: &Relation) -> Vec<Reference> {
    sql::rows_text(
        "WITH fk AS (
            SELECT c.conname, c.confrelid,
                   array_agg(k.child) FILTER (WHERE ct.attname IS DISTINCT FROM 'tenant_id'
                                                OR pt.attname IS DISTINCT FROM 'tenant_id') AS child_keys,
                   array_agg(k.parent) FILTER (WHERE ct.attname IS DISTINCT FROM 'tenant_id'
                                                 OR pt.attname IS DISTINCT FROM 'tenant_id') AS parent_keys
              FROM pg_catalog.pg_constraint c
             CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(child, parent)
              LEFT JOIN pg_catalog.pg_attribute ct ON ct.attrelid = c.conrelid AND ct.attnum = k.child
              LEFT JOIN pg_catalog.pg_attribute pt ON pt.attrelid = c.confrelid AND pt.attnum = k.parent
             WHERE c.contype = 'f' AND c.conrelid = $1 AND c.conparentid = 0
             GROUP BY c.oid, c.conname, c.confrelid
         ), parent_key AS (
            SELECT i.indrelid, array_agg(a.attnum) AS keys
              FROM pg_catalog.pg_index i
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k(attnum)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indisprimary AND a.attname <> 'tenant_id'
             GROUP BY i.indrelid
         )
         SELECT ca.attname::text, fk.confrelid::oid::text, pa.attname::text
           FROM fk
           JOIN parent_key pk ON pk.indrelid = fk.confrelid AND pk.keys = fk.parent_keys
           JOIN pg_catalog.pg_attribute ca ON ca.attrelid = $1 AND ca.attnum = fk.child_keys[1]
           JOIN pg_catalog.pg_attribute pa ON pa.attrelid = fk.confrelid AND pa.attnum = fk.parent_keys[1]
          WHERE cardinality(fk.child_keys) = 1
          ORDER BY fk.conname",
        &[rel.oid.into()],
    )
    .into_iter()
    .map(|r| Reference {
        column: r[0].clone().unwrap_or_default(),
        parent: sql::oid(r[1].as_deref()).unwrap_or(pg_sys::InvalidOid),
        parent_key: r[2].clone().unwrap_or_default(),
    })
    .collect()
}

fn bad_filter(message: &str) -> ! {
    raise(
        Code::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("invalid clone filter: {message}"),
        Some("The filter is one boolean expression over the source table's columns, e.g. category = 'Regulatory'."),
    )
}

/// Parses and analyzes `SELECT FROM table s WHERE filter`, refuses anything but a plain
/// boolean expression over that one table, and returns the analyzed expression deparsed
/// (`s.column` references; names qualified where the pinned search_path needs it). That text,
/// not the caller's, is what runs.
fn checked_filter(rel: &Relation, filter: &str) -> String {
    // Not wrapped in parentheses: `x) OR (y` must not parse. The newline ends a trailing
    // `--` comment.
    let probe = format!("SELECT FROM {} s WHERE {}\n", rel.qualified(), filter);
    let probe_c = CString::new(probe).unwrap_or_else(|_| bad_filter("it contains a NUL byte"));
    let probe_ptr = probe_c.as_ptr();
    // A syntax error becomes this function's own "invalid clone filter" error (22023).
    let statements = PgTryBuilder::new(|| {
        // SAFETY: parses a NUL-terminated string that outlives the call.
        unsafe { pg_sys::raw_parser(probe_ptr, pg_sys::RawParseMode::RAW_PARSE_DEFAULT) }
    })
    .catch_others(|_| bad_filter("it does not parse as one boolean expression"))
    .execute();
    // SAFETY: raw_parser, parse_analyze_fixedparams and deparse_expression return palloc'd
    // trees in the current memory context, read here before the statement ends; every
    // pointer is checked for NULL before it is followed.
    unsafe {
        if statements.is_null() || (*statements).length != 1 {
            bad_filter("it must not end one statement and start another");
        }
        let raw = (*(*statements).elements).ptr_value as *mut pg_sys::RawStmt;
        let select = (*raw).stmt as *const pg_sys::SelectStmt;
        if select.is_null() || (*select).type_ != pg_sys::NodeTag::T_SelectStmt {
            bad_filter("it is not an expression");
        }
        let s = &*select;
        let simple = s.op == pg_sys::SetOperation::SETOP_NONE
            && s.withClause.is_null()
            && s.sortClause.is_null()
            && s.limitCount.is_null()
            && s.limitOffset.is_null()
            && s.lockingClause.is_null()
            && s.groupClause.is_null()
            && s.havingClause.is_null()
            && s.windowClause.is_null()
            && s.distinctClause.is_null()
            && s.intoClause.is_null()
            && !s.fromClause.is_null()
            && (*s.fromClause).length == 1;
        if !simple {
            bad_filter("it must be a single boolean expression, without clauses of its own");
        }
        let query = pg_sys::parse_analyze_fixedparams(
            raw,
            probe_c.as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
        );
        if query.is_null() {
            bad_filter("it must read only the source table");
        }
        let query = &*query;
        if query.hasSubLinks {
            bad_filter("subqueries are not allowed");
        }
        if query.rtable.is_null() || (*query.rtable).length != 1 {
            bad_filter("it must read only the source table");
        }
        let quals = if query.jointree.is_null() {
            std::ptr::null_mut()
        } else {
            (*query.jointree).quals
        };
        if quals.is_null() {
            bad_filter("it is not an expression");
        }
        if pg_sys::contain_volatile_functions(quals) {
            bad_filter("volatile functions are not allowed");
        }
        let context = pg_sys::deparse_context_for(c"s".as_ptr(), rel.oid);
        let text = pg_sys::deparse_expression(quals, context, true, false);
        std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

fn tenant_usable_as_target(target: Uuid) {
    let row = tenants::get(target);
    if !row.active {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "cannot clone into tenant \"{}\" ({target}): it is suspended",
                row.slug
            ),
            Some("Resume it with vital.resume_tenant() first."),
        );
    }
}

fn check_registered_table(rel: &Relation) {
    let top_level = sql::one::<bool>(
        "SELECT parent IS NULL FROM vital.registrations WHERE relid = $1",
        &[rel.oid.into()],
    );
    match top_level {
        Some(true) => {}
        Some(false) => raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "cannot clone {}: it is a partition; clone its partitioned table",
                rel.qualified()
            ),
            None,
        ),
        None => raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "cannot clone {}: it is not registered with vital",
                rel.qualified()
            ),
            Some("Register it with vital.register_table() first."),
        ),
    }
}

fn json_key(columns: &[&Column], row_alias: &str) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{}, {row_alias}.{}",
                pgrx::spi::quote_literal(&c.name),
                sql::ident(&c.name)
            )
        })
        .collect();
    format!("jsonb_build_object({})", parts.join(", "))
}

/// Clones and returns the number of rows created. Called as vital; the copy itself runs as the
/// table's owner. `filter` is the deparsed, checked expression (see [`checked_filter`]).
fn clone_rows(target: Uuid, rel: &Relation, filter: Option<&str>, source: Uuid) -> u64 {
    let cols = columns(rel);
    let key_cols: Vec<&Column> = cols.iter().filter(|c| c.in_primary_key).collect();
    if key_cols.is_empty() {
        raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot clone {}: it has no primary key", rel.qualified()),
            Some("vital remembers clones by primary key; add one."),
        );
    }
    let refs = references(rel);
    let table = rel.qualified();

    let mut joins = Vec::new();
    let mut select_list = vec![format!("{} AS vital_source_key", json_key(&key_cols, "s"))];
    let mut insert_cols = Vec::new();
    let mut picked_cols = Vec::new();
    // Final values: the picked ones, except that a self-reference to a row cloned in this very
    // statement takes that row's new key (its `picked` twin, joined below).
    let mut final_cols = Vec::new();
    let mut self_joins = Vec::new();
    let key_index = |name: &str| cols.iter().position(|c| c.name == name).unwrap_or_default();
    for (i, c) in cols.iter().enumerate() {
        if c.generated || c.name == "tenant_id" {
            continue;
        }
        let ident = sql::ident(&c.name);
        let reference = refs.iter().enumerate().find(|(_, r)| r.column == c.name);
        let expr = if let Some((j, r)) = reference {
            // A reference to a row already cloned into the target points at the clone.
            joins.push(format!(
                "LEFT JOIN map r{j} ON r{j}.relid = '{}'::pg_catalog.oid \
                 AND r{j}.source_key = jsonb_build_object({}, s.{ident})",
                r.parent.to_u32(),
                pgrx::spi::quote_literal(&r.parent_key)
            ));
            format!(
                "COALESCE((r{j}.clone_key ->> {})::{}, s.{ident})",
                pgrx::spi::quote_literal(&r.parent_key),
                c.type_name
            )
        } else if c.identity {
            let seq = sql::one::<String>(
                "SELECT pg_catalog.pg_get_serial_sequence($1, $2)",
                &[table.clone().into(), c.name.clone().into()],
            )
            .unwrap_or_default();
            format!("nextval({}::regclass)", pgrx::spi::quote_literal(seq))
        } else if c.in_primary_key {
            match &c.default {
                Some(default) => default.clone(),
                None => raise(
                    Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("cannot clone {table}: primary key column {ident} has no default to give copies new keys"),
                    Some("Give the key a default (identity, serial or gen_random_uuid())."),
                ),
            }
        } else {
            format!("s.{ident}")
        };
        select_list.push(format!("{expr} AS vital_c{i}"));
        insert_cols.push(ident);
        picked_cols.push(format!("vital_c{i}"));
        match reference {
            Some((j, r)) if r.parent == rel.oid => {
                self_joins.push(format!(
                    "LEFT JOIN picked q{j} ON q{j}.vital_source_key = jsonb_build_object({}, p.vital_c{i})",
                    pgrx::spi::quote_literal(&r.parent_key)
                ));
                final_cols.push(format!(
                    "COALESCE(q{j}.vital_c{}, p.vital_c{i}) AS vital_c{i}",
                    key_index(&r.parent_key)
                ));
            }
            _ => final_cols.push(format!("p.vital_c{i}")),
        }
    }
    // A key with a generated part always differs from its source's; only a key made entirely
    // of (possibly unremapped) references can come out identical and must be checked.
    let key_is_generated = key_cols
        .iter()
        .any(|k| (k.identity || k.default.is_some()) && !refs.iter().any(|r| r.column == k.name));
    let clone_key_parts: Vec<String> = key_cols
        .iter()
        .map(|k| {
            format!(
                "{}, vital_c{}",
                pgrx::spi::quote_literal(&k.name),
                key_index(&k.name)
            )
        })
        .collect();
    let filter_sql = filter.map(|f| format!(" AND ({f})")).unwrap_or_default();

    // The clone-map entries of this target for this table and the tables it references, read
    // as vital for the owner's statement: [{relid, source_key, clone_key}, ...].
    let mut map_relids: Vec<pg_sys::Oid> = refs.iter().map(|r| r.parent).collect();
    map_relids.push(rel.oid);
    let map = sql::one::<JsonB>(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('relid', m.relid::oid, 'source_key', m.source_key,
                                                      'clone_key', m.clone_key)), '[]')
           FROM vital.clone_map m WHERE m.target = $1 AND m.relid::oid = ANY ($2)",
        &[target.into(), map_relids.into()],
    )
    .unwrap_or(JsonB(serde_json::json!([])));

    // On a distributed table (Citus) the copy reads the source tenant's rows and writes the
    // target's, and on the shards the owner sees one tenant per transaction (its token): so the
    // source rows are read first under the source's token, the copies computed from them on
    // the coordinator, and inserted under the target's token.
    let distributed = crate::citus::is_citus_table(rel.oid);
    let source_rows = if distributed {
        format!("jsonb_populate_recordset(NULL::{table}, $4) s")
    } else {
        format!("{table} s")
    };
    let (source_filter, inserted, returned) = if distributed {
        let row = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated && c.name != "tenant_id")
            .map(|(i, c)| format!("{}, vital_c{i}", pgrx::spi::quote_literal(&c.name)))
            .collect::<Vec<_>>();
        (
            String::new(),
            String::new(),
            format!(
                "vital_source_key, vital_clone_key, jsonb_build_object({})",
                row.join(", ")
            ),
        )
    } else {
        (
            filter_sql.clone(),
            format!(
                ", inserted AS (
            INSERT INTO {table} ({insert_cols}, tenant_id) OVERRIDING SYSTEM VALUE
            SELECT {picked_cols}, $1 FROM usable
         )",
                insert_cols = insert_cols.join(", "),
                picked_cols = picked_cols.join(", "),
            ),
            "vital_source_key, vital_clone_key".to_string(),
        )
    };
    // Every name below is qualified or resolved under the pinned search_path.
    let statement = format!(
        "WITH map AS MATERIALIZED (
            SELECT * FROM jsonb_to_recordset($3) AS m(relid oid, source_key jsonb, clone_key jsonb)
         ), picked AS MATERIALIZED (
            SELECT {select}
              FROM {source_rows} {joins}
             WHERE s.tenant_id = $2{source_filter}
               AND NOT EXISTS (SELECT FROM map m
                                WHERE m.relid = '{relid}'::pg_catalog.oid AND m.source_key = {source_key})
         ), finals AS (
            SELECT p.vital_source_key, {final_cols} FROM picked p {self_joins}
         ), usable AS (
            -- A copy whose key would equal its source's (a key made only of references to rows
            -- that were not cloned) would be the source row again: it is skipped.
            SELECT *, jsonb_build_object({clone_key}) AS vital_clone_key FROM finals{identical_filter}
         ){inserted}
         SELECT coalesce(jsonb_agg(jsonb_build_array({returned})), '[]')
           FROM usable",
        relid = rel.oid.to_u32(),
        select = select_list.join(", "),
        joins = joins.join(" "),
        source_key = json_key(&key_cols, "s"),
        clone_key = clone_key_parts.join(", "),
        final_cols = final_cols.join(", "),
        identical_filter = if key_is_generated {
            String::new()
        } else {
            format!(
                " WHERE jsonb_build_object({}) IS DISTINCT FROM vital_source_key",
                clone_key_parts.join(", ")
            )
        },
        self_joins = self_joins.join(" "),
    );
    let created = as_owner_of(rel.oid, || {
        if !distributed {
            return sql::one::<JsonB>(&statement, &[target.into(), source.into(), map.into()]);
        }
        let rows = crate::citus::with_tenant_on_workers(source, || {
            sql::one::<JsonB>(
                &format!(
                    "SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM {table} s
                      WHERE s.tenant_id = $1{filter_sql}"
                ),
                &[source.into()],
            )
        });
        let copies = sql::one::<JsonB>(
            &statement,
            &[target.into(), source.into(), map.into(), rows.into()],
        )
        .unwrap_or(JsonB(serde_json::json!([])));
        crate::citus::with_tenant_on_workers(target, || {
            sql::run(
                &format!(
                    "INSERT INTO {table} ({insert_cols}, tenant_id) OVERRIDING SYSTEM VALUE
                     SELECT {copied_cols}, $1
                       FROM jsonb_array_elements($2) e,
                            jsonb_populate_record(NULL::{table}, e OPERATOR(pg_catalog.->) 2) c",
                    insert_cols = insert_cols.join(", "),
                    copied_cols = insert_cols
                        .iter()
                        .map(|c| format!("c.{c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                &[target.into(), JsonB(copies.0.clone()).into()],
            )
        });
        // Only the source and clone keys go to vital.clone_map.
        let keys = copies.0.as_array().into_iter().flatten();
        Some(JsonB(keys.map(|e| serde_json::json!([e[0], e[1]])).collect()))
    })
    .unwrap_or(JsonB(serde_json::json!([])));
    let count = created.0.as_array().map(|a| a.len()).unwrap_or(0) as u64;
    if count > 0 {
        sql::run(
            "INSERT INTO vital.clone_map (relid, target, source, source_key, clone_key)
             SELECT $1::oid::regclass, $2, $3, e OPERATOR(pg_catalog.->) 0, e OPERATOR(pg_catalog.->) 1
               FROM jsonb_array_elements($4) e",
            &[rel.oid.into(), target.into(), source.into(), created.into()],
        );
    }
    count
}

#[pg_extern(
    sql = "
CREATE FUNCTION vital.clone_for_tenant(target uuid, source_table regclass, filter text DEFAULT NULL,
                                       source uuid DEFAULT vital.platform_tenant())
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
",
    requires = [platform_tenant]
)]
fn clone_for_tenant(
    target: Option<Uuid>,
    source_table: Option<pg_sys::Oid>,
    filter: Option<&str>,
    source: Option<Uuid>,
) -> i64 {
    let target = required(target, "vital.clone_for_tenant", "target");
    let source_table = required(source_table, "vital.clone_for_tenant", "source_table");
    let source = required(source, "vital.clone_for_tenant", "source");
    if *target == *source {
        raise(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("cannot clone tenant {source}'s rows into itself"),
            Some("Pass another target tenant."),
        );
    }
    as_vital(|| {
        tenant_usable_as_target(target);
        tenants::get(source);
        let rel = catalog::existing_relation(source_table);
        check_registered_table(&rel);
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| checked_filter(&rel, f));
        let created = clone_rows(target, &rel, filter.as_deref(), source);
        if created >= NOTICE_ROWS {
            pgrx::notice!(
                "vital: cloned {created} rows of {} into tenant {target}",
                rel.qualified()
            );
        }
        created as i64
    })
}
