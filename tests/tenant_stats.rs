//! Per-tenant monitoring (`vital.tenant_stats()`, `tenant_stats_reset()`, `tenant_sizes()`) on
//! a cluster that preloads vital_tenancy (`scripts/test.sh` starts one for this file alone:
//! the statistics are the whole server's, so the tests run one at a time and reset first).

mod common;
mod doc_examples;

use common::*;
use postgres::Client;
use std::collections::HashMap;

/// calls, rows, total, mean and max of one tenant ("" for statements with no tenant).
#[derive(Debug, Default, Clone, Copy)]
struct Line {
    calls: i64,
    rows: i64,
    total_ms: f64,
    mean_ms: f64,
    max_ms: f64,
    blocks_hit: i64,
    since: Option<std::time::SystemTime>,
}

fn stats(admin: &mut Client) -> HashMap<String, Line> {
    admin
        .query(
            "SELECT coalesce(tenant::text, ''), calls, rows, total_exec_ms, mean_exec_ms, max_exec_ms,
                    shared_blks_hit, since
               FROM vital.tenant_stats()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                Line {
                    calls: r.get(1),
                    rows: r.get(2),
                    total_ms: r.get(3),
                    mean_ms: r.get(4),
                    max_ms: r.get(5),
                    blocks_hit: r.get(6),
                    since: r.get(7),
                },
            )
        })
        .collect()
}

fn reset(admin: &mut Client) {
    admin.execute("SELECT vital.tenant_stats_reset()", &[]).unwrap();
}

/// Two tenants the app role may use, and a registered table with rows of both.
fn two_tenants(admin: &mut Client) -> (String, String, String) {
    let schema = test_schema(admin, "stats");
    let a = create_tenant(admin, "stats-a");
    let b = create_tenant(admin, "stats-b");
    for t in [&a, &b] {
        admin
            .execute(
                &format!("SELECT vital.allow_tenant('{APP_ROLE}', $1::text::uuid)"),
                &[t],
            )
            .unwrap();
    }
    notes_table(admin, &schema, true, &[(&a, "a"), (&b, "b")]);
    (a, b, schema)
}

#[test]
#[ignore]
fn statements_count_for_the_tenant_current_when_they_ran_across_sessions() {
    let mut admin = superuser();
    let (a, b, schema) = two_tenants(&mut admin);
    let mut session = app();
    let mut pooled = app();
    let mut nobody = app();
    reset(&mut admin);

    // A session-level tenant: set_tenant itself and five reads.
    set_tenant(&mut session, &a);
    for _ in 0..5 {
        session
            .query(&format!("SELECT * FROM {schema}.notes"), &[])
            .unwrap();
    }
    session.execute("SELECT pg_sleep(0.2)", &[]).unwrap();
    // Pooled transactions (is_local): set_tenant and one statement each; BEGIN and COMMIT
    // are utility commands, not counted.
    for _ in 0..3 {
        pooled
            .batch_execute(&format!(
                "BEGIN; SELECT vital.set_tenant('{b}', true);
                 SELECT * FROM generate_series(1, 100); COMMIT;"
            ))
            .unwrap();
    }
    // No tenant: counted apart; and a DO block is one utility command, its queries inside it.
    for _ in 0..4 {
        nobody.execute("SELECT 1", &[]).unwrap();
    }
    nobody
        .batch_execute("DO $$ BEGIN PERFORM 1; PERFORM 2; END $$")
        .unwrap();

    let lines = stats(&mut admin);
    let line_a = lines[&a];
    let line_b = lines[&b];
    assert_eq!((line_a.calls, line_b.calls), (7, 6), "{lines:?}");
    // Rows: set_tenant's one row, the platform's and a's notes for each read, one
    // pg_sleep row; for b: 3 × (1 + 100).
    assert_eq!(
        line_a.rows,
        1 + 5 * 2 + 1,
        "a reads its own and the platform's note"
    );
    assert_eq!(line_b.rows, 3 * 101);
    assert!(line_a.max_ms >= 200.0, "pg_sleep(0.2) ran for a: {line_a:?}");
    assert!(line_b.max_ms < 200.0, "the sleep is not b's: {line_b:?}");
    assert!((line_a.mean_ms - line_a.total_ms / 7.0).abs() < 1e-6);
    assert!(line_a.blocks_hit > 0, "a's reads hit shared buffers");
    assert!(lines[""].calls >= 4, "the session without a tenant: {lines:?}");
    // The DO block's two statements are not the client's.
    let before = stats(&mut admin)[""].calls;
    nobody
        .batch_execute("DO $$ BEGIN PERFORM 1; PERFORM 2; END $$")
        .unwrap();
    assert_eq!(
        stats(&mut admin)[""].calls,
        before + 1,
        "only the stats query itself"
    );
    // EXECUTE of a prepared statement counts as the statement it runs.
    session
        .batch_execute("PREPARE stats_p AS SELECT 1; EXECUTE stats_p; EXECUTE stats_p;")
        .unwrap();
    assert_eq!(stats(&mut admin)[&a].calls, 9);
}

