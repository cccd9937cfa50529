//! What the report shows, gathered once and rendered twice (HTML, Markdown), or
//! serialized as is (`--json`).

use attrmig_engine::{LogView, Show, StatusRow, Verification};
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
