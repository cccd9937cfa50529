//! `attrmig log`: a migration's audit entries, and the verification of their hash chain.

use attrmig_core::audit::{ChainBreak, verify_chain};
use attrmig_core::{EntryKind, Position, Step};
use attrmig_store::audit;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Engine;
use crate::error::EngineError;

/// One audit entry, for people and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    /// Version (1-based position in the log).
    pub version: i64,
    /// Kind.
    pub kind: EntryKind,
    /// From.
    pub from: Step,
    /// To.
    pub to: Step,
    /// Who.
    pub actor: String,
    /// Database user.
    pub db_user: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Note or reason.
    pub note: Option<String>,
    /// Evidence.
    pub evidence: serde_json::Value,
    /// Previous entry's hash.
    pub prev_hash: String,
    /// This entry's stored hash.
    pub hash: String,
}

/// The outcome of `--verify`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verification {
    /// Every entry hashes and links, and the chain ends where the migration is.
    Intact {
        /// Entries checked.
        entries: usize,
    },
    /// The first problem found.
    Broken {
        /// What is wrong.
        #[serde(flatten)]
        problem: ChainBreak,
        /// In words.
        message: String,
    },
}

/// `attrmig log ID`.
#[derive(Debug, Clone, Serialize)]
pub struct LogView {
    /// Migration id.
    pub id: String,
    /// Where it stands.
    pub position: Position,
    /// Oldest first.
    pub entries: Vec<EntryView>,
    /// With `--verify`.
    pub verification: Option<Verification>,
}

impl Engine {
    /// The audit log of a migration, optionally verified.
    pub fn log(&mut self, id: &str, verify: bool) -> Result<LogView, EngineError> {
        let record = self.record(id)?;
        let (position, version) = record.map_or((Position::At(Step::Planned), 0), |r| {
            (r.position, r.version)
        });
        let entries = audit::log(self.session.state(), id)?;
        let verification = verify.then(|| match verify_chain(&entries, version, position) {
            Ok(()) => Verification::Intact {
                entries: entries.len(),
            },
            Err(problem) => Verification::Broken {
                message: problem.to_string(),
                problem,
            },
        });
        let entries = entries
            .into_iter()
            .map(|(e, hash)| EntryView {
                version: e.version,
                kind: e.kind,
                from: e.from_step,
                to: e.to_step,
                actor: e.actor,
                db_user: e.db_user,
                at: e.at,
                note: e.note,
                evidence: serde_json::from_str(&e.evidence)
                    .unwrap_or(serde_json::Value::String(e.evidence)),
                prev_hash: e.prev_hash,
                hash,
            })
            .collect();
        Ok(LogView {
            id: id.to_owned(),
            position,
            entries,
            verification,
        })
    }
}
