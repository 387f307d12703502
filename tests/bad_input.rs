//! Bad input for every public function: NULLs, unknown ids, wrong object kinds, identifiers
//! with quotes, spaces and semicolons, very long strings. Each call must fail with a SQLSTATE
//! other than XX000, and change nothing: vital's tables, the test schema's catalog entries
//! and its data are compared before and after.

mod common;
use common::*;
use postgres::Client;

/// Everything a failed call could have touched, as one comparable text.
fn state(admin: &mut Client, schema: &str) -> String {
    admin
        .query_one(
            "SELECT concat_ws(E'\\n',
               (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM vital.tenants t),
               (SELECT md5(coalesce(string_agg(a::text, ',' ORDER BY a::text), '')) FROM vital.tenant_allowances a),
               (SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) FROM vital.registrations r),
               (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY s::text), '')) FROM vital.registered_schemas s),
               (SELECT md5(coalesce(string_agg(o::text, ',' ORDER BY o::text), '')) FROM vital.compat_objects o),
               (SELECT md5(coalesce(string_agg(m::text, ',' ORDER BY m::text), '')) FROM vital.clone_map m),
               (SELECT string_agg(concat_ws(':', c.relname, c.relkind, c.relrowsecurity, c.relnatts),
                                  ',' ORDER BY c.relname)
                  FROM pg_class c WHERE c.relnamespace = $1::text::regnamespace),
               (SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                 WHERE c.relnamespace = $1::text::regnamespace),
               (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 WHERE c.relnamespace = $1::text::regnamespace),
               (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'vital%'),
               vital.current_tenant())",
            &[&schema],
        )
        .unwrap()
        .get(0)
}

