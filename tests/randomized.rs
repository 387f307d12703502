//! Model-based randomized test: several application-role connections, random tenants in
//! session and transaction scope, random inserts, updates, deletes and reads on two registered
//! tables (one with a foreign key, one also read through a compat view); every result is
//! compared with a model of which rows each tenant may see and change.
//!
//! VITAL_RANDOM_SEED replays a run; VITAL_RANDOM_OPS sets its length (default 5000). A failure
//! prints the seed and the operation number.

mod common;
use common::*;
use postgres::Client;
use std::collections::{BTreeSet, HashMap};

/// xorshift64*: small, deterministic, good enough to pick operations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PLATFORM: usize = 0;

#[derive(Default)]
struct Model {
    /// item id -> (tenant index, val)
    items: HashMap<i64, (usize, i32)>,
    /// child id -> (tenant index, item id)
    children: HashMap<i64, (usize, i64)>,
}

impl Model {
    fn visible_items(&self, tenant: Option<usize>) -> BTreeSet<(i64, i32)> {
        self.items
            .iter()
            .filter(|(_, (t, _))| *t == PLATFORM || Some(*t) == tenant)
            .map(|(id, (_, v))| (*id, *v))
            .collect()
    }
    fn visible_children(&self, tenant: Option<usize>) -> BTreeSet<(i64, i64)> {
        self.children
            .iter()
            .filter(|(_, (t, _))| Some(*t) == tenant)
            .map(|(id, (_, item))| (*id, *item))
            .collect()
    }
}

struct Run {
    schema: String,
    tenants: Vec<String>, // index 0 is the platform
    model: Model,
    next_id: i64,
    rng: Rng,
}

/// What a statement is expected to do: change this many rows, or fail with this SQLSTATE.
#[derive(Debug, PartialEq)]
enum Outcome {
    Rows(u64),
    Error(String),
}

/// An UPDATE or DELETE with no tenant set is refused with 42501 (the write policies' error
/// naming vital.set_tenant) when the policy meets a row; a plan that evaluates it only on rows
/// matching the WHERE clause may find none, and then changes nothing. Nothing else is right.
fn no_tenant_write(actual: &Outcome) -> Outcome {
    match actual {
        Outcome::Rows(0) => Outcome::Rows(0),
        _ => Outcome::Error("42501".into()),
    }
}

fn outcome(result: Result<u64, postgres::Error>) -> Outcome {
    match result {
        Ok(n) => Outcome::Rows(n),
        Err(e) => Outcome::Error(
            e.code()
                .map(|c| c.code().to_string())
                .unwrap_or_else(|| format!("{e}")),
        ),
    }
}

