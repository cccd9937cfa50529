//! `sync --delete-extra`: after the copy, the pass removes the rows only in new storage,
//! the new rows whose key has no old row (the copy, which walks old keys, never meets
//! them; a new value over an old row with a NULL value it already sets NULL).
//!
//! - **What "remove" is.** Where the new table holds only the key and the new column (a
//!   table of the migration's own, as `ddl prepare-storage` creates it), the row is
//!   deleted. Where it holds other columns too, they are not this migration's to delete:
//!   the row stays and its new column is set NULL (an absent value and a NULL read alike);
//!   a NOT NULL new column there is refused before anything runs
//!   ([`Refusal::ExtraNotRemovable`]).
//! - **Keyset batches over new keys**, `batch_size` a batch, each one fenced transaction
//!   like a copy batch ([`Lease::commit`]): a runner that outlived the step or lost its
//!   lease removes nothing more. The walk keeps no checkpoint: a pass killed during it is
//!   interrupted, and `sync --delete-extra` resumes it and walks again, finding only what
//!   is left.
//! - **No lost double-write.** A writer that inserts the key into old, then new (an upsert),
//!   in one transaction, must keep its row. The batch first finds its candidates, then
//!   (MySQL/MariaDB) reads their old rows `LOCK IN SHARE MODE`, which waits for a writer's
//!   uncommitted insert and, in REPEATABLE READ, locks the gap so none can start; then locks
//!   the candidates' new rows (`FOR UPDATE`), which waits for a writer that already upserted
//!   one; then looks for old rows again in a statement of its own, and removes only the rows
//!   still without one. A writer that committed before the locks is seen by that second
//!   look (a new snapshot in READ COMMITTED; in REPEATABLE READ, PostgreSQL refuses to lock
//!   a row changed since the snapshot, a serialization failure the batch retries, and
//!   MySQL's gap locks kept the insert out); one that comes after waits for the batch and
//!   then inserts its row afresh. On SQLite the batch is one `BEGIN IMMEDIATE` write
//!   transaction, which no writer interleaves.

use attrmig_core::Refusal;
use attrmig_db::{AnyConnection, Backend};
use attrmig_store::Conns;
use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;

use super::{Event, retrying};
use crate::error::ToolError;
use crate::layout::{KeyExpr, Layout, Scope};
use crate::lease::Lease;
use crate::sql::{Bind, Key, Sql};

/// How a row only in new storage is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    /// Delete the row: the new table holds only the key and the new column.
    Delete,
    /// Set the new column NULL: the row holds other columns this migration does not move.
    Empty,
}

/// How `layout`'s rows only in new storage are removed; `None` when there can be none
/// (the new column is in the old table: every new row is an old row).
pub(super) fn removal(layout: &Layout) -> Result<Option<Removal>, ToolError> {
    if layout.same_table() {
        return Ok(None);
    }
    let new = &layout.plan().new;
    let attrmig_core::facts::TableFact::Present { columns, .. } = layout.new_table() else {
        return Ok(Some(Removal::Delete));
    };
    let others: Vec<String> = columns
        .iter()
        .filter(|c| !new.key.names().contains(&c.name.as_str()) && c.name != new.column.as_str())
        .map(|c| c.name.clone())
        .collect();
    if others.is_empty() {
        return Ok(Some(Removal::Delete));
    }
    if layout
        .new_table()
        .column(new.column.as_str())
        .is_some_and(|c| !c.nullable)
    {
        return Err(Refusal::ExtraNotRemovable {
            id: layout.plan().id.to_string(),
            table: new.table.to_string(),
            column: new.column.to_string(),
            others,
        }
        .into());
    }
    Ok(Some(Removal::Empty))
}

