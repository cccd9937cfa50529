//! What the application must do at each step: which storages it writes, which it reads,
//! and which one wins when it reads both.
//!
//! This is the one place the procedure's "the application" column lives; `attrmig mode`
//! prints it as JSON for applications in any language, and Rust applications call
//! [`Mode::at`] directly.

use serde::Serialize;

use crate::Step;

/// Which storage the application reads, and which value it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Read {
    /// Read old only.
    Old,
    /// Read both, compare, serve old (report differences).
    BothServeOld,
    /// Read both, compare, serve new (report differences).
    BothServeNew,
    /// Read new only.
    New,
}

/// The application's behaviour at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mode {
    /// Write the attribute to old storage.
    pub write_old: bool,
    /// Write the attribute to new storage.
    pub write_new: bool,
    /// What to read and serve.
    pub read: Read,
}

impl Mode {
    /// The mode the application must be in once `step` is reached.
    pub const fn at(step: Step) -> Mode {
        use Read::*;
        let (write_old, write_new, read) = match step {
            Step::Planned | Step::PrepareStorage | Step::CrossCheck => (true, false, Old),
            Step::DoubleWrite | Step::Sync => (true, true, Old),
            Step::DoubleReadOld => (true, true, BothServeOld),
            Step::DoubleReadNew => (true, true, BothServeNew),
            Step::StopReadingOld | Step::PrepareOldStop | Step::DeleteTools => (true, true, New),
            Step::StopWritingOld | Step::DropOld => (false, true, New),
        };
        Mode {
            write_old,
            write_new,
            read,
        }
    }

    /// Read old storage at all.
    pub const fn reads_old(self) -> bool {
        matches!(
            self.read,
            Read::Old | Read::BothServeOld | Read::BothServeNew
        )
    }

    /// Read new storage at all.
    pub const fn reads_new(self) -> bool {
        !matches!(self.read, Read::Old)
    }

    /// Which storage's value is served to callers: `"old"` or `"new"`.
    pub const fn serves(self) -> &'static str {
        match self.read {
            Read::Old | Read::BothServeOld => "old",
            Read::BothServeNew | Read::New => "new",
        }
    }

    /// One line for people: `writes both, reads both (old wins)`.
    pub fn describe(self) -> String {
        let writes = match (self.write_old, self.write_new) {
            (true, true) => "writes both",
            (true, false) => "writes old",
            (false, true) => "writes new",
            (false, false) => "writes nothing",
        };
        let reads = match self.read {
            Read::Old => "reads old",
            Read::BothServeOld => "reads both (old wins)",
            Read::BothServeNew => "reads both (new wins)",
            Read::New => "reads new",
        };
        format!("{writes}, {reads}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_procedure_table() {
        let expected = [
            (Step::Planned, "writes old, reads old"),
            (Step::PrepareStorage, "writes old, reads old"),
            (Step::CrossCheck, "writes old, reads old"),
            (Step::DoubleWrite, "writes both, reads old"),
            (Step::Sync, "writes both, reads old"),
            (Step::DoubleReadOld, "writes both, reads both (old wins)"),
            (Step::DoubleReadNew, "writes both, reads both (new wins)"),
            (Step::StopReadingOld, "writes both, reads new"),
            (Step::PrepareOldStop, "writes both, reads new"),
            (Step::DeleteTools, "writes both, reads new"),
            (Step::StopWritingOld, "writes new, reads new"),
            (Step::DropOld, "writes new, reads new"),
        ];
        for (step, line) in expected {
            assert_eq!(Mode::at(step).describe(), line, "{step}");
        }
    }

    #[test]
    fn new_is_always_written_once_double_write_is_live() {
        for step in Step::ALL {
            let mode = Mode::at(step);
            assert_eq!(mode.write_new, step >= Step::DoubleWrite, "{step}");
            // Old is never left unwritten while it is still read.
            assert!(!mode.reads_old() || mode.write_old, "{step}");
        }
    }
}
