//! Tenant context behind a real pooler: pgbouncer in transaction pooling mode, started by
//! scripts/test.sh in front of the test cluster (`VITAL_TEST_POOLER`). Clients use the simple
//! query protocol: pgbouncer 1.18 cannot carry prepared statements across transactions.

mod common;
use common::*;
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::sync::Arc;
use std::thread;

const CLIENTS: usize = 24;
const TRANSACTIONS_PER_CLIENT: usize = 40;

fn pooled(dbname: &str) -> Client {
    let pooler = std::env::var("VITAL_TEST_POOLER")
        .expect("VITAL_TEST_POOLER is not set: run the pooler tests through scripts/test.sh");
    Client::connect(&format!("{pooler} user={APP_ROLE} dbname={dbname}"), NoTls)
        .unwrap_or_else(|e| panic!("connect through pgbouncer: {e}"))
}

/// The text values of the rows of the last statement of a simple-query batch.
fn values(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "needs the scratch cluster and pgbouncer: run through scripts/test.sh"]
fn transaction_pooling_keeps_every_client_in_its_tenant() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "pool");
    let tenants: Vec<String> = (0..4)
        .map(|i| create_tenant(&mut admin, &format!("pool-{i}")))
        .collect();
    let pairs: Vec<(&str, String)> = tenants
        .iter()
        .map(|t| (t.as_str(), format!("t{}", &t[..8])))
        .collect();
    let labelled: Vec<(&str, &str)> = pairs.iter().map(|(t, l)| (*t, l.as_str())).collect();
    notes_table(&mut admin, &s, false, &labelled);
    admin
        .batch_execute(&format!(
            "CREATE SEQUENCE {s}.ids START 1000; GRANT USAGE ON SEQUENCE {s}.ids TO {APP_ROLE}"
        ))
        .unwrap();

    let tenants = Arc::new(tenants);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let tenants = tenants.clone();
            let s = s.clone();
            thread::spawn(move || {
                let mut client = pooled("vital_it");
                let mut checked = 0;
                for i in 0..TRANSACTIONS_PER_CLIENT {
                    // Each client switches tenants from one transaction to the next.
                    let tenant = &tenants[(c + i) % tenants.len()];
                    let batch = format!(
                        "BEGIN;
                         SELECT vital.set_tenant('{tenant}', is_local => true);
                         INSERT INTO {s}.notes VALUES (nextval('{s}.ids'), 'client {c}');
                         SELECT vital.current_tenant()::text,
                                (SELECT string_agg(DISTINCT tenant_id::text, ',') FROM {s}.notes);
                         COMMIT;"
                    );
                    let rows = values(&client.simple_query(&batch).expect("pooled transaction"));
                    let last = rows.last().expect("a result row");
                    assert_eq!(
                        last[0].as_deref(),
                        Some(tenant.as_str()),
                        "client {c}: wrong current tenant"
                    );
                    assert_eq!(
                        last[1].as_deref(),
                        Some(tenant.as_str()),
                        "client {c}: saw another tenant's rows"
                    );
                    // Outside the transaction, the pooled connection carries no tenant.
                    let after = values(
                        &client
                            .simple_query("SELECT vital.current_tenant()::text")
                            .unwrap(),
                    );
                    assert_eq!(after[0][0], None, "client {c}: a tenant outlived its transaction");
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    let total: usize = handles
        .into_iter()
        .map(|h| h.join().expect("a client thread failed"))
        .sum();
    assert_eq!(total, CLIENTS * TRANSACTIONS_PER_CLIENT);

    // Every row landed in the tenant of the transaction that wrote it.
    let misplaced: i64 = admin
        .query_one(
            &format!(
                "SELECT count(*) FROM {s}.notes WHERE body LIKE 'client %'
                   AND tenant_id <> ALL (SELECT id FROM vital.tenants WHERE slug LIKE 'pool-%')"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(misplaced, 0);
}

/// The documented hazard: a session-level set_tenant on a transaction-pooled connection stays
/// on the server connection and reaches the next client; the transaction-scoped form does not.
#[test]
#[ignore = "needs the scratch cluster and pgbouncer: run through scripts/test.sh"]
fn session_level_tenant_leaks_through_a_transaction_pooler_and_is_local_does_not() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "hazard");
    // One server connection behind vital_it_single: both clients share it.
    let mut first = pooled("vital_it_single");
    let mut second = pooled("vital_it_single");
    first.simple_query("SELECT vital.clear_tenant()").unwrap();

    first
        .simple_query(&format!("SELECT vital.set_tenant('{a}')"))
        .unwrap();
    let leaked = values(
        &second
            .simple_query("SELECT vital.current_tenant()::text")
            .unwrap(),
    );
    assert_eq!(
        leaked[0][0].as_deref(),
        Some(a.as_str()),
        "expected the session-level hazard to show"
    );
    second.simple_query("SELECT vital.clear_tenant()").unwrap();

    first
        .simple_query(&format!("BEGIN; SELECT vital.set_tenant('{a}', true); COMMIT;"))
        .unwrap();
    let safe = values(
        &second
            .simple_query("SELECT vital.current_tenant()::text")
            .unwrap(),
    );
    assert_eq!(
        safe[0][0], None,
        "a transaction-scoped tenant reached another client"
    );
}

const SHARED_ROLE: &str = "vital_it_shared";

/// One pooled client of `role` through the pooler named by `env` (VITAL_TEST_POOLER, or
/// VITAL_TEST_POOLER_RESET: the pgbouncer that runs DISCARD ALL after every transaction).
fn pooled_through(env: &str, role: &str, dbname: &str) -> Client {
    let pooler = std::env::var(env)
        .unwrap_or_else(|_| panic!("{env} is not set: run the pooler tests through scripts/test.sh"));
    Client::connect(&format!("{pooler} user={role} dbname={dbname}"), NoTls)
        .unwrap_or_else(|e| panic!("connect through pgbouncer ({env}): {e}"))
}

/// The shared role (vital.shared_role = on), allowed `tenants`, may read and write
/// `<schema>.notes`. Made once per test binary; the allowances and grants per test.
fn shared_role(admin: &mut Client, schema: &str, tenants: &[&str]) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        superuser()
            .batch_execute(&format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SHARED_ROLE}') THEN
                     CREATE ROLE {SHARED_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
                   END IF;
                 END $$;
                 ALTER ROLE {SHARED_ROLE} SET vital.shared_role = on;"
            ))
            .unwrap();
    });
    admin
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA {schema} TO {SHARED_ROLE};
             GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.notes TO {SHARED_ROLE};"
        ))
        .unwrap();
    for tenant in tenants {
        admin
            .execute(
                "SELECT vital.allow_tenant($1::text::regrole, $2::text::uuid)",
                &[&SHARED_ROLE, tenant],
            )
            .unwrap();
    }
}

