//! Entering 4 sync: a sync pass that started after double-write went live has completed,
//! a full cross-check after it is clean, and no rejected row is waiting.
//!
//! A pass that started before double-write went live can miss rows written between its
//! read and the moment every writer wrote both storages: that is why its start time, not
//! its end, is compared with the time 3 was reached.

use serde_json::json;

use super::{GuardCheck, cross_check_evidence, fleet};
use crate::facts::{Facts, SyncPassFact, SyncStatus};
use crate::plan::Plan;
use crate::refusal::ts;
use crate::{Refusal, Step};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let id = plan.id.to_string();
    let (Some(passes), Some(double_write_at)) = (
        &facts.sync_passes,
        facts.history.reached.get(&Step::DoubleWrite),
    ) else {
        return vec![GuardCheck::fail(
            "sync-after-double-write",
            Refusal::NotObserved {
                what: "sync passes and when step 3 was reached",
            },
        )];
    };

    // Newest first: the latest completed pass that started after double-write went live.
    let qualifying = passes
        .iter()
        .find(|p| p.status == SyncStatus::Completed && p.started_at >= *double_write_at);
    let mut checks = vec![match qualifying {
        Some(pass) => GuardCheck::pass(
            "sync-after-double-write",
            format!(
                "sync pass {} started {} (after double-write at {}) and completed",
                pass.pass,
                ts(&pass.started_at),
                ts(double_write_at)
            ),
            json!({ "sync_pass": pass.pass, "started_at": pass.started_at, "finished_at": pass.finished_at }),
        ),
        None => GuardCheck::fail(
            "sync-after-double-write",
            Refusal::NoSyncAfterDoubleWrite {
                id: id.clone(),
                double_write_at: *double_write_at,
                latest: passes.first().map(|p| describe_pass(p, double_write_at)),
            },
        ),
    }];

    if plan.fleet.observed {
        checks.push(GuardCheck::from_result(
            "fleet-wrote-both-before-sync",
            fleet_wrote_both_first(plan, facts, qualifying),
        ));
    }

    checks.push(match (qualifying, &facts.cross_checks) {
        (_, None) => GuardCheck::fail("clean-full-cross-check-after-sync", Refusal::NotObserved { what: "cross-check runs" }),
        (None, Some(_)) => GuardCheck::fail(
            "clean-full-cross-check-after-sync",
            Refusal::NoCrossCheckSince { id: id.clone(), step: Step::DoubleWrite, since: *double_write_at },
        ),
        (Some(pass), Some(runs)) => {
            let completed_at = pass.finished_at.unwrap_or(pass.started_at);
            match runs.iter().find(|r| r.full && r.started_at >= completed_at) {
                None => GuardCheck::fail(
                    "clean-full-cross-check-after-sync",
                    Refusal::NoFullCheckAfterSync { id: id.clone(), pass: pass.pass, completed_at },
                ),
                Some(run) => match super::agreement(plan, facts, run, |repair| {
                    format!(
                        "if double-write is really live everywhere, {repair} repairs them; then cross-check again"
                    )
                }) {
                    Err(refusal) => GuardCheck::fail("clean-full-cross-check-after-sync", refusal),
                    Ok(agreed) => GuardCheck::pass(
                        "clean-full-cross-check-after-sync",
                        format!(
                            "full cross-check run {} after the pass: {}, no mismatch{}",
                            run.run,
                            crate::refusal::counted(run.counts.matching, "key", "keys"),
                            agreed.words()
                        ),
                        super::with_agreement(cross_check_evidence(run), &agreed),
                    ),
                },
            }
        }
    });

    checks.push(match facts.unresolved_data_issues {
        None => GuardCheck::fail(
            "no-unresolved-data-issues",
            Refusal::NotObserved {
                what: "data issues",
            },
        ),
        Some(0) => GuardCheck::pass(
            "no-unresolved-data-issues",
            "no data issue unresolved",
            json!({ "unresolved": 0 }),
        ),
        Some(count) => GuardCheck::fail(
            "no-unresolved-data-issues",
            Refusal::UnresolvedDataIssues { id, count },
        ),
    });
    checks
}

