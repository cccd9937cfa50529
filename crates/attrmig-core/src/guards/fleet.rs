//! What the guards of an observed migration ask of the fleet's reports, shared by the
//! steps that ask it (4, 5b, 6, 7, 10; each step's file says which). "The fleet" is every
//! instance that reported within `[fleet] instance_ttl`; gone instances still count for
//! what they did while they were there.

use serde_json::{Value, json};

use super::GuardCheck;
use crate::facts::Facts;
use crate::fleet::{Counter, Counters, FleetFact, InstanceSummary};
use crate::plan::Plan;
use crate::refusal::ts;
use crate::{Mode, Refusal, Step};

/// The reports, with at least one live instance.
pub(super) fn live_fleet<'a>(plan: &Plan, facts: &'a Facts) -> Result<&'a FleetFact, Refusal> {
    let fleet = facts.fleet.as_ref().ok_or(Refusal::NotObserved {
        what: "the fleet's reports",
    })?;
    if fleet.live().next().is_none() {
        return Err(Refusal::FleetSilent {
            id: plan.id.to_string(),
            ttl: fleet.instance_ttl,
            gone: fleet.instances.len(),
        });
    }
    Ok(fleet)
}

/// Refuses entering `step` while a live instance's mode fails `holds`.
pub(super) fn none_lagging(
    plan: &Plan,
    fleet: &FleetFact,
    step: Step,
    need: &'static str,
    holds: impl Fn(Mode) -> bool,
) -> Result<(), Refusal> {
    let lagging = fleet.holding_back(holds);
    if lagging.is_empty() {
        return Ok(());
    }
    Err(Refusal::FleetLagging {
        id: plan.id.to_string(),
        step,
        need,
        instances: lagging,
    })
}

/// The evidence of the live fleet: who, at which step.
pub(super) fn fleet_evidence(fleet: &FleetFact) -> Value {
    let live: Vec<Value> = fleet
        .live()
        .map(|i| {
            json!({
                "instance": i.identity.id,
                "host": i.identity.host,
                "app_version": i.identity.app_version,
                "step": i.step.id(),
                "since": i.since,
                "pinned": i.pinned,
            })
        })
        .collect();
    json!({ "live_instances": live, "instance_ttl_seconds": fleet.instance_ttl.as_secs() })
}

/// Entering 5b (`in_step` 5a) or 6 (`in_step` 5b): every live instance applies
/// `in_step`'s mode, and since `in_step` was reached the fleet compared at least
/// `min_compared_reads` reads with a persistent-mismatch rate at most
/// `max_mismatch_rate`.
pub(super) fn compared_enough(
    plan: &Plan,
    facts: &Facts,
    in_step: Step,
    entering: Step,
) -> GuardCheck {
    let name = "fleet-compared-reads";
    GuardCheck::from_result(name, compared(plan, facts, in_step, entering))
}

fn compared(
    plan: &Plan,
    facts: &Facts,
    in_step: Step,
    entering: Step,
) -> Result<super::Passed, Refusal> {
    let fleet = live_fleet(plan, facts)?;
    let mode = Mode::at(in_step);
    none_lagging(
        plan,
        fleet,
        entering,
        match in_step {
            Step::DoubleReadOld => "don't read both storages serving old yet (5a's mode)",
            _ => "don't read both storages serving new yet (5b's mode)",
        },
        |m| m == mode,
    )?;
    let since = *facts
        .history
        .reached
        .get(&in_step)
        .ok_or(Refusal::NotObserved {
            what: "the time the previous step was reached",
        })?;
    let in_mode = |s: Step| Mode::at(s) == mode;
    let mut total = Counters::default();
    let mut per_instance = Vec::new();
    let mut reporters = Vec::new();
    let mut sample_keys = Vec::new();
    for i in &fleet.instances {
        let counted = i.counted_since(since, in_mode);
        total.add(&counted);
        if i.live(fleet.now, fleet.instance_ttl) {
            per_instance.push(format!("{}: {}", i.identity.id, counted[Counter::Compared]));
        }
        if counted[Counter::Mismatches] > 0 {
            reporters.push(fleet.summary(i));
            for m in i
                .mismatches
                .iter()
                .filter(|m| m.at >= since && in_mode(m.step))
            {
                let fields: Vec<String> = m
                    .fields
                    .iter()
                    .map(|f| format!("{}: {} ≠ {}", f.field, f.old, f.new))
                    .collect();
                sample_keys.push(format!("{} ({})", m.key, fields.join(", ")));
            }
        }
    }
    sample_keys.truncate(10);
    let compared = total[Counter::Compared];
    let mismatches = total[Counter::Mismatches];
    let need = plan.fleet.min_compared_reads;
    if compared < need {
        return Err(Refusal::TooFewComparedReads {
            id: plan.id.to_string(),
            step: in_step,
            compared,
            need,
            per_instance,
        });
    }
    let rate = total.mismatch_rate().unwrap_or(0.0);
    let max = plan.fleet.max_mismatch_rate;
    if rate > max {
        return Err(Refusal::MismatchRateTooHigh {
            id: plan.id.to_string(),
            step: in_step,
            compared,
            mismatches,
            rate,
            max,
            sample_keys,
            instances: reporters,
        });
    }
    super::passed(
        format!(
            "the fleet compared {compared} read(s) in {in_step} since {}: {mismatches} persistent and {} transient mismatch(es) (min {need}, max rate {max})",
            ts(&since),
            total[Counter::TransientMismatches]
        ),
        json!({
            "compared_in": in_step.id(),
            "since": since,
            "counters": total,
            "fleet": fleet_evidence(fleet),
        }),
    )
}

