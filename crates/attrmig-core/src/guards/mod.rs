//! The guards of each step: pure functions over observed [`Facts`] that pass with evidence
//! or refuse with a [`Refusal`] that says what to do next.
//!
//! Each step's guards live in the file named after the step (`sync.rs` guards entering
//! 4 sync). [`evaluate`] dispatches; [`needs`] tells the engine which facts to observe.

mod cross_check;
mod database;
mod delete_tools;
mod double_read_new;
mod double_read_old;
mod double_write;
mod drop_old;
mod fleet;
mod prepare_old_stop;
mod prepare_storage;
mod stop_reading_old;
mod stop_writing_old;
mod sync;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

pub use database::{AbsenceVerdicts, absence_verdicts, drop_obstacles, taken_along, takes_along};

use crate::facts::{CrossCheckFact, Facts};
use crate::plan::Plan;
use crate::refusal::{human_duration, ts};
use crate::{Refusal, Step};

/// One guard's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardCheck {
    /// Stable name, e.g. `sync-after-double-write`.
    pub name: &'static str,
    /// Pass with evidence, or a refusal.
    #[serde(flatten, serialize_with = "verdict_json")]
    pub verdict: Result<Passed, Refusal>,
}

/// A passing guard's explanation and the evidence recorded in the audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passed {
    /// Why it passed, in one line.
    pub detail: String,
    /// What it relied on (run ids, times, introspected types), for the audit log.
    pub evidence: Value,
}

fn verdict_json<S: serde::Serializer>(
    v: &Result<Passed, Refusal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(2))?;
    match v {
        Ok(p) => {
            map.serialize_entry("passed", &true)?;
            map.serialize_entry("detail", &p.detail)?;
        }
        Err(r) => {
            map.serialize_entry("passed", &false)?;
            map.serialize_entry("detail", &r.to_string())?;
        }
    }
    map.end()
}

impl GuardCheck {
    fn pass(name: &'static str, detail: impl Into<String>, evidence: Value) -> GuardCheck {
        GuardCheck {
            name,
            verdict: Ok(Passed {
                detail: detail.into(),
                evidence,
            }),
        }
    }

    fn fail(name: &'static str, refusal: Refusal) -> GuardCheck {
        GuardCheck {
            name,
            verdict: Err(refusal),
        }
    }

    fn from_result(name: &'static str, result: Result<Passed, Refusal>) -> GuardCheck {
        GuardCheck {
            name,
            verdict: result,
        }
    }

    /// Did it pass.
    pub fn passed(&self) -> bool {
        self.verdict.is_ok()
    }
}

fn passed(detail: impl Into<String>, evidence: Value) -> Result<Passed, Refusal> {
    Ok(Passed {
        detail: detail.into(),
        evidence,
    })
}

/// Which facts the guards of a step read, so the engine observes only those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Introspect the new table.
    pub new_storage: bool,
    /// Introspect the old table.
    pub old_storage: bool,
    /// For JSON/EAV kinds, whether any row still holds the attribute.
    pub old_attribute_rows: bool,
    /// For EAV, whether an entity has more than one row of the attribute.
    pub attribute_duplicates: bool,
    /// Cross-check runs.
    pub cross_checks: bool,
    /// Sync passes.
    pub sync_passes: bool,
    /// Unresolved data issues.
    pub data_issues: bool,
    /// Hand-written tool paths in the repository.
    pub tool_paths: bool,
    /// Approvals.
    pub approvals: bool,
    /// Late writes to old storage since step 9.
    pub late_writes: bool,
    /// The database objects that name the old attribute (views, triggers, constraints...).
    pub dependents: bool,
    /// Tools holding a live lease.
    pub running_tools: bool,
    /// The application instances' reports, for a plan whose `[fleet]` is observed.
    pub fleet: bool,
}

