//! The two background threads: the refresher reads every migration's step and applies
//! it; the reporter drains the counts at every minute boundary and writes one report per
//! migration on the report interval, off the request path.
//!
//! The refresher never moves a migration on its own: it applies what it read, and when
//! it can't read, it keeps the modes it has and says so (a `warn` event, and
//! [`crate::Instance::is_stale`]). The reporter retries a report that could not be
//! written with a growing delay (1 s, 2 s, … up to the report interval); reports are
//! cumulative, so the next one carries everything the failed one held.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use attrmig_core::fleet::InstanceReport;
use attrmig_core::{Mode, Position, Step};
use attrmig_protocol::{MigrationRow, ReportRow};
use chrono::{DateTime, DurationRound, Utc};

use crate::cell::Cell;
use crate::error::StateError;
use crate::instance::Shared;
use crate::ledger::Seen;

/// A migration with no row: attrmig registers it with its first audit entry.
pub(crate) const PLANNED: Seen = Seen {
    step: Step::Planned,
    abandoned: false,
    version: 0,
};

/// The rows by migration id, each as seen or as why it can't be read.
pub(crate) fn seen_by_id(rows: &[MigrationRow]) -> HashMap<&str, Result<Seen, StateError>> {
    rows.iter()
        .map(|row| {
            let seen = row
                .position()
                .map(|position| Seen {
                    step: position.step(),
                    abandoned: matches!(position, Position::Abandoned { .. }),
                    version: row.version,
                })
                .map_err(|e| StateError::new(format!("migration `{}`: {e}", row.id)));
            (row.id.as_str(), seen)
        })
        .collect()
}

pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<Vec<JoinHandle<()>>> {
    let refresher = {
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name("attrmig-refresh".into())
            .spawn(move || refresh_loop(&shared))?
    };
    let reporter = {
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name("attrmig-report".into())
            .spawn(move || report_loop(&shared))?
    };
    Ok(vec![refresher, reporter])
}

fn refresh_loop(shared: &Shared) {
    while !shared.sleep(shared.options.refresh_every) {
        refresh(shared, Utc::now());
    }
}

/// Reads the steps once and applies them.
pub(crate) fn refresh(shared: &Shared, now: DateTime<Utc>) {
    let rows = match shared.db.read_steps() {
        Ok(rows) => rows,
        Err(e) => return read_failed(shared, e),
    };
    let seen = seen_by_id(&rows);
    let mut failure = None;
    for cell in &shared.cells {
        let s = match seen.get(cell.id.as_str()) {
            Some(Ok(s)) => *s,
            Some(Err(e)) => {
                failure = Some(e.clone());
                continue;
            }
            None => PLANNED,
        };
        let mut ledger = cell.ledger();
        ledger.seen = Some(s);
        if let Some(step) = cell.settle(&mut ledger, now) {
            tracing::info!(
                target: "attrmig_app::mode",
                migration = %cell.id,
                step = step.id(),
                version = s.version,
                pinned = ledger.pinned.is_some(),
                "applying {step}: {}",
                Mode::at(step).describe()
            );
        }
    }
    if let Some(e) = failure {
        return read_failed(shared, e);
    }
    let mut health = shared.health();
    if let Some(was) = health.read_failing.take() {
        tracing::info!(
            target: "attrmig_app::state",
            instance = %shared.identity.id,
            "the state database is readable again (it failed with: {was})"
        );
    }
    health.last_read_ok = Some(now);
}

fn read_failed(shared: &Shared, e: StateError) {
    let mut health = shared.health();
    if health.read_failing.is_none() {
        let modes: Vec<String> = shared
            .cells
            .iter()
            .map(|c| format!("{} at {}", c.id, c.current().0))
            .collect();
        tracing::warn!(
            target: "attrmig_app::state",
            instance = %shared.identity.id,
            error = %e,
            "cannot read the migrations' steps; keeping the modes applied ({}) until it can",
            modes.join(", ")
        );
    }
    health.read_failing = Some(e.0);
}

fn next_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let minute = chrono::Duration::seconds(60);
    t.duration_trunc(minute).unwrap_or(t) + minute
}

fn until(now: DateTime<Utc>, t: DateTime<Utc>) -> Duration {
    (t - now).to_std().unwrap_or(Duration::ZERO)
}

fn report_loop(shared: &Shared) {
    let every = shared.options.report_every;
    let mut last_drain = Utc::now();
    let mut next_report = last_drain + every;
    let mut failures: u32 = 0;
    loop {
        let now = Utc::now();
        let wake = next_report.min(next_minute(last_drain));
        if shared.sleep(until(now, wake)) {
            break;
        }
        let now = Utc::now();
        drain(shared, last_drain);
        last_drain = now;
        if now < next_report {
            continue;
        }
        match report(shared, now) {
            Ok(()) => {
                failures = 0;
                next_report = now + every;
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                let backoff = Duration::from_secs(1 << failures.min(12)).min(every);
                next_report = now + backoff;
            }
        }
    }
    // Stopping: count everything, and one last try to write it.
    let now = Utc::now();
    drain(shared, last_drain);
    let _ = report(shared, now);
}

/// Moves every count made since `since` into the ledgers.
pub(crate) fn drain(shared: &Shared, since: DateTime<Utc>) {
    for cell in &shared.cells {
        let counts: Vec<_> = Step::ALL.iter().map(|s| (*s, cell.drain(*s))).collect();
        let mut ledger = cell.ledger();
        for (step, counts) in counts {
            ledger.add(step, &counts, since);
        }
    }
}

/// One report per migration. The first failure is returned (the others still ran).
pub(crate) fn report(shared: &Shared, now: DateTime<Utc>) -> Result<(), StateError> {
    let stale = shared.stale(now);
    let mut first_error = None;
    for cell in &shared.cells {
        let row = ReportRow::encode(&report_of(shared, cell, stale, now));
        if let Err(e) = shared.db.write_report(&row) {
            first_error.get_or_insert(e);
        }
    }
    let mut health = shared.health();
    match first_error {
        None => {
            if let Some(was) = health.report_failing.take() {
                tracing::info!(
                    target: "attrmig_app::state",
                    instance = %shared.identity.id,
                    failures = health.report_failures,
                    "reports are written again (they failed with: {was}); nothing was lost, reports are cumulative"
                );
            }
            health.report_failures = 0;
            health.last_report_ok = Some(now);
            Ok(())
        }
        Some(e) => {
            if health.report_failing.is_none() {
                tracing::warn!(
                    target: "attrmig_app::state",
                    instance = %shared.identity.id,
                    error = %e,
                    "cannot write the fleet report; retrying (counts are kept: minutes for an hour, hours for eight days)"
                );
            }
            health.report_failing = Some(e.0.clone());
            health.report_failures += 1;
            Err(e)
        }
    }
}

fn report_of(shared: &Shared, cell: &Cell, stale: bool, now: DateTime<Utc>) -> InstanceReport {
    let mut ledger = cell.ledger();
    ledger.compact(now);
    let (step, since) = ledger.current();
    InstanceReport {
        migration_id: cell.id.clone(),
        identity: shared.identity.clone(),
        step,
        since,
        pinned: ledger.pinned.is_some(),
        stale,
        seen_step: ledger.seen.map(|s| s.step),
        seen_version: ledger.seen.map(|s| s.version),
        started_at: shared.started_at,
        reported_at: now,
        periods: ledger.periods.iter().cloned().collect(),
        buckets: ledger.buckets.clone(),
        mismatches: ledger.samples.iter().cloned().collect(),
    }
}
