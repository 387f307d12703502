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
//! Run by scripts/test.sh against its scratch cluster (`VITAL_TEST_DSN`).

use postgres::{Client, NoTls, SimpleQueryMessage};
use std::path::{Path, PathBuf};

const DATABASE: &str = "mydb";

/// One statement of a block: its text, the line it starts on, and what its comment expects.
#[derive(Debug, PartialEq)]
struct Statement {
    sql: String,
    line: usize,
    expect: Expect,
}

#[derive(Debug, PartialEq)]
enum Expect {
    Success,
    Error(String),
    Value(String),
}

/// A `sql` code block and the line its first statement line is on.
struct Block {
    text: String,
    line: usize,
}

struct Doc {
    path: PathBuf,
    setup: Option<Vec<String>>,
    blocks: Vec<Block>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn doc_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    for dir in ["docs", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.join("README.md").exists() {
                files.push(path.join("README.md"));
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn parse_doc(path: &Path) -> Doc {
    let content = std::fs::read_to_string(path).unwrap();
    let mut setup = None;
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut in_other_fence = false;
    for (index, line) in content.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(block) = open.as_mut() {
            if trimmed == "```" {
                blocks.push(open.take().unwrap());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
        } else if in_other_fence {
            in_other_fence = trimmed != "```";
        } else if let Some(info) = trimmed.strip_prefix("```") {
            if info.split_whitespace().next() == Some("sql") {
                open = Some(Block {
                    text: String::new(),
                    line: index + 2,
                });
            } else {
                in_other_fence = true;
            }
        } else if let Some(rest) = trimmed.strip_prefix("<!-- docs-test setup:") {
            let files = rest.trim_end_matches("-->").split_whitespace();
            setup = Some(files.filter(|f| *f != "none").map(str::to_string).collect());
        }
    }
    assert!(open.is_none(), "{}: a sql block is not closed", path.display());
    Doc {
        path: path.to_path_buf(),
        setup,
        blocks,
    }
}

/// Splits a block into statements at `;` outside quotes, dollar quotes and comments; the
/// comment on the rest of the `;`'s line belongs to that statement.
fn split_statements(block: &str, first_line: usize) -> Vec<Statement> {
    let chars: Vec<char> = block.chars().collect();
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut start_line = None;
    let mut line = first_line;
    let mut i = 0;
    let starts_with = |i: usize, s: &str| chars[i..].iter().take(s.len()).copied().eq(s.chars());
    while i < chars.len() {
        let c = chars[i];
        if !c.is_whitespace() && start_line.is_none() && !starts_with(i, "--") {
            start_line = Some(line);
        }
        if starts_with(i, "--") {
            // A comment on its own line: skip to the line's end (it stays out of the SQL).
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let quote_end: Option<String> = match c {
            '\'' => Some("'".into()),
            '"' => Some("\"".into()),
            '$' => {
                let tag: String = chars[i + 1..]
                    .iter()
                    .take_while(|ch| ch.is_alphanumeric() || **ch == '_')
                    .collect();
                (chars.get(i + 1 + tag.len()) == Some(&'$')).then(|| format!("${tag}$"))
            }
            _ => None,
        };
        if let Some(end) = quote_end {
            let opener = if c == '$' { end.len() } else { 1 };
            let mut j = i + opener;
            while j < chars.len() && !starts_with(j, &end) {
                j += 1;
            }
            let stop = (j + end.len()).min(chars.len());
            let quoted: String = chars[i..stop].iter().collect();
            line += quoted.matches('\n').count();
            current.push_str(&quoted);
            i = stop;
            continue;
        }
        if c == ';' {
            current.push(';');
            i += 1;
            let mut rest = String::new();
            while i < chars.len() && chars[i] != '\n' {
                rest.push(chars[i]);
                i += 1;
            }
            statements.push(Statement {
                sql: std::mem::take(&mut current).trim().to_string(),
                line: start_line.take().unwrap_or(line),
                expect: expectation(rest.trim()),
            });
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        current.push(c);
        i += 1;
    }
    if !current.trim().is_empty() {
        statements.push(Statement {
            sql: current.trim().to_string(),
            line: start_line.unwrap_or(line),
            expect: Expect::Success,
        });
    }
    statements
}

fn expectation(comment: &str) -> Expect {
    let text = comment.trim_start_matches("--").trim();
    if let Some(rest) = text.strip_prefix("ERROR ") {
        Expect::Error(rest.chars().take(5).collect())
    } else if let Some(value) = text.strip_prefix('→') {
        Expect::Value(value.trim().to_string())
    } else {
        Expect::Success
    }
}

fn first_column(messages: &[SimpleQueryMessage]) -> String {
    let values: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .collect();
    values.join(", ")
}

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
    for block in &doc.blocks {
        let mut session = Client::connect(&dsn(DATABASE), NoTls).unwrap();
        for statement in split_statements(&block.text, block.line) {
            let result = session.simple_query(&statement.sql);
            let problem = match (&statement.expect, result) {
                (Expect::Success, Ok(_)) => None,
                (Expect::Value(want), Ok(rows)) => {
                    let got = first_column(&rows);
                    (&got != want).then(|| format!("returned `{got}`, the doc says `{want}`"))
                }
                (Expect::Error(code), Ok(_)) => Some(format!("succeeded, the doc says {code}")),
                (Expect::Error(code), Err(e)) if e.code().map(|c| c.code()) == Some(code) => None,
                (_, Err(e)) => Some(format!(
                    "failed: {}",
                    e.as_db_error()
                        .map_or(e.to_string(), |d| format!("{} {}", d.code().code(), d.message()))
                )),
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "{name}:{}: {} — {problem}",
                    statement.line, statement.sql
                ));
                break; // the rest of the block would fail for this one's sake
            }
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
        if doc.blocks.is_empty() {
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
