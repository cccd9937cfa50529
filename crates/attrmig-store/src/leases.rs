//! Leases: one runner per migration and purpose at a time, and the fence every one of its
//! writes passes.
//!
//! - A lease expires unless its holder renews it, so a runner that dies (SIGKILL, lost
//!   machine) frees it by itself. It is identified by a **token**, random per run of a
//!   tool, never by host name and pid: two runners in two PID namespaces can share both.
//! - [`fence`] is the check each batch makes inside its own transaction: the migration is
//!   still below 8 and not abandoned, and the lease still holds this runner's token. It
//!   reads both rows under a share lock (`FOR SHARE`, `LOCK IN SHARE MODE`; SQLite's
//!   `BEGIN IMMEDIATE` already serialises writers), so an advance's compare-and-swap waits
//!   for the batch, a takeover waits for it too, and a batch that starts after either sees
//!   it and writes nothing.
//! - [`acquire`] reads the migration under the same lock: no tool starts at 8 or later,
//!   even racing the advance that gets there.

use attrmig_core::Step;
use attrmig_db::{AnyConnection, Backend, write_transaction};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use serde::Serialize;

use crate::error::{StoreError, ctx};
use crate::migration::parse_step;
use crate::schema::attrmig_leases as l;
use crate::time::{from_db, to_db};

/// The purpose of the lease shared by `attrmig sync` and `attrmig data-issues --retry`:
/// both write new storage, so one of them at a time.
pub const SYNC: &str = "sync";

/// The purpose of one cross-check run's lease. Cross-checks only read, so several may
/// run at once; each holds a lease of its own so that an advance to 8 sees it.
pub fn cross_check_purpose(token: &str) -> String {
    format!("cross-check:{}", &token[..token.len().min(16)])
}

/// Who runs a tool: what people are shown, the fencing token, and what tells whether the
/// process is still alive (only on the machine and in the PID namespace it runs in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runner {
    /// `actor@host:pid`, for people.
    pub holder: String,
    /// Random and unique to one run of a tool: the fencing token.
    #[serde(skip)]
    pub token: String,
    /// The host name.
    pub host: String,
    /// The process id, as its own PID namespace numbers it.
    pub pid: u32,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`): one machine, one boot.
    pub boot_id: Option<String>,
    /// The PID namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`).
    pub pid_ns: Option<String>,
    /// When the process started, in clock ticks after boot (`/proc/PID/stat`): tells it
    /// from a later process that got the same pid.
    pub proc_start: Option<i64>,
}

/// A lease someone holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The purpose ([`SYNC`], a cross-check's).
    pub purpose: String,
    /// The tool that holds it: `sync`, `data-issues --retry`, `cross-check`.
    pub tool: String,
    /// Its runner.
    pub runner: Runner,
    /// Taken.
    pub acquired_at: DateTime<Utc>,
    /// Until when, unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// Why a lease was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotGranted {
    /// Another live runner holds it.
    Held(Box<Held>),
    /// The migration reached 8 delete-tools or later: the tools are retired.
    Retired {
        /// Where it is.
        at: Step,
    },
    /// The migration was abandoned.
    Abandoned {
        /// Where.
        at: Step,
    },
}

/// Why a runner's write was refused by [`fence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fenced {
    /// The migration reached 8 delete-tools or later.
    Retired {
        /// Where it is.
        at: Step,
    },
    /// The migration was abandoned.
    Abandoned {
        /// Where.
        at: Step,
    },
    /// The lease is no longer this runner's: it lapsed and another runner took it (named,
    /// if it still holds it), or it was released.
    LeaseLost {
        /// Who holds it now.
        now_held_by: Option<String>,
    },
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = l)]
struct Row {
    purpose: String,
    tool: String,
    holder: String,
    token: String,
    host: Option<String>,
    pid: Option<i64>,
    boot_id: Option<String>,
    pid_ns: Option<String>,
    proc_start: Option<i64>,
    acquired_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

impl From<Row> for Held {
    fn from(r: Row) -> Held {
        Held {
            purpose: r.purpose,
            tool: r.tool,
            runner: Runner {
                holder: r.holder,
                token: r.token,
                host: r.host.unwrap_or_default(),
                pid: r.pid.and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
                boot_id: r.boot_id,
                pid_ns: r.pid_ns,
                proc_start: r.proc_start,
            },
            acquired_at: from_db(r.acquired_at),
            expires_at: from_db(r.expires_at),
        }
    }
}

/// The share-lock clause of a locking read on `backend` (empty on SQLite, whose write
/// transactions are serial).
pub(crate) fn share_lock(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR SHARE",
        Backend::Mysql => " LOCK IN SHARE MODE",
        Backend::Sqlite => "",
    }
}

