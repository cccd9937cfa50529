//! The old-storage fingerprint: taken when step 9 (the point of no return) is reached,
//! compared before old storage is dropped. After the fleet stopped writing old storage
//! nothing should write it; a key whose old value changed or appeared since is a late
//! write, and dropping old storage would lose it.
//!
//! Since state schema 4 the fingerprint is a digest per key range: the old keys in key
//! order, [`RANGE_KEYS`] to a range, taken in one ordered read of old storage and kept as
//! one row per range (about 1,000 rows for 1M keys). The check reads old storage once
//! more, range by range, and only where a range's digest changed does it look at keys:
//! those the late-write log ([`crate::late_log`]) holds for it, written after the
//! baseline moment and still holding a value, are the late writes, named with who wrote
//! them. A range that changed with nothing logged was written by something that bypassed
//! the trigger, and is named as a range. A migration that reached 9 under schema 3 has a
//! digest per key instead, and is checked key by key as then.
//!
//! Only keys whose old value is not NULL are covered: rows inserted without the attribute
//! after step 9 are the expected traffic, not a late write. (A JSON document that is not
//! JSON is covered as it is: rewriting it is a write.)
//!
//! Each value is digested in its canonical form (`attrmig_core::equality::canonical`):
//! read exactly, bytes as bytes, so that a change the cross-check would see (a change of
//! case under a case-insensitive collation, a byte of a BLOB, the last bit of a float) is
//! a change the fingerprint sees, and a rewrite to the same value (`1.50` as `1.5`, JSON
//! with its keys reordered) is not.

use std::collections::BTreeMap;

use attrmig_core::equality::{self, Scalar, Side, ValueType, render};
use attrmig_core::facts::{LateWrite, LateWrites, UntracedRange};
use attrmig_db::equality::SqliteStored;
use attrmig_store::fingerprints::Range;
use attrmig_store::{Conns, fingerprints};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::connection::{DefaultLoadingMode, LoadConnection};
use diesel::row::{Field, Row};
use diesel::sql_types::{Binary, Nullable, Text};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ToolError;
use crate::layout::{KeyType, Layout};
use crate::sql::{Bind, Key, Sql};

/// Keys read per query: ten ranges.
const BATCH: i64 = 10_000;

/// Keys per range of the fingerprint: small enough that a changed range is a short list
/// of keys to look at, large enough that the state stays small (1,000 rows at 1M keys).
pub const RANGE_KEYS: usize = 1_000;

/// Ranges compared per query when checking.
const RANGES_PER_READ: usize = 10;

/// What was fingerprinted, for the audit entry of step 9.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Keys with a non-NULL old value.
    pub keys: u64,
    /// Key ranges recorded.
    pub ranges: u64,
    /// SHA-256 over the ranges' digests in key order: one value to compare.
    pub digest: String,
}

