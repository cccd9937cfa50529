//! drop-old for JSON and EAV old storage in keyset batches, like the sync: the key
//! removed from each document, or the attribute's rows deleted, `batch_size` keys per
//! transaction, so that no statement holds a lock over the whole live table.
//!
//! Every batch is idempotent (removing a key that is gone, deleting rows that are gone,
//! changes nothing), so the checkpoint after it is only where to go on from: a run killed
//! between a batch and its checkpoint does that batch again, harmlessly. The engine keeps
//! the checkpoint with the intent that announced the drop (`attrmig_store::intents`).

use std::time::{Duration, Instant};

use attrmig_core::plan::OldStorage;
use attrmig_db::write_transaction;
use attrmig_store::Conns;

use crate::batch_ends::with_batch_ends;
use crate::error::ToolError;
use crate::layout::Layout;
use crate::sql::{Bind, Key, Sql};

/// How far a batched drop got.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Batches committed (in this run).
    pub batches: u64,
    /// Rows changed or deleted (in this run).
    pub rows: u64,
    /// The last key of the last committed batch, as text (`None`: none yet).
    pub through: Option<String>,
    /// Keys of old storage in all, when the run started (for a progress bar).
    pub total: u64,
    /// Keys per batch.
    pub batch_size: u64,
}

/// The statement of one batch, over keys `(lo, hi]`; `None` for a column (dropped whole).
pub fn batch_statement(layout: &Layout, lo: Option<&Key>, hi: Option<&Key>) -> Option<Sql> {
    let b = layout.backend();
    let key = layout.old_key_bare();
    let mut sql = Sql::new(b);
    match &layout.plan().old {
        OldStorage::Column { .. } => return None,
        OldStorage::Json { column, path, .. } => {
            let col = b.quote(column);
            let removed = b.json_remove(&col, path);
            // PostgreSQL computes in jsonb; write back in the column's own type.
            let removed = match (b, layout.old_table().column(column.as_str())) {
                (attrmig_db::Backend::Postgres, Some(c)) => {
                    format!("CAST({removed} AS {})", c.data_type)
                }
                _ => removed,
            };
            sql.push(&format!(
                "UPDATE {} SET {col} = {removed} WHERE {} AND ",
                layout.old_table_name(),
                b.json_has_key(&col, path)
            ));
        }
        OldStorage::Eav {
            name_column, name, ..
        } => {
            sql.push(&format!(
                "DELETE FROM {} WHERE {} = ",
                layout.old_table_name(),
                b.quote(name_column)
            ))
            .bind(Bind::Text(name.clone()))
            .push(" AND ");
        }
    }
    layout.push_range(&mut sql, &key, lo, hi);
    Some(sql)
}

/// Runs the batches after `start`, calling `committed` after each one's commit (to
/// checkpoint it, and to show progress).
pub fn run(
    conns: &mut Conns<'_>,
    layout: &Layout,
    start: Option<Key>,
    batch_size: u32,
    max_rows_per_second: Option<u32>,
    committed: &mut dyn FnMut(&mut Conns<'_>, &Progress) -> Result<(), ToolError>,
) -> Result<Progress, ToolError> {
    let mut progress = Progress {
        total: layout.count_old(conns.app())?,
        batch_size: u64::from(batch_size.max(1)),
        ..Progress::default()
    };
    let clock = Instant::now();
    let mut after = start;
    with_batch_ends(layout, None, after.clone(), batch_size.max(1), |ends| {
        loop {
            let end = ends.next(conns.app())?;
            let sql = batch_statement(layout, after.as_ref(), end.as_ref()).ok_or_else(|| {
                ToolError::Unexpected("a column is dropped whole, not in batches".into())
            })?;
            let rows = write_transaction(conns.app(), |c| {
                sql.execute(c)
                    .map_err(|e| ToolError::query(format!("run `{}`", sql.display()), e))
            })?;
            progress.batches += 1;
            progress.rows += rows as u64;
            progress.through = end.as_ref().map(ToString::to_string);
            committed(conns, &progress)?;
            let Some(end) = end else {
                return Ok(progress.clone());
            };
            after = Some(end);
            if let Some(max) = max_rows_per_second.filter(|m| *m > 0) {
                let due = Duration::from_secs_f64(
                    (progress.batches * u64::from(batch_size)) as f64 / f64::from(max),
                );
                if let Some(wait) = due.checked_sub(clock.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    })
}