/// Since when every instance's mode passes `holds`, in words for a passing guard.
pub(super) fn since_words(
    since: Option<&(chrono::DateTime<chrono::Utc>, InstanceSummary)>,
) -> String {
    match since {
        Some((t, last)) => format!("since {} ({} was the last)", ts(t), last.id),
        None => "now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{check, clean, facts as base_facts, plan as base_plan, t};
    use super::super::{GuardCheck, evaluate};
    use crate::facts::{LateWritesFact, SyncPassFact, SyncStatus};
    use crate::fleet::test_support::{counters, instance};
    use crate::fleet::{Counter, FleetFact, InstanceReport, MismatchSample};
    use crate::plan::Plan;
    use crate::{Refusal, Step};

    // Times in seconds from the fixtures' origin; `t(h)` there is hours.
    fn s(secs: i64) -> chrono::DateTime<chrono::Utc> {
        crate::fleet::test_support::t(secs)
    }

    fn observed() -> Plan {
        let mut plan = base_plan();
        plan.fleet.observed = true;
        plan.fleet.min_compared_reads = 100;
        plan
    }

    fn with_fleet(now: i64, instances: Vec<InstanceReport>) -> crate::facts::Facts {
        let mut f = base_facts(0);
        f.now = s(now);
        f.fleet = Some(FleetFact {
            now: s(now),
            instance_ttl: std::time::Duration::from_secs(120),
            instances,
        });
        f
    }

    fn verdict(checks: &[GuardCheck], name: &str) -> Result<String, Refusal> {
        let c = checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no guard {name}"));
        c.verdict.clone().map(|p| p.detail)
    }

    fn at_4(now: i64, instances: Vec<InstanceReport>, pass_started: i64) -> crate::facts::Facts {
        let mut f = with_fleet(now, instances);
        f.history.reached.insert(Step::DoubleWrite, s(100));
        f.unresolved_data_issues = Some(0);
        f.sync_passes = Some(vec![SyncPassFact {
            pass: 1,
            started_at: s(pass_started),
            finished_at: Some(s(pass_started + 10)),
            status: SyncStatus::Completed,
        }]);
        f.cross_checks = Some(vec![check(1, true, 1, 1, clean())]);
        f.cross_checks.as_mut().unwrap()[0].started_at = s(pass_started + 20);
        f
    }

    #[test]
    fn not_observed_keeps_todays_guards() {
        let f = at_4(500, vec![], 200);
        let checks = evaluate(Step::Sync, &base_plan(), &f);
        assert!(
            checks
                .iter()
                .all(|c| !c.name.starts_with("fleet-") || c.name == "fleet-observation-unchanged")
        );
        assert!(checks.iter().all(GuardCheck::passed), "{checks:?}");
    }

    #[test]
    fn entering_4_the_pass_must_start_after_the_whole_fleet_double_wrote() {
        let a = instance("a", &[(Step::CrossCheck, 0), (Step::DoubleWrite, 103)], 490);
        let b = instance("b", &[(Step::CrossCheck, 0), (Step::DoubleWrite, 160)], 490);
        // The pass started at 150, after 3 was reached (100) but before b wrote both.
        let f = at_4(500, vec![a.clone(), b.clone()], 150);
        let err = verdict(
            &evaluate(Step::Sync, &observed(), &f),
            "fleet-wrote-both-before-sync",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("sync pass 1 started"), "{msg}");
        assert!(
            msg.contains("when b (app[1] on host-b, version 1.0.0) at 3 double-write"),
            "{msg}"
        );
        assert!(
            msg.contains("run `attrmig sync users-full-name` for a new pass"),
            "{msg}"
        );
        // A pass after it counts.
        let f = at_4(500, vec![a.clone(), b], 170);
        assert!(
            evaluate(Step::Sync, &observed(), &f)
                .iter()
                .all(GuardCheck::passed)
        );
        // An instance still on 2 (an old release) holds it back and is named.
        let c = instance("c", &[(Step::CrossCheck, 0)], 495);
        let f = at_4(500, vec![a, c], 170);
        let msg = verdict(
            &evaluate(Step::Sync, &observed(), &f),
            "fleet-wrote-both-before-sync",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("1 live instance(s) still write old storage only, so 4 sync can't be entered: c (app[1] on host-c, version 1.0.0) at 2 cross-check"), "{msg}");
    }

    #[test]
    fn an_observed_migration_with_no_live_instance_is_refused() {
        let gone = instance("a", &[(Step::DoubleWrite, 0)], 100);
        let f = at_4(500, vec![gone], 200);
        let msg = verdict(
            &evaluate(Step::Sync, &observed(), &f),
            "fleet-wrote-both-before-sync",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("no instance of the application reported in the last 2m (1 instance(s) reported before and are gone)"), "{msg}");
    }

    fn in_5a(id: &str, compared: u64, mismatches: u64) -> InstanceReport {
        let mut i = instance(id, &[(Step::Sync, 0), (Step::DoubleReadOld, 1000)], 4990);
        i.periods[1].counters = counters(&[
            (Counter::Compared, compared),
            (Counter::Mismatches, mismatches),
        ]);
        if mismatches > 0 {
            i.mismatches.push(MismatchSample {
                key: "42".into(),
                at: s(2000),
                step: Step::DoubleReadOld,
                fields: vec![crate::fleet::FieldDiff {
                    field: "value".into(),
                    old: "\"Ada\"".into(),
                    new: "\"ada\"".into(),
                }],
            });
        }
        i
    }

    fn at_5a(instances: Vec<InstanceReport>) -> crate::facts::Facts {
        let mut f = with_fleet(5000, instances);
        f.history.reached.insert(Step::DoubleReadOld, s(990));
        f.cross_checks = Some(vec![check(3, false, 0, 0, clean())]);
        f.cross_checks.as_mut().unwrap()[0].finished_at = s(4900);
        f
    }

    #[test]
    fn entering_5b_needs_enough_compared_reads_and_no_persistent_mismatch() {
        let f = at_5a(vec![in_5a("a", 40, 0), in_5a("b", 30, 0)]);
        let msg = verdict(
            &evaluate(Step::DoubleReadNew, &observed(), &f),
            "fleet-compared-reads",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            msg,
            "the fleet compared 70 read(s) in 5a double-read-old since it was reached, fewer than [fleet] min_compared_reads = 100; let it serve reads longer (per live instance: a: 40, b: 30)"
        );
        let f = at_5a(vec![in_5a("a", 80, 0), in_5a("b", 30, 1)]);
        let msg = verdict(
            &evaluate(Step::DoubleReadNew, &observed(), &f),
            "fleet-compared-reads",
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with(
                "1 of 110 compared read(s) in 5a double-read-old disagreed also when read again"
            ),
            "{msg}"
        );
        assert!(
            msg.contains(r#"sample keys: 42 (value: "Ada" ≠ "ada")"#),
            "{msg}"
        );
        assert!(msg.contains("reported by: b (app[1] on host-b"), "{msg}");
        let f = at_5a(vec![in_5a("a", 80, 0), in_5a("b", 30, 0)]);
        let detail = verdict(
            &evaluate(Step::DoubleReadNew, &observed(), &f),
            "fleet-compared-reads",
        )
        .unwrap();
        assert!(
            detail.starts_with("the fleet compared 110 read(s) in 5a double-read-old"),
            "{detail}"
        );
        // A tolerated rate passes.
        let mut plan = observed();
        plan.fleet.max_mismatch_rate = 0.01;
        let f = at_5a(vec![in_5a("a", 180, 1)]);
        assert!(
            verdict(
                &evaluate(Step::DoubleReadNew, &plan, &f),
                "fleet-compared-reads"
            )
            .is_ok()
        );
    }

    #[test]
    fn counted_afresh_after_a_rollback_and_a_new_advance() {
        // The reads were compared in an earlier stay at 5a; 5a was reached again later.
        let mut f = at_5a(vec![in_5a("a", 500, 3)]);
        let i = &mut f.fleet.as_mut().unwrap().instances[0];
        i.periods.push(crate::fleet::Period {
            step: Step::Sync,
            since: s(3000),
            counters: Default::default(),
        });
        i.periods.push(crate::fleet::Period {
            step: Step::DoubleReadOld,
            since: s(4000),
            counters: counters(&[(Counter::Compared, 100)]),
        });
        i.step = Step::DoubleReadOld;
        i.since = s(4000);
        f.history.reached.insert(Step::DoubleReadOld, s(3990));
        let detail = verdict(
            &evaluate(Step::DoubleReadNew, &observed(), &f),
            "fleet-compared-reads",
        )
        .unwrap();
        assert!(
            detail.contains("compared 100 read(s)") && detail.contains("0 persistent"),
            "{detail}"
        );
    }

    #[test]
    fn a_lagging_instance_blocks_5b_and_6_and_is_named() {
        let stuck = instance("old-release", &[(Step::Sync, 0)], 4990);
        let f = at_5a(vec![in_5a("a", 500, 0), stuck]);
        let msg = verdict(
            &evaluate(Step::DoubleReadNew, &observed(), &f),
            "fleet-compared-reads",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("1 live instance(s) don't read both storages serving old yet (5a's mode), so 5b double-read-new can't be entered: old-release"), "{msg}");
    }

    #[test]
    fn entering_7_nobody_reads_old() {
        let a = instance("a", &[(Step::StopReadingOld, 0)], 100);
        let mut pinned = instance("p", &[(Step::DoubleReadNew, 0)], 100);
        pinned.pinned = true;
        let f = with_fleet(110, vec![a.clone(), pinned]);
        let msg = verdict(
            &evaluate(Step::PrepareOldStop, &observed(), &f),
            "fleet-stopped-reading-old",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("1 live instance(s) still read old storage, so 7 prepare-old-stop can't be entered: p (app[1] on host-p, version 1.0.0) at 5b double-read-new: writes both, reads both (new wins), pinned, last seen"), "{msg}");
        let f = with_fleet(110, vec![a]);
        assert!(
            verdict(
                &evaluate(Step::PrepareOldStop, &observed(), &f),
                "fleet-stopped-reading-old"
            )
            .is_ok()
        );
    }

    fn at_9(instances: Vec<InstanceReport>) -> crate::facts::Facts {
        let mut f = with_fleet(1000, instances);
        f.late_writes = Some(LateWritesFact::VerifiedByDrop);
        f
    }

    #[test]
    fn entering_10_the_fleet_applied_9_and_says_since_when() {
        let a = instance(
            "a",
            &[(Step::DeleteTools, 0), (Step::StopWritingOld, 100)],
            990,
        );
        let b = instance(
            "b",
            &[(Step::DeleteTools, 0), (Step::StopWritingOld, 130)],
            990,
        );
        let f = at_9(vec![a.clone(), b.clone()]);
        let detail = verdict(
            &evaluate(Step::DropOld, &observed(), &f),
            "fleet-stopped-writing-old",
        )
        .unwrap();
        assert!(detail.contains("(b was the last)"), "{detail}");

        let lagging = instance("c", &[(Step::DeleteTools, 0)], 995);
        let f = at_9(vec![a.clone(), b.clone(), lagging]);
        let msg = verdict(
            &evaluate(Step::DropOld, &observed(), &f),
            "fleet-stopped-writing-old",
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with(
                "1 live instance(s) still write old storage, so 10 drop-old can't be entered: c"
            ),
            "{msg}"
        );

        // One that was at 8 until it went (its last report at 800) held the fleet back
        // until then: its writes to old before that are expected traffic.
        let gone = instance("d", &[(Step::DeleteTools, 0)], 800);
        let mut f = at_9(vec![a, b, gone]);
        f.history.reached.insert(Step::StopWritingOld, s(90));
        let detail = verdict(
            &evaluate(Step::DropOld, &observed(), &f),
            "fleet-stopped-writing-old",
        )
        .unwrap();
        assert!(
            detail.contains(
                "since 2026-01-01 00:13:20 UTC (d was the last, 11m 50s after 9 was reached)"
            ),
            "{detail}"
        );
    }

    #[test]
    fn switching_observed_needs_a_note() {
        let mut f = base_facts(0);
        f.fleet_observed_recorded = Some(false);
        let msg = verdict(
            &evaluate(Step::DoubleWrite, &observed(), &f),
            "fleet-observation-unchanged",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            msg,
            "plans/users-full-name.toml switched [fleet] observed from false to true since the last advance; pass --note \"...\" saying why (it is recorded in the audit log), or restore it"
        );
        f.note = Some("the app ships attrmig-app since release 8".into());
        let checks = evaluate(Step::DoubleWrite, &observed(), &f);
        let c = checks
            .iter()
            .find(|c| c.name == "fleet-observation-unchanged")
            .unwrap();
        let p = c.verdict.as_ref().unwrap();
        assert_eq!(p.evidence["observed"], true);
        assert_eq!(p.evidence["switched_from"], false);
        // Unchanged, or the first advance: passes and records the value.
        f.note = None;
        f.fleet_observed_recorded = Some(true);
        assert!(
            verdict(
                &evaluate(Step::DoubleReadOld, &observed(), &f),
                "fleet-observation-unchanged"
            )
            .is_ok()
        );
        f.fleet_observed_recorded = None;
        assert!(
            verdict(
                &evaluate(Step::PrepareStorage, &observed(), &f),
                "fleet-observation-unchanged"
            )
            .is_ok()
        );
        let _ = t(0);
    }
}
