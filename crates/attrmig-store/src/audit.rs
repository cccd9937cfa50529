//! The audit log: every change to a migration is one transaction that swaps its version
//! and appends one hash-chained entry (`attrmig_core::audit`).

use attrmig_core::audit::{AuditEntry, GENESIS};
use attrmig_core::facts::History;
use attrmig_core::{EntryKind, Position};
use attrmig_db::{AnyConnection, write_transaction};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, ctx};
use crate::migration::{self, FingerprintChange, MigrationRecord, parse_step};
use crate::schema::attrmig_transitions as t;
use crate::time::{from_db, to_db};

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// What happened.
    pub kind: EntryKind,
    /// The position after it.
    pub to: Position,
    /// Who.
    pub actor: String,
    /// `--note` / `--reason`.
    pub note: Option<String>,
    /// Evidence, as JSON.
    pub evidence: serde_json::Value,
    /// What happens to the plan's storage fingerprint.
    pub fingerprint: FingerprintChange,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = t)]
struct Row {
    migration_id: String,
    version: i64,
    kind: String,
    from_step: String,
    to_step: String,
    actor: String,
    db_user: Option<String>,
    at: chrono::NaiveDateTime,
    note: Option<String>,
    evidence: String,
    prev_hash: String,
    hash: String,
}

impl Row {
    fn into_entry(self) -> Result<(AuditEntry, String), StoreError> {
        let kind = EntryKind::parse(&self.kind).ok_or_else(|| StoreError::Corrupt {
            what: format!("an unknown audit entry kind `{}`", self.kind),
        })?;
        Ok((
            AuditEntry {
                migration_id: self.migration_id,
                version: self.version,
                kind,
                from_step: parse_step(&self.from_step)?,
                to_step: parse_step(&self.to_step)?,
                actor: self.actor,
                db_user: self.db_user,
                at: from_db(self.at),
                note: self.note,
                evidence: self.evidence,
                prev_hash: self.prev_hash,
            },
            self.hash,
        ))
    }
}

/// Appends `entry` if the migration is still at `expected.version`, in one transaction.
///
/// `hook` runs inside that transaction after the swap and before the entry is hashed: it
/// may write alongside (an approval row, the step-9 fingerprint) and add to the entry's
/// evidence. Loses with [`StoreError::LostRace`], naming the winner, when another change
/// got there first; nothing is written then.
pub fn append<E>(
    conn: &mut AnyConnection,
    expected: &MigrationRecord,
    entry: NewEntry,
    now: DateTime<Utc>,
    hook: impl FnOnce(&mut AnyConnection, &mut NewEntry) -> Result<(), E>,
) -> Result<AuditEntry, E>
where
    E: From<StoreError> + From<diesel::result::Error>,
{
    let id = expected.id.clone();
    let written = write_transaction(conn, |conn| -> Result<Option<AuditEntry>, E> {
        if expected.version == 0 {
            // First entry: the migration is registered in the same transaction, so a
            // refused first advance leaves no trace at all.
            migration::register(conn, &id, now)?;
        }
        if !migration::swap(
            conn,
            &id,
            expected.version,
            entry.to,
            &entry.fingerprint,
            now,
        )? {
            // Nothing changed: the transaction commits empty.
            return Ok(None);
        }
        let mut entry = entry;
        hook(conn, &mut entry)?;
        let prev_hash = if expected.version == 0 {
            GENESIS.to_owned()
        } else {
            t::table
                .find((&id, expected.version))
                .select(t::hash)
                .first::<String>(conn)
                .optional()
                .map_err(ctx("read the previous audit entry"))?
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!(
                        "no audit entry {} for {id} though the migration is at that version",
                        expected.version
                    ),
                })?
        };
        let audit = AuditEntry {
            migration_id: id.clone(),
            version: expected.version + 1,
            kind: entry.kind,
            from_step: expected.position.step(),
            to_step: entry.to.step(),
            actor: entry.actor,
            db_user: conn.db_user().map_err(StoreError::from)?,
            at: now,
            note: entry.note,
            evidence: entry.evidence.to_string(),
            prev_hash,
        };
        let hash = audit.compute_hash();
        diesel::insert_into(t::table)
            .values(Row {
                migration_id: audit.migration_id.clone(),
                version: audit.version,
                kind: audit.kind.as_str().to_owned(),
                from_step: audit.from_step.id().to_owned(),
                to_step: audit.to_step.id().to_owned(),
                actor: audit.actor.clone(),
                db_user: audit.db_user.clone(),
                at: to_db(audit.at),
                note: audit.note.clone(),
                evidence: audit.evidence.clone(),
                prev_hash: audit.prev_hash.clone(),
                hash,
            })
            .execute(conn)
            .map_err(ctx("append an audit entry"))?;
        Ok(Some(audit))
    })?;
    match written {
        Some(audit) => Ok(audit),
        None => Err(lost_race(conn, expected)?.into()),
    }
}

/// The error for a lost compare-and-swap: where the migration is now, and who moved it.
fn lost_race(
    conn: &mut AnyConnection,
    expected: &MigrationRecord,
) -> Result<StoreError, StoreError> {
    let id = expected.id.clone();
    let Some(now) = migration::get(conn, &id)? else {
        return Ok(StoreError::LostRace {
            id,
            now_at: expected.position,
            by: None,
        });
    };
    let by = t::table
        .find((&id, now.version))
        .select(t::actor)
        .first::<String>(conn)
        .optional()
        .map_err(ctx("read the winning audit entry"))?;
    Ok(StoreError::LostRace {
        id,
        now_at: now.position,
        by,
    })
}

/// A migration's audit log, oldest first, each entry with its stored hash.
pub fn log(conn: &mut AnyConnection, id: &str) -> Result<Vec<(AuditEntry, String)>, StoreError> {
    t::table
        .filter(t::migration_id.eq(id))
        .order(t::version)
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read the audit log"))?
        .into_iter()
        .map(Row::into_entry)
        .collect()
}

/// When each step was last reached by an advance, and the last rollback, from the log.
pub fn history(entries: &[(AuditEntry, String)]) -> History {
    let mut history = History::default();
    for (entry, _) in entries {
        match entry.kind {
            EntryKind::Advance => {
                history.reached.insert(entry.to_step, entry.at);
            }
            EntryKind::Rollback => history.last_rollback = Some(entry.at),
            EntryKind::Abandon | EntryKind::Approve | EntryKind::Ddl => {}
        }
    }
    history
}
