//! The invariants of registered tables, kept whatever command tries to break them
//! (sql-api.md, "Registered tables"): every side door found in review, and its variants, tried
//! by the tables' owner (a non-superuser) or a superuser where only one can, each refused with
//! nothing changed; tables arriving in a registered schema; partition bookkeeping; drops.

mod common;

use common::*;
use postgres::Client;

const OWNER: &str = "vital_it_owner";

/// A schema with `cats` and `tools` (tools.cat references cats) owned by a non-superuser
/// owner, both registered; `owner_log` is an unregistered table of the owner's.
fn owned_tables(admin: &mut Client, prefix: &str) -> String {
    let s = test_schema(admin, prefix);
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN
               CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOBYPASSRLS;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             GRANT USAGE, CREATE ON SCHEMA {s} TO {OWNER};
             SET ROLE {OWNER};
             CREATE TABLE {s}.cats (id int PRIMARY KEY, name text);
             CREATE TABLE {s}.tools (id int PRIMARY KEY, cat int REFERENCES {s}.cats, name text);
             CREATE TABLE {s}.owner_log (id int, cat int, name text, tenant_id uuid);
             CREATE TABLE {s}.owner_parent (id int, cat int, name text, tenant_id uuid);
             CREATE TABLE {s}.owner_tree (id int, cat int, name text, tenant_id uuid) PARTITION BY RANGE (id);
             RESET ROLE;
             SELECT vital.register_table('{s}.cats');
             SELECT vital.register_table('{s}.tools');"
        ))
        .unwrap();
    s
}

/// Everything an invariant is about, as one comparable text: the common fingerprint plus how
/// each trigger is enabled, the rules, and dependencies on extensions.
fn state(client: &mut Client, table: &str) -> String {
    let extra: String = client
        .query_one(
            "SELECT concat_ws(E'\\n',
               (SELECT string_agg(format('trg %s %s', tgname, tgenabled), E'\\n' ORDER BY tgname)
                  FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal),
               (SELECT string_agg(format('rule %s', rulename), E'\\n' ORDER BY rulename)
                  FROM pg_rewrite WHERE ev_class = $1::text::regclass),
               (SELECT string_agg(format('pol %s %s %s', polname, polpermissive, polroles::text), E'\\n' ORDER BY polname)
                  FROM pg_policy WHERE polrelid = $1::text::regclass),
               (SELECT string_agg(format('dep %s %s', classid::regclass, objid), E'\\n' ORDER BY objid)
                  FROM pg_depend WHERE deptype = 'x'),
               (SELECT string_agg(format('inh %s', inhparent::regclass), E'\\n')
                  FROM pg_inherits WHERE inhrelid = $1::text::regclass))",
            &[&table],
        )
        .unwrap()
        .get(0);
    format!("{}\n{extra}", table_fingerprint(client, table))
}

fn guard_of(client: &mut Client, table: &str) -> String {
    client
        .query_one(
            "SELECT tgname::text FROM pg_trigger
              WHERE tgrelid = $1::text::regclass AND tgfoid = 'vital.fk_guard()'::regprocedure",
            &[&table],
        )
        .unwrap()
        .get(0)
}

fn tenant_index_of(client: &mut Client, table: &str) -> String {
    client
        .query_one(
            "SELECT indexrelid::regclass::text FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid = $1::text::regclass AND a.attname = 'tenant_id' AND NOT i.indisunique",
            &[&table],
        )
        .unwrap()
        .get(0)
}

/// Runs each statement, expects one of `codes`, and the table's state unchanged.
fn assert_refused(client: &mut Client, table: &str, statements: &[String], codes: &[&str]) {
    for statement in statements {
        let before = state(client, table);
        let result = client.batch_execute(statement);
        let code = sqlstate(result);
        // A refused statement inside BEGIN ... COMMIT leaves the transaction aborted.
        client.batch_execute("ROLLBACK").unwrap();
        assert!(
            codes.contains(&code.as_str()),
            "{statement}\n  gave {code:?}, expected one of {codes:?}"
        );
        assert_eq!(state(client, table), before, "{statement} changed the table");
    }
}

