//! Entering 5b double-read-new: at least `guards.soak` spent comparing while serving old,
//! and a fresh clean cross-check, before new values are served.

use super::{GuardCheck, fleet, fresh_clean_cross_check, soaked};
use crate::Step;
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = vec![
        soaked(Step::DoubleReadOld, plan, facts),
        fresh_clean_cross_check(plan, facts),
    ];
    if plan.fleet.observed {
        checks.push(fleet::compared_enough(
            plan,
            facts,
            Step::DoubleReadOld,
            Step::DoubleReadNew,
        ));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::Refusal;

    #[test]
    fn soak_counts_from_entering_5a() {
        let plan = plan(); // soak 7d
        let mut f = facts(24 * 7 - 1);
        f.history.reached.insert(Step::DoubleReadOld, t(0));
        f.cross_checks = Some(vec![check(9, false, 24 * 7 - 2, 24 * 7 - 2, clean())]);
        let checks = guards(&plan, &f);
        let err = checks[0].verdict.clone().unwrap_err();
        assert!(matches!(err, Refusal::SoakNotElapsed { .. }));
        assert_eq!(
            err.to_string(),
            "soak: 6d 23h of 7d in 5a double-read-old so far; 1h to go (guards.soak)"
        );
        assert!(checks[1].passed());

        let f = Facts {
            now: t(24 * 7),
            ..f
        };
        assert!(guards(&plan, &f).iter().all(GuardCheck::passed));
    }
}
