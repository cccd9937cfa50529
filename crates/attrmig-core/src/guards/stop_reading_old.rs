//! Entering 6 stop-reading-old: at least `guards.soak` spent serving new while still
//! comparing, a fresh clean cross-check, and nothing in the database itself (a view, a
//! rule, a policy, a function) still reading old storage.

use super::{GuardCheck, database, fleet, fresh_clean_cross_check, soaked};
use crate::Step;
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = vec![
        soaked(Step::DoubleReadNew, plan, facts),
        fresh_clean_cross_check(plan, facts),
        database::no_readers(plan, facts),
    ];
    if plan.fleet.observed {
        checks.push(fleet::compared_enough(
            plan,
            facts,
            Step::DoubleReadNew,
            Step::StopReadingOld,
        ));
    }
    checks
}
