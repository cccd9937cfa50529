//! The application's handle: an [`Instance`] opened on the state database, and one
//! [`Migration`] handle per migration it takes part in.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use attrmig_core::fleet::{FieldDiff, Identity};
use attrmig_core::ident::MigrationId;
use attrmig_core::{Mode, Position, Step};
use chrono::{DateTime, Utc};

use crate::background;
use crate::calls::Call;
use crate::cell::Cell;
use crate::diff::by_value;
use crate::error::{OpenError, ReadError, StateError, WriteError};
use crate::ledger::{Ledger, Seen};
use crate::state_db::StateDb;

/// How often the steps are read again, by default.
pub const DEFAULT_REFRESH_EVERY: Duration = Duration::from_secs(5);
/// How often a report is written, by default.
pub const DEFAULT_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Settings of an instance.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub refresh_every: Duration,
    pub report_every: Duration,
    /// After this long without a successful read the instance says it is stale even
    /// while a read hangs.
    pub stale_after: Duration,
    pub redact_values: bool,
}

/// Health of the two background jobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Health {
    pub last_read_ok: Option<DateTime<Utc>>,
    pub read_failing: Option<String>,
    pub report_failing: Option<String>,
    pub report_failures: u64,
    pub last_report_ok: Option<DateTime<Utc>>,
}

/// What the background threads and the calls share.
pub(crate) struct Shared {
    pub identity: Identity,
    pub started_at: DateTime<Utc>,
    pub cells: Vec<Arc<Cell>>,
    by_id: HashMap<String, usize>,
    pub db: Arc<dyn StateDb>,
    pub options: Options,
    pub health: Mutex<Health>,
    pub stop: Mutex<bool>,
    pub wake: Condvar,
}

impl Shared {
    fn cell(&self, id: &str) -> &Cell {
        match self.by_id.get(id) {
            Some(&i) => &self.cells[i],
            None => panic!(
                "attrmig-app: migration `{id}` was not declared; declare it with InstanceBuilder::migration(\"{id}\")"
            ),
        }
    }

    pub fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stale: the last read of the steps failed, or none succeeded for `stale_after`.
    pub fn stale(&self, now: DateTime<Utc>) -> bool {
        let h = self.health();
        h.read_failing.is_some()
            || h.last_read_ok.is_none_or(|t| {
                (now - t).to_std().unwrap_or(Duration::ZERO) > self.options.stale_after
            })
    }

    /// Sleeps for `d` unless stopped first; returns whether it was stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        let (stop, _) = self
            .wake
            .wait_timeout_while(stop, d, |stop| !*stop)
            .unwrap_or_else(|p| p.into_inner());
        *stop
    }
}

/// Owns the background threads: they stop, after a last report, when the last handle
/// goes.
struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Handle {
    fn stop(&self) {
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds an [`Instance`]: where the state database is, which migrations, who this is.
pub struct InstanceBuilder {
    db: Result<Option<Arc<dyn StateDb>>, StateError>,
    migrations: Vec<String>,
    pins: Vec<(String, Step)>,
    identity: Identity,
    refresh_every: Duration,
    report_every: Duration,
    compare_ratio: f64,
    redact_values: bool,
}

/// This machine's name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A short random suffix, so that two processes of one host never share an id.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:06x}", h.finish() & 0xff_ffff)
}

impl Default for InstanceBuilder {
    fn default() -> Self {
        let host = hostname();
        let pid = std::process::id();
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "app".to_owned());
        InstanceBuilder {
            db: Ok(None),
            migrations: Vec::new(),
            pins: Vec::new(),
            identity: Identity {
                id: format!("{host}-{pid}-{}", random_suffix()),
                host,
                process: format!("{name}[{pid}]"),
                app_version: "unknown".to_owned(),
            },
            refresh_every: DEFAULT_REFRESH_EVERY,
            report_every: DEFAULT_REPORT_EVERY,
            compare_ratio: 1.0,
            redact_values: false,
        }
    }
}

impl InstanceBuilder {
    /// The state database by URL (`sqlite://PATH`, `postgres://…`, `mysql://…` with the
    /// `mysql` feature), through the built-in client.
    #[cfg(feature = "diesel")]
    pub fn state_url(mut self, url: &str) -> Self {
        self.db = crate::DieselStateDb::new(url).map(|db| Some(Arc::new(db) as Arc<dyn StateDb>));
        self
    }

