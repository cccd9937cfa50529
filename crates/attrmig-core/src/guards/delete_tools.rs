//! Entering 8 delete-tools: old and new agree (the last cross-check is clean), every
//! hand-written cross-check or sync tool listed in the plan is gone from the repository,
//! and no built-in tool is running (none holds its lease). From here on the built-in
//! tools refuse to start, and one that was running writes nothing more (its every batch
//! checks the step); the advance re-checks the leases inside its own transaction, so no
//! tool that starts between this guard and the advance's commit slips past it.

use serde_json::json;

use super::{GuardCheck, cross_check_evidence};
use crate::Refusal;
use crate::facts::Facts;
use crate::plan::Plan;

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![
        last_cross_check_clean(plan, facts),
        tools_gone(plan, facts),
        no_tool_running(plan, facts),
    ]
}

fn no_tool_running(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "no-tool-running";
    match &facts.running_tools {
        None => GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "the tools' leases",
            },
        ),
        Some(running) if !running.is_empty() => GuardCheck::fail(
            name,
            Refusal::ToolsRunning {
                id: plan.id.to_string(),
                tools: running.clone(),
                lease_ttl: plan.sync.lease_ttl,
            },
        ),
        Some(_) => GuardCheck::pass(
            name,
            "no sync, data-issues retry or cross-check holds a lease",
            json!({ "running": [] }),
        ),
    }
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
    let agreed = match super::agreement(plan, facts, run, |repair| {
        format!("this is the last chance to use the tools: {repair} and cross-check again")
    }) {
        Ok(agreed) => agreed,
        Err(refusal) => return GuardCheck::fail(name, refusal),
    };
    GuardCheck::pass(
        name,
        format!(
            "cross-check run {} ({}) clean{}",
            run.run,
            run.scope(),
            agreed.words()
        ),
        super::with_agreement(cross_check_evidence(run), &agreed),
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
        f.running_tools = Some(vec![]);
        f.cross_checks = Some(vec![check(7, true, 0, 0, clean())]);
        f.tool_paths_present = Some(vec!["scripts/backfill_full_name.py".into()]);
        let checks = guards(&plan(), &f);
        assert!(checks[0].passed());
        let err = checks[1].verdict.clone().unwrap_err().to_string();
        assert!(err.contains("scripts/backfill_full_name.py"), "{err}");
        f.tool_paths_present = Some(vec![]);
        f.cross_checks = Some(vec![check(8, false, 0, 0, dirty())]);
        let checks = guards(&plan(), &f);
        assert!(!checks[0].passed() && checks[1].passed() && checks[2].passed());
    }

    #[test]
    fn a_running_tool_blocks_and_says_what_to_do() {
        let mut f = facts(0);
        f.cross_checks = Some(vec![check(7, true, 0, 0, clean())]);
        f.tool_paths_present = Some(vec![]);
        f.running_tools = None;
        assert!(!guards(&plan(), &f)[2].passed(), "not observed is no pass");
        f.running_tools = Some(vec![crate::facts::RunningTool {
            tool: "sync".into(),
            holder: "ada@box:4242".into(),
            host: "box".into(),
            pid: 4242,
            since: t(-1),
            expires_at: t(0),
        }]);
        let err = guards(&plan(), &f)[2]
            .verdict
            .clone()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a sync of users-full-name is running: ada@box:4242 since "),
            "{err}"
        );
        assert!(err.contains("(`kill 4242` on box stops it)"), "{err}");
        assert!(err.contains("let it finish, or stop it"), "{err}");
        assert!(
            err.contains("frees its lease within 1m of stopping"),
            "{err}"
        );
        assert!(
            err.ends_with("then `attrmig advance users-full-name`"),
            "{err}"
        );
    }
}
