//! Cross-check runs: one row per run, counts and a sample of mismatches. A run whose
//! process died stays `running` until [`reconcile`] finds its heartbeat stale and marks
//! it `interrupted`; guards only ever count `finished` runs.
//!
//! A stored report is bounded ([`bounded_report`]): each value cut visibly beyond
//! [`crate::bounded::VALUE_BYTES`], the whole at most [`crate::bounded::REPORT_BYTES`].

use attrmig_core::Step;
use attrmig_core::extra::ExtraRow;
use attrmig_core::facts::{Counts, CrossCheckFact};
use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, ctx};
use crate::migration::parse_step;
use crate::schema::attrmig_cross_check_runs as c;
use crate::time::{from_db, to_db};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// In progress.
    Running,
    /// Compared every key (or the whole sample).
    Finished,
    /// Its process died or was stopped.
    Interrupted,
    /// Stopped by an error.
    Failed,
}

impl CheckStatus {
    fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Running => "running",
            CheckStatus::Finished => "finished",
            CheckStatus::Interrupted => "interrupted",
            CheckStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "running" => CheckStatus::Running,
            "finished" => CheckStatus::Finished,
            "interrupted" => CheckStatus::Interrupted,
            "failed" => CheckStatus::Failed,
            other => {
                return Err(StoreError::Corrupt {
                    what: format!("a cross-check status `{other}`"),
                });
            }
        })
    }
}

/// The class of a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchClass {
    /// Old has a value, new has none.
    MissingInNew,
    /// New has a value, old has none.
    ExtraInNew,
    /// Both have values, and they differ.
    Differs,
}

impl MismatchClass {
    /// As written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchClass::MissingInNew => "missing_in_new",
            MismatchClass::ExtraInNew => "extra_in_new",
            MismatchClass::Differs => "differs",
        }
    }
}

/// One mismatching key: (key, field, old value, new value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The key, as text.
    pub key: String,
    /// The attribute compared (the new column's name).
    pub field: String,
    /// Which class.
    pub class: MismatchClass,
    /// Old value as text; `None` is NULL or absent.
    pub old: Option<String>,
    /// New value as text; `None` is NULL or absent.
    pub new: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossCheckRun {
    /// Run number within the migration.
    pub run: i64,
    /// All keys, or a sample.
    pub full: bool,
    /// Sample size asked for.
    pub sample_size: Option<i64>,
    /// Status.
    pub status: CheckStatus,
    /// The migration's step when it started.
    pub step: Step,
    /// Who ran it.
    pub actor: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it found (so far, if running).
    pub counts: Counts,
    /// Up to `--max-report` mismatches.
    pub mismatches: Vec<Mismatch>,
    /// Why it failed.
    pub error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = c)]
struct Row {
    run: i64,
    full_scan: bool,
    sample_size: Option<i64>,
    status: String,
    step: String,
    actor: String,
    started_at: chrono::NaiveDateTime,
    finished_at: Option<chrono::NaiveDateTime>,
    matching: i64,
    missing_in_new: i64,
    extra_in_new: i64,
    differs: i64,
    mismatches: Option<String>,
    error: Option<String>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Row {
    fn into_run(self) -> Result<CrossCheckRun, StoreError> {
        let mismatches = match &self.mismatches {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
                what: format!("an unreadable mismatch report ({e})"),
            })?,
        };
        Ok(CrossCheckRun {
            run: self.run,
            full: self.full_scan,
            sample_size: self.sample_size,
            status: CheckStatus::parse(&self.status)?,
            step: parse_step(&self.step)?,
            actor: self.actor,
            started_at: from_db(self.started_at),
            finished_at: self.finished_at.map(from_db),
            counts: Counts {
                matching: count(self.matching),
                missing_in_new: count(self.missing_in_new),
                extra_in_new: count(self.extra_in_new),
                differs: count(self.differs),
            },
            mismatches,
            error: self.error,
        })
    }
}

/// The rows only in new storage a report names, as acknowledgements record them.
pub fn extra_rows(mismatches: &[Mismatch]) -> Vec<ExtraRow> {
    mismatches
        .iter()
        .filter(|m| m.class == MismatchClass::ExtraInNew)
        .map(|m| ExtraRow::new(m.key.clone(), m.new.as_deref()))
        .collect()
}

/// How a run starts.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Migration id.
    pub migration_id: &'a str,
    /// Sample size, `None` for a full run.
    pub sample: Option<u64>,
    /// The migration's step now.
    pub step: Step,
    /// Who runs it.
    pub actor: &'a str,
}

/// Records the start of a run and returns its number.
pub fn start(
    conn: &mut AnyConnection,
    new: &NewRun<'_>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    // Numbering is max + 1; two runs starting at once collide on the key and retry.
    for _ in 0..10 {
        let last: Option<i64> = c::table
            .filter(c::migration_id.eq(new.migration_id))
            .select(diesel::dsl::max(c::run))
            .first(conn)
            .map_err(ctx("number a cross-check run"))?;
        let run = last.unwrap_or(0) + 1;
        let inserted = diesel::insert_into(c::table)
            .values((
                c::migration_id.eq(new.migration_id),
                c::run.eq(run),
                c::full_scan.eq(new.sample.is_none()),
                c::sample_size.eq(new.sample.map(signed)),
                c::status.eq(CheckStatus::Running.as_str()),
                c::step.eq(new.step.id()),
                c::actor.eq(new.actor),
                c::started_at.eq(to_db(now)),
                c::heartbeat_at.eq(to_db(now)),
                c::matching.eq(0i64),
                c::missing_in_new.eq(0i64),
                c::extra_in_new.eq(0i64),
                c::differs.eq(0i64),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(run),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) => return Err(ctx("record a cross-check run")(e)),
        }
    }
    Err(StoreError::Setup(
        "could not number a cross-check run after 10 attempts".into(),
    ))
}

