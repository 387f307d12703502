//! Isolation on a real Citus cluster (a coordinator and two workers), after the VITAL migration
//! and `vital.distribute()`: every query shape shows each tenant app its own rows and the
//! platform's, and nothing else; tenant tokens cannot be forged or replayed; foreign keys hold
//! on every shard; the pooled pattern holds through pgbouncer; `audit()` checks every shard.
//!
//! Run by tests/citus/run.sh, which builds Citus when needed, starts the cluster, migrates and
//! distributes the VITAL database, and passes:
//! `VITAL_TEST_CITUS_DSN` (the coordinator, superuser, database), `VITAL_TEST_CITUS_WORKERS`
//! (`host:port` of each worker, comma-separated) and `VITAL_TEST_CITUS_POOLER` (pgbouncer in
//! transaction mode in front of the coordinator).

mod doc_examples;

use postgres::{Client, NoTls};

const PLATFORM: &str = "00000000-0000-0000-0000-000000000001";
const DHS: &str = "11111111-1111-1111-1111-111111111111";
const PHARMA: &str = "f7aa6fd4-0af9-4706-8b31-034f1f7accda";
/// The three apps' login roles (examples/vital/phases/roles.sql) and their tenants.
const APPS: [(&str, &str); 3] = [
    ("vital_app_platform", PLATFORM),
    ("vital_app_dhs", DHS),
    ("vital_app_pharma", PHARMA),
];

/// Held by tests that run `audit()` or change what it sees: one of them tampers with a shard.
static AUDIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn base() -> String {
    std::env::var("VITAL_TEST_CITUS_DSN").expect("VITAL_TEST_CITUS_DSN: run tests/citus/run.sh")
}

fn with_user(dsn: &str, user: &str) -> String {
    let kept: Vec<&str> = dsn
        .split_whitespace()
        .filter(|kv| !kv.starts_with("user="))
        .collect();
    format!("{} user={user}", kept.join(" "))
}

fn connect(dsn: &str, user: &str) -> Client {
    Client::connect(&with_user(dsn, user), NoTls).unwrap_or_else(|e| panic!("connect as {user}: {e}"))
}

fn superuser() -> Client {
    connect(&base(), "postgres")
}

/// The distributed database's name.
fn dbname() -> String {
    base()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname=").map(str::to_string))
        .unwrap()
}

/// A DSN for each worker, same database.
fn workers() -> Vec<String> {
    let dbname = dbname();
    std::env::var("VITAL_TEST_CITUS_WORKERS")
        .expect("VITAL_TEST_CITUS_WORKERS")
        .split(',')
        .map(|hp| {
            let (host, port) = hp.split_once(':').unwrap();
            format!("host={host} port={port} dbname={dbname}")
        })
        .collect()
}

fn sqlstate<T>(result: Result<T, postgres::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

/// The first shard of chat_messages, by name, and the DSN of the worker that holds it.
fn a_chat_messages_shard(admin: &mut Client) -> (String, String) {
    let row = admin
        .query_one(
            "SELECT shard_name('chat_messages'::regclass, s.shardid), p.nodeport
               FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid)
               JOIN pg_dist_node p ON p.groupid = pl.groupid
              WHERE s.logicalrelid = 'chat_messages'::regclass ORDER BY s.shardid LIMIT 1",
            &[],
        )
        .unwrap();
    let (shard, port): (String, i32) = (row.get(0), row.get(1));
    let worker = workers()
        .into_iter()
        .find(|w| w.contains(&format!("port={port}")))
        .unwrap();
    (shard, worker)
}

fn count(client: &mut Client, query: &str) -> i64 {
    client
        .query_one(query, &[])
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .get(0)
}

/// Starts a transaction in `tenant` the pooled way.
fn begin_in(client: &mut Client, tenant: &str) {
    client
        .batch_execute(&format!("BEGIN; SELECT vital.set_tenant('{tenant}', true)"))
        .unwrap();
}