fn registered(client: &mut Client, table: &str) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM vital.registered_tables WHERE relid::text = $1)",
            &[&table],
        )
        .unwrap()
        .get(0)
}

/// Every ALTER form that can rename, retype or loosen `tenant_id`, run by the owner.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn tenant_column_cannot_be_renamed_loosened_or_redefaulted() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_col");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let statements: Vec<String> = [
        // The side door from review: rename through ALTER VIEW, loosen, rename back.
        "BEGIN; ALTER VIEW {t} RENAME COLUMN tenant_id TO tid; ALTER TABLE {t} ALTER COLUMN tid DROP NOT NULL; \
         ALTER VIEW {t} RENAME COLUMN tid TO tenant_id; COMMIT",
        "ALTER VIEW {t} RENAME COLUMN tenant_id TO tid",
        "ALTER MATERIALIZED VIEW {t} RENAME COLUMN tenant_id TO tid",
        "ALTER FOREIGN TABLE {t} RENAME COLUMN tenant_id TO tid",
        "ALTER TABLE {t} RENAME COLUMN tenant_id TO tid",
        "ALTER TABLE {t} RENAME tenant_id TO tid",
        "ALTER TABLE {t} ALTER COLUMN tenant_id DROP NOT NULL",
        "ALTER TABLE {t} ALTER COLUMN tenant_id DROP DEFAULT",
        "ALTER TABLE {t} ALTER COLUMN tenant_id SET DEFAULT NULL",
        "ALTER TABLE {t} ALTER COLUMN tenant_id SET DEFAULT '00000000-0000-0000-0000-000000000001'",
        "ALTER TABLE {t} ALTER COLUMN tenant_id SET DEFAULT gen_random_uuid()",
        "ALTER TABLE {t} DROP COLUMN tenant_id CASCADE",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t))
    .collect();
    assert_refused(&mut owner, &t, &statements, &["55000"]);
    // PostgreSQL's own dependency checks refuse these before vital is asked.
    let refused_by_postgres: Vec<String> = [
        "ALTER TABLE {t} DROP COLUMN tenant_id",
        "ALTER TABLE {t} ALTER COLUMN tenant_id TYPE text",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t))
    .collect();
    assert_refused(&mut owner, &t, &refused_by_postgres, &["2BP01", "0A000"]);
}

/// Policies: another PERMISSIVE policy of any command or role, vital's policies altered,
/// renamed or dropped, and row level security turned off: all refused. RESTRICTIVE is fine.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn policies_and_row_level_security_stay_as_vital_made_them() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_pol");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let statements: Vec<String> = [
        "CREATE POLICY open ON {t} USING (true)",
        "CREATE POLICY open ON {t} FOR SELECT USING (true)",
        "CREATE POLICY open ON {t} FOR INSERT WITH CHECK (true)",
        "CREATE POLICY open ON {t} FOR UPDATE USING (true)",
        "CREATE POLICY open ON {t} FOR DELETE USING (true)",
        "CREATE POLICY open ON {t} AS PERMISSIVE TO {OWNER} USING (true)",
        "CREATE POLICY vital_extra ON {t} AS PERMISSIVE USING (true)",
        "ALTER POLICY vital_select ON {t} USING (true)",
        "ALTER POLICY vital_select ON {t} TO {OWNER}",
        "ALTER POLICY vital_insert ON {t} WITH CHECK (true)",
        "ALTER POLICY vital_update ON {t} RENAME TO other",
        "DROP POLICY vital_delete ON {t}",
        "ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
        "BEGIN; CREATE POLICY narrow ON {t} AS RESTRICTIVE USING (true); \
         ALTER POLICY narrow ON {t} RENAME TO wide; CREATE POLICY open ON {t} USING (true); COMMIT",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t).replace("{OWNER}", OWNER))
    .collect();
    assert_refused(&mut owner, &t, &statements, &["55000"]);

    // A restrictive policy only narrows: allowed, and so is dropping it again.
    owner
        .batch_execute(&format!(
            "CREATE POLICY positive ON {t} AS RESTRICTIVE USING (id > 0);
             ALTER POLICY positive ON {t} USING (id >= 0);
             DROP POLICY positive ON {t};"
        ))
        .unwrap();
}

