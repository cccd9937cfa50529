//! Data issues (dead letters): rows the new storage rejected, kept by key until re-driven.
//!
//! Keys are unbounded (found by their hash, [`crate::bounded::key_hash`]); the old value
//! and the error are kept up to [`crate::bounded::VALUE_BYTES`] each, cut visibly beyond.

use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::bounded::{cut, key_hash};
use crate::error::{StoreError, ctx};
use crate::schema::attrmig_data_issues as d;
use crate::time::{from_db, to_db};

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataIssue {
    /// The key, as text.
    pub key: String,
    /// The old value that was rejected, as text.
    pub old_value: Option<String>,
    /// What the database said.
    pub error: String,
    /// The sync pass that last met it.
    pub pass: i64,
    /// First rejected.
    pub first_seen_at: DateTime<Utc>,
    /// Last rejected.
    pub last_seen_at: DateTime<Utc>,
    /// How many times it was tried.
    pub attempts: i64,
    /// When a retry got it through.
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = d)]
struct Row {
    row_key: String,
    old_value: Option<String>,
    error: String,
    pass: i64,
    first_seen_at: chrono::NaiveDateTime,
    last_seen_at: chrono::NaiveDateTime,
    attempts: i64,
    resolved_at: Option<chrono::NaiveDateTime>,
}

impl From<Row> for DataIssue {
    fn from(r: Row) -> Self {
        DataIssue {
            key: r.row_key,
            old_value: r.old_value,
            error: r.error,
            pass: r.pass,
            first_seen_at: from_db(r.first_seen_at),
            last_seen_at: from_db(r.last_seen_at),
            attempts: r.attempts,
            resolved_at: r.resolved_at.map(from_db),
        }
    }
}

/// A rejected row to record.
#[derive(Debug, Clone, Copy)]
pub struct Rejected<'a> {
    /// The key, as text.
    pub key: &'a str,
    /// The old value, as text.
    pub old_value: Option<&'a str>,
    /// The database's error.
    pub error: &'a str,
    /// The pass.
    pub pass: i64,
}

/// Records a rejected row, or re-opens and updates it if it was met before.
pub fn record(
    conn: &mut AnyConnection,
    id: &str,
    r: Rejected<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let hash = key_hash(r.key);
    let old_value = r.old_value.map(|v| cut(v.to_owned()));
    let error = cut(r.error.to_owned());
    let updated = diesel::update(d::table.find((id, &hash)))
        .set((
            d::old_value.eq(&old_value),
            d::error.eq(&error),
            d::pass.eq(r.pass),
            d::last_seen_at.eq(to_db(now)),
            d::attempts.eq(d::attempts + 1),
            d::resolved_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)
        .map_err(ctx("update a data issue"))?;
    if updated == 0 {
        diesel::insert_into(d::table)
            .values((
                d::migration_id.eq(id),
                d::row_key_hash.eq(&hash),
                d::row_key.eq(r.key),
                d::old_value.eq(&old_value),
                d::error.eq(&error),
                d::pass.eq(r.pass),
                d::first_seen_at.eq(to_db(now)),
                d::last_seen_at.eq(to_db(now)),
                d::attempts.eq(1i64),
            ))
            .execute(conn)
            .map_err(ctx("record a data issue"))?;
    }
    Ok(())
}

/// Marks a row resolved: a retry got it into new storage.
pub fn resolve(
    conn: &mut AnyConnection,
    id: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(d::table.find((id, key_hash(key))))
        .set((
            d::resolved_at.eq(Some(to_db(now))),
            d::attempts.eq(d::attempts + 1),
            d::last_seen_at.eq(to_db(now)),
        ))
        .execute(conn)
        .map_err(ctx("resolve a data issue"))?;
    Ok(())
}

/// Marks every open issue resolved whose key is in `keys` (a later pass copied them).
pub fn resolve_keys(
    conn: &mut AnyConnection,
    id: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut resolved = 0;
    for chunk in keys.chunks(500) {
        let hashes: Vec<String> = chunk.iter().map(|k| key_hash(k)).collect();
        resolved += diesel::update(
            d::table
                .filter(d::migration_id.eq(id))
                .filter(d::row_key_hash.eq_any(hashes))
                .filter(d::resolved_at.is_null()),
        )
        .set(d::resolved_at.eq(Some(to_db(now))))
        .execute(conn)
        .map_err(ctx("resolve data issues"))?;
    }
    Ok(resolved)
}

/// A migration's issues, unresolved first, then by key.
pub fn list(
    conn: &mut AnyConnection,
    id: &str,
    include_resolved: bool,
) -> Result<Vec<DataIssue>, StoreError> {
    let mut query = d::table.filter(d::migration_id.eq(id)).into_boxed();
    if !include_resolved {
        query = query.filter(d::resolved_at.is_null());
    }
    let mut issues: Vec<DataIssue> = query
        .order(d::row_key)
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read data issues"))?
        .into_iter()
        .map(DataIssue::from)
        .collect();
    issues.sort_by_key(|i| i.resolved_at.is_some());
    Ok(issues)
}

/// How many issues are unresolved.
pub fn unresolved(conn: &mut AnyConnection, id: &str) -> Result<u64, StoreError> {
    let n: i64 = d::table
        .filter(d::migration_id.eq(id))
        .filter(d::resolved_at.is_null())
        .count()
        .get_result(conn)
        .map_err(ctx("count data issues"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
