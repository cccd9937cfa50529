//! Where the keyset batches of a full cross-check or a sync pass end: the old key
//! `batch_size` keys after the last batch's end, found by one index probe per batch.
//!
//! On a database server the probe is real work (PostgreSQL reads 100,000 index entries to
//! find the end of a cross-check batch: about 20 ms, against some 60 ms for comparing
//! the batch), and it depends only on the end before it, never on what the batch found.
//! So when the tool is given a second connection, a helper thread walks the ends on it,
//! a few batches ahead, while the tool's own connection compares or copies: the server
//! runs both at once. Without one, the tool probes inline.
//!
//! SQLite always probes inline. Its probe is an in-process B-tree walk (about 0.2 ms for
//! 10,000 keys, some 5 % of a sync batch), and a walker on a second connection in WAL
//! mode measured slower, not faster: a 1M-row sync at 0.78 of the single statement
//! instead of 0.91, a cross-check with a `BIGINT` key at 0.57 of the join instead of
//! 1.45 (the two threads contend inside SQLite).
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
/// server; `None` (probe inline) for SQLite, when no URL is given, or when the server
/// refuses a second connection (at its connection limit, say): the walker only saves
/// time, so the tool runs without it rather than fail.
pub(crate) fn connect_ahead(url: Option<&DatabaseUrl>) -> Option<AnyConnection> {
    url.filter(|url| url.backend() != Backend::Sqlite)
        .and_then(|url| attrmig_db::connect(url).ok())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use attrmig_testing::backend_tests;

    use super::*;

    /// Every end `with_batch_ends` gives after `start`, in batches of 7, and one more
    /// `next` after the `None`.
    fn ends(
        layout: &Layout,
        conn: &mut AnyConnection,
        ahead: Option<&mut AnyConnection>,
        start: Option<Key>,
    ) -> Vec<Option<Key>> {
        with_batch_ends(layout, ahead, start, 7, |ends| {
            let mut out = Vec::new();
            loop {
                let end = ends.next(conn).unwrap();
                out.push(end.clone());
                if end.is_none() {
                    out.push(ends.next(conn).unwrap());
                    return out;
                }
            }
        })
    }

    backend_tests! {
        fn the_walker_finds_the_ends_inline_probes_find(db: &TestDb) {
            // Keys 3, 6, ..., 300: gaps, so an end is a key, not a count.
            let keys: Vec<String> = (1..=100).map(|i| format!("({}, 'name')", i * 3)).collect();
            db.execute(&format!(
                "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
                 CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
                 INSERT INTO users (id, full_name) VALUES {};",
                keys.join(", ")
            ));
            let plan = attrmig_plan::parse_plan(
                "users-full-name",
                Path::new("plans/users-full-name.toml"),
                "[old]\nkind = \"column\"\ntable = \"users\"\nkey = \"id\"\ncolumn = \"full_name\"\n\
                 [new]\ntable = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"\n",
            )
            .unwrap();
            let mut conn = db.connect();
            let layout = Layout::resolve(&mut conn, &plan).unwrap();
            let url = DatabaseUrl::parse(db.url(), Path::new("/")).unwrap();
            let server = connect_ahead(Some(&url));
            assert_eq!(
                server.is_some(),
                db.backend() != Backend::Sqlite,
                "a database server gives the walker a connection; SQLite probes inline"
            );
            // On SQLite too the walker itself works, on a second connection of its own.
            let mut second = server.unwrap_or_else(|| db.connect());

            // 100 keys: 14 full batches of 7 (ends at keys 21, 42, ..., 294), then none.
            let mut expected: Vec<Option<Key>> = (1..=14).map(|b| Some(Key::Int(b * 21))).collect();
            expected.extend([None, None]);
            assert_eq!(ends(&layout, &mut conn, None, None), expected);
            assert_eq!(ends(&layout, &mut conn, Some(&mut second), None), expected);
            // Resumed after a checkpoint.
            let resumed = ends(&layout, &mut conn, Some(&mut second), Some(Key::Int(150)));
            assert_eq!(resumed, ends(&layout, &mut conn, None, Some(Key::Int(150))));
            assert_eq!(resumed.first(), Some(&Some(Key::Int(171))));
        }
    }
}