/// Records progress: counts so far, and that the run is alive.
pub fn heartbeat(
    conn: &mut AnyConnection,
    id: &str,
    run: i64,
    counts: Counts,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(c::table.find((id, run)))
        .set((
            c::heartbeat_at.eq(to_db(now)),
            c::matching.eq(signed(counts.matching)),
            c::missing_in_new.eq(signed(counts.missing_in_new)),
            c::extra_in_new.eq(signed(counts.extra_in_new)),
            c::differs.eq(signed(counts.differs)),
        ))
        .execute(conn)
        .map_err(ctx("record cross-check progress"))?;
    Ok(())
}

/// The report as it is stored and shown: each old and new value [`cut`] beyond
/// [`crate::bounded::VALUE_BYTES`], and only as many mismatches, in order, as fit in
/// [`crate::bounded::REPORT_BYTES`] of JSON (the counts still say how many there were).
///
/// [`cut`]: crate::bounded::cut
pub fn bounded_report(mismatches: Vec<Mismatch>) -> Vec<Mismatch> {
    let mut room = crate::bounded::REPORT_BYTES;
    let mut kept = Vec::with_capacity(mismatches.len());
    for m in mismatches {
        let m = Mismatch {
            old: crate::bounded::cut_opt(m.old),
            new: crate::bounded::cut_opt(m.new),
            ..m
        };
        let size = serde_json::to_string(&m).map_or(usize::MAX, |j| j.len() + 1);
        if size > room {
            break;
        }
        room -= size;
        kept.push(m);
    }
    kept
}

/// Records the end of a run: its counts and mismatch sample (bounded by
/// [`bounded_report`]).
pub fn finish(
    conn: &mut AnyConnection,
    id: &str,
    run: i64,
    counts: Counts,
    mismatches: &[Mismatch],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let report =
        serde_json::to_string(&bounded_report(mismatches.to_vec())).expect("mismatches serialize");
    diesel::update(c::table.find((id, run)))
        .set((
            c::status.eq(CheckStatus::Finished.as_str()),
            c::finished_at.eq(Some(to_db(now))),
            c::heartbeat_at.eq(to_db(now)),
            c::matching.eq(signed(counts.matching)),
            c::missing_in_new.eq(signed(counts.missing_in_new)),
            c::extra_in_new.eq(signed(counts.extra_in_new)),
            c::differs.eq(signed(counts.differs)),
            c::mismatches.eq(Some(report)),
        ))
        .execute(conn)
        .map_err(ctx("record the end of a cross-check run"))?;
    Ok(())
}

/// Records that a run stopped on an error.
pub fn fail(
    conn: &mut AnyConnection,
    id: &str,
    run: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(c::table.find((id, run)))
        .set((
            c::status.eq(CheckStatus::Failed.as_str()),
            c::error.eq(Some(crate::bounded::cut(error.to_owned()))),
            c::finished_at.eq(Some(to_db(now))),
        ))
        .execute(conn)
        .map_err(ctx("record a failed cross-check run"))?;
    Ok(())
}

/// Marks runs whose heartbeat is older than `stale_before` as interrupted.
pub fn reconcile(
    conn: &mut AnyConnection,
    id: &str,
    stale_before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    diesel::update(
        c::table
            .filter(c::migration_id.eq(id))
            .filter(c::status.eq(CheckStatus::Running.as_str()))
            .filter(c::heartbeat_at.lt(to_db(stale_before))),
    )
    .set(c::status.eq(CheckStatus::Interrupted.as_str()))
    .execute(conn)
    .map_err(ctx("mark dead cross-check runs interrupted"))
}

/// The newest `limit` runs of a migration, newest first, whatever their status.
pub fn recent(
    conn: &mut AnyConnection,
    id: &str,
    limit: i64,
) -> Result<Vec<CrossCheckRun>, StoreError> {
    c::table
        .filter(c::migration_id.eq(id))
        .order(c::run.desc())
        .limit(limit)
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read cross-check runs"))?
        .into_iter()
        .map(Row::into_run)
        .collect()
}

/// Every finished run, newest first, as guard facts.
pub fn finished(conn: &mut AnyConnection, id: &str) -> Result<Vec<CrossCheckFact>, StoreError> {
    let rows: Vec<Row> = c::table
        .filter(c::migration_id.eq(id))
        .filter(c::status.eq(CheckStatus::Finished.as_str()))
        .order(c::run.desc())
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read cross-check runs"))?;
    rows.into_iter()
        .map(|r| {
            let run = r.into_run()?;
            Ok(CrossCheckFact {
                run: run.run,
                full: run.full,
                started_at: run.started_at,
                finished_at: run.finished_at.unwrap_or(run.started_at),
                counts: run.counts,
                sample_size: run.sample_size.map(count),
                extra_rows: extra_rows(&run.mismatches),
            })
        })
        .collect()
}
