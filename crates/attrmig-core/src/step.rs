//! The eleven positions of the procedure, from `planned` to `drop-old`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One step of the procedure. A migration's position is the last step it has reached.
///
/// The declaration order is the procedure's order, so `Ord` compares progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// 0: the plan is registered; nothing has changed yet.
    Planned,
    /// 1: the new storage exists.
    PrepareStorage,
    /// 2: the cross-check tool works against this database.
    CrossCheck,
    /// 3: every writer writes old and new.
    DoubleWrite,
    /// 4: a full sync pass ran after double-write went live, and old = new.
    Sync,
    /// 5a: reads both, compares, serves old.
    DoubleReadOld,
    /// 5b: reads both, compares, serves new.
    DoubleReadNew,
    /// 6: old is no longer read.
    StopReadingOld,
    /// 7: old storage accepts writes without the attribute.
    PrepareOldStop,
    /// 8: the cross-check and sync tools are gone.
    DeleteTools,
    /// 9: the point of no return: only new is written.
    StopWritingOld,
    /// 10: old storage is physically gone.
    DropOld,
}

impl Step {
    /// Every step, in the procedure's order.
    pub const ALL: [Step; 12] = [
        Step::Planned,
        Step::PrepareStorage,
        Step::CrossCheck,
        Step::DoubleWrite,
        Step::Sync,
        Step::DoubleReadOld,
        Step::DoubleReadNew,
        Step::StopReadingOld,
        Step::PrepareOldStop,
        Step::DeleteTools,
        Step::StopWritingOld,
        Step::DropOld,
    ];

    /// The step's stable id, as written in plans, the store and the CLI.
    pub const fn id(self) -> &'static str {
        match self {
            Step::Planned => "planned",
            Step::PrepareStorage => "prepare-storage",
            Step::CrossCheck => "cross-check",
            Step::DoubleWrite => "double-write",
            Step::Sync => "sync",
            Step::DoubleReadOld => "double-read-old",
            Step::DoubleReadNew => "double-read-new",
            Step::StopReadingOld => "stop-reading-old",
            Step::PrepareOldStop => "prepare-old-stop",
            Step::DeleteTools => "delete-tools",
            Step::StopWritingOld => "stop-writing-old",
            Step::DropOld => "drop-old",
        }
    }

    /// The step's number in the procedure: `0` to `10`, with `5a` and `5b`.
    pub const fn number(self) -> &'static str {
        match self {
            Step::Planned => "0",
            Step::PrepareStorage => "1",
            Step::CrossCheck => "2",
            Step::DoubleWrite => "3",
            Step::Sync => "4",
            Step::DoubleReadOld => "5a",
            Step::DoubleReadNew => "5b",
            Step::StopReadingOld => "6",
            Step::PrepareOldStop => "7",
            Step::DeleteTools => "8",
            Step::StopWritingOld => "9",
            Step::DropOld => "10",
        }
    }

    /// What reaching this step means, in one line.
    pub const fn meaning(self) -> &'static str {
        match self {
            Step::Planned => "plan registered",
            Step::PrepareStorage => "new storage exists",
            Step::CrossCheck => "the cross-check tool works against this database",
            Step::DoubleWrite => "every writer writes old and new",
            Step::Sync => "a full sync pass ran after double-write went live, and old = new",
            Step::DoubleReadOld => "reads both, compares, serves old",
            Step::DoubleReadNew => "reads both, compares, serves new",
            Step::StopReadingOld => "old is no longer read",
            Step::PrepareOldStop => "old storage accepts writes without the attribute",
            Step::DeleteTools => "cross-check and sync tools are gone",
            Step::StopWritingOld => "point of no return: only new is written",
            Step::DropOld => "old storage is physically gone",
        }
    }

    /// The step's place in [`Step::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The step after this one, if any.
    pub fn next(self) -> Option<Step> {
        Step::ALL.get(self.index() + 1).copied()
    }

    /// The step before this one, if any.
    pub fn previous(self) -> Option<Step> {
        self.index().checked_sub(1).map(|i| Step::ALL[i])
    }

    /// The cross-check and sync tools refuse to run from here on: that is what
    /// "delete the tools" means for the built-in ones.
    pub fn tools_retired(self) -> bool {
        self >= Step::DeleteTools
    }

    /// The point of no return has been passed: no rollback, no abandon.
    pub fn past_point_of_no_return(self) -> bool {
        self >= Step::StopWritingOld
    }
}

impl fmt::Display for Step {
    /// `4 sync`: the number and the id, as users read them in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.id())
    }
}

/// A string that names no step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step `{given}`; steps are {}", list_steps())]
pub struct UnknownStep {
    /// What was given.
    pub given: String,
}

fn list_steps() -> String {
    Step::ALL
        .iter()
        .map(|s| format!("{} {}", s.number(), s.id()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Step {
    type Err = UnknownStep;

    /// Accepts the id (`double-read-old`) or the number (`5a`, case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Step::ALL
            .into_iter()
            .find(|step| step.id() == wanted || step.number() == wanted)
            .ok_or_else(|| UnknownStep {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_round_trip() {
        for step in Step::ALL {
            assert_eq!(step.id().parse::<Step>(), Ok(step));
            assert_eq!(step.number().parse::<Step>(), Ok(step));
        }
        assert_eq!("5A".parse::<Step>(), Ok(Step::DoubleReadOld));
    }

    #[test]
    fn order_is_the_procedure() {
        assert_eq!(Step::Planned.next(), Some(Step::PrepareStorage));
        assert_eq!(Step::Sync.next(), Some(Step::DoubleReadOld));
        assert_eq!(Step::DoubleReadNew.previous(), Some(Step::DoubleReadOld));
        assert_eq!(Step::DropOld.next(), None);
        assert_eq!(Step::Planned.previous(), None);
        assert!(Step::DeleteTools.tools_retired());
        assert!(!Step::PrepareOldStop.tools_retired());
        assert!(Step::StopWritingOld.past_point_of_no_return());
        assert!(!Step::DeleteTools.past_point_of_no_return());
    }

    #[test]
    fn unknown_step_lists_the_real_ones() {
        let err = "6b".parse::<Step>().unwrap_err();
        assert!(err.to_string().contains("5a double-read-old"), "{err}");
    }

    #[test]
    fn display_is_number_and_id() {
        assert_eq!(Step::Sync.to_string(), "4 sync");
    }
}
