//! The fingerprint of old storage taken when step 9 is reached: a digest per key whose
//! old value is not NULL. Kept per key, so that a later comparison can say how many keys
//! changed, not only that something did. Keys are unbounded: rows are found by the key's
//! hash ([`crate::bounded::key_hash`]).

use std::collections::HashMap;

use attrmig_db::AnyConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::bounded::key_hash;
use crate::error::{StoreError, ctx};
use crate::schema::attrmig_old_fingerprints as f;

/// Rows per INSERT: well under every backend's bind-parameter limit.
const CHUNK: usize = 2_000;

/// Forgets a migration's fingerprint.
pub fn clear(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(f::table.filter(f::migration_id.eq(id)))
        .execute(conn)
        .map_err(ctx("clear the old-storage fingerprint"))?;
    Ok(())
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

/// How many keys the fingerprint covers.
pub fn count(conn: &mut AnyConnection, id: &str) -> Result<u64, StoreError> {
    let n: i64 = f::table
        .filter(f::migration_id.eq(id))
        .count()
        .get_result(conn)
        .map_err(ctx("count the old-storage fingerprint"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
