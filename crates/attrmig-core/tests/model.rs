//! The real transition function against a tiny oracle, over random command sequences
//! (nextest's `rerun.rs` style): same verdicts, plus the invariants the procedure lives
//! by — no step skipped, nothing leaves 9 or 10 backwards, abandoned stays abandoned.

use attrmig_core::{Command, Position, Step, decide};
use proptest::prelude::*;

/// The oracle: a position is an index into the eleven steps and a flag.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Model {
    index: usize,
    abandoned: bool,
}

const LAST: usize = 11; // 10 drop-old
const NINE: usize = 10; // 9 stop-writing-old

impl Model {
    fn apply(self, cmd: &Cmd) -> Option<Model> {
        if self.abandoned {
            return None;
        }
        match cmd {
            Cmd::Advance(to) => {
                (*to == self.index + 1 && self.index < LAST).then_some(Model { index: *to, ..self })
            }
            Cmd::Rollback(reason) => {
                (self.index >= 1 && self.index < NINE && !reason.trim().is_empty()).then(|| Model {
                    index: self.index - 1,
                    ..self
                })
            }
            Cmd::Abandon(reason) => {
                (self.index < NINE && !reason.trim().is_empty()).then_some(Model {
                    abandoned: true,
                    ..self
                })
            }
        }
    }

    fn position(self) -> Position {
        let step = Step::ALL[self.index];
        if self.abandoned {
            Position::Abandoned { at: step }
        } else {
            Position::At(step)
        }
    }
}

#[derive(Debug, Clone)]
enum Cmd {
    Advance(usize),
    Rollback(String),
    Abandon(String),
}

fn reason() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("  ".to_owned()), "[a-z ]{1,12}"]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        // Mostly plausible advances (next step), sometimes anything.
        6 => (0usize..=LAST).prop_map(Cmd::Advance),
        2 => reason().prop_map(Cmd::Rollback),
        1 => reason().prop_map(Cmd::Abandon),
    ]
}

fn run(position: Position, cmd: &Cmd) -> Result<Position, attrmig_core::Refusal> {
    let command = match cmd {
        Cmd::Advance(to) => Command::Advance { to: Step::ALL[*to] },
        Cmd::Rollback(r) => Command::Rollback { reason: r },
        Cmd::Abandon(r) => Command::Abandon { reason: r },
    };
    decide(position, &command).map(|t| {
        assert_eq!(
            t.from,
            position.step(),
            "a transition starts where the migration is"
        );
        t.to
    })
}

/// Sequences that mostly walk forward, so that 9 and 10 are actually reached.
fn walk() -> impl Strategy<Value = Vec<Cmd>> {
    prop::collection::vec(cmd(), 0..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn machine_agrees_with_the_oracle(cmds in walk()) {
        let mut model = Model { index: 0, abandoned: false };
        let mut position = Position::At(Step::Planned);
        for cmd in &cmds {
            // Bias advances towards the next step so long walks get far.
            let cmd = match cmd {
                Cmd::Advance(to) if to % 3 != 0 => Cmd::Advance((model.index + 1).min(LAST)),
                other => other.clone(),
            };
            let expected = model.apply(&cmd);
            let actual = run(position, &cmd);
            prop_assert_eq!(actual.is_ok(), expected.is_some(), "{:?} from {:?}: {:?}", cmd, position, actual);
            if let (Ok(next), Some(next_model)) = (actual, expected) {
                prop_assert_eq!(next, next_model.position());

                // Invariants, stated independently of the oracle.
                let (from, to) = (position.step().index(), next.step().index());
                if matches!(cmd, Cmd::Advance(_)) {
                    prop_assert_eq!(to, from + 1, "no step is ever skipped");
                }
                if position.step() >= Step::StopWritingOld {
                    prop_assert!(to >= from, "nothing leaves 9 or 10 backwards");
                    prop_assert!(matches!(next, Position::At(_)), "no abandon after the point of no return");
                }
                prop_assert!(to + 1 >= from, "at most one step back");
                position = next;
                model = next_model;
            }
            if let Position::Abandoned { .. } = position {
                prop_assert!(run(position, &Cmd::Advance(0)).is_err());
            }
        }
    }

    #[test]
    fn abandoned_stays_abandoned(at in 0usize..=LAST, cmds in walk()) {
        let position = Position::Abandoned { at: Step::ALL[at] };
        for cmd in &cmds {
            prop_assert!(run(position, cmd).is_err(), "{:?} moved an abandoned migration", cmd);
        }
    }
}

#[test]
fn the_full_walk_reaches_drop_old_and_stays() {
    let mut position = Position::At(Step::Planned);
    for step in Step::ALL.into_iter().skip(1) {
        position = decide(position, &Command::Advance { to: step }).unwrap().to;
    }
    assert_eq!(position, Position::At(Step::DropOld));
    assert!(decide(position, &Command::Rollback { reason: "oops" }).is_err());
    assert!(decide(position, &Command::Abandon { reason: "oops" }).is_err());
}
