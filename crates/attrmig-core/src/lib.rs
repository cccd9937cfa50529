//! The attribute-migration procedure as pure types, with no I/O.
//!
//! - [`Step`]: the eleven positions from `0 planned` to `10 drop-old`.
//! - [`machine::decide`]: which transitions are legal (`advance` to the next step only,
//!   `rollback` one step from 1..8, `abandon` before 9).
//! - [`guards::evaluate`]: whether the evidence ([`Facts`]) allows entering a step, each
//!   guard passing with evidence or refusing with a [`Refusal`] that says what to do next.
//! - [`Mode::at`]: what the application must write and read at each step.
//! - [`fleet`]: what the application's instances report, and what the guards ask of it.
//! - [`plan::Plan`]: a validated plan; [`audit`]: the audit log's hash chain.
//! - [`equality`]: what "equal" means for an old and a new value, per type family.
//!
//! Everything that talks to a database, a file or a terminal lives in other crates.

pub mod audit;
pub mod collation;
pub mod dependents;
pub mod echo;
pub mod equality;
pub mod extra;
pub mod facts;
pub mod fleet;
pub mod guards;
pub mod ident;
pub mod key;
pub mod machine;
pub mod mode;
pub mod names;
pub mod plan;
pub mod refusal;
pub mod sql_text;
pub mod step;
pub mod types;

pub use facts::Facts;
pub use machine::{Command, EntryKind, Position, Transition, decide};
pub use mode::{Mode, Read};
pub use plan::Plan;
pub use refusal::{Refusal, human_duration};
pub use step::Step;
