//! The late-write check of steps 9 and 10 beside one full read of old storage, on SQLite
//! and PostgreSQL (`cargo bench --bench late_writes`; `ATTRMIG_BENCH_ROWS`, default
//! `1000000,10000000`; `ATTRMIG_BENCH_BACKENDS`, default `sqlite,pg`;
//! `ATTRMIG_BENCH_REPEAT`, default 3, the best run kept and each run's ratios printed).
//!
//! Timed, each against the same settled table `users(id BIGINT key, full_name)`:
//! - **one full read**: every (key, old value) read to the client in key order, in
//!   keyset batches of 10,000 (what any check of every value has to do at least), and,
//!   for scale, the server's own scan (`SELECT COUNT(full_name)`);
//! - **reaching 9**: what the transition into 9 adds, the late-write trigger installed
//!   and the range digests taken and stored, in one transaction as `advance` runs it;
//! - **drop-old's check**: the ranges read again and compared (nothing changed: the
//!   common case, and the most work).
//!
//! Target (issue 17): reaching 9 and the check each at most 2x the full read.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::time::Instant;

use attrmig_db::{AnyConnection, Backend};
use attrmig_store::Conns;
use attrmig_testing::TestDb;
use attrmig_tools::{Layout, fingerprint, late_log};
use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

const PLAN: &str = "[old]\nkind = \"column\"\ntable = \"users\"\nkey = \"id\"\ncolumn = \"full_name\"\n\
                    [new]\ntable = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"\n";

fn fill(db: &TestDb, rows: u64) {
    let fill = match db.backend() {
        Backend::Sqlite => format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             BEGIN;
             WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows})
             INSERT INTO users (id, full_name) SELECT n, 'user number ' || n FROM s;
             COMMIT;
             PRAGMA wal_checkpoint(TRUNCATE);"
        ),
        _ => format!(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             INSERT INTO users (id, full_name) SELECT n, 'user number ' || n FROM generate_series(1, {rows}) n;"
        ),
    };
    db.execute(&fill);
    if db.backend() == Backend::Postgres {
        db.execute("VACUUM ANALYZE users");
    }
}

#[derive(QueryableByName)]
struct KeyValue {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    full_name: Option<String>,
}

/// Every (key, value) to the client, in key order, in keyset batches of 10,000.
fn full_read(conn: &mut AnyConnection) -> u64 {
    let p = |n| conn_placeholder(conn, n);
    let sql = format!(
        "SELECT id, full_name FROM users WHERE id > {} ORDER BY id LIMIT 10000",
        p(1)
    );
    let mut after = 0i64;
    let mut n = 0u64;
    loop {
        let rows: Vec<KeyValue> = diesel::sql_query(&sql)
            .bind::<diesel::sql_types::BigInt, _>(after)
            .load(conn)
            .expect("read users");
        let Some(last) = rows.last() else { return n };
        after = last.id;
        n += rows.iter().filter(|r| r.full_name.is_some()).count() as u64;
    }
}

fn conn_placeholder(conn: &AnyConnection, n: usize) -> String {
    conn.backend().placeholder(n)
}

fn server_scan(conn: &mut AnyConnection) {
    conn.batch_execute("SELECT COUNT(full_name) FROM users")
        .expect("scan users");
}

fn clear(conn: &mut AnyConnection, layout: &Layout) {
    late_log::remove(conn, layout).expect("remove the trigger");
    conn.batch_execute("DELETE FROM attrmig_old_ranges")
        .expect("clear the ranges");
}

fn settle(conn: &mut AnyConnection) {
    let statements: &[&str] = match conn.backend() {
        Backend::Sqlite => &["PRAGMA wal_checkpoint(TRUNCATE)"],
        _ => &["VACUUM users", "CHECKPOINT"],
    };
    for sql in statements {
        conn.batch_execute(sql).expect("settle the database");
    }
}

fn secs(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn bench(db: &TestDb, name: &str, rows: u64, repeat: usize) {
    let t = Instant::now();
    fill(db, rows);
    eprintln!(
        "{name}, {rows} rows: filled in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let plan = attrmig_plan::parse_plan(
        "users-full-name",
        Path::new("plans/users-full-name.toml"),
        PLAN,
    )
    .expect("the plan");
    let mut conn = db.connect();
    attrmig_store::setup::ensure_schema(&mut conn).expect("the state schema");
    let layout = Layout::resolve(&mut conn, &plan).expect("the layout");
    let (mut read, mut scan, mut nine, mut check) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat {
        settle(&mut conn);
        scan.push(secs(|| server_scan(&mut conn)));
        settle(&mut conn);
        read.push(secs(|| assert_eq!(full_read(&mut conn), rows)));
        clear(&mut conn, &layout);
        settle(&mut conn);
        nine.push(secs(|| {
            late_log::install(&mut conn, &layout).expect("install the trigger");
            attrmig_db::write_transaction(&mut conn, |c| {
                fingerprint::take(&mut Conns::Shared(c), &layout).map(|_| ())
            })
            .expect("take the fingerprint");
        }));
        settle(&mut conn);
        check.push(secs(|| {
            let found =
                fingerprint::check(&mut Conns::Shared(&mut conn), &layout, None).expect("check");
            assert!(found.is_clean());
        }));
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let ratios = |v: &[f64]| -> String {
        v.iter()
            .zip(&read)
            .map(|(a, r)| format!("{:.2}", a / r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| {name} | {rows} | {:.2} s | {:.2} s | {:.2} s ({:.2}x; runs {}) | {:.2} s ({:.2}x; runs {}) |",
        best(&scan),
        best(&read),
        best(&nine),
        best(&nine) / best(&read),
        ratios(&nine),
        best(&check),
        best(&check) / best(&read),
        ratios(&check),
    );
}

fn main() {
    let sizes: Vec<u64> = std::env::var("ATTRMIG_BENCH_ROWS")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("ATTRMIG_BENCH_ROWS: numbers"))
        .collect();
    let backends = std::env::var("ATTRMIG_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,pg".into());
    let repeat: usize = std::env::var("ATTRMIG_BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    println!("| backend | rows | server scan | one full read | reaching 9 | drop-old's check |");
    println!("|---|---|---|---|---|---|");
    for rows in sizes {
        if backends.contains("sqlite") {
            bench(&TestDb::sqlite(), "SQLite", rows, repeat);
        }
        if backends.contains("pg") {
            match TestDb::postgres() {
                Some(db) => bench(&db, "PostgreSQL", rows, repeat),
                None => eprintln!("PostgreSQL skipped: ATTRMIG_TEST_PG_URL is not set"),
            }
        }
    }
}
