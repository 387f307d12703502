//! Allowances under real role setups (sql-api.md, "The current tenant"): membership chains,
//! `SET ROLE`, `SECURITY DEFINER`, revocation and suspension reaching running sessions and
//! parallel workers, who may read the tenant registry, and the error of a write with no tenant.

mod common;

use common::*;
use postgres::Client;

/// A restricted application role allowed `allowed` (and a second tenant, so that revoking one
/// allowance leaves it restricted), with a notes table holding one row per tenant.
struct Setup {
    schema: String,
    restricted: String,
    allowed: String,
    other: String,
    spare: String,
}

fn setup(admin: &mut Client, prefix: &str) -> Setup {
    let schema = test_schema(admin, prefix);
    let allowed = create_tenant(admin, &format!("{prefix}-a"));
    let other = create_tenant(admin, &format!("{prefix}-b"));
    let spare = create_tenant(admin, &format!("{prefix}-c"));
    notes_table(
        admin,
        &schema,
        true,
        &[(&allowed, "allowed"), (&other, "other"), (&spare, "spare")],
    );
    let restricted = unique_slug(&format!("{prefix}_app")).replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {restricted} NOLOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {restricted};
             GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.notes TO {restricted};
             SELECT vital.allow_tenant('{restricted}', '{allowed}');
             SELECT vital.allow_tenant('{restricted}', '{spare}');"
        ))
        .unwrap();
    Setup {
        schema,
        restricted,
        allowed,
        other,
        spare,
    }
}

fn login_role(admin: &mut Client, prefix: &str, options: &str) -> String {
    let role = unique_slug(prefix).replace('-', "_");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS {options}"
        ))
        .unwrap();
    role
}

fn set_tenant_state(client: &mut Client, tenant: &str) -> String {
    sqlstate(client.execute("SELECT vital.set_tenant($1::text::uuid)", &[&tenant]))
}

/// A member of a restricted role, and a member of that member, are restricted too.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn members_of_a_restricted_role_are_restricted_through_any_chain() {
    let mut admin = superuser();
    let s = setup(&mut admin, "memb");
    let alice = login_role(&mut admin, "alice", &format!("IN ROLE {}", s.restricted));
    let bob = login_role(&mut admin, "bob", &format!("IN ROLE {alice}"));
    for role in [&alice, &bob] {
        let mut c = connect_as(role);
        assert_eq!(
            set_tenant_state(&mut c, &s.other),
            "42501",
            "{role} set a disallowed tenant"
        );
        assert_eq!(current_tenant(&mut c), None);
        assert_eq!(
            set_tenant_state(&mut c, &s.allowed),
            "none",
            "{role} could not set its tenant"
        );
        assert_eq!(
            texts(&mut c, &format!("SELECT body FROM {}.notes", s.schema)),
            ["allowed note", "platform note"]
        );
    }
    // A member with NOINHERIT does not have the role's privileges, so it is not restricted
    // as itself; the moment it takes the role on (SET ROLE), it is.
    let carol = login_role(&mut admin, "carol", "NOINHERIT");
    admin
        .batch_execute(&format!(
            "GRANT {} TO {carol}; GRANT USAGE ON SCHEMA {} TO {carol}",
            s.restricted, s.schema
        ))
        .unwrap();
    let mut c = connect_as(&carol);
    assert_eq!(set_tenant_state(&mut c, &s.other), "none");
    c.batch_execute(&format!("SET ROLE {}", s.restricted)).unwrap();
    let state = sqlstate(c.query(&format!("SELECT body FROM {}.notes", s.schema), &[]));
    assert_eq!(
        state, "42501",
        "SET ROLE to the restricted role kept the disallowed tenant"
    );
}

/// A tenant set first, then `SET ROLE` (also `SET LOCAL ROLE` inside a transaction): the next
/// statement checks the new current user.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn set_role_after_set_tenant_is_checked_at_the_next_statement() {
    let mut admin = superuser();
    let s = setup(&mut admin, "setrole");
    let login = login_role(&mut admin, "login", "NOINHERIT");
    admin
        .batch_execute(&format!("GRANT {} TO {login}", s.restricted))
        .unwrap();
    let notes = format!("SELECT body FROM {}.notes", s.schema);

    let mut c = connect_as(&login);
    assert_eq!(set_tenant_state(&mut c, &s.other), "none");
    c.batch_execute(&format!("SET ROLE {}", s.restricted)).unwrap();
    assert_eq!(sqlstate(c.query(&notes, &[])), "42501");
    assert_eq!(sqlstate(c.query("SELECT vital.current_tenant()", &[])), "42501");
    c.batch_execute("RESET ROLE").unwrap();
    assert_eq!(current_tenant(&mut c).as_deref(), Some(s.other.as_str()));

    let mut c = connect_as(&login);
    let state = sqlstate(c.batch_execute(&format!(
        "BEGIN; SELECT vital.set_tenant('{}', true); SET LOCAL ROLE {}; {notes}; COMMIT",
        s.other, s.restricted
    )));
    let _ = c.batch_execute("ROLLBACK");
    assert_eq!(
        state, "42501",
        "SET LOCAL ROLE inside the transaction kept the tenant"
    );
    // Its own allowed tenant is fine under the role.
    c.batch_execute(&format!(
        "BEGIN; SELECT vital.set_tenant('{}', true); SET LOCAL ROLE {}; {notes}; COMMIT",
        s.allowed, s.restricted
    ))
    .unwrap();
}

