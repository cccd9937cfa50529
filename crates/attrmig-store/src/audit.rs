//! The audit log: every change to a migration is one transaction that swaps its version
//! and appends one hash-chained entry (`attrmig_core::audit`), after checking, in that
//! transaction, that the chain it extends verifies and ends where the migration is.

use attrmig_core::audit::{AuditEntry, ChainBreak, GENESIS, verify_approvals, verify_chain};
use attrmig_core::facts::History;
use attrmig_core::{EntryKind, Position};
use attrmig_db::{AnyConnection, write_transaction};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::approvals;
use crate::error::{StoreError, ctx, failed_field};
use crate::migration::{self, FingerprintChange, MigrationRecord, parse_step};
use crate::schema::attrmig_transitions as t;
use crate::time::{from_db, to_db};

/// A migration's entries, oldest first, each with its stored hash.
pub type Log = Vec<(AuditEntry, String)>;

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
        let unreadable = |field: &str| StoreError::Unreadable {
            table: "attrmig_transitions",
            id: self.migration_id.clone(),
            version: self.version,
            field: field.to_owned(),
        };
        let kind = EntryKind::parse(&self.kind).ok_or_else(|| unreadable("kind"))?;
        let from_step = parse_step(&self.from_step).map_err(|_| unreadable("from_step"))?;
        let to_step = parse_step(&self.to_step).map_err(|_| unreadable("to_step"))?;
        Ok((
            AuditEntry {
                migration_id: self.migration_id,
                version: self.version,
                kind,
                from_step,
                to_step,
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
/// Before anything is written, in that transaction, the chain the entry would extend is
/// verified against the migration's row and its approvals: an entry appended to a broken
/// chain, or from a step edited by hand, would launder the edit (the new entry hashes and
/// links like any other). A broken chain is [`StoreError::ChainBroken`]; nothing is
/// written then.
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
        let Some(current) = migration::get(conn, &id)?.filter(|c| c.version == expected.version)
        else {
            // Moved since it was read: the transaction commits empty.
            return Ok(None);
        };
        // The swap takes the row's lock (SQLite holds the write lock already): from here
        // no other transition of this migration can commit, so the log read next is the
        // whole chain this entry extends, on every backend and isolation level.
        if !migration::swap(
            conn,
            &id,
            expected.version,
            entry.to,
            &entry.fingerprint,
            now,
        )? {
            return Ok(None);
        }
        let (log, verdict) = read_and_verify(conn, &current)?;
        if let Err(chain) = verdict {
            // Returning the error rolls the swap back.
            return Err(StoreError::ChainBroken { id, chain }.into());
        }
        let mut entry = entry;
        hook(conn, &mut entry)?;
        let audit = AuditEntry {
            migration_id: id.clone(),
            version: expected.version + 1,
            kind: entry.kind,
            // Verified above: where the row says is where the log ends.
            from_step: current.position.step(),
            to_step: entry.to.step(),
            actor: entry.actor,
            db_user: conn.db_user().map_err(StoreError::from)?,
            at: now,
            note: entry.note,
            evidence: entry.evidence.to_string(),
            prev_hash: log
                .last()
                .map_or_else(|| GENESIS.to_owned(), |(_, hash)| hash.clone()),
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

/// A migration's log and whether it verifies against `record` and its approval rows. An
/// entry or approval that can't be read is a break of the chain like any other.
fn read_and_verify(
    conn: &mut AnyConnection,
    record: &MigrationRecord,
) -> Result<(Log, Result<(), ChainBreak>), StoreError> {
    let (log, unreadable) = readable_log(conn, &record.id)?;
    if let Some(e) = unreadable {
        return match e.as_chain_break() {
            Some(chain) => Ok((log, Err(chain))),
            None => Err(e),
        };
    }
    let approvals = match approvals::rows(conn, &record.id) {
        Ok(rows) => rows,
        Err(e) => match e.as_chain_break() {
            Some(chain) => return Ok((log, Err(chain))),
            None => return Err(e),
        },
    };
    let verdict = verify_chain(&log, record.version, record.position)
        .and_then(|()| verify_approvals(&log, &approvals));
    Ok((log, verdict))
}

/// Verifies a migration's audit chain against its row and its approval rows, as every
/// transition does before it writes: `Ok(entries)` when intact. A migration never
/// registered verifies as an empty log at 0 planned (unless it has entries).
///
/// Outside a transition nothing holds the row still: a transition committing between the
/// reads of the row and of the log would look like a log longer than the row. So the row
/// is read again after the log, and the reads repeated while it moved (a transition
/// commits its row, entry and approval together).
pub fn verify(conn: &mut AnyConnection, id: &str) -> Result<Result<usize, ChainBreak>, StoreError> {
    let read_row = |conn: &mut AnyConnection| -> Result<MigrationRecord, StoreError> {
        Ok(migration::get(conn, id)?
            .unwrap_or_else(|| migration::unregistered(id, attrmig_core::audit::now())))
    };
    let mut record = read_row(conn)?;
    let mut attempts = 0;
    loop {
        let (log, verdict) = read_and_verify(conn, &record)?;
        let after = read_row(conn)?;
        attempts += 1;
        let still = (after.version, after.position) == (record.version, record.position);
        if still || attempts == 10 {
            return Ok(verdict.map(|()| log.len()));
        }
        record = after;
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

/// A migration's audit log, oldest first, each entry with its stored hash. An entry that
/// can't be read back (edited outside attrmig) is [`StoreError::Unreadable`], naming it.
pub fn log(conn: &mut AnyConnection, id: &str) -> Result<Log, StoreError> {
    let (entries, unreadable) = readable_log(conn, id)?;
    match unreadable {
        Some(e) => Err(e),
        None => Ok(entries),
    }
}

/// The entries that can be read, oldest first, up to the first that can't, and the error
/// naming that one: for views, which show what there is.
pub fn readable_log(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(Log, Option<StoreError>), StoreError> {
    let all = t::table
        .filter(t::migration_id.eq(id))
        .order(t::version)
        .select(Row::as_select())
        .load(conn);
    let rows = match all {
        Ok(rows) => rows,
        Err(e) if failed_field(&e).is_some() => return readable_one_by_one(conn, id),
        Err(e) => return Err(ctx("read the audit log")(e)),
    };
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        match row.into_entry() {
            Ok(entry) => entries.push(entry),
            Err(e) => return Ok((entries, Some(e))),
        }
    }
    Ok((entries, None))
}

/// After a load of the whole log failed on a field: the entries one by one, to name the
/// one that does not read (a log is short, and this is the rare path).
fn readable_one_by_one(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(Log, Option<StoreError>), StoreError> {
    let versions: Vec<i64> = t::table
        .filter(t::migration_id.eq(id))
        .order(t::version)
        .select(t::version)
        .load(conn)
        .map_err(ctx("read the audit log"))?;
    let mut entries = Vec::new();
    for version in versions {
        let row = t::table
            .find((id, version))
            .select(Row::as_select())
            .first(conn);
        let entry = match row {
            Ok(row) => row.into_entry(),
            Err(e) => Err(match failed_field(&e) {
                Some(field) => StoreError::Unreadable {
                    table: "attrmig_transitions",
                    id: id.to_owned(),
                    version,
                    field,
                },
                None => ctx("read the audit log")(e),
            }),
        };
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => return Ok((entries, Some(e))),
        }
    }
    Ok((entries, None))
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
            EntryKind::Abandon | EntryKind::Approve | EntryKind::Ddl | EntryKind::Acknowledge => {}
        }
    }
    history
}