#[derive(QueryableByName)]
struct StepRow {
    #[diesel(sql_type = Text)]
    step: String,
    #[diesel(sql_type = Bool)]
    abandoned: bool,
}

/// The migration's step and whether it was abandoned, read under a share lock; `None`
/// before its first transition (step 0, nothing recorded).
fn step_locked(conn: &mut AnyConnection, id: &str) -> Result<Option<(Step, bool)>, StoreError> {
    let b = conn.backend();
    let sql = format!(
        "SELECT step, abandoned FROM attrmig_migrations WHERE id = {}{}",
        b.placeholder(1),
        share_lock(b)
    );
    let rows: Vec<StepRow> = diesel::sql_query(sql)
        .bind::<Text, _>(id)
        .load(conn)
        .map_err(ctx("read the migration's step"))?;
    rows.into_iter()
        .next()
        .map(|r| Ok((parse_step(&r.step)?, r.abandoned)))
        .transpose()
}

fn read(conn: &mut AnyConnection, id: &str, purpose: &str) -> Result<Option<Held>, StoreError> {
    Ok(l::table
        .find((id, purpose))
        .select(Row::as_select())
        .first(conn)
        .optional()
        .map_err(ctx("read a lease"))?
        .map(Held::from))
}

/// Takes the lease for `ttl`, unless the migration's tools are retired or another live
/// runner holds it. A lapsed lease is taken over; so is one whose holder `is_dead` says is
/// provably gone (the caller knows how to tell, where it can).
#[allow(clippy::too_many_arguments)]
pub fn acquire(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    tool: &str,
    runner: &Runner,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
    is_dead: &dyn Fn(&Runner) -> bool,
) -> Result<Result<(), NotGranted>, StoreError> {
    let attempt = write_transaction(conn, |conn| {
        match step_locked(conn, id)? {
            Some((at, true)) => return Ok(Err(NotGranted::Abandoned { at })),
            Some((at, false)) if at.tools_retired() => {
                return Ok(Err(NotGranted::Retired { at }));
            }
            _ => {}
        }
        if let Some(current) = read(conn, id, purpose)? {
            let mine = current.runner.token == runner.token;
            if !mine && current.expires_at > now && !is_dead(&current.runner) {
                return Ok(Err(NotGranted::Held(Box::new(current))));
            }
            diesel::delete(l::table.find((id, purpose)))
                .execute(conn)
                .map_err(ctx("take over a lapsed lease"))?;
        }
        diesel::insert_into(l::table)
            .values((
                l::migration_id.eq(id),
                l::purpose.eq(purpose),
                l::tool.eq(tool),
                l::holder.eq(&runner.holder),
                l::token.eq(&runner.token),
                l::host.eq(Some(&runner.host)),
                l::pid.eq(Some(i64::from(runner.pid))),
                l::boot_id.eq(runner.boot_id.as_deref()),
                l::pid_ns.eq(runner.pid_ns.as_deref()),
                l::proc_start.eq(runner.proc_start),
                l::acquired_at.eq(to_db(now)),
                l::expires_at.eq(to_db(now + ttl)),
            ))
            .execute(conn)?;
        Ok(Ok(()))
    });
    match attempt {
        // Two takers raced for a free lease; the insert decided. Report the winner.
        Err(StoreError::Db(e))
            if matches!(
                e.diesel(),
                Some(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                ))
            ) =>
        {
            match read(conn, id, purpose)? {
                Some(winner) => Ok(Err(NotGranted::Held(Box::new(winner)))),
                // The winner already let go: try once more.
                None => acquire(conn, id, purpose, tool, runner, ttl, now, is_dead),
            }
        }
        other => other,
    }
}

#[derive(QueryableByName)]
struct FenceRow {
    #[diesel(sql_type = Text)]
    token: String,
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = Nullable<Text>)]
    step: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    abandoned: Option<bool>,
}

