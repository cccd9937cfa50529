//! Sync passes: numbered per migration, each with a checkpoint (the last key done) that
//! advances in the same transaction as the batch it records, where the state lives in the
//! application database.
//!
//! A pass belongs to the runner whose token it holds (the token of its lease, see
//! [`crate::leases`]); a runner that resumes it takes it over with its own. Every update
//! of a pass's progress or status names the token, so a runner that lost its pass can't
//! rewind another's checkpoint, counts or status: its update matches nothing.

use attrmig_core::Step;
use attrmig_core::facts::{SyncPassFact, SyncStatus};
use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::error::{StoreError, ctx};
use crate::migration::parse_step;
use crate::schema::attrmig_sync_runs as s;
use crate::time::{from_db, to_db};

/// A stored pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRun {
    /// Pass number.
    pub pass: i64,
    /// Status.
    pub status: SyncStatus,
    /// The migration's step when the pass started.
    pub step: Step,
    /// Who runs (or ran) it.
    pub holder: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Last sign of life.
    pub heartbeat_at: DateTime<Utc>,
    /// Completed.
    pub finished_at: Option<DateTime<Utc>>,
    /// The last key done, as text.
    pub checkpoint: Option<String>,
    /// Keys visited.
    pub rows_scanned: i64,
    /// Rows written to new storage.
    pub rows_written: i64,
    /// Rows new storage rejected (now data issues).
    pub rows_rejected: i64,
    /// Why it stopped, if it stopped on an error.
    pub error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = s)]
struct Row {
    pass: i64,
    status: String,
    step: String,
    holder: String,
    started_at: chrono::NaiveDateTime,
    heartbeat_at: chrono::NaiveDateTime,
    finished_at: Option<chrono::NaiveDateTime>,
    checkpoint: Option<String>,
    rows_scanned: i64,
    rows_written: i64,
    rows_rejected: i64,
    error: Option<String>,
}

fn status_str(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::Running => "running",
        SyncStatus::Interrupted => "interrupted",
        SyncStatus::Completed => "completed",
    }
}

impl TryFrom<Row> for SyncRun {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let status = match r.status.as_str() {
            "running" => SyncStatus::Running,
            "interrupted" => SyncStatus::Interrupted,
            "completed" => SyncStatus::Completed,
            other => {
                return Err(StoreError::Corrupt {
                    what: format!("a sync status `{other}`"),
                });
            }
        };
        Ok(SyncRun {
            pass: r.pass,
            status,
            step: parse_step(&r.step)?,
            holder: r.holder,
            started_at: from_db(r.started_at),
            heartbeat_at: from_db(r.heartbeat_at),
            finished_at: r.finished_at.map(from_db),
            checkpoint: r.checkpoint,
            rows_scanned: r.rows_scanned,
            rows_written: r.rows_written,
            rows_rejected: r.rows_rejected,
            error: r.error,
        })
    }
}

/// Starts a new pass, numbered after the last, owned by the runner with `token`, and
/// returns it.
pub fn start(
    conn: &mut AnyConnection,
    id: &str,
    step: Step,
    holder: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<SyncRun, StoreError> {
    let last: Option<i64> = s::table
        .filter(s::migration_id.eq(id))
        .select(diesel::dsl::max(s::pass))
        .first(conn)
        .map_err(ctx("number a sync pass"))?;
    let pass = last.unwrap_or(0) + 1;
    diesel::insert_into(s::table)
        .values((
            s::migration_id.eq(id),
            s::pass.eq(pass),
            s::status.eq(status_str(SyncStatus::Running)),
            s::step.eq(step.id()),
            s::holder.eq(holder),
            s::token.eq(token),
            s::started_at.eq(to_db(now)),
            s::heartbeat_at.eq(to_db(now)),
            s::rows_scanned.eq(0i64),
            s::rows_written.eq(0i64),
            s::rows_rejected.eq(0i64),
        ))
        .execute(conn)
        .map_err(ctx("record a sync pass"))?;
    get(conn, id, pass)?.ok_or_else(|| StoreError::Corrupt {
        what: format!("no sync pass {pass} right after starting it"),
    })
}

/// One pass.
pub fn get(conn: &mut AnyConnection, id: &str, pass: i64) -> Result<Option<SyncRun>, StoreError> {
    s::table
        .find((id, pass))
        .select(Row::as_select())
        .first(conn)
        .optional()
        .map_err(ctx("read a sync pass"))?
        .map(SyncRun::try_from)
        .transpose()
}

/// Takes over an interrupted pass to resume it from its checkpoint: from now on it is
/// the pass of the runner with `token` (call it holding the lease).
pub fn resume(
    conn: &mut AnyConnection,
    id: &str,
    pass: i64,
    holder: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(s::table.find((id, pass)))
        .set((
            s::status.eq(status_str(SyncStatus::Running)),
            s::holder.eq(holder),
            s::token.eq(token),
            s::error.eq(None::<String>),
            s::heartbeat_at.eq(to_db(now)),
        ))
        .execute(conn)
        .map_err(ctx("resume a sync pass"))?;
    Ok(())
}

/// Progress of one batch. Call inside the batch's transaction when the state lives in the
/// application database, so the checkpoint and the rows commit together.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchProgress {
    /// Keys visited.
    pub scanned: i64,
    /// Rows written.
    pub written: i64,
    /// Rows rejected.
    pub rejected: i64,
}

