//! Where the keyset batches of a full cross-check or a sync pass end: the old key
//! `batch_size` keys after the last batch's end, found by one index probe per batch.
//!
//! On a database server the probe costs a fifth of a cross-check batch (PostgreSQL reads
//! 100,000 index entries to find the next end), and it depends only on the end before
//! it, never on what the batch found. So when the tool is given a second connection, a
//! helper thread walks the ends on it, a few batches ahead, while the tool's own
//! connection compares or copies: the server runs both at once. Without one (SQLite,
//! where a probe is an in-process B-tree walk of microseconds), the tool probes inline.
//!
//! The two connections see different snapshots, which is harmless: the batches are key
//! ranges `(previous end, end]` that tile the key space whatever the ends are, and the
//! last one is open-ended. A key inserted meanwhile only makes its batch one row larger.

use std::sync::mpsc::{Receiver, sync_channel};

use attrmig_db::{AnyConnection, Backend, DatabaseUrl};

use crate::error::ToolError;
use crate::layout::Layout;
use crate::sql::Key;

/// Ends found ahead and not yet used: enough to hide a probe's latency behind the batch
/// being worked on, few enough that a tool that stops early wastes little.
const AHEAD: usize = 2;

/// The ends of successive batches. [`BatchEnds::next`] gives `Some(end)` for a full
/// batch, then `None`, for good, once fewer than `batch_size` keys remain (the last
/// batch, which the tool bounds itself).
pub(crate) struct BatchEnds<'a> {
    source: Source<'a>,
    /// `None` was given: no full batch is left.
    exhausted: bool,
}

enum Source<'a> {
    /// Probed on the tool's connection when asked.
    Inline {
        layout: &'a Layout,
        after: Option<Key>,
        batch_size: u32,
    },
    /// Probed ahead by the walker thread.
    Ahead(Receiver<Result<Option<Key>, ToolError>>),
}

impl BatchEnds<'_> {
    /// The end of the next full batch, or `None` when no full batch is left.
    pub(crate) fn next(&mut self, conn: &mut AnyConnection) -> Result<Option<Key>, ToolError> {
        if self.exhausted {
            return Ok(None);
        }
        let end = match &mut self.source {
            Source::Inline {
                layout,
                after,
                batch_size,
            } => {
                let end = layout.key_at_offset(conn, after.as_ref(), *batch_size)?;
                after.clone_from(&end);
                end
            }
            Source::Ahead(ends) => ends.recv().unwrap_or_else(|_| {
                Err(ToolError::Unexpected(
                    "the thread finding batch ends stopped without a word".into(),
                ))
            })?,
        };
        self.exhausted = end.is_none();
        Ok(end)
    }
}

/// Runs `body` with the ends of the batches after `start`, found on `ahead` by a walker
/// thread when a connection is given, inline otherwise. The walker stops at the last
/// full batch, at its first error (which `next` returns), or when `body` returns.
pub(crate) fn with_batch_ends<R>(
    layout: &Layout,
    ahead: Option<&mut AnyConnection>,
    start: Option<Key>,
    batch_size: u32,
    body: impl FnOnce(&mut BatchEnds<'_>) -> R,
) -> R {
    let Some(conn) = ahead else {
        return body(&mut BatchEnds {
            source: Source::Inline {
                layout,
                after: start,
                batch_size,
            },
            exhausted: false,
        });
    };
    std::thread::scope(|scope| {
        let (found, ends) = sync_channel(AHEAD);
        scope.spawn(move || {
            let mut after = start;
            loop {
                let end = layout.key_at_offset(conn, after.as_ref(), batch_size);
                let more = matches!(end, Ok(Some(_)));
                if let Ok(Some(key)) = &end {
                    after = Some(key.clone());
                }
                // A closed channel: the tool is done (or failed) and wants no more ends.
                if found.send(end).is_err() || !more {
                    return;
                }
            }
        });
        // `ends` is dropped when `body` returns, which stops the walker at its next send;
        // the scope then waits for it (one probe at most).
        body(&mut BatchEnds {
            source: Source::Ahead(ends),
            exhausted: false,
        })
    })
}

/// The walker's connection: a second one to `url` when it is given and names a database
/// server; `None` (probe inline) for SQLite or when no URL is given.
pub(crate) fn connect_ahead(url: Option<&DatabaseUrl>) -> Result<Option<AnyConnection>, ToolError> {
    match url {
        Some(url) if url.backend() != Backend::Sqlite => Ok(Some(attrmig_db::connect(url)?)),
        _ => Ok(None),
    }
}