/// The facts the guards of `entering` read.
pub fn needs(entering: Step) -> Needs {
    let none = Needs::default();
    match entering {
        Step::Planned => none,
        Step::PrepareStorage => Needs {
            new_storage: true,
            old_storage: true,
            attribute_duplicates: true,
            ..none
        },
        Step::CrossCheck => Needs {
            cross_checks: true,
            ..none
        },
        Step::DoubleWrite => none,
        Step::Sync => Needs {
            cross_checks: true,
            sync_passes: true,
            data_issues: true,
            fleet: true,
            ..none
        },
        Step::DoubleReadOld => Needs {
            cross_checks: true,
            ..none
        },
        Step::DoubleReadNew => Needs {
            cross_checks: true,
            fleet: true,
            ..none
        },
        Step::StopReadingOld => Needs {
            cross_checks: true,
            dependents: true,
            fleet: true,
            ..none
        },
        Step::PrepareOldStop => Needs {
            old_storage: true,
            dependents: true,
            fleet: true,
            ..none
        },
        Step::DeleteTools => Needs {
            cross_checks: true,
            tool_paths: true,
            running_tools: true,
            ..none
        },
        Step::StopWritingOld => Needs {
            approvals: true,
            dependents: true,
            ..none
        },
        Step::DropOld => Needs {
            old_storage: true,
            old_attribute_rows: true,
            late_writes: true,
            fleet: true,
            ..none
        },
    }
}

/// Every guard of entering `entering`, in the order `show` lists them.
pub fn evaluate(entering: Step, plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = Vec::new();
    // From step 1 on the plan's storage part is pinned: a changed plan is a new migration.
    if entering > Step::PrepareStorage {
        checks.push(plan_unchanged(plan, facts));
    }
    // Shown (and recorded) for an observed plan, or one that was observed at the last
    // advance: a plan that never was keeps today's guards exactly.
    let observed_before = facts.fleet_observed_recorded == Some(true);
    if entering > Step::Planned && (plan.fleet.observed || observed_before) {
        checks.push(fleet_observation_unchanged(plan, facts));
    }
    checks.extend(match entering {
        Step::Planned => Vec::new(),
        Step::PrepareStorage => prepare_storage::guards(plan, facts),
        Step::CrossCheck => cross_check::guards(plan, facts),
        Step::DoubleWrite => double_write::guards(plan, facts),
        Step::Sync => sync::guards(plan, facts),
        Step::DoubleReadOld => double_read_old::guards(plan, facts),
        Step::DoubleReadNew => double_read_new::guards(plan, facts),
        Step::StopReadingOld => stop_reading_old::guards(plan, facts),
        Step::PrepareOldStop => prepare_old_stop::guards(plan, facts),
        Step::DeleteTools => delete_tools::guards(plan, facts),
        Step::StopWritingOld => stop_writing_old::guards(plan, facts),
        Step::DropOld => drop_old::guards(plan, facts),
    });
    checks
}

fn plan_unchanged(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "plan-unchanged";
    let fp = &facts.plan_fingerprint;
    match &fp.recorded {
        Some(recorded) if *recorded != fp.current => GuardCheck::fail(
            name,
            Refusal::PlanChanged {
                id: plan.id.to_string(),
                recorded: recorded.clone(),
                current: fp.current.clone(),
            },
        ),
        Some(_) => GuardCheck::pass(
            name,
            "storage part unchanged since 1 prepare-storage",
            json!({ "storage_fingerprint": fp.current }),
        ),
        // Migrations recorded before fingerprints existed have none; nothing to compare.
        None => GuardCheck::pass(name, "no fingerprint recorded", Value::Null),
    }
}

/// The guard that records `[fleet] observed` with every advance, and refuses a switch
/// since the last one unless a note says why (the note goes into the audit log).
pub const FLEET_OBSERVATION: &str = "fleet-observation-unchanged";

