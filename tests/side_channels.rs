//! Side channels around the policies (isolation lines 35-39), attacked as an application role
//! that has SQL in one tenant's request. Each channel is first shown open to a role that may use
//! it (so the attack is real and the test can fail), then closed to the application role.
//! The shared-role cases behind a real pgbouncer are in pooler.rs.

mod common;
use common::*;
use postgres::Client;
use std::collections::BTreeSet;

/// Ids of the hidden tenant's rows: what the attacker wants to learn.
const SECRET_IDS: [i32; 4] = [137, 4242, 9001, 15555];
const MAX_ID: i32 = 20_000;

struct Fixture {
    table: String,
    index: String,
    attacker_tenant: String,
}

/// `<schema>.sessions(id int PRIMARY KEY, title text)`, registered: the attacker's tenant owns
/// every id in 1..=MAX_ID except SECRET_IDS, which belong to another tenant.
fn fixture(admin: &mut Client, prefix: &str) -> Fixture {
    let s = test_schema(admin, prefix);
    let a = create_tenant(admin, &format!("{prefix}-a"));
    let b = create_tenant(admin, &format!("{prefix}-b"));
    let secret: Vec<String> = SECRET_IDS.iter().map(|i| i.to_string()).collect();
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.sessions (id int PRIMARY KEY, title text);
             SELECT vital.register_table('{s}.sessions', shared_reads => false);
             INSERT INTO {s}.sessions (id, title, tenant_id)
                  SELECT g, 'a' || g, '{a}' FROM generate_series(1, {MAX_ID}) g
                   WHERE g <> ALL ('{{{secret}}}'::int[]);
             INSERT INTO {s}.sessions (id, title, tenant_id)
                  SELECT g, 'hidden', '{b}' FROM unnest('{{{secret}}}'::int[]) g;
             ANALYZE {s}.sessions;",
            secret = secret.join(",")
        ))
        .unwrap();
    Fixture {
        table: format!("{s}.sessions"),
        index: format!("{s}.sessions_pkey"),
        attacker_tenant: a,
    }
}

/// How many rows the policy removed after the primary key's index condition `lo <= id < hi`:
/// the rows of other tenants in that range. `Err(SQLSTATE)` when the attempt is refused.
fn explain_oracle(c: &mut Client, table: &str, lo: i32, hi: i32) -> Result<u64, String> {
    let plan = c
        .simple_query(&format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
             SELECT id FROM {table} WHERE id >= {lo} AND id < {hi}"
        ))
        .map_err(|e| e.code().map_or_else(|| e.to_string(), |c| c.code().to_string()))?;
    let mut removed = 0;
    for message in plan {
        if let postgres::SimpleQueryMessage::Row(row) = message {
            let line = row.get(0).unwrap_or_default();
            if let Some(n) = line.trim().strip_prefix("Rows Removed by Filter: ") {
                removed += n.parse::<u64>().unwrap();
            }
        }
    }
    Ok(removed)
}

/// The same count from the primary key's statistics counter: index entries returned for the
/// range minus the rows the query itself returned. The query runs with a generic plan, prepared
/// once: planning a query with constants reads the index's end values and counts them too.
fn statistics_oracle(c: &mut Client, table: &str, index: &str, lo: i32, hi: i32) -> Result<u64, String> {
    let code = |e: postgres::Error| e.code().map_or_else(|| e.to_string(), |c| c.code().to_string());
    c.batch_execute("SET plan_cache_mode = force_generic_plan")
        .map_err(code)?;
    let count = c
        .prepare(&format!(
            "SELECT count(*) FROM {table} WHERE id >= $1 AND id < $2"
        ))
        .map_err(code)?;
    let returned = c
        .prepare("SELECT pg_stat_get_xact_tuples_returned($1::text::regclass)")
        .map_err(code)?;
    let mut t = c.transaction().map_err(code)?;
    let before: i64 = t.query_one(&returned, &[&index]).map_err(code)?.get(0);
    let seen: i64 = t.query_one(&count, &[&lo, &hi]).map_err(code)?.get(0);
    let after: i64 = t.query_one(&returned, &[&index]).map_err(code)?.get(0);
    t.rollback().map_err(code)?;
    Ok((after - before - seen).max(0) as u64)
}

