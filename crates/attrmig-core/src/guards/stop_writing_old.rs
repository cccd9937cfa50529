//! Entering 9 stop-writing-old, the point of no return: the tools are retired (step 8
//! reached), enough people other than the actor approved, and the actor confirms
//! explicitly. Approvals given before the latest rollback no longer count: what they
//! approved has changed since. Nothing in the database itself may still read or write
//! old storage (a trigger, a routine), and nothing may stand in the way of dropping it
//! (a foreign key, a view): after this step there is no way back to fix either.

use std::collections::BTreeSet;

use serde_json::json;

use super::{GuardCheck, database};
use crate::facts::Facts;
use crate::plan::Plan;
use crate::refusal::ts;
use crate::{Refusal, Step};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![
        tools_retired(facts),
        approvals(plan, facts),
        confirmation(facts),
        database::no_writers(plan, facts),
        database::no_foreign_keys(plan, facts),
        database::drop_unblocked(plan, facts),
    ]
}

fn tools_retired(facts: &Facts) -> GuardCheck {
    let name = "tools-retired";
    match facts.history.reached.get(&Step::DeleteTools) {
        Some(at) => GuardCheck::pass(
            name,
            format!("8 delete-tools reached at {}", ts(at)),
            json!({ "delete_tools_at": at }),
        ),
        None => GuardCheck::fail(
            name,
            Refusal::NotObserved {
                what: "when step 8 was reached",
            },
        ),
    }
}

fn approvals(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "approvals";
    let Some(all) = &facts.approvals else {
        return GuardCheck::fail(name, Refusal::NotObserved { what: "approvals" });
    };
    let current = all
        .iter()
        .filter(|a| facts.history.last_rollback.is_none_or(|r| a.at > r));
    let (own, others): (Vec<_>, Vec<_>) = current.partition(|a| a.approver == facts.actor);
    let approvers: BTreeSet<&str> = others.iter().map(|a| a.approver.as_str()).collect();
    let need = plan.guards.approvals;
    let have = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
    if have < need {
        return GuardCheck::fail(
            name,
            Refusal::NotEnoughApprovals {
                id: plan.id.to_string(),
                actor: facts.actor.clone(),
                have,
                need,
                own_ignored: !own.is_empty(),
            },
        );
    }
    GuardCheck::pass(
        name,
        if need == 0 {
            "guards.approvals = 0: none required".to_owned()
        } else {
            format!(
                "{have} of {need}: {}",
                approvers.iter().copied().collect::<Vec<_>>().join(", ")
            )
        },
        json!({ "approvers": approvers, "required": need }),
    )
}

fn confirmation(facts: &Facts) -> GuardCheck {
    let name = "confirm-point-of-no-return";
    if facts.confirmed_point_of_no_return {
        GuardCheck::pass(
            name,
            "--confirm-point-of-no-return given",
            json!({ "confirmed": true }),
        )
    } else {
        GuardCheck::fail(name, Refusal::ConfirmationRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::facts::ApprovalFact;

    fn approval(who: &str, h: i64) -> ApprovalFact {
        ApprovalFact {
            approver: who.into(),
            at: t(h),
        }
    }

    #[test]
    fn own_approval_not_counted() {
        let mut f = facts(10);
        f.history.reached.insert(Step::DeleteTools, t(1));
        f.confirmed_point_of_no_return = true;
        f.dependents = Some(vec![]);
        f.approvals = Some(vec![approval("alice@example.com", 2)]);
        let err = approvals(&plan(), &f).verdict.unwrap_err();
        assert_eq!(
            err.to_string(),
            "0 of 1 approval from people other than alice@example.com; ask a reviewer to run `attrmig approve users-full-name` (your own approval doesn't count)"
        );
        f.approvals = Some(vec![
            approval("alice@example.com", 2),
            approval("bob@example.com", 3),
        ]);
        assert!(guards(&plan(), &f).iter().all(GuardCheck::passed));
    }

    #[test]
    fn the_same_person_twice_counts_once_and_rollback_withdraws() {
        let mut p = plan();
        p.guards.approvals = 2;
        let mut f = facts(10);
        f.approvals = Some(vec![approval("bob", 2), approval("bob", 3)]);
        assert!(!approvals(&p, &f).passed());
        f.approvals = Some(vec![approval("bob", 2), approval("carol", 3)]);
        assert!(approvals(&p, &f).passed());
        f.history.last_rollback = Some(t(2));
        assert!(!approvals(&p, &f).passed());
    }

    #[test]
    fn confirmation_required() {
        let mut f = facts(0);
        assert!(!confirmation(&f).passed());
        f.confirmed_point_of_no_return = true;
        assert!(confirmation(&f).passed());
    }
}
