//! The wording both renderings share, so that the HTML page and the Markdown comment say
//! the same things in the same words.

use attrmig_core::fleet::InstanceSummary;
use attrmig_core::{EntryKind, Position, human_duration};
use attrmig_engine::{EntryView, InstanceView, LogView, MigrationFleet, Verification};
use attrmig_store::cross_checks::{CheckStatus, CrossCheckRun};
use chrono::{DateTime, Utc};

use crate::model::MigrationReport;

/// `2026-11-21 17:40 UTC`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `3d 4h ago`.
pub fn ago(now: &DateTime<Utc>, t: &DateTime<Utc>) -> String {
    match (*now - *t).to_std() {
        Ok(d) => format!("{} ago", human_duration(d)),
        Err(_) => "just now".into(),
    }
}

/// `12,345`.
pub fn count(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Where a migration stands and where it goes next, in one line.
pub fn standing(m: &MigrationReport) -> String {
    match (m.status.position, m.status.next) {
        (Position::Abandoned { at }, _) => format!("abandoned at {at}"),
        (Position::At(step), None) => format!("at {step}: complete"),
        (Position::At(step), Some(next)) => format!("at {step}; next {next}"),
    }
}

/// A short state word for badges and CSS classes.
pub fn state_class(m: &MigrationReport) -> &'static str {
    match (m.status.position, m.status.next) {
        (Position::Abandoned { .. }, _) => "abandoned",
        (_, None) => "complete",
        _ if m.status.problem.is_some() => "problem",
        _ if m.status.blocked_by.is_empty() => "ready",
        _ => "blocked",
    }
}

/// What blocks the next step: `ready`, the failing guards' names, or the plan problem.
pub fn blockers(m: &MigrationReport) -> String {
    match (&m.status.problem, m.status.next) {
        (Some(p), _) => p.clone(),
        (None, None) => "-".into(),
        (None, Some(_)) if m.status.blocked_by.is_empty() => "ready".into(),
        (None, Some(_)) => m
            .status
            .blocked_by
            .iter()
            .map(|b| b.guard)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The verification of the audit log's hash chain, in one sentence (two when broken: what
/// is wrong, and what to do).
pub fn verification(log: &LogView) -> String {
    match &log.verification {
        Some(Verification::Intact { entries }) => {
            format!(
                "hash chain intact: {entries} entries, ending at {}",
                log.position
            )
        }
        Some(Verification::Broken {
            message, advice, ..
        }) => format!("hash chain BROKEN: {message}. To repair: {advice}"),
        None => "hash chain not verified".into(),
    }
}

/// `#3 full` or `#4 sample of 1,000`.
pub fn run_label(run: &CrossCheckRun) -> String {
    match (run.full, run.sample_size) {
        (true, _) => format!("#{} full", run.run),
        (false, Some(n)) => format!("#{} sample of {}", run.run, count(n)),
        (false, None) => format!("#{} sample", run.run),
    }
}

/// A cross-check run's outcome: `clean`, `12 mismatches (...)`, or its status.
pub fn run_outcome(run: &CrossCheckRun) -> String {
    let c = &run.counts;
    match run.status {
        CheckStatus::Finished if c.clean() => format!("clean, {} matching", count(c.matching)),
        CheckStatus::Finished => format!(
            "{} mismatches (missing_in_new {}, extra_in_new {}, differs {}), {} matching",
            count(c.mismatches()),
            count(c.missing_in_new),
            count(c.extra_in_new),
            count(c.differs),
            count(c.matching)
        ),
        CheckStatus::Failed => format!(
            "failed: {}",
            run.error.as_deref().unwrap_or("no error recorded")
        ),
        CheckStatus::Interrupted => "interrupted".into(),
        CheckStatus::Running => "running".into(),
    }
}

/// The kind of an audit entry: `advance`, `ddl drop-old`, ...
pub fn entry_what(e: &EntryView) -> String {
    let kind = e.kind.as_str();
    match e.kind {
        EntryKind::Ddl => match e.evidence.get("ddl").and_then(|d| d.as_str()) {
            Some(ddl) => format!("{kind} {ddl}"),
            None => kind.to_owned(),
        },
        _ => kind.to_owned(),
    }
}

/// `3 double-write → 4 sync`, or just the step when it did not change.
pub fn entry_move(e: &EntryView) -> String {
    if e.from == e.to {
        e.to.to_string()
    } else {
        format!("{} → {}", e.from, e.to)
    }
}

/// Whether the fleet converged, in one sentence, and whether that is good news.
pub fn fleet_standing(f: &MigrationFleet) -> (bool, String) {
    let s = &f.summary;
    let gone = if s.gone > 0 {
        format!(" ({} gone)", s.gone)
    } else {
        String::new()
    };
    match (s.observed, s.live) {
        (Some(false), live) => (
            true,
            format!(
                "not observed ([fleet] observed = false): {live} live instance(s) report{gone}, and the guards don't read their reports"
            ),
        ),
        (_, 0) => (
            false,
            format!(
                "no live instance{gone}: the guards of an observed migration refuse until one reports"
            ),
        ),
        (_, live) if s.converged => (
            true,
            format!(
                "converged: {live} live instance(s){gone}, all applying the mode of {}",
                f.position
            ),
        ),
        (_, live) => (
            false,
            format!(
                "{} of {live} live instance(s) lag{gone}: {}",
                s.lagging.len(),
                s.lagging.iter().map(lagging).collect::<Vec<_>>().join("; ")
            ),
        ),
    }
}

/// `web-3 on host-b, version 1.9.0, at 2 cross-check, pinned`.
fn lagging(i: &InstanceSummary) -> String {
    let mut out = format!(
        "{} on {}, version {}, at {}",
        i.id, i.host, i.app_version, i.step
    );
    if i.pinned {
        out.push_str(", pinned");
    }
    if i.stale {
        out.push_str(", cannot read the state database");
    }
    out
}

/// `live`, `gone`, with `pinned` and `stale` when they apply.
pub fn instance_state(i: &InstanceView) -> String {
    let mut out = if i.summary.live { "live" } else { "gone" }.to_owned();
    if i.summary.pinned {
        out.push_str(", pinned");
    }
    if i.summary.stale {
        out.push_str(", stale");
    }
    out
}

/// A rate as a percentage with enough digits to tell a small one from zero.
pub fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p <= 0.0 {
        "0%".into()
    } else if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// A name as serde writes it (`completed`, `missing_in_new`).
pub fn serde_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents_keep_small_rates_apart_from_zero() {
        assert_eq!(
            [0.0, 0.0004, 0.0333, 0.25, 1.0].map(percent),
            ["0%", "0.04%", "3.3%", "25%", "100%"]
        );
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0u64), "0");
        assert_eq!(count(999i64), "999");
        assert_eq!(count(1_000i64), "1,000");
        assert_eq!(count(1_234_567u64), "1,234,567");
        assert_eq!(count(-12_345i64), "-12,345");
    }
}
