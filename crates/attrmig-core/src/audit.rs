//! The audit log's hash chain, pure: how an entry is hashed and how a chain is verified.
//!
//! Every entry carries the hash of the previous entry of the same migration; its own hash
//! covers every field, that link included. Changing, removing or reordering an entry
//! breaks the chain from there on; removing the newest entries is caught by comparing the
//! chain's length with the migration's version, and editing the migration's step by
//! replaying the chain: each entry must start where the ones before it end and make a
//! move attrmig makes, and the last must end where the migration is. An entry appended
//! from a step edited by hand starts somewhere the log never went, so the edit stays
//! visible however many entries follow it. Approval rows count only with their entry.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::facts::ApprovalFact;
use crate::machine::{Command, EntryKind, decide};
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
            EntryKind::Approve | EntryKind::Ddl | EntryKind::Acknowledge => before,
        }
    }
}

/// Where a chain first goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "kebab-case")]
#[non_exhaustive]
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
    /// An entry starts somewhere other than where the entries before it end: the
    /// migration's step was edited outside attrmig, and an attrmig that did not check
    /// walked on from there.
    #[error(
        "entry {version} starts at {from} but the entries before it end at {replayed}: the migration's step was edited outside attrmig before entry {version} was written"
    )]
    Discontinuous {
        /// The entry.
        version: i64,
        /// Where it says it started.
        from: Step,
        /// Where the entries before it end.
        replayed: Position,
    },
    /// An entry records a move attrmig never makes (a skipped step, a rollback past the
    /// point of no return, an approval that moves the migration).
    #[error(
        "entry {version} records {} from {from} to {to}, which attrmig never writes: it was written outside attrmig",
        kind.as_str()
    )]
    Illegal {
        /// The entry.
        version: i64,
        /// Its kind.
        kind: EntryKind,
        /// From.
        from: Step,
        /// To.
        to: Step,
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
    /// The log is longer than the migration's version.
    #[error(
        "the log has {last} entries but the migration says version {version}: its version was edited outside attrmig"
    )]
    Overlong {
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
    /// An approval row with no approval entry of that person at its version.
    #[error(
        "approval by {approver} (attrmig_approvals, version {version}) has no audit entry: it was written outside attrmig"
    )]
    ApprovalUnrecorded {
        /// The row's version.
        version: i64,
        /// Who it says approved.
        approver: String,
    },
    /// A stored entry or approval that can't be read back at all: a field holds what no
    /// backend's reader takes (a time of `infinity`, a step attrmig does not know).
    #[error(
        "entry {version} in {table} has {} `{field}` attrmig can't read: it was edited outside attrmig",
        article(field)
    )]
    Unreadable {
        /// `attrmig_transitions` or `attrmig_approvals`.
        table: String,
        /// The entry's (or approval's) version.
        version: i64,
        /// The field.
        field: String,
    },
    /// An approval entry whose row is gone.
    #[error(
        "entry {version} records an approval by {approver} that attrmig_approvals no longer holds: the row was deleted outside attrmig"
    )]
    ApprovalRowMissing {
        /// The entry.
        version: i64,
        /// Who approved.
        approver: String,
    },
}

impl ChainBreak {
    /// What a person can do about it, for migration `id`: every break but two can only be
    /// undone from a backup, because attrmig never rewrites its log (a log it repaired
    /// would be evidence of nothing).
    pub fn remedy(&self, id: &str) -> String {
        let quoted = id.replace('\'', "''");
        let restore = format!(
            "restore the attrmig_ tables from a backup taken before the change (then `attrmig log {id} --verify`); without one, this migration's record can't be trusted again: copy plans/{id}.toml to a new id and walk that from 0 planned, which meets every guard again"
        );
        match self {
            ChainBreak::PositionMismatch { replayed, stored } => {
                let warning = if stored.step().past_point_of_no_return()
                    && !replayed.step().past_point_of_no_return()
                {
                    " (applications that read the edited step stopped writing old storage: find out what old storage missed before going on)"
                } else {
                    ""
                };
                format!(
                    "put the row back where the log says with `UPDATE attrmig_migrations SET step = '{}', abandoned = {} WHERE id = '{quoted}'`{warning}, or {restore}",
                    replayed.step().id(),
                    if matches!(replayed, Position::Abandoned { .. }) {
                        "TRUE"
                    } else {
                        "FALSE"
                    },
                )
            }
            ChainBreak::ApprovalUnrecorded { version, .. } => format!(
                "delete the row, which no audit entry backs, with `DELETE FROM attrmig_approvals WHERE migration_id = '{quoted}' AND version = {version}`, or {restore}"
            ),
            ChainBreak::Altered { .. }
            | ChainBreak::Unlinked { .. }
            | ChainBreak::Gap { .. }
            | ChainBreak::Discontinuous { .. }
            | ChainBreak::Illegal { .. }
            | ChainBreak::Truncated { .. }
            | ChainBreak::Overlong { .. }
            | ChainBreak::Unreadable { .. }
            | ChainBreak::ApprovalRowMissing { .. } => restore,
        }
    }
}

