//! What the report shows, gathered once and rendered twice (HTML, Markdown), or
//! serialized as is (`--json`).

use attrmig_core::Step;
use attrmig_engine::{LogView, MigrationFleet, Show, StatusRow, Verification};
use attrmig_store::cross_checks::CrossCheckRun;
use attrmig_store::data_issues::DataIssue;
use attrmig_store::sync_runs::SyncRun;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Every migration of a project, as it stands at `generated_at`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the report was made; "now" for every age in it.
    pub generated_at: DateTime<Utc>,
    /// The project's name (its folder).
    pub project: String,
    /// The environment whose database was read.
    pub env: String,
    /// Every migration with a plan or a record, by id.
    pub migrations: Vec<MigrationReport>,
}

/// One migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// Its `status` line: position, next step, blockers, last cross-check, owners, and a
    /// missing or invalid plan.
    pub status: StatusRow,
    /// Its ladder and the guards of its next step; `None` when its plan is missing or
    /// invalid (`status.problem` says which).
    pub show: Option<Show>,
    /// Its audit log, with the hash chain verified.
    pub log: LogView,
    /// Cross-check runs, oldest first (the newest [`CROSS_CHECKS_SHOWN`]).
    pub cross_checks: Vec<CrossCheckRun>,
    /// Sync passes, oldest first.
    pub sync_runs: Vec<SyncRun>,
    /// Data issues not resolved yet, by key.
    pub open_issues: Vec<DataIssue>,
    /// How many were resolved.
    pub resolved_issues: usize,
    /// The application's instances, from their reports; `None` for a migration that is
    /// not observed and has no reports (its `show` says what is taken on trust).
    pub fleet: Option<FleetReport>,
}

/// One migration's fleet, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// What `attrmig fleet ID` shows: every instance, live first, whether the live
    /// fleet converged on the migration's step, and who lags.
    pub fleet: MigrationFleet,
    /// The double read over time, the whole fleet's counts summed: one point per time
    /// bucket (a minute, an hour once older) in which reads were compared.
    pub double_read: Vec<RatePoint>,
    /// `[fleet] max_mismatch_rate` (`None` without a valid plan).
    pub max_mismatch_rate: Option<f64>,
}

/// The fleet's compared reads over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatePoint {
    /// Start: the earliest of the instances' buckets that end at `end`.
    pub start: DateTime<Utc>,
    /// End (a minute or hour boundary).
    pub end: DateTime<Utc>,
    /// The steps whose modes compared them (5a, 5b), in order.
    pub steps: Vec<Step>,
    /// Reads both of whose sides were read and compared.
    pub compared: u64,
    /// Those that still disagreed when read again.
    pub mismatches: u64,
    /// Those that agreed when read again (a write landed between the reads).
    pub transient: u64,
}

impl RatePoint {
    /// Persistent mismatches per compared read.
    pub fn rate(&self) -> f64 {
        self.mismatches as f64 / self.compared.max(1) as f64
    }
}

/// How many cross-check runs a migration's chart goes back.
pub const CROSS_CHECKS_SHOWN: i64 = 500;

impl MigrationReport {
    /// The migration's id.
    pub fn id(&self) -> &str {
        &self.status.id
    }

    /// Whether the audit log's hash chain verified.
    pub fn chain_intact(&self) -> bool {
        !matches!(self.log.verification, Some(Verification::Broken { .. }))
    }
}

impl Report {
    /// Whether any audit log failed verification.
    pub fn any_chain_broken(&self) -> bool {
        self.migrations.iter().any(|m| !m.chain_intact())
    }
}