    /// The state database through the application's own client of the protocol.
    pub fn state_db(mut self, db: impl StateDb) -> Self {
        self.db = Ok(Some(Arc::new(db)));
        self
    }

    /// A migration this application takes part in (its plan's id).
    pub fn migration(mut self, id: &str) -> Self {
        if !self.migrations.iter().any(|m| m == id) {
            self.migrations.push(id.to_owned());
        }
        self
    }

    /// The application's version (release, commit): reports show it, and refusals name
    /// it when this instance holds a step back. Default `unknown`.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.identity.app_version = version.into();
        self
    }

    /// This instance's id; default `HOST-PID-RANDOM`, new per process. Reports are kept
    /// per id: give a restarted process the same id to continue its row.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.identity.id = id.into();
        self
    }

    /// The host reported (default: this machine's name).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.identity.host = host.into();
        self
    }

    /// How often the steps are read (default 5 s).
    pub fn refresh_every(mut self, every: Duration) -> Self {
        self.refresh_every = every;
        self
    }

    /// How often a report is written (default 10 s). A crashed instance loses at most
    /// this much of its counts.
    pub fn report_every(mut self, every: Duration) -> Self {
        self.report_every = every;
        self
    }

    /// Share of reads compared in 5a and 5b, from 0 to 1 (default 1: every read). The
    /// others read the served side only.
    pub fn compare_ratio(mut self, ratio: f64) -> Self {
        self.compare_ratio = ratio;
        self
    }

    /// Applies `step`'s mode for `migration` whatever the migration's step, until
    /// [`Migration::unpin`]. Reports say so.
    pub fn pin(mut self, migration: &str, step: Step) -> Self {
        self.pins.retain(|(m, _)| m != migration);
        self.pins.push((migration.to_owned(), step));
        self
    }

    /// Keep mismatched values out of logs and reports (fields and keys only).
    pub fn redact_values(mut self, redact: bool) -> Self {
        self.redact_values = redact;
        self
    }

    /// Reads the steps once (failing if it can't: without them the instance can't know
    /// its mode), then starts the background refresh and reports.
    pub fn open(self) -> Result<Instance, OpenError> {
        let db = self.db.map_err(OpenError::FirstRead)?.ok_or_else(|| {
            OpenError::BadOption(
                "no state database: call InstanceBuilder::state_url(\"...\") or state_db(...)"
                    .into(),
            )
        })?;
        if self.migrations.is_empty() {
            return Err(OpenError::NoMigration);
        }
        for id in self
            .migrations
            .iter()
            .chain(self.pins.iter().map(|(m, _)| m))
        {
            MigrationId::new(id).map_err(|e| OpenError::BadMigrationId {
                id: id.clone(),
                reason: e.to_string(),
            })?;
        }
        if let Some((m, _)) = self.pins.iter().find(|(m, _)| !self.migrations.contains(m)) {
            return Err(OpenError::BadOption(format!(
                "`{m}` is pinned but not declared; add InstanceBuilder::migration(\"{m}\")"
            )));
        }
        for (name, d) in [
            ("refresh_every", self.refresh_every),
            ("report_every", self.report_every),
        ] {
            if d < Duration::from_millis(10) || d > Duration::from_secs(3600) {
                return Err(OpenError::BadOption(format!(
                    "{name} must be between 10ms and 1h (the fleet's instance_ttl must exceed report_every), not {d:?}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.compare_ratio) {
            return Err(OpenError::BadOption(format!(
                "compare_ratio must be between 0 and 1, not {}",
                self.compare_ratio
            )));
        }
        let rows = db.read_steps().map_err(OpenError::FirstRead)?;
        let now = Utc::now();
        let seen = background::seen_by_id(&rows);
        let mut cells = Vec::new();
        let mut by_id = HashMap::new();
        for id in &self.migrations {
            let mut ledger = Ledger::new(Step::Planned, now);
            ledger.seen = Some(match seen.get(id.as_str()) {
                Some(Ok(seen)) => *seen,
                Some(Err(e)) => return Err(OpenError::FirstRead(e.clone())),
                None => background::PLANNED,
            });
            ledger.pinned = self.pins.iter().find(|(m, _)| m == id).map(|(_, s)| *s);
            let step = ledger.wanted();
            ledger.periods[0].step = step;
            tracing::info!(
                target: "attrmig_app::mode",
                migration = %id,
                step = step.id(),
                pinned = ledger.pinned.is_some(),
                "applying {step}: {}",
                Mode::at(step).describe()
            );
            let cell = Cell::new(id.clone(), step, self.compare_ratio, now);
            *cell.ledger() = ledger;
            by_id.insert(id.clone(), cells.len());
            cells.push(Arc::new(cell));
        }
        let shared = Arc::new(Shared {
            identity: self.identity,
            started_at: now,
            cells,
            by_id,
            db,
            options: Options {
                refresh_every: self.refresh_every,
                report_every: self.report_every,
                stale_after: self.refresh_every * 3,
                redact_values: self.redact_values,
            },
            health: Mutex::new(Health {
                last_read_ok: Some(now),
                ..Health::default()
            }),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let threads = background::start(&shared).map_err(|e| OpenError::Thread(e.to_string()))?;
        Ok(Instance {
            handle: Arc::new(Handle {
                shared,
                threads: Mutex::new(threads),
            }),
        })
    }
}

/// This process, as one instance of the application's fleet.
///
/// Cheap to clone; the background refresh and reports stop (after a last report) when
/// the last clone, and the last [`Migration`] handle, is dropped, or at
/// [`Instance::shutdown`].
#[derive(Clone)]
pub struct Instance {
    handle: Arc<Handle>,
}

impl Instance {
    /// Starts building an instance.
    pub fn builder() -> InstanceBuilder {
        InstanceBuilder::default()
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Who this instance reports as.
    pub fn identity(&self) -> &Identity {
        &self.shared().identity
    }

    /// A declared migration's handle (`None` for one not declared).
    pub fn migration(&self, id: &str) -> Option<Migration> {
        let i = *self.shared().by_id.get(id)?;
        Some(Migration {
            cell: Arc::clone(&self.shared().cells[i]),
            handle: Arc::clone(&self.handle),
        })
    }

    /// The mode applied for migration `id` now: an in-memory read.
    ///
    /// # Panics
    /// When `id` was not declared with [`InstanceBuilder::migration`].
    pub fn mode(&self, id: &str) -> Mode {
        self.shared().cell(id).current().1
    }

    /// The last read of the steps failed, or none succeeded for three refresh intervals:
    /// the instance keeps the modes it has.
    pub fn is_stale(&self) -> bool {
        self.shared().stale(Utc::now())
    }

    /// Writes per `id`'s mode: old, then new, each only when the mode writes it.
    ///
    /// # Panics
    /// When `id` was not declared with [`InstanceBuilder::migration`].
    pub fn write<E>(
        &self,
        id: &str,
        old: impl FnOnce() -> Result<(), E>,
        new: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let shared = self.shared();
        Call {
            shared,
            cell: shared.cell(id),
        }
        .write(old, new)
    }

    /// Reads per `id`'s mode, comparing with `PartialEq` when the mode reads both.
    ///
    /// # Panics
    /// When `id` was not declared with [`InstanceBuilder::migration`].
    pub fn read<K, T, E>(
        &self,
        id: &str,
        key: &K,
        old: impl FnMut() -> Result<T, E>,
        new: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ReadError<E>>
    where
        K: Display + ?Sized,
        T: PartialEq + std::fmt::Debug,
    {
        let shared = self.shared();
        Call {
            shared,
            cell: shared.cell(id),
        }
        .read(key, by_value, old, new)
    }

    /// Stops the background refresh and reports now, after a last report. Calls keep
    /// working, at the modes they have.
    pub fn shutdown(&self) {
        self.handle.stop();
    }
}

/// What an instance applies for one migration, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The step whose mode is applied.
    pub step: Step,
    /// Its mode.
    pub mode: Mode,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Pinned to `step`.
    pub pinned: bool,
    /// The migration as last read (`None` if its position could not be read).
    pub seen: Option<Position>,
    /// Its version as last read.
    pub seen_version: Option<i64>,
    /// The state database could not be read lately: the mode is the last one known.
    pub stale: bool,
}

/// One migration's handle: the fast path for its calls.
#[derive(Clone)]
pub struct Migration {
    cell: Arc<Cell>,
    handle: Arc<Handle>,
}

impl Migration {
    fn call(&self) -> Call<'_> {
        Call {
            shared: &self.handle.shared,
            cell: &self.cell,
        }
    }

    /// The migration's id.
    pub fn id(&self) -> &str {
        &self.cell.id
    }

    /// The mode applied now: one atomic load.
    #[inline]
    pub fn mode(&self) -> Mode {
        self.cell.current().1
    }

    /// What is applied, since when, pinned or not, and as of which read.
    pub fn status(&self) -> Status {
        let ledger = self.cell.ledger();
        let (step, since) = ledger.current();
        Status {
            step,
            mode: Mode::at(step),
            since,
            pinned: ledger.pinned.is_some(),
            seen: ledger.seen.map(|s: Seen| {
                if s.abandoned {
                    Position::Abandoned { at: s.step }
                } else {
                    Position::At(s.step)
                }
            }),
            seen_version: ledger.seen.map(|s| s.version),
            stale: self.handle.shared.stale(Utc::now()),
        }
    }

    /// Applies `step`'s mode whatever the migration's step (an emergency, or a team that
    /// ships each step as code), until [`Migration::unpin`]; reports say it is pinned.
    pub fn pin(&self, step: Step) {
        let mut ledger = self.cell.ledger();
        ledger.pinned = Some(step);
        self.changed(self.cell.settle(&mut ledger, Utc::now()), true);
    }

    /// Follows the migration's step again (as last read).
    pub fn unpin(&self) {
        let mut ledger = self.cell.ledger();
        ledger.pinned = None;
        self.changed(self.cell.settle(&mut ledger, Utc::now()), false);
    }

    fn changed(&self, step: Option<Step>, pinned: bool) {
        if let Some(step) = step {
            tracing::info!(
                target: "attrmig_app::mode",
                migration = %self.cell.id,
                step = step.id(),
                pinned,
                "applying {step}: {}",
                Mode::at(step).describe()
            );
        }
    }

    /// Share of reads compared in 5a and 5b, from 0 to 1 (clamped).
    pub fn set_compare_ratio(&self, ratio: f64) {
        self.cell.set_compare_ratio(ratio.clamp(0.0, 1.0));
    }

    /// Writes per the mode: old, then new, each only when the mode writes it. An error
    /// of either side is returned (counted as a write error of that side); when old
    /// fails, new is not written. A delete is a write: pass closures that delete.
    pub fn write<E>(
        &self,
        old: impl FnOnce() -> Result<(), E>,
        new: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        self.call().write(old, new)
    }

    /// Reads per the mode, comparing with `PartialEq` when the mode reads both (and the
    /// read is sampled by `compare_ratio`). The served side's error is returned; the
    /// other side's is counted and logged.
    pub fn read<K, T, E>(
        &self,
        key: &K,
        old: impl FnMut() -> Result<T, E>,
        new: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ReadError<E>>
    where
        K: Display + ?Sized,
        T: PartialEq + std::fmt::Debug,
    {
        self.call().read(key, by_value, old, new)
    }

    /// [`Migration::read`] with the application's own comparison: the fields that
    /// differ (empty: they agree). See [`crate::diff::Fields`].
    pub fn read_with<K, T, E>(
        &self,
        key: &K,
        diff: impl Fn(&T, &T) -> Vec<FieldDiff>,
        old: impl FnMut() -> Result<T, E>,
        new: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ReadError<E>>
    where
        K: Display + ?Sized,
    {
        self.call().read(key, diff, old, new)
    }

    /// [`Migration::write`] for async code: `old` and `new` make the futures that write.
    pub async fn write_async<E, FO, FN>(
        &self,
        old: impl FnOnce() -> FO,
        new: impl FnOnce() -> FN,
    ) -> Result<(), WriteError<E>>
    where
        FO: Future<Output = Result<(), E>>,
        FN: Future<Output = Result<(), E>>,
    {
        self.call().write_async(old, new).await
    }

    /// [`Migration::read`] for async code; a compared read awaits both sides at once.
    pub async fn read_async<K, T, E, FO, FN>(
        &self,
        key: &K,
        old: impl FnMut() -> FO,
        new: impl FnMut() -> FN,
    ) -> Result<T, ReadError<E>>
    where
        K: Display + ?Sized,
        T: PartialEq + std::fmt::Debug,
        FO: Future<Output = Result<T, E>>,
        FN: Future<Output = Result<T, E>>,
    {
        self.call().read_async(key, by_value, old, new).await
    }

    /// [`Migration::read_with`] for async code.
    pub async fn read_with_async<K, T, E, FO, FN>(
        &self,
        key: &K,
        diff: impl Fn(&T, &T) -> Vec<FieldDiff>,
        old: impl FnMut() -> FO,
        new: impl FnMut() -> FN,
    ) -> Result<T, ReadError<E>>
    where
        K: Display + ?Sized,
        FO: Future<Output = Result<T, E>>,
        FN: Future<Output = Result<T, E>>,
    {
        self.call().read_async(key, diff, old, new).await
    }
}