/// Rules of every event, in every form, are refused: a rule runs its own commands on every
/// access (the review's rule copied every row another tenant's insert could see).
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn no_rule_of_any_event_can_be_put_on_a_registered_table() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_rule");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let log = format!("{s}.owner_log");
    let statements: Vec<String> = [
        "CREATE RULE zz AS ON INSERT TO {t} DO ALSO INSERT INTO {log} SELECT id, cat, name, tenant_id FROM {t}",
        "CREATE RULE zz AS ON INSERT TO {t} DO INSTEAD NOTHING",
        "CREATE RULE zz AS ON UPDATE TO {t} DO ALSO INSERT INTO {log} VALUES (OLD.id, OLD.cat, OLD.name, OLD.tenant_id)",
        "CREATE RULE zz AS ON DELETE TO {t} DO ALSO INSERT INTO {log} VALUES (OLD.id, OLD.cat, OLD.name, OLD.tenant_id)",
        "CREATE RULE zz AS ON DELETE TO {t} WHERE OLD.id > 0 DO INSTEAD NOTHING",
        "CREATE OR REPLACE RULE zz AS ON INSERT TO {t} DO ALSO NOTIFY tools",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t).replace("{log}", &log))
    .collect();
    assert_refused(&mut owner, &t, &statements, &["55000"]);
    // ON SELECT rules are refused by PostgreSQL itself on a table with rows or RLS.
    let on_select = vec![format!(
        "CREATE RULE \"_RETURN\" AS ON SELECT TO {t} DO INSTEAD SELECT * FROM {log}"
    )];
    assert_refused(&mut owner, &t, &on_select, &["55000", "0A000", "42P17", "42809"]);
}

/// vital's triggers stay present and enabled in the normal way ('O'), under their names.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn vitals_triggers_stay_enabled_in_the_normal_way() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_trg");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let guard = guard_of(&mut owner, &t);
    // The compat column's triggers are vital's too: one on the table, one on the lookup.
    admin
        .batch_execute(&format!(
            "SELECT vital.create_compat_column('{t}', 'category', 'cat', '{s}.cats', 'name')"
        ))
        .unwrap();
    let cats = format!("{s}.cats");
    let compat_statements = vec![
        format!("ALTER TABLE {t} ENABLE REPLICA TRIGGER vital_compat_category"),
        format!("ALTER TABLE {t} DISABLE TRIGGER vital_compat_category"),
        format!("DROP TRIGGER vital_compat_category ON {t}"),
    ];
    assert_refused(&mut owner, &t, &compat_statements, &["55000"]);
    let lookup_statements = vec![
        format!("ALTER TABLE {cats} ENABLE ALWAYS TRIGGER vital_compat_tools_category"),
        format!("ALTER TABLE {cats} DISABLE TRIGGER vital_compat_tools_category"),
    ];
    assert_refused(&mut owner, &cats, &lookup_statements, &["55000"]);
    let statements: Vec<String> = [
        "ALTER TABLE {t} ENABLE REPLICA TRIGGER {g}",
        "ALTER TABLE {t} ENABLE ALWAYS TRIGGER {g}",
        "ALTER TABLE {t} DISABLE TRIGGER {g}",
        "ALTER TABLE {t} DISABLE TRIGGER USER",
        "ALTER TABLE {t} DISABLE TRIGGER ALL",
        "DROP TRIGGER {g} ON {t}",
        "ALTER TRIGGER {g} ON {t} RENAME TO not_vitals",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t).replace("{g}", &guard))
    .collect();
    // DISABLE TRIGGER ALL and ENABLE ... ALL touch PostgreSQL's own foreign-key triggers,
    // which only a superuser may change: 42501 for the owner, 55000 for a superuser below.
    assert_refused(&mut owner, &t, &statements, &["55000", "42501"]);
    assert_refused(&mut admin, &t, &statements, &["55000"]);

    // With the guard enabled, the review's attack stays refused: a reference to a category
    // of another tenant is a missing row.
    let a = create_tenant(&mut admin, "inv-trg-a");
    let b = create_tenant(&mut admin, "inv-trg-b");
    admin
        .batch_execute(&format!(
            "GRANT SELECT, INSERT ON {s}.cats, {s}.tools TO {OWNER};
             BEGIN; SELECT vital.set_tenant('{a}', true); INSERT INTO {s}.cats VALUES (10, 'a'); COMMIT;"
        ))
        .unwrap();
    set_tenant(&mut owner, &b);
    let code = sqlstate(owner.batch_execute(&format!("INSERT INTO {t} (id, cat) VALUES (1, 10)")));
    assert_eq!(code, "23503");
}