/// The digest of one old value's canonical form: the first 128 bits of its SHA-256, hex.
pub fn digest(canonical: &[u8]) -> String {
    let hash = Sha256::digest(canonical);
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// One covered old row, read: its key as recorded and its value, exactly.
struct OldRow {
    k: String,
    value: OldValue,
}

enum OldValue {
    /// The value read exactly.
    Exact(Scalar),
    /// A document that is not JSON, as it is.
    NotJson(String),
    /// Nothing read: a covered row always holds one of the others.
    Unread,
}

impl OldRow {
    /// The value's canonical form, in the old value's own family (`own`: the old type
    /// compared with itself, [`own_equality`]).
    fn canonical(&self, own: &equality::Equality) -> Vec<u8> {
        match &self.value {
            OldValue::Exact(v) => own.canonical(Side::Old, v),
            OldValue::NotJson(doc) => equality::canonical(&Scalar::Json(doc.clone())),
            OldValue::Unread => Vec::new(),
        }
    }
}

/// A row as diesel reads it on any backend ([`Layout::read_exact`]).
#[derive(QueryableByName)]
struct KeyValue {
    #[diesel(sql_type = Text)]
    k: String,
    /// The value read exactly; NULL for a document that is not JSON.
    #[diesel(sql_type = Nullable<Binary>)]
    v: Option<Vec<u8>>,
    /// A document that is not JSON, as it is.
    #[diesel(sql_type = Nullable<Binary>)]
    u: Option<Vec<u8>>,
}

impl KeyValue {
    fn into_row(self, layout: &Layout) -> OldRow {
        let value = match (self.u, self.v) {
            (Some(doc), _) => OldValue::NotJson(layout.show_document(doc)),
            (None, Some(v)) => OldValue::Exact(layout.exact(Side::Old, v)),
            (None, None) => OldValue::Unread,
        };
        OldRow { k: self.k, value }
    }
}

/// The old value's type compared with itself: how a value is put in canonical form.
/// Decided once per read, not per row.
fn own_equality(layout: &Layout) -> equality::Equality {
    equality::between(layout.value_type(Side::Old), layout.value_type(Side::Old))
}

/// The digest of one range, fed key by key: SHA-256 over each key and canonical value,
/// both length-prefixed (so no two sequences of keys and values feed the same bytes),
/// in key order. One pass of the hash over the values, nothing per key.
struct RangeHasher {
    hash: Sha256,
    count: i64,
}

impl RangeHasher {
    fn new() -> RangeHasher {
        RangeHasher {
            hash: Sha256::new(),
            count: 0,
        }
    }

    fn add(&mut self, key: &str, canonical: &[u8]) {
        self.hash.update((key.len() as u64).to_le_bytes());
        self.hash.update(key.as_bytes());
        self.hash.update((canonical.len() as u64).to_le_bytes());
        self.hash.update(canonical);
        self.count += 1;
    }

    fn finish(self) -> (i64, String) {
        let digest = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (self.count, digest)
    }
}

/// Over alias `o`: a document that is not JSON, as it is (NULL for others), and the
/// condition that a row is covered by the fingerprint (its old value is not NULL, or its
/// document is not JSON).
fn coverage(layout: &Layout, columns: Columns) -> (String, String) {
    let value = layout.old_value();
    match (layout.old_unreadable(), layout.old_document()) {
        (Some(condition), Some(doc)) => (
            match columns {
                Columns::Exact => format!(
                    "CASE WHEN {condition} THEN {} END",
                    layout.shown_document(&doc)
                ),
                Columns::Stored => format!("CASE WHEN {condition} THEN {doc} END"),
            },
            format!("({value} IS NOT NULL OR {condition})"),
        ),
        _ => ("NULL".to_owned(), format!("{value} IS NOT NULL")),
    }
}

/// (key, old value) with a non-NULL old value in `(lo, hi]`, in key order, at most
/// `limit`. Read a batch at a time so memory does not grow with the table.
fn read(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    lo: Option<&Key>,
    hi: Option<&Key>,
    limit: Option<i64>,
) -> Result<Vec<OldRow>, ToolError> {
    let mut rows = match conn {
        attrmig_db::AnyConnection::Sqlite(sqlite) => read_stored(
            sqlite,
            layout,
            &statement(layout, Columns::Stored, lo, hi, limit),
        )?,
        other => statement(layout, Columns::Exact, lo, hi, limit)
            .load::<KeyValue>(other)
            .map_err(|e| ToolError::query("read old values", e))?
            .into_iter()
            .map(|r| r.into_row(layout))
            .collect(),
    };
    // Keys as recorded, so that ranges, digests and the log compare key by key.
    for r in rows.iter_mut() {
        r.k = layout.recorded_key(std::mem::take(&mut r.k))?;
    }
    Ok(rows)
}

/// How a statement of [`read`] selects its key and values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// As text and exact bytes ([`Layout::read_exact`]), for [`KeyValue`].
    Exact,
    /// SQLite: as they are stored, for [`read_stored`]; an integer key as an integer.
    /// Nothing is converted or copied in the database: the read costs what reading
    /// the column costs (`quote()` of every value doubled it).
    Stored,
}

