//! Throughput and memory of the tools, against the single statement that does the same
//! work without batches, on every backend available (`cargo bench` / `just bench`).
//!
//! For each setup (`ATTRMIG_BENCH_BACKENDS`, default `sqlite,sqlite-bigint,pg,mysql`, each
//! server one when it is configured as for the tests) and size (1 and 10 million rows by
//! default; `ATTRMIG_BENCH_ROWS` = comma-separated sizes), `ATTRMIG_BENCH_REPEAT` times
//! (3 by default), the best run of each kept (this machine's run-to-run noise is ±25 %),
//! and each run's ratio (attrmig and its single statement timed back to back) with their
//! median, which the machine's drifting speed moves least:
//! - sync: `attrmig sync` at batch 10,000 into an empty new table, vs one
//!   `INSERT ... SELECT ... ON CONFLICT` (`ON DUPLICATE KEY UPDATE` on MySQL);
//! - full cross-check: `attrmig cross-check` of a synced table, vs one join counting
//!   mismatches;
//! - `attrmig cross-check --sample 10000`;
//! - peak resident memory of each `attrmig` process (its VmHWM, read from /proc).
//!
//! The tools run as the real release binary, so the numbers include what a user pays:
//! process start, state-store bookkeeping, checkpoints. Every timed run starts from the
//! same settled database (SQLite's WAL checkpointed; PostgreSQL vacuumed and
//! checkpointed), whatever ran before it. Results are printed as a
//! Markdown table for docs/benchmarks.md. Targets: sync and cross-check at least 0.8 of
//! their single statement's rows/s; the sample under one second on 10 million rows;
//! under 100 MB resident whatever the size.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use attrmig_db::Backend;
use attrmig_testing::TestDb;
use diesel::connection::SimpleConnection;

const ID: &str = "users-full-name";
const PLAN: &str = r#"
[old]
kind = "column"
table = "users"
key = "id"
column = "full_name"
[new]
table = "users_pii"
key = "user_id"
column = "full_name"
[sync]
batch_size = 10000
[guards]
soak = "0s"
"#;

struct Row {
    setup: &'static str,
    rows: u64,
    what: &'static str,
    /// attrmig's seconds, one per repetition.
    seconds: Vec<f64>,
    /// (which single statement, its seconds per repetition)
    baselines: Vec<(&'static str, Vec<f64>)>,
    max_rss_mb: f64,
}

/// What is measured: a backend, and how its tables declare their integer key.
struct Setup {
    name: &'static str,
    key: &'static str,
}

/// SQLite applications declare `INTEGER PRIMARY KEY`, which is the table's rowid; any
/// other spelling (`BIGINT PRIMARY KEY`) gets a separate index, read in key order.
const SQLITE: Setup = Setup {
    name: "SQLite",
    key: "INTEGER PRIMARY KEY",
};
const SQLITE_BIGINT: Setup = Setup {
    name: "SQLite, BIGINT key",
    key: "BIGINT NOT NULL PRIMARY KEY",
};
const POSTGRES: Setup = Setup {
    name: "PostgreSQL",
    key: "BIGINT NOT NULL PRIMARY KEY",
};
const MYSQL: Setup = Setup {
    name: "MariaDB",
    key: "BIGINT NOT NULL PRIMARY KEY",
};

fn fill_sql(backend: Backend, key: &str, rows: u64) -> String {
    let create = format!(
        "CREATE TABLE users (id {key}, full_name VARCHAR(255));
         CREATE TABLE users_pii (user_id {key}, full_name VARCHAR(255));"
    );
    let fill = match backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows})
             INSERT INTO users (id, full_name) SELECT n, 'user number ' || n FROM s;"
        ),
        Backend::Postgres => format!(
            "INSERT INTO users (id, full_name) SELECT n, 'user number ' || n FROM generate_series(1, {rows}) n; ANALYZE users;"
        ),
        // MariaDB caps recursive CTEs (max_recursive_iterations) and MySQL 8 names its
        // cap differently: seven cross-joined digit tables count to ten million.
        Backend::Mysql => {
            let digit = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                         UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
            let tables: Vec<String> = (0..7).map(|i| format!("{digit} d{i}")).collect();
            let number: Vec<String> = (0..7)
                .map(|i| format!("d{i}.d * {}", 10u64.pow(i)))
                .collect();
            format!(
                "INSERT INTO users (id, full_name) SELECT n, CONCAT('user number ', n) FROM \
                 (SELECT {} + 1 AS n FROM {}) s WHERE n <= {rows};",
                number.join(" + "),
                tables.join(", ")
            )
        }
    };
    let pragma = if backend == Backend::Sqlite {
        "PRAGMA journal_mode = WAL;"
    } else {
        ""
    };
    format!("{pragma}{create}\nBEGIN;\n{fill}\nCOMMIT;")
}

