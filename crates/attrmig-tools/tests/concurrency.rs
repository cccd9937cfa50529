//! A sync under live double-write traffic must not lose one of its writes.
//!
//! Writers update random keys throughout a sync, each write one transaction that writes
//! old then new, as the double-write contract asks (docs/tools.md). When the sync is done
//! and the writers have stopped, a full cross-check must be clean: a write the sync
//! overwrote with the stale old value it had read would show as `differs`.

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

/// The two statements of one double-write: old, then new.
fn double_write_statements(b: Backend, key: i64, value: &str) -> [Sql; 2] {
    let mut old = Sql::new(b);
    old.push("UPDATE users SET full_name = ")
        .bind(Bind::Text(value.into()))
        .push(" WHERE id = ")
        .bind(Bind::Int(key));
    let mut new = Sql::new(b);
    new.push("INSERT INTO users_pii (user_id, full_name) VALUES (")
        .bind(Bind::Int(key))
        .push(", ")
        .bind(Bind::Text(value.into()))
        .push(")");
    new.push(match b {
        Backend::Sqlite | Backend::Postgres => {
            " ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name"
        }
        Backend::Mysql => " ON DUPLICATE KEY UPDATE full_name = VALUES(full_name)",
    });
    [old, new]
}

fn double_write(conn: &mut AnyConnection, key: i64, value: &str) -> Result<(), DbError> {
    let [old, new] = double_write_statements(conn.backend(), key, value);
    write_transaction(conn, |c| {
        old.execute(c)?;
        new.execute(c)?;
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(|e| DbError::query("double-write", e))
}

fn writer(db_url: String, stop: Arc<AtomicBool>, writes: Arc<AtomicU64>, id: usize) {
    let url = attrmig_db::DatabaseUrl::parse(&db_url, std::path::Path::new("/")).unwrap();
    let mut conn = attrmig_db::connect(&url).unwrap();
    let mut rng = rand::rng();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = rng.random_range(1..=KEYS);
        n += 1;
        let value = format!("w{id}-{n}");
        match double_write(&mut conn, key, &value) {
            Ok(()) => {
                writes.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.diesel().is_some_and(is_transient) => {}
            Err(e) => panic!("writer {id}: {e}"),
        }
        // Application traffic has gaps; a writer in a hot loop would starve SQLite's
        // busy handler, which sleeps while a spinning writer takes the lock again.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

backend_tests! {
    fn no_double_write_is_lost_during_a_sync(db: &TestDb) {
        db.execute(&format!(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));\n{}\n{}",
            insert("users", "id, full_name", (1..=KEYS).map(|i| format!("({i}, 'name {i}')"))),
            new_table(db, "")
        ));
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..3)
            .map(|i| {
                let (url, stop, writes) = (db.url().to_owned(), stop.clone(), writes.clone());
                std::thread::spawn(move || writer(url, stop, writes, i))
            })
            .collect();
        while writes.load(Ordering::Relaxed) < 20 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let before = writes.load(Ordering::Relaxed);
        // Throttled so that the pass spans about 3 s of traffic on every backend.
        let opts = sync::Options { batch_size: 25, max_rows_per_second: Some(1_000), restart: false, holder: "sync@test:1".into(), lookahead: lookahead(db) };
        let summary = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts, &mut |_| {}).unwrap();
        let during = writes.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        assert!(during >= 5, "the writers must have written throughout the sync (only {during} writes)");
        assert_eq!(summary.scanned, KEYS as u64);

        let opts = crosscheck::Options { sample: None, batch_size: 500, max_report: 10, lookahead: lookahead(db) };
        let report = crosscheck::run(&mut shared(&mut conn), &layout, Step::Sync, "alice", &opts, &mut ()).unwrap();
        assert!(report.counts.clean(), "{} writes during the sync; lost: {:?}", during, report.mismatches);
        assert_eq!(report.counts.matching, KEYS as u64);
    }
}

/// A double-write that has written old and new but not yet committed when a batch reads
/// its row: the batch must wait for it and then leave its value alone. A batch that read
/// the old value without a lock (the last committed one) and then wrote new after the
/// writer committed would put the stale value back: one lost write, every time.
///
/// `isolation`: set on the sync's connection. READ COMMITTED matters on MySQL/MariaDB,
/// where `INSERT ... SELECT` reads its source without locks at that level, so only the
/// batch's own locking read protects the write.
fn an_uncommitted_double_write_is_waited_for(db: &TestDb, isolation: Option<&str>) {
    use diesel::connection::SimpleConnection;
    named_users(db, 100);
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(db, &plan);
    let (wrote, written) = std::sync::mpsc::channel();
    let url = db.url().to_owned();
    let writer = std::thread::spawn(move || {
        let url = attrmig_db::DatabaseUrl::parse(&url, std::path::Path::new("/")).unwrap();
        let mut conn = attrmig_db::connect(&url).unwrap();
        write_transaction(&mut conn, |c| {
            double_write_statements(c.backend(), 42, "in flight")
                .iter()
                .try_for_each(|s| s.execute(c).map(drop))?;
            wrote.send(()).unwrap();
            // The batch starts meanwhile and must wait for this commit.
            std::thread::sleep(std::time::Duration::from_millis(400));
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    written.recv().unwrap();
    if let Some(level) = isolation {
        conn.batch_execute(&format!("SET SESSION TRANSACTION ISOLATION LEVEL {level}"))
            .unwrap();
    }
    let opts = sync::Options {
        batch_size: 1000,
        max_rows_per_second: None,
        restart: false,
        holder: "sync@test:1".into(),
        lookahead: lookahead(db),
    };
    sync::run(
        &mut shared(&mut conn),
        &layout,
        Step::DoubleWrite,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(
        text(
            &mut conn,
            "SELECT full_name AS t FROM users_pii WHERE user_id = 42"
        )
        .as_deref(),
        Some("in flight"),
        "the sync overwrote the writer's value with the one it read before the writer committed"
    );
    let opts = crosscheck::Options {
        sample: None,
        batch_size: 500,
        max_report: 10,
        lookahead: lookahead(db),
    };
    let report = crosscheck::run(
        &mut shared(&mut conn),
        &layout,
        Step::Sync,
        "alice",
        &opts,
        &mut (),
    )
    .unwrap();
    assert!(report.counts.clean(), "{:?}", report.mismatches);
}

backend_tests! {
    fn a_double_write_in_flight_is_not_overwritten(db: &TestDb) {
        an_uncommitted_double_write_is_waited_for(db, None);
    }
}

#[test]
fn a_double_write_in_flight_is_not_overwritten_on_mysql_read_committed() {
    let Some(db) = TestDb::mysql() else { return };
    an_uncommitted_double_write_is_waited_for(&db, Some("READ COMMITTED"));
}