fn check_all_refused(client: &mut Client, admin: &mut Client, schema: &str, calls: &[String]) {
    for call in calls {
        let before = state(admin, schema);
        let result = client.batch_execute(call);
        let code = match &result {
            Ok(()) => panic!("accepted: {call}"),
            Err(e) => e
                .code()
                .map(|c| c.code().to_string())
                .unwrap_or_else(|| panic!("no SQLSTATE for {call}: {e}")),
        };
        assert_ne!(code, "XX000", "internal error for {call}: {result:?}");
        let after = state(admin, schema);
        assert_eq!(before, after, "{call} changed something");
    }
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn every_public_function_refuses_bad_input_cleanly() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "bad");
    let a = create_tenant(&mut admin, "bad-a");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.tools (id serial PRIMARY KEY, name text, category_id int);
             CREATE TABLE {s}.cats (id int PRIMARY KEY, name text);
             CREATE VIEW {s}.tool_view AS SELECT * FROM {s}.tools;
             CREATE SEQUENCE {s}.seq;
             CREATE TABLE {s}.registered (id serial PRIMARY KEY, name text);
             SELECT vital.register_table('{s}.registered');"
        ))
        .unwrap();
    let long = "x".repeat(10_000);
    let nasty = [
        "a'b",
        "a b",
        "a;b",
        "\"; DROP TABLE x; --",
        "'); DROP TABLE x; --",
    ];
    let unknown = "99999999-9999-9999-9999-999999999999";
    let mut calls: Vec<String> = vec![
        // tenants
        "SELECT vital.create_tenant(NULL, 'x')".into(),
        "SELECT vital.create_tenant('ok-slug', NULL)".into(),
        format!("SELECT vital.create_tenant('{}', 'x')", "a".repeat(64)),
        format!("SELECT vital.create_tenant('long-name', '{long}')"),
        format!("SELECT vital.create_tenant('dup-id', 'x', '{a}')"),
        "SELECT vital.tenant_id(NULL)".into(),
        format!("SELECT vital.tenant_id('{long}')"),
        "SELECT vital.suspend_tenant(NULL)".into(),
        format!("SELECT vital.suspend_tenant('{unknown}')"),
        "SELECT vital.suspend_tenant(vital.platform_tenant())".into(),
        "SELECT vital.resume_tenant(NULL)".into(),
        format!("SELECT vital.resume_tenant('{unknown}')"),
        "SELECT vital.drop_tenant(NULL)".into(),
        format!("SELECT vital.drop_tenant('{unknown}')"),
        "SELECT vital.drop_tenant(vital.platform_tenant())".into(),
        "SELECT vital.export_tenant(NULL)".into(),
        format!("SELECT vital.export_tenant('{unknown}')"),
        format!("SELECT vital.allow_tenant(NULL, '{a}')"),
        format!("SELECT vital.allow_tenant('{APP_ROLE}', NULL)"),
        format!("SELECT vital.allow_tenant('{APP_ROLE}', '{unknown}')"),
        format!("SELECT vital.allow_tenant('no such role', '{a}')"),
        format!("SELECT vital.disallow_tenant(NULL, '{a}')"),
        format!("SELECT vital.disallow_tenant('{APP_ROLE}', '{unknown}')"),
        // the tenant context
        "SELECT vital.set_tenant(NULL)".into(),
        format!("SELECT vital.set_tenant('{a}', NULL)"),
        format!("SELECT vital.set_tenant('{unknown}')"),
        format!("SELECT vital.set_tenant('{a}', true)"),
        "SELECT vital.set_tenant('not a uuid')".into(),
        "SET vital.tenant = 'not a uuid'".into(),
        // registration
        "SELECT vital.register_table(NULL)".into(),
        format!("SELECT vital.register_table('{s}.tools', NULL)"),
        format!("SELECT vital.register_table('{s}.tools', true, NULL)"),
        format!("SELECT vital.register_table('{s}.tool_view')"),
        format!("SELECT vital.register_table('{s}.seq')"),
        "SELECT vital.register_table('pg_catalog.pg_class')".into(),
        "SELECT vital.register_table('vital.tenants')".into(),
        "SELECT vital.unregister_table(NULL)".into(),
        format!("SELECT vital.unregister_table('{s}.tools')"),
        format!("SELECT vital.unregister_table('{s}.registered', NULL)"),
        "SELECT vital.register_schema(NULL)".into(),
        format!("SELECT vital.register_schema('{s}', NULL)"),
        "SELECT vital.register_schema('pg_catalog')".into(),
        "SELECT vital.register_schema('vital')".into(),
        "SELECT vital.unregister_schema(NULL)".into(),
        format!("SELECT vital.unregister_schema('{s}')"),
        // compatibility objects
        format!("SELECT vital.create_compat_view(NULL, '{s}.tools')"),
        format!("SELECT vital.create_compat_view('{s}.v', NULL)"),
        format!("SELECT vital.create_compat_view('{s}.v', '{s}.tool_view')"),
        format!("SELECT vital.create_compat_view('{s}.tools', '{s}.cats')"),
        format!("SELECT vital.create_compat_view('a.b.c', '{s}.tools')"),
        format!(
            "SELECT vital.create_compat_view('{s}.{}', '{s}.tools')",
            "v".repeat(64)
        ),
        format!("SELECT vital.create_compat_view('{long}', '{s}.tools')"),
        "SELECT vital.drop_compat_view(NULL)".into(),
        format!("SELECT vital.drop_compat_view('{s}.tools')"),
        format!("SELECT vital.create_compat_column(NULL, 'c', 'category_id', '{s}.cats', 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tools', NULL, 'category_id', '{s}.cats', 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tools', 'c', NULL, '{s}.cats', 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tools', 'c', 'category_id', NULL, 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tools', 'c', 'category_id', '{s}.cats', NULL)"),
        format!("SELECT vital.create_compat_column('{s}.tools', 'name', 'category_id', '{s}.cats', 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tools', 'c', 'name', '{s}.cats', 'name')"),
        format!("SELECT vital.create_compat_column('{s}.tool_view', 'c', 'category_id', '{s}.cats', 'name')"),
        format!("SELECT vital.drop_compat_column(NULL, 'c')"),
        format!("SELECT vital.drop_compat_column('{s}.tools', NULL)"),
        format!("SELECT vital.drop_compat_column('{s}.tools', 'name')"),
        // cloning
        format!("SELECT vital.clone_for_tenant(NULL, '{s}.registered')"),
        format!("SELECT vital.clone_for_tenant('{a}', NULL)"),
        format!("SELECT vital.clone_for_tenant('{a}', '{s}.registered', NULL, NULL)"),
        format!("SELECT vital.clone_for_tenant('{unknown}', '{s}.registered')"),
        format!("SELECT vital.clone_for_tenant('{a}', '{s}.tools')"),
        format!("SELECT vital.clone_for_tenant('{a}', '{s}.registered', '{long}')"),
        format!("SELECT vital.clone_for_tenant(vital.platform_tenant(), '{s}.registered')"),
    ];
    for n in nasty {
        let q = n.replace('\'', "''");
        calls.push(format!("SELECT vital.create_tenant('{q}', 'x')"));
        calls.push(format!("SELECT vital.tenant_id('{q}')"));
        calls.push(format!("SELECT vital.register_table('{q}')"));
        calls.push(format!("SELECT vital.register_schema('{q}')"));
        calls.push(format!("SELECT vital.unregister_schema('{q}')"));
        calls.push(format!("SELECT vital.create_compat_view('{s}.v', '{q}')"));
        calls.push(format!("SELECT vital.drop_compat_view('{q}')"));
        calls.push(format!(
            "SELECT vital.create_compat_column('{s}.tools', 'c', '{q}', '{s}.cats', 'name')"
        ));
        calls.push(format!(
            "SELECT vital.create_compat_column('{s}.tools', 'c', 'category_id', '{s}.cats', '{q}')"
        ));
        calls.push(format!("SELECT vital.drop_compat_column('{s}.tools', '{q}')"));
        calls.push(format!(
            "SELECT vital.clone_for_tenant('{a}', '{s}.registered', '{q}')"
        ));
    }
    check_all_refused(&mut superuser(), &mut admin, &s, &calls);

    // The application role: admin functions are refused outright, its own calls cleanly.
    let app_calls: Vec<String> = vec![
        "SELECT vital.create_tenant('x', 'x')".into(),
        format!("SELECT vital.register_table('{s}.tools')"),
        format!("SELECT vital.clone_for_tenant('{a}', '{s}.registered')"),
        "SELECT count(*) FROM vital.audit()".into(),
        "SELECT vital.set_tenant(NULL)".into(),
        format!("SELECT vital.set_tenant('{unknown}')"),
        "SELECT vital.tenant_id(NULL)".into(),
        format!("SELECT vital.tenant_id('{long}')"),
    ];
    check_all_refused(&mut app(), &mut admin, &s, &app_calls);
}
