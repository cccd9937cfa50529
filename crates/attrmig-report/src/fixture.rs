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

use attrmig_core::fleet::{
    Bucket, Counter, Counters, FieldDiff, Identity, InstanceReport, MismatchSample, Period,
};
use attrmig_engine::MigrationFleet;

use crate::model::{FleetReport, MigrationReport, Report};

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
        fleet: fleet_view().summary,
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
        approvals_not_counted: Vec::new(),
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
        fleet: Some(FleetReport {
            fleet: fleet_view(),
            double_read: crate::fleet::double_read(&fleet_reports()),
            max_mismatch_rate: Some(0.0),
        }),
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
        fleet: None,
    };
    Report {
        generated_at: at(140),
        project: "shop".into(),
        env: "prd".into(),
        migrations: vec![busy, abandoned],
    }
}

fn counters(pairs: &[(Counter, u64)]) -> Counters {
    let mut c = Counters::default();
    for (k, n) in pairs {
        c[*k] = *n;
    }
    c
}

fn instance(
    id: &str,
    host: &str,
    version: &str,
    periods: Vec<Period>,
    reported: DateTime<Utc>,
) -> InstanceReport {
    let last = periods.last().expect("a period").clone();
    InstanceReport {
        migration_id: "users-full-name".into(),
        identity: Identity {
            id: id.into(),
            host: host.into(),
            process: format!("api[{}]", 4000 + id.len()),
            app_version: version.into(),
        },
        step: last.step,
        since: last.since,
        pinned: false,
        stale: false,
        seen_step: Some(Step::DoubleReadOld),
        seen_version: Some(5),
        started_at: periods[0].since,
        reported_at: reported,
        periods,
        buckets: Vec::new(),
        mismatches: Vec::new(),
    }
}

/// The fleet of users-full-name at 5a: two instances compare reads (web-1 found the
/// mismatches, one with markup in its value), web-3 is pinned at 2 by an old release,
/// web-0 is gone.
pub fn fleet_reports() -> Vec<InstanceReport> {
    let now = at(140);
    let reached = at(120) + Duration::seconds(5);
    let minute = |m: i64| at(139) + Duration::minutes(m);
    let bucket = |start, end, pairs: &[(Counter, u64)]| Bucket {
        start,
        end,
        step: Step::DoubleReadOld,
        counters: counters(pairs),
    };
    let in_5a = |compared| Period {
        step: Step::DoubleReadOld,
        since: reached,
        counters: counters(&[(Counter::Compared, compared)]),
    };
    let mut web1 = instance(
        "web-1",
        "host-a",
        "2.0.0",
        vec![in_5a(100)],
        now - Duration::seconds(4),
    );
    web1.buckets = vec![
        bucket(
            at(125),
            at(126),
            &[
                (Counter::Compared, 50),
                (Counter::Mismatches, 2),
                (Counter::TransientMismatches, 1),
            ],
        ),
        bucket(
            minute(0) + Duration::seconds(2),
            minute(1),
            &[(Counter::Compared, 20), (Counter::Mismatches, 1)],
        ),
        bucket(minute(1), minute(2), &[(Counter::Compared, 30)]),
        bucket(minute(2), minute(3), &[(Counter::Compared, 10)]),
    ];
    web1.periods[0].counters = counters(&[
        (Counter::Compared, 110),
        (Counter::Mismatches, 3),
        (Counter::TransientMismatches, 1),
    ]);
    web1.mismatches = vec![
        MismatchSample {
            key: "42".into(),
            at: at(125) + Duration::minutes(10),
            step: Step::DoubleReadOld,
            fields: vec![FieldDiff {
                field: "value".into(),
                old: "\"<b>Ada</b>\"".into(),
                new: "\"ada\"".into(),
            }],
        },
        MismatchSample {
            key: "7".into(),
            at: minute(0) + Duration::seconds(30),
            step: Step::DoubleReadOld,
            fields: vec![FieldDiff {
                field: "value".into(),
                old: "\"Grace\"".into(),
                new: "None".into(),
            }],
        },
    ];
    let mut web2 = instance(
        "web-2",
        "host-b",
        "2.0.0",
        vec![in_5a(100)],
        now - Duration::seconds(7),
    );
    web2.buckets = vec![
        bucket(
            at(125) + Duration::minutes(10),
            at(126),
            &[(Counter::Compared, 40), (Counter::Mismatches, 1)],
        ),
        bucket(
            at(126) - Duration::minutes(1),
            at(126),
            &[(Counter::Compared, 5)],
        ),
        bucket(minute(0), minute(1), &[(Counter::Compared, 25)]),
        bucket(minute(1), minute(2), &[(Counter::Compared, 30)]),
    ];
    let cross_check = Period {
        step: Step::CrossCheck,
        since: at(40),
        counters: counters(&[(Counter::WritesOld, 900), (Counter::ReadsOld, 4000)]),
    };
    let mut web3 = instance(
        "web-3",
        "host-c",
        "1.9.0",
        vec![cross_check.clone()],
        now - Duration::seconds(9),
    );
    web3.pinned = true;
    web3.buckets = vec![Bucket {
        start: minute(0),
        end: minute(1),
        step: Step::CrossCheck,
        counters: counters(&[(Counter::WritesOld, 12)]),
    }];
    let web0 = instance("web-0", "host-a", "1.8.0", vec![cross_check], at(60));
    vec![web1, web2, web3, web0]
}

/// What `attrmig fleet users-full-name` shows of [`fleet_reports`], its plan observed.
pub fn fleet_view() -> MigrationFleet {
    let mut view = MigrationFleet::of(
        "users-full-name".into(),
        None,
        Position::At(Step::DoubleReadOld),
        fleet_reports(),
        at(140),
    );
    view.summary.observed = Some(true);
    view
}