/// With an observed fleet, the counted pass must also have started after the whole
/// fleet wrote both storages, not merely after 3 was recorded: an instance still on the
/// old mode writes rows the pass can miss.
fn fleet_wrote_both_first(
    plan: &Plan,
    facts: &Facts,
    pass: Option<&SyncPassFact>,
) -> Result<super::Passed, Refusal> {
    let f = fleet::live_fleet(plan, facts)?;
    fleet::none_lagging(plan, f, Step::Sync, "still write old storage only", |m| {
        m.write_new
    })?;
    let since = f.holds_since(|m| m.write_new);
    let evidence = json!({
        "fleet_writes_both_since": since.as_ref().map(|(t, _)| t),
        "last_instance": since.as_ref().map(|(_, i)| &i.id),
        "fleet": fleet::fleet_evidence(f),
    });
    match (pass, &since) {
        (Some(pass), Some((t, last))) if pass.started_at < *t => {
            Err(Refusal::SyncBeforeFleetDoubleWrote {
                id: plan.id.to_string(),
                pass: pass.pass,
                started_at: pass.started_at,
                fleet_since: *t,
                last: Box::new(last.clone()),
            })
        }
        (Some(pass), _) => super::passed(
            format!(
                "sync pass {} started {}, after the whole fleet wrote both {}",
                pass.pass,
                ts(&pass.started_at),
                fleet::since_words(since.as_ref())
            ),
            evidence,
        ),
        (None, _) => super::passed(
            format!(
                "the whole fleet writes both {}: a sync pass started after that counts",
                fleet::since_words(since.as_ref())
            ),
            evidence,
        ),
    }
}

fn describe_pass(pass: &SyncPassFact, double_write_at: &chrono::DateTime<chrono::Utc>) -> String {
    let when = if pass.started_at < *double_write_at {
        "before double-write"
    } else {
        "after double-write"
    };
    let status = match pass.status {
        SyncStatus::Running => "is still running",
        SyncStatus::Interrupted => "was interrupted; `attrmig sync` resumes it",
        SyncStatus::Completed => "completed",
    };
    format!(
        "latest: pass {} started {} {when} and {status}",
        pass.pass,
        ts(&pass.started_at)
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn pass(n: i64, started: i64, finished: Option<i64>, status: SyncStatus) -> SyncPassFact {
        SyncPassFact {
            pass: n,
            started_at: t(started),
            finished_at: finished.map(t),
            status,
        }
    }

    fn at_three(now: i64) -> Facts {
        let mut f = facts(now);
        f.history.reached.insert(Step::DoubleWrite, t(10));
        f.unresolved_data_issues = Some(0);
        f.cross_checks = Some(vec![]);
        f.sync_passes = Some(vec![]);
        f
    }

    fn names_failing(f: &Facts) -> Vec<&'static str> {
        guards(&plan(), f)
            .into_iter()
            .filter(|c| !c.passed())
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_pass_that_started_before_double_write_does_not_count() {
        let mut f = at_three(30);
        f.sync_passes = Some(vec![pass(1, 9, Some(12), SyncStatus::Completed)]);
        f.cross_checks = Some(vec![check(1, true, 13, 14, clean())]);
        let checks = guards(&plan(), &f);
        let err = checks[0].verdict.clone().unwrap_err().to_string();
        assert!(
            err.contains("pass 1 started") && err.contains("before double-write"),
            "{err}"
        );
    }

    #[test]
    fn full_clean_check_after_the_pass_and_no_issues() {
        let mut f = at_three(30);
        f.sync_passes = Some(vec![pass(2, 11, Some(15), SyncStatus::Completed)]);
        // A sample check after the pass is not enough, nor a full one from before it.
        f.cross_checks = Some(vec![
            check(3, false, 16, 16, clean()),
            check(2, true, 12, 13, clean()),
        ]);
        assert_eq!(names_failing(&f), ["clean-full-cross-check-after-sync"]);
        f.cross_checks = Some(vec![check(4, true, 17, 18, dirty())]);
        assert_eq!(names_failing(&f), ["clean-full-cross-check-after-sync"]);
        f.cross_checks = Some(vec![
            check(5, true, 19, 20, clean()),
            check(4, true, 17, 18, dirty()),
        ]);
        assert!(names_failing(&f).is_empty());
        f.unresolved_data_issues = Some(2);
        assert_eq!(names_failing(&f), ["no-unresolved-data-issues"]);
    }

    #[test]
    fn running_or_interrupted_pass_does_not_count() {
        let mut f = at_three(30);
        f.sync_passes = Some(vec![pass(2, 11, None, SyncStatus::Interrupted)]);
        let err = guards(&plan(), &f)[0]
            .verdict
            .clone()
            .unwrap_err()
            .to_string();
        assert!(err.contains("interrupted"), "{err}");
    }
}