/// Removes every row only in new storage, batch by batch behind `lease`'s fence, paced
/// like the copy (`max_rows_per_second` new keys visited); returns how many it removed.
/// Each batch that removed rows is reported with their keys.
pub(super) fn remove(
    conns: &mut Conns<'_>,
    layout: &Layout,
    how: Removal,
    lease: &mut Lease,
    opts: &super::Options,
    on: &mut dyn FnMut(&Event),
) -> Result<u64, ToolError> {
    let batch_size = opts.batch_size.max(1);
    let clock = std::time::Instant::now();
    let (mut after, mut visited): (Option<Key>, u64) = (None, 0);
    let mut removed = 0u64;
    loop {
        let hi = new_key_at_offset(conns.app(), layout, after.as_ref(), batch_size)?;
        let keys = retrying(|| {
            lease.commit(
                conns,
                |app| {
                    remove_batch(app, layout, how, after.as_ref(), hi.as_ref())
                        .map_err(|e| ToolError::query("remove rows only in new storage", e))
                },
                |_, _| Ok(()),
            )
        })?;
        if !keys.is_empty() {
            removed += keys.len() as u64;
            on(&Event::Removed {
                keys: keys.iter().map(ToString::to_string).collect(),
                removed,
            });
        }
        visited += u64::from(batch_size);
        let pause = super::throttle(opts.max_rows_per_second, visited, clock.elapsed());
        lease.sleep(conns.state(), pause)?;
        match hi {
            Some(hi) => after = Some(hi),
            None => return Ok(removed),
        }
    }
}

/// Which table's keys a statement reads.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// `SELECT <key as text> AS k FROM <table> WHERE `, of old (alias `o`) or new (`n`).
fn keys_of(layout: &Layout, side: Side) -> Sql {
    let (key, from) = match side {
        Side::Old => (layout.old_key(), layout.old_from()),
        Side::New => (layout.new_key(), layout.new_from()),
    };
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT {} AS k FROM {from} WHERE ",
        layout.key_text(&key)
    ));
    sql
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    k: String,
}

fn keys(layout: &Layout, rows: Vec<KeyRow>) -> Result<Vec<Key>, DieselError> {
    rows.iter()
        .map(|r| {
            layout
                .parse_key(&r.k)
                .map_err(|e| DieselError::DeserializationError(e.to_string().into()))
        })
        .collect()
}

/// The new key `n` positions after `after`: where a batch of new keys ends; `None` when
/// fewer are left (the last batch is open-ended).
fn new_key_at_offset(
    conn: &mut AnyConnection,
    layout: &Layout,
    after: Option<&Key>,
    n: u32,
) -> Result<Option<Key>, ToolError> {
    let nk = layout.new_key();
    let mut sql = keys_of(layout, Side::New);
    layout.push_range(&mut sql, &nk, after, None);
    sql.push(&format!(" ORDER BY {} LIMIT 1 OFFSET ", nk.order()))
        .bind(Bind::Int(i64::from(n.max(1) - 1)));
    let rows: Vec<KeyRow> = sql
        .load(conn)
        .map_err(|e| ToolError::query("find the end of a batch of new keys", e))?;
    Ok(keys(layout, rows)
        .map_err(|e| ToolError::query("read a new key", e))?
        .into_iter()
        .next())
}

/// Pushes ` AND NOT EXISTS (<an old row of the key at expr>)`.
fn push_no_old_row(sql: &mut Sql, layout: &Layout, expr: &KeyExpr) {
    sql.push(&format!(
        " AND NOT EXISTS (SELECT 1 FROM {} WHERE {} AND ",
        layout.old_from(),
        layout.old_key().equals(expr)
    ));
    layout.push_old_rows(sql);
    sql.push(")");
}

