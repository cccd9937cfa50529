//! Rows only in new storage (`extra_in_new`): keys new storage holds a value for and old
//! storage doesn't. The sync never deletes them (`sync --delete-extra` does); the other
//! way forward is a person who looked at them and records that they may stay:
//! `attrmig acknowledge-extra`, an audit entry whose evidence this module defines.
//!
//! **What an acknowledgement covers.** The rows one full cross-check run found only in
//! new storage, each as its key and its value then (a digest of the value as the run's
//! report shows it), all of them: a run whose report names fewer rows than it counted
//! can't be acknowledged. It covers those rows, not a count: a later run's rows only in
//! new storage are acknowledged when every one of them is a row some acknowledgement in
//! the log covers, with the same value. A row that appears later, or whose value changed
//! since, is not covered, and the guards that want agreement (entering 4, 5a, 5b, 6 and 8)
//! name it. Acknowledgements add up; fewer rows later (some deleted) are still covered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::AuditEntry;
use crate::machine::EntryKind;
use crate::plan::hex;

/// The most rows one acknowledgement records: a person looks at each, and the entry must
/// fit every backend's audit column (MySQL's `TEXT`, 64 KB).
pub const MAX_ROWS: usize = 1_000;
/// The most bytes an acknowledgement's evidence takes (keys are of any length).
pub const MAX_EVIDENCE_BYTES: usize = 60_000;

/// A row only in new storage, as an acknowledgement records it and a run names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExtraRow {
    /// The key, as the cross-check reports it.
    pub key: String,
    /// The first 16 hex digits of the SHA-256 of its new value as the report shows it.
    pub new_sha256: String,
}

impl ExtraRow {
    /// The row of `key` whose new value the report shows as `new` (`None`: NULL).
    pub fn new(key: impl Into<String>, new: Option<&str>) -> ExtraRow {
        let digest = match new {
            Some(v) => Sha256::digest(v.as_bytes()),
            None => Sha256::digest(b"\0NULL"),
        };
        ExtraRow {
            key: key.into(),
            new_sha256: hex(&digest[..8]),
        }
    }
}

/// An acknowledgement found in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraAcknowledgement {
    /// Its audit entry (the migration's version after it).
    pub entry: i64,
    /// Who looked.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The cross-check run whose rows it acknowledges.
    pub run: i64,
    /// Every row that run found only in new storage.
    pub rows: Vec<ExtraRow>,
}

/// The evidence of an acknowledgement, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    acknowledges: String,
    cross_check_run: i64,
    run_finished_at: DateTime<Utc>,
    extra_in_new: u64,
    rows: Vec<ExtraRow>,
}

/// What the evidence says it acknowledges.
const ACKNOWLEDGES: &str = "rows only in new storage";

/// The evidence recording that every row of `rows`, found only in new storage by cross-check
/// run `run` (finished at `finished_at`), may stay.
pub fn evidence(run: i64, finished_at: DateTime<Utc>, rows: &[ExtraRow]) -> serde_json::Value {
    serde_json::to_value(Recorded {
        acknowledges: ACKNOWLEDGES.to_owned(),
        cross_check_run: run,
        run_finished_at: finished_at,
        extra_in_new: rows.len() as u64,
        rows: rows.to_vec(),
    })
    .expect("evidence always serializes")
}

impl ExtraAcknowledgement {
    /// The acknowledgement an audit entry records, if it is one.
    pub fn from_entry(entry: &AuditEntry) -> Option<ExtraAcknowledgement> {
        if entry.kind != EntryKind::Acknowledge {
            return None;
        }
        let recorded: Recorded = serde_json::from_str(&entry.evidence).ok()?;
        Some(ExtraAcknowledgement {
            entry: entry.version,
            actor: entry.actor.clone(),
            at: entry.at,
            run: recorded.cross_check_run,
            rows: recorded.rows,
        })
    }

    /// Every acknowledgement of a log, oldest first.
    pub fn all(log: &[(AuditEntry, String)]) -> Vec<ExtraAcknowledgement> {
        log.iter()
            .filter_map(|(e, _)| ExtraAcknowledgement::from_entry(e))
            .collect()
    }
}

/// Of `rows`, those no acknowledgement covers.
pub fn uncovered<'a>(rows: &'a [ExtraRow], acks: &[ExtraAcknowledgement]) -> Vec<&'a ExtraRow> {
    rows.iter()
        .filter(|r| !acks.iter().any(|a| a.rows.contains(r)))
        .collect()
}

/// The entries of the acknowledgements that cover some of `rows`, oldest first.
pub fn covering(rows: &[ExtraRow], acks: &[ExtraAcknowledgement]) -> Vec<i64> {
    acks.iter()
        .filter(|a| a.rows.iter().any(|r| rows.contains(r)))
        .map(|a| a.entry)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Step;

    fn entry(version: i64, evidence: serde_json::Value) -> AuditEntry {
        AuditEntry {
            migration_id: "m".into(),
            version,
            kind: EntryKind::Acknowledge,
            from_step: Step::DoubleWrite,
            to_step: Step::DoubleWrite,
            actor: "alice".into(),
            db_user: None,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            note: Some("test rows from the 2019 import".into()),
            evidence: evidence.to_string(),
            prev_hash: crate::audit::GENESIS.into(),
        }
    }

    #[test]
    fn an_acknowledgement_covers_its_rows_with_their_values() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let rows = [ExtraRow::new("7", Some("x")), ExtraRow::new("9", Some("y"))];
        let ack = ExtraAcknowledgement::from_entry(&entry(4, evidence(3, at, &rows))).unwrap();
        assert_eq!((ack.entry, ack.run, ack.rows.len()), (4, 3, 2));
        let acks = [ack];
        assert!(uncovered(&rows, &acks).is_empty());
        // Fewer later: still covered. Another key, or the same key with another value: not.
        assert!(uncovered(&rows[..1], &acks).is_empty());
        let later = [ExtraRow::new("7", Some("x")), ExtraRow::new("8", Some("x"))];
        assert_eq!(uncovered(&later, &acks), [&later[1]]);
        let changed = [ExtraRow::new("9", Some("z"))];
        assert_eq!(uncovered(&changed, &acks).len(), 1);
        assert_eq!(covering(&later, &acks), [4]);
        assert!(covering(&changed, &acks).is_empty());
        // Another kind of entry is none.
        let mut ddl = entry(5, evidence(3, at, &rows));
        ddl.kind = EntryKind::Ddl;
        assert!(ExtraAcknowledgement::from_entry(&ddl).is_none());
    }
}
