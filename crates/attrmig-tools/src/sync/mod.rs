//! The sync: copies old to new for every key, in keyset batches, so that new equals old.
//!
//! - **One transaction per batch**, which also advances the pass's checkpoint when the
//!   state lives in the application database: a killed sync resumes after the last
//!   committed batch and never loses or duplicates a row (writes are upserts). With the
//!   state elsewhere, the state transaction stays open across the batch's commit and
//!   records the checkpoint after it; a checkpoint only ever claims committed, durable
//!   rows (the sync relaxes durability only where both commit together).
//! - **No lost double-writes.** The batch locks its source rows (`FOR SHARE` on
//!   PostgreSQL; a `LOCK IN SHARE MODE` read before the writes on MySQL/MariaDB; on
//!   SQLite the batch is one `BEGIN IMMEDIATE` write transaction), so a writer that
//!   updates old and new in one transaction either commits before the batch reads old,
//!   or waits for it and then overwrites new with its own, newer value. Deadlocks and
//!   serialization failures are retried.
//! - **Only differences are written**: rows are selected where new differs from old, so a
//!   second pass over a synced table writes nothing (on PostgreSQL a conditional upsert
//!   would still lock and log every row; an unconditional one rewrites the table).
//! - **Rejected rows don't fail the pass.** A batch the new storage rejects (NOT NULL,
//!   CHECK, foreign key, type conversion) is split in halves, in savepoints, until the bad
//!   rows are isolated; each becomes a data issue and the rest is written.
//! - **One runner per migration** (a lease that expires if its holder dies), throttled.
//! - **Fenced.** Every batch commits only if, inside its own transaction, the migration is
//!   still below 8 delete-tools and the lease still holds this run's token (see
//!   [`crate::lease`]): a runner that outlived the step, or lost its lease while it was
//!   stopped, writes nothing, and can't rewind the pass of the runner that took over (the
//!   pass's every update names its token).
//!
//! A NULL old value writes no row when new storage is another table (an absent row
//! already reads as NULL); an existing new value is set to NULL. In the same table the
//! column is set to NULL. A new row whose key has no old row is left alone, unless the
//! pass is asked to remove such rows (`delete_extra`, [`extra`]), after the copy.

use std::time::{Duration, Instant};

use attrmig_core::Step;
use attrmig_core::facts::SyncStatus;
use attrmig_db::{AnyConnection, Backend, DatabaseUrl, is_row_level, is_transient};
use attrmig_store::sync_runs::{self, BatchProgress};
use attrmig_store::{Conns, data_issues, leases};
use chrono::{DateTime, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use serde::Serialize;

use crate::batch_ends::{connect_ahead, with_batch_ends};
use crate::error::ToolError;
use crate::layout::{Layout, Scope};
use crate::lease::Lease;
use crate::runner;
pub use crate::runner::holder_name;
use crate::sql::{Key, Sql};

mod extra;
mod retry;
mod statements;
pub use retry::{Retried, retry};
use statements::{NullTally, write};

/// The lease's purpose name (shared with `data-issues --retry`).
pub const LEASE: &str = leases::SYNC;
/// WAL pages between SQLite checkpoints while a pass runs (40 MB at 4 KB pages).
const SQLITE_WAL_PAGES: u32 = 10_000;
/// Attempts at a batch that keeps deadlocking.
const RETRIES: u32 = 8;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keys per batch (and per transaction).
    pub batch_size: u32,
    /// Throttle, in old rows visited per second.
    pub max_rows_per_second: Option<u32>,
    /// Start a new pass even if the last one was interrupted.
    pub restart: bool,
    /// Who runs it: `actor@host:pid` ([`holder_name`]), shown to a second runner. The
    /// lease itself is this run's own random token, never this name.
    pub holder: String,
    /// The application database again, for a second connection on which the pass finds
    /// where its next batches end while the current one is copied (server databases
    /// only; see `batch_ends`). `None`: found inline.
    pub lookahead: Option<DatabaseUrl>,
    /// After the copy, remove the rows only in new storage (`--delete-extra`, [`extra`]).
    pub delete_extra: bool,
}

