//! The fingerprint of old storage taken when step 9 is reached.
//!
//! Since state schema 4: one digest per key range ([`Range`], about 1,000 keys each), so
//! that the state stays small and taking it costs one read of old storage; the keys a
//! changed range holds are named from the late-write log (`attrmig_tools::late_log`).
//! Schema 3 kept a digest per key whose old value is not NULL; a migration that reached
//! 9 then still has those rows, and is checked key by key ([`lookup`], [`count`]). Keys
//! are unbounded: those rows are found by the key's hash ([`crate::bounded::key_hash`]).

use std::collections::HashMap;

use attrmig_db::AnyConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::bounded::key_hash;
use crate::error::{StoreError, ctx};
use crate::schema::attrmig_old_fingerprints as f;
use crate::schema::attrmig_old_ranges as r;

/// Rows per INSERT: well under every backend's bind-parameter limit.
const CHUNK: usize = 2_000;

/// Forgets a migration's fingerprint, per key and per range.
pub fn clear(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(f::table.filter(f::migration_id.eq(id)))
        .execute(conn)
        .map_err(ctx("clear the old-storage fingerprint"))?;
    diesel::delete(r::table.filter(r::migration_id.eq(id)))
        .execute(conn)
        .map_err(ctx("clear the old-storage fingerprint"))?;
    Ok(())
}

/// One key range of the step-9 fingerprint: the old keys after the previous range's
/// `last_key` (from the first key for the first range) up to and including its own, in
/// the old key's order as the database sorts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Position in key order, from 0.
    pub ordinal: i64,
    /// The range's last key, as read back as text.
    pub last_key: String,
    /// How many keys with a non-NULL old value it held.
    pub key_count: i64,
    /// SHA-256 (hex) over its keys and canonical values, length-prefixed, in key order.
    pub digest: String,
}

/// Adds ranges, many per statement (diesel's batch insert is not available through a
/// MultiConnection).
pub fn insert_ranges(
    conn: &mut AnyConnection,
    id: &str,
    ranges: &[Range],
) -> Result<(), StoreError> {
    let backend = conn.backend();
    for chunk in ranges.chunks(CHUNK / 2) {
        let mut sql = String::from(
            "INSERT INTO attrmig_old_ranges (migration_id, ordinal, last_key, key_count, digest) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({}, {}, {}, {}, {})",
                backend.placeholder(n + 1),
                backend.placeholder(n + 2),
                backend.placeholder(n + 3),
                backend.placeholder(n + 4),
                backend.placeholder(n + 5)
            ));
        }
        let mut query = diesel::sql_query(sql).into_boxed();
        for range in chunk {
            query = query
                .bind::<Text, _>(id)
                .bind::<BigInt, _>(range.ordinal)
                .bind::<Text, _>(&range.last_key)
                .bind::<BigInt, _>(range.key_count)
                .bind::<Text, _>(&range.digest);
        }
        query
            .execute(conn)
            .map_err(ctx("record the old-storage fingerprint"))?;
    }
    Ok(())
}

/// A migration's ranges, in key order; empty when it has none (not at 9, or it reached 9
/// under state schema 3: see [`count`]).
pub fn ranges(conn: &mut AnyConnection, id: &str) -> Result<Vec<Range>, StoreError> {
    let rows: Vec<(i64, String, i64, String)> = r::table
        .filter(r::migration_id.eq(id))
        .order(r::ordinal)
        .select((r::ordinal, r::last_key, r::key_count, r::digest))
        .load(conn)
        .map_err(ctx("read the old-storage fingerprint"))?;
    Ok(rows
        .into_iter()
        .map(|(ordinal, last_key, key_count, digest)| Range {
            ordinal,
            last_key,
            key_count,
            digest,
        })
        .collect())
}

/// Adds `(key, digest)` rows, many per statement. diesel's batch insert is not available
/// through a MultiConnection, so the statement is written here with one bind per value.
pub fn insert(
    conn: &mut AnyConnection,
    id: &str,
    rows: &[(String, String)],
) -> Result<(), StoreError> {
    let backend = conn.backend();
    for chunk in rows.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO attrmig_old_fingerprints (migration_id, row_key_hash, row_key, digest) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = i * 4;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({}, {}, {}, {})",
                backend.placeholder(n + 1),
                backend.placeholder(n + 2),
                backend.placeholder(n + 3),
                backend.placeholder(n + 4)
            ));
        }
        let mut query = diesel::sql_query(sql).into_boxed();
        for (key, digest) in chunk {
            query = query
                .bind::<Text, _>(id)
                .bind::<Text, _>(key_hash(key))
                .bind::<Text, _>(key)
                .bind::<Text, _>(digest);
        }
        query
            .execute(conn)
            .map_err(ctx("record the old-storage fingerprint"))?;
    }
    Ok(())
}

/// The stored digests of `keys`.
pub fn lookup(
    conn: &mut AnyConnection,
    id: &str,
    keys: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let hashes: Vec<String> = chunk.iter().map(|k| key_hash(k)).collect();
        let rows: Vec<(String, String)> = f::table
            .filter(f::migration_id.eq(id))
            .filter(f::row_key_hash.eq_any(hashes))
            .select((f::row_key, f::digest))
            .load(conn)
            .map_err(ctx("read the old-storage fingerprint"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// How many keys the per-key fingerprint of state schema 3 covers.
pub fn count(conn: &mut AnyConnection, id: &str) -> Result<u64, StoreError> {
    let n: i64 = f::table
        .filter(f::migration_id.eq(id))
        .count()
        .get_result(conn)
        .map_err(ctx("count the old-storage fingerprint"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
