//! Intents: a side effect outside any transaction (DDL, which MySQL commits implicitly)
//! is announced before it runs and closed after. An intent left open means a process died
//! in between, and nobody knows whether the statement ran: attrmig refuses to go on until
//! a person has looked.

use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::error::{StoreError, ctx};
use crate::schema::attrmig_drop_checkpoints as c;
use crate::schema::attrmig_intents as i;
use crate::time::{from_db, to_db};

/// An announced side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    /// Number within the migration.
    pub intent: i64,
    /// What (`ddl drop-old`).
    pub what: String,
    /// The statements.
    pub statements: String,
    /// Who.
    pub actor: String,
    /// When it was announced.
    pub started_at: DateTime<Utc>,
    /// When it was closed.
    pub finished_at: Option<DateTime<Utc>>,
    /// `done`, `failed` or `resolved` (closed by a person).
    pub outcome: Option<String>,
}

/// Announces a side effect; returns its number.
pub fn begin(
    conn: &mut AnyConnection,
    id: &str,
    what: &str,
    statements: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let last: Option<i64> = i::table
        .filter(i::migration_id.eq(id))
        .select(diesel::dsl::max(i::intent))
        .first(conn)
        .map_err(ctx("number an intent"))?;
    let n = last.unwrap_or(0) + 1;
    diesel::insert_into(i::table)
        .values((
            i::migration_id.eq(id),
            i::intent.eq(n),
            i::what.eq(what),
            i::statements.eq(statements),
            i::actor.eq(actor),
            i::started_at.eq(to_db(now)),
        ))
        .execute(conn)
        .map_err(ctx("record an intent"))?;
    Ok(n)
}

/// Closes an intent with its outcome.
pub fn finish(
    conn: &mut AnyConnection,
    id: &str,
    intent: i64,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(i::table.find((id, intent)).filter(i::finished_at.is_null()))
        .set((
            i::finished_at.eq(Some(to_db(now))),
            i::outcome.eq(Some(outcome)),
        ))
        .execute(conn)
        .map_err(ctx("close an intent"))?;
    Ok(n == 1)
}

/// The oldest intent left open, if any.
pub fn unfinished(conn: &mut AnyConnection, id: &str) -> Result<Option<Intent>, StoreError> {
    #[allow(clippy::type_complexity)]
    let row: Option<(i64, String, String, String, chrono::NaiveDateTime)> = i::table
        .filter(i::migration_id.eq(id))
        .filter(i::finished_at.is_null())
        .order(i::intent)
        .select((i::intent, i::what, i::statements, i::actor, i::started_at))
        .first(conn)
        .optional()
        .map_err(ctx("read open intents"))?;
    Ok(
        row.map(|(intent, what, statements, actor, started)| Intent {
            intent,
            what,
            statements,
            actor,
            started_at: from_db(started),
            finished_at: None,
            outcome: None,
        }),
    )
}

/// Records where a batched drop-old announced as `intent` got: the last key of its last
/// committed batch (`None`: the last batch, open above, is done) and the rows so far.
pub fn checkpoint(
    conn: &mut AnyConnection,
    id: &str,
    intent: i64,
    last_key: Option<&str>,
    rows_done: i64,
) -> Result<(), StoreError> {
    attrmig_db::write_transaction(conn, |conn| {
        diesel::delete(c::table.find((id, intent)))
            .execute(conn)
            .map_err(ctx("record a drop checkpoint"))?;
        diesel::insert_into(c::table)
            .values((
                c::migration_id.eq(id),
                c::intent.eq(intent),
                c::last_key.eq(last_key),
                c::rows_done.eq(rows_done),
            ))
            .execute(conn)
            .map_err(ctx("record a drop checkpoint"))?;
        Ok(())
    })
}

/// Where a batched drop-old announced as `intent` got: `(last key, rows done)`.
pub fn checkpoint_of(
    conn: &mut AnyConnection,
    id: &str,
    intent: i64,
) -> Result<Option<(Option<String>, i64)>, StoreError> {
    c::table
        .find((id, intent))
        .select((c::last_key, c::rows_done))
        .first(conn)
        .optional()
        .map_err(ctx("read a drop checkpoint"))
}