/// What happened, reported as the pass goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The pass started or resumed.
    Started {
        /// Pass number.
        pass: i64,
        /// Resumed after this key.
        resumed_after: Option<String>,
        /// Old keys in all.
        total: u64,
        /// Keys already done (resumed).
        done: u64,
    },
    /// A batch committed.
    Batch {
        /// Keys visited so far in this pass.
        done: u64,
        /// Old keys in all.
        total: u64,
        /// Rows written so far.
        written: u64,
        /// Rows rejected so far.
        rejected: u64,
        /// The checkpoint.
        checkpoint: String,
    },
    /// Rows only in new storage were removed (`delete_extra`).
    Removed {
        /// Their keys.
        keys: Vec<String>,
        /// Rows removed so far in this run.
        removed: u64,
    },
    /// A row was rejected and recorded as a data issue.
    Rejected {
        /// Its key.
        key: String,
        /// What the database said.
        error: String,
    },
}

/// A pass's summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Pass number.
    pub pass: i64,
    /// It resumed an interrupted pass.
    pub resumed: bool,
    /// Old keys visited by this run.
    pub scanned: u64,
    /// Rows written by this run.
    pub written: u64,
    /// Rows rejected by this run (now data issues).
    pub rejected: u64,
    /// Rows only in new storage this run removed (`delete_extra`).
    pub removed: u64,
    /// When the pass started (first run, if resumed).
    pub started_at: DateTime<Utc>,
    /// Seconds this run took.
    pub seconds: f64,
}

/// Runs (or resumes) a sync pass to the end. `step` is the migration's step now; the
/// caller has checked the tools may run at it (the lease checks it again, and every
/// batch after it).
pub fn run(
    conns: &mut Conns<'_>,
    layout: &Layout,
    step: Step,
    opts: &Options,
    on: &mut dyn FnMut(&Event),
) -> Result<Summary, ToolError> {
    layout.require_new()?;
    layout.prepare(conns.app())?;
    // Refused before anything runs when those rows can't be removed.
    let removal = if opts.delete_extra {
        extra::removal(layout)?
    } else {
        None
    };
    let runner = runner::here(opts.holder.clone());
    Lease::hold(
        conns,
        layout.plan(),
        LEASE,
        "sync",
        runner,
        |conns, lease| {
            // Only where a batch's checkpoint commits in the same transaction as its rows may
            // those commits skip the disk: a crash then loses both. With the state elsewhere
            // the checkpoint, committed there, would outlive rows lost here, and a resumed
            // pass would skip them.
            let restore = if conns.shared() {
                relax_durability(conns.app())?
            } else {
                None
            };
            let mut pass = None;
            let result = NullTally::register(conns.app())
                .map_err(|e| ToolError::query("register the sync's NULL tally", e))
                .and_then(|nulls| {
                    let mut ahead = connect_ahead(opts.lookahead.as_ref());
                    let mut run = Run {
                        layout,
                        nulls: &nulls,
                        lease: &mut *lease,
                        opts,
                        removal,
                    };
                    run.pass(conns, ahead.as_mut(), step, &mut pass, on)
                });
            if let Some(restore) = restore {
                let _ = conns.app().batch_execute(&restore);
            }
            if let (Err(e), Some(pass)) = (&result, pass) {
                // A pass that stopped on an error says so, and resumes from its checkpoint;
                // not one that another runner took over (the token doesn't match it any more).
                let (id, now) = (layout.plan().id.as_str(), attrmig_core::audit::now());
                let _ = sync_runs::interrupt(
                    conns.state(),
                    id,
                    pass,
                    lease.token(),
                    &e.to_string(),
                    now,
                );
            }
            result
        },
    )
}

