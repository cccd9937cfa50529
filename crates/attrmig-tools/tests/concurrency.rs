//! A sync under live double-write traffic must not lose one of its writes.
//!
//! Writers write and delete random keys throughout a sync, each change one transaction
//! that changes old then new, as the double-write contract asks (docs/tools.md). When the
//! sync is done and the writers have stopped, a full cross-check must be clean: a write
//! the sync overwrote with the stale old value it had read would show as `differs`, a
//! deleted row the sync copied back into new as `extra_in_new`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use attrmig_core::Step;
use attrmig_db::{AnyConnection, Backend, DbError, is_transient, write_transaction};
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::sql::{Bind, Sql};
use attrmig_tools::{crosscheck, sync};
use common::*;
use rand::Rng;

const KEYS: i64 = 3_000;

/// What one double-write does to a key, in old and then in new.
enum Change<'a> {
    /// Insert or update the value.
    Write(&'a str),
    /// Delete the row (the application deleted its record).
    Delete,
}

/// `change` to `key` in `table`, whose key column is `key_column`.
fn statement(b: Backend, (table, key_column): (&str, &str), key: i64, change: &Change<'_>) -> Sql {
    let mut sql = Sql::new(b);
    match change {
        Change::Write(value) => {
            sql.push(&format!(
                "INSERT INTO {table} ({key_column}, full_name) VALUES ("
            ))
            .bind(Bind::Int(key))
            .push(", ")
            .bind(Bind::Text((*value).into()))
            .push(")")
            .push(&match b {
                Backend::Sqlite | Backend::Postgres => format!(
                    " ON CONFLICT ({key_column}) DO UPDATE SET full_name = excluded.full_name"
                ),
                Backend::Mysql => " ON DUPLICATE KEY UPDATE full_name = VALUES(full_name)".into(),
            });
        }
        Change::Delete => {
            sql.push(&format!("DELETE FROM {table} WHERE {key_column} = "))
                .bind(Bind::Int(key));
        }
    }
    sql
}

/// The two statements of one double-write: old, then new.
fn double_write_statements(b: Backend, key: i64, change: &Change<'_>) -> [Sql; 2] {
    [
        statement(b, ("users", "id"), key, change),
        statement(b, ("users_pii", "user_id"), key, change),
    ]
}