/// Nothing of vital's may be tied to another extension's lifetime: DEPENDS ON EXTENSION on the
/// guard, the tenant index, a scoped unique index, or one of vital's functions.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn nothing_of_vitals_depends_on_another_extension() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_dep");
    admin
        .batch_execute("CREATE EXTENSION IF NOT EXISTS citext")
        .unwrap();
    let t = format!("{s}.tools");
    let guard = guard_of(&mut admin, &t);
    let index = tenant_index_of(&mut admin, &t);
    let statements: Vec<String> = [
        "ALTER TRIGGER {g} ON {t} DEPENDS ON EXTENSION citext",
        "ALTER INDEX {i} DEPENDS ON EXTENSION citext",
        "BEGIN; ALTER INDEX {i} DEPENDS ON EXTENSION citext; DROP EXTENSION citext CASCADE; COMMIT",
        "ALTER FUNCTION vital.fk_guard() DEPENDS ON EXTENSION citext",
        "ALTER FUNCTION vital.current_tenant() DEPENDS ON EXTENSION citext",
    ]
    .iter()
    .map(|x| x.replace("{t}", &t).replace("{g}", &guard).replace("{i}", &index))
    .collect();
    // Marking dependencies needs a superuser (or the objects' owner): try it as the strongest.
    assert_refused(&mut admin, &t, &statements, &["55000"]);
    let deps: i64 = admin
        .query_one("SELECT count(*) FROM pg_depend WHERE deptype = 'x'", &[])
        .unwrap()
        .get(0);
    assert_eq!(deps, 0);
    // The extension can still be dropped: it takes nothing of vital's with it.
    admin.batch_execute("DROP EXTENSION citext").unwrap();
    assert_eq!(guard_of(&mut admin, &t), guard);
}

/// The tenant index cannot be dropped, also not concurrently or through a cascade; dropping
/// another index, or the tenant index when a second one leads with tenant_id, is fine.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn the_tenant_index_stays() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_idx");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let index = tenant_index_of(&mut owner, &t);
    let statements = vec![
        format!("DROP INDEX {index}"),
        format!("DROP INDEX CONCURRENTLY {index}"),
        format!("DROP INDEX {index} CASCADE"),
    ];
    assert_refused(&mut owner, &t, &statements, &["55000"]);
    owner
        .batch_execute(&format!(
            "CREATE INDEX tools_by_name ON {t} (name); DROP INDEX {s}.tools_by_name;
             CREATE INDEX tools_by_tenant_and_name ON {t} (tenant_id, name); DROP INDEX {index};"
        ))
        .unwrap();
    let problems: i64 = admin
        .query_one(
            "SELECT count(*) FROM vital.audit() WHERE object LIKE '%' || $1 || '%' AND severity <> 'info'",
            &[&s],
        )
        .unwrap()
        .get(0);
    assert_eq!(problems, 0, "an index leading with tenant_id is a tenant index");
}