/// Lets this connection's batch commits return before they reach the disk, while the
/// pass runs: `synchronous_commit = off` on PostgreSQL, `synchronous = NORMAL` on SQLite
/// in WAL mode. Neither can corrupt anything; a crash may lose the latest commits, and a
/// lost batch takes its checkpoint with it, so the pass redoes it. Only for a connection
/// that commits the checkpoint with the rows ([`Conns::Shared`]): with the state in
/// another database the checkpoint would survive rows lost here. (SQLite in rollback
/// journal mode keeps its setting: there NORMAL is not crash-safe.) SQLite in WAL mode
/// also checkpoints the log every [`SQLITE_WAL_PAGES`] pages instead of every 1,000:
/// each checkpoint syncs the database file, and with 10,000-row batches the default ran
/// one every few batches. Returns the statement that restores the settings.
fn relax_durability(conn: &mut AnyConnection) -> Result<Option<String>, ToolError> {
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Sync {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        synchronous: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Checkpoints {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wal_autocheckpoint: i64,
    }
    match conn.backend() {
        Backend::Postgres => {
            conn.batch_execute("SET synchronous_commit = off")
                .map_err(|e| ToolError::query("relax synchronous_commit", e))?;
            return Ok(Some("RESET synchronous_commit".into()));
        }
        // A server-wide setting on MySQL (innodb_flush_log_at_trx_commit): left alone.
        Backend::Mysql => return Ok(None),
        Backend::Sqlite => {}
    }
    let read = |sql: &str| Sql::new(Backend::Sqlite).push(sql).clone();
    let mode: Vec<Mode> = read("PRAGMA journal_mode")
        .load(conn)
        .map_err(|e| ToolError::query("read the journal mode", e))?;
    if !mode
        .first()
        .is_some_and(|m| m.journal_mode.eq_ignore_ascii_case("wal"))
    {
        return Ok(None);
    }
    let sync: Vec<Sync> = read("PRAGMA synchronous")
        .load(conn)
        .map_err(|e| ToolError::query("read the sync setting", e))?;
    let previous = sync.first().map_or(2, |s| s.synchronous);
    let every: Vec<Checkpoints> = read("PRAGMA wal_autocheckpoint")
        .load(conn)
        .map_err(|e| ToolError::query("read the WAL checkpoint interval", e))?;
    let every = every.first().map_or(1000, |c| c.wal_autocheckpoint);
    conn.batch_execute(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = {SQLITE_WAL_PAGES}"
    ))
    .map_err(|e| ToolError::query("relax the sync setting", e))?;
    Ok(Some(format!(
        "PRAGMA synchronous = {previous}; PRAGMA wal_autocheckpoint = {every}"
    )))
}

/// One run of a pass: what every batch needs.
struct Run<'a> {
    layout: &'a Layout,
    nulls: &'a NullTally,
    lease: &'a mut Lease,
    opts: &'a Options,
    /// How rows only in new storage are removed after the copy; `None`: they are not.
    removal: Option<extra::Removal>,
}

