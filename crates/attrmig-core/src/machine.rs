//! The transition function: `(position, command) -> Transition | Refusal`, pure.
//!
//! It decides legality only (order, rollback and abandon rules). Whether the evidence
//! allows an advance is the guards' business ([`crate::guards`]); the engine asks this
//! first, then the guards, then writes the transition with compare-and-swap.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::{Refusal, Step};

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// Active at the last step reached.
    At(Step),
    /// Given up at a step; final.
    Abandoned {
        /// The step it was at when abandoned.
        at: Step,
    },
}

impl Position {
    /// The step reached, abandoned or not.
    pub fn step(self) -> Step {
        match self {
            Position::At(step) | Position::Abandoned { at: step } => step,
        }
    }

    /// The step `advance` would reach, if the migration can move forward at all.
    pub fn next(self) -> Option<Step> {
        match self {
            Position::At(step) => step.next(),
            Position::Abandoned { .. } => None,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::At(step) => write!(f, "{step}"),
            Position::Abandoned { at } => write!(f, "abandoned at {at}"),
        }
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Reach `to`, which must be the next step.
    Advance {
        /// Target step.
        to: Step,
    },
    /// Return one step.
    Rollback {
        /// Why; required.
        reason: &'a str,
    },
    /// Give the migration up.
    Abandon {
        /// Why; required.
        reason: &'a str,
    },
}

/// The kind of an audit entry. Transitions move the position; the others record an act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// One step forward.
    Advance,
    /// One step back.
    Rollback,
    /// Given up.
    Abandon,
    /// Someone approved the point of no return.
    Approve,
    /// A DDL statement was executed by `attrmig ddl --apply`.
    Ddl,
    /// Someone looked at the rows only in new storage a cross-check found and recorded
    /// that they may stay (`attrmig acknowledge-extra`, [`crate::extra`]).
    Acknowledge,
}

impl EntryKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Advance => "advance",
            EntryKind::Rollback => "rollback",
            EntryKind::Abandon => "abandon",
            EntryKind::Approve => "approve",
            EntryKind::Ddl => "ddl",
            EntryKind::Acknowledge => "acknowledge",
        }
    }

    /// Parses a stored kind.
    pub fn parse(s: &str) -> Option<EntryKind> {
        [
            EntryKind::Advance,
            EntryKind::Rollback,
            EntryKind::Abandon,
            EntryKind::Approve,
            EntryKind::Ddl,
            EntryKind::Acknowledge,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A legal move from one position to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Advance, rollback or abandon.
    pub kind: EntryKind,
    /// Where it starts.
    pub from: Step,
    /// Where it ends.
    pub to: Position,
}

/// Decides whether `command` is legal from `position`. Guards are not consulted here.
pub fn decide(position: Position, command: &Command<'_>) -> Result<Transition, Refusal> {
    // One arm per (position, command) pair, no catch-all: a new position or command
    // must be decided here explicitly.
    match (position, command) {
        (Position::Abandoned { at }, Command::Advance { .. })
        | (Position::Abandoned { at }, Command::Rollback { .. })
        | (Position::Abandoned { at }, Command::Abandon { .. }) => Err(Refusal::Abandoned { at }),

        (Position::At(from), Command::Advance { to }) => match from.next() {
            None => Err(Refusal::Complete),
            Some(next) if next == *to => Ok(Transition {
                kind: EntryKind::Advance,
                from,
                to: Position::At(next),
            }),
            Some(next) => Err(Refusal::OutOfOrder {
                from,
                to: *to,
                next,
            }),
        },

        (Position::At(from), Command::Rollback { reason }) => {
            if from.past_point_of_no_return() {
                return Err(Refusal::PastPointOfNoReturn {
                    action: "roll back",
                    at: from,
                });
            }
            let Some(previous) = from.previous() else {
                return Err(Refusal::NothingToRollBack);
            };
            if reason.trim().is_empty() {
                return Err(Refusal::ReasonRequired {
                    command: "rollback",
                });
            }
            Ok(Transition {
                kind: EntryKind::Rollback,
                from,
                to: Position::At(previous),
            })
        }

        (Position::At(from), Command::Abandon { reason }) => {
            if from.past_point_of_no_return() {
                return Err(Refusal::PastPointOfNoReturn {
                    action: "abandon",
                    at: from,
                });
            }
            if reason.trim().is_empty() {
                return Err(Refusal::ReasonRequired { command: "abandon" });
            }
            Ok(Transition {
                kind: EntryKind::Abandon,
                from,
                to: Position::Abandoned { at: from },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_reaches_the_next_step_only() {
        let t = decide(
            Position::At(Step::DoubleWrite),
            &Command::Advance { to: Step::Sync },
        )
        .unwrap();
        assert_eq!(t.to, Position::At(Step::Sync));
        let refused = decide(
            Position::At(Step::DoubleWrite),
            &Command::Advance {
                to: Step::DoubleReadOld,
            },
        );
        assert_eq!(
            refused,
            Err(Refusal::OutOfOrder {
                from: Step::DoubleWrite,
                to: Step::DoubleReadOld,
                next: Step::Sync
            })
        );
        assert_eq!(
            decide(
                Position::At(Step::DropOld),
                &Command::Advance { to: Step::DropOld }
            ),
            Err(Refusal::Complete)
        );
    }

    #[test]
    fn rollback_rules() {
        let reason = Command::Rollback {
            reason: "double-write bug",
        };
        assert_eq!(
            decide(Position::At(Step::Planned), &reason),
            Err(Refusal::NothingToRollBack)
        );
        assert_eq!(
            decide(Position::At(Step::DeleteTools), &reason).unwrap().to,
            Position::At(Step::PrepareOldStop)
        );
        assert!(matches!(
            decide(Position::At(Step::StopWritingOld), &reason),
            Err(Refusal::PastPointOfNoReturn { .. })
        ));
        assert!(matches!(
            decide(Position::At(Step::DropOld), &reason),
            Err(Refusal::PastPointOfNoReturn { .. })
        ));
        assert_eq!(
            decide(
                Position::At(Step::Sync),
                &Command::Rollback { reason: "  " }
            ),
            Err(Refusal::ReasonRequired {
                command: "rollback"
            })
        );
    }

    #[test]
    fn abandon_rules() {
        let abandon = Command::Abandon {
            reason: "superseded",
        };
        assert_eq!(
            decide(Position::At(Step::Sync), &abandon).unwrap().to,
            Position::Abandoned { at: Step::Sync }
        );
        assert!(decide(Position::At(Step::Planned), &abandon).is_ok());
        assert!(matches!(
            decide(Position::At(Step::StopWritingOld), &abandon),
            Err(Refusal::PastPointOfNoReturn { .. })
        ));
        let gone = Position::Abandoned { at: Step::Sync };
        assert_eq!(
            decide(
                gone,
                &Command::Advance {
                    to: Step::DoubleReadOld
                }
            ),
            Err(Refusal::Abandoned { at: Step::Sync })
        );
        assert_eq!(
            decide(gone, &abandon),
            Err(Refusal::Abandoned { at: Step::Sync })
        );
    }

    #[test]
    fn positions_display() {
        assert_eq!(Position::At(Step::Sync).to_string(), "4 sync");
        assert_eq!(
            Position::Abandoned { at: Step::Sync }.to_string(),
            "abandoned at 4 sync"
        );
    }
}
