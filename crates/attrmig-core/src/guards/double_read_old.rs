//! Entering 5a double-read-old: reads start comparing, so old and new must agree now,
//! by a clean cross-check no older than `guards.max_check_age`.

use super::{GuardCheck, fresh_clean_cross_check};
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![fresh_clean_cross_check(plan, facts)]
}