fn fleet_observation_unchanged(plan: &Plan, facts: &Facts) -> GuardCheck {
    let now = plan.fleet.observed;
    let evidence = |switched: Option<bool>| json!({ "observed": now, "switched_from": switched });
    let words = |o: bool| {
        if o {
            "observed"
        } else {
            "not observed (taken on trust)"
        }
    };
    match facts.fleet_observed_recorded {
        Some(before) if before != now => match facts.note.as_deref().map(str::trim) {
            Some(note) if !note.is_empty() => GuardCheck::pass(
                FLEET_OBSERVATION,
                format!("[fleet] observed switched from {before} to {now}; note: {note}"),
                evidence(Some(before)),
            ),
            _ => GuardCheck::fail(
                FLEET_OBSERVATION,
                Refusal::FleetObservationSwitched {
                    id: plan.id.to_string(),
                    from: before,
                    to: now,
                },
            ),
        },
        Some(_) => GuardCheck::pass(
            FLEET_OBSERVATION,
            format!("the application is {}, as at the last advance", words(now)),
            evidence(None),
        ),
        None => GuardCheck::pass(
            FLEET_OBSERVATION,
            format!("the application is {}", words(now)),
            evidence(None),
        ),
    }
}

/// Entering 10 for an observed migration: every live instance stopped writing old
/// storage. `attrmig ddl drop-old --apply` asks the same before it drops.
pub fn fleet_stopped_writing_old(plan: &Plan, facts: &Facts) -> GuardCheck {
    drop_old::fleet_stopped_writing_old(plan, facts)
}

// --- evidence shared by several steps ------------------------------------------------

fn cross_check_evidence(run: &CrossCheckFact) -> Value {
    json!({
        "cross_check_run": run.run,
        "full": run.full,
        "sample_size": run.sample_size,
        "compared": run.counts.compared(),
        "finished_at": run.finished_at,
        "counts": run.counts,
    })
}

/// How a run's mismatches stand for a guard that wants old and new to agree.
#[derive(Debug, Clone, PartialEq)]
enum Agreement {
    /// No mismatch.
    Clean,
    /// Only rows only in new storage, every one acknowledged in these audit entries.
    Acknowledged {
        /// How many rows.
        rows: u64,
        /// The entries that acknowledge them.
        entries: Vec<i64>,
    },
}