fn statement(
    layout: &Layout,
    columns: Columns,
    lo: Option<&Key>,
    hi: Option<&Key>,
    limit: Option<i64>,
) -> Sql {
    let mut sql = Sql::new(layout.backend());
    let (key, value) = (layout.old_key(), layout.old_value());
    let (unreadable, covered) = coverage(layout, columns);
    let (k, v) = match (columns, key.columns(), layout.key_type()) {
        (Columns::Stored, [one], KeyType::Int) => (
            format!(
                "CASE WHEN typeof({one}) = 'integer' THEN {one} ELSE {} END",
                layout.text(one)
            ),
            value,
        ),
        (Columns::Stored, _, _) => (layout.key_text(&key), value),
        (Columns::Exact, _, _) => (layout.key_text(&key), layout.read_exact(Side::Old, &value)),
    };
    sql.push(&format!(
        "SELECT {k} AS k, {v} AS v, {unreadable} AS u FROM {} WHERE ",
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_range(&mut sql, &key, lo, hi);
    sql.push(&format!(" AND {covered} ORDER BY {}", key.order()));
    if let Some(limit) = limit {
        sql.push(" LIMIT ").bind(Bind::Int(limit));
    }
    sql
}

/// The rows of an SQLite statement of [`Columns::Stored`], column by column as stored.
fn read_stored(
    conn: &mut diesel::SqliteConnection,
    layout: &Layout,
    sql: &Sql,
) -> Result<Vec<OldRow>, ToolError> {
    let failed = |e| ToolError::query("read old values", e);
    let cursor =
        LoadConnection::<DefaultLoadingMode>::load(conn, sql.sqlite_query()).map_err(failed)?;
    let mut rows = Vec::new();
    for row in cursor {
        let row = row.map_err(failed)?;
        let stored = |i: usize| {
            let field = row.get(i)?;
            field.value().and_then(SqliteStored::read)
        };
        let k = match stored(0) {
            Some(SqliteStored::Integer(i)) => i.to_string(),
            // As diesel reads a text anywhere else: a key that is no UTF-8 is refused,
            // never replaced by one that another key could share.
            Some(SqliteStored::Text(bytes) | SqliteStored::Blob(bytes)) => String::from_utf8(bytes)
                .map_err(|e| {
                    let hex: String = e.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                    ToolError::Unexpected(format!(
                        "old storage holds a key that is not UTF-8 text (bytes {hex}); keys are \
                         read as UTF-8: correct or remove that row, then run this again"
                    ))
                })?,
            other => {
                return Err(ToolError::Unexpected(format!(
                    "an old key read back as {other:?}"
                )));
            }
        };
        let value = match (stored(2), stored(1)) {
            (Some(doc), _) => OldValue::NotJson(render(&doc.scalar(&ValueType::plain_text()))),
            (None, Some(v)) => OldValue::Exact(v.scalar(layout.value_type(Side::Old))),
            (None, None) => OldValue::Unread,
        };
        rows.push(OldRow { k, value });
    }
    Ok(rows)
}

/// Calls `f` with each batch of non-NULL old values and their digests, in key order.
fn for_each_batch(
    conns: &mut Conns<'_>,
    layout: &Layout,
    mut f: impl FnMut(&mut Conns<'_>, Vec<(String, String)>) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    let own = own_equality(layout);
    for_each_read(conns, layout, |conns, rows| {
        f(
            conns,
            rows.into_iter()
                .map(|r| {
                    let d = digest(&r.canonical(&own));
                    (r.k, d)
                })
                .collect(),
        )
    })
}

/// Calls `f` with each batch of rows with a non-NULL old value, in key order.
fn for_each_read(
    conns: &mut Conns<'_>,
    layout: &Layout,
    mut f: impl FnMut(&mut Conns<'_>, Vec<OldRow>) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    layout.prepare(conns.app())?;
    let mut after: Option<Key> = None;
    loop {
        let rows = read(conns.app(), layout, after.as_ref(), None, Some(BATCH))?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(layout.parse_key(&last.k)?);
        let full = rows.len() as i64 == BATCH;
        f(conns, rows)?;
        if !full {
            return Ok(());
        }
    }
}

/// Takes the fingerprint of old storage, replacing any earlier one: one ordered read,
/// a digest per [`RANGE_KEYS`] keys.
pub fn take(conns: &mut Conns<'_>, layout: &Layout) -> Result<Summary, ToolError> {
    let id = layout.plan().id.to_string();
    fingerprints::clear(conns.state(), &id)?;
    let own = own_equality(layout);
    let mut keys = 0u64;
    let mut ordinal = 0i64;
    let mut all = Sha256::new();
    for_each_read(conns, layout, |conns, batch| {
        keys += batch.len() as u64;
        // Batches hold a whole number of ranges but the last: ranges never span two.
        let ranges: Vec<Range> = batch
            .chunks(RANGE_KEYS)
            .map(|chunk| {
                let mut h = RangeHasher::new();
                for r in chunk {
                    let canonical = r.canonical(&own);
                    h.add(&r.k, &canonical);
                }
                let (key_count, digest) = h.finish();
                all.update(digest.as_bytes());
                let range = Range {
                    ordinal,
                    last_key: chunk.last().expect("chunks are not empty").k.clone(),
                    key_count,
                    digest,
                };
                ordinal += 1;
                range
            })
            .collect();
        fingerprints::insert_ranges(conns.state(), &id, &ranges)?;
        Ok(())
    })?;
    let digest = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Summary {
        keys,
        ranges: u64::try_from(ordinal).unwrap_or(0),
        digest,
    })
}

/// A key range that changed since the fingerprint: `(after, through]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Changed {
    after: Option<String>,
    through: Option<String>,
}

/// Compares old storage with the fingerprint: the late writes, counting only writes
/// logged after `after` (when the whole fleet applied 9, for an observed fleet; every
/// logged write when `None`).
pub fn check(
    conns: &mut Conns<'_>,
    layout: &Layout,
    after: Option<DateTime<Utc>>,
) -> Result<LateWrites, ToolError> {
    let id = layout.plan().id.to_string();
    let ranges = fingerprints::ranges(conns.state(), &id)?;
    if ranges.is_empty() && fingerprints::count(conns.state(), &id)? > 0 {
        return per_key(conns, layout);
    }
    layout.prepare(conns.app())?;
    let changed = changed_ranges(conns.app(), layout, &ranges)?;
    let mut found = drill(conns.app(), layout, &changed, after)?;
    found.since = after;
    Ok(found)
}

/// The ranges whose keys or values differ from their digests, and the keys after the
/// last range if any appeared there, in key order.
fn changed_ranges(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    ranges: &[Range],
) -> Result<Vec<Changed>, ToolError> {
    let own = own_equality(layout);
    let mut changed = Vec::new();
    let mut before: Option<String> = None;
    for group in ranges.chunks(RANGES_PER_READ) {
        let lo = before.as_deref().map(|k| layout.parse_key(k)).transpose()?;
        let last = &group.last().expect("chunks are not empty").last_key;
        let hi = layout.parse_key(last)?;
        let rows = read(conn, layout, lo.as_ref(), Some(&hi), None)?;
        // Each row goes to the range whose last key it has not passed yet. A last key
        // that is gone merges its range into the next one: both then differ, and both
        // are looked at.
        let mut hashers: Vec<RangeHasher> = group.iter().map(|_| RangeHasher::new()).collect();
        let mut at = 0;
        for r in rows {
            let canonical = r.canonical(&own);
            hashers[at].add(&r.k, &canonical);
            if r.k == group[at].last_key && at + 1 < group.len() {
                at += 1;
            }
        }
        for (range, hasher) in group.iter().zip(hashers) {
            if hasher.finish() != (range.key_count, range.digest.clone()) {
                changed.push(Changed {
                    after: before.clone(),
                    through: Some(range.last_key.clone()),
                });
            }
            before = Some(range.last_key.clone());
        }
    }
    let lo = before.as_deref().map(|k| layout.parse_key(k)).transpose()?;
    if !read(conn, layout, lo.as_ref(), None, Some(1))?.is_empty() {
        changed.push(Changed {
            after: before,
            through: None,
        });
    }
    Ok(changed)
}

/// For each changed range, the keys the log holds for it: written after `after` and
/// still holding a value, they are late writes; a range with nothing logged is untraced.
fn drill(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    changed: &[Changed],
    after: Option<DateTime<Utc>>,
) -> Result<LateWrites, ToolError> {
    let mut found = LateWrites::default();
    if changed.is_empty() {
        return Ok(found);
    }
    // The token stands for exactly these late writes: any other changes it.
    let mut token = Sha256::new();
    let logged = crate::late_log::exists(conn, layout)?;
    for range in changed {
        let lo = range
            .after
            .as_deref()
            .map(|k| layout.parse_key(k))
            .transpose()?;
        let hi = range
            .through
            .as_deref()
            .map(|k| layout.parse_key(k))
            .transpose()?;
        let entries = if logged {
            crate::late_log::entries_in(conn, layout, lo.as_ref(), hi.as_ref())?
        } else {
            Vec::new()
        };
        if entries.is_empty() {
            token.update(format!("range\t{:?}\t{:?}\n", range.after, range.through));
            found.untraced_ranges += 1;
            if found.untraced.len() < LateWrites::NAMED {
                found.untraced.push(UntracedRange {
                    after: range.after.clone(),
                    through: range.through.clone(),
                });
            }
            continue;
        }
        // The last logged write of each key after the baseline moment.
        let mut late: BTreeMap<String, crate::late_log::Entry> = BTreeMap::new();
        for e in entries {
            if after.is_none_or(|t| e.at > t) {
                late.insert(e.key.clone(), e);
            }
        }
        let candidates: Vec<Key> = late
            .keys()
            .map(|k| layout.parse_key(k))
            .collect::<Result<_, _>>()?;
        for key in holding_a_value(conn, layout, &candidates)? {
            found.changed += 1;
            let e = &late[&key];
            token.update(format!("key\t{key}\t{}\n", e.at.to_rfc3339()));
            if found.keys.len() < LateWrites::NAMED {
                found.keys.push(LateWrite {
                    key,
                    at: Some(e.at),
                    by: e.by.clone(),
                });
            }
        }
    }
    if !found.is_clean() {
        found.token = short_token(token);
    }
    Ok(found)
}

/// The first 48 bits of a digest, hex: short enough to type, long enough that another
/// set of late writes does not match it by chance.
fn short_token(h: Sha256) -> String {
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which of `keys` hold a non-NULL old value now, in key order.
fn holding_a_value(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    keys: &[Key],
) -> Result<Vec<String>, ToolError> {
    #[derive(QueryableByName)]
    struct K {
        #[diesel(sql_type = Text)]
        k: String,
    }
    let mut out = Vec::new();
    for chunk in keys.chunks(1_000) {
        let key = layout.old_key();
        let (_, covered) = coverage(layout, Columns::Exact);
        let mut sql = layout.select_old_keys();
        sql.push(" AND ");
        layout.push_in(&mut sql, &key, chunk);
        sql.push(&format!(" AND {covered} ORDER BY {}", key.order()));
        let rows: Vec<K> = sql
            .load(conn)
            .map_err(|e| ToolError::query("read late-written keys", e))?;
        for r in rows {
            out.push(layout.recorded_key(r.k)?);
        }
    }
    Ok(out)
}

/// A fingerprint of state schema 3, a digest per key: the keys whose non-NULL old value
/// differs from it, or has no entry in it (a value written where there was none).
fn per_key(conns: &mut Conns<'_>, layout: &Layout) -> Result<LateWrites, ToolError> {
    let id = layout.plan().id.to_string();
    let mut found = LateWrites::default();
    let mut token = Sha256::new();
    for_each_batch(conns, layout, |conns, batch| {
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        let stored = fingerprints::lookup(conns.state(), &id, &keys)?;
        for (k, d) in &batch {
            if stored.get(k) != Some(d) {
                found.changed += 1;
                token.update(format!("key\t{k}\t{d}\n"));
                if found.keys.len() < LateWrites::NAMED {
                    found.keys.push(LateWrite {
                        key: k.clone(),
                        at: None,
                        by: None,
                    });
                }
            }
        }
        Ok(())
    })?;
    if !found.is_clean() {
        found.token = short_token(token);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use attrmig_testing::TestDb;

    use super::*;

    fn plan(kind: &str) -> attrmig_core::Plan {
        let old = match kind {
            "json" => {
                "kind = \"json\"\ntable = \"t\"\nkey = \"id\"\ncolumn = \"doc\"\npath = \"v\""
            }
            _ => "kind = \"column\"\ntable = \"t\"\nkey = \"id\"\ncolumn = \"v\"",
        };
        let text = format!("[old]\n{old}\n[new]\ntable = \"n\"\nkey = \"id\"\ncolumn = \"v\"\n");
        attrmig_plan::parse_plan("t-v", Path::new("plans/t-v.toml"), &text).unwrap()
    }

    type Read = Result<Vec<(String, Vec<u8>)>, String>;

    /// (key, canonical form) of every covered row, read by the statement for any
    /// backend and by SQLite's own.
    fn both_reads(db: &TestDb, kind: &str) -> (Read, Read) {
        let plan = plan(kind);
        let mut conn = db.connect();
        let layout = Layout::resolve(&mut conn, &plan).unwrap();
        let own = own_equality(&layout);
        let canonical = |rows: Vec<OldRow>| -> Vec<(String, Vec<u8>)> {
            rows.into_iter()
                .map(|r| (r.canonical(&own), r.k))
                .map(|(c, k)| (k, c))
                .collect()
        };
        layout.prepare(&mut conn).unwrap();
        let exact = statement(&layout, Columns::Exact, None, None, None)
            .load::<KeyValue>(&mut conn)
            .map(|rows| canonical(rows.into_iter().map(|r| r.into_row(&layout)).collect()))
            .map_err(|e| e.to_string());
        let attrmig_db::AnyConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!("an SQLite database")
        };
        let sql = statement(&layout, Columns::Stored, None, None, None);
        let stored = read_stored(sqlite, &layout, &sql)
            .map(canonical)
            .map_err(|e| e.to_string());
        (exact, stored)
    }

    /// Every storage class, and the values each has trouble with, reads the same either
    /// way; the fingerprints of migrations taken before SQLite's own read stay valid.
    #[test]
    fn sqlite_reads_values_as_stored_exactly_as_their_literals() {
        let db = TestDb::sqlite();
        db.execute(
            "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, v, doc TEXT);
             CREATE TABLE n (id BIGINT NOT NULL PRIMARY KEY, v);
             INSERT INTO t (id, v, doc) VALUES
               (1, 'o''brien', '{\"v\": \"o''brien\"}'),
               (2, CAST(x'610062' AS TEXT), '{\"v\": 1.5}'),
               (3, CAST(x'ff27' AS TEXT), '{\"v\": 0.30000000000000004}'),
               (4, '\u{FFFD}', '{\"v\": [1, {\"b\": 2, \"a\": 1}]}'),
               (5, '', '{\"v\": -7}'),
               (6, x'00ff', '{\"v\": null}'),
               (7, x'', 'not json'),
               (8, 12, '{\"v\": true}'),
               (9, -9223372036854775808, '{\"v\": \"\"}'),
               (10, 0.1 + 0.2, '{\"v\": 1e300}'),
               (11, 1e300, '{}'),
               (12, -0.0, '{\"v\": \"\u{FFFD}\"}'),
               (13, 9e999, NULL),
               (14, '12', '{\"v\": 12}'),
               (15, NULL, '{\"v\": {}}');",
        );
        for kind in ["column", "json"] {
            let (exact, stored) = both_reads(&db, kind);
            let exact = exact.unwrap();
            assert!(exact.len() > 10, "{kind}: {exact:?}");
            assert_eq!(stored.unwrap(), exact, "{kind}");
        }
        // And a text key, any text.
        let db = TestDb::sqlite();
        db.execute(
            "CREATE TABLE t (id TEXT NOT NULL PRIMARY KEY, v TEXT);
             CREATE TABLE n (id TEXT NOT NULL PRIMARY KEY, v TEXT);
             INSERT INTO t (id, v) VALUES ('a', 'x'), ('Zoë', 'y'), ('7', '7');",
        );
        let (exact, stored) = both_reads(&db, "column");
        assert_eq!(exact.as_ref().map(Vec::len), Ok(3));
        assert_eq!(stored, exact);
        // A key that is no UTF-8 is refused either way, not read as another key.
        db.execute("INSERT INTO t (id, v) VALUES (CAST(x'ff' AS TEXT), 'z')");
        let (exact, stored) = both_reads(&db, "column");
        assert!(exact.is_err(), "{exact:?}");
        let said = stored.unwrap_err();
        assert!(
            said.contains("(bytes ff)") && said.contains("correct or remove that row"),
            "{said}"
        );
        // As it says: without that row, the read goes on.
        db.execute("DELETE FROM t WHERE hex(id) = 'FF'");
        let (exact, stored) = both_reads(&db, "column");
        assert_eq!(stored, exact);
        assert_eq!(stored.map(|rows| rows.len()), Ok(3));
    }
}
