//! `attrmig log`: a migration's audit entries, and the verification of their hash chain.

use attrmig_core::audit::ChainBreak;
use attrmig_core::{EntryKind, Position, Refusal, Step};
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
        /// What a person can do about it.
        advice: String,
    },
}

impl Verification {
    fn of(id: &str, verdict: Result<usize, ChainBreak>) -> Verification {
        match verdict {
            Ok(entries) => Verification::Intact { entries },
            Err(problem) => Verification::Broken {
                message: problem.to_string(),
                advice: problem.remedy(id),
                problem,
            },
        }
    }

    /// Whether the chain verified.
    pub fn intact(&self) -> bool {
        matches!(self, Verification::Intact { .. })
    }
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
    /// Whether a migration's audit chain verifies against its row and its approvals.
    pub fn verify_log(&mut self, id: &str) -> Result<Verification, EngineError> {
        Ok(Verification::of(
            id,
            audit::verify(self.session.state(), id)?,
        ))
    }

    /// Refuses when a migration's audit chain is broken: what the migrations table says
    /// is then no evidence of where it stands, and nothing may build on it. Every
    /// transition checks again inside its own transaction; this check refuses before
    /// guards are evaluated or a tool or DDL runs.
    pub(crate) fn refuse_broken_log(&mut self, id: &str) -> Result<(), EngineError> {
        match audit::verify(self.session.state(), id)? {
            Ok(_) => Ok(()),
            Err(chain) => Err(Refusal::ChainBroken {
                id: id.to_owned(),
                chain,
            }
            .into()),
        }
    }

    /// The audit log of a migration, optionally verified.
    pub fn log(&mut self, id: &str, verify: bool) -> Result<LogView, EngineError> {
        let record = self.record(id)?;
        let position = record.map_or(Position::At(Step::Planned), |r| r.position);
        // Verifying shows the entries that can be read and names the first that can't;
        // listing alone refuses with that name.
        let (entries, verification) = if verify {
            let (entries, _) = audit::readable_log(self.session.state(), id)?;
            (entries, Some(self.verify_log(id)?))
        } else {
            (audit::log(self.session.state(), id)?, None)
        };
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
