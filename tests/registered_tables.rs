//! Registered tables attacked over real connections: as a NOSUPERUSER NOBYPASSRLS application
//! role and as the (non-superuser) table owner, with tenants A, B and the platform.

mod common;
use common::*;
use postgres::Client;

const PLATFORM: &str = "00000000-0000-0000-0000-000000000001";

struct Fixture {
    schema: String,
    a: String,
    b: String,
    owner: String,
}

/// tools (uuid key, unique name) and agent_tools (FK to tools), owned by a non-superuser,
/// registered, with one platform row "Calculator" and one row each for A and B.
fn fixture(admin: &mut Client) -> Fixture {
    let schema = test_schema(admin, "reg");
    let owner = format!("{schema}_owner");
    let a = create_tenant(admin, "reg-a");
    let b = create_tenant(admin, "reg-b");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS;
             GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner};
             CREATE TABLE {schema}.tools (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                                          name text NOT NULL UNIQUE);
             CREATE TABLE {schema}.agent_tools (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                                tool_id uuid NOT NULL REFERENCES {schema}.tools (id),
                                                note text);
             ALTER TABLE {schema}.tools OWNER TO {owner};
             ALTER TABLE {schema}.agent_tools OWNER TO {owner};
             INSERT INTO {schema}.tools (name) VALUES ('Calculator');
             SELECT vital.register_table('{schema}.tools');
             SELECT vital.register_table('{schema}.agent_tools');"
        ))
        .unwrap();
    for (tenant, name) in [(&a, "A tool"), (&b, "B tool")] {
        admin
            .batch_execute(&format!(
                "BEGIN; SELECT vital.set_tenant('{tenant}', true);
                 INSERT INTO {schema}.tools (name) VALUES ('{name}'); COMMIT;"
            ))
            .unwrap();
    }
    Fixture { schema, a, b, owner }
}