/// A test schema with `notes` of two new tenants, which the shared role is allowed: (schema,
/// tenant a, tenant b).
fn shared_role_fixture(prefix: &str) -> (String, String, String) {
    let mut admin = superuser();
    let s = test_schema(&mut admin, prefix);
    let a = create_tenant(&mut admin, &format!("{prefix}-a"));
    let b = create_tenant(&mut admin, &format!("{prefix}-b"));
    notes_table(&mut admin, &s, false, &[(&a, "a"), (&b, "b")]);
    shared_role(&mut admin, &s, &[&a, &b]);
    (s, a, b)
}

/// A request of one tenant through the pool: the notes it reads by the unqualified name
/// `notes` (which a temporary view would shadow), or the error's SQLSTATE and message.
fn request(client: &mut Client, tenant: &str, schema: &str) -> Result<String, (String, String)> {
    let batch = format!(
        "BEGIN;
         SELECT vital.set_tenant('{tenant}', true);
         SET LOCAL search_path = {schema};
         SELECT string_agg(body, ',' ORDER BY body) FROM notes;
         COMMIT;"
    );
    match client.simple_query(&batch) {
        Ok(messages) => Ok(values(&messages)
            .last()
            .and_then(|r| r[0].clone())
            .unwrap_or_default()),
        Err(e) => {
            let failed = (
                e.code().map(|c| c.code().to_string()).unwrap_or_default(),
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_default(),
            );
            client.simple_query("ROLLBACK").unwrap();
            Err(failed)
        }
    }
}