impl Run<'_> {
    /// Starts or resumes the pass and runs it to the end. `pass_number` is set as soon as
    /// the pass is this run's, so that an error can be recorded on it.
    fn pass(
        &mut self,
        conns: &mut Conns<'_>,
        ahead: Option<&mut AnyConnection>,
        step: Step,
        pass_number: &mut Option<i64>,
        on: &mut dyn FnMut(&Event),
    ) -> Result<Summary, ToolError> {
        let layout = self.layout;
        let id = layout.plan().id.to_string();
        let (holder, token) = (
            self.lease.runner().holder.clone(),
            self.lease.token().to_owned(),
        );
        let restart = self.opts.restart;
        // Behind the fence like every batch: a runner that lost its lease before it got
        // here must not take over (or mark) a pass that is now another runner's.
        let (pass, resumed) = self.lease.commit_state(conns.state(), |state| {
            let now = attrmig_core::audit::now();
            // We hold the lease, so any pass still marked running lost its runner.
            sync_runs::reconcile(state, &id, now + chrono::Duration::seconds(1))?;
            let previous = sync_runs::list(state, &id)?.into_iter().next();
            Ok(match previous {
                Some(p) if p.status == SyncStatus::Interrupted && !restart => {
                    sync_runs::resume(state, &id, p.pass, &holder, &token, now)?;
                    (p, true)
                }
                _ => (
                    sync_runs::start(state, &id, step, &holder, &token, now)?,
                    false,
                ),
            })
        })?;
        *pass_number = Some(pass.pass);
        let total = layout.count_old(conns.app())?;
        let mut after = pass
            .checkpoint
            .as_deref()
            .map(|k| layout.parse_key(k))
            .transpose()?;
        let mut done = u64::try_from(pass.rows_scanned).unwrap_or(0);
        on(&Event::Started {
            pass: pass.pass,
            resumed_after: pass.checkpoint.clone(),
            total,
            done,
        });
        // Keys with open data issues: resolved at the end if this pass copied them.
        let open = data_issues::list(conns.state(), &id, false)?
            .iter()
            .map(|i| layout.parse_key(&i.key))
            .collect::<Result<Vec<_>, _>>()?;

        let clock = Instant::now();
        let batch_size = self.opts.batch_size.max(1);
        let (mut scanned, mut written, mut rejected) = (0u64, 0u64, 0u64);
        with_batch_ends(layout, ahead, after.clone(), batch_size, |ends| {
            loop {
                // A full batch's end is found by one probe; only the last batch reads its
                // keys (to know where it ends). Keys are read in full only to split a
                // failing batch.
                let (hi, count) = match ends.next(conns.app())? {
                    Some(hi) => (hi, u64::from(batch_size)),
                    None => {
                        let keys = layout.next_keys(conns.app(), after.as_ref(), batch_size)?;
                        match keys.last() {
                            Some(last) => (last.clone(), keys.len() as u64),
                            None => return Ok::<(), ToolError>(()),
                        }
                    }
                };
                let copied = self.batch(conns, pass.pass, after.as_ref(), &hi, count)?;
                scanned += count;
                done += count;
                written += copied.written;
                rejected += copied.rejected.len() as u64;
                for r in &copied.rejected {
                    on(&Event::Rejected {
                        key: r.key.to_string(),
                        error: r.error.clone(),
                    });
                }
                on(&Event::Batch {
                    done,
                    total,
                    written,
                    rejected,
                    checkpoint: hi.to_string(),
                });
                let pause = throttle(self.opts.max_rows_per_second, scanned, clock.elapsed());
                self.lease.sleep(conns.state(), pause)?;
                after = Some(hi);
            }
        })?;
        let removed = match self.removal {
            Some(how) => extra::remove(conns, layout, how, self.lease, self.opts, on)?,
            None => 0,
        };
        // Data issues whose rows agree now: the data was fixed and this pass copied them.
        let settled = agreeing(conns.app(), layout, &open)?;
        let lost = self.lease.lost(None);
        self.lease.commit_state(conns.state(), |state| {
            let now = attrmig_core::audit::now();
            data_issues::resolve_keys(state, &id, &settled, now)?;
            if !sync_runs::end(state, &id, pass.pass, &token, SyncStatus::Completed, now)? {
                return Err(lost);
            }
            Ok(())
        })?;
        Ok(Summary {
            pass: pass.pass,
            resumed,
            scanned,
            written,
            rejected,
            removed,
            started_at: pass.started_at,
            seconds: clock.elapsed().as_secs_f64(),
        })
    }

    /// One batch `(after, hi]` of `count` keys: rows, data issues and checkpoint,
    /// committed behind the fence (together where the state lives in the application
    /// database); retried on deadlock.
    fn batch(
        &mut self,
        conns: &mut Conns<'_>,
        pass: i64,
        after: Option<&Key>,
        hi: &Key,
        count: u64,
    ) -> Result<Copied, ToolError> {
        let (layout, nulls) = (self.layout, self.nulls);
        let id = layout.plan().id.to_string();
        let token = self.lease.token().to_owned();
        let lease = &mut *self.lease;
        // First the whole range in one statement, with no savepoint: two round trips
        // fewer a batch, and no subtransaction. Only if the database rejects a row is the
        // batch redone (the failed attempt rolled back) by `copy`, split in savepoints
        // until the rejected rows are isolated.
        let mut attempt = |split: bool| {
            retrying(|| {
                let write_rows = |c: &mut AnyConnection| {
                    if split {
                        copy(c, layout, nulls, after, hi, None)
                    } else {
                        copy_whole(c, layout, nulls, after, hi)
                    }
                };
                let lost = lease.lost(None);
                let bookkeeping = |state: &mut AnyConnection, copied: &Copied| {
                    let now = attrmig_core::audit::now();
                    for r in &copied.rejected {
                        let key = r.key.to_string();
                        let rejected = data_issues::Rejected {
                            key: &key,
                            old_value: r.old_value.as_deref(),
                            error: &r.error,
                            pass,
                        };
                        data_issues::record(state, &id, rejected, now)?;
                    }
                    let progress = BatchProgress {
                        scanned: count as i64,
                        written: copied.written as i64,
                        rejected: copied.rejected.len() as i64,
                    };
                    let key = hi.to_string();
                    // The lease is ours, so is the pass; a mismatch means a runner of
                    // another attrmig resumed it: write nothing.
                    if !sync_runs::checkpoint(state, &id, pass, &token, &key, progress, now)? {
                        return Err(lost);
                    }
                    Ok(())
                };
                lease.commit(conns, write_rows, bookkeeping)
            })
        };
        match attempt(false) {
            Err(ToolError::Db(e)) if e.diesel().is_some_and(is_row_level) => attempt(true),
            other => other,
        }
    }
}

