//! Entering 2 cross-check: the cross-check tool ran against this database after the new
//! storage existed. Its result does not matter yet: nothing has been copied.

use serde_json::json;

use super::GuardCheck;
use crate::facts::Facts;
use crate::plan::Plan;
use crate::refusal::ts;
use crate::{Refusal, Step};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![ran_since_prepare_storage(plan, facts)]
}

fn ran_since_prepare_storage(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "cross-check-ran";
    let (Some(runs), Some(since)) = (
        &facts.cross_checks,
        facts.history.reached.get(&Step::PrepareStorage),
    ) else {
        return GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "cross-check runs and when step 1 was reached",
            },
        );
    };
    let since_step_one = || runs.iter().filter(|r| r.started_at >= *since);
    let Some(run) = since_step_one().find(|r| r.complete()) else {
        // Only runs short of their sample are left, if any: name the newest.
        let refusal = since_step_one()
            .find_map(|r| super::shortfall(plan, r))
            .unwrap_or_else(|| Refusal::NoCrossCheckSince {
                id: plan.id.to_string(),
                step: Step::PrepareStorage,
                since: *since,
            });
        return GuardCheck::fail(name, refusal);
    };
    GuardCheck::pass(
        name,
        format!(
            "cross-check run {} finished at {} ({}, {})",
            run.run,
            ts(&run.finished_at),
            run.scope(),
            crate::refusal::counted(run.counts.mismatches(), "mismatch", "mismatches")
        ),
        json!({ "cross_check_run": run.run, "finished_at": run.finished_at, "counts": run.counts }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn needs_a_run_after_step_one() {
        let mut f = facts(10);
        f.history.reached.insert(Step::PrepareStorage, t(5));
        f.cross_checks = Some(vec![check(1, true, 4, 4, dirty())]);
        let err = guards(&plan(), &f)[0].verdict.clone().unwrap_err();
        assert!(
            err.to_string()
                .contains("run `attrmig cross-check users-full-name`"),
            "{err}"
        );
        // Mismatches are expected before the sync: any run after step 1 will do.
        f.cross_checks = Some(vec![
            check(2, false, 6, 6, dirty()),
            check(1, true, 4, 4, dirty()),
        ]);
        assert!(guards(&plan(), &f)[0].passed());
    }
}
