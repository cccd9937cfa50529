//! The old-storage fingerprint: taken when step 9 (the point of no return) is reached,
//! compared before old storage is dropped. After step 9 nothing should write old
//! storage; a key whose old value changed or appeared since is a late write, and dropping
//! old storage would lose it.
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

use attrmig_core::equality::{self, Scalar, Side};
use attrmig_store::{Conns, fingerprints};
use diesel::QueryableByName;
use diesel::sql_types::{Binary, Nullable, Text};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ToolError;
use crate::layout::Layout;
use crate::sql::{Bind, Key, Sql};

/// Keys read per query.
const BATCH: i64 = 10_000;

/// What was fingerprinted, for the audit entry of step 9.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Keys with a non-NULL old value.
    pub keys: u64,
    /// SHA-256 over every `key<TAB>digest` line in key order: one value to compare.
    pub digest: String,
}

/// The digest of one old value's canonical form: the first 128 bits of its SHA-256, hex.
pub fn digest(canonical: &[u8]) -> String {
    let hash = Sha256::digest(canonical);
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

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
    /// The value's canonical form, in the old value's own family.
    fn canonical(&self, layout: &Layout) -> Vec<u8> {
        let own = equality::between(layout.value_type(Side::Old), layout.value_type(Side::Old));
        match (&self.u, &self.v) {
            (Some(doc), _) => equality::canonical(&Scalar::Json(layout.show_document(doc.clone()))),
            (None, Some(v)) => own.canonical(Side::Old, &layout.exact(Side::Old, v.clone())),
            (None, None) => Vec::new(),
        }
    }
}

/// The next batch of (key, old value) with a non-NULL old value, after `after`, in key
/// order. Batches are read one at a time so memory does not grow with the table.
fn next_batch(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    after: Option<&Key>,
) -> Result<Vec<KeyValue>, ToolError> {
    let mut sql = Sql::new(layout.backend());
    let (key, value) = (layout.old_key(), layout.old_value());
    let (unreadable, covered) = match (layout.old_unreadable(), layout.old_document()) {
        (Some(condition), Some(doc)) => (
            format!(
                "CASE WHEN {condition} THEN {} END",
                layout.shown_document(&doc)
            ),
            format!("({value} IS NOT NULL OR {condition})"),
        ),
        _ => ("NULL".to_owned(), format!("{value} IS NOT NULL")),
    };
    sql.push(&format!(
        "SELECT {} AS k, {} AS v, {unreadable} AS u FROM {} WHERE ",
        layout.key_text(&key),
        layout.read_exact(Side::Old, &value),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_range(&mut sql, &key, after, None);
    sql.push(&format!(" AND {covered} ORDER BY {} LIMIT ", key.order()))
        .bind(Bind::Int(BATCH));
    sql.load(conn)
        .map_err(|e| ToolError::query("read old values", e))
}

/// Calls `f` with each batch of non-NULL old values and their digests, in key order.
fn for_each_batch(
    conns: &mut Conns<'_>,
    layout: &Layout,
    mut f: impl FnMut(&mut Conns<'_>, Vec<(String, String)>) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    layout.prepare(conns.app())?;
    let mut after: Option<Key> = None;
    loop {
        let rows = next_batch(conns.app(), layout, after.as_ref())?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(layout.parse_key(&last.k)?);
        let full = rows.len() as i64 == BATCH;
        // Keys as recorded (a key of several columns in one spelling whatever the
        // backend's JSON spacing), so two fingerprints compare key by key.
        let mut batch = Vec::with_capacity(rows.len());
        for r in rows {
            let d = digest(&r.canonical(layout));
            batch.push((layout.parse_key(&r.k)?.to_string(), d));
        }
        f(conns, batch)?;
        if !full {
            return Ok(());
        }
    }
}

/// Takes the fingerprint of old storage, replacing any earlier one.
pub fn take(conns: &mut Conns<'_>, layout: &Layout) -> Result<Summary, ToolError> {
    let id = layout.plan().id.to_string();
    fingerprints::clear(conns.state(), &id)?;
    let mut keys = 0u64;
    let mut all = Sha256::new();
    for_each_batch(conns, layout, |conns, batch| {
        for (k, d) in &batch {
            all.update(k.as_bytes());
            all.update(b"\t");
            all.update(d.as_bytes());
            all.update(b"\n");
        }
        keys += batch.len() as u64;
        fingerprints::insert(conns.state(), &id, &batch)?;
        Ok(())
    })?;
    let digest = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Summary { keys, digest })
}

/// Counts keys whose non-NULL old value differs from the fingerprint, or has no entry
/// in it (a value written where there was none).
pub fn changed_since(conns: &mut Conns<'_>, layout: &Layout) -> Result<u64, ToolError> {
    let id = layout.plan().id.to_string();
    let mut changed = 0u64;
    for_each_batch(conns, layout, |conns, batch| {
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        let stored = fingerprints::lookup(conns.state(), &id, &keys)?;
        changed += batch
            .iter()
            .filter(|(k, d)| stored.get(k) != Some(d))
            .count() as u64;
        Ok(())
    })?;
    Ok(changed)
}
