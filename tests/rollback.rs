//! The full rollback of registration on real schemas: `unregister_schema(drop_column)`, the
//! refusal to merge tenants' rows, and unique keys restored from the catalog whatever was
//! renamed in between.

mod common;

use common::*;
use postgres::Client;

fn unique_keys(client: &mut Client, table: &str) -> Vec<String> {
    texts(
        client,
        &format!(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index
              WHERE indrelid = '{table}'::regclass AND indisunique AND NOT indisprimary"
        ),
    )
}

/// Register a schema, rename the table, a key column and a unique index, unregister: the
/// keys come back global on the renamed objects.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn unique_keys_come_back_after_renames() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "rb-rename");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.film (id int PRIMARY KEY, title text UNIQUE, code text);
             CREATE UNIQUE INDEX film_code ON {s}.film (code) WHERE code IS NOT NULL;
             COMMENT ON INDEX {s}.film_code IS 'codes are unique';
             SELECT vital.register_table('{s}.film');
             ALTER TABLE {s}.film RENAME TO movie;
             ALTER TABLE {s}.movie RENAME COLUMN title TO name;
             ALTER INDEX {s}.film_code RENAME TO movie_code;
             -- another table takes the old name: nothing may land on it
             CREATE TABLE {s}.film (x int);"
        ))
        .unwrap();
    let scoped = unique_keys(&mut admin, &format!("{s}.movie"));
    assert!(scoped.iter().all(|k| k.contains("(tenant_id, ")), "{scoped:?}");
    admin
        .batch_execute(&format!(
            "SELECT vital.unregister_table('{s}.movie', drop_column => true)"
        ))
        .unwrap();
    assert_eq!(
        unique_keys(&mut admin, &format!("{s}.movie")),
        [
            format!("CREATE UNIQUE INDEX film_title_key ON {s}.movie USING btree (name)"),
            format!(
                "CREATE UNIQUE INDEX movie_code ON {s}.movie USING btree (code) WHERE (code IS NOT NULL)"
            ),
        ]
    );
    let comment: Option<String> = admin
        .query_one(
            &format!("SELECT obj_description('{s}.movie_code'::regclass, 'pg_class')"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("codes are unique"));
    assert!(unique_keys(&mut admin, &format!("{s}.film")).is_empty());
}

/// unregister_schema(drop_column) is the full rollback; it refuses to merge tenants' rows
/// (55000, with the count per tenant) unless told to; and unregister_table(drop_column) still
/// finishes the job on a table unregister_schema left with vital's kept column.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn unregister_schema_rolls_back_and_refuses_to_merge_tenants() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "rb-schema");
    let a = create_tenant(&mut admin, "rb-a");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.notes (id int PRIMARY KEY, body text);
             CREATE TABLE {s}.tags (id int PRIMARY KEY, note_id int REFERENCES {s}.notes);
             INSERT INTO {s}.notes VALUES (1, 'platform');"
        ))
        .unwrap();
    let before = table_fingerprint(&mut admin, &format!("{s}.notes"));
    admin
        .batch_execute(&format!(
            "SELECT vital.register_schema('{s}');
             BEGIN; SELECT vital.set_tenant('{a}', true);
             INSERT INTO {s}.notes VALUES (2, 'a'), (3, 'a'); INSERT INTO {s}.tags VALUES (1, 2); COMMIT;"
        ))
        .unwrap();
    let error = admin
        .batch_execute(&format!(
            "SELECT vital.unregister_schema('{s}', drop_column => true)"
        ))
        .unwrap_err();
    let db = error.as_db_error().unwrap();
    assert_eq!(db.code().code(), "55000");
    assert!(db.message().contains("rb-a"), "{}", db.message());
    assert!(db.message().contains(": 2 row(s)"), "{}", db.message());
    assert!(db.hint().unwrap_or("").contains("merge_tenants"));
    let registered: i64 = admin
        .query_one(
            "SELECT count(*) FROM vital.registered_tables WHERE relid::text LIKE $1 || '.%'",
            &[&s],
        )
        .unwrap()
        .get(0);
    assert_eq!(registered, 2, "the refused call changed something");

    // Without drop_column, the schema is unregistered and the column kept...
    admin
        .batch_execute(&format!("SELECT vital.unregister_schema('{s}')"))
        .unwrap();
    // ... and unregister_table(drop_column) can still finish the rollback.
    admin
        .batch_execute(&format!(
            "DELETE FROM {s}.tags WHERE tenant_id <> vital.platform_tenant();
             DELETE FROM {s}.notes WHERE tenant_id <> vital.platform_tenant();
             SELECT vital.unregister_table('{s}.tags', drop_column => true);
             SELECT vital.unregister_table('{s}.notes', drop_column => true);"
        ))
        .unwrap();
    assert_eq!(table_fingerprint(&mut admin, &format!("{s}.notes")), before);

    // merge_tenants => true merges, as asked.
    admin
        .batch_execute(&format!(
            "SELECT vital.register_schema('{s}');
             BEGIN; SELECT vital.set_tenant('{a}', true); INSERT INTO {s}.notes VALUES (4, 'a'); COMMIT;
             SELECT vital.unregister_schema('{s}', drop_column => true, merge_tenants => true);"
        ))
        .unwrap();
    assert_eq!(table_fingerprint(&mut admin, &format!("{s}.notes")), before);
    assert_eq!(
        texts(&mut admin, &format!("SELECT body FROM {s}.notes")),
        ["a", "platform"]
    );
}