fn single_upsert(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite | Backend::Postgres => {
            "INSERT INTO users_pii (user_id, full_name) SELECT id, full_name FROM users WHERE full_name IS NOT NULL \
             ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name"
        }
        Backend::Mysql => {
            "INSERT INTO users_pii (user_id, full_name) SELECT id, full_name FROM users WHERE full_name IS NOT NULL \
             ON DUPLICATE KEY UPDATE full_name = VALUES(full_name)"
        }
    }
}

fn single_upsert_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite | Backend::Postgres => "INSERT ... SELECT ... ON CONFLICT",
        Backend::Mysql => "INSERT ... SELECT ... ON DUPLICATE KEY UPDATE",
    }
}

/// The same upsert, holding the same row locks as the sync (PostgreSQL only: MySQL and
/// MariaDB take their locks in a statement of their own, SQLite has no row locks).
fn single_locked_upsert(backend: Backend) -> Option<&'static str> {
    (backend == Backend::Postgres).then_some(
        "INSERT INTO users_pii (user_id, full_name) SELECT id, full_name FROM users WHERE full_name IS NOT NULL \
         FOR SHARE ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name",
    )
}

fn differ(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "o.full_name IS NOT n.full_name",
        Backend::Postgres => "o.full_name IS DISTINCT FROM n.full_name",
        Backend::Mysql => "NOT (o.full_name <=> n.full_name)",
    }
}

/// One join counting mismatches old to new: it can't see new rows without an old row.
fn single_left_join(backend: Backend) -> String {
    format!(
        "SELECT COUNT(*) FROM users o LEFT JOIN users_pii n ON n.user_id = o.id WHERE {}",
        differ(backend)
    )
}

/// One statement doing the cross-check's work: mismatches in both directions (a full
/// join; MySQL has none, so a left join plus the new rows without an old row).
fn single_full_join(backend: Backend) -> String {
    match backend {
        Backend::Sqlite | Backend::Postgres => format!(
            "SELECT COUNT(*) FROM users o FULL JOIN users_pii n ON n.user_id = o.id WHERE {}",
            differ(backend)
        ),
        Backend::Mysql => format!(
            "SELECT COUNT(*) FROM (SELECT o.id FROM users o LEFT JOIN users_pii n ON n.user_id = o.id WHERE {} \
             UNION ALL SELECT n.user_id FROM users_pii n WHERE n.full_name IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM users o WHERE o.id = n.user_id)) t",
            differ(backend)
        ),
    }
}

fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// The kernel's high-water mark of a process's resident memory, in MB.
fn vm_hwm_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Runs the real binary; returns seconds and peak resident memory. VmHWM only grows, so
/// its last reading before the process exits is its peak (give or take the last 10 ms).
fn attrmig(dir: &Path, args: &[&str]) -> (f64, f64) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_attrmig"))
        .args(args)
        .current_dir(dir)
        .env("ATTRMIG_ACTOR", "bench@example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run attrmig");
    let mut peak = f64::NAN;
    let status = loop {
        if let Some(mb) = vm_hwm_mb(child.id()) {
            peak = mb;
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let seconds = t.elapsed().as_secs_f64();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        matches!(status.code(), Some(0 | 4)),
        "attrmig {args:?} failed: {stderr}"
    );
    (seconds, peak)
}

