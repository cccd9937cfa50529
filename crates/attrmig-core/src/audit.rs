//! The audit log's hash chain, pure: how an entry is hashed and how a chain is verified.
//!
//! Every entry carries the hash of the previous entry of the same migration; its own hash
//! covers every field, that link included. Changing, removing or reordering an entry
//! breaks the chain from there on; removing the newest entries is caught by comparing the
//! chain's length with the migration's version, and editing the migration's step by
//! replaying the chain and comparing where it ends.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::machine::EntryKind;
use crate::plan::hex;
use crate::{Position, Step};

/// The `prev_hash` of a migration's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The current time at the precision every backend stores (microseconds), so that a time
/// read back hashes the same as the time written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// One audit entry, as hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// The migration.
    pub migration_id: String,
    /// The migration's version after this entry (1 for the first).
    pub version: i64,
    /// What happened.
    pub kind: EntryKind,
    /// Step before.
    pub from_step: Step,
    /// Step after (for an abandon, the step it was abandoned at).
    pub to_step: Step,
    /// Who did it.
    pub actor: String,
    /// The database user of the connection, where the backend has one.
    pub db_user: Option<String>,
    /// When.
    #[serde(serialize_with = "micros")]
    pub at: DateTime<Utc>,
    /// `--note` or `--reason`.
    pub note: Option<String>,
    /// Evidence, as the JSON text that is stored.
    pub evidence: String,
    /// Hash of the previous entry, or [`GENESIS`].
    pub prev_hash: String,
}

fn micros<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

impl AuditEntry {
    /// SHA-256 of the entry's canonical JSON (fields in declaration order), hex.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("an audit entry always serializes");
        hex(&Sha256::digest(&canonical))
    }

    /// The position after this entry, given the position before it.
    pub fn apply(&self, before: Position) -> Position {
        match self.kind {
            EntryKind::Advance | EntryKind::Rollback => Position::At(self.to_step),
            EntryKind::Abandon => Position::Abandoned { at: self.to_step },
            EntryKind::Approve | EntryKind::Ddl => before,
        }
    }
}

/// Where a chain first goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum ChainBreak {
    /// A stored hash is not the hash of the entry's fields: the entry was edited.
    #[error("entry {version} was altered: its stored hash does not match its contents")]
    Altered {
        /// The entry.
        version: i64,
    },
    /// An entry does not point at its predecessor: one was removed or reordered.
    #[error(
        "entry {version} does not link to the entry before it: an entry was removed or replaced"
    )]
    Unlinked {
        /// The entry.
        version: i64,
    },
    /// Versions are not 1, 2, 3, ...
    #[error("entry {found} found where entry {expected} should be: entries are missing")]
    Gap {
        /// Expected version.
        expected: i64,
        /// Found version.
        found: i64,
    },
    /// The migration's version is ahead of the log.
    #[error(
        "the migration is at version {version} but the log ends at entry {last}: the newest entries were removed"
    )]
    Truncated {
        /// The migration's version.
        version: i64,
        /// The last entry.
        last: i64,
    },
    /// Replaying the log does not end where the migration is.
    #[error(
        "replaying the log ends at {replayed} but the migration says {stored}: its state was edited outside attrmig"
    )]
    PositionMismatch {
        /// Where the log ends.
        replayed: Position,
        /// What the migrations table says.
        stored: Position,
    },
}

/// Verifies a migration's entries (oldest first, each with its stored hash) against the
/// migration's current version and position.
pub fn verify_chain(
    entries: &[(AuditEntry, String)],
    version: i64,
    position: Position,
) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_owned();
    let mut replayed = Position::At(Step::Planned);
    for (i, (entry, stored_hash)) in entries.iter().enumerate() {
        let expected = i as i64 + 1;
        if entry.version != expected {
            return Err(ChainBreak::Gap {
                expected,
                found: entry.version,
            });
        }
        if entry.prev_hash != prev {
            return Err(ChainBreak::Unlinked {
                version: entry.version,
            });
        }
        if entry.compute_hash() != *stored_hash {
            return Err(ChainBreak::Altered {
                version: entry.version,
            });
        }
        replayed = entry.apply(replayed);
        prev = stored_hash.clone();
    }
    let last = entries.len() as i64;
    if last != version {
        return Err(ChainBreak::Truncated { version, last });
    }
    if replayed != position {
        return Err(ChainBreak::PositionMismatch {
            replayed,
            stored: position,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEntry, String)> {
        let mut out: Vec<(AuditEntry, String)> = Vec::new();
        let mut step = Step::Planned;
        for v in 1..=n {
            let entry = AuditEntry {
                migration_id: "m".into(),
                version: v,
                kind: EntryKind::Advance,
                from_step: step,
                to_step: step.next().unwrap(),
                actor: "alice".into(),
                db_user: None,
                at: DateTime::from_timestamp(1_700_000_000 + v, 123_456_000).unwrap(),
                note: None,
                evidence: "{}".into(),
                prev_hash: out.last().map_or(GENESIS.to_owned(), |(_, h)| h.clone()),
            };
            step = entry.to_step;
            let hash = entry.compute_hash();
            out.push((entry, hash));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(
            verify_chain(&chain(3), 3, Position::At(Step::DoubleWrite)),
            Ok(())
        );
        assert_eq!(verify_chain(&[], 0, Position::At(Step::Planned)), Ok(()));
    }

    #[test]
    fn every_kind_of_tampering_is_caught() {
        let mut edited = chain(3);
        edited[1].0.note = Some("rewritten".into());
        assert_eq!(
            verify_chain(&edited, 3, Position::At(Step::DoubleWrite)),
            Err(ChainBreak::Altered { version: 2 })
        );

        let mut rehashed = chain(3);
        rehashed[1].0.actor = "mallory".into();
        rehashed[1].1 = rehashed[1].0.compute_hash();
        assert_eq!(
            verify_chain(&rehashed, 3, Position::At(Step::DoubleWrite)),
            Err(ChainBreak::Unlinked { version: 3 })
        );

        let mut removed = chain(3);
        removed.remove(1);
        assert!(matches!(
            verify_chain(&removed, 3, Position::At(Step::DoubleWrite)),
            Err(ChainBreak::Gap { .. })
        ));

        let truncated = chain(2);
        assert!(matches!(
            verify_chain(&truncated, 3, Position::At(Step::DoubleWrite)),
            Err(ChainBreak::Truncated { .. })
        ));

        assert!(matches!(
            verify_chain(&chain(3), 3, Position::At(Step::DropOld)),
            Err(ChainBreak::PositionMismatch { .. })
        ));
    }

    #[test]
    fn hash_is_stable_across_a_round_trip_of_the_time() {
        let t = now();
        let reparsed: DateTime<Utc> = t
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
            .parse()
            .unwrap();
        assert_eq!(t, reparsed);
    }
}
