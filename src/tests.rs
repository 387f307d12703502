//! Single-session behaviour, run inside the server by `cargo pgrx test`.
//! Multi-session behaviour lives in `tests/` (integration tests over real connections).

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use pgrx::Uuid;

    fn one<T: pgrx::IntoDatum + pgrx::FromDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).expect("query failed")
    }

    /// Runs `sql` in a subtransaction and returns the SQLSTATE it failed with, or "none".
    fn sqlstate_of(sql: &str) -> String {
        Spi::run(&format!(
            "DO $vital_test$ BEGIN \
               PERFORM set_config('vital_test.sqlstate', 'none', true); \
               BEGIN EXECUTE {}; \
               EXCEPTION WHEN OTHERS THEN PERFORM set_config('vital_test.sqlstate', SQLSTATE, true); \
               END; \
             END $vital_test$",
            pgrx::spi::quote_literal(sql)
        ))
        .expect("DO block failed");
        one::<String>("SELECT current_setting('vital_test.sqlstate')").unwrap()
    }

    /// With prepared transactions enabled (this test cluster runs with 2), a tenant's
    /// PREPARE TRANSACTION can keep its locks after it disconnects: audit() warns.
    #[pg_test]
    fn audit_warns_about_prepared_transactions() {
        assert_eq!(
            one::<String>(
                "SELECT severity || ': ' || left(problem, 5) FROM vital.audit()
                  WHERE object = 'setting max_prepared_transactions'"
            )
            .as_deref(),
            Some("warning: is 2:")
        );
    }

    /// A timeout set in postgresql.conf (this cluster: lock_timeout = 5s) counts for every
    /// role; one set nowhere is reported.
    #[pg_test]
    fn audit_reads_timeouts_from_the_server_configuration() {
        Spi::run(
            "CREATE ROLE audit_timeouts_app LOGIN;
             CREATE TABLE audit_timeouts (id int);
             SELECT vital.register_table('audit_timeouts');
             GRANT SELECT ON audit_timeouts TO audit_timeouts_app;",
        )
        .unwrap();
        let findings = one::<String>(
            "SELECT string_agg(left(problem, 42), ' | ' ORDER BY problem) FROM vital.audit()
              WHERE object = 'role audit_timeouts_app' AND problem LIKE 'has no %'",
        );
        assert_eq!(
            findings.as_deref(),
            Some("has no idle_in_transaction_session_timeout")
        );
    }

    #[pg_test]
    fn platform_tenant_is_created_by_create_extension() {
        assert_eq!(
            one::<String>("SELECT slug FROM vital.tenants WHERE id = vital.platform_tenant()").as_deref(),
            Some("platform")
        );
        assert_eq!(
            one::<Uuid>("SELECT vital.platform_tenant()").unwrap().to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }

    #[pg_test]
    fn create_tenant_then_look_it_up_by_slug() {
        let id = one::<Uuid>("SELECT vital.create_tenant('acme', 'Acme Corp')").unwrap();
        assert_eq!(one::<Uuid>("SELECT vital.tenant_id('acme')").unwrap(), id);
        assert_eq!(
            one::<String>("SELECT status FROM vital.tenants WHERE slug = 'acme'").as_deref(),
            Some("active")
        );
    }

    #[pg_test]
    fn create_tenant_keeps_a_given_id() {
        let id = one::<Uuid>(
            "SELECT vital.create_tenant('dhs', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111')",
        )
        .unwrap();
        assert_eq!(id.to_string(), "11111111-1111-1111-1111-111111111111");
    }

    #[pg_test]
    fn create_tenant_rejects_bad_input_with_sqlstates() {
        one::<Uuid>("SELECT vital.create_tenant('taken', 'Taken')");
        assert_eq!(
            sqlstate_of("SELECT vital.create_tenant('taken', 'Again')"),
            "23505"
        );
        assert_eq!(
            sqlstate_of("SELECT vital.create_tenant('Bad Slug', 'x')"),
            "22023"
        );
        assert_eq!(sqlstate_of("SELECT vital.create_tenant('', 'x')"), "22023");
        assert_eq!(
            sqlstate_of(&format!("SELECT vital.create_tenant('{}', 'x')", "a".repeat(64))),
            "22023"
        );
        assert_eq!(sqlstate_of("SELECT vital.create_tenant(NULL, 'x')"), "22004");
        assert_eq!(sqlstate_of("SELECT vital.create_tenant('ok', '  ')"), "22023");
        assert_eq!(
            sqlstate_of("SELECT vital.create_tenant('dup-id', 'x', '00000000-0000-0000-0000-000000000001')"),
            "23505"
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM vital.tenants"), Some(2));
    }

    #[pg_test]
    fn set_tenant_makes_it_current_and_clear_removes_it() {
        let id = one::<Uuid>("SELECT vital.create_tenant('t1', 'T1')").unwrap();
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), None);
        assert_eq!(one::<Uuid>(&format!("SELECT vital.set_tenant('{id}')")), Some(id));
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), Some(id));
        Spi::run("SELECT vital.clear_tenant()").unwrap();
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), None);
    }

    #[pg_test]
    fn failed_set_tenant_keeps_the_previous_tenant() {
        let id = one::<Uuid>("SELECT vital.create_tenant('keep', 'Keep')").unwrap();
        Spi::run(&format!("SELECT vital.set_tenant('{id}')")).unwrap();
        assert_eq!(
            sqlstate_of("SELECT vital.set_tenant('99999999-9999-9999-9999-999999999999')"),
            "42704"
        );
        assert_eq!(sqlstate_of("SELECT vital.set_tenant(NULL)"), "22004");
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), Some(id));
    }

    #[pg_test]
    fn suspended_tenant_cannot_be_set_and_current_one_loses_access() {
        let id = one::<Uuid>("SELECT vital.create_tenant('sus', 'Sus')").unwrap();
        Spi::run(&format!("SELECT vital.set_tenant('{id}')")).unwrap();
        Spi::run(&format!("SELECT vital.suspend_tenant('{id}')")).unwrap();
        assert_eq!(sqlstate_of("SELECT vital.current_tenant()"), "55000");
        assert_eq!(sqlstate_of(&format!("SELECT vital.set_tenant('{id}')")), "55000");
        Spi::run(&format!("SELECT vital.resume_tenant('{id}')")).unwrap();
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), Some(id));
    }

    #[pg_test]
    fn platform_tenant_cannot_be_suspended() {
        assert_eq!(
            sqlstate_of("SELECT vital.suspend_tenant(vital.platform_tenant())"),
            "55000"
        );
        assert_eq!(
            one::<String>("SELECT status FROM vital.tenants WHERE slug = 'platform'").as_deref(),
            Some("active")
        );
    }

    #[pg_test]
    fn current_tenant_is_stable_and_parallel_safe_never_immutable() {
        assert_eq!(
            one::<String>(
                "SELECT provolatile::text || proparallel::text FROM pg_proc \
                 WHERE oid = 'vital.current_tenant()'::regprocedure"
            )
            .as_deref(),
            Some("ss")
        );
    }

    #[pg_test]
    fn empty_setting_means_no_tenant() {
        Spi::run("SET vital.tenant = ''").unwrap();
        assert_eq!(one::<Uuid>("SELECT vital.current_tenant()"), None);
    }

    #[pg_test]
    fn malformed_setting_is_refused_even_for_superusers() {
        assert_eq!(sqlstate_of("SET vital.tenant = 'not-a-uuid'"), "22023");
    }

    #[pg_test]
    fn unknown_tenant_id_and_slug_are_errors() {
        assert_eq!(sqlstate_of("SELECT vital.tenant_id('nobody')"), "42704");
        assert_eq!(
            sqlstate_of("SELECT vital.suspend_tenant('99999999-9999-9999-9999-999999999999')"),
            "42704"
        );
    }

    /// What distribute() and undistribute() refuse to run as a superuser while Citus copies
    /// rows: every kind of code a written row meets, when a non-superuser owns it; not the
    /// superuser's own functions.
    #[pg_test]
    fn untrusted_functions_are_every_kind_of_code_a_written_row_meets() {
        Spi::run(
            "CREATE ROLE vital_test_code_owner;
             GRANT CREATE ON SCHEMA public TO vital_test_code_owner;
             CREATE FUNCTION trusted_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             SET ROLE vital_test_code_owner;
             CREATE FUNCTION in_check(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 > 0';
             CREATE FUNCTION in_index(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT lower($1)';
             CREATE FUNCTION in_partial_index(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 > 1';
             CREATE FUNCTION in_domain(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 < 100';
             CREATE FUNCTION in_generated(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
             CREATE FUNCTION in_operator(int, int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 <> $2';
             CREATE OPERATOR <~> (FUNCTION = in_operator, LEFTARG = int, RIGHTARG = int);
             CREATE FUNCTION in_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE DOMAIN small AS int CHECK (in_domain(VALUE));
             CREATE TABLE code_everywhere (
                 a int CHECK (in_check(a)), b text, c small, d int GENERATED ALWAYS AS (in_generated(a)) STORED,
                 e int CHECK (e <~> 7));
             CREATE INDEX ON code_everywhere (in_index(b));
             CREATE INDEX ON code_everywhere (a) WHERE in_partial_index(a);
             CREATE TRIGGER own BEFORE INSERT ON code_everywhere FOR EACH ROW EXECUTE FUNCTION in_trigger();
             RESET ROLE;
             CREATE TRIGGER trusted BEFORE INSERT ON code_everywhere FOR EACH ROW EXECUTE FUNCTION trusted_trigger();",
        )
        .unwrap();
        let table = one::<pg_sys::Oid>("SELECT 'code_everywhere'::regclass::oid").unwrap();
        let found = crate::owner_code::untrusted_functions(table);
        let owned = |f: &str| format!("public.{f} (owned by vital_test_code_owner)");
        assert_eq!(
            found,
            [
                "in_check(integer)",
                "in_domain(integer)",
                "in_generated(integer)",
                "in_index(text)",
                "in_operator(integer, integer)",
                "in_partial_index(integer)",
                "in_trigger()",
            ]
            .map(owned)
        );
    }

    /// This test instance does not preload the library: monitoring says what it needs.
    #[pg_test]
    fn tenant_stats_without_preloading_say_what_they_need() {
        for call in [
            "SELECT count(*) FROM vital.tenant_stats()",
            "SELECT vital.tenant_stats_reset()",
        ] {
            assert_eq!(sqlstate_of(call), "55000", "{call}");
        }
        // Sizes need no shared memory.
        assert_eq!(sqlstate_of("SELECT count(*) FROM vital.tenant_sizes()"), "none");
    }
}