impl Agreement {
    /// ` but for 3 rows only in new storage, acknowledged in audit entry 12`, or nothing.
    fn words(&self) -> String {
        match self {
            Agreement::Clean => String::new(),
            Agreement::Acknowledged { rows, entries } => format!(
                " but for {} only in new storage, acknowledged in audit {} {}",
                crate::refusal::counted(*rows, "row", "rows"),
                if entries.len() == 1 {
                    "entry"
                } else {
                    "entries"
                },
                entries
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// What the audit entry records of it.
    fn evidence(&self) -> Value {
        match self {
            Agreement::Clean => Value::Null,
            Agreement::Acknowledged { rows, entries } => {
                json!({ "rows": rows, "acknowledged_in": entries })
            }
        }
    }
}

/// The sync command that repairs what `counts` found: `attrmig sync ID`, or with
/// `--delete-extra` when rows only in new storage are among it (a plain sync leaves them).
fn repair(plan: &Plan, counts: &crate::facts::Counts) -> String {
    if counts.extra_in_new > 0 {
        format!(
            "`attrmig sync {} --delete-extra` (a plain sync never deletes the rows only in new storage)",
            plan.id
        )
    } else {
        format!("`attrmig sync {}`", plan.id)
    }
}

/// Whether `run` shows old and new agreeing: no mismatch, or only rows only in new storage
/// that acknowledgements cover ([`crate::extra`]). Missing and differing rows are
/// [`Refusal::Mismatches`], with `todo` (given the repair command, [`repair`]).
fn agreement(
    plan: &Plan,
    facts: &Facts,
    run: &CrossCheckFact,
    todo: impl FnOnce(String) -> String,
) -> Result<Agreement, Refusal> {
    let counts = run.counts;
    if counts.clean() {
        return Ok(Agreement::Clean);
    }
    if counts.missing_in_new > 0 || counts.differs > 0 {
        return Err(Refusal::Mismatches {
            run: run.run,
            counts,
            todo: todo(repair(plan, &counts)),
        });
    }
    let id = plan.id.to_string();
    let named = run.extra_rows.len() as u64;
    if named < counts.extra_in_new {
        return Err(Refusal::ExtraRowsUnnamed {
            id,
            run: run.run,
            extra: counts.extra_in_new,
            named,
            report_needs: counts.mismatches(),
        });
    }
    let Some(acks) = &facts.extra_acknowledgements else {
        return Err(Refusal::NotObserved {
            what: "acknowledgements of rows only in new storage",
        });
    };
    let uncovered = crate::extra::uncovered(&run.extra_rows, acks);
    if uncovered.is_empty() {
        return Ok(Agreement::Acknowledged {
            rows: counts.extra_in_new,
            entries: crate::extra::covering(&run.extra_rows, acks),
        });
    }
    Err(Refusal::ExtraRowsUnacknowledged {
        id,
        run: run.run,
        extra: counts.extra_in_new,
        uncovered: uncovered.len() as u64,
        keys: uncovered.iter().take(10).map(|r| r.key.clone()).collect(),
        acknowledged_in: crate::extra::covering(&run.extra_rows, acks),
    })
}

/// A run's evidence, with the acknowledgements it relied on.
fn with_agreement(mut evidence: Value, agreed: &Agreement) -> Value {
    if *agreed != Agreement::Clean {
        evidence["extra_in_new_acknowledged"] = agreed.evidence();
    }
    evidence
}

/// A run is evidence only if it compared what it promised: a sample short of its size
/// (or of no key at all) says nothing about the keys it never reached.
fn shortfall(plan: &Plan, run: &CrossCheckFact) -> Option<Refusal> {
    (!run.complete()).then(|| Refusal::IncompleteCrossCheck {
        id: plan.id.to_string(),
        run: run.run,
        compared: run.counts.compared(),
        promised: run.sample_size.unwrap_or(0),
    })
}

/// The latest cross-check is clean and no older than `guards.max_check_age`
/// (5a, 5b and 6). A sample run counts: it is how big tables are watched while soaking.
fn fresh_clean_cross_check(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "fresh-clean-cross-check";
    let Some(runs) = &facts.cross_checks else {
        return GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "cross-check runs",
            },
        );
    };
    let id = plan.id.to_string();
    let Some(last) = runs.first() else {
        return GuardCheck::fail(name, Refusal::NoCrossCheck { id });
    };
    if let Some(refusal) = shortfall(plan, last) {
        return GuardCheck::fail(name, refusal);
    }
    let agreed = match agreement(plan, facts, last, |repair| {
        format!(
            "the double-read compare would show the same; repair ({repair}) and cross-check again"
        )
    }) {
        Ok(agreed) => agreed,
        Err(refusal) => return GuardCheck::fail(name, refusal),
    };
    let age = (facts.now - last.finished_at)
        .to_std()
        .unwrap_or(Duration::ZERO);
    let max = plan.guards.max_check_age;
    if age > max {
        return GuardCheck::fail(
            name,
            Refusal::CrossCheckTooOld {
                id,
                run: last.run,
                age,
                max,
            },
        );
    }
    GuardCheck::pass(
        name,
        format!(
            "cross-check run {} ({}) clean{}, finished {} ago (max {})",
            last.run,
            last.scope(),
            agreed.words(),
            human_duration(age),
            human_duration(max)
        ),
        with_agreement(cross_check_evidence(last), &agreed),
    )
}

/// At least `guards.soak` spent in `step` since it was last reached (5b, 6).
fn soaked(step: Step, plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "soak";
    let Some(since) = facts.history.reached.get(&step) else {
        return GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "the time the previous step was reached",
            },
        );
    };
    let elapsed = (facts.now - *since).to_std().unwrap_or(Duration::ZERO);
    let soak = plan.guards.soak;
    if elapsed < soak {
        return GuardCheck::fail(
            name,
            Refusal::SoakNotElapsed {
                step,
                elapsed,
                soak,
            },
        );
    }
    GuardCheck::pass(
        name,
        format!(
            "{} in {step} since {} (soak {})",
            human_duration(elapsed),
            ts(since),
            human_duration(soak)
        ),
        json!({ "in_step": step.id(), "since": since, "soak_seconds": soak.as_secs() }),
    )
}

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    use crate::facts::{Counts, CrossCheckFact, Facts, PlanFingerprint};
    use crate::plan::{Plan, fixtures};

    pub fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours)
    }

    pub fn plan() -> Plan {
        fixtures::users_full_name()
    }

    pub fn facts(now_hours: i64) -> Facts {
        let plan = plan();
        let fp = plan.storage_fingerprint();
        Facts::new(
            t(now_hours),
            "alice@example.com",
            PlanFingerprint {
                recorded: Some(fp.clone()),
                current: fp,
            },
        )
    }

    pub fn check(
        run: i64,
        full: bool,
        started_h: i64,
        finished_h: i64,
        counts: Counts,
    ) -> CrossCheckFact {
        CrossCheckFact {
            run,
            full,
            started_at: t(started_h),
            finished_at: t(finished_h),
            sample_size: (!full).then(|| counts.compared()),
            counts,
            extra_rows: Vec::new(),
        }
    }

    pub fn clean() -> Counts {
        Counts {
            matching: 100,
            ..Counts::default()
        }
    }

    pub fn dirty() -> Counts {
        Counts {
            matching: 97,
            missing_in_new: 1,
            extra_in_new: 1,
            differs: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::extra::{ExtraAcknowledgement, ExtraRow};
    use crate::facts::Counts;

    /// A full run that found `extra` rows only in new storage, `named` of them in its
    /// report (keys 1001, 1002, ...), each of value `v<key>`.
    fn extra_run(run: i64, at: i64, extra: u64, named: u64) -> CrossCheckFact {
        CrossCheckFact {
            extra_rows: (0..named)
                .map(|i| {
                    let key = (1001 + i).to_string();
                    ExtraRow::new(key.clone(), Some(&format!("v{key}")))
                })
                .collect(),
            ..check(
                run,
                true,
                at,
                at,
                Counts {
                    matching: 100,
                    extra_in_new: extra,
                    ..Counts::default()
                },
            )
        }
    }

    fn ack(entry: i64, of: &CrossCheckFact) -> ExtraAcknowledgement {
        ExtraAcknowledgement {
            entry,
            actor: "alice@example.com".into(),
            at: t(0),
            run: of.run,
            rows: of.extra_rows.clone(),
        }
    }

    /// Rows only in new storage block every guard that wants old and new to agree (4, 5a,
    /// 5b, 6, 8) until acknowledged; the acknowledgement covers its rows, not later ones,
    /// and each refusal says how to go on both ways.
    #[test]
    fn rows_only_in_new_storage_count_once_acknowledged() {
        let plan = plan();
        let mut f = facts(100);
        f.history.reached.insert(Step::DoubleWrite, t(10));
        f.unresolved_data_issues = Some(0);
        f.sync_passes = Some(vec![crate::facts::SyncPassFact {
            pass: 1,
            started_at: t(11),
            finished_at: Some(t(12)),
            status: crate::facts::SyncStatus::Completed,
        }]);
        f.tool_paths_present = Some(vec![]);
        f.running_tools = Some(vec![]);
        f.extra_acknowledgements = Some(vec![]);
        let first = extra_run(5, 99, 2, 2);
        f.cross_checks = Some(vec![first.clone()]);
        let agreeing = |f: &Facts| {
            let named = |step: Step, name: &str| {
                evaluate(step, &plan, f)
                    .into_iter()
                    .find(|c| c.name == name)
                    .unwrap()
            };
            [
                named(Step::Sync, "clean-full-cross-check-after-sync"),
                fresh_clean_cross_check(&plan, f),
                named(Step::DeleteTools, "last-cross-check-clean"),
            ]
        };
        for check in agreeing(&f) {
            let err = check.verdict.unwrap_err().to_string();
            assert_eq!(
                err,
                "cross-check run 5 found 2 rows only in new storage: keys 1001, 1002; a plain sync never deletes them. \
                 `attrmig sync users-full-name --delete-extra` removes them (then cross-check again); or, if they may stay, \
                 look at them (`attrmig cross-check users-full-name` lists them) and \
                 `attrmig acknowledge-extra users-full-name --run 5 --note \"why they may stay\"`"
            );
        }
        f.extra_acknowledgements = Some(vec![ack(7, &first)]);
        for check in agreeing(&f) {
            let pass = check.verdict.unwrap();
            assert!(
                pass.detail
                    .contains("but for 2 rows only in new storage, acknowledged in audit entry 7"),
                "{}",
                pass.detail
            );
            assert_eq!(
                pass.evidence["extra_in_new_acknowledged"]["acknowledged_in"],
                json!([7])
            );
        }
        // One more appears later: the acknowledgement does not cover it.
        let later = extra_run(6, 99, 3, 3);
        f.cross_checks = Some(vec![later.clone(), first.clone()]);
        for check in agreeing(&f) {
            let err = check.verdict.unwrap_err().to_string();
            assert!(
                err.starts_with("cross-check run 6 found 3 rows only in new storage (2 of them acknowledged in audit entry 7; not the 1 below: new since, or their value changed): key 1003;"),
                "{err}"
            );
            assert!(err.contains("--run 6"), "{err}");
        }
        // Acknowledging the later run too covers them all.
        f.extra_acknowledgements = Some(vec![ack(7, &first), ack(9, &later)]);
        assert!(agreeing(&f).iter().all(GuardCheck::passed));
        // A run whose report names fewer rows than it found can't be judged row by row.
        f.cross_checks = Some(vec![extra_run(8, 99, 30, 20)]);
        for check in agreeing(&f) {
            let err = check.verdict.unwrap_err().to_string();
            assert!(
                err.contains("found 30 rows only in new storage and its report names 20"),
                "{err}"
            );
            assert!(
                err.contains("`attrmig cross-check users-full-name --max-report 30`"),
                "{err}"
            );
        }
        // Missing or differing rows besides: the repair that also removes them.
        let mut both = extra_run(10, 99, 1, 1);
        both.counts.missing_in_new = 2;
        f.cross_checks = Some(vec![both]);
        for check in agreeing(&f) {
            let err = check.verdict.unwrap_err().to_string();
            assert!(
                err.contains("found 3 mismatches (2 missing in new, 1 extra in new, 0 differ)"),
                "{err}"
            );
            assert!(err.contains("`attrmig sync users-full-name --delete-extra` (a plain sync never deletes the rows only in new storage)"), "{err}");
        }
    }

    #[test]
    fn plan_change_is_refused_after_step_one() {
        let mut f = facts(0);
        f.plan_fingerprint.current = "sha256:other".into();
        f.note = Some("release 42".into());
        let checks = evaluate(Step::DoubleWrite, &plan(), &f);
        assert!(matches!(
            checks[0].verdict,
            Err(Refusal::PlanChanged { .. })
        ));
        // Entering 1 records the fingerprint; there is nothing to compare yet.
        assert!(
            evaluate(Step::PrepareStorage, &plan(), &f)
                .iter()
                .all(|c| c.name != "plan-unchanged")
        );
    }

    #[test]
    fn fresh_clean_cross_check_rules() {
        let plan = plan(); // max_check_age 24h
        let mut f = facts(100);
        f.cross_checks = Some(vec![]);
        assert!(matches!(
            fresh_clean_cross_check(&plan, &f).verdict,
            Err(Refusal::NoCrossCheck { .. })
        ));
        f.cross_checks = Some(vec![check(2, false, 90, 90, clean())]);
        assert!(fresh_clean_cross_check(&plan, &f).passed());
        f.cross_checks = Some(vec![check(2, true, 70, 75, clean())]);
        assert!(matches!(
            fresh_clean_cross_check(&plan, &f).verdict,
            Err(Refusal::CrossCheckTooOld { .. })
        ));
        // The newest run decides, even if an older one was clean.
        f.cross_checks = Some(vec![
            check(3, true, 99, 99, dirty()),
            check(2, true, 98, 98, clean()),
        ]);
        assert!(matches!(
            fresh_clean_cross_check(&plan, &f).verdict,
            Err(Refusal::Mismatches { .. })
        ));
    }

    #[test]
    fn a_sample_short_of_its_promise_is_no_evidence() {
        let plan = plan();
        let mut f = facts(100);
        let short = CrossCheckFact {
            sample_size: Some(1000),
            ..check(4, false, 99, 99, clean())
        };
        f.cross_checks = Some(vec![short.clone()]);
        let err = fresh_clean_cross_check(&plan, &f).verdict.unwrap_err();
        assert_eq!(
            err,
            Refusal::IncompleteCrossCheck {
                id: "users-full-name".into(),
                run: 4,
                compared: 100,
                promised: 1000
            }
        );
        assert!(
            err.to_string().contains(
                "compared 100 of the 1000 keys its sample promised, so it is no evidence"
            ),
            "{err}"
        );
        let nothing = CrossCheckFact {
            sample_size: Some(0),
            ..check(5, false, 99, 99, crate::facts::Counts::default())
        };
        f.cross_checks = Some(vec![nothing.clone()]);
        let err = fresh_clean_cross_check(&plan, &f).verdict.unwrap_err();
        assert!(
            err.to_string().contains("a sample needs at least one key"),
            "{err}"
        );
        // Step 8 and step 2 read runs the same way.
        f.tool_paths_present = Some(vec![]);
        assert!(matches!(
            evaluate(Step::DeleteTools, &plan, &f)[1].verdict,
            Err(Refusal::IncompleteCrossCheck { run: 5, .. })
        ));
        f.history.reached.insert(Step::PrepareStorage, t(90));
        assert!(matches!(
            evaluate(Step::CrossCheck, &plan, &f)[1].verdict,
            Err(Refusal::IncompleteCrossCheck { run: 5, .. })
        ));
        // A complete sample counts, and says how many keys it compared.
        let whole = check(6, false, 99, 99, clean());
        f.cross_checks = Some(vec![whole, short]);
        let pass = fresh_clean_cross_check(&plan, &f).verdict.unwrap();
        assert!(
            pass.detail
                .contains("sample of 100 keys, 100 keys compared"),
            "{}",
            pass.detail
        );
        assert!(evaluate(Step::CrossCheck, &plan, &f)[1].passed());
    }

    #[test]
    fn every_step_but_planned_has_guards() {
        let f = facts(0);
        for step in Step::ALL.into_iter().skip(1) {
            assert!(!evaluate(step, &plan(), &f).is_empty(), "{step}");
        }
    }

    #[test]
    fn guard_json_shape() {
        let check = GuardCheck::fail("soak", Refusal::ConfirmationRequired);
        let v = serde_json::to_value(&check).unwrap();
        assert_eq!(v["name"], "soak");
        assert_eq!(v["passed"], false);
        assert!(v["detail"].as_str().unwrap().contains("point of no return"));
    }
}