/// A SECURITY DEFINER function owned by a restricted role runs as that role: reading a
/// registered table inside it in a tenant the role may not use is refused.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn security_definer_function_of_a_restricted_role_is_checked_as_its_owner() {
    let mut admin = superuser();
    let s = setup(&mut admin, "secdef");
    let function = format!("{}.count_notes", s.schema);
    admin
        .batch_execute(&format!(
            "GRANT CREATE ON SCHEMA {schema} TO {r};
             SET ROLE {r};
             CREATE FUNCTION {function}() RETURNS bigint SECURITY DEFINER LANGUAGE sql
                 SET search_path = pg_catalog AS 'SELECT count(*) FROM {schema}.notes';
             RESET ROLE;
             GRANT EXECUTE ON FUNCTION {function}() TO {APP_ROLE};",
            schema = s.schema,
            r = s.restricted
        ))
        .unwrap();
    let mut c = app();
    set_tenant(&mut c, &s.other);
    let state = sqlstate(c.query(&format!("SELECT {function}()"), &[]));
    assert_eq!(
        state, "42501",
        "the restricted owner's function read another tenant"
    );
    set_tenant(&mut c, &s.allowed);
    let n: i64 = c.query_one(&format!("SELECT {function}()"), &[]).unwrap().get(0);
    assert_eq!(n, 2, "its own tenant's row and the platform's");
}

/// disallow_tenant reaches a session already in that tenant at its next statement; resuming
/// the allowance lets it in again.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn revoking_an_allowance_stops_a_session_already_in_the_tenant() {
    let mut admin = superuser();
    let s = setup(&mut admin, "revoke");
    let login = login_role(&mut admin, "rev", &format!("IN ROLE {}", s.restricted));
    let mut c = connect_as(&login);
    assert_eq!(set_tenant_state(&mut c, &s.allowed), "none");
    let notes = format!("SELECT body FROM {}.notes", s.schema);
    assert_eq!(c.query(&notes, &[]).unwrap().len(), 2);
    admin
        .batch_execute(&format!(
            "SELECT vital.disallow_tenant('{}', '{}')",
            s.restricted, s.allowed
        ))
        .unwrap();
    assert_eq!(sqlstate(c.query(&notes, &[])), "42501");
    assert_eq!(
        sqlstate(c.execute(&format!("INSERT INTO {}.notes VALUES (99, 'x')", s.schema), &[])),
        "42501"
    );
    admin
        .batch_execute(&format!(
            "SELECT vital.allow_tenant('{}', '{}')",
            s.restricted, s.allowed
        ))
        .unwrap();
    assert_eq!(c.query(&notes, &[]).unwrap().len(), 2);
    // Its other allowed tenant stays usable throughout.
    assert_eq!(set_tenant_state(&mut c, &s.spare), "none");
}

fn force_parallel(client: &mut Client) {
    client
        .batch_execute(
            "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
             SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
             SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                                     THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false);
             SET parallel_leader_participation = off;
             SET plan_cache_mode = force_generic_plan;",
        )
        .unwrap();
}