/// A binary search for other tenants' ids through `oracle(lo, hi)`: chunks of 256 ids, split
/// while they hold hidden rows. Stops at the first refusal (returned with what was learnt).
fn binary_search(mut oracle: impl FnMut(i32, i32) -> Result<u64, String>) -> (BTreeSet<i32>, Option<String>) {
    let mut found = BTreeSet::new();
    let mut ranges: Vec<(i32, i32)> = (1..=MAX_ID)
        .step_by(256)
        .map(|lo| (lo, (lo + 256).min(MAX_ID + 1)))
        .collect();
    while let Some((lo, hi)) = ranges.pop() {
        match oracle(lo, hi) {
            Err(refusal) => return (found, Some(refusal)),
            Ok(0) => {}
            Ok(_) if hi - lo == 1 => {
                found.insert(lo);
            }
            Ok(_) => {
                let mid = lo + (hi - lo) / 2;
                ranges.push((lo, mid));
                ranges.push((mid, hi));
            }
        }
    }
    (found, None)
}

fn plan_for_index_scans(c: &mut Client, tenant: &str) {
    set_tenant(c, tenant);
    c.batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .unwrap();
}

fn secret() -> BTreeSet<i32> {
    SECRET_IDS.into_iter().collect()
}

/// Line 35 through EXPLAIN ANALYZE: the search recovers every hidden id as a role that may
/// EXPLAIN under the same forced policies (the table's owner), and nothing as the app role.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_35_index_oracle_through_explain_learns_nothing() {
    let mut admin = superuser();
    let f = fixture(&mut admin, "oracle");

    let mut owner = owner_of_table(&mut admin, &f.table);
    plan_for_index_scans(&mut owner, &f.attacker_tenant);
    let (learnt, refusal) = binary_search(|lo, hi| explain_oracle(&mut owner, &f.table, lo, hi));
    assert_eq!(refusal, None);
    assert_eq!(
        learnt,
        secret(),
        "the oracle does not work: the test proves nothing"
    );

    let mut app = app();
    plan_for_index_scans(&mut app, &f.attacker_tenant);
    let (learnt, refusal) = binary_search(|lo, hi| explain_oracle(&mut app, &f.table, lo, hi));
    assert!(learnt.is_empty(), "the app role learnt hidden ids {learnt:?}");
    assert_eq!(refusal.as_deref(), Some("42501"));
    // Plain EXPLAIN too: its estimates come from every tenant's statistics.
    let plain = app.simple_query(&format!("EXPLAIN SELECT * FROM {} WHERE id = 137", f.table));
    assert_eq!(sqlstate(plain), "42501");
    // And through a cached plan, prepared and run before the EXPLAIN.
    app.batch_execute(&format!("PREPARE q AS SELECT id FROM {} WHERE id < 200", f.table))
        .unwrap();
    for _ in 0..6 {
        app.batch_execute("EXECUTE q").unwrap();
    }
    assert_eq!(sqlstate(app.batch_execute("EXPLAIN ANALYZE EXECUTE q")), "42501");
    // A refusal caught inside a function (a subtransaction) leaves no EXPLAIN state behind.
    app.batch_execute(&format!(
        "DO $$ BEGIN EXECUTE 'EXPLAIN SELECT * FROM {}';
                 EXCEPTION WHEN insufficient_privilege THEN NULL; END $$",
        f.table
    ))
    .unwrap();
    // The query itself still runs and shows only the tenant's rows.
    let n: i64 = app
        .query_one(&format!("SELECT count(*) FROM {} WHERE id < 200", f.table), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 198);
}