fn attack_reads_and_writes(client: &mut Client, f: &Fixture) {
    let s = &f.schema;
    // No tenant: platform rows only, and every write refused with an error naming set_tenant.
    client.batch_execute("SELECT vital.clear_tenant()").unwrap();
    assert_eq!(
        texts(client, &format!("SELECT name FROM {s}.tools")),
        ["Calculator"]
    );
    for write in [
        format!("INSERT INTO {s}.tools (name) VALUES ('x')"),
        format!("UPDATE {s}.tools SET name = 'x'"),
        format!("DELETE FROM {s}.tools"),
    ] {
        assert_eq!(sqlstate(client.batch_execute(&write)), "42501", "{write}");
    }

    // Tenant A: exactly its rows and the platform's.
    set_tenant(client, &f.a);
    assert_eq!(
        texts(client, &format!("SELECT name FROM {s}.tools")),
        ["A tool", "Calculator"]
    );
    // Platform and B rows: 0 rows changed.
    assert_eq!(
        client
            .execute(
                &format!("UPDATE {s}.tools SET name = 'pwned' WHERE name IN ('Calculator', 'B tool')"),
                &[]
            )
            .unwrap(),
        0
    );
    assert_eq!(
        client
            .execute(
                &format!("DELETE FROM {s}.tools WHERE name IN ('Calculator', 'B tool')"),
                &[]
            )
            .unwrap(),
        0
    );
    // Moving its own row to B or to the platform: refused.
    for target in [&f.b, &PLATFORM.to_string()] {
        let moved = client.batch_execute(&format!(
            "UPDATE {s}.tools SET tenant_id = '{target}' WHERE name = 'A tool'"
        ));
        assert_eq!(sqlstate(moved), "42501");
        let smuggled = client.batch_execute(&format!(
            "INSERT INTO {s}.tools (name, tenant_id) VALUES ('s', '{target}')"
        ));
        assert_eq!(sqlstate(smuggled), "42501");
    }
    // RETURNING shows nothing of others.
    let returned = client
        .query(&format!("UPDATE {s}.tools SET name = name RETURNING name"), &[])
        .unwrap();
    assert_eq!(returned.len(), 1);

    // Per-tenant uniqueness: A may reuse B's and the platform's names, not its own.
    client
        .batch_execute(&format!(
            "INSERT INTO {s}.tools (name) VALUES ('B tool'), ('Calculator')"
        ))
        .unwrap();
    assert_eq!(
        sqlstate(client.batch_execute(&format!("INSERT INTO {s}.tools (name) VALUES ('A tool')"))),
        "23505"
    );
    // ON CONFLICT against B's key touches only A's rows.
    client
        .batch_execute(&format!(
            "INSERT INTO {s}.tools (name) VALUES ('B tool') ON CONFLICT (tenant_id, name) DO UPDATE SET name = 'B tool'"
        ))
        .unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {s}.tools (name) VALUES ('B tool') ON CONFLICT DO NOTHING"
        ))
        .unwrap();

    // B sees none of A's rows, and its own row is untouched.
    set_tenant(client, &f.b);
    assert_eq!(
        texts(client, &format!("SELECT name FROM {s}.tools")),
        ["B tool", "Calculator"]
    );
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn application_role_sees_and_changes_only_its_tenant() {
    let mut admin = superuser();
    let f = fixture(&mut admin);
    let mut app = app();
    attack_reads_and_writes(&mut app, &f);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn table_owner_is_bound_by_the_policies_too() {
    let mut admin = superuser();
    let f = fixture(&mut admin);
    let mut owner = connect_as(&f.owner);
    attack_reads_and_writes(&mut owner, &f);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn foreign_keys_accept_own_and_platform_rows_and_hide_others() {
    let mut admin = superuser();
    let f = fixture(&mut admin);
    let s = &f.schema;
    let id_of = |admin: &mut Client, name: &str| -> String {
        admin
            .query_one(
                &format!("SELECT id::text FROM {s}.tools WHERE name = $1"),
                &[&name],
            )
            .unwrap()
            .get(0)
    };
    let (platform_tool, a_tool, b_tool) = (
        id_of(&mut admin, "Calculator"),
        id_of(&mut admin, "A tool"),
        id_of(&mut admin, "B tool"),
    );

    let mut app = app();
    set_tenant(&mut app, &f.a);
    for ok in [&platform_tool, &a_tool] {
        app.batch_execute(&format!("INSERT INTO {s}.agent_tools (tool_id) VALUES ('{ok}')"))
            .unwrap();
    }
    // B's existing tool and a tool that does not exist fail the same way.
    let existing = app
        .batch_execute(&format!(
            "INSERT INTO {s}.agent_tools (tool_id) VALUES ('{b_tool}')"
        ))
        .unwrap_err();
    let missing = app
        .batch_execute(&format!(
            "INSERT INTO {s}.agent_tools (tool_id) VALUES ('{}')",
            uuid_like(9)
        ))
        .unwrap_err();
    let describe = |e: &postgres::Error| {
        let db = e.as_db_error().expect("a database error");
        (
            db.code().code().to_string(),
            db.message().to_string(),
            db.detail().map(str::to_string),
        )
    };
    assert_eq!(describe(&existing), describe(&missing));
    assert_eq!(describe(&existing).0, "23503");
    // Re-pointing an existing row at B's tool is refused as well.
    let repoint = app.batch_execute(&format!("UPDATE {s}.agent_tools SET tool_id = '{b_tool}'"));
    assert_eq!(sqlstate(repoint), "23503");
}

fn uuid_like(n: u8) -> String {
    format!("{n}{n}{n}{n}{n}{n}{n}{n}-0000-0000-0000-000000000000")
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn partitions_queried_directly_show_only_the_tenants_rows() {
    let mut admin = superuser();
    let schema = test_schema(&mut admin, "part");
    let a = create_tenant(&mut admin, "part-a");
    let b = create_tenant(&mut admin, "part-b");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.msgs (id int, k int, body text) PARTITION BY LIST (k);
             CREATE TABLE {schema}.msgs_1 PARTITION OF {schema}.msgs FOR VALUES IN (1);
             SELECT vital.register_table('{schema}.msgs');
             CREATE TABLE {schema}.msgs_2 PARTITION OF {schema}.msgs FOR VALUES IN (2);"
        ))
        .unwrap();
    let mut app = app();
    for (t, body) in [(&a, "a"), (&b, "b")] {
        set_tenant(&mut app, t);
        app.batch_execute(&format!(
            "INSERT INTO {schema}.msgs VALUES (1, 1, '{body}1'), (2, 2, '{body}2')"
        ))
        .unwrap();
    }
    set_tenant(&mut app, &a);
    for part in ["msgs_1", "msgs_2"] {
        let rows = texts(&mut app, &format!("SELECT body FROM {schema}.{part}"));
        assert!(
            rows.iter().all(|r| r.starts_with('a')) && rows.len() == 1,
            "{part}: {rows:?}"
        );
        assert_eq!(
            app.execute(&format!("DELETE FROM {schema}.{part} WHERE body LIKE 'b%'"), &[])
                .unwrap(),
            0
        );
    }
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn unregister_with_drop_column_restores_the_catalog_exactly() {
    let mut admin = superuser();
    let schema = test_schema(&mut admin, "fp");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.parent (id bigserial PRIMARY KEY, code text UNIQUE, email text);
             CREATE UNIQUE INDEX parent_email ON {schema}.parent (lower(email)) WHERE email IS NOT NULL;
             CREATE TABLE {schema}.child (id int PRIMARY KEY, parent_id bigint REFERENCES {schema}.parent (id),
                                          label text DEFAULT 'x' NOT NULL);
             CREATE INDEX child_label ON {schema}.child (label);
             INSERT INTO {schema}.parent (code, email) VALUES ('a', 'a@x'), ('b', NULL);"
        ))
        .unwrap();
    let tables = [format!("{schema}.parent"), format!("{schema}.child")];
    let before: Vec<String> = tables.iter().map(|t| table_fingerprint(&mut admin, t)).collect();
    for t in &tables {
        admin
            .execute("SELECT vital.register_table($1::text::regclass)", &[t])
            .unwrap();
    }
    let during: Vec<String> = tables.iter().map(|t| table_fingerprint(&mut admin, t)).collect();
    assert_ne!(before, during, "registration changed nothing?");
    for t in tables.iter().rev() {
        admin
            .execute("SELECT vital.unregister_table($1::text::regclass, true)", &[t])
            .unwrap();
    }
    let after: Vec<String> = tables.iter().map(|t| table_fingerprint(&mut admin, t)).collect();
    assert_eq!(before, after);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_million_rows_register_without_rewrite_or_update() {
    let mut admin = superuser();
    let schema = test_schema(&mut admin, "big");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.events (id bigint PRIMARY KEY, payload text);
             INSERT INTO {schema}.events SELECT g, 'event ' || g FROM generate_series(1, 1000000) g;
             SELECT pg_stat_force_next_flush();"
        ))
        .unwrap();
    let table = format!("{schema}.events");
    let filenode = |c: &mut Client| -> u32 {
        c.query_one(
            "SELECT relfilenode::oid::int8 FROM pg_class WHERE oid = $1::text::regclass",
            &[&table],
        )
        .unwrap()
        .get::<_, i64>(0) as u32
    };
    let updates = |c: &mut Client| -> i64 {
        c.batch_execute("SELECT pg_stat_force_next_flush(); SELECT pg_stat_clear_snapshot();")
            .unwrap();
        c.query_one(
            "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = $1::text::regclass",
            &[&table],
        )
        .unwrap()
        .get(0)
    };
    let before = filenode(&mut admin);
    admin
        .execute("SELECT vital.register_table($1::text::regclass)", &[&table])
        .unwrap();
    let mut observer = superuser();
    assert_eq!(filenode(&mut observer), before, "the table was rewritten");
    assert_eq!(updates(&mut observer), 0, "rows were updated");
    let platform_rows: i64 = admin
        .query_one(
            &format!("SELECT count(*) FROM {table} WHERE tenant_id = '{PLATFORM}'"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(platform_rows, 1_000_000);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn tenant_scoped_reads_use_the_tenant_index() {
    let mut admin = superuser();
    let schema = test_schema(&mut admin, "plan");
    let a = create_tenant(&mut admin, "plan-a");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.notes (id bigserial PRIMARY KEY, body text);
             SELECT vital.register_table('{schema}.notes');
             INSERT INTO {schema}.notes (body, tenant_id)
                  SELECT 'n', CASE WHEN g % 100 = 0 THEN '{a}'::uuid ELSE gen_random_uuid() END
                    FROM generate_series(1, 50000) g;
             ANALYZE {schema}.notes;"
        ))
        .unwrap();
    let mut owner = owner_of_table(&mut admin, &format!("{schema}.notes"));
    set_tenant(&mut owner, &a);
    let plan: Vec<String> = owner
        .query(&format!("EXPLAIN (COSTS OFF) SELECT * FROM {schema}.notes"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("notes_tenant_id_idx"),
        "the tenant index is not used:\n{plan}"
    );
    let mut app = app();
    set_tenant(&mut app, &a);
    let n: i64 = app
        .query_one(&format!("SELECT count(*) FROM {schema}.notes"), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 500);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn cached_generic_plans_follow_the_tenant() {
    let mut admin = superuser();
    let f = fixture(&mut admin);
    let mut app = app();
    app.batch_execute("SET plan_cache_mode = force_generic_plan")
        .unwrap();
    let stmt = app
        .prepare(&format!("SELECT name FROM {}.tools ORDER BY name", f.schema))
        .unwrap();
    for (tenant, mine) in [(&f.a, "A tool"), (&f.b, "B tool"), (&f.a, "A tool")] {
        set_tenant(&mut app, tenant);
        let names: Vec<String> = app.query(&stmt, &[]).unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(names, vec![mine.to_string(), "Calculator".to_string()]);
    }
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_foreign_key_with_a_long_multibyte_name_keeps_its_guard() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "mbfk");
    let a = create_tenant(&mut admin, "mbfk-a");
    let b = create_tenant(&mut admin, "mbfk-b");
    // 29 two-byte characters: the guard's name ("vital_fk_guard_" + it) is cut to 63 bytes.
    let constraint = "é".repeat(29);
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.parents (id int PRIMARY KEY);
             CREATE TABLE {s}.children (id int PRIMARY KEY, parent_id int,
                 CONSTRAINT \"{constraint}\" FOREIGN KEY (parent_id) REFERENCES {s}.parents (id));
             SELECT vital.register_table('{s}.parents');
             SELECT vital.register_table('{s}.children');
             ALTER TABLE {s}.children ADD COLUMN note text;
             BEGIN; SELECT vital.set_tenant('{b}', true); INSERT INTO {s}.parents VALUES (1); COMMIT;"
        ))
        .unwrap();
    let guards: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::text::regclass
               AND tgfoid = 'vital.fk_guard()'::regprocedure",
            &[&format!("{s}.children")],
        )
        .unwrap()
        .get(0);
    assert_eq!(guards, 1, "the guard was not kept");
    let mut app = app();
    set_tenant(&mut app, &a);
    let cross = app.batch_execute(&format!("INSERT INTO {s}.children VALUES (1, 1)"));
    assert_eq!(sqlstate(cross), "23503", "a child of A could reference B's row");
    let findings: i64 = admin
        .query_one(
            "SELECT count(*) FROM vital.audit() WHERE object LIKE '%' || $1 || '%' AND severity <> 'info'",
            &[&format!("{s}.children")],
        )
        .unwrap()
        .get(0);
    assert_eq!(findings, 0);
}