/// Brings the database to the same state before every timed run, so that no run pays
/// for the one before it: SQLite's WAL checkpointed and truncated (a long WAL slows every
/// read), PostgreSQL's tables vacuumed and a checkpoint taken (dirty buffers and dead
/// rows from the last run).
fn settle(conn: &mut attrmig_db::AnyConnection) {
    let statements: &[&str] = match conn.backend() {
        Backend::Sqlite => &["PRAGMA wal_checkpoint(TRUNCATE)"],
        // One at a time: VACUUM can't run in the transaction a multi-statement query is.
        Backend::Postgres => &[
            "VACUUM ANALYZE users",
            "VACUUM ANALYZE users_pii",
            "CHECKPOINT",
        ],
        Backend::Mysql => &[],
    };
    for sql in statements {
        conn.batch_execute(sql).unwrap();
    }
}

fn bench(db: &TestDb, setup: &Setup, rows: u64, repeat: usize, results: &mut Vec<Row>) {
    let name = setup.name;
    eprintln!("{name}: loading {rows} rows...");
    db.execute(&fill_sql(db.backend(), setup.key, rows));
    let dir = db.dir().join("project");
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    std::fs::write(
        dir.join("attrmig.toml"),
        format!("[environments.dev]\ndatabase_url = {:?}\n", db.url()),
    )
    .unwrap();
    std::fs::write(dir.join(format!("plans/{ID}.toml")), PLAN).unwrap();
    let mut conn = db.connect();
    // As after step 1: a new table with no rows and no free pages of its own (SQLite
    // reuses a deleted table's pages, journaling each one a batch's savepoint touches).
    let empty_new = |conn: &mut attrmig_db::AnyConnection| {
        let sql = match conn.backend() {
            Backend::Sqlite => "DELETE FROM users_pii; VACUUM",
            Backend::Postgres | Backend::Mysql => "TRUNCATE TABLE users_pii",
        };
        conn.batch_execute(sql).unwrap();
        settle(conn);
    };

    // Reach step 3 so that the sync may run (its cross-check is a full run too).
    for args in [
        &["advance", ID][..],
        &["cross-check", ID],
        &["advance", ID],
        &["advance", ID, "--note", "bench"],
    ] {
        attrmig(&dir, args);
    }

    let mut upserts: Vec<(&'static str, Vec<f64>)> =
        vec![(single_upsert_name(db.backend()), Vec::new())];
    let locked = single_locked_upsert(db.backend());
    if locked.is_some() {
        upserts.push(("the same, FOR SHARE (the sync's locks)", Vec::new()));
    }
    let (mut syncs, mut sync_rss) = (Vec::new(), 0f64);
    for run in 1..=repeat {
        eprintln!("{name}: sync, run {run} of {repeat}...");
        empty_new(&mut conn);
        let plain = timed(|| conn.batch_execute(single_upsert(db.backend())).unwrap());
        upserts[0].1.push(plain);
        if let Some(locked) = locked {
            empty_new(&mut conn);
            upserts[1]
                .1
                .push(timed(|| conn.batch_execute(locked).unwrap()));
        }
        // Each run is a new pass over an empty new table.
        empty_new(&mut conn);
        let (seconds, rss) = attrmig(&dir, &["sync", ID]);
        syncs.push(seconds);
        sync_rss = sync_rss.max(rss);
    }
    results.push(Row {
        setup: name,
        rows,
        what: "sync, batch 10,000",
        seconds: syncs,
        baselines: upserts,
        max_rss_mb: sync_rss,
    });

    let mut joins: Vec<(&'static str, Vec<f64>)> = vec![
        ("one LEFT JOIN (old to new only)", Vec::new()),
        ("one join both ways (same work)", Vec::new()),
    ];
    let (mut checks, mut check_rss) = (Vec::new(), 0f64);
    let (mut samples, mut sample_rss) = (Vec::new(), 0f64);
    for run in 1..=repeat {
        eprintln!("{name}: cross-check, run {run} of {repeat}...");
        settle(&mut conn);
        let left = single_left_join(db.backend());
        joins[0]
            .1
            .push(timed(|| conn.batch_execute(&left).unwrap()));
        settle(&mut conn);
        let full = single_full_join(db.backend());
        joins[1]
            .1
            .push(timed(|| conn.batch_execute(&full).unwrap()));
        settle(&mut conn);
        let (seconds, rss) = attrmig(&dir, &["cross-check", ID]);
        checks.push(seconds);
        check_rss = check_rss.max(rss);
        settle(&mut conn);
        let (seconds, rss) = attrmig(&dir, &["cross-check", ID, "--sample", "10000"]);
        samples.push(seconds);
        sample_rss = sample_rss.max(rss);
    }
    results.push(Row {
        setup: name,
        rows,
        what: "full cross-check",
        seconds: checks,
        baselines: joins,
        max_rss_mb: check_rss,
    });
    results.push(Row {
        setup: name,
        rows,
        what: "cross-check --sample 10000",
        seconds: samples,
        baselines: Vec::new(),
        max_rss_mb: sample_rss,
    });
}

fn best(seconds: &[f64]) -> f64 {
    seconds.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` and IDE probes: nothing to list
    }
    let sizes: Vec<u64> = std::env::var("ATTRMIG_BENCH_ROWS")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("ATTRMIG_BENCH_ROWS: comma-separated row counts")
        })
        .collect();
    let repeat: usize = std::env::var("ATTRMIG_BENCH_REPEAT")
        .map_or(3, |r| {
            r.parse().expect("ATTRMIG_BENCH_REPEAT: a number of runs")
        })
        .max(1);
    // ATTRMIG_BENCH_BACKENDS=sqlite,sqlite-bigint,pg,mysql (the default: every one available).
    let wanted = std::env::var("ATTRMIG_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,sqlite-bigint,pg,mysql".into());
    let wants = |b: &str| wanted.split(',').any(|w| w.trim() == b);
    let mut results = Vec::new();
    for &rows in &sizes {
        if wants("sqlite") {
            bench(&TestDb::sqlite(), &SQLITE, rows, repeat, &mut results);
        }
        if wants("sqlite-bigint") {
            bench(
                &TestDb::sqlite(),
                &SQLITE_BIGINT,
                rows,
                repeat,
                &mut results,
            );
        }
        if let Some(db) = wants("pg").then(TestDb::postgres).flatten() {
            bench(&db, &POSTGRES, rows, repeat, &mut results);
        }
        if let Some(db) = wants("mysql").then(TestDb::mysql).flatten() {
            bench(&db, &MYSQL, rows, repeat, &mut results);
        }
    }
    println!(
        "| setup | rows | operation | attrmig, best of {repeat} | single statement | its rows/s, best of {repeat} | ratio of bests | ratio per run | median ratio | peak RSS |"
    );
    println!("|---|---:|---|---:|---|---:|---:|---|---:|---:|");
    for r in &results {
        let rate = r.rows as f64 / best(&r.seconds);
        let shown = if r.what.contains("sample") {
            format!("{:.3} s", best(&r.seconds))
        } else {
            format!("{rate:.0} rows/s")
        };
        let rss = format!("{:.0} MB", r.max_rss_mb);
        if r.baselines.is_empty() {
            println!(
                "| {} | {} | {} | {shown} | - | - | - | - | - | {rss} |",
                r.setup, r.rows, r.what
            );
        }
        for (which, seconds) in &r.baselines {
            let base = r.rows as f64 / best(seconds);
            // The same run's two timings, side by side.
            let per_run: Vec<f64> = seconds
                .iter()
                .zip(&r.seconds)
                .map(|(single, ours)| single / ours)
                .collect();
            let shown_runs: Vec<String> = per_run.iter().map(|x| format!("{x:.2}")).collect();
            println!(
                "| {} | {} | {} | {shown} | {which} | {base:.0} | {:.2} | {} | {:.2} | {rss} |",
                r.setup,
                r.rows,
                r.what,
                rate / base,
                shown_runs.join(", "),
                median(&per_run)
            );
        }
    }
}
