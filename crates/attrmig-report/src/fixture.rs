//! A report built by hand for the renderers' tests: fixed times, every section filled,
//! and hostile strings where people write free text.

use attrmig_core::facts::{ApprovalFact, Counts, SyncStatus};
use attrmig_core::guards::{GuardCheck, Passed};
use attrmig_core::{EntryKind, Mode, Position, Refusal, Step};
use attrmig_engine::{
    EntryView, LogView, ModeView, Rung, RungState, Show, StatusRow, Verification,
};
use attrmig_store::cross_checks::{CheckStatus, CrossCheckRun, Mismatch, MismatchClass};
use attrmig_store::data_issues::DataIssue;
use attrmig_store::sync_runs::SyncRun;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::model::{MigrationReport, Report};

/// 2026-11-01 09:00 UTC.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_793_523_600, 0).unwrap()
}

fn at(hours: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours)
}

/// A note with markup in it, as someone might paste.
pub const HOSTILE: &str = "shipped in <script>alert('x')</script> | release *42*";

fn entries(id: &str) -> Vec<EntryView> {
    let mut out = Vec::new();
    let mut from = Step::Planned;
    for (i, to) in [
        Step::PrepareStorage,
        Step::CrossCheck,
        Step::DoubleWrite,
        Step::Sync,
        Step::DoubleReadOld,
    ]
    .into_iter()
    .enumerate()
    {
        let version = i as i64 + 1;
        out.push(EntryView {
            version,
            kind: EntryKind::Advance,
            from,
            to,
            actor: if i % 2 == 0 {
                "alice@example.com".into()
            } else {
                "bob@example.com".into()
            },
            db_user: Some("app".into()),
            at: at(24 * version),
            note: (to == Step::DoubleWrite).then(|| HOSTILE.to_owned()),
            evidence: json!({}),
            prev_hash: format!("{:064x}", version - 1),
            hash: format!("{version:064x}"),
        });
        from = to;
    }
    let _ = id;
    out
}

fn show(id: &str, log: &[EntryView]) -> Show {
    let current = Step::DoubleReadOld;
    let ladder = Step::ALL
        .into_iter()
        .map(|step| {
            let state = match step.cmp(&current) {
                std::cmp::Ordering::Less => RungState::Reached,
                std::cmp::Ordering::Equal => RungState::Current,
                std::cmp::Ordering::Greater if Some(step) == current.next() => RungState::Next,
                std::cmp::Ordering::Greater => RungState::Later,
            };
            let reached = log
                .iter()
                .find(|e| e.to == step && state != RungState::Next && state != RungState::Later);
            Rung {
                step,
                number: step.number(),
                meaning: step.meaning(),
                state,
                reached_at: reached.map(|e| e.at),
                by: reached.map(|e| e.actor.clone()),
            }
        })
        .collect();
    let mode = Mode::at(current);
    Show {
        fleet: attrmig_engine::FleetSummary::not_observed(),
        id: id.into(),
        description: "Move full_name out of users into users_pii".into(),
        owners: vec!["identity-team".into()],
        old: "users.full_name".into(),
        new: "users_pii.full_name".into(),
        position: Position::At(current),
        version: log.len() as i64,
        mode: ModeView {
            id: id.into(),
            step: current,
            abandoned: false,
            write_old: mode.write_old,
            write_new: mode.write_new,
            read: mode.read,
            compare: true,
            serve: mode.serves(),
            summary: mode.describe(),
        },
        ladder,
        next: current.next(),
        guards: vec![
            GuardCheck {
                name: "plan-unchanged",
                verdict: Ok(Passed {
                    detail: "storage part unchanged".into(),
                    evidence: json!({}),
                }),
            },
            GuardCheck {
                name: "fresh-clean-cross-check",
                verdict: Err(Refusal::NoCrossCheck { id: id.into() }),
            },
        ],
        approvals: vec![ApprovalFact {
            approver: "carol@example.com".into(),
            at: at(130),
        }],
        audit_log: Verification::Intact { entries: log.len() },
        dependents: Vec::new(),
    }
}

