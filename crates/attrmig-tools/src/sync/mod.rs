//! The sync: copies old to new for every key, in keyset batches, so that new equals old.
//!
//! - **One transaction per batch**, which also advances the pass's checkpoint when the
//!   state lives in the application database: a killed sync resumes after the last
//!   committed batch and never loses or duplicates a row (writes are upserts).
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
//!
//! A NULL old value writes no row when new storage is another table (an absent row
//! already reads as NULL); an existing new value is set to NULL. In the same table the
//! column is set to NULL.

use std::time::{Duration, Instant};

use attrmig_core::Step;
use attrmig_core::facts::SyncStatus;
use attrmig_db::{
    AnyConnection, Backend, DatabaseUrl, is_row_level, is_transient, write_transaction,
};
use attrmig_store::sync_runs::{self, BatchProgress, SyncRun};
use attrmig_store::{Conns, data_issues, leases};
use chrono::{DateTime, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use serde::Serialize;

use crate::batch_ends::{connect_ahead, with_batch_ends};
use crate::error::ToolError;
use crate::layout::{Layout, Scope};
use crate::sql::{Key, Sql};

mod statements;
use statements::{NullTally, write};

/// The lease's purpose name.
pub const LEASE: &str = "sync";
/// How long a lease lasts unless renewed; renewed after every batch.
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(60);
/// How often a running sync renews its lease: well inside the TTL, and not once per
/// batch (each renewal is a commit).
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(10);
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
    /// Who runs it: `actor@host:pid`, shown to a second runner.
    pub holder: String,
    /// The application database again, for a second connection on which the pass finds
    /// where its next batches end while the current one is copied (server databases
    /// only; see `batch_ends`). `None`: found inline.
    pub lookahead: Option<DatabaseUrl>,
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
    /// When the pass started (first run, if resumed).
    pub started_at: DateTime<Utc>,
    /// Seconds this run took.
    pub seconds: f64,
}

/// Runs (or resumes) a sync pass to the end. `step` is the migration's step now; the
/// caller has checked the tools may run at it.
pub fn run(
    conns: &mut Conns<'_>,
    layout: &Layout,
    step: Step,
    opts: &Options,
    on: &mut dyn FnMut(&Event),
) -> Result<Summary, ToolError> {
    layout.require_new()?;
    layout.prepare(conns.app())?;
    let id = layout.plan().id.to_string();
    take_lease(conns.state(), &id, &opts.holder)?;
    let restore = relax_durability(conns.app())?;
    let result = NullTally::register(conns.app())
        .map_err(|e| ToolError::query("register the sync's NULL tally", e))
        .and_then(|nulls| {
            let mut ahead = connect_ahead(opts.lookahead.as_ref());
            run_leased(conns, ahead.as_mut(), layout, &nulls, step, opts, on)
        });
    if let Some(restore) = restore {
        let _ = conns.app().batch_execute(&restore);
    }
    // Released on success and on error; on a crash it expires.
    let released = leases::release(conns.state(), &id, LEASE, &opts.holder);
    let summary = result?;
    released?;
    Ok(summary)
}

/// Lets this connection's batch commits return before they reach the disk, while the
/// pass runs: `synchronous_commit = off` on PostgreSQL, `synchronous = NORMAL` on SQLite
/// in WAL mode. Neither can corrupt anything; a crash may lose the latest commits, and a
/// lost batch takes its checkpoint with it, so the pass redoes it. (SQLite in rollback
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

fn take_lease(state: &mut AnyConnection, id: &str, holder: &str) -> Result<(), ToolError> {
    let now = attrmig_core::audit::now();
    if let Some(held) = leases::holder(state, id, LEASE, now)?
        && held.holder != holder
        && holder_is_dead_here(&held.holder)
    {
        // Its process is gone from this machine: no need to wait for expiry.
        leases::release(state, id, LEASE, &held.holder)?;
    }
    match leases::acquire(state, id, LEASE, holder, LEASE_TTL, now)? {
        Ok(()) => Ok(()),
        Err(held) => Err(attrmig_core::Refusal::LeaseHeld {
            what: "sync",
            id: id.to_owned(),
            holder: held.holder,
            expires_at: held.expires_at,
        }
        .into()),
    }
}

