//! Gathering the report from a connected [`Engine`]: the views `status`, `show`,
//! `log --verify` and `fleet` already build, plus the tool runs, data issues and the
//! instances' reports from the store.

use attrmig_engine::{Engine, EngineError};
use attrmig_store::{cross_checks, data_issues, fleet, sync_runs};
use chrono::{DateTime, Utc};

use crate::model::{CROSS_CHECKS_SHOWN, FleetReport, MigrationReport, Report};

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
        let fleet = fleet_report(engine, &id)?;
        migrations.push(MigrationReport {
            status,
            show,
            log,
            cross_checks: checks,
            sync_runs: syncs,
            open_issues: open,
            resolved_issues: resolved.len(),
            fleet,
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

/// The fleet of a migration that is observed or has reports.
fn fleet_report(engine: &mut Engine, id: &str) -> Result<Option<FleetReport>, EngineError> {
    let plan = engine.project.load_plan(id).ok().flatten();
    let reports = fleet::reports(engine.session().state(), id)?;
    if reports.is_empty() && !plan.as_ref().is_some_and(|p| p.fleet.observed) {
        return Ok(None);
    }
    let view = engine.fleet(Some(id))?.migrations.into_iter().next();
    Ok(view.map(|fleet| FleetReport {
        fleet,
        double_read: crate::fleet::double_read(&reports),
        max_mismatch_rate: plan.map(|p| p.fleet.max_mismatch_rate),
    }))
}