/// A registered table may not become a child of a table that is not registered: queried through
/// the parent, its rows would show without the child's policies.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_registered_table_cannot_hide_under_an_unregistered_parent() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_inh");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    let statements = vec![
        format!("ALTER TABLE {t} INHERIT {s}.owner_parent"),
        format!("ALTER TABLE {s}.owner_tree ATTACH PARTITION {t} FOR VALUES FROM (0) TO (100)"),
    ];
    assert_refused(&mut owner, &t, &statements, &["55000", "42P16", "42804"]);
    assert!(!registered(&mut owner, &format!("{s}.owner_parent")));
}

/// Ordinary DDL on a registered table still works and is not slowed by refusals.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn ordinary_ddl_on_a_registered_table_still_works() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_ok");
    let mut owner = connect_as(OWNER);
    let t = format!("{s}.tools");
    owner
        .batch_execute(&format!(
            "ALTER TABLE {t} ADD COLUMN description text;
             ALTER TABLE {t} ALTER COLUMN description SET DEFAULT '';
             ALTER TABLE {t} RENAME COLUMN description TO summary;
             CREATE INDEX ON {t} (summary);
             ALTER TABLE {t} SET (fillfactor = 90);
             COMMENT ON TABLE {t} IS 'tools';
             CREATE FUNCTION {s}.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
             CREATE TRIGGER touch BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {s}.touch();
             ALTER TABLE {t} DISABLE TRIGGER touch;
             ALTER TABLE {t} ENABLE REPLICA TRIGGER touch;
             DROP TRIGGER touch ON {t};
             ALTER TABLE {t} ALTER COLUMN tenant_id SET STATISTICS 500;
             ALTER TABLE {t} RENAME TO tools2;
             ALTER TABLE {s}.tools2 RENAME TO tools;
             ALTER TABLE {t} DROP COLUMN summary;"
        ))
        .unwrap();
    assert!(registered(&mut owner, &t));
}

/// Tables that arrive in a registered schema are registered, however they arrive.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn tables_arriving_in_a_registered_schema_are_registered() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "inv_arrive");
    let elsewhere = test_schema(&mut admin, "inv_elsewhere");
    admin
        .batch_execute(&format!(
            "SELECT vital.register_schema('{s}', ARRAY['staging']);
             CREATE TABLE {elsewhere}.moved (id int);
             ALTER TABLE {elsewhere}.moved SET SCHEMA {s};
             CREATE TABLE {s}.staging (id int);
             CREATE TABLE {s}.staging_kept (id int);
             ALTER TABLE {s}.staging RENAME TO live;
             CREATE TABLE {s}.made_as AS SELECT 1 AS id;
             SELECT 1 AS id INTO {s}.selected_into;
             CREATE TABLE {s}.tree (id int) PARTITION BY RANGE (id);
             CREATE TABLE {s}.tree_1 PARTITION OF {s}.tree FOR VALUES FROM (0) TO (10);"
        ))
        .unwrap();
    for table in [
        "moved",
        "live",
        "staging_kept",
        "made_as",
        "selected_into",
        "tree",
        "tree_1",
    ] {
        assert!(
            registered(&mut admin, &format!("{s}.{table}")),
            "{s}.{table} is not registered"
        );
    }
    // A table that arrives with a foreign key to a registered table arrives guarded.
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.cats (id int PRIMARY KEY);
             CREATE TABLE {s}.pets (id int, cat int REFERENCES {s}.cats);"
        ))
        .unwrap();
    assert!(guard_of(&mut admin, &format!("{s}.pets")).starts_with("vital_fk_guard_"));
    // Into the exclude list, or out of the schema, a table stays as it is.
    admin
        .batch_execute(&format!(
            "CREATE TABLE {elsewhere}.plain (id int);
             ALTER TABLE {s}.live RENAME TO staging;"
        ))
        .unwrap();
    assert!(registered(&mut admin, &format!("{s}.staging")));
    assert!(!registered(&mut admin, &format!("{elsewhere}.plain")));
    admin
        .batch_execute(&format!("SELECT vital.unregister_schema('{s}')"))
        .unwrap();
}