/// `a` or `an`, for a field's name.
pub fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// A row of `attrmig_approvals`, as the verifier compares it with the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    /// The version of the audit entry it was written with.
    pub version: i64,
    /// Who approved.
    pub approver: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Whether `entry` is a move attrmig makes from `before` (the position the entries
/// before it end at).
fn legal(entry: &AuditEntry, before: Position) -> bool {
    // The machine decides advances, rollbacks and abandons; reasons were checked when the
    // entry was written, so any non-empty one stands in for it here.
    let decided =
        |command: Command<'_>| decide(before, &command).is_ok_and(|t| t.to == entry.apply(before));
    match entry.kind {
        EntryKind::Advance => decided(Command::Advance { to: entry.to_step }),
        EntryKind::Rollback => decided(Command::Rollback { reason: "recorded" }),
        EntryKind::Abandon => decided(Command::Abandon { reason: "recorded" }),
        // Approvals are taken before the point of no return, of a live migration.
        EntryKind::Approve => {
            entry.to_step == entry.from_step
                && matches!(before, Position::At(step) if !step.past_point_of_no_return())
        }
        EntryKind::Ddl => entry.to_step == entry.from_step,
        // Acknowledgements serve the guards of 4 to 8, of a live migration whose tools
        // still run.
        EntryKind::Acknowledge => {
            entry.to_step == entry.from_step
                && matches!(before, Position::At(step) if !step.tools_retired())
        }
    }
}

/// Verifies a migration's entries (oldest first, each with its stored hash) against the
/// migration's current version and position: every hash, every link, every entry
/// starting where the ones before it end and making a move attrmig makes, and the end
/// where the migrations table says.
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
        if entry.from_step != replayed.step() {
            return Err(ChainBreak::Discontinuous {
                version: entry.version,
                from: entry.from_step,
                replayed,
            });
        }
        if !legal(entry, replayed) {
            return Err(ChainBreak::Illegal {
                version: entry.version,
                kind: entry.kind,
                from: entry.from_step,
                to: entry.to_step,
            });
        }
        replayed = entry.apply(replayed);
        prev = stored_hash.clone();
    }
    let last = entries.len() as i64;
    if last < version {
        return Err(ChainBreak::Truncated { version, last });
    }
    if last > version {
        return Err(ChainBreak::Overlong { version, last });
    }
    if replayed != position {
        return Err(ChainBreak::PositionMismatch {
            replayed,
            stored: position,
        });
    }
    Ok(())
}

/// Whether approval `row` is backed by its audit entry: an approval, by the same person,
/// at the same time, at the row's version.
fn backed(row: &ApprovalRecord, entries: &[(AuditEntry, String)]) -> bool {
    entries.iter().any(|(e, _)| {
        e.version == row.version
            && e.kind == EntryKind::Approve
            && e.actor == row.approver
            && e.at == row.at
    })
}

/// Verifies that the approvals table and the log agree: every row has its approval entry
/// and every approval entry its row. A row alone could be inserted by anyone; the entry is
/// what the hash chain vouches for.
pub fn verify_approvals(
    entries: &[(AuditEntry, String)],
    rows: &[ApprovalRecord],
) -> Result<(), ChainBreak> {
    if let Some(row) = rows.iter().find(|r| !backed(r, entries)) {
        return Err(ChainBreak::ApprovalUnrecorded {
            version: row.version,
            approver: row.approver.clone(),
        });
    }
    if let Some((entry, _)) = entries
        .iter()
        .find(|(e, _)| e.kind == EntryKind::Approve && !rows.iter().any(|r| r.version == e.version))
    {
        return Err(ChainBreak::ApprovalRowMissing {
            version: entry.version,
            approver: entry.actor.clone(),
        });
    }
    Ok(())
}

