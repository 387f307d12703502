//! Shared helpers for integration tests over real connections.
//!
//! `scripts/test.sh` starts a scratch cluster with the extension installed and passes its
//! address in `VITAL_TEST_DSN` (superuser). These tests are `#[ignore]`d so that
//! `cargo pgrx test` (which runs every test target) does not run them without a cluster.
#![allow(dead_code)]

use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const APP_ROLE: &str = "vital_it_app";
/// The release `VITAL_TEST_UPGRADE_FROM` names, if any: the tests then run on a database whose
/// extension was installed at that release and updated to the current version.
fn upgrade_from() -> Option<String> {
    std::env::var("VITAL_TEST_UPGRADE_FROM")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The test database: `vital_it`, or `vital_it_upgraded` (see [`upgrade_from`]).
pub fn database() -> &'static str {
    if upgrade_from().is_some() {
        "vital_it_upgraded"
    } else {
        "vital_it"
    }
}

fn base_dsn() -> String {
    std::env::var("VITAL_TEST_DSN")
        .expect("VITAL_TEST_DSN is not set: run the integration tests through scripts/test.sh")
}

pub fn dsn_for(user: &str, options: &str) -> String {
    let base: Vec<String> = base_dsn()
        .split_whitespace()
        .filter(|kv| !kv.starts_with("user=") && !kv.starts_with("dbname="))
        .map(str::to_string)
        .collect();
    let mut dsn = format!("{} user={user} dbname={}", base.join(" "), database());
    if !options.is_empty() {
        dsn.push_str(&format!(" options='{options}'"));
    }
    dsn
}

/// Creates the test database, the extension and the application role once per process.
fn ensure_database() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut admin = Client::connect(&base_dsn(), NoTls).expect("connect as superuser");
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database()])
            .unwrap()
            .is_some();
        if !exists {
            // Several test binaries may race here; losing the race is fine.
            let _ = admin.batch_execute(&format!("CREATE DATABASE {}", database()));
        }
        let mut db = Client::connect(&dsn_for("postgres", ""), NoTls).expect("connect to test db");
        db.batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
               END IF;
             EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL;
             END $$;"
        ))
        .unwrap();
        // Serialized: test binaries start together.
        let install = match upgrade_from() {
            Some(release) => format!(
                "CREATE EXTENSION IF NOT EXISTS vital_tenancy VERSION '{release}';
                 ALTER EXTENSION vital_tenancy UPDATE;"
            ),
            None => "CREATE EXTENSION IF NOT EXISTS vital_tenancy;".to_string(),
        };
        db.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(7355607); {install} COMMIT;"
        ))
        .unwrap();
        // A concurrent binary may have won the race above; now it must exist.
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_extension WHERE extname = 'vital_tenancy'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "extension vital_tenancy is not installed in {}", database());
        // vital's recommended setup (docs/security.md): the library in every session, so that
        // its LOCK and EXPLAIN checks hold from a session's first statement, and the
        // statistics functions for monitoring roles only. Serialized: binaries start together.
        db.batch_execute(&format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(7355608);
             ALTER DATABASE {} SET session_preload_libraries = 'vital_tenancy';
             SELECT vital.restrict_statistics()
              WHERE has_function_privilege('public', 'pg_stat_get_xact_tuples_returned(oid)', 'EXECUTE');
             COMMIT;",
            database()
        ))
        .unwrap();
    });
}

pub fn superuser() -> Client {
    ensure_database();
    Client::connect(&dsn_for("postgres", ""), NoTls).expect("connect as superuser")
}

pub fn connect_as(role: &str) -> Client {
    ensure_database();
    Client::connect(&dsn_for(role, ""), NoTls).unwrap_or_else(|e| panic!("connect as {role}: {e}"))
}

pub fn connect_with_options(role: &str, options: &str) -> Result<Client, postgres::Error> {
    ensure_database();
    Client::connect(&dsn_for(role, options), NoTls)
}

pub fn app() -> Client {
    connect_as(APP_ROLE)
}

/// A slug no other test uses, so tests can run in parallel in one database.
pub fn unique_slug(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a tenant as superuser and returns its id as text.
pub fn create_tenant(admin: &mut Client, prefix: &str) -> String {
    let slug = unique_slug(prefix);
    admin
        .query_one("SELECT vital.create_tenant($1, $2)::text", &[&slug, &slug])
        .unwrap()
        .get(0)
}

/// The SQLSTATE of a failed statement, or "none" when it succeeded.
pub fn sqlstate(result: Result<impl Sized, postgres::Error>) -> String {
    match result {
        Ok(_) => "none".to_string(),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| format!("no SQLSTATE: {e}")),
    }
}