/// How long to wait before the next batch so that `rows` keys take at least
/// `rows / max_rows_per_second`.
fn throttle(max_rows_per_second: Option<u32>, rows: u64, elapsed: Duration) -> Duration {
    match max_rows_per_second.filter(|m| *m > 0) {
        Some(max) => Duration::from_secs_f64(rows as f64 / f64::from(max)).saturating_sub(elapsed),
        None => Duration::ZERO,
    }
}

/// A row new storage rejected.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Its key.
    pub key: Key,
    /// Its old value, for people (bytes in hex).
    pub old_value: Option<String>,
    /// What the database said.
    pub error: String,
}

/// What one batch did.
#[derive(Debug, Default)]
struct Copied {
    written: u64,
    rejected: Vec<Rejection>,
}

/// Copies `(lo, hi]` in one statement; a row-level failure is returned as is (and aborts
/// the transaction on PostgreSQL), for the caller to redo the batch with [`copy`].
fn copy_whole(
    conn: &mut AnyConnection,
    layout: &Layout,
    nulls: &NullTally,
    lo: Option<&Key>,
    hi: &Key,
) -> Result<Copied, ToolError> {
    let written = write(conn, layout, Scope::Range(lo, Some(hi)), nulls)
        .map_err(|e| ToolError::query("copy a batch", e))?;
    Ok(Copied {
        written: written.rows as u64,
        rejected: written.rejected,
    })
}

