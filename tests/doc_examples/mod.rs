//! The SQL examples of the docs: finding them, splitting them into statements, and running
//! them with what their comments expect (see tests/docs.rs for the conventions).
#![allow(dead_code)]

use postgres::{Client, SimpleQueryMessage};
use std::path::{Path, PathBuf};

/// One statement of a block: its text, the line it starts on, and what its comment expects.
#[derive(Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub line: usize,
    pub expect: Expect,
}

#[derive(Debug, PartialEq)]
pub enum Expect {
    Success,
    Error(String),
    Value(String),
}

/// A `sql` code block and the line its first statement line is on.
pub struct Block {
    pub text: String,
    pub line: usize,
    /// `sql citus`: runs on the distributed VITAL database of tests/citus/run.sh instead.
    pub citus: bool,
    /// `sql monitoring`: runs on the cluster that preloads the library (tests/tenant_stats.rs).
    pub monitoring: bool,
}

pub struct Doc {
    pub path: PathBuf,
    pub setup: Option<Vec<String>>,
    pub blocks: Vec<Block>,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn doc_files() -> Vec<PathBuf> {
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

pub fn parse_doc(path: &Path) -> Doc {
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
            let mut words = info.split_whitespace();
            if words.next() == Some("sql") {
                let kind = words.next();
                open = Some(Block {
                    text: String::new(),
                    line: index + 2,
                    citus: kind == Some("citus"),
                    monitoring: kind == Some("monitoring"),
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
pub fn split_statements(block: &str, first_line: usize) -> Vec<Statement> {
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

pub fn expectation(comment: &str) -> Expect {
    let text = comment.trim_start_matches("--").trim();
    if let Some(rest) = text.strip_prefix("ERROR ") {
        Expect::Error(rest.chars().take(5).collect())
    } else if let Some(value) = text.strip_prefix('→') {
        Expect::Value(value.trim().to_string())
    } else {
        Expect::Success
    }
}

pub fn first_column(messages: &[SimpleQueryMessage]) -> String {
    let values: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .collect();
    values.join(", ")
}

/// Runs one block's statements in `session`; the first statement that does not do what the
/// doc says, as `file:line: statement — problem`.
pub fn run_block(session: &mut Client, name: &str, block: &Block) -> Option<String> {
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
            return Some(format!(
                "{name}:{}: {} — {problem}",
                statement.line, statement.sql
            ));
        }
    }
    None
}