fn double_write(conn: &mut AnyConnection, key: i64, change: &Change<'_>) -> Result<(), DbError> {
    let [old, new] = double_write_statements(conn.backend(), key, change);
    write_transaction(conn, |c| {
        old.execute(c)?;
        new.execute(c)?;
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(|e| DbError::query("double-write", e))
}

/// What the writers have committed: changes, and among them deletes.
#[derive(Default)]
struct Written {
    changes: AtomicU64,
    deletes: AtomicU64,
}

/// Writes (three times in four) or deletes (once in four) random keys of `1..=keys` until
/// `stop`; a deleted key may be written again later, as an application re-creates a record.
fn writer(db_url: String, stop: Arc<AtomicBool>, written: Arc<Written>, id: usize, keys: i64) {
    let url = attrmig_db::DatabaseUrl::parse(&db_url, std::path::Path::new("/")).unwrap();
    let mut conn = attrmig_db::connect(&url).unwrap();
    let mut rng = rand::rng();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = rng.random_range(1..=keys);
        n += 1;
        let value = format!("w{id}-{n}");
        let change = if rng.random_ratio(1, 4) {
            Change::Delete
        } else {
            Change::Write(&value)
        };
        match double_write(&mut conn, key, &change) {
            Ok(()) => {
                written.changes.fetch_add(1, Ordering::Relaxed);
                if matches!(change, Change::Delete) {
                    written.deletes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.diesel().is_some_and(is_transient) => {}
            Err(e) => panic!("writer {id}: {e}"),
        }
        // Application traffic has gaps; a writer in a hot loop would starve SQLite's
        // busy handler, which sleeps while a spinning writer takes the lock again.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Three writers at work on keys `1..=keys`, and what they committed.
struct Traffic {
    stop: Arc<AtomicBool>,
    written: Arc<Written>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

/// Starts three [`writer`]s and returns once they committed 20 changes.
fn traffic(db: &TestDb, keys: i64) -> Traffic {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Written::default());
    let writers = (0..3)
        .map(|i| {
            let (url, stop, written) = (db.url().to_owned(), stop.clone(), written.clone());
            std::thread::spawn(move || writer(url, stop, written, i, keys))
        })
        .collect();
    while written.changes.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Traffic {
        stop,
        written,
        writers,
    }
}

backend_tests! {
    fn no_double_write_is_lost_during_a_sync(db: &TestDb) {
        named_users(db, KEYS as u64);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let Traffic { stop, written, writers } = traffic(db, KEYS);
        let committed = |w: &Written| (w.changes.load(Ordering::Relaxed), w.deletes.load(Ordering::Relaxed));
        let before = committed(&written);
        // Throttled so that the pass spans about 3 s of traffic on every backend.
        let opts = sync::Options { batch_size: 25, max_rows_per_second: Some(1_000), restart: false, holder: "sync@test:1".into(), lookahead: lookahead(db), delete_extra: false };
        sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts, &mut |_| {}).unwrap();
        let after = committed(&written);
        let (during, deleted) = (after.0 - before.0, after.1 - before.1);
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        assert!(during >= 5, "the writers must have written throughout the sync (only {during} changes)");
        assert!(deleted >= 1, "the writers must have deleted during the sync ({during} changes, no delete)");

        let opts = crosscheck::Options { sample: None, batch_size: 500, max_report: 10, lookahead: lookahead(db) };
        let report = crosscheck::run(&mut shared(&mut conn), &layout, Step::Sync, "alice", &opts, &mut ()).unwrap();
        assert!(
            report.counts.clean(),
            "{during} changes during the sync, {deleted} of them deletes; lost or brought back: {:?}",
            report.mismatches
        );
        // The check saw every old row: a clean report that compared nothing proves nothing.
        assert_eq!(report.counts.matching as i64, count(&mut conn, "SELECT COUNT(*) AS n FROM users"));
    }
}

/// A double-write that has changed old and new but not yet committed when a batch reads
/// its row: the batch must wait for it and then leave new as the writer left it. A batch
/// that read the old row without a lock (the last committed version) and wrote new after
/// the writer committed would put the stale value back, or bring a deleted row back to
/// life: one lost write, every time.
///
/// The delete is the stricter case: a batch in a REPEATABLE READ snapshot without the
/// lock is safe from the write (PostgreSQL refuses to upsert over a row changed since the
/// snapshot) but copies the deleted row into new, where no row stood in its way.
///
/// `isolation`: set on the sync's connection. READ COMMITTED matters on MySQL/MariaDB,
/// where `INSERT ... SELECT` reads its source without locks at that level, so only the
/// batch's own locking read protects the write.
fn an_uncommitted_double_write_is_waited_for(
    db: &TestDb,
    change: Change<'static>,
    isolation: Option<&str>,
) {
    named_users(db, 100);
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(db, &plan);
    let expected = match change {
        Change::Write(value) => Some(value.to_owned()),
        Change::Delete => None,
    };
    let writer = hold_double_write(db, 42, change, Held::AfterBoth);
    set_isolation(&mut conn, isolation);
    pass(db, &mut conn, &layout, false).unwrap();
    writer.join().unwrap();
    assert_eq!(
        text(
            &mut conn,
            "SELECT MAX(full_name) AS t FROM users_pii WHERE user_id = 42"
        ),
        expected,
        "the sync put back what it read before the writer committed"
    );
    assert_agree(db, &mut conn, &layout, "after the sync");
}

/// Where a double-write stands, uncommitted, while a batch reaches its row.
#[derive(Clone, Copy, Debug)]
enum Held {
    /// It wrote old and new, and has not committed.
    AfterBoth,
    /// It wrote old and has not written new yet.
    BetweenOldAndNew,
}

/// Starts a double-write of `change` to `key` on a connection of its own and returns once
/// it is `held`: it then sleeps 400 ms (the batch starts meanwhile and must wait for it,
/// or find new as the writer will leave it), writes what is left and commits.
fn hold_double_write(
    db: &TestDb,
    key: i64,
    change: Change<'static>,
    held: Held,
) -> std::thread::JoinHandle<()> {
    let (wrote, written) = std::sync::mpsc::channel();
    let url = db.url().to_owned();
    let writer = std::thread::spawn(move || {
        let url = attrmig_db::DatabaseUrl::parse(&url, std::path::Path::new("/")).unwrap();
        let mut conn = attrmig_db::connect(&url).unwrap();
        let pause = || {
            wrote.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(400));
        };
        write_transaction(&mut conn, |c| {
            let [old, new] = double_write_statements(c.backend(), key, &change);
            old.execute(c)?;
            if let Held::BetweenOldAndNew = held {
                pause();
            }
            new.execute(c)?;
            if let Held::AfterBoth = held {
                pause();
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    written.recv().unwrap();
    writer
}

/// Sets the sync's connection to an isolation level (`None`: the server's default).
fn set_isolation(conn: &mut AnyConnection, level: Option<&str>) {
    use diesel::connection::SimpleConnection;
    let Some(level) = level else { return };
    let set = match conn.backend() {
        Backend::Postgres => {
            format!("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}")
        }
        _ => format!("SET SESSION TRANSACTION ISOLATION LEVEL {level}"),
    };
    conn.batch_execute(&set).unwrap();
}

/// One sync pass in batches of 1000 keys.
fn pass(
    db: &TestDb,
    conn: &mut AnyConnection,
    layout: &attrmig_tools::Layout,
    delete_extra: bool,
) -> Result<sync::Summary, attrmig_tools::ToolError> {
    let opts = sync::Options {
        batch_size: 1000,
        max_rows_per_second: None,
        restart: false,
        holder: "sync@test:1".into(),
        lookahead: lookahead(db),
        delete_extra,
    };
    sync::run(
        &mut shared(conn),
        layout,
        Step::DoubleWrite,
        &opts,
        &mut |_| {},
    )
}

/// A full cross-check finds old and new agreeing.
#[track_caller]
fn assert_agree(db: &TestDb, conn: &mut AnyConnection, layout: &attrmig_tools::Layout, what: &str) {
    let opts = crosscheck::Options {
        sample: None,
        batch_size: 500,
        max_report: 10,
        lookahead: lookahead(db),
    };
    let report = crosscheck::run(
        &mut shared(conn),
        layout,
        Step::Sync,
        "alice",
        &opts,
        &mut (),
    )
    .unwrap();
    assert!(report.counts.clean(), "{what}: {:?}", report.mismatches);
}

backend_tests! {
    fn a_double_write_in_flight_is_not_overwritten(db: &TestDb) {
        an_uncommitted_double_write_is_waited_for(db, Change::Write("in flight"), None);
    }

    fn a_delete_in_flight_is_not_undone(db: &TestDb) {
        an_uncommitted_double_write_is_waited_for(db, Change::Delete, None);
    }
}

#[test]
fn a_double_write_in_flight_is_not_overwritten_on_mysql_read_committed() {
    let Some(db) = TestDb::mysql() else { return };
    an_uncommitted_double_write_is_waited_for(
        &db,
        Change::Write("in flight"),
        Some("READ COMMITTED"),
    );
}

#[test]
fn a_delete_in_flight_is_not_undone_on_mysql_read_committed() {
    let Some(db) = TestDb::mysql() else { return };
    an_uncommitted_double_write_is_waited_for(&db, Change::Delete, Some("READ COMMITTED"));
}

// --- sync --delete-extra -----------------------------------------------------------

/// A row only in new storage (key 142) that a double-write brings back to life meanwhile
/// (it inserts 142 into old, then upserts it into new, in one transaction): the removal
/// must leave the writer's row, whichever side it had written when the batch reached
/// it, and remove the other row only in new storage (143).
///
/// Without the batch's locks (the candidates deleted as found), the writer that wrote both
/// loses its row on PostgreSQL in READ COMMITTED and on MySQL/MariaDB at either level: the
/// DELETE waits for the writer's lock on the new row, then deletes it, never asking old
/// again. Without the share-mode read of old rows, on MySQL/MariaDB in REPEATABLE READ
/// (the second look reads the transaction's old snapshot). Seen failing both ways.
fn an_insert_in_flight_keeps_its_row(db: &TestDb, held: Held, isolation: Option<&str>) {
    // No old row before the writer's: the copy has no batch, whose locking read would
    // wait for the writer (on MySQL its range scan meets the writer's uncommitted row) and
    // so keep the removal from meeting it.
    named_users(db, 0);
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(db, &plan);
    db.execute(
        "INSERT INTO users_pii (user_id, full_name) VALUES (142, 'orphan'), (143, 'orphan')",
    );
    let writer = hold_double_write(db, 142, Change::Write("in flight"), held);
    set_isolation(&mut conn, isolation);
    let summary = pass(db, &mut conn, &layout, true);
    writer.join().unwrap();
    let summary = summary.unwrap();
    assert_eq!(
        text(
            &mut conn,
            "SELECT MAX(full_name) AS t FROM users_pii WHERE user_id = 142"
        ),
        Some("in flight".to_owned()),
        "{held:?}: the removal deleted the row the writer wrote meanwhile"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM users_pii WHERE user_id = 143"
        ),
        0,
        "{held:?}"
    );
    // 143, and 142 too where the batch got there before the writer wrote new (the
    // writer's upsert then inserted it afresh).
    let removed = match held {
        Held::AfterBoth => 1..=1,
        Held::BetweenOldAndNew => 1..=2,
    };
    assert!(
        removed.contains(&summary.removed),
        "{held:?}: {} removed",
        summary.removed
    );
    assert_agree(db, &mut conn, &layout, &format!("{held:?}"));
}

backend_tests! {
    fn a_removal_leaves_a_double_write_that_wrote_both(db: &TestDb) {
        an_insert_in_flight_keeps_its_row(db, Held::AfterBoth, None);
    }

    fn a_removal_leaves_a_double_write_that_wrote_old(db: &TestDb) {
        an_insert_in_flight_keeps_its_row(db, Held::BetweenOldAndNew, None);
    }
}

/// Both positions of the held double-write at isolation `level`, each on a fresh database
/// from `fresh` (skipped when its server is not configured).
fn removal_at_isolation(fresh: fn() -> Option<TestDb>, level: &str) {
    for held in [Held::AfterBoth, Held::BetweenOldAndNew] {
        let Some(db) = fresh() else { return };
        an_insert_in_flight_keeps_its_row(&db, held, Some(level));
    }
}

#[test]
fn a_removal_leaves_a_double_write_on_postgres_repeatable_read() {
    removal_at_isolation(TestDb::postgres, "REPEATABLE READ");
}

#[test]
fn a_removal_leaves_a_double_write_on_mysql_read_committed() {
    removal_at_isolation(TestDb::mysql, "READ COMMITTED");
}

backend_tests! {
    /// The same traffic while `--delete-extra` removes rows only in new storage, some of
    /// whose keys the writers create (in old and new) or delete meanwhile: afterwards old
    /// and new agree, and no row the writers wrote is gone.
    fn no_double_write_is_lost_while_extra_rows_are_removed(db: &TestDb) {
        const EXTRA: i64 = 300;
        named_users(db, KEYS as u64);
        db.execute(&insert(
            "users_pii",
            "user_id, full_name",
            (KEYS + 1..=KEYS + EXTRA).map(|k| format!("({k}, 'orphan {k}')")),
        ));
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let Traffic { stop, writers, .. } = traffic(db, KEYS + EXTRA);
        let opts = sync::Options { batch_size: 25, max_rows_per_second: Some(2_000), restart: false, holder: "sync@test:1".into(), lookahead: lookahead(db), delete_extra: true };
        let summary = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts, &mut |_| {}).unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        assert!(summary.removed > 0, "nothing was removed");
        assert_agree(db, &mut conn, &layout, &format!("{} removed; lost, brought back or left", summary.removed));
        // The writers' rows beyond the old keys are in both storages, and only theirs.
        let kept = count(&mut conn, &format!("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > {KEYS}"));
        let theirs = count(&mut conn, &format!("SELECT COUNT(*) AS n FROM users WHERE id > {KEYS}"));
        assert_eq!(kept, theirs);
    }
}
