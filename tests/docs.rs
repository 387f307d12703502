//! Runs every SQL example in the docs, so that the docs cannot rot.
//!
//! Each `sql` code block of README.md, CHANGELOG.md, docs/*.md and examples/*/README.md runs on
//! a fresh database `mydb`, one new superuser session per block, blocks in file order (a file
//! reads as one story). A file with `sql` blocks names what its story starts from in a comment:
//! `<!-- docs-test setup: path/one.sql path/two.sql -->` (paths from the repository root; `none`
//! for nothing). A statement's comment on the line of its `;` states what it must do:
//!
//! * `-- ERROR 2BP01 ...` — it fails with that SQLSTATE;
//! * `-- → text` — its rows' first column, joined with `, `, is exactly `text` (NULL: `NULL`);
//! * anything else — it succeeds.
//!
//! Blocks marked `sql citus` run on the distributed VITAL database instead (tests/citus.rs),
//! blocks marked `sql monitoring` on a cluster that preloads the library (tests/tenant_stats.rs).
//!
//! Run by scripts/test.sh against its scratch cluster (`VITAL_TEST_DSN`).

mod doc_examples;

use doc_examples::*;
use postgres::{Client, NoTls};

const DATABASE: &str = "mydb";

fn dsn(database: &str) -> String {
    let base = std::env::var("VITAL_TEST_DSN")
        .expect("VITAL_TEST_DSN is not set: run the integration tests through scripts/test.sh");
    let kept: Vec<&str> = base
        .split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .collect();
    format!("{} dbname={database}", kept.join(" "))
}

/// Runs one doc's blocks on a fresh `mydb`; returns one line per statement that did not do
/// what the doc says.
fn run_doc(doc: &Doc) -> Vec<String> {
    let name = doc.path.strip_prefix(repo_root()).unwrap().display().to_string();
    let mut admin = Client::connect(&dsn("postgres"), NoTls).expect("connect as superuser");
    for statement in [
        format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {DATABASE}"),
    ] {
        admin.batch_execute(&statement).unwrap();
    }
    let mut db = Client::connect(&dsn(DATABASE), NoTls).unwrap();
    for file in doc.setup.as_deref().unwrap_or_default() {
        let sql = std::fs::read_to_string(repo_root().join(file))
            .unwrap_or_else(|e| panic!("{name}: setup file {file}: {e}"));
        db.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{name}: setup file {file}: {e}"));
    }
    let mut failures = Vec::new();
    for block in doc.blocks.iter().filter(|b| !b.citus && !b.monitoring) {
        let mut session = Client::connect(&dsn(DATABASE), NoTls).unwrap();
        if let Some(failure) = run_block(&mut session, &name, block) {
            failures.push(failure);
        }
    }
    drop(db);
    admin
        .batch_execute(&format!("DROP DATABASE {DATABASE} WITH (FORCE)"))
        .unwrap();
    failures
}

#[test]
#[ignore]
fn every_sql_example_in_the_docs_does_what_the_doc_says() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in doc_files() {
        let doc = parse_doc(&path);
        if doc.blocks.iter().all(|b| b.citus || b.monitoring) {
            continue;
        }
        assert!(
            doc.setup.is_some(),
            "{} has sql examples but no `<!-- docs-test setup: ... -->` comment",
            path.display()
        );
        ran += doc.blocks.len();
        failures.extend(run_doc(&doc));
    }
    assert!(ran > 0, "no sql examples found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn statements_split_at_semicolons_outside_quotes_and_comments() {
    let block = "SELECT 'a;b', $x$ ; $x$;  -- → a;b\n\
                 -- a comment; with a semicolon\n\
                 DROP EXTENSION e;   -- ERROR 2BP01: still used\n\
                 SELECT \"x;y\"\n  FROM t;\nSELECT 1";
    let statements = split_statements(block, 10);
    assert_eq!(statements.len(), 4, "{statements:?}");
    assert_eq!(statements[0].sql, "SELECT 'a;b', $x$ ; $x$;");
    assert_eq!(statements[0].expect, Expect::Value("a;b".into()));
    assert_eq!(statements[1].sql, "DROP EXTENSION e;");
    assert_eq!(statements[1].line, 12);
    assert_eq!(statements[1].expect, Expect::Error("2BP01".into()));
    assert_eq!(statements[2].sql, "SELECT \"x;y\"\n  FROM t;");
    assert_eq!(statements[2].line, 13);
    assert_eq!(statements[3].expect, Expect::Success);
    assert_eq!(statements[3].line, 15);
}
