//! Compatibility views and columns over real connections, as the application role.

mod common;
use common::*;

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn every_compat_view_isolates_tenants_like_its_table() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "cview");
    let a = create_tenant(&mut admin, "cview-a");
    let b = create_tenant(&mut admin, "cview-b");
    let pairs = [
        ("business_functions", "suite_functions"),
        ("departments", "org_departments"),
        ("organizational_roles", "organizational_levels"),
    ];
    for (alias, table) in pairs {
        admin
            .batch_execute(&format!(
                "CREATE TABLE {s}.{table} (id int PRIMARY KEY, name text NOT NULL);
                 INSERT INTO {s}.{table} VALUES (1, 'platform row');
                 SELECT vital.register_table('{s}.{table}');
                 SELECT vital.create_compat_view('{s}.{alias}', '{s}.{table}');"
            ))
            .unwrap();
    }
    let mut app = app();
    for (alias, table) in pairs {
        set_tenant(&mut app, &b);
        app.batch_execute(&format!("INSERT INTO {s}.{alias} (id, name) VALUES (3, 'b row')"))
            .unwrap();

        set_tenant(&mut app, &a);
        app.batch_execute(&format!("INSERT INTO {s}.{alias} (id, name) VALUES (2, 'a row')"))
            .unwrap();
        assert_eq!(
            texts(&mut app, &format!("SELECT name FROM {s}.{alias}")),
            ["a row", "platform row"],
            "{alias}"
        );
        assert_eq!(
            app.execute(
                &format!("UPDATE {s}.{alias} SET name = 'a row!' WHERE id = 2"),
                &[]
            )
            .unwrap(),
            1
        );
        // B's row and the platform's: invisible or read-only through the view.
        assert_eq!(
            app.execute(
                &format!("UPDATE {s}.{alias} SET name = 'x' WHERE id IN (1, 3)"),
                &[]
            )
            .unwrap(),
            0
        );
        assert_eq!(
            app.execute(&format!("DELETE FROM {s}.{alias} WHERE id IN (1, 3)"), &[])
                .unwrap(),
            0
        );
        let smuggle = app.batch_execute(&format!(
            "INSERT INTO {s}.{alias} (id, name, tenant_id) VALUES (4, 's', '{b}')"
        ));
        assert_eq!(sqlstate(smuggle), "42501", "{alias}");
        assert_eq!(
            app.execute(&format!("DELETE FROM {s}.{alias} WHERE id = 2"), &[])
                .unwrap(),
            1
        );

        // What reached the table, seen by a superuser.
        let rows = texts(
            &mut admin,
            &format!("SELECT name || '@' || tenant_id FROM {s}.{table}"),
        );
        assert_eq!(
            rows,
            [
                format!("b row@{b}"),
                "platform row@00000000-0000-0000-0000-000000000001".to_string()
            ]
        );
    }
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn compat_column_follows_its_key_and_its_label_per_tenant() {
    let mut admin = superuser();
    let s = test_schema(&mut admin, "ccol");
    let a = create_tenant(&mut admin, "ccol-a");
    let b = create_tenant(&mut admin, "ccol-b");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {s}.tool_categories (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
             CREATE TABLE {s}.tools (id int PRIMARY KEY, name text,
                                     category_id uuid REFERENCES {s}.tool_categories (id));
             INSERT INTO {s}.tool_categories (name) VALUES ('Research'), ('Regulatory');
             INSERT INTO {s}.tools VALUES (1, 'PubMed', (SELECT id FROM {s}.tool_categories WHERE name = 'Research'));
             SELECT vital.register_table('{s}.tool_categories');
             SELECT vital.register_table('{s}.tools');"
        ))
        .unwrap();
    let before = table_fingerprint(&mut admin, &format!("{s}.tools"));
    admin
        .batch_execute(&format!(
            "SELECT vital.create_compat_view('{s}.tool_list', '{s}.tools');
             SELECT vital.create_compat_column('{s}.tools', 'category', 'category_id', '{s}.tool_categories', 'name')"
        ))
        .unwrap();
    let view_has_category = |c: &mut postgres::Client| -> bool {
        c.query_one(
            "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = $1::text::regclass AND attname = 'category')",
            &[&format!("{s}.tool_list")],
        )
        .unwrap()
        .get(0)
    };
    assert!(
        view_has_category(&mut admin),
        "the compat view does not show the compat column"
    );
    let category = |c: &mut postgres::Client, id: i32| -> Option<String> {
        c.query_one(&format!("SELECT category FROM {s}.tools WHERE id = $1"), &[&id])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        category(&mut admin, 1).as_deref(),
        Some("Research"),
        "existing rows are backfilled"
    );

    let mut app = app();
    set_tenant(&mut app, &a);
    // A private category of A with the same name as a platform one: A's own wins for A.
    app.batch_execute(&format!(
        "INSERT INTO {s}.tool_categories (name) VALUES ('Private'), ('Research')"
    ))
    .unwrap();
    app.batch_execute(&format!(
        "INSERT INTO {s}.tools (id, name, category) VALUES (2, 'a', 'Research'), (3, 'a2', 'Private')"
    ))
    .unwrap();
    let own_research: bool = app
        .query_one(
            &format!(
                "SELECT t.category_id = c.id FROM {s}.tools t, {s}.tool_categories c
                  WHERE t.id = 2 AND c.name = 'Research' AND c.tenant_id = vital.current_tenant()"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(own_research);
    // Writing the key sets the label; NULL follows NULL; unknown labels are errors.
    app.batch_execute(&format!(
        "UPDATE {s}.tools SET category_id = (SELECT id FROM {s}.tool_categories WHERE name = 'Regulatory') WHERE id = 3"
    ))
    .unwrap();
    assert_eq!(category(&mut app, 3).as_deref(), Some("Regulatory"));
    app.batch_execute(&format!("UPDATE {s}.tools SET category = NULL WHERE id = 3"))
        .unwrap();
    let key: Option<String> = app
        .query_one(
            &format!("SELECT category_id::text FROM {s}.tools WHERE id = 3"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(key, None);
    assert_eq!(
        sqlstate(app.batch_execute(&format!("UPDATE {s}.tools SET category = 'Nope' WHERE id = 3"))),
        "23503"
    );

    // B cannot resolve A's private label, even though the row exists.
    set_tenant(&mut app, &b);
    let denied = app.batch_execute(&format!(
        "INSERT INTO {s}.tools (id, name, category) VALUES (4, 'b', 'Private')"
    ));
    assert_eq!(sqlstate(denied), "23503");
    app.batch_execute(&format!(
        "INSERT INTO {s}.tools (id, name, category) VALUES (4, 'b', 'Research')"
    ))
    .unwrap();

    // A rename in the lookup table reaches the rows: A's own rename, then a platform rename.
    set_tenant(&mut app, &a);
    app.batch_execute(&format!(
        "UPDATE {s}.tool_categories SET name = 'Mine' WHERE name = 'Research'"
    ))
    .unwrap();
    assert_eq!(category(&mut app, 2).as_deref(), Some("Mine"));
    set_tenant(&mut app, "00000000-0000-0000-0000-000000000001");
    app.batch_execute(&format!(
        "UPDATE {s}.tool_categories SET name = 'Science' WHERE name = 'Research'"
    ))
    .unwrap();
    assert_eq!(category(&mut admin, 1).as_deref(), Some("Science"));
    assert_eq!(
        category(&mut admin, 4).as_deref(),
        Some("Science"),
        "B's row follows the platform rename"
    );
    assert_eq!(category(&mut admin, 2).as_deref(), Some("Mine"));

    admin
        .batch_execute(&format!(
            "SELECT vital.drop_compat_column('{s}.tools', 'category')"
        ))
        .unwrap();
    assert!(
        !view_has_category(&mut admin),
        "the compat view still shows the dropped column"
    );
    admin
        .batch_execute(&format!("SELECT vital.drop_compat_view('{s}.tool_list')"))
        .unwrap();
    assert_eq!(table_fingerprint(&mut admin, &format!("{s}.tools")), before);
}
