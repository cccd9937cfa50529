//! Entering 6 stop-reading-old: at least `guards.soak` spent serving new while still
//! comparing, and a fresh clean cross-check.

use super::{GuardCheck, fresh_clean_cross_check, soaked};
use crate::Step;
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![
        soaked(Step::DoubleReadNew, plan, facts),
        fresh_clean_cross_check(plan, facts),
    ]
}