/// The approvals that count as evidence: rows backed by their audit entry, oldest first.
pub fn counted_approvals(
    entries: &[(AuditEntry, String)],
    rows: &[ApprovalRecord],
) -> Vec<ApprovalFact> {
    rows.iter()
        .filter(|r| backed(r, entries))
        .map(|r| ApprovalFact {
            approver: r.approver.clone(),
            at: r.at,
        })
        .collect()
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

    /// Appends an entry as attrmig appends one: `from_step` is where the migrations table
    /// says the migration is, whatever the log says.
    fn push(chain: &mut Vec<(AuditEntry, String)>, kind: EntryKind, from: Step, to: Step) {
        let version = chain.len() as i64 + 1;
        let entry = AuditEntry {
            migration_id: "m".into(),
            version,
            kind,
            from_step: from,
            to_step: to,
            actor: "alice".into(),
            db_user: None,
            at: DateTime::from_timestamp(1_700_000_000 + version, 0).unwrap(),
            note: Some("because".into()),
            evidence: "{}".into(),
            prev_hash: chain.last().map_or(GENESIS.to_owned(), |(_, h)| h.clone()),
        };
        let hash = entry.compute_hash();
        chain.push((entry, hash));
    }

    #[test]
    fn a_step_edited_by_hand_and_walked_on_from_is_caught() {
        // At 4 sync; someone sets the step to 6 by hand; attrmig then appends 7, 8, 9, 10
        // from where the table says it is. Every hash links, and the replay ends at 10.
        let mut laundered = chain(4);
        for (from, to) in [
            (Step::StopReadingOld, Step::PrepareOldStop),
            (Step::PrepareOldStop, Step::DeleteTools),
            (Step::DeleteTools, Step::StopWritingOld),
            (Step::StopWritingOld, Step::DropOld),
        ] {
            push(&mut laundered, EntryKind::Advance, from, to);
        }
        assert_eq!(
            verify_chain(&laundered, 8, Position::At(Step::DropOld)),
            Err(ChainBreak::Discontinuous {
                version: 5,
                from: Step::StopReadingOld,
                replayed: Position::At(Step::Sync),
            })
        );

        // The same backwards: 8 set to 3 by hand, then walked 4, 5a (9 advances reach 8).
        let mut back = chain(9);
        push(&mut back, EntryKind::Advance, Step::DoubleWrite, Step::Sync);
        push(
            &mut back,
            EntryKind::Advance,
            Step::Sync,
            Step::DoubleReadOld,
        );
        assert!(matches!(
            verify_chain(&back, 11, Position::At(Step::DoubleReadOld)),
            Err(ChainBreak::Discontinuous { version: 10, .. })
        ));
    }

    #[test]
    fn only_transitions_attrmig_makes_verify() {
        // A skip, hashed and linked as if attrmig had written it.
        let mut skip = chain(4);
        push(
            &mut skip,
            EntryKind::Advance,
            Step::Sync,
            Step::StopReadingOld,
        );
        assert_eq!(
            verify_chain(&skip, 5, Position::At(Step::StopReadingOld)),
            Err(ChainBreak::Illegal {
                version: 5,
                kind: EntryKind::Advance,
                from: Step::Sync,
                to: Step::StopReadingOld,
            })
        );
        // A rollback from the point of no return.
        let mut back = chain(10);
        push(
            &mut back,
            EntryKind::Rollback,
            Step::StopWritingOld,
            Step::DeleteTools,
        );
        assert!(matches!(
            verify_chain(&back, 11, Position::At(Step::DeleteTools)),
            Err(ChainBreak::Illegal { version: 11, .. })
        ));
        // An approval that claims to move the migration.
        let mut approve = chain(2);
        push(
            &mut approve,
            EntryKind::Approve,
            Step::CrossCheck,
            Step::Sync,
        );
        assert!(matches!(
            verify_chain(&approve, 3, Position::At(Step::Sync)),
            Err(ChainBreak::Illegal { version: 3, .. })
        ));
        // An acknowledgement of rows only in new storage once the tools are retired.
        let mut late = chain(9);
        push(
            &mut late,
            EntryKind::Acknowledge,
            Step::DeleteTools,
            Step::DeleteTools,
        );
        assert!(matches!(
            verify_chain(&late, 10, Position::At(Step::DeleteTools)),
            Err(ChainBreak::Illegal { version: 10, .. })
        ));
        let mut moving = chain(3);
        push(
            &mut moving,
            EntryKind::Acknowledge,
            Step::DoubleWrite,
            Step::Sync,
        );
        assert!(matches!(
            verify_chain(&moving, 4, Position::At(Step::Sync)),
            Err(ChainBreak::Illegal { version: 4, .. })
        ));
        // What attrmig does write verifies: acknowledge, rollback, approve, ddl, abandon.
        let mut acknowledged = chain(3);
        push(
            &mut acknowledged,
            EntryKind::Acknowledge,
            Step::DoubleWrite,
            Step::DoubleWrite,
        );
        assert_eq!(
            verify_chain(&acknowledged, 4, Position::At(Step::DoubleWrite)),
            Ok(())
        );
        let mut fine = chain(9);
        push(
            &mut fine,
            EntryKind::Rollback,
            Step::DeleteTools,
            Step::PrepareOldStop,
        );
        push(
            &mut fine,
            EntryKind::Approve,
            Step::PrepareOldStop,
            Step::PrepareOldStop,
        );
        push(
            &mut fine,
            EntryKind::Ddl,
            Step::PrepareOldStop,
            Step::PrepareOldStop,
        );
        push(
            &mut fine,
            EntryKind::Abandon,
            Step::PrepareOldStop,
            Step::PrepareOldStop,
        );
        assert_eq!(
            verify_chain(
                &fine,
                13,
                Position::Abandoned {
                    at: Step::PrepareOldStop
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn a_version_behind_the_log_is_named_as_such() {
        assert_eq!(
            verify_chain(&chain(3), 2, Position::At(Step::DoubleWrite)),
            Err(ChainBreak::Overlong {
                version: 2,
                last: 3
            })
        );
    }

    fn approval(version: i64, chain: &[(AuditEntry, String)]) -> ApprovalRecord {
        let (entry, _) = &chain[version as usize - 1];
        ApprovalRecord {
            version,
            approver: entry.actor.clone(),
            at: entry.at,
        }
    }

    #[test]
    fn approvals_count_only_with_their_audit_entry() {
        let mut log = chain(8);
        push(
            &mut log,
            EntryKind::Approve,
            Step::PrepareOldStop,
            Step::PrepareOldStop,
        );
        let recorded = approval(9, &log);
        assert_eq!(
            verify_approvals(&log, std::slice::from_ref(&recorded)),
            Ok(())
        );
        assert_eq!(
            counted_approvals(&log, std::slice::from_ref(&recorded)).len(),
            1
        );

        // A row inserted by hand: no entry at its version, or one that is not an approval,
        // or one by someone else.
        for forged in [
            ApprovalRecord {
                version: 12,
                approver: "mallory".into(),
                at: recorded.at,
            },
            ApprovalRecord {
                version: 3,
                approver: "alice".into(),
                at: log[2].0.at,
            },
            ApprovalRecord {
                approver: "mallory".into(),
                ..recorded.clone()
            },
        ] {
            let rows = [recorded.clone(), forged.clone()];
            assert_eq!(
                verify_approvals(&log, &rows),
                Err(ChainBreak::ApprovalUnrecorded {
                    version: forged.version,
                    approver: forged.approver.clone(),
                })
            );
            assert_eq!(counted_approvals(&log, &rows).len(), 1, "{forged:?}");
        }

        // An approval entry whose row was deleted.
        assert_eq!(
            verify_approvals(&log, &[]),
            Err(ChainBreak::ApprovalRowMissing {
                version: 9,
                approver: "alice".into(),
            })
        );
        assert!(counted_approvals(&log, &[]).is_empty());
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