/// Line 35 through the statistics functions: a role that may call them (pg_read_all_stats)
/// recovers every hidden id; the app role, after vital.restrict_statistics() (the test
/// database's setup, as in the migration), may not call them or read the views built on them.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_35_index_oracle_through_statistics_functions_learns_nothing() {
    let mut admin = superuser();
    let f = fixture(&mut admin, "statoracle");
    let reader = unique_slug("stats_reader").replace('-', "_");
    let schema = f.table.split('.').next().unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {reader} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE pg_read_all_stats;
             GRANT USAGE ON SCHEMA {schema} TO {reader}; GRANT SELECT ON {} TO {reader};",
            f.table
        ))
        .unwrap();
    let mut monitor = connect_as(&reader);
    plan_for_index_scans(&mut monitor, &f.attacker_tenant);
    let (learnt, refusal) =
        binary_search(|lo, hi| statistics_oracle(&mut monitor, &f.table, &f.index, lo, hi));
    assert_eq!(refusal, None);
    assert_eq!(
        learnt,
        secret(),
        "the oracle does not work: the test proves nothing"
    );

    let mut app = app();
    plan_for_index_scans(&mut app, &f.attacker_tenant);
    let (learnt, refusal) = binary_search(|lo, hi| statistics_oracle(&mut app, &f.table, &f.index, lo, hi));
    assert!(learnt.is_empty(), "the app role learnt hidden ids {learnt:?}");
    assert_eq!(refusal.as_deref(), Some("42501"));
    for view in [
        "pg_stat_xact_user_tables",
        "pg_stat_user_indexes",
        "pg_statio_user_indexes",
    ] {
        assert_eq!(
            sqlstate(app.simple_query(&format!("SELECT * FROM {view}"))),
            "42501",
            "{view} readable by the app role"
        );
    }
    // The audit lists the index as a residual (timing), not as an open channel.
    let rows: Vec<String> = admin
        .query(
            "SELECT severity FROM vital.audit() WHERE object = format('index %s on %s', $1::text, $2::text)",
            &[&f.index, &f.table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["info"]);
}

/// Line 36: LOCK TABLE beyond ROW EXCLUSIVE on a registered table, directly or through a view,
/// is refused to the app role, from the first statement of a session (the library is preloaded);
/// the owner may lock it.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_36_strong_locks_are_refused_to_roles_the_policies_bind() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "locks");
    let a = create_tenant(&mut admin, "locks-a");
    notes_table(&mut admin, &s, true, &[(&a, "a")]);
    admin
        .batch_execute(&format!(
            "CREATE VIEW {s}.notes_view WITH (security_invoker = true) AS SELECT * FROM {s}.notes;
             GRANT SELECT, UPDATE ON {s}.notes_view TO {APP_ROLE};"
        ))
        .unwrap();
    for mode in [
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ] {
        for target in ["notes", "notes_view"] {
            // A fresh session each time: the check holds from its first statement.
            let mut app = app();
            let locked = app.batch_execute(&format!(
                "BEGIN; LOCK TABLE {s}.{target} IN {mode} MODE NOWAIT; PREPARE TRANSACTION 'x'"
            ));
            assert_eq!(sqlstate(locked), "42501", "LOCK {target} IN {mode} MODE");
        }
    }
    let mut attacker = app();
    for mode in ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE"] {
        attacker
            .batch_execute(&format!("BEGIN; LOCK TABLE {s}.notes IN {mode} MODE; COMMIT"))
            .unwrap_or_else(|e| panic!("LOCK IN {mode} MODE refused: {e}"));
    }
    // Another tenant's reads go on while the attacker holds what it may hold.
    attacker
        .batch_execute(&format!("BEGIN; LOCK TABLE {s}.notes IN ROW EXCLUSIVE MODE"))
        .unwrap();
    let mut other = app();
    other
        .batch_execute(&format!(
            "SET lock_timeout = '2s'; SELECT count(*) FROM {s}.notes"
        ))
        .unwrap();
    attacker.batch_execute("ROLLBACK").unwrap();

    let mut owner = owner_of_table(&mut admin, &format!("{s}.notes"));
    owner
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {s}.notes IN ACCESS EXCLUSIVE MODE; COMMIT"
        ))
        .unwrap();
}

