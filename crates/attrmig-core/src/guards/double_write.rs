//! Entering 3 double-write: attrmig can't see the application's code, so the guard is a
//! note saying where double-write shipped, recorded in the audit row for reviewers.

use serde_json::json;

use super::GuardCheck;
use crate::facts::Facts;
use crate::plan::Plan;
use crate::{Refusal, Step};

pub(super) fn guards(_plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let name = "note-says-where-double-write-shipped";
    let check = match facts.note.as_deref().map(str::trim) {
        Some(note) if !note.is_empty() => GuardCheck::pass(
            name,
            format!("note: {note}"),
            json!({ "double_write_shipped": note }),
        ),
        _ => GuardCheck::fail(
            name,
            Refusal::NoteRequired {
                step: Step::DoubleWrite,
                what: "where double-write shipped (release, commit)",
            },
        ),
    };
    vec![check]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn note_required() {
        let mut f = facts(0);
        assert!(!guards(&plan(), &f)[0].passed());
        f.note = Some("   ".into());
        assert!(!guards(&plan(), &f)[0].passed());
        f.note = Some("release 2026.11.3 (a1b2c3d)".into());
        assert!(guards(&plan(), &f)[0].passed());
    }
}