fn retrying<T>(mut attempt: impl FnMut() -> Result<T, ToolError>) -> Result<T, ToolError> {
    let mut wait = Duration::from_millis(20);
    for _ in 1..RETRIES {
        match attempt() {
            Err(ToolError::Db(e)) if e.diesel().is_some_and(is_transient) => {
                std::thread::sleep(wait + Duration::from_millis(rand::random_range(0..20)));
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
    attempt()
}

/// Copies `(lo, hi]`; a row-level failure splits the range's keys in halves, each in a
/// savepoint, until single rows are isolated. `keys` are the range's keys when already
/// known (they are read at the first split). A transient failure propagates, to retry
/// the batch.
fn copy(
    conn: &mut AnyConnection,
    layout: &Layout,
    nulls: &NullTally,
    lo: Option<&Key>,
    hi: &Key,
    keys: Option<&[Key]>,
) -> Result<Copied, ToolError> {
    let error = match conn.transaction(|c| write(c, layout, Scope::Range(lo, Some(hi)), nulls)) {
        Ok(written) => {
            return Ok(Copied {
                written: written.rows as u64,
                rejected: written.rejected,
            });
        }
        Err(e) if is_row_level(&e) => e,
        Err(e) => return Err(ToolError::query("copy a batch", e)),
    };
    let read;
    let keys = match keys {
        Some(keys) => keys,
        None => {
            read = keys_between(conn, layout, lo, hi)?;
            &read
        }
    };
    match keys {
        [] => Ok(Copied::default()),
        [only] => Ok(Copied {
            written: 0,
            rejected: vec![Rejection {
                key: only.clone(),
                old_value: old_value(conn, layout, only)?,
                error: describe(&error),
            }],
        }),
        _ => {
            let mid = keys.len() / 2;
            let split = &keys[mid - 1];
            let mut left = copy(conn, layout, nulls, lo, split, Some(&keys[..mid]))?;
            let right = copy(conn, layout, nulls, Some(split), hi, Some(&keys[mid..]))?;
            left.written += right.written;
            left.rejected.extend(right.rejected);
            Ok(left)
        }
    }
}

/// The old keys in `(lo, hi]`, in the database's order.
fn keys_between(
    conn: &mut AnyConnection,
    layout: &Layout,
    lo: Option<&Key>,
    hi: &Key,
) -> Result<Vec<Key>, ToolError> {
    const PAGE: u32 = 10_000;
    let mut keys: Vec<Key> = Vec::new();
    loop {
        let page = layout.next_keys(conn, keys.last().or(lo), PAGE)?;
        let last_page = page.len() < PAGE as usize;
        // The database orders the keys (its collation, for text): stop at `hi` itself.
        for key in page {
            let end = key == *hi;
            keys.push(key);
            if end {
                return Ok(keys);
            }
        }
        if last_page {
            return Ok(keys);
        }
    }
}

/// Of `keys`, those whose old and new values agree now.
fn agreeing(
    conn: &mut AnyConnection,
    layout: &Layout,
    keys: &[Key],
) -> Result<Vec<String>, ToolError> {
    #[derive(diesel::QueryableByName)]
    struct Agreeing {
        #[diesel(sql_type = diesel::sql_types::Text)]
        k: String,
    }
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        let mut sql = Sql::new(layout.backend());
        sql.push(&format!("SELECT {} AS k", layout.key_text(&ok)));
        layout.push_old_with_new(&mut sql, Scope::Keys(chunk));
        sql.push(&format!(" AND NOT {}", layout.values_differ(&ov, &nv)));
        // A malformed document reads as NULL, which is not agreement.
        if let Some(unreadable) = layout.old_unreadable() {
            sql.push(&format!(" AND NOT {unreadable}"));
        }
        let rows: Vec<Agreeing> = sql
            .load(conn)
            .map_err(|e| ToolError::query("check data issues against new storage", e))?;
        // As recorded: a key of several columns in one spelling, whatever the backend's.
        for r in rows {
            out.push(layout.parse_key(&r.k)?.to_string());
        }
    }
    Ok(out)
}

fn describe(e: &DieselError) -> String {
    match e {
        DieselError::DatabaseError(_, info) => match info.details() {
            Some(d) => format!("{} ({d})", info.message()),
            None => info.message().to_owned(),
        },
        other => other.to_string(),
    }
}

fn old_value(
    conn: &mut AnyConnection,
    layout: &Layout,
    key: &Key,
) -> Result<Option<String>, ToolError> {
    #[derive(diesel::QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
        v: Option<Vec<u8>>,
    }
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT {} AS v FROM {} WHERE ",
        layout.shown(attrmig_core::equality::Side::Old, &layout.old_value()),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_in(&mut sql, &layout.old_key(), std::slice::from_ref(key));
    let rows: Vec<V> = sql
        .load(conn)
        .map_err(|e| ToolError::query("read a rejected old value", e))?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| layout.show(attrmig_core::equality::Side::Old, r.v)))
}