impl Run {
    /// Applies one random write as `tenant` on `client`; returns (expected, actual) and updates
    /// the model when the write is expected to succeed.
    fn write(
        &mut self,
        client: &mut impl postgres::GenericClient,
        tenant: Option<usize>,
    ) -> (Outcome, Outcome) {
        let s = self.schema.clone();
        let pick_item = |rng: &mut Rng, model: &Model, next: i64| -> i64 {
            let ids: Vec<i64> = model.items.keys().copied().collect();
            if ids.is_empty() || rng.below(10) == 0 {
                next + 1_000_000
            } else {
                ids[rng.below(ids.len())]
            }
        };
        match self.rng.below(5) {
            0 => {
                self.next_id += 1;
                let (id, val) = (self.next_id, self.rng.below(1000) as i32);
                let actual =
                    outcome(client.execute(&format!("INSERT INTO {s}.items VALUES ($1, $2)"), &[&id, &val]));
                let expected = match tenant {
                    Some(t) => {
                        self.model.items.insert(id, (t, val));
                        Outcome::Rows(1)
                    }
                    None => Outcome::Error("42501".into()),
                };
                (expected, actual)
            }
            1 => {
                let id = pick_item(&mut self.rng, &self.model, self.next_id);
                let val = self.rng.below(1000) as i32;
                let via_view = self.rng.below(2) == 0;
                let target = if via_view { "items_view" } else { "items" };
                let actual = outcome(client.execute(
                    &format!("UPDATE {s}.{target} SET val = $2 WHERE id = $1"),
                    &[&id, &val],
                ));
                let expected = match self.model.items.get_mut(&id) {
                    _ if tenant.is_none() => no_tenant_write(&actual),
                    Some((t, v)) if Some(*t) == tenant => {
                        *v = val;
                        Outcome::Rows(1)
                    }
                    _ => Outcome::Rows(0),
                };
                (expected, actual)
            }
            2 => {
                let id = pick_item(&mut self.rng, &self.model, self.next_id);
                let actual = outcome(client.execute(&format!("DELETE FROM {s}.items WHERE id = $1"), &[&id]));
                let referenced = self.model.children.values().any(|(_, item)| *item == id);
                let expected = match self.model.items.get(&id) {
                    _ if tenant.is_none() => no_tenant_write(&actual),
                    Some((t, _)) if Some(*t) == tenant && referenced => Outcome::Error("23503".into()),
                    Some((t, _)) if Some(*t) == tenant => {
                        self.model.items.remove(&id);
                        Outcome::Rows(1)
                    }
                    _ => Outcome::Rows(0),
                };
                (expected, actual)
            }
            3 => {
                self.next_id += 1;
                let id = self.next_id;
                let item = pick_item(&mut self.rng, &self.model, self.next_id);
                let actual = outcome(client.execute(
                    &format!("INSERT INTO {s}.children VALUES ($1, $2)"),
                    &[&id, &item],
                ));
                let expected = match (tenant, self.model.items.get(&item)) {
                    (None, _) => Outcome::Error("42501".into()),
                    (Some(t), Some((owner, _))) if *owner == t || *owner == PLATFORM => {
                        self.model.children.insert(id, (t, item));
                        Outcome::Rows(1)
                    }
                    (Some(_), _) => Outcome::Error("23503".into()),
                };
                (expected, actual)
            }
            _ => {
                let ids: Vec<i64> = self.model.children.keys().copied().collect();
                let id = if ids.is_empty() {
                    -1
                } else {
                    ids[self.rng.below(ids.len())]
                };
                let actual =
                    outcome(client.execute(&format!("DELETE FROM {s}.children WHERE id = $1"), &[&id]));
                let expected = match self.model.children.get(&id) {
                    _ if tenant.is_none() => no_tenant_write(&actual),
                    Some((t, _)) if Some(*t) == tenant => {
                        self.model.children.remove(&id);
                        Outcome::Rows(1)
                    }
                    _ => Outcome::Rows(0),
                };
                (expected, actual)
            }
        }
    }
}

