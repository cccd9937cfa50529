//! The demo's application: instances that read and write users' full_name through
//! attrmig-app, as threads of this process against the sandbox's app.db. Each reads the
//! migration's step from the state tables, writes old then new in one transaction per
//! its mode, compares reads in 5a and 5b, and reports to `attrmig_fleet_reports`:
//! `attrmig fleet` shows them, and the guards read them.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use attrmig_app::{Instance, Migration, Step};
use attrmig_core::fleet::InstanceReport;
use attrmig_db::{AnyConnection, DatabaseUrl, write_transaction};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::ID;
use crate::exit::Failure;

/// How often an instance reads the step again: the fleet follows a step within it.
const REFRESH: Duration = Duration::from_millis(250);
/// How often it reports (the plan's instance_ttl is well above it).
const REPORT: Duration = Duration::from_millis(500);
/// The pause between one instance's requests.
const PACE: Duration = Duration::from_millis(30);

/// One running instance.
struct Running {
    id: String,
    instance: Instance,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl Running {
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        // The last handle: a last report, then the background threads end.
        self.instance.shutdown();
    }
}

/// The application's instances.
pub(super) struct Fleet {
    url: String,
    rows: u32,
    writes: Arc<AtomicBool>,
    running: Vec<Running>,
}

impl Fleet {
    pub fn new(db: &Path, rows: u32) -> Fleet {
        Fleet {
            url: format!("sqlite://{}", db.display()),
            rows,
            writes: Arc::new(AtomicBool::new(true)),
            running: Vec::new(),
        }
    }

    /// Starts an instance (one read of the steps, then its worker).
    pub fn start(
        &mut self,
        id: &str,
        host: &str,
        version: &str,
        pin: Option<Step>,
    ) -> Result<(), Failure> {
        let mut builder = Instance::builder()
            .state_url(&self.url)
            .migration(ID)
            .instance_id(id)
            .host(host)
            .app_version(version)
            .refresh_every(REFRESH)
            .report_every(REPORT);
        if let Some(step) = pin {
            builder = builder.pin(ID, step);
        }
        let instance = builder
            .open()
            .with_context(|| format!("the demo's instance {id} could not start"))?;
        let names = instance.migration(ID).expect("declared above");
        let url = DatabaseUrl::parse(&self.url, Path::new("/")).map_err(|e| anyhow::anyhow!(e))?;
        let conn = attrmig_db::connect(&url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            names,
            conn,
            stop: Arc::clone(&stop),
            writes: Arc::clone(&self.writes),
            rows: self.rows,
            seed: id.bytes().fold(0x9e37_79b9_7f4a_7c15, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }),
        };
        let worker = std::thread::Builder::new()
            .name(format!("demo-{id}"))
            .spawn(move || worker.run())
            .context("cannot start the demo's application")?;
        self.running.push(Running {
            id: id.to_owned(),
            instance,
            stop,
            worker: Some(worker),
        });
        Ok(())
    }

    /// Stops an instance after its last report.
    pub fn stop(&mut self, id: &str) {
        if let Some(i) = self.running.iter().position(|r| r.id == id) {
            self.running.remove(i).stop();
        }
    }

    /// Waits until every running instance that is not pinned applies `step`, and its
    /// latest report (from `reports`) says what it applies now.
    pub fn wait_applied(
        &self,
        step: Step,
        reports: &dyn Fn() -> Vec<InstanceReport>,
    ) -> Result<(), Failure> {
        self.wait(&format!("the fleet to apply {step} and report it"), || {
            let reports = reports();
            self.running.iter().all(|r| {
                let status = r.instance.migration(ID).expect("declared").status();
                let applied = status.pinned || status.step == step;
                let reported = reports.iter().any(|rep| {
                    rep.identity.id == r.id
                        && rep.step == status.step
                        && rep.pinned == status.pinned
                        && rep.reported_at >= status.since
                });
                applied && reported
            })
        })
    }

    /// Waits until every running instance compared `n` reads at its current step.
    pub fn wait_compared(&self, n: u64, report: &dyn Fn() -> Vec<u64>) -> Result<(), Failure> {
        self.wait(&format!("{n} compared reads per instance"), || {
            let compared = report();
            compared.len() == self.running.len() && compared.iter().all(|c| *c >= n)
        })
    }

    fn wait(&self, what: &str, mut done: impl FnMut() -> bool) -> Result<(), Failure> {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > Duration::from_secs(60) {
                return Err(Failure::Other(anyhow::anyhow!(
                    "the demo waited a minute for {what}; is the machine very busy?"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn stop_all(&mut self) {
        for r in self.running.drain(..) {
            r.stop();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// One instance's requests: a write and a read of a random user, over and over.
struct Worker {
    names: Migration,
    conn: AnyConnection,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicBool>,
    rows: u32,
    seed: u64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    full_name: Option<String>,
}

const FIRST: [&str; 8] = [
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Radia", "Hedy",
];
const LAST: [&str; 8] = [
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Perlman", "Lamarr",
];

impl Worker {
    /// xorshift: the demo needs variety, not cryptography.
    fn next(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    /// A user the demo's own story leaves alone (the rows it edits by hand are below
    /// 100, and 4242 carries the name the new table rejects).
    fn user(&mut self) -> i64 {
        loop {
            let id = 100 + (self.next() % u64::from(self.rows.saturating_sub(100).max(1))) as i64;
            if id != 4242 {
                return id;
            }
        }
    }

    fn run(mut self) {
        while !self.stop.load(Ordering::SeqCst) {
            if self.writes.load(Ordering::SeqCst) {
                let id = self.user();
                let name = format!(
                    "{} {}",
                    FIRST[(self.next() % 8) as usize],
                    LAST[(self.next() % 8) as usize]
                );
                // Errors are counted by attrmig-app and shown by `attrmig fleet`.
                let _ = self.write(id, &name);
            }
            let id = self.user();
            let _ = self.read(id);
            std::thread::sleep(PACE);
        }
    }

    /// Old, then new, per the mode, in one transaction.
    fn write(&mut self, id: i64, name: &str) -> Result<(), diesel::result::Error> {
        let names = self.names.clone();
        write_transaction(&mut self.conn, |conn| {
            let conn = RefCell::new(conn);
            let old = || {
                diesel::sql_query("UPDATE users SET full_name = ? WHERE id = ?")
                    .bind::<Text, _>(name)
                    .bind::<BigInt, _>(id)
                    .execute(&mut **conn.borrow_mut())
                    .map(drop)
            };
            let new = || {
                diesel::sql_query(
                    "INSERT INTO users_pii (user_id, full_name) VALUES (?, ?) \
                     ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name",
                )
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(name)
                .execute(&mut **conn.borrow_mut())
                .map(drop)
            };
            names.write(old, new).map_err(|e| e.into_inner())
        })
    }

    fn read(&mut self, id: i64) -> Result<Option<String>, diesel::result::Error> {
        let names = self.names.clone();
        let conn = RefCell::new(&mut self.conn);
        let one = |sql: &str| -> Result<Option<String>, diesel::result::Error> {
            let rows: Vec<Name> = diesel::sql_query(sql)
                .bind::<BigInt, _>(id)
                .load(&mut **conn.borrow_mut())?;
            Ok(rows.into_iter().next().and_then(|r| r.full_name))
        };
        names
            .read(
                &id,
                || one("SELECT full_name FROM users WHERE id = ?"),
                || one("SELECT full_name FROM users_pii WHERE user_id = ?"),
            )
            .map_err(|e| e.into_inner())
    }
}