/// This machine's name, for lease holders.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `actor@host:pid`.
pub fn holder_name(actor: &str) -> String {
    format!("{actor}@{}:{}", hostname(), std::process::id())
}

/// A holder named `...@<this host>:<pid>` whose process no longer exists.
fn holder_is_dead_here(holder: &str) -> bool {
    let Some((rest, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let Some((_, host)) = rest.rsplit_once('@') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == hostname()
        && cfg!(target_os = "linux")
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn run_leased(
    conns: &mut Conns<'_>,
    ahead: Option<&mut AnyConnection>,
    layout: &Layout,
    nulls: &NullTally,
    step: Step,
    opts: &Options,
    on: &mut dyn FnMut(&Event),
) -> Result<Summary, ToolError> {
    let id = layout.plan().id.to_string();
    let now = attrmig_core::audit::now();
    // We hold the lease, so any pass still marked running lost its runner.
    sync_runs::reconcile(conns.state(), &id, now + chrono::Duration::seconds(1))?;
    let previous = sync_runs::list(conns.state(), &id)?.into_iter().next();
    let (pass, resumed) = match previous {
        Some(p) if p.status == SyncStatus::Interrupted && !opts.restart => {
            sync_runs::resume(conns.state(), &id, p.pass, &opts.holder, now)?;
            (p, true)
        }
        _ => (
            sync_runs::start(conns.state(), &id, step, &opts.holder, now)?,
            false,
        ),
    };
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
    let mut renewed = Instant::now();
    let batch_size = opts.batch_size.max(1);
    let (mut scanned, mut written, mut rejected) = (0u64, 0u64, 0u64);
    with_batch_ends(layout, ahead, after.clone(), batch_size, |ends| {
        loop {
            // A full batch's end is found by one probe; only the last batch reads its keys
            // (to know where it ends). Keys are read in full only to split a failing batch.
            let (hi, count) = match ends.next(conns.app())? {
                Some(hi) => (hi, u64::from(batch_size)),
                None => {
                    let keys = layout.next_keys(conns.app(), after.as_ref(), batch_size)?;
                    match keys.last() {
                        Some(last) => (last.clone(), keys.len() as u64),
                        None => return Ok(()),
                    }
                }
            };
            let copied = batch(conns, layout, nulls, &pass, after.as_ref(), &hi, count)?;
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
            if renewed.elapsed() >= LEASE_RENEW_EVERY {
                let now = attrmig_core::audit::now();
                if !leases::renew(conns.state(), &id, LEASE, &opts.holder, LEASE_TTL, now)? {
                    return Err(ToolError::Unexpected(
                        "the sync lease expired and was taken over by another runner; this runner stops (its batches are committed)".into(),
                    ));
                }
                renewed = Instant::now();
            }
            throttle(opts.max_rows_per_second, scanned, clock.elapsed());
            after = Some(hi);
        }
    })?;
    // Data issues whose rows agree now: the data was fixed and this pass copied them.
    let settled = agreeing(conns.app(), layout, &open)?;
    data_issues::resolve_keys(conns.state(), &id, &settled, attrmig_core::audit::now())?;
    sync_runs::end(
        conns.state(),
        &id,
        pass.pass,
        SyncStatus::Completed,
        attrmig_core::audit::now(),
    )?;
    Ok(Summary {
        pass: pass.pass,
        resumed,
        scanned,
        written,
        rejected,
        started_at: pass.started_at,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

fn throttle(max_rows_per_second: Option<u32>, rows: u64, elapsed: Duration) {
    if let Some(max) = max_rows_per_second.filter(|m| *m > 0) {
        let due = Duration::from_secs_f64(rows as f64 / f64::from(max));
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
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

/// One batch `(after, hi]` of `count` keys: rows, data issues and checkpoint, committed
/// together where the state lives in the application database; retried on deadlock.
fn batch(
    conns: &mut Conns<'_>,
    layout: &Layout,
    nulls: &NullTally,
    pass: &SyncRun,
    after: Option<&Key>,
    hi: &Key,
    count: u64,
) -> Result<Copied, ToolError> {
    let id = layout.plan().id.to_string();
    let bookkeeping = |state: &mut AnyConnection, copied: &Copied| -> Result<(), ToolError> {
        let now = attrmig_core::audit::now();
        for r in &copied.rejected {
            let key = r.key.to_string();
            let rejected = data_issues::Rejected {
                key: &key,
                old_value: r.old_value.as_deref(),
                error: &r.error,
                pass: pass.pass,
            };
            data_issues::record(state, &id, rejected, now)?;
        }
        let progress = BatchProgress {
            scanned: count as i64,
            written: copied.written as i64,
            rejected: copied.rejected.len() as i64,
        };
        sync_runs::checkpoint(state, &id, pass.pass, &hi.to_string(), progress, now)?;
        Ok(())
    };
    // First the whole range in one statement, with no savepoint: two round trips fewer
    // a batch, and no subtransaction. Only if the database rejects a row is the batch
    // redone (the failed attempt rolled back) by `copy`, split in savepoints until the
    // rejected rows are isolated.
    let mut attempt = |split: bool| {
        let write_rows = |c: &mut AnyConnection| {
            if split {
                copy(c, layout, nulls, after, hi, None)
            } else {
                copy_whole(c, layout, nulls, after, hi)
            }
        };
        retrying(|| match conns {
            Conns::Shared(conn) => write_transaction(conn, |c| {
                let copied = write_rows(c)?;
                bookkeeping(c, &copied)?;
                Ok(copied)
            }),
            Conns::Split { app, state } => {
                // Two databases can't commit together: rows first, then the checkpoint. A
                // crash in between re-copies one batch, which writes nothing new.
                let copied = write_transaction(app, write_rows)?;
                write_transaction(state, |s| bookkeeping(s, &copied))?;
                Ok(copied)
            }
        })
    };
    match attempt(false) {
        Err(ToolError::Db(e)) if e.diesel().is_some_and(is_row_level) => attempt(true),
        other => other,
    }
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
        sql.push(&format!("SELECT {} AS k", layout.text(&ok)));
        layout.push_old_with_new(&mut sql, Scope::Keys(chunk));
        sql.push(&format!(" AND NOT {}", layout.values_differ(&ov, &nv)));
        // A malformed document reads as NULL, which is not agreement.
        if let Some(unreadable) = layout.old_unreadable() {
            sql.push(&format!(" AND NOT {unreadable}"));
        }
        let rows: Vec<Agreeing> = sql
            .load(conn)
            .map_err(|e| ToolError::query("check data issues against new storage", e))?;
        out.extend(rows.into_iter().map(|r| r.k));
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

/// Re-drives single keys (open data issues) now: each in its own savepoint. Returns the
/// keys written and the ones still rejected.
pub fn copy_keys(
    conn: &mut AnyConnection,
    layout: &Layout,
    keys: &[Key],
) -> Result<(Vec<Key>, Vec<Rejection>), ToolError> {
    layout.require_new()?;
    layout.prepare(conn)?;
    let mut fixed = Vec::new();
    let mut still = Vec::new();
    for key in keys {
        let outcome = retrying(|| {
            write_transaction(conn, |c| {
                match c.transaction(|c| {
                    write(
                        c,
                        layout,
                        Scope::Keys(std::slice::from_ref(key)),
                        &NullTally::default(),
                    )
                }) {
                    Ok(written) => Ok(written.rejected.into_iter().next()),
                    Err(e) if is_row_level(&e) => Ok(Some(Rejection {
                        key: key.clone(),
                        old_value: None,
                        error: describe(&e),
                    })),
                    Err(e) => Err(ToolError::query("copy a row", e)),
                }
            })
        })?;
        match outcome {
            None => fixed.push(key.clone()),
            Some(rejection) if rejection.old_value.is_some() => still.push(rejection),
            Some(rejection) => still.push(Rejection {
                old_value: old_value(conn, layout, key)?,
                ..rejection
            }),
        }
    }
    Ok((fixed, still))
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
