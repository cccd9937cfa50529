//! Support for the end-to-end tests: instances of the example service as processes,
//! the load generator, the operator (attrmig's engine), a PostgreSQL of the test's own.

#![allow(dead_code)] // each test uses a different part

pub mod load;
pub mod operator;
pub mod postgres;
pub mod service;
pub mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use attrmig_testing::{TestDb, backend_tests};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

pub use load::{Load, Tally, Targets};
pub use operator::{Operator, mismatches, totals, write_project};
pub use service::{Service, Spec};

/// Users in the application database.
pub const USERS: i64 = 1_500;

/// A test's world: the application database, a project folder, instances.
pub struct World<'a> {
    pub db: &'a TestDb,
    pub root: PathBuf,
    pub state_url: Option<String>,
    pub services: Vec<Service>,
    pub targets: Targets,
}

impl<'a> World<'a> {
    /// The application database seeded by the service (`users-service seed`), a project
    /// whose state lives in it, or at `state_url`.
    pub fn new(db: &'a TestDb, state_url: Option<String>) -> World<'a> {
        let out = Command::new(service::BIN)
            .args([
                "seed",
                "--database-url",
                db.url(),
                "--users",
                &USERS.to_string(),
            ])
            .output()
            .expect("run users-service seed");
        assert!(
            out.status.success(),
            "seed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root = db.dir().join("project");
        write_project(&root, db.url(), state_url.as_deref());
        World {
            db,
            root,
            state_url,
            services: Vec::new(),
            targets: Targets::default(),
        }
    }

    pub fn operator(&self, actor: &str) -> Operator {
        Operator::open(&self.root, actor)
    }

    /// Where the instances' logs go.
    pub fn logs(&self) -> &Path {
        self.db.dir()
    }

    /// An instance's flags: this world's databases, release 2.0.0.
    pub fn spec(&self, id: &str, host: &str) -> Spec {
        Spec {
            id: id.to_owned(),
            host: host.to_owned(),
            version: "2.0.0".to_owned(),
            database_url: self.db.url().to_owned(),
            state_url: self.state_url.clone(),
            pin: None,
            planted_bug: false,
        }
    }

    /// Starts an instance and sends it load.
    pub fn start(&mut self, spec: Spec) -> &Service {
        let service = Service::start(spec, self.db.dir());
        self.targets.add(service.id(), service.addr);
        self.services.push(service);
        self.services.last().unwrap()
    }

    /// `web-1` … `web-n` on hosts `host-a`, `host-b`, …
    pub fn start_fleet(&mut self, n: usize) {
        for i in 0..n {
            let host = format!("host-{}", (b'a' + i as u8) as char);
            let spec = self.spec(&format!("web-{}", i + 1), &host);
            self.start(spec);
        }
    }

    pub fn service(&mut self, id: &str) -> &mut Service {
        self.services
            .iter_mut()
            .find(|s| s.id() == id)
            .unwrap_or_else(|| panic!("no instance {id}"))
    }

    /// Takes an instance out of the load, then out of the world.
    pub fn remove(&mut self, id: &str) -> Service {
        self.targets.remove(id);
        let i = self
            .services
            .iter()
            .position(|s| s.id() == id)
            .unwrap_or_else(|| panic!("no instance {id}"));
        self.services.remove(i)
    }

    pub fn load(&self, workers: usize) -> Load {
        Load::start(self.targets.clone(), workers, USERS)
    }

    /// New storage, read directly: every key's value.
    pub fn new_storage(&self) -> HashMap<i64, Option<String>> {
        self.read_storage("SELECT user_id AS id, full_name FROM users_pii")
    }

    /// Old storage, read directly.
    pub fn old_storage(&self) -> HashMap<i64, Option<String>> {
        self.read_storage("SELECT id, full_name FROM users")
    }

    fn read_storage(&self, sql: &str) -> HashMap<i64, Option<String>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Nullable<Text>)]
            full_name: Option<String>,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(sql)
            .load::<Row>(&mut conn)
            .unwrap_or_else(|e| panic!("{e}\nin: {sql}"))
            .into_iter()
            .map(|r| (r.id, r.full_name))
            .collect()
    }

    /// Every user is in new storage with the last value an instance acknowledged for it,
    /// or its seeded name if none was written.
    pub fn assert_new_storage_holds(&self, tally: &Tally) {
        let new = self.new_storage();
        let mut wrong = Vec::new();
        for id in 1..=USERS {
            let expected = tally
                .acked
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("name {id}"));
            let got = new.get(&id).cloned().flatten();
            if got.as_deref() != Some(expected.as_str()) {
                wrong.push(format!(
                    "{id}: expected {expected:?}, new storage has {got:?}"
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {USERS} users are not in new storage as acknowledged, e.g.:\n{}",
            wrong.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
        assert_eq!(new.len() as i64, USERS, "no row beyond the users");
    }

    /// Each acknowledged write is in `storage` (old or new, read directly).
    pub fn assert_holds_acked(&self, storage: &HashMap<i64, Option<String>>, tally: &Tally) {
        let wrong: Vec<String> = tally
            .acked
            .iter()
            .filter(|(id, v)| storage.get(id).cloned().flatten().as_deref() != Some(v.as_str()))
            .map(|(id, v)| format!("{id}: acknowledged {v:?}, stored {:?}", storage.get(id)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} acknowledged write(s) lost, e.g.:\n{}",
            wrong.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
    }
}

/// Three instances (web-1 … web-3) under load, and the migration walked with them from
/// 0 to 5a, writes made at every step.
pub fn three_at_double_read_old(db: &TestDb) -> (World<'_>, Operator, Load) {
    let mut world = World::new(db, None);
    // The engine creates the state tables the instances read.
    let mut alice = world.operator("alice@example.com");
    world.start_fleet(3);
    let load = world.load(4);
    load.wait_for_writes(50);
    walk::to_double_write(&mut alice, &load, 3);
    walk::to_sync(&mut alice, &load);
    walk::to_double_read_old(&mut alice, &load, 3);
    (world, alice, load)
}

/// The load saw nothing go wrong.
pub fn assert_no_failures(tally: &Tally) {
    assert!(tally.writes > 0, "the load wrote nothing");
    assert!(
        tally.failures.is_empty(),
        "{} request(s) failed, e.g.:\n{}",
        tally.failures.len(),
        tally.failures[..tally.failures.len().min(10)].join("\n")
    );
}

/// Polls `cond` every 50 ms for up to 20 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "not within 20 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
