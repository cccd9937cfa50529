//! Entering 8 delete-tools: old and new agree (the last cross-check is clean) and every
//! hand-written cross-check or sync tool listed in the plan is gone from the repository.
//! From here on the built-in tools refuse to run too.

use serde_json::json;

use super::{GuardCheck, cross_check_evidence};
use crate::Refusal;
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![last_cross_check_clean(plan, facts), tools_gone(plan, facts)]
}

fn last_cross_check_clean(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "last-cross-check-clean";
    let Some(runs) = &facts.cross_checks else {
        return GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "cross-check runs",
            },
        );
    };
    let Some(run) = runs.first() else {
        return GuardCheck::fail(
            name,
            Refusal::NoCrossCheck {
                id: plan.id.to_string(),
            },
        );
    };
    if let Some(refusal) = super::shortfall(plan, run) {
        return GuardCheck::fail(name, refusal);
    }
    if !run.counts.clean() {
        return GuardCheck::fail(
            name,
            Refusal::Mismatches {
                run: run.run,
                counts: run.counts,
                todo: format!(
                    "this is the last chance to use the tools: `attrmig sync {}` and cross-check again",
                    plan.id
                ),
            },
        );
    }
    GuardCheck::pass(
        name,
        format!("cross-check run {} ({}) clean", run.run, run.scope()),
        cross_check_evidence(run),
    )
}

fn tools_gone(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "hand-written-tools-deleted";
    match &facts.tool_paths_present {
        None => GuardCheck::fail(name, Refusal::NotObserved { what: "tool paths" }),
        Some(present) if !present.is_empty() => GuardCheck::fail(
            name,
            Refusal::ToolsPresent {
                paths: present.clone(),
            },
        ),
        Some(_) if plan.tools.paths.is_empty() => GuardCheck::pass(
            name,
            "the plan lists no hand-written tools",
            json!({ "paths": [] }),
        ),
        Some(_) => GuardCheck::pass(
            name,
            format!("gone: {}", plan.tools.paths.join(", ")),
            json!({ "paths": plan.tools.paths }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn tools_must_be_gone_and_check_clean() {
        let mut f = facts(0);
        f.cross_checks = Some(vec![check(7, true, 0, 0, clean())]);
        f.tool_paths_present = Some(vec!["scripts/backfill_full_name.py".into()]);
        let checks = guards(&plan(), &f);
        assert!(checks[0].passed());
        let err = checks[1].verdict.clone().unwrap_err().to_string();
        assert!(err.contains("scripts/backfill_full_name.py"), "{err}");
        f.tool_paths_present = Some(vec![]);
        f.cross_checks = Some(vec![check(8, false, 0, 0, dirty())]);
        let checks = guards(&plan(), &f);
        assert!(!checks[0].passed() && checks[1].passed());
    }
}