/// The registered tables and whether each shares platform rows.
fn registered(admin: &mut Client) -> Vec<(String, bool)> {
    admin
        .query(
            "SELECT relid::text, shared_reads FROM vital.registered_tables ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
#[ignore]
fn every_query_shape_shows_each_app_its_rows_and_the_platforms_only() {
    let mut admin = superuser();
    let tables = registered(&mut admin);
    assert_eq!(tables.len(), 13, "{tables:?}");
    for (role, tenant) in APPS {
        let mut app = connect(&base(), role);
        begin_in(&mut app, tenant);
        for (table, shared) in &tables {
            // What the tenant may see, counted by the superuser (who bypasses the policies).
            let expected = count(
                &mut admin,
                &format!(
                    "SELECT count(*) FROM {table} WHERE tenant_id = '{tenant}' OR ({shared} AND tenant_id = '{PLATFORM}')"
                ),
            );
            let own = count(
                &mut admin,
                &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{tenant}'"),
            );
            // Multi-shard (all shards) and router (one shard) reads.
            assert_eq!(
                count(&mut app, &format!("SELECT count(*) FROM {table}")),
                expected,
                "{role} {table}"
            );
            assert_eq!(
                count(
                    &mut app,
                    &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{tenant}'")
                ),
                own,
                "{role} {table} router"
            );
            for (_, other) in APPS.iter().filter(|(_, t)| *t != tenant && *t != PLATFORM) {
                assert_eq!(
                    count(
                        &mut app,
                        &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{other}'")
                    ),
                    0,
                    "{role} reads {other}'s rows of {table}"
                );
            }
        }
        // A co-located join, a join to a reference table, the compat view and compat column.
        let sessions_join = "SELECT count(*) FROM chat_sessions s JOIN chat_messages m
                               ON m.tenant_id = s.tenant_id AND m.session_id = s.id";
        let expected_join = count(
            &mut admin,
            &format!("{sessions_join} WHERE s.tenant_id = '{tenant}'"),
        );
        assert_eq!(
            count(&mut app, sessions_join),
            expected_join,
            "{role} co-located join"
        );
        let tools_join = "SELECT count(*) FROM agent_tools at JOIN tools t ON t.id = at.tool_id";
        let expected_tools = count(
            &mut admin,
            &format!(
                "{tools_join} WHERE at.tenant_id IN ('{tenant}', '{PLATFORM}') AND t.tenant_id IN ('{tenant}', '{PLATFORM}')"
            ),
        );
        assert_eq!(
            count(&mut app, tools_join),
            expected_tools,
            "{role} join to a reference table"
        );
        assert_eq!(
            count(&mut app, "SELECT count(*) FROM business_functions"),
            count(&mut app, "SELECT count(*) FROM suite_functions"),
            "{role} compat view"
        );
        // Writes land in the tenant, on the right shard, and never in another tenant.
        let written: String = app
            .query_one(
                "INSERT INTO knowledge (title, source) VALUES ('citus test', 'internal') RETURNING tenant_id::text",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(written, tenant, "{role} insert into a distributed table");
        app.batch_execute("SAVEPOINT s").unwrap();
        let other = if tenant == DHS { PHARMA } else { DHS };
        assert_eq!(
            sqlstate(app.execute(
                &format!(
                    "INSERT INTO knowledge (title, source, tenant_id) VALUES ('x', 'internal', '{other}')"
                ),
                &[]
            )),
            "42501",
            "{role} writes into {other}"
        );
        app.batch_execute("ROLLBACK").unwrap();
    }
}

#[test]
#[ignore]
fn a_session_tenant_is_refused_on_a_distributed_database() {
    let mut app = connect(&base(), "vital_app_dhs");
    assert_eq!(
        sqlstate(app.execute(&format!("SELECT vital.set_tenant('{DHS}')"), &[])),
        "0A000"
    );
    let current: Option<String> = app
        .query_one("SELECT vital.current_tenant()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(current, None);
}

#[test]
#[ignore]
fn tenant_tokens_cannot_be_read_forged_or_replayed() {
    let mut app = connect(&base(), "vital_app_dhs");
    // Hidden from the role that may set it.
    begin_in(&mut app, DHS);
    assert_eq!(sqlstate(app.query("SHOW vital.tenant_token", &[])), "42501");
    app.batch_execute("ROLLBACK").unwrap();
    // Forged: a made-up signature.
    app.batch_execute("BEGIN").unwrap();
    app.batch_execute(&format!(
        "SET LOCAL vital.tenant_token = 'v1:{PHARMA}:76697461:0:1:2:{}'",
        "ab".repeat(32)
    ))
    .unwrap();
    assert_eq!(
        sqlstate(app.query("SELECT count(*) FROM knowledge", &[])),
        "42501"
    );
    app.batch_execute("ROLLBACK").unwrap();

    // A real token of the dhs role, taken by the superuser from a finished transaction.
    let mut admin = superuser();
    let (token, ..) = captured_token(&mut admin);
    assert!(token.starts_with(&format!("v1:{DHS}:")), "{token}");
    // Replayed in another transaction, on the coordinator and directly on each worker.
    app.batch_execute(&format!("BEGIN; SET LOCAL vital.tenant_token = '{token}'"))
        .unwrap();
    assert_eq!(
        sqlstate(app.query("SELECT count(*) FROM chat_messages", &[])),
        "42501"
    );
    app.batch_execute("ROLLBACK").unwrap();
    for worker in workers() {
        let mut direct = connect(&worker, "vital_app_dhs");
        direct
            .batch_execute(&format!("BEGIN; SET LOCAL vital.tenant_token = '{token}'"))
            .unwrap();
        assert_eq!(
            sqlstate(direct.query("SELECT vital.current_tenant()", &[])),
            "42501",
            "{worker}"
        );
        direct.batch_execute("ROLLBACK").unwrap();
    }
    // Used by another role in the same transaction: refused (on the workers by the token,
    // on the coordinator by the allowances).
    admin
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE vital_app_dhs; SELECT vital.set_tenant('{DHS}', true); SET LOCAL ROLE vital_app_pharma"
        ))
        .unwrap();
    assert_eq!(
        sqlstate(admin.query("SELECT count(*) FROM chat_messages", &[])),
        "42501"
    );
    admin.batch_execute("ROLLBACK").unwrap();
}

#[test]
#[ignore]
fn an_app_role_on_a_worker_reaches_no_tenant() {
    for worker in workers() {
        let mut direct = connect(&worker, "vital_app_dhs");
        // Session scope is refused on every node of a distributed database; the worker knows no
        // tenant but the platform, so the transaction scope fails closed too.
        assert_eq!(
            sqlstate(direct.execute(&format!("SELECT vital.set_tenant('{DHS}')"), &[])),
            "0A000"
        );
        direct.batch_execute("BEGIN").unwrap();
        assert_eq!(
            sqlstate(direct.execute(&format!("SELECT vital.set_tenant('{DHS}', true)"), &[])),
            "42704"
        );
        direct.batch_execute("ROLLBACK").unwrap();
        // Without a tenant: platform rows of shared tables only.
        assert_eq!(
            count(
                &mut direct,
                &format!("SELECT count(*) FROM agents WHERE tenant_id <> '{PLATFORM}'")
            ),
            0,
            "{worker}"
        );
        assert_eq!(
            count(&mut direct, "SELECT count(*) FROM chat_messages"),
            0,
            "{worker}"
        );
    }
}

#[test]
#[ignore]
fn foreign_keys_hold_on_every_shard() {
    let mut admin = superuser();
    let one = |admin: &mut Client, q: &str| -> String {
        admin
            .query_one(q, &[])
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .get(0)
    };
    let dhs_agent = one(
        &mut admin,
        &format!("SELECT id::text FROM agents WHERE tenant_id = '{DHS}' LIMIT 1"),
    );
    let pharma_tool = one(
        &mut admin,
        &format!("SELECT id::text FROM tools WHERE tenant_id = '{PHARMA}' LIMIT 1"),
    );
    let platform_tool = one(
        &mut admin,
        &format!(
            "SELECT id::text FROM tools WHERE tenant_id = '{PLATFORM}'
                AND id NOT IN (SELECT tool_id FROM agent_tools WHERE agent_id = '{dhs_agent}') LIMIT 1"
        ),
    );
    let pharma_session = one(
        &mut admin,
        &format!("SELECT id::text FROM chat_sessions WHERE tenant_id = '{PHARMA}' LIMIT 1"),
    );
    let mut app = connect(&base(), "vital_app_dhs");
    // Into a reference table: the guard, on the distributed table's shard.
    begin_in(&mut app, DHS);
    let link =
        |tool: &str| format!("INSERT INTO agent_tools (agent_id, tool_id) VALUES ('{dhs_agent}', '{tool}')");
    assert_eq!(
        sqlstate(app.execute(&link(&pharma_tool), &[])),
        "23503",
        "a Pharma tool"
    );
    app.batch_execute("ROLLBACK").unwrap();
    begin_in(&mut app, DHS);
    assert_eq!(
        sqlstate(app.execute(&link(&platform_tool), &[])),
        "ok",
        "a platform tool"
    );
    app.batch_execute("ROLLBACK").unwrap();
    // Between distributed tables: the co-located key.
    begin_in(&mut app, DHS);
    assert_eq!(
        sqlstate(app.execute(
            &format!("INSERT INTO chat_messages (session_id, role, content) VALUES ('{pharma_session}', 'user', 'hi')"),
            &[]
        )),
        "23503",
        "a message in a Pharma session"
    );
    app.batch_execute("ROLLBACK").unwrap();
}

#[test]
#[ignore]
fn pooled_transactions_keep_every_client_in_its_tenant() {
    let pooler = std::env::var("VITAL_TEST_CITUS_POOLER").expect("VITAL_TEST_CITUS_POOLER");
    let dsn = format!("{pooler} dbname={}", dbname());
    let mut admin = superuser();
    let expected: Vec<(String, i64)> = APPS
        .iter()
        .map(|(_, t)| {
            (
                t.to_string(),
                count(
                    &mut admin,
                    &format!("SELECT count(*) FROM chat_messages WHERE tenant_id = '{t}'"),
                ),
            )
        })
        .collect();
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let (role, tenant) = APPS[i % 3];
            let dsn = dsn.clone();
            let want = expected[i % 3].1;
            std::thread::spawn(move || {
                let mut client = connect(&dsn, role);
                for _ in 0..20 {
                    let rows = client
                        .simple_query(&format!(
                            "BEGIN; SELECT vital.set_tenant('{tenant}', true);
                             SELECT count(*) FILTER (WHERE tenant_id = '{tenant}'), count(*) FROM chat_messages; COMMIT"
                        ))
                        .unwrap();
                    let row = rows
                        .iter()
                        .filter_map(|m| match m {
                            postgres::SimpleQueryMessage::Row(r) if r.len() == 2 => Some(r),
                            _ => None,
                        })
                        .next()
                        .unwrap();
                    let own: i64 = row.get(0).unwrap().parse().unwrap();
                    let all: i64 = row.get(1).unwrap().parse().unwrap();
                    assert_eq!((own, all), (want, want), "{role} through the pooler");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
#[ignore]
fn registering_or_distributing_past_citus_is_refused() {
    let mut admin = superuser();
    admin
        .batch_execute(
            "DROP TABLE IF EXISTS citus_by_hand;
             CREATE TABLE citus_by_hand (tenant_id uuid NOT NULL, id bigint NOT NULL, PRIMARY KEY (tenant_id, id));
             SELECT create_distributed_table('citus_by_hand', 'tenant_id');",
        )
        .unwrap();
    // The open door: with DDL propagation off, a registration would change the coordinator only.
    admin
        .batch_execute("SET citus.enable_ddl_propagation = off")
        .unwrap();
    assert_eq!(
        sqlstate(admin.execute("SELECT vital.register_table('citus_by_hand')", &[])),
        "0A000"
    );
    assert_eq!(
        sqlstate(admin.query("SELECT * FROM vital.distribute()", &[])),
        "55000"
    );
    admin.batch_execute("RESET citus.enable_ddl_propagation").unwrap();
    assert_eq!(
        sqlstate(admin.execute("SELECT vital.register_table('citus_by_hand')", &[])),
        "0A000"
    );
    assert_eq!(
        sqlstate(admin.execute("SELECT vital.unregister_table('public.chat_messages')", &[])),
        "0A000"
    );
    admin.batch_execute("DROP TABLE citus_by_hand").unwrap();
}

#[test]
#[ignore]
fn audit_checks_every_shard() {
    let _audit = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    let mut admin = superuser();
    let problems = |admin: &mut Client| -> Vec<String> {
        admin
            .query(
                "SELECT severity || ' ' || object || ': ' || problem FROM vital.audit() WHERE severity = 'error'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert!(problems(&mut admin).is_empty(), "{:?}", problems(&mut admin));
    // One shard of chat_messages on a worker loses FORCE ROW LEVEL SECURITY behind Citus's back.
    let (shard, worker) = a_chat_messages_shard(&mut admin);
    let mut direct = connect(&worker, "postgres");
    let tamper = |c: &mut Client, force: &str| {
        c.batch_execute(&format!(
            "SET citus.enable_manual_changes_to_shards = on; ALTER TABLE {shard} {force} FORCE ROW LEVEL SECURITY"
        ))
        .unwrap()
    };
    tamper(&mut direct, "NO");
    let found = problems(&mut admin);
    tamper(&mut direct, "");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("error public.chat_messages: shard") && p.contains("force=false")),
        "{found:?}"
    );
    assert!(problems(&mut admin).is_empty());
}

#[test]
#[ignore]
fn the_docs_citus_examples_do_what_they_say() {
    let _audit = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in doc_examples::doc_files() {
        let doc = doc_examples::parse_doc(&path);
        let name = path
            .strip_prefix(doc_examples::repo_root())
            .unwrap()
            .display()
            .to_string();
        for block in doc.blocks.iter().filter(|b| b.citus) {
            ran += 1;
            let mut session = superuser();
            failures.extend(doc_examples::run_block(&mut session, &name, block));
        }
    }
    assert!(ran > 0, "no `sql citus` examples found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
#[ignore]
fn compat_columns_follow_on_every_copy() {
    let mut admin = superuser();
    let category_id = |admin: &mut Client, name: &str| -> i32 {
        admin
            .query_one("SELECT id FROM tool_categories WHERE name = $1", &[&name])
            .unwrap()
            .get(0)
    };
    let digital = category_id(&mut admin, "Digital Health");
    let trials = category_id(&mut admin, "Clinical Trials");
    // A tenant writes the label: the key follows, and the other way round (tools is a
    // reference table: the trigger runs on each node's copy and reads that node's lookup copy).
    let mut app = connect(&base(), "vital_app_dhs");
    begin_in(&mut app, DHS);
    let written: Option<i32> = app
        .query_one(
            "INSERT INTO tools (name, category) VALUES ('citus compat tool', 'Digital Health') RETURNING category_id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(written, Some(digital));
    let label: Option<String> = app
        .query_one(
            "UPDATE tools SET category_id = $1 WHERE name = 'citus compat tool' RETURNING category",
            &[&trials],
        )
        .unwrap()
        .get(0);
    assert_eq!(label.as_deref(), Some("Clinical Trials"));
    app.batch_execute("ROLLBACK").unwrap();

    // A DBA renames a label: every copy of tools on every node follows.
    let _audit = AUDIT.lock().unwrap_or_else(|e| e.into_inner());
    let on_every_copy = |admin: &mut Client, label: &str| -> Vec<String> {
        admin
            .query(
                "SELECT result FROM run_command_on_placements('tools',
                     format('SELECT count(*) FROM %%s WHERE category = %L AND category_id = %s', $1::text, $2::int))",
                &[&label, &digital],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let before = on_every_copy(&mut admin, "Digital Health");
    assert!(
        before.len() >= 3 && before.iter().all(|n| n == &before[0] && n != "0"),
        "{before:?}"
    );
    admin
        .execute(
            "UPDATE tool_categories SET name = 'Digital Health (renamed)' WHERE id = $1",
            &[&digital],
        )
        .unwrap();
    let renamed = on_every_copy(&mut admin, "Digital Health (renamed)");
    admin
        .execute(
            "UPDATE tool_categories SET name = 'Digital Health' WHERE id = $1",
            &[&digital],
        )
        .unwrap();
    assert_eq!(renamed, before, "every copy of tools shows the new label");
    assert_eq!(on_every_copy(&mut admin, "Digital Health"), before);
}

#[test]
#[ignore]
fn export_and_drop_work_on_distributed_tables() {
    let mut admin = superuser();
    // export_tenant: the tenant's own rows of every table, read as each table's owner.
    let export: serde_json::Value = admin
        .query_one(&format!("SELECT vital.export_tenant('{DHS}')::text"), &[])
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
        .unwrap();
    let exported = export["tables"]["public.chat_messages"].as_array().unwrap().len() as i64;
    let expected = count(
        &mut admin,
        &format!("SELECT count(*) FROM chat_messages WHERE tenant_id = '{DHS}'"),
    );
    assert!(expected > 0);
    assert_eq!(exported, expected, "export of chat_messages");
    // drop_tenant: a tenant of its own, with rows on the shards, all gone afterwards.
    let tenant: String = admin
        .query_one(
            "SELECT vital.create_tenant('citus-drop', 'Citus drop')::text",
            &[],
        )
        .unwrap()
        .get(0);
    begin_in(&mut admin, &tenant);
    admin
        .batch_execute(
            "INSERT INTO knowledge (title, source) VALUES ('to drop', 'internal'), ('to drop too', 'internal');
             INSERT INTO chat_sessions (id, title) VALUES ('00000000-0000-0000-0000-00000000d00d', 'to drop');
             INSERT INTO chat_messages (session_id, role, content)
                  VALUES ('00000000-0000-0000-0000-00000000d00d', 'user', 'to drop');
             COMMIT;",
        )
        .unwrap();
    let dropped: i64 = admin
        .query_one(&format!("SELECT vital.drop_tenant('{tenant}')"), &[])
        .unwrap()
        .get(0);
    assert_eq!(dropped, 4);
    for table in ["knowledge", "chat_sessions", "chat_messages"] {
        assert_eq!(
            count(
                &mut admin,
                &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{tenant}'")
            ),
            0,
            "{table}"
        );
    }
}

#[test]
#[ignore]
fn clone_for_tenant_copies_templates_across_shards_with_references_remapped() {
    let mut admin = superuser();
    let tenant: String = admin
        .query_one(
            "SELECT vital.create_tenant('citus-clone', 'Citus clone')::text",
            &[],
        )
        .unwrap()
        .get(0);
    let clone = |admin: &mut Client, table: &str, filter: &str| -> i64 {
        admin
            .query_one(
                "SELECT vital.clone_for_tenant($1::text::uuid, $2::text::regclass, $3)",
                &[&tenant, &table, &filter],
            )
            .unwrap()
            .get(0)
    };
    let platform_rows = |admin: &mut Client, table: &str, filter: &str| {
        count(
            admin,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{PLATFORM}' AND ({filter})"),
        )
    };
    // tools is a reference table, agents, agent_tools and prompts are distributed.
    let tools = "category = 'Digital Health'";
    let agents = "business_function = 'Digital Health'";
    let links = format!("agent_id IN (SELECT id FROM agents WHERE tenant_id = '{PLATFORM}' AND {agents})");
    let expected_tools = platform_rows(&mut admin, "tools", tools);
    let expected_agents = platform_rows(&mut admin, "agents", agents);
    let expected_links = platform_rows(&mut admin, "agent_tools", &links);
    assert!(expected_tools > 0 && expected_agents > 0 && expected_links > 0);
    assert_eq!(clone(&mut admin, "tools", tools), expected_tools);
    assert_eq!(clone(&mut admin, "agents", agents), expected_agents);
    // The filter may not read other tables: the agent ids are the caller's to pass.
    let agent_ids: String = admin
        .query_one(
            &format!("SELECT array_agg(id)::text FROM agents WHERE tenant_id = '{PLATFORM}' AND {agents}"),
            &[],
        )
        .unwrap()
        .get(0);
    let link_filter = format!("agent_id = ANY ('{agent_ids}'::uuid[])");
    assert_eq!(clone(&mut admin, "agent_tools", &link_filter), expected_links);
    // Idempotent: nothing new the second time.
    assert_eq!(clone(&mut admin, "tools", tools), 0);
    assert_eq!(clone(&mut admin, "agent_tools", &link_filter), 0);

    // The copies are the tenant's, on its shards, and their references point at its copies.
    for (table, expected) in [
        ("tools", expected_tools),
        ("agents", expected_agents),
        ("agent_tools", expected_links),
    ] {
        assert_eq!(
            count(
                &mut admin,
                &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{tenant}'")
            ),
            expected,
            "{table}"
        );
    }
    let remapped = count(
        &mut admin,
        &format!(
            "SELECT count(*) FROM agent_tools l
               JOIN agents a ON a.tenant_id = l.tenant_id AND a.id = l.agent_id
              WHERE l.tenant_id = '{tenant}'"
        ),
    );
    assert_eq!(
        remapped, expected_links,
        "every link points at the tenant's agent"
    );
    let to_cloned_tools = count(
        &mut admin,
        &format!(
            "SELECT count(*) FROM agent_tools l JOIN tools t ON t.id = l.tool_id
              WHERE l.tenant_id = '{tenant}' AND t.tenant_id = '{tenant}'"
        ),
    );
    let to_digital_health_tools = count(
        &mut admin,
        &format!(
            "SELECT count(*) FROM agent_tools l JOIN tools t ON t.id = l.tool_id
              WHERE l.tenant_id = '{PLATFORM}' AND l.{link_filter} AND t.{tools}"
        ),
    );
    assert_eq!(
        to_cloned_tools, to_digital_health_tools,
        "links to cloned tools follow them"
    );
    // Seen as the tenant on every node: its copies and the platform's rows.
    begin_in(&mut admin, &tenant);
    let visible = count(
        &mut admin,
        &format!("SELECT count(*) FROM agent_tools WHERE tenant_id = '{tenant}'"),
    );
    admin.batch_execute("COMMIT").unwrap();
    assert_eq!(visible, expected_links);
    let dropped: i64 = admin
        .query_one(&format!("SELECT vital.drop_tenant('{tenant}')"), &[])
        .unwrap()
        .get(0);
    assert_eq!(dropped, expected_tools + expected_agents + expected_links);
}

#[test]
#[ignore]
fn a_login_tenant_is_refused_clearly_on_a_distributed_database() {
    let mut admin = superuser();
    // One statement at a time: Citus propagates role changes outside multi-statement transactions.
    for statement in [
        "DROP ROLE IF EXISTS citus_login_tenant".to_string(),
        "CREATE ROLE citus_login_tenant LOGIN".to_string(),
        "GRANT SELECT ON chat_messages TO citus_login_tenant".to_string(),
        format!("ALTER ROLE citus_login_tenant SET vital.tenant = '{DHS}'"),
    ] {
        admin.batch_execute(&statement).unwrap();
    }
    let mut app = connect(&base(), "citus_login_tenant");
    // The workers do not know the tenant the role logs in with: a clear refusal, not 0 rows.
    assert_eq!(
        sqlstate(app.query("SELECT count(*) FROM chat_messages", &[])),
        "0A000"
    );
    drop(app);
    admin
        .batch_execute("REVOKE ALL ON chat_messages FROM citus_login_tenant")
        .unwrap();
    admin.batch_execute("DROP ROLE citus_login_tenant").unwrap();
}

/// A real token of the dhs role and the distributed transaction it names, taken by the
/// superuser from a finished transaction: (token, initiator, number, timestamp as timestamptz).
fn captured_token(admin: &mut Client) -> (String, i32, i64, String) {
    admin
        .batch_execute("BEGIN; SET LOCAL ROLE vital_app_dhs")
        .unwrap();
    admin
        .execute(&format!("SELECT vital.set_tenant('{DHS}', true)"), &[])
        .unwrap();
    admin.batch_execute("RESET ROLE").unwrap();
    let token: String = admin
        .query_one("SELECT current_setting('vital.tenant_token')", &[])
        .unwrap()
        .get(0);
    admin.batch_execute("COMMIT").unwrap();
    let fields: Vec<&str> = token.split(':').collect();
    let stamp: String = admin
        .query_one(
            "SELECT (timestamptz '2000-01-01 00:00:00+00' + ($1::text::bigint || ' microseconds')::interval)::text",
            &[&fields[5]],
        )
        .unwrap()
        .get(0);
    (
        token.clone(),
        fields[3].parse().unwrap(),
        fields[4].parse().unwrap(),
        stamp,
    )
}

fn replay(client: &mut Client, token: &str, initiator: i32, number: i64, stamp: &str) -> String {
    client.batch_execute("BEGIN").unwrap();
    let assigned = client.execute(
        "SELECT assign_distributed_transaction_id($1, $2, $3::text::timestamptz)",
        &[&initiator, &number, &stamp],
    );
    assert!(assigned.is_ok(), "{assigned:?}");
    client
        .batch_execute(&format!("SET LOCAL vital.tenant_token = '{token}'"))
        .unwrap();
    let state = sqlstate(client.query("SELECT vital.current_tenant()", &[]));
    client.batch_execute("ROLLBACK").unwrap();
    state
}

#[test]
#[ignore]
fn a_token_replayed_with_its_transaction_id_is_refused_on_the_coordinator_and_expires_on_workers() {
    let mut admin = superuser();
    let (token, initiator, number, stamp) = captured_token(&mut admin);
    // The attack review's replay: claim the old distributed transaction, set the token.
    let mut app = connect(&base(), "vital_app_dhs");
    assert_eq!(
        replay(&mut app, &token, initiator, number, &stamp),
        "42501",
        "on the coordinator"
    );
    // On a worker it works only within vital.token_max_age of the transaction's start.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for worker in workers() {
        let mut direct = connect(&worker, "postgres");
        direct
            .batch_execute("SET vital.token_max_age = 1; SET ROLE vital_app_dhs")
            .unwrap();
        assert_eq!(
            replay(&mut direct, &token, initiator, number, &stamp),
            "42501",
            "{worker}"
        );
    }
}

#[test]
#[ignore]
fn explain_and_printed_commands_are_refused_on_distributed_tables_and_shards() {
    let mut app = connect(&base(), "vital_app_dhs");
    for (setting, statement) in [
        ("", "EXPLAIN (ANALYZE) SELECT * FROM chat_messages"),
        ("", "EXPLAIN SELECT * FROM knowledge WHERE title = 'x'"),
        (
            "SET LOCAL citus.explain_all_tasks = on",
            "EXPLAIN (ANALYZE) SELECT count(*) FROM agents",
        ),
        (
            "SET LOCAL client_min_messages = log",
            "SELECT count(*) FROM chat_messages",
        ),
        (
            "SET LOCAL citus.log_remote_commands = on",
            "SELECT count(*) FROM chat_messages",
        ),
    ] {
        begin_in(&mut app, DHS);
        if !setting.is_empty() {
            app.batch_execute(setting).unwrap();
        }
        assert_eq!(
            sqlstate(app.batch_execute(statement)),
            "42501",
            "{setting}; {statement}"
        );
        app.batch_execute("ROLLBACK").unwrap();
    }
    // A shard read by name on its worker, with EXPLAIN ANALYZE.
    let mut admin = superuser();
    let (shard, worker) = a_chat_messages_shard(&mut admin);
    let mut direct = connect(&worker, "vital_app_dhs");
    assert_eq!(
        sqlstate(direct.batch_execute(&format!(
            "EXPLAIN (ANALYZE) SELECT * FROM {shard} WHERE content = 'x'"
        ))),
        "42501"
    );
}

#[test]
#[ignore]
fn a_foreign_key_refusal_does_not_tell_another_tenants_row_from_a_missing_one() {
    let mut admin = superuser();
    admin
        .batch_execute("BEGIN; SET LOCAL vital.tenant = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'")
        .unwrap();
    let pharma_only: i32 = admin
        .query_one(
            "INSERT INTO tool_categories (name, description) VALUES ('Pharma only category', 'x') RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    admin.batch_execute("COMMIT").unwrap();
    let missing: i32 = pharma_only + 1000;
    let refusal = |id: i32| -> (String, String, String) {
        let mut app = connect(&base(), "vital_app_dhs");
        begin_in(&mut app, DHS);
        let error = app
            .execute(
                "INSERT INTO tools (name, category_id) VALUES ('probe', $1)",
                &[&id],
            )
            .expect_err("the probe was accepted");
        let db = error.as_db_error().unwrap();
        (
            db.code().code().to_string(),
            db.message().to_string(),
            db.constraint().unwrap_or_default().to_string(),
        )
    };
    let (other_tenants, nobodys) = (refusal(pharma_only), refusal(missing));
    admin
        .execute("DELETE FROM tool_categories WHERE id = $1", &[&pharma_only])
        .unwrap();
    assert_eq!(other_tenants.0, "23503");
    assert_eq!(other_tenants, nobodys, "the refusal tells the two apart");
}
