//! Guarantee 10 of the contract: changing a row's `tenant_id` (as a superuser or DBA may)
//! cannot leave a reference across tenants, on either side of a foreign key between registered
//! tables; refusals are 23503 with PostgreSQL's error fields. The scenario from review: a DBA's
//! `UPDATE customer SET tenant_id = A WHERE store_id = 1` left rentals of other tenants pointing
//! at tenant A's customers.

mod common;

use common::*;
use postgres::Client;

struct Shop {
    schema: String,
    a: String,
    b: String,
}

/// `customer` (registered, shared reads) and `rental` (registered) referencing it; customer 1
/// belongs to A with a rental of A, customer 2 is the platform's with a rental of B.
fn shop(admin: &mut Client, prefix: &str, shared_reads: bool) -> Shop {
    let schema = test_schema(admin, prefix);
    let a = create_tenant(admin, &format!("{prefix}-a"));
    let b = create_tenant(admin, &format!("{prefix}-b"));
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.customer (id int PRIMARY KEY, store_id int);
             CREATE TABLE {schema}.rental (id int PRIMARY KEY, customer_id int REFERENCES {schema}.customer);
             SELECT vital.register_table('{schema}.customer', shared_reads => {shared_reads});
             SELECT vital.register_table('{schema}.rental');
             INSERT INTO {schema}.customer VALUES (1, 1, '{a}'), (2, 1, vital.platform_tenant());
             INSERT INTO {schema}.rental VALUES (10, 1, '{a}');"
        ))
        .unwrap();
    if shared_reads {
        admin
            .batch_execute(&format!("INSERT INTO {schema}.rental VALUES (20, 2, '{b}')"))
            .unwrap();
    }
    Shop { schema, a, b }
}

fn db_error(result: Result<(), postgres::Error>) -> postgres::error::DbError {
    result
        .expect_err("the move was accepted")
        .as_db_error()
        .expect("a database error")
        .clone()
}

/// The referenced side: moving a customer that another tenant's rental references is refused,
/// with PostgreSQL's words for a key that is still referenced and its error fields.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_referenced_row_cannot_move_away_from_the_rows_that_reference_it() {
    let mut admin = superuser();
    let s = shop(&mut admin, "mv-parent", true);
    let before = texts(
        &mut admin,
        &format!("SELECT id || ':' || tenant_id FROM {}.customer", s.schema),
    );

    // The review's statement: customers of store 1 to tenant B. Customer 1 has A's rental,
    // customer 2 (platform) has B's rental... and would leave A's rental pointing at B's row.
    let e = db_error(admin.batch_execute(&format!(
        "UPDATE {}.customer SET tenant_id = '{}' WHERE store_id = 1",
        s.schema, s.b
    )));
    assert_eq!(e.code().code(), "23503");
    assert_eq!(
        e.message(),
        "update or delete on table \"customer\" violates foreign key constraint \"rental_customer_id_fkey\" on table \"rental\""
    );
    assert_eq!(
        e.detail(),
        Some("Key (id)=(1) is still referenced from table \"rental\".")
    );
    assert_eq!(e.schema(), Some(s.schema.as_str()));
    assert_eq!(e.table(), Some("rental"));
    assert_eq!(e.constraint(), Some("rental_customer_id_fkey"));
    assert_eq!(
        texts(
            &mut admin,
            &format!("SELECT id || ':' || tenant_id FROM {}.customer", s.schema)
        ),
        before,
        "the refused UPDATE changed rows"
    );

    // A platform row (shared) referenced by B may not move to A either; it may stay shared.
    let e = db_error(admin.batch_execute(&format!(
        "UPDATE {}.customer SET tenant_id = '{}' WHERE id = 2",
        s.schema, s.a
    )));
    assert_eq!(e.code().code(), "23503");
    // Moving A's customer to the platform keeps A's rental valid (shared reads).
    admin
        .batch_execute(&format!(
            "UPDATE {}.customer SET tenant_id = vital.platform_tenant() WHERE id = 1",
            s.schema
        ))
        .unwrap();
}

/// Without shared reads, moving a referenced row to the platform is refused too: the tenant's
/// rows could no longer read it.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn without_shared_reads_even_the_platform_is_another_tenant() {
    let mut admin = superuser();
    let s = shop(&mut admin, "mv-private", false);
    let e = db_error(admin.batch_execute(&format!(
        "UPDATE {}.customer SET tenant_id = vital.platform_tenant() WHERE id = 1",
        s.schema
    )));
    assert_eq!(e.code().code(), "23503");
}

/// The referencing side: a rental moved to another tenant must still be able to read its
/// customer (its own tenant's or a shared platform row).
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_referencing_row_can_move_only_where_its_reference_is_visible() {
    let mut admin = superuser();
    let s = shop(&mut admin, "mv-child", true);
    let e = db_error(admin.batch_execute(&format!(
        "UPDATE {}.rental SET tenant_id = '{}' WHERE id = 10",
        s.schema, s.b
    )));
    assert_eq!(e.code().code(), "23503");
    assert_eq!(e.table(), Some("rental"));
    assert_eq!(e.constraint(), Some("rental_customer_id_fkey"));
    // B's rental of the platform's customer may move to A: the customer is shared.
    admin
        .batch_execute(&format!(
            "UPDATE {}.rental SET tenant_id = '{}' WHERE id = 20",
            s.schema, s.a
        ))
        .unwrap();
}

/// Moving a whole subtree (a customer and its rentals) to another tenant works in one
/// transaction with the guards deferred, and is checked at COMMIT.
#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn a_customer_and_its_rentals_move_together_with_deferred_guards() {
    let mut admin = superuser();
    let s = shop(&mut admin, "mv-tree", true);
    admin
        .batch_execute(&format!(
            "BEGIN;
             SET CONSTRAINTS ALL DEFERRED;
             UPDATE {sch}.customer SET tenant_id = '{b}' WHERE id = 1;
             UPDATE {sch}.rental SET tenant_id = '{b}' WHERE customer_id = 1;
             COMMIT;",
            sch = s.schema,
            b = s.b
        ))
        .unwrap();
    assert_eq!(
        texts(
            &mut admin,
            &format!(
                "SELECT id || ':' || tenant_id FROM {}.rental WHERE id = 10",
                s.schema
            )
        ),
        [format!("10:{}", s.b)]
    );
    // Half a move is still refused at COMMIT.
    let result = admin.batch_execute(&format!(
        "BEGIN;
         SET CONSTRAINTS ALL DEFERRED;
         UPDATE {sch}.customer SET tenant_id = '{a}' WHERE id = 1;
         COMMIT;",
        sch = s.schema,
        a = s.a
    ));
    let _ = admin.batch_execute("ROLLBACK");
    assert_eq!(sqlstate(result), "23503");
    assert_eq!(
        texts(
            &mut admin,
            &format!("SELECT tenant_id::text FROM {}.customer WHERE id = 1", s.schema)
        ),
        std::slice::from_ref(&s.b)
    );
}
