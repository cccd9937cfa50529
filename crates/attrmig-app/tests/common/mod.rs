//! Test support: a state database holding attrmig's tables, moved the way `attrmig`
//! moves it (compare-and-swap plus audit entry, through attrmig-store), and a log
//! capture for the library's tracing events.

#![allow(dead_code)] // each test file uses a different part

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attrmig_app::{Instance, InstanceBuilder};
use attrmig_core::fleet::InstanceReport;
use attrmig_core::{EntryKind, Position};
use attrmig_db::AnyConnection;
use attrmig_store::audit::NewEntry;
use attrmig_store::migration::FingerprintChange;
use attrmig_store::{StoreError, audit, fleet, migration, setup};
#[allow(unused_imports)]
pub use attrmig_testing::{TestDb, backend_tests};

pub const ID: &str = "users-full-name";

/// attrmig's state tables in a test database.
pub struct State {
    pub conn: AnyConnection,
    url: String,
}

impl State {
    pub fn new(db: &TestDb) -> State {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).expect("create the state tables");
        State {
            conn,
            url: db.url().to_owned(),
        }
    }

    /// Moves `id` to `to` with one audit entry, as a transition would.
    pub fn set(&mut self, id: &str, to: Position) {
        let record = migration::get(&mut self.conn, id)
            .unwrap()
            .unwrap_or_else(|| migration::unregistered(id, attrmig_core::audit::now()));
        let kind = match to {
            Position::Abandoned { .. } => EntryKind::Abandon,
            Position::At(step) if step < record.position.step() => EntryKind::Rollback,
            Position::At(_) => EntryKind::Advance,
        };
        let entry = NewEntry {
            kind,
            to,
            actor: "alice@example.com".into(),
            note: Some("test".into()),
            evidence: serde_json::json!({ "written_by": "attrmig-app tests" }),
            fingerprint: FingerprintChange::Keep,
        };
        audit::append(
            &mut self.conn,
            &record,
            entry,
            attrmig_core::audit::now(),
            |_, _| Ok::<(), StoreError>(()),
        )
        .expect("append an audit entry");
    }

    /// Every instance's report on `id`, as attrmig reads them.
    pub fn reports(&mut self, id: &str) -> Vec<InstanceReport> {
        fleet::reports(&mut self.conn, id).expect("read the reports")
    }

    /// An instance on this state database with fast intervals.
    pub fn instance(&self) -> InstanceBuilder {
        Instance::builder()
            .state_url(&self.url)
            .migration(ID)
            .app_version("test-1.0")
            .refresh_every(Duration::from_millis(50))
            .report_every(Duration::from_millis(100))
    }
}

/// Waits up to 10 s for `cond`.
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not within 10 s: {what}");
}

/// Where a test subscriber writes what the library logs.
#[derive(Clone, Default)]
pub struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// A subscriber writing here, plain text, down to DEBUG.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish()
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Collects what the library logs while `f` runs on this thread.
pub fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    let buf = Buf::default();
    let out = tracing::subscriber::with_default(buf.subscriber(), f);
    (out, buf.text())
}