/// A parallel plan after suspension and after revocation: the workers check for themselves,
/// and the error has a proper SQLSTATE (55000, 42501), never XX000.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn parallel_plans_stop_after_suspension_and_after_revocation() {
    let mut admin = superuser();
    let s = setup(&mut admin, "par");
    admin
        .batch_execute(&format!(
            "INSERT INTO {}.notes (id, body, tenant_id) SELECT g, 'bulk', '{}' FROM generate_series(100, 5000) g;
             ANALYZE {}.notes;",
            s.schema, s.allowed, s.schema
        ))
        .unwrap();
    let login = login_role(&mut admin, "par", &format!("IN ROLE {}", s.restricted));
    let mut c = connect_as(&login);
    force_parallel(&mut c);
    assert_eq!(set_tenant_state(&mut c, &s.allowed), "none");
    c.batch_execute(&format!(
        "PREPARE n AS SELECT count(*) FROM {}.notes WHERE body <> 'x'",
        s.schema
    ))
    .unwrap();
    // EXPLAIN is refused to the login (statement_guard.rs): the owner, under the same forced
    // policies and settings, shows the plan is parallel.
    let mut owner = owner_of_table(&mut admin, &format!("{}.notes", s.schema));
    force_parallel(&mut owner);
    assert_eq!(set_tenant_state(&mut owner, &s.allowed), "none");
    assert_eq!(
        sqlstate(c.query("EXPLAIN EXECUTE n", &[])),
        "42501",
        "EXPLAIN by a restricted login"
    );
    let plan: Vec<String> = owner
        .query(
            &format!(
                "EXPLAIN SELECT count(*) FROM {}.notes WHERE body <> 'x'",
                s.schema
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("Gather")),
        "not a parallel plan: {plan:?}"
    );
    let n: i64 = c.query_one("EXECUTE n", &[]).unwrap().get(0);
    assert_eq!(n, 4903, "its note, its 4,901 bulk rows and the platform's note");

    admin
        .execute("SELECT vital.suspend_tenant($1::text::uuid)", &[&s.allowed])
        .unwrap();
    assert_eq!(
        sqlstate(c.query("EXECUTE n", &[])),
        "55000",
        "suspended tenant read in parallel"
    );
    admin
        .execute("SELECT vital.resume_tenant($1::text::uuid)", &[&s.allowed])
        .unwrap();
    let _: i64 = c.query_one("EXECUTE n", &[]).unwrap().get(0);

    admin
        .batch_execute(&format!(
            "SELECT vital.disallow_tenant('{}', '{}')",
            s.restricted, s.allowed
        ))
        .unwrap();
    assert_eq!(
        sqlstate(c.query("EXECUTE n", &[])),
        "42501",
        "revoked tenant read in parallel"
    );
}

/// The tenant registry is not readable by PUBLIC, and tenant_id(slug) answers a restricted
/// role only for its own tenants (any other slug looks unknown).
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn one_customer_cannot_list_or_look_up_the_others() {
    let mut admin = superuser();
    let s = setup(&mut admin, "list");
    let mut c = app();
    assert_eq!(sqlstate(c.query("SELECT slug FROM vital.tenants", &[])), "42501");
    let login = login_role(&mut admin, "lister", &format!("IN ROLE {}", s.restricted));
    let mut c = connect_as(&login);
    assert_eq!(sqlstate(c.query("SELECT slug FROM vital.tenants", &[])), "42501");
    let slug = |admin: &mut Client, id: &str| -> String {
        admin
            .query_one("SELECT slug FROM vital.tenants WHERE id = $1::text::uuid", &[&id])
            .unwrap()
            .get(0)
    };
    let allowed_slug = slug(&mut admin, &s.allowed);
    let other_slug = slug(&mut admin, &s.other);
    let id: String = c
        .query_one("SELECT vital.tenant_id($1)::text", &[&allowed_slug])
        .unwrap()
        .get(0);
    assert_eq!(id, s.allowed);
    let other = sqlstate(c.query("SELECT vital.tenant_id($1)", &[&other_slug]));
    let unknown = sqlstate(c.query("SELECT vital.tenant_id('no-such-tenant-anywhere')", &[]));
    assert_eq!(
        other, unknown,
        "another tenant's slug is told apart from an unknown one"
    );
    assert_eq!(other, "42704");
}

/// A write with no tenant set fails with an error that names vital.set_tenant.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_write_without_a_tenant_says_to_call_set_tenant() {
    let mut admin = superuser();
    let s = setup(&mut admin, "notenant");
    let mut c = app();
    for statement in [
        format!("INSERT INTO {}.notes VALUES (77, 'x')", s.schema),
        format!("UPDATE {}.notes SET body = 'y'", s.schema),
        format!("DELETE FROM {}.notes", s.schema),
    ] {
        let error = c.batch_execute(&statement).unwrap_err();
        let db = error.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "42501", "{statement}");
        let text = format!("{} {}", db.message(), db.hint().unwrap_or(""));
        assert!(text.contains("vital.set_tenant"), "{statement}: {text}");
    }
    // Reads with no tenant still see the platform's shared rows, and nothing else.
    assert_eq!(
        texts(&mut c, &format!("SELECT body FROM {}.notes", s.schema)),
        ["platform note"]
    );
}