/// The new keys of `scope` holding a value whose key has no old row, in key order.
fn orphans(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Key>, DieselError> {
    let (nk, nv) = (layout.new_key(), layout.new_value());
    let mut sql = keys_of(layout, Side::New);
    layout.push_scope(&mut sql, &nk, scope);
    sql.push(&format!(" AND {nv} IS NOT NULL"));
    push_no_old_row(&mut sql, layout, &nk);
    sql.push(&format!(" ORDER BY {}", nk.order()));
    keys(layout, sql.load(conn)?)
}

/// Locks the new rows of `keys` until the batch commits (`FOR UPDATE`): waits for a writer
/// that changed one and has not committed.
fn lock_new_rows(
    conn: &mut AnyConnection,
    layout: &Layout,
    keys: &[Key],
) -> Result<(), DieselError> {
    let nk = layout.new_key();
    let mut sql = keys_of(layout, Side::New);
    layout.push_in(&mut sql, &nk, keys);
    sql.push(" FOR UPDATE");
    sql.load::<KeyRow>(conn).map(drop)
}

/// MySQL/MariaDB: of `candidates`, those with an old row, read `LOCK IN SHARE MODE`: the
/// read waits for a writer's uncommitted insert and locks the gaps of the others.
fn mysql_old_rows(
    conn: &mut AnyConnection,
    layout: &Layout,
    candidates: &[Key],
) -> Result<Vec<Key>, DieselError> {
    let ok = layout.old_key();
    let mut sql = keys_of(layout, Side::Old);
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_in(&mut sql, &ok, candidates);
    sql.push(" LOCK IN SHARE MODE");
    keys(layout, sql.load(conn)?)
}

/// Keys per statement that lists them: well under every backend's limit of bound
/// parameters (PostgreSQL's 65,535), whatever the plan's batch size.
const KEYS_PER_STATEMENT: usize = 5_000;

/// Removes the rows only in new storage of `(lo, hi]` (the module's doc says how the
/// locks keep a concurrent double-write's row); returns their keys.
fn remove_batch(
    conn: &mut AnyConnection,
    layout: &Layout,
    how: Removal,
    lo: Option<&Key>,
    hi: Option<&Key>,
) -> Result<Vec<Key>, DieselError> {
    let candidates = orphans(conn, layout, Scope::Range(lo, hi))?;
    let mut removed = Vec::with_capacity(candidates.len());
    for chunk in candidates.chunks(KEYS_PER_STATEMENT) {
        let gone = still_orphans(conn, layout, chunk)?;
        if !gone.is_empty() {
            remove_rows(conn, layout, how, &gone)?;
        }
        removed.extend(gone);
    }
    Ok(removed)
}

/// Of `candidates`, the rows still only in new storage once they are locked. SQLite's
/// batch holds the write lock already: no writer can have changed anything.
fn still_orphans(
    conn: &mut AnyConnection,
    layout: &Layout,
    candidates: &[Key],
) -> Result<Vec<Key>, DieselError> {
    let mut candidates = candidates.to_vec();
    match layout.backend() {
        Backend::Sqlite => return Ok(candidates),
        Backend::Mysql => {
            let kept: std::collections::HashSet<Key> = mysql_old_rows(conn, layout, &candidates)?
                .into_iter()
                .collect();
            candidates.retain(|k| !kept.contains(k));
        }
        Backend::Postgres => {}
    }
    // Lock them, then look again: the rows still without an old row.
    lock_new_rows(conn, layout, &candidates)?;
    orphans(conn, layout, Scope::Keys(&candidates))
}

/// Deletes the rows of `keys`, or empties their new column.
fn remove_rows(
    conn: &mut AnyConnection,
    layout: &Layout,
    how: Removal,
    keys: &[Key],
) -> Result<usize, DieselError> {
    let backend = layout.backend();
    let new = &layout.plan().new;
    let (table, key, column) = (
        backend.quote(&new.table),
        layout.new_key_bare(),
        backend.quote(&new.column),
    );
    let mut sql = Sql::new(backend);
    match how {
        Removal::Delete => sql.push(&format!("DELETE FROM {table} WHERE ")),
        Removal::Empty => sql.push(&format!("UPDATE {table} SET {column} = NULL WHERE ")),
    };
    layout.push_in(&mut sql, &key, keys);
    sql.execute(conn)
}