/// Line 37: a key from one sequence is a residual channel the audit reports: a tenant that
/// inserts explicit values just ahead of the sequence makes another tenant's next insert fail.
/// A key that starts with tenant_id collides only within one tenant, and is not reported.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_37_sequence_keys_are_reported_and_tenant_keys_hold() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "keys");
    let a = create_tenant(&mut admin, "keys-a");
    let b = create_tenant(&mut admin, "keys-b");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.global_keys (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
             SELECT vital.register_table('{s}.global_keys');
             CREATE TABLE {s}.tenant_keys (id bigint GENERATED ALWAYS AS IDENTITY, body text);
             SELECT vital.register_table('{s}.tenant_keys');
             ALTER TABLE {s}.tenant_keys ADD PRIMARY KEY (tenant_id, id);"
        ))
        .unwrap();
    let mut attacker = app();
    let mut victim = app();
    set_tenant(&mut attacker, &a);
    set_tenant(&mut victim, &b);
    for table in ["global_keys", "tenant_keys"] {
        attacker
            .batch_execute(&format!(
                "INSERT INTO {s}.{table} (id, body) OVERRIDING SYSTEM VALUE
                      SELECT g, 'squat' FROM generate_series(1, 5) g"
            ))
            .unwrap();
    }
    assert_eq!(
        sqlstate(victim.batch_execute(&format!("INSERT INTO {s}.global_keys (body) VALUES ('mine')"))),
        "23505",
        "the residual the audit reports"
    );
    victim
        .batch_execute(&format!("INSERT INTO {s}.tenant_keys (body) VALUES ('mine')"))
        .unwrap();
    let reported = |admin: &mut Client, column: &str| -> Vec<String> {
        admin
            .query(
                "SELECT severity FROM vital.audit() WHERE object = $1 AND problem LIKE 'key drawn from a sequence%'",
                &[&column],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(reported(&mut admin, &format!("{s}.global_keys.id")), ["warning"]);
    assert!(reported(&mut admin, &format!("{s}.tenant_keys.id")).is_empty());
}

/// Line 39: with one login role per tenant app, another app's in-flight query text (and its
/// literals) is hidden in pg_stat_activity.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_39_other_roles_query_texts_are_hidden() {
    let mut admin = superuser();
    let other_app = unique_slug("other_app").replace('-', "_");
    admin
        .batch_execute(&format!("CREATE ROLE {other_app} LOGIN NOSUPERUSER NOBYPASSRLS"))
        .unwrap();
    let marker = unique_slug("secret-literal");
    let mut other = connect_as(&other_app);
    let query = format!("SELECT pg_sleep(3), '{marker}'");
    let running = std::thread::spawn(move || other.simple_query(&query).map(|_| ()));
    let mut app = app();
    let mut seen_by_admin = 0;
    for _ in 0..50 {
        seen_by_admin = admin
            .query(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
                &[&marker],
            )
            .unwrap()
            .len();
        if seen_by_admin > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        seen_by_admin, 1,
        "the query never showed up: the test proves nothing"
    );
    let seen_by_app = app
        .query(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
            &[&marker],
        )
        .unwrap()
        .len();
    assert_eq!(seen_by_app, 0, "another role's query text is visible");
    running.join().unwrap().unwrap();
}

