//! The tenant context over real connections, attacked as a NOSUPERUSER NOBYPASSRLS role.

mod common;
use common::*;

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn one_sessions_tenant_never_shows_in_another() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "ctx-a");
    let b = create_tenant(&mut admin, "ctx-b");
    let mut s1 = app();
    let mut s2 = app();

    s1.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    assert_eq!(current_tenant(&mut s1).as_deref(), Some(a.as_str()));
    assert_eq!(current_tenant(&mut s2), None, "a fresh session has no tenant");

    s2.execute("SELECT vital.set_tenant($1::text::uuid)", &[&b])
        .unwrap();
    assert_eq!(current_tenant(&mut s1).as_deref(), Some(a.as_str()));
    assert_eq!(current_tenant(&mut s2).as_deref(), Some(b.as_str()));
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn application_role_cannot_spoof_the_tenant_with_any_set() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "spoof-a");
    let b = create_tenant(&mut admin, "spoof-b");

    // Before the library is loaded in this backend: a placeholder SET must not survive loading.
    let mut fresh = app();
    let early = fresh.batch_execute(&format!("SET vital.tenant = '{b}'"));
    assert_eq!(current_tenant(&mut fresh), None, "pre-load SET leaked: {early:?}");

    let mut s = app();
    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    let attempts = [
        format!("SET vital.tenant = '{b}'"),
        format!("SET SESSION vital.tenant = '{b}'"),
        format!("BEGIN; SET LOCAL vital.tenant = '{b}'; COMMIT"),
        format!("SELECT set_config('vital.tenant', '{b}', false)"),
        format!("SELECT set_config('vital.tenant', '{b}', true)"),
        "RESET vital.tenant".to_string(),
        format!("ALTER ROLE {APP_ROLE} SET vital.tenant = '{b}'"),
        format!(
            "ALTER ROLE {APP_ROLE} IN DATABASE {} SET vital.tenant = '{b}'",
            database()
        ),
    ];
    for attempt in &attempts {
        let state = sqlstate(s.batch_execute(attempt));
        let _ = s.batch_execute("ROLLBACK");
        assert_eq!(state, "42501", "{attempt} was not refused");
        assert_eq!(
            current_tenant(&mut s).as_deref(),
            Some(a.as_str()),
            "{attempt} changed the tenant"
        );
    }

    // A look-alike setting is just a string: vital never reads it.
    s.batch_execute(&format!("SET app.current_tenant = '{b}'"))
        .unwrap();
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));

    // The Citus tenant token (any role may set it, so that Citus can forward it) means nothing
    // without Citus: with no tenant set, it does not make one.
    let mut t = app();
    t.batch_execute(&format!(
        "SET vital.tenant_token = 'v1:{b}:{}:0:1:2:{}'",
        "61",
        "ab".repeat(32)
    ))
    .unwrap();
    assert_eq!(
        current_tenant(&mut t),
        None,
        "a token made a tenant without Citus"
    );

    // A startup option is refused when the library loads.
    if let Ok(mut c) = connect_with_options(APP_ROLE, &format!("-c vital.tenant={b}")) {
        assert_eq!(current_tenant(&mut c), None, "startup option set the tenant");
    }
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn discard_all_and_reset_all_clear_the_tenant() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "discard");
    let mut s = app();

    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    s.batch_execute("DISCARD ALL").unwrap();
    assert_eq!(current_tenant(&mut s), None);

    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    s.batch_execute("RESET ALL").unwrap();
    assert_eq!(current_tenant(&mut s), None);
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn transaction_scoped_tenant_ends_with_the_transaction() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "local-a");
    let b = create_tenant(&mut admin, "local-b");
    let mut s = app();

    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    let mut tx = s.transaction().unwrap();
    tx.execute("SELECT vital.set_tenant($1::text::uuid, true)", &[&b])
        .unwrap();
    let inside: Option<String> = tx
        .query_one("SELECT vital.current_tenant()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(inside.as_deref(), Some(b.as_str()));
    tx.commit().unwrap();
    assert_eq!(
        current_tenant(&mut s).as_deref(),
        Some(a.as_str()),
        "is_local outlived its transaction"
    );

    // Outside a transaction block it is an error, and the tenant stays.
    let state = sqlstate(s.execute("SELECT vital.set_tenant($1::text::uuid, true)", &[&b]));
    assert_eq!(state, "25P01");
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn suspending_a_tenant_stops_a_session_already_in_it() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "suspend");
    let mut s = app();
    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));

    admin
        .execute("SELECT vital.suspend_tenant($1::text::uuid)", &[&a])
        .unwrap();
    let state = sqlstate(s.query_one("SELECT vital.current_tenant()", &[]));
    assert_eq!(state, "55000", "the session kept using a suspended tenant");
    assert_eq!(
        sqlstate(s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])),
        "55000"
    );

    admin
        .execute("SELECT vital.resume_tenant($1::text::uuid)", &[&a])
        .unwrap();
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));

    // A DBA's plain UPDATE of the registry reaches the session as well.
    let suspend = "UPDATE vital.tenants SET status = 'suspended' WHERE id = $1::text::uuid";
    admin.execute(suspend, &[&a]).unwrap();
    assert_eq!(
        sqlstate(s.query_one("SELECT vital.current_tenant()", &[])),
        "55000"
    );
    let resume = "UPDATE vital.tenants SET status = 'active' WHERE id = $1::text::uuid";
    admin.execute(resume, &[&a]).unwrap();
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn allowances_restrict_which_tenants_a_role_may_set() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "allow-a");
    let b = create_tenant(&mut admin, "allow-b");
    let role = unique_slug("vital_it_limited").replace('-', "_");
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
        .unwrap();
    admin
        .execute(
            "SELECT vital.allow_tenant($1::text::regrole, $2::text::uuid)",
            &[&role, &a],
        )
        .unwrap();

    let mut s = connect_as(&role);
    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&a])
        .unwrap();
    assert_eq!(
        sqlstate(s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&b])),
        "42501"
    );
    assert_eq!(current_tenant(&mut s).as_deref(), Some(a.as_str()));

    // The role cannot lift its own restriction.
    let lift = [
        format!("SELECT vital.allow_tenant('{role}', '{b}')"),
        format!("SELECT vital.disallow_tenant('{role}', '{a}')"),
        format!("DELETE FROM vital.tenant_allowances WHERE role = '{role}'::regrole"),
        format!("INSERT INTO vital.tenant_allowances VALUES ('{role}', '{b}')"),
    ];
    for attempt in &lift {
        assert_eq!(
            sqlstate(s.batch_execute(attempt)),
            "42501",
            "{attempt} was not refused"
        );
    }

    admin
        .execute(
            "SELECT vital.disallow_tenant($1::text::regrole, $2::text::uuid)",
            &[&role, &a],
        )
        .unwrap();
    s.execute("SELECT vital.set_tenant($1::text::uuid)", &[&b])
        .unwrap();
    assert_eq!(current_tenant(&mut s).as_deref(), Some(b.as_str()));
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn application_role_cannot_manage_tenants() {
    let mut admin = superuser();
    let a = create_tenant(&mut admin, "manage");
    let mut s = app();
    let attempts = [
        "SELECT vital.create_tenant('evil', 'Evil')".to_string(),
        format!("SELECT vital.suspend_tenant('{a}')"),
        format!("SELECT vital.resume_tenant('{a}')"),
        format!("UPDATE vital.tenants SET status = 'suspended' WHERE id = '{a}'"),
        "INSERT INTO vital.tenants (id, slug, name) VALUES (gen_random_uuid(), 'evil', 'Evil')".to_string(),
        format!("DELETE FROM vital.tenants WHERE id = '{a}'"),
    ];
    for attempt in &attempts {
        assert_eq!(
            sqlstate(s.batch_execute(attempt)),
            "42501",
            "{attempt} was not refused"
        );
    }
    // The registry is not even readable (one customer must not list the others); the public
    // lookups are allowed.
    assert_eq!(
        sqlstate(s.query("SELECT count(*) FROM vital.tenants", &[])),
        "42501"
    );
    let platform: String = s
        .query_one("SELECT vital.platform_tenant()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(platform, "00000000-0000-0000-0000-000000000001");
}
