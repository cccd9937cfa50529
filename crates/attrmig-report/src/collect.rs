//! Gathering the report from a connected [`Engine`]: the views `status`, `show` and
//! `log --verify` already build, plus the tool runs and data issues from the store.

use attrmig_engine::{Engine, EngineError};
use attrmig_store::{cross_checks, data_issues, sync_runs};
use chrono::{DateTime, Utc};

use crate::model::{CROSS_CHECKS_SHOWN, MigrationReport, Report};

/// Reads every migration of the engine's project.
pub fn collect(engine: &mut Engine, now: DateTime<Utc>) -> Result<Report, EngineError> {
    let mut migrations = Vec::new();
    for status in engine.status()? {
        let id = status.id.clone();
        // `show` refuses a migration whose plan is missing or invalid (the status row
        // says why); its audit log is still read and verified.
        let show = match engine.show(&id) {
            Ok(show) => Some(show),
            Err(EngineError::Refused(_)) => None,
            Err(e) => return Err(e),
        };
        let log = engine.log(&id, true)?;
        let state = engine.session().state();
        let mut checks = cross_checks::recent(state, &id, CROSS_CHECKS_SHOWN)?;
        checks.reverse();
        let mut syncs = sync_runs::list(state, &id)?;
        syncs.reverse();
        let (resolved, open): (Vec<_>, Vec<_>) = data_issues::list(state, &id, true)?
            .into_iter()
            .partition(|i| i.resolved_at.is_some());
        migrations.push(MigrationReport {
            status,
            show,
            log,
            cross_checks: checks,
            sync_runs: syncs,
            open_issues: open,
            resolved_issues: resolved.len(),
        });
    }
    let project = engine
        .project
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Report {
        generated_at: now,
        project,
        env: engine.project.env.clone(),
        migrations,
    })
}