/// Line 36, the same denial of service without LOCK TABLE: DDL that PostgreSQL locks a table
/// for before it checks the role's privileges. CREATE RULE queues ACCESS EXCLUSIVE behind any
/// reader and every tenant queues behind it; vital refuses it (and the others) before the lock.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_36_ddl_that_locks_before_its_privilege_check_is_refused_first() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "ddllocks");
    let a = create_tenant(&mut admin, "ddllocks-a");
    notes_table(&mut admin, &s, true, &[(&a, "a")]);
    // A reader in the middle of a transaction: a strong lock request would queue behind it.
    let mut reader = app();
    reader
        .batch_execute(&format!("BEGIN; SELECT count(*) FROM {s}.notes"))
        .unwrap();
    let mut attacker = app();
    attacker
        .batch_execute("SET lock_timeout = '1s'; CREATE TEMP TABLE mine (id int, body text, tenant_id uuid);")
        .unwrap();
    for statement in [
        format!("CREATE RULE squat AS ON INSERT TO {s}.notes DO INSTEAD NOTHING"),
        format!(
            "CREATE TRIGGER squat BEFORE UPDATE ON {s}.notes FOR EACH ROW
                 EXECUTE FUNCTION suppress_redundant_updates_trigger()"
        ),
        format!("CREATE TEMP TABLE child (id int REFERENCES {s}.notes (id))"),
        format!("CREATE TEMP TABLE kid () INHERITS ({s}.notes)"),
        format!("ALTER TABLE mine ADD FOREIGN KEY (id) REFERENCES {s}.notes (id)"),
        format!("ALTER TABLE mine INHERIT {s}.notes"),
        format!("COMMENT ON TABLE {s}.notes IS 'squat'"),
        format!("COMMENT ON COLUMN {s}.notes.body IS 'squat'"),
        format!("CREATE STATISTICS pg_temp.squat ON id, body FROM {s}.notes"),
    ] {
        let result = attacker.batch_execute(&statement);
        let error = result.expect_err(&statement);
        let db = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{statement}: {error}"));
        assert_eq!(db.code().code(), "42501", "{statement}: {}", db.message());
        assert!(
            db.message().contains("locks the table before it checks"),
            "{statement}: refused by PostgreSQL after waiting, not by vital first: {}",
            db.message()
        );
    }
    reader.batch_execute("COMMIT").unwrap();

    // With the privilege PostgreSQL checks, the command is the role's to run.
    let referrer = unique_slug("referrer").replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {referrer} LOGIN NOSUPERUSER NOBYPASSRLS;
             GRANT USAGE, CREATE ON SCHEMA {s} TO {referrer}; GRANT REFERENCES ON {s}.notes TO {referrer};"
        ))
        .unwrap();
    connect_as(&referrer)
        .batch_execute(&format!(
            "CREATE TABLE {s}.referrer_child (id int REFERENCES {s}.notes (id))"
        ))
        .unwrap();
    let mut owner = owner_of_table(&mut admin, &format!("{s}.notes"));
    owner
        .batch_execute(&format!("COMMENT ON TABLE {s}.notes IS 'the owner may'"))
        .unwrap();
}

/// Line 35 through LOG messages: debug_print_plan is user-settable and prints the plan, with
/// estimates from every tenant's rows, to a client whose client_min_messages is LOG. The owner
/// (forced policies, allowed to see its plans) gets them; the app role is refused.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn line_35_plans_printed_as_log_messages_are_refused() {
    let mut admin = superuser();
    let f = fixture(&mut admin, "printplan");
    let owner_role = make_owner(&mut admin, &f.table);
    let print_plans = "SET client_min_messages = log; SET debug_print_plan = on";
    let (mut owner, messages) = connect_collecting_notices(&owner_role);
    set_tenant(&mut owner, &f.attacker_tenant);
    owner.batch_execute(print_plans).unwrap();
    owner
        .batch_execute(&format!("SELECT id FROM {} WHERE id < 5000", f.table))
        .unwrap();
    assert!(
        messages.lock().unwrap().iter().any(|m| m.contains("plan_rows")),
        "no plan printed: the channel is not shown, the test proves nothing"
    );

    let mut attacker = app();
    set_tenant(&mut attacker, &f.attacker_tenant);
    attacker.batch_execute(print_plans).unwrap();
    assert_eq!(
        sqlstate(attacker.batch_execute(&format!("SELECT id FROM {} WHERE id < 5000", f.table))),
        "42501"
    );
    attacker
        .batch_execute("SET client_min_messages = notice")
        .unwrap();
    let n: i64 = attacker
        .query_one(&format!("SELECT count(*) FROM {} WHERE id < 5000", f.table), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 4997, "ids 1..4999 but the two hidden ones");
}