/// Attaching a registered table to a registered parent links it to the parent (unregistered
/// with it, exported once); detaching makes it standalone again.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn attach_and_detach_keep_the_parent_links() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "inv_attach");
    let a = create_tenant(&mut admin, "inv-attach");
    admin
        .batch_execute(&format!(
            "SELECT vital.register_schema('{s}');
             CREATE TABLE {s}.events (id int, body text) PARTITION BY RANGE (id);
             CREATE TABLE {s}.events_old (id int, body text);
             BEGIN; SELECT vital.set_tenant('{a}', true);
             INSERT INTO {s}.events_old VALUES (5, 'old'); COMMIT;
             ALTER TABLE {s}.events ATTACH PARTITION {s}.events_old FOR VALUES FROM (0) TO (10);"
        ))
        .unwrap();
    let parent: Option<String> = admin
        .query_one(
            "SELECT parent::text FROM vital.registrations WHERE relid = $1::text::regclass",
            &[&format!("{s}.events_old")],
        )
        .unwrap()
        .get(0);
    assert_eq!(parent.as_deref(), Some(format!("{s}.events").as_str()));
    let exported: i64 = admin
        .query_one(
            "SELECT count(*) FROM jsonb_each(vital.export_tenant($1::text::uuid) -> 'tables') t(name, rows),
                    jsonb_array_elements(t.rows) r
              WHERE r ->> 'body' = 'old'",
            &[&a],
        )
        .unwrap()
        .get(0);
    assert_eq!(exported, 1, "the attached partition's row is exported once");

    admin
        .batch_execute(&format!(
            "ALTER TABLE {s}.events DETACH PARTITION {s}.events_old;"
        ))
        .unwrap();
    let parent: Option<String> = admin
        .query_one(
            "SELECT parent::text FROM vital.registrations WHERE relid = $1::text::regclass",
            &[&format!("{s}.events_old")],
        )
        .unwrap()
        .get(0);
    assert_eq!(parent, None, "a detached partition stands on its own");
    admin
        .batch_execute(&format!(
            "ALTER TABLE {s}.events ATTACH PARTITION {s}.events_old FOR VALUES FROM (0) TO (10);
             DELETE FROM {s}.events;
             SELECT vital.unregister_table('{s}.events', drop_column => true);
             SELECT vital.unregister_schema('{s}');"
        ))
        .unwrap_or_else(|e| panic!("unregistering the parent with its attached partition: {e:?}"));
    assert!(!registered(&mut admin, &format!("{s}.events_old")));
}