/// Line 38 behind a pgbouncer that does not reset connections: the shared role cannot set a
/// tenant for the session, and what one client leaves on the server connection (a temporary
/// view that shadows the table, a session default that breaks writes) stops the next client's
/// set_tenant(t, true) with 55000 instead of reading through it. DISCARD ALL cleans it.
#[test]
#[ignore = "needs the scratch cluster and pgbouncer: run through scripts/test.sh"]
fn shared_role_refuses_session_tenants_and_dirty_pooled_sessions() {
    let (s, a, b) = shared_role_fixture("shared");
    // One server connection: the attacker's and the victim's requests share it.
    let mut attacker = pooled_through("VITAL_TEST_POOLER", SHARED_ROLE, "vital_it_single");
    let mut victim = pooled_through("VITAL_TEST_POOLER", SHARED_ROLE, "vital_it_single");
    attacker.simple_query("DISCARD ALL").unwrap();
    assert_eq!(request(&mut victim, &b, &s), Ok("b note".to_string()));

    let session_scope = attacker.simple_query(&format!("SELECT vital.set_tenant('{a}')"));
    assert_eq!(sqlstate(session_scope), "42501");
    assert_eq!(
        sqlstate(attacker.simple_query("SET vital.shared_role = off")),
        "42501",
        "the role turned the setting off"
    );

    // A temporary view named like the table, planted in tenant A's request.
    attacker
        .simple_query(&format!(
            "BEGIN; SELECT vital.set_tenant('{a}', true);
             CREATE TEMP VIEW notes AS SELECT 'captured ' || body AS body FROM {s}.notes;
             COMMIT;"
        ))
        .unwrap();
    let (code, message) =
        request(&mut victim, &b, &s).expect_err("the victim read through the temporary view");
    assert_eq!(code, "55000");
    assert!(message.contains("temporary objects (notes)"), "{message}");
    attacker.simple_query("DISCARD ALL").unwrap();
    assert_eq!(request(&mut victim, &b, &s), Ok("b note".to_string()));

    // A prepared statement named like one the pooler or the app uses, and a LISTEN.
    attacker
        .simple_query(&format!(
            "PREPARE notes_by_id (int) AS SELECT body FROM {s}.notes WHERE id = $1"
        ))
        .unwrap();
    let (code, message) = request(&mut victim, &b, &s).expect_err("the victim ran on a planted statement");
    assert_eq!(code, "55000");
    assert!(message.contains("prepared statement notes_by_id"), "{message}");
    attacker.simple_query("DISCARD ALL").unwrap();
    attacker.simple_query("LISTEN tenant_events").unwrap();
    let (code, message) = request(&mut victim, &b, &s).expect_err("the victim ran with a LISTEN");
    assert_eq!(code, "55000");
    assert!(message.contains("LISTEN tenant_events"), "{message}");
    attacker.simple_query("DISCARD ALL").unwrap();

    // A session default that breaks every later writer.
    attacker
        .simple_query("SET default_transaction_read_only = on")
        .unwrap();
    let (code, message) = request(&mut victim, &b, &s).expect_err("the victim ran read-only");
    assert_eq!(code, "55000");
    assert!(message.contains("default_transaction_read_only"), "{message}");
    attacker.simple_query("DISCARD ALL").unwrap();

    // A session-level tenant token (meaningful on Citus only; any role may set it) is dirt too,
    // and is not repeated to the victim.
    attacker
        .simple_query("SET vital.tenant_token = 'v1:forged'")
        .unwrap();
    let (code, message) = request(&mut victim, &b, &s).expect_err("the victim ran with a token");
    assert_eq!(code, "55000", "{message}");
    assert!(
        message.contains("vital.tenant_token") && !message.contains("forged"),
        "{message}"
    );
    attacker.simple_query("DISCARD ALL").unwrap();
    assert_eq!(request(&mut victim, &b, &s), Ok("b note".to_string()));
}

/// Line 38 behind the pgbouncer settings docs/security.md gives (server_reset_query = DISCARD
/// ALL, server_reset_query_always = 1): the same attacks leave nothing for the next client,
/// whose request runs and reads its own rows.
#[test]
#[ignore = "needs the scratch cluster and pgbouncer: run through scripts/test.sh"]
fn shared_role_behind_a_resetting_pooler_starts_every_request_clean() {
    let (s, a, b) = shared_role_fixture("sharedreset");
    let mut attacker = pooled_through("VITAL_TEST_POOLER_RESET", SHARED_ROLE, "vital_it_single");
    let mut victim = pooled_through("VITAL_TEST_POOLER_RESET", SHARED_ROLE, "vital_it_single");
    attacker
        .simple_query(&format!(
            "BEGIN; SELECT vital.set_tenant('{a}', true);
             CREATE TEMP VIEW notes AS SELECT 'captured ' || body AS body FROM {s}.notes;
             COMMIT;"
        ))
        .unwrap();
    attacker
        .simple_query("SET default_transaction_read_only = on")
        .unwrap();
    assert_eq!(request(&mut victim, &b, &s), Ok("b note".to_string()));
    victim
        .simple_query(&format!(
            "BEGIN; SELECT vital.set_tenant('{b}', true); INSERT INTO {s}.notes VALUES (500, 'written'); COMMIT;"
        ))
        .expect("the victim could not write");
}

/// A shared role cannot turn the setting off with a startup option either: `-c
/// vital.shared_role=off` reaches the preloaded library as a placeholder that outranks the
/// role's setting and is then rejected (superuser-only), leaving the default; vital reads the
/// role's setting from the catalogs too and fails closed.
#[test]
#[ignore = "needs the scratch cluster and pgbouncer: run through scripts/test.sh"]
fn shared_role_cannot_be_turned_off_by_a_startup_option() {
    let (_, a, _) = shared_role_fixture("sharedopt");
    for options in ["-c vital.shared_role=off", ""] {
        let mut client = match connect_with_options(SHARED_ROLE, options) {
            Ok(client) => client,
            // Refusing the connection is as good as refusing the option.
            Err(e) => {
                assert!(!options.is_empty(), "plain connection failed: {e}");
                continue;
            }
        };
        assert_eq!(
            sqlstate(client.batch_execute(&format!("SELECT vital.set_tenant('{a}')"))),
            "42501",
            "session scope accepted with options {options:?}"
        );
    }
}
