//! What `attrmig check` reports: one [`Finding`] per problem, each tied to a file (and a
//! line where there is one) so that CI can annotate the pull request at that spot.

use serde::Serialize;

/// The rule a finding breaks. The kebab-case name is stable: JSON consumers and the
/// annotation titles use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// A plan does not parse or validate.
    PlanInvalid,
    /// A migration recorded in the store has no plan file.
    PlanMissing,
    /// A plan's storage part differs from the fingerprint recorded at step 1.
    PlanChanged,
    /// A plan's storage part changed between `--base` and the working tree while its
    /// migration is under way.
    PlanChangedSinceBase,
    /// A hand-written tool listed in the plan exists again after step 8.
    ToolReturned,
    /// Source code names the old attribute after step 9.
    OldReference,
    /// A schema migration drops old storage before step 9.
    DropOldTooEarly,
    /// A schema migration drops new storage while the migration is under way.
    DropNewUnderWay,
    /// A migration's audit log does not verify: it was edited outside attrmig.
    AuditLogBroken,
    /// From step 6 on, a schema migration leaves a database object reading old storage.
    NewReaderOfOld,
}

impl Rule {
    /// The stable name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rule::PlanInvalid => "plan-invalid",
            Rule::PlanMissing => "plan-missing",
            Rule::PlanChanged => "plan-changed",
            Rule::PlanChangedSinceBase => "plan-changed-since-base",
            Rule::ToolReturned => "tool-returned",
            Rule::OldReference => "old-reference",
            Rule::DropOldTooEarly => "drop-old-too-early",
            Rule::DropNewUnderWay => "drop-new-under-way",
            Rule::AuditLogBroken => "audit-log-broken",
            Rule::NewReaderOfOld => "new-reader-of-old",
        }
    }
}

/// One problem, at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which rule.
    pub rule: Rule,
    /// The migration concerned, when the finding belongs to one.
    pub migration: Option<String>,
    /// The file, relative to the project root, with `/` separators.
    pub path: String,
    /// 1-based line, when the finding points into the file.
    pub line: Option<usize>,
    /// What is wrong and what to do about it, in one line.
    pub message: String,
}

impl Finding {
    /// The order findings are printed in: by file, then line, so a reviewer reads a file
    /// top to bottom.
    pub(crate) fn sort_key(&self) -> (&str, usize, Rule, &str) {
        (&self.path, self.line.unwrap_or(0), self.rule, &self.message)
    }
}