/// Advances the checkpoint to `key` and adds the batch's counts, if the pass is still
/// the runner's with `token`; `false` if it is not (another runner resumed it).
pub fn checkpoint(
    conn: &mut AnyConnection,
    id: &str,
    pass: i64,
    token: &str,
    key: &str,
    progress: BatchProgress,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(s::table.find((id, pass)).filter(s::token.eq(token)))
        .set((
            s::checkpoint.eq(Some(key)),
            s::rows_scanned.eq(s::rows_scanned + progress.scanned),
            s::rows_written.eq(s::rows_written + progress.written),
            s::rows_rejected.eq(s::rows_rejected + progress.rejected),
            // A pass marked interrupted while its runner was slow, and still its own, runs.
            s::status.eq(status_str(SyncStatus::Running)),
            s::heartbeat_at.eq(to_db(now)),
        ))
        .execute(conn)
        .map_err(ctx("advance the sync checkpoint"))?;
    Ok(n == 1)
}

/// Ends a pass as completed or interrupted, if it is still the runner's with `token`;
/// `false` if it is not.
pub fn end(
    conn: &mut AnyConnection,
    id: &str,
    pass: i64,
    token: &str,
    status: SyncStatus,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let finished = (status == SyncStatus::Completed).then(|| to_db(now));
    let n = diesel::update(s::table.find((id, pass)).filter(s::token.eq(token)))
        .set((
            s::status.eq(status_str(status)),
            s::finished_at.eq(finished),
            s::heartbeat_at.eq(to_db(now)),
        ))
        .execute(conn)
        .map_err(ctx("end a sync pass"))?;
    Ok(n == 1)
}

/// Marks a running pass interrupted by `error` (kept, cut to a bounded length), if it is
/// still the runner's with `token`. It resumes from its checkpoint.
pub fn interrupt(
    conn: &mut AnyConnection,
    id: &str,
    pass: i64,
    token: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        s::table
            .find((id, pass))
            .filter(s::token.eq(token))
            .filter(s::status.eq(status_str(SyncStatus::Running))),
    )
    .set((
        s::status.eq(status_str(SyncStatus::Interrupted)),
        s::error.eq(Some(crate::bounded::cut(error.to_owned()))),
        s::heartbeat_at.eq(to_db(now)),
    ))
    .execute(conn)
    .map_err(ctx("record why a sync pass stopped"))?;
    Ok(n == 1)
}

/// Marks passes still `running` with a heartbeat older than `stale_before` interrupted:
/// their runner died. They resume from their checkpoint.
pub fn reconcile(
    conn: &mut AnyConnection,
    id: &str,
    stale_before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    diesel::update(
        s::table
            .filter(s::migration_id.eq(id))
            .filter(s::status.eq(status_str(SyncStatus::Running)))
            .filter(s::heartbeat_at.lt(to_db(stale_before))),
    )
    .set(s::status.eq(status_str(SyncStatus::Interrupted)))
    .execute(conn)
    .map_err(ctx("mark dead sync passes interrupted"))
}

/// Every pass of a migration, newest first.
pub fn list(conn: &mut AnyConnection, id: &str) -> Result<Vec<SyncRun>, StoreError> {
    s::table
        .filter(s::migration_id.eq(id))
        .order(s::pass.desc())
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read sync passes"))?
        .into_iter()
        .map(SyncRun::try_from)
        .collect()
}

/// Every pass as guard facts, newest first.
pub fn facts(conn: &mut AnyConnection, id: &str) -> Result<Vec<SyncPassFact>, StoreError> {
    Ok(list(conn, id)?
        .into_iter()
        .map(|r| SyncPassFact {
            pass: r.pass,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status,
        })
        .collect())
}