fn read_items(client: &mut Client, schema: &str, via_view: bool) -> BTreeSet<(i64, i32)> {
    let source = if via_view { "items_view" } else { "items" };
    client
        .query(&format!("SELECT id, val FROM {schema}.{source}"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn read_children(client: &mut Client, schema: &str) -> BTreeSet<(i64, i64)> {
    client
        .query(&format!("SELECT id, item_id FROM {schema}.children"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
#[ignore = "needs the scratch cluster: run through scripts/test.sh"]
fn random_operations_match_the_isolation_model() {
    let seed: u64 = std::env::var("VITAL_RANDOM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let ops: usize = std::env::var("VITAL_RANDOM_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    eprintln!("randomized isolation test: VITAL_RANDOM_SEED={seed} VITAL_RANDOM_OPS={ops}");

    let mut admin = superuser();
    let schema = test_schema(&mut admin, "rand");
    let mut tenants = vec!["00000000-0000-0000-0000-000000000001".to_string()];
    for i in 0..3 {
        tenants.push(create_tenant(&mut admin, &format!("rand-{i}")));
    }
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.items (id bigint PRIMARY KEY, val int NOT NULL);
             CREATE TABLE {schema}.children (id bigint PRIMARY KEY,
                                             item_id bigint NOT NULL REFERENCES {schema}.items (id));
             INSERT INTO {schema}.items SELECT g, g FROM generate_series(1, 5) g;
             SELECT vital.register_table('{schema}.items');
             SELECT vital.register_table('{schema}.children', shared_reads => false);
             SELECT vital.create_compat_view('{schema}.items_view', '{schema}.items');"
        ))
        .unwrap();
    let mut run = Run {
        schema: schema.clone(),
        tenants,
        model: Model::default(),
        next_id: 100,
        rng: Rng(seed),
    };
    for id in 1..=5 {
        run.model.items.insert(id, (PLATFORM, id as i32));
    }

    let mut clients: Vec<Client> = (0..4).map(|_| app()).collect();
    let mut session: Vec<Option<usize>> = vec![None; clients.len()];
    let fail = |op: usize, what: String| -> ! {
        panic!("operation {op}: {what}\nreplay with VITAL_RANDOM_SEED={seed} VITAL_RANDOM_OPS={ops}")
    };

    for op in 0..ops {
        let c = run.rng.below(clients.len());
        let choice = run.rng.below(20);
        let random_tenant = |rng: &mut Rng| -> Option<usize> {
            match rng.below(6) {
                0 => None,
                n => Some((n - 1) % 4),
            }
        };
        match choice {
            // Change the session's tenant (or clear it).
            0..=1 => {
                let t = random_tenant(&mut run.rng);
                let sql = match t {
                    Some(t) => format!("SELECT vital.set_tenant('{}')", run.tenants[t]),
                    None => "SELECT vital.clear_tenant()".to_string(),
                };
                clients[c]
                    .batch_execute(&sql)
                    .unwrap_or_else(|e| fail(op, format!("{sql}: {e}")));
                session[c] = t;
            }
            // A write in a transaction with its own tenant; rolled back on error.
            2..=6 => {
                let t = random_tenant(&mut run.rng).unwrap_or(1);
                let tenant_id = run.tenants[t].clone();
                let mut tx = clients[c].transaction().unwrap();
                tx.execute("SELECT vital.set_tenant($1::text::uuid, true)", &[&tenant_id])
                    .unwrap();
                let snapshot = (run.model.items.clone(), run.model.children.clone());
                let (expected, actual) = run.write(&mut tx, Some(t));
                if expected != actual {
                    fail(
                        op,
                        format!("transaction as tenant {t}: expected {expected:?}, got {actual:?}"),
                    );
                }
                if matches!(actual, Outcome::Error(_)) {
                    tx.rollback().unwrap();
                    (run.model.items, run.model.children) = snapshot;
                } else {
                    tx.commit().unwrap();
                }
            }
            // A write with the session's tenant (autocommit).
            7..=13 => {
                let (expected, actual) = run.write(&mut clients[c], session[c]);
                if expected != actual {
                    fail(
                        op,
                        format!(
                            "as session tenant {:?}: expected {expected:?}, got {actual:?}",
                            session[c]
                        ),
                    );
                }
            }
            // Reads: the table, the compat view, the child table.
            _ => {
                let via_view = run.rng.below(2) == 0;
                let seen = read_items(&mut clients[c], &schema, via_view);
                let expected = run.model.visible_items(session[c]);
                if seen != expected {
                    fail(
                        op,
                        format!(
                            "items (view: {via_view}) as {:?}: saw {seen:?}, expected {expected:?}",
                            session[c]
                        ),
                    );
                }
                let seen = read_children(&mut clients[c], &schema);
                let expected = run.model.visible_children(session[c]);
                if seen != expected {
                    fail(
                        op,
                        format!(
                            "children as {:?}: saw {seen:?}, expected {expected:?}",
                            session[c]
                        ),
                    );
                }
                let current: Option<String> = clients[c]
                    .query_one("SELECT vital.current_tenant()::text", &[])
                    .unwrap()
                    .get(0);
                if current != session[c].map(|t| run.tenants[t].clone()) {
                    fail(
                        op,
                        format!("current tenant {current:?}, expected {:?}", session[c]),
                    );
                }
            }
        }
    }
    // The database agrees with the model as a whole.
    let rows: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {schema}.items"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, run.model.items.len(), "seed {seed}");
    let rows: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {schema}.children"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, run.model.children.len(), "seed {seed}");
}