/// A registered table is forgotten however it is dropped: by itself, by DROP SCHEMA ... CASCADE,
/// by DROP OWNED, or as a partition dropped with its parent.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn dropped_tables_are_forgotten_however_they_are_dropped() {
    let mut admin = superuser();
    let dropper = "vital_it_dropper";
    let s = test_schema(&mut admin, "inv_drop");
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {dropper} NOLOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             GRANT USAGE, CREATE ON SCHEMA {s} TO {dropper};
             CREATE TABLE {s}.tree (id int) PARTITION BY RANGE (id);
             CREATE TABLE {s}.tree_1 PARTITION OF {s}.tree FOR VALUES FROM (0) TO (10);
             CREATE TABLE {s}.refd (id int PRIMARY KEY);
             CREATE TABLE {s}.refs (id int REFERENCES {s}.refd);
             SET ROLE {dropper}; CREATE TABLE {s}.owned (id int); RESET ROLE;
             SELECT vital.register_table(t::regclass)
               FROM unnest(ARRAY['{s}.tree', '{s}.refd', '{s}.refs', '{s}.owned']) t;"
        ))
        .unwrap();
    let count = |admin: &mut Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM vital.registrations r
                  WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = r.relid::oid)
                     OR r.relid::text LIKE $1 || '.%'",
                &[&s],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut admin), 5);
    admin.batch_execute(&format!("DROP OWNED BY {dropper}")).unwrap();
    assert_eq!(count(&mut admin), 4, "DROP OWNED left its table registered");
    admin.batch_execute(&format!("DROP TABLE {s}.tree")).unwrap();
    assert_eq!(
        count(&mut admin),
        2,
        "the partition outlived its parent in the registry"
    );
    admin.batch_execute(&format!("DROP SCHEMA {s} CASCADE")).unwrap();
    assert_eq!(
        count(&mut admin),
        0,
        "DROP SCHEMA ... CASCADE left registrations behind"
    );
    admin.batch_execute(&format!("DROP ROLE {dropper}")).unwrap();
}

/// Two sessions registering the same table at the same moment leave one tenant index.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn concurrent_registrations_make_one_tenant_index() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "inv_race");
    for round in 0..5 {
        let t = format!("{s}.race_{round}");
        admin
            .batch_execute(&format!(
                "CREATE TABLE {t} (id int PRIMARY KEY, name text UNIQUE)"
            ))
            .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (t, barrier) = (t.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut c = superuser();
                    barrier.wait();
                    c.batch_execute(&format!("SELECT vital.register_table('{t}')"))
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let indexes: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_index i
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = $1::text::regclass AND a.attname = 'tenant_id' AND NOT i.indisunique",
                &[&t],
            )
            .unwrap()
            .get(0);
        assert_eq!(indexes, 1, "round {round}: {indexes} tenant indexes");
        let uniques: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_index WHERE indrelid = $1::text::regclass AND indisunique",
                &[&t],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            uniques, 2,
            "round {round}: the primary key and one scoped unique key"
        );
    }
}

/// A refused command inside a savepoint or an exception block leaves nothing behind: the
/// transaction goes on, commits without warnings, and the next commands are checked as usual.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn refusals_inside_subtransactions_leave_nothing_behind() {
    let mut admin = superuser();
    let s = owned_tables(&mut admin, "inv_subxact");
    let t = format!("{s}.tools");
    let before = state(&mut admin, &t);
    let (mut c, notices) = connect_collecting_notices("postgres");
    c.batch_execute(&format!(
        "BEGIN;
         SAVEPOINT a;
         DO $$ BEGIN
           BEGIN ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;
           EXCEPTION WHEN object_not_in_prerequisite_state THEN RAISE NOTICE 'refused inside';
           END;
         END $$;
         ROLLBACK TO SAVEPOINT a;
         SAVEPOINT b;"
    ))
    .unwrap();
    let refused = sqlstate(c.batch_execute(&format!("CREATE RULE r AS ON INSERT TO {t} DO INSTEAD NOTHING")));
    assert_eq!(refused, "55000");
    c.batch_execute(&format!(
        "ROLLBACK TO SAVEPOINT b;
         ALTER TABLE {t} ADD COLUMN note text;
         ALTER TABLE {t} DROP COLUMN note;
         COMMIT;"
    ))
    .unwrap();
    assert_eq!(state(&mut admin, &t), before);
    let notices = notices.lock().unwrap().clone();
    assert!(notices.iter().any(|n| n == "refused inside"), "{notices:?}");
    assert!(!notices.iter().any(|n| n.contains("leak")), "{notices:?}");
    // And the refusal still works afterwards in the same session.
    assert_eq!(
        sqlstate(c.batch_execute(&format!("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"))),
        "55000"
    );
}
