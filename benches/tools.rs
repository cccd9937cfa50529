//! Throughput and memory of the tools, against the single statement that does the same
//! work without batches, on every backend available (`cargo bench` / `just bench`).
//!
//! For each backend (`ATTRMIG_BENCH_BACKENDS`, default `sqlite,pg,mysql`, each when its
//! server is configured as for the tests) and size (1 and 10 million rows by default;
//! `ATTRMIG_BENCH_ROWS` = comma-separated sizes):
//! - sync: `attrmig sync` at batch 10,000 into an empty new table, vs one
//!   `INSERT ... SELECT ... ON CONFLICT` (`ON DUPLICATE KEY UPDATE` on MySQL);
//! - full cross-check: `attrmig cross-check` of a synced table, vs one join counting
//!   mismatches;
//! - `attrmig cross-check --sample 10000`;
//! - peak resident memory of each `attrmig` process (its VmHWM, read from /proc).
//!
//! The tools run as the real release binary, so the numbers include what a user pays:
//! process start, state-store bookkeeping, checkpoints. Results are printed as a
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
    backend: &'static str,
    rows: u64,
    what: &'static str,
    seconds: f64,
    /// (which single statement, its seconds)
    baselines: Vec<(&'static str, f64)>,
    max_rss_mb: Option<f64>,
}

fn fill_sql(backend: Backend, rows: u64) -> String {
    let create = "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
                  CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));";
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

fn bench(db: &TestDb, name: &'static str, rows: u64, results: &mut Vec<Row>) {
    eprintln!("{name}: loading {rows} rows...");
    db.execute(&fill_sql(db.backend(), rows));
    let dir = db.dir().join("project");
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    std::fs::write(
        dir.join("attrmig.toml"),
        format!("[environments.dev]\ndatabase_url = {:?}\n", db.url()),
    )
    .unwrap();
    std::fs::write(dir.join(format!("plans/{ID}.toml")), PLAN).unwrap();
    let mut conn = db.connect();

    let reset = |conn: &mut attrmig_db::AnyConnection| {
        conn.batch_execute("DELETE FROM users_pii").unwrap();
        if db.backend() == Backend::Postgres {
            conn.batch_execute("VACUUM ANALYZE users_pii").unwrap();
        }
    };
    eprintln!("{name}: single-statement upserts...");
    let mut sync_baselines = vec![(
        "INSERT ... SELECT ... ON CONFLICT",
        timed(|| conn.batch_execute(single_upsert(db.backend())).unwrap()),
    )];
    reset(&mut conn);
    if let Some(locked) = single_locked_upsert(db.backend()) {
        sync_baselines.push((
            "the same, FOR SHARE",
            timed(|| conn.batch_execute(locked).unwrap()),
        ));
        reset(&mut conn);
    }

    // Reach step 3 so that the sync may run (its cross-check is a full run too).
    for args in [
        &["advance", ID][..],
        &["cross-check", ID],
        &["advance", ID],
        &["advance", ID, "--note", "bench"],
    ] {
        attrmig(&dir, args);
    }
    eprintln!("{name}: attrmig sync...");
    let (sync, sync_rss) = attrmig(&dir, &["sync", ID]);
    results.push(Row {
        backend: name,
        rows,
        what: "sync, batch 10,000",
        seconds: sync,
        baselines: sync_baselines,
        max_rss_mb: Some(sync_rss),
    });

    if db.backend() == Backend::Postgres {
        conn.batch_execute("VACUUM ANALYZE users_pii").unwrap();
    }
    eprintln!("{name}: single-statement joins...");
    let left = timed(|| conn.batch_execute(&single_left_join(db.backend())).unwrap());
    let full = timed(|| conn.batch_execute(&single_full_join(db.backend())).unwrap());
    eprintln!("{name}: attrmig cross-check...");
    let (check, check_rss) = attrmig(&dir, &["cross-check", ID]);
    let check_baselines = vec![
        ("one LEFT JOIN (old to new only)", left),
        ("one join both ways (same work)", full),
    ];
    results.push(Row {
        backend: name,
        rows,
        what: "full cross-check",
        seconds: check,
        baselines: check_baselines,
        max_rss_mb: Some(check_rss),
    });
    let (sample, sample_rss) = attrmig(&dir, &["cross-check", ID, "--sample", "10000"]);
    results.push(Row {
        backend: name,
        rows,
        what: "cross-check --sample 10000",
        seconds: sample,
        baselines: Vec::new(),
        max_rss_mb: Some(sample_rss),
    });
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
    // ATTRMIG_BENCH_BACKENDS=sqlite,pg,mysql (the default: every one available).
    let wanted =
        std::env::var("ATTRMIG_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,pg,mysql".into());
    let wants = |b: &str| wanted.split(',').any(|w| w.trim() == b);
    let mut results = Vec::new();
    for &rows in &sizes {
        if wants("sqlite") {
            bench(&TestDb::sqlite(), "SQLite", rows, &mut results);
        }
        if let Some(db) = wants("pg").then(TestDb::postgres).flatten() {
            bench(&db, "PostgreSQL", rows, &mut results);
        }
        if let Some(db) = wants("mysql").then(TestDb::mysql).flatten() {
            bench(&db, "MariaDB", rows, &mut results);
        }
    }
    println!(
        "| backend | rows | operation | attrmig | single statement | its rows/s | ratio | peak RSS |"
    );
    println!("|---|---:|---|---:|---|---:|---:|---:|");
    for r in &results {
        let rate = r.rows as f64 / r.seconds;
        let shown = if r.what.contains("sample") {
            format!("{:.3} s", r.seconds)
        } else {
            format!("{rate:.0} rows/s")
        };
        let rss = r.max_rss_mb.map_or("-".into(), |m| format!("{m:.0} MB"));
        if r.baselines.is_empty() {
            println!(
                "| {} | {} | {} | {shown} | - | - | - | {rss} |",
                r.backend, r.rows, r.what
            );
        }
        for (which, seconds) in &r.baselines {
            let base = r.rows as f64 / seconds;
            println!(
                "| {} | {} | {} | {shown} | {which} | {base:.0} | {:.2} | {rss} |",
                r.backend,
                r.rows,
                r.what,
                rate / base
            );
        }
    }
}