fn run(n: i64, hours: i64, differs: u64, status: CheckStatus) -> CrossCheckRun {
    CrossCheckRun {
        run: n,
        full: n != 3,
        sample_size: (n == 3).then_some(1000),
        status,
        step: Step::Sync,
        actor: "ci@example.com".into(),
        started_at: at(hours),
        finished_at: (status == CheckStatus::Finished).then(|| at(hours) + Duration::minutes(5)),
        counts: Counts {
            matching: 10_000 - differs,
            missing_in_new: 0,
            extra_in_new: 0,
            differs,
        },
        mismatches: (0..differs.min(2))
            .map(|k| Mismatch {
                key: format!("{k}"),
                field: "full_name".into(),
                class: MismatchClass::Differs,
                old: Some("<b>old</b>".into()),
                new: None,
            })
            .collect(),
        error: (status == CheckStatus::Failed).then(|| "connection reset".to_owned()),
    }
}

/// A log whose newest entries were removed.
fn truncated(id: &str) -> Verification {
    let problem = attrmig_core::audit::ChainBreak::Truncated {
        version: 2,
        last: 0,
    };
    Verification::Broken {
        message: problem.to_string(),
        advice: problem.remedy(id),
        problem,
    }
}

/// One migration at 5a with every section filled, and one abandoned with nothing.
pub fn report() -> Report {
    let id = "users-full-name";
    let log = entries(id);
    let busy = MigrationReport {
        status: StatusRow {
            id: id.into(),
            position: Position::At(Step::DoubleReadOld),
            next: Some(Step::DoubleReadNew),
            blocked_by: Vec::new(),
            last_cross_check: None,
            owners: vec!["identity-team".into()],
            problem: None,
            audit_log: Verification::Intact { entries: log.len() },
            fleet: None,
        },
        show: Some(show(id, &log)),
        log: LogView {
            id: id.into(),
            position: Position::At(Step::DoubleReadOld),
            verification: Some(Verification::Intact { entries: log.len() }),
            entries: log,
        },
        cross_checks: vec![
            run(1, 30, 10_000, CheckStatus::Finished),
            run(2, 80, 12, CheckStatus::Finished),
            run(3, 90, 0, CheckStatus::Finished),
            run(4, 100, 0, CheckStatus::Failed),
            run(5, 110, 0, CheckStatus::Finished),
        ],
        sync_runs: vec![
            SyncRun {
                pass: 1,
                status: SyncStatus::Interrupted,
                step: Step::DoubleWrite,
                holder: "sync@example.com".into(),
                started_at: at(75),
                heartbeat_at: at(76),
                finished_at: None,
                checkpoint: Some("4000".into()),
                rows_scanned: 4_000,
                rows_written: 4_000,
                rows_rejected: 0,
                error: Some("connection lost".into()),
            },
            SyncRun {
                pass: 2,
                status: SyncStatus::Completed,
                step: Step::DoubleWrite,
                holder: "sync@example.com".into(),
                started_at: at(77),
                heartbeat_at: at(78),
                finished_at: Some(at(78)),
                checkpoint: Some("10000".into()),
                rows_scanned: 10_000,
                rows_written: 9_998,
                rows_rejected: 2,
                error: None,
            },
        ],
        open_issues: vec![DataIssue {
            key: "7".into(),
            old_value: Some("x".repeat(300)),
            error: "value too long for type character varying(255)".into(),
            pass: 2,
            first_seen_at: at(77),
            last_seen_at: at(78),
            attempts: 1,
            resolved_at: None,
        }],
        resolved_issues: 1,
    };
    let gone = "orders-status";
    let abandoned = MigrationReport {
        status: StatusRow {
            id: gone.into(),
            position: Position::Abandoned {
                at: Step::PrepareStorage,
            },
            next: None,
            blocked_by: Vec::new(),
            last_cross_check: None,
            owners: Vec::new(),
            problem: Some("plan missing: plans/orders-status.toml".into()),
            audit_log: truncated(gone),
            fleet: None,
        },
        show: None,
        log: LogView {
            id: gone.into(),
            position: Position::Abandoned {
                at: Step::PrepareStorage,
            },
            entries: Vec::new(),
            verification: Some(truncated(gone)),
        },
        cross_checks: Vec::new(),
        sync_runs: Vec::new(),
        open_issues: Vec::new(),
        resolved_issues: 0,
    };
    Report {
        generated_at: at(140),
        project: "shop".into(),
        env: "prd".into(),
        migrations: vec![busy, abandoned],
    }
}