/// The fence: inside the caller's transaction, whether the runner whose token is `token`
/// may still write. One read of the lease and the migration, both share-locked until the
/// caller commits: an advance's compare-and-swap waits for the caller's commit, and so
/// does a takeover of the lease.
pub fn fence(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    token: &str,
) -> Result<Result<(), Fenced>, StoreError> {
    let b = conn.backend();
    let joined = format!(
        "SELECT l.token AS token, l.holder AS holder, m.step AS step, m.abandoned AS abandoned \
         FROM attrmig_leases l JOIN attrmig_migrations m ON m.id = l.migration_id \
         WHERE l.migration_id = {} AND l.purpose = {}{}",
        b.placeholder(1),
        b.placeholder(2),
        share_lock(b)
    );
    let mut rows: Vec<FenceRow> = diesel::sql_query(joined)
        .bind::<Text, _>(id)
        .bind::<Text, _>(purpose)
        .load(conn)
        .map_err(ctx("check the runner's lease and the migration's step"))?;
    if rows.is_empty() {
        // No lease, or no migration row yet (step 0: nothing was ever recorded, as in a
        // tool run against a plan no one advanced). Rare: read each alone.
        match step_locked(conn, id)? {
            Some((at, true)) => return Ok(Err(Fenced::Abandoned { at })),
            Some((at, false)) if at.tools_retired() => return Ok(Err(Fenced::Retired { at })),
            _ => {}
        }
        let alone = format!(
            "SELECT token, holder, NULL AS step, NULL AS abandoned FROM attrmig_leases \
             WHERE migration_id = {} AND purpose = {}{}",
            b.placeholder(1),
            b.placeholder(2),
            share_lock(b)
        );
        rows = diesel::sql_query(alone)
            .bind::<Text, _>(id)
            .bind::<Text, _>(purpose)
            .load(conn)
            .map_err(ctx("check the runner's lease"))?;
    }
    let Some(row) = rows.into_iter().next() else {
        return Ok(Err(Fenced::LeaseLost { now_held_by: None }));
    };
    if let Some(step) = &row.step {
        let at = parse_step(step)?;
        if row.abandoned == Some(true) {
            return Ok(Err(Fenced::Abandoned { at }));
        }
        if at.tools_retired() {
            return Ok(Err(Fenced::Retired { at }));
        }
    }
    if row.token != token {
        return Ok(Err(Fenced::LeaseLost {
            now_held_by: Some(row.holder),
        }));
    }
    Ok(Ok(()))
}

/// Extends the lease; `false` when it is no longer this runner's.
pub fn renew(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    token: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(l::table.find((id, purpose)).filter(l::token.eq(token)))
        .set(l::expires_at.eq(to_db(now + ttl)))
        .execute(conn)
        .map_err(ctx("renew a lease"))?;
    Ok(n == 1)
}

/// Gives the lease up, if it is still this runner's.
pub fn release(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    token: &str,
) -> Result<(), StoreError> {
    diesel::delete(l::table.find((id, purpose)).filter(l::token.eq(token)))
        .execute(conn)
        .map_err(ctx("release a lease"))?;
    Ok(())
}

/// The live holder of one lease, if any.
pub fn holder(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Option<Held>, StoreError> {
    Ok(read(conn, id, purpose)?.filter(|h| h.expires_at > now))
}

#[derive(QueryableByName)]
struct LiveRow {
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = Text)]
    tool: String,
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = Text)]
    token: String,
    #[diesel(sql_type = Nullable<Text>)]
    host: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pid: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    boot_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pid_ns: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    proc_start: Option<i64>,
    #[diesel(sql_type = Timestamp)]
    acquired_at: chrono::NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    expires_at: chrono::NaiveDateTime,
}

/// Every live lease of a migration (any tool), oldest first. `locked`: read under a share
/// lock, inside the caller's transaction (an advance to 8 re-checks so, after its
/// compare-and-swap, so that no tool that started meanwhile slips past it).
pub fn live(
    conn: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
    locked: bool,
) -> Result<Vec<Held>, StoreError> {
    let b = conn.backend();
    let sql = format!(
        "SELECT purpose, tool, holder, token, host, pid, boot_id, pid_ns, proc_start, \
         acquired_at, expires_at FROM attrmig_leases \
         WHERE migration_id = {} AND expires_at > {} ORDER BY acquired_at, purpose{}",
        b.placeholder(1),
        b.placeholder(2),
        if locked { share_lock(b) } else { "" }
    );
    let rows: Vec<LiveRow> = diesel::sql_query(sql)
        .bind::<Text, _>(id)
        .bind::<Timestamp, _>(to_db(now))
        .load(conn)
        .map_err(ctx("read the migration's leases"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            Held::from(Row {
                purpose: r.purpose,
                tool: r.tool,
                holder: r.holder,
                token: r.token,
                host: r.host,
                pid: r.pid,
                boot_id: r.boot_id,
                pid_ns: r.pid_ns,
                proc_start: r.proc_start,
                acquired_at: r.acquired_at,
                expires_at: r.expires_at,
            })
        })
        .collect())
}