pub fn current_tenant(client: &mut Client) -> Option<String> {
    client
        .query_one("SELECT vital.current_tenant()::text", &[])
        .unwrap()
        .get(0)
}

/// A fresh schema for one test, usable by the application role, with the app role granted
/// everything on its tables. Returns the schema name.
pub fn test_schema(admin: &mut Client, prefix: &str) -> String {
    let schema = unique_slug(prefix).replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema};
             GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                 GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};"
        ))
        .unwrap();
    schema
}

/// Everything about a table that registration may change, as one comparable text:
/// columns, defaults, constraints, indexes, policies, triggers, RLS flags, comments.
pub fn table_fingerprint(client: &mut Client, table: &str) -> String {
    client
        .query_one(
            "SELECT concat_ws(E'\\n',
               (SELECT string_agg(format('col %s %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod),
                                         a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                                         col_description(a.attrelid, a.attnum)), E'\\n' ORDER BY a.attnum)
                  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped),
               (SELECT string_agg(format('con %s %s', conname, pg_get_constraintdef(oid)), E'\\n' ORDER BY conname)
                  FROM pg_constraint WHERE conrelid = $1::text::regclass),
               (SELECT string_agg(format('idx %s', pg_get_indexdef(indexrelid)), E'\\n' ORDER BY indexrelid::regclass::text)
                  FROM pg_index WHERE indrelid = $1::text::regclass),
               (SELECT string_agg(format('pol %s %s %s', polname, pg_get_expr(polqual, polrelid),
                                         pg_get_expr(polwithcheck, polrelid)), E'\\n' ORDER BY polname)
                  FROM pg_policy WHERE polrelid = $1::text::regclass),
               (SELECT string_agg(format('trg %s', tgname), E'\\n' ORDER BY tgname)
                  FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal),
               (SELECT format('rls %s %s %s', relrowsecurity, relforcerowsecurity, obj_description(oid, 'pg_class'))
                  FROM pg_class WHERE oid = $1::text::regclass))",
            &[&table],
        )
        .unwrap()
        .get(0)
}

/// The rows of a one-text-column query, sorted, as the client sees them.
pub fn texts(client: &mut Client, query: &str) -> Vec<String> {
    let mut v: Vec<String> = client
        .query(query, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

pub fn set_tenant(client: &mut Client, tenant: &str) {
    client
        .execute("SELECT vital.set_tenant($1::text::uuid)", &[&tenant])
        .unwrap();
}

/// A connection whose NOTICE messages are collected, for tests that watch what functions see.
pub fn connect_collecting_notices(role: &str) -> (Client, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    ensure_database();
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = notices.clone();
    let mut config: postgres::Config = dsn_for(role, "").parse().expect("a valid DSN");
    config.notice_callback(move |n| {
        let text = match n.detail() {
            Some(detail) => format!("{}\n{detail}", n.message()),
            None => n.message().to_string(),
        };
        sink.lock().unwrap().push(text)
    });
    (config.connect(NoTls).expect("connect"), notices)
}

/// Registered table `<schema>.notes(id int PRIMARY KEY, body text)` with one row per tenant
/// given (body = "<label> note") plus one platform row ("platform note"); the app role may
/// read and write it.
pub fn notes_table(admin: &mut Client, schema: &str, shared_reads: bool, tenants: &[(&str, &str)]) {
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.notes (id int PRIMARY KEY, body text);
             INSERT INTO {schema}.notes VALUES (1, 'platform note');
             SELECT vital.register_table('{schema}.notes', shared_reads => {shared_reads});"
        ))
        .unwrap();
    for (i, (tenant, label)) in tenants.iter().enumerate() {
        admin
            .batch_execute(&format!(
                "BEGIN; SELECT vital.set_tenant('{tenant}', true);
                 INSERT INTO {schema}.notes VALUES ({}, '{label} note'); COMMIT;",
                i + 2
            ))
            .unwrap();
    }
}

/// Makes a new login role (NOSUPERUSER NOBYPASSRLS) the owner of `table`; returns its name.
/// vital refuses EXPLAIN of registered tables to the roles their policies bind
/// (statement_guard.rs); the owner is bound by the same forced policies and may EXPLAIN, so it
/// sees the plan an application's query gets.
pub fn make_owner(admin: &mut Client, table: &str) -> String {
    let owner = unique_slug("owner").replace('-', "_");
    let schema = table.split('.').next().expect("a qualified table name");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS;
             GRANT USAGE ON SCHEMA {schema} TO {owner};
             ALTER TABLE {table} OWNER TO {owner};"
        ))
        .unwrap();
    owner
}

/// [`make_owner`], connected as the new owner.
pub fn owner_of_table(admin: &mut Client, table: &str) -> Client {
    connect_as(&make_owner(admin, table))
}