#[test]
#[ignore]
fn reset_starts_from_zero_and_reports_when() {
    let mut admin = superuser();
    let (a, _, _) = two_tenants(&mut admin);
    let mut session = app();
    set_tenant(&mut session, &a);
    session.execute("SELECT 1", &[]).unwrap();
    assert!(stats(&mut admin).contains_key(&a));
    let before_reset: std::time::SystemTime = admin.query_one("SELECT now()", &[]).unwrap().get(0);
    reset(&mut admin);
    let lines = stats(&mut admin);
    assert!(!lines.contains_key(&a), "{lines:?}");
    session.execute("SELECT 1", &[]).unwrap();
    let since: std::time::SystemTime = admin
        .query_one(
            "SELECT since FROM vital.tenant_stats() WHERE tenant = $1::text::uuid",
            &[&a],
        )
        .unwrap()
        .get(0);
    assert!(
        since >= before_reset,
        "since is the reset, not the server's start"
    );
    assert_eq!(stats(&mut admin)[&a].calls, 1);
}

#[test]
#[ignore]
fn a_full_table_gives_the_least_used_tenant_s_slot_up() {
    let mut admin = superuser();
    reset(&mut admin);
    // A superuser may set vital.tenant directly, to any uuid: 1001 one-statement tenants
    // after one with five statements, in one round trip.
    let heavy = "00000000-0000-4000-8000-00000000ffff";
    let mut batch = format!("SET vital.tenant = '{heavy}';");
    batch.push_str(&"SELECT 1;".repeat(5));
    for i in 0..1001 {
        batch.push_str(&format!(
            "SET vital.tenant = '00000000-0000-4000-8000-{i:012}'; SELECT 1;"
        ));
    }
    batch.push_str("RESET vital.tenant;");
    admin.batch_execute(&batch).unwrap();
    let lines = stats(&mut admin);
    assert_eq!(lines.len(), 1000, "the table holds 1000 tenants");
    assert_eq!(lines[heavy].calls, 5, "the busiest tenant keeps its counts");
    let evictions: i64 = admin
        .query_one("SELECT vital.tenant_stats_evictions()", &[])
        .unwrap()
        .get(0);
    assert!(
        evictions >= 3,
        "1003 tenants (and no tenant) for 1000 slots: {evictions}"
    );
    // The last tenant is there, counted since it came in, after the reset.
    let last = "00000000-0000-4000-8000-000000001000";
    assert_eq!(lines[last].calls, 1);
    // (Read from the same snapshot: any statement now, the stats query included, is one more
    // tenant, "no tenant", which takes the newest tenant's slot.)
    let later = lines[last].since > lines[heavy].since;
    assert!(later, "a tenant that came in after an eviction says so");
}

