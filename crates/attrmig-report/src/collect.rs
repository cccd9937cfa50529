//! Gathering the report from a connected [`Engine`]: the views `status`, `show` and
//! `log --verify` already build, plus the tool runs and data issues from the store.

use attrmig_core::audit::verify_chain;
use attrmig_core::{Position, Step};
use attrmig_engine::{Engine, EngineError, EntryView, LogView, Verification};
use attrmig_store::{audit, cross_checks, data_issues, migration, sync_runs};
use chrono::{DateTime, Utc};

use crate::model::{CROSS_CHECKS_SHOWN, MigrationReport, Report};

/// Reads every migration of the engine's project.
pub fn collect(engine: &mut Engine, now: DateTime<Utc>) -> Result<Report, EngineError> {
    let mut migrations = Vec::new();
    for status in engine.status()? {
        let id = status.id.clone();
        // `show` and `log` refuse a migration whose plan is missing or invalid; the status
        // row already says why, and the audit log is still read and verified.
        let show = match engine.show(&id) {
            Ok(show) => Some(show),
            Err(EngineError::Refused(_)) => None,
            Err(e) => return Err(e),
        };
        let log = match engine.log(&id, true) {
            Ok(log) => log,
            Err(EngineError::Refused(_)) => verified_log(engine, &id)?,
            Err(e) => return Err(e),
        };
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

/// `log --verify` straight from the store, for a migration whose plan is invalid (the
/// engine's `log` wants a valid plan or none).
fn verified_log(engine: &mut Engine, id: &str) -> Result<LogView, EngineError> {
    let state = engine.session().state();
    let (position, version) = migration::get(state, id)?
        .map_or((Position::At(Step::Planned), 0), |r| {
            (r.position, r.version)
        });
    let entries = audit::log(state, id)?;
    let verification = match verify_chain(&entries, version, position) {
        Ok(()) => Verification::Intact {
            entries: entries.len(),
        },
        Err(problem) => Verification::Broken {
            message: problem.to_string(),
            problem,
        },
    };
    let entries = entries
        .into_iter()
        .map(|(e, hash)| EntryView {
            version: e.version,
            kind: e.kind,
            from: e.from_step,
            to: e.to_step,
            actor: e.actor,
            db_user: e.db_user,
            at: e.at,
            note: e.note,
            evidence: serde_json::from_str(&e.evidence)
                .unwrap_or(serde_json::Value::String(e.evidence)),
            prev_hash: e.prev_hash,
            hash,
        })
        .collect();
    Ok(LogView {
        id: id.to_owned(),
        position,
        entries,
        verification: Some(verification),
    })
}