#[test]
#[ignore]
fn concurrent_clients_lose_no_count() {
    let mut admin = superuser();
    let (a, b, schema) = two_tenants(&mut admin);
    reset(&mut admin);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let tenant = if i % 2 == 0 { a.clone() } else { b.clone() };
            let schema = schema.clone();
            std::thread::spawn(move || {
                let mut client = app();
                for _ in 0..100 {
                    client
                        .batch_execute(&format!(
                            "BEGIN; SELECT vital.set_tenant('{tenant}', true);
                             SELECT count(*) FROM {schema}.notes; COMMIT;"
                        ))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let lines = stats(&mut admin);
    assert_eq!(lines[&a].calls, 4 * 100 * 2);
    assert_eq!(lines[&b].calls, 4 * 100 * 2);
    assert_eq!(lines[&a].rows, 4 * 100 * 2);
}

#[test]
#[ignore]
fn monitoring_is_for_dbas() {
    let mut admin = superuser();
    let mut app = app();
    for call in [
        "SELECT * FROM vital.tenant_stats()",
        "SELECT vital.tenant_stats_reset()",
        "SELECT * FROM vital.tenant_sizes()",
    ] {
        assert_eq!(sqlstate(app.query(call, &[])), "42501", "{call}");
    }
    let monitor = unique_slug("monitor").replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {monitor} LOGIN; GRANT pg_read_all_stats TO {monitor};"
        ))
        .unwrap();
    let mut monitor = connect_as(&monitor);
    assert_eq!(
        sqlstate(monitor.query("SELECT * FROM vital.tenant_stats()", &[])),
        "none"
    );
    assert_eq!(
        sqlstate(monitor.query("SELECT * FROM vital.tenant_sizes()", &[])),
        "none"
    );
    assert_eq!(
        sqlstate(monitor.query("SELECT vital.tenant_stats_reset()", &[])),
        "42501"
    );
}

#[test]
#[ignore]
fn sizes_count_every_tenant_s_rows_of_every_registered_table() {
    let mut admin = superuser();
    let (a, b, schema) = two_tenants(&mut admin);
    admin
        .batch_execute(&format!(
            "BEGIN; SELECT vital.set_tenant('{a}', true);
             INSERT INTO {schema}.notes SELECT g, 'more' FROM generate_series(100, 1099) g; COMMIT;"
        ))
        .unwrap();
    let sizes: HashMap<String, (i64, i64)> = admin
        .query(
            "SELECT tenant::text, rows, bytes FROM vital.tenant_sizes() WHERE relid = $1::text::regclass",
            &[&format!("{schema}.notes")],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(sizes[&a].0, 1001);
    assert_eq!(sizes[&b].0, 1);
    assert_eq!(sizes["00000000-0000-0000-0000-000000000001"].0, 1);
    let total: i64 = admin
        .query_one(
            "SELECT pg_total_relation_size($1::text::regclass)",
            &[&format!("{schema}.notes")],
        )
        .unwrap()
        .get(0);
    let summed: i64 = sizes.values().map(|(_, bytes)| bytes).sum();
    assert!(
        (summed - total).abs() <= 3,
        "bytes split the table's size: {summed} of {total}"
    );
    assert!(sizes[&a].1 > 500 * sizes[&b].1, "a holds nearly all of it");
}

#[test]
#[ignore]
fn the_docs_monitoring_examples_do_what_they_say() {
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in doc_examples::doc_files() {
        let doc = doc_examples::parse_doc(&path);
        let name = path
            .strip_prefix(doc_examples::repo_root())
            .unwrap()
            .display()
            .to_string();
        for block in doc.blocks.iter().filter(|b| b.monitoring) {
            ran += 1;
            let mut session = superuser();
            failures.extend(doc_examples::run_block(&mut session, &name, block));
        }
    }
    assert!(ran > 0, "no `sql monitoring` examples found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
