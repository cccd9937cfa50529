//! A sync killed mid-pass (SIGKILL: no cleanup at all) resumes where it stopped, and
//! loses or duplicates no row.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

const ID: &str = "users-full-name";
const ROWS: usize = 3_000;

fn killed_and_resumed(db: &TestDb) {
    let p = Project::new(db).with_users(ROWS).with_plan(ID, USERS_PLAN);
    crate::walk::walk_to_double_write(&p);

    // Throttled so that it is surely mid-pass when killed.
    let mut child = p
        .attrmig([
            "sync",
            ID,
            "--batch-size",
            "50",
            "--max-rows-per-second",
            "1000",
        ])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while p.count("SELECT COUNT(*) AS n FROM users_pii") < 500 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sync made no progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = p.count("SELECT COUNT(*) AS n FROM users_pii");
    assert!(
        copied < ROWS as i64,
        "killed mid-pass ({copied} rows copied)"
    );

    let status = p.attrmig(["--json", "status"]).run().ok().json();
    assert!(
        status["migrations"][0]["blocked_by"]
            .to_string()
            .contains("sync")
    );
    // The same machine's dead holder does not block; the pass resumes from its checkpoint.
    let out = p.attrmig(["sync", ID]).run().ok();
    assert!(
        out.stdout.contains("sync pass 1 (resumed) done"),
        "{}",
        out.stdout
    );
    let resumed_visits: u64 = out
        .stdout
        .split(" keys visited")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        resumed_visits < ROWS as u64,
        "resumed, not restarted: visited {resumed_visits}"
    );

    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM users_pii"),
        ROWS as i64,
        "no row lost"
    );
    assert_eq!(
        p.count("SELECT COUNT(DISTINCT user_id) AS n FROM users_pii"),
        ROWS as i64,
        "no row duplicated"
    );
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("3 double-write → 4 sync");
}

backend_tests! {
    fn a_killed_sync_resumes_from_its_checkpoint(db: &TestDb) {
        killed_and_resumed(db);
    }
}

backend_tests! {
    /// `sync --delete-extra` killed while it removes rows only in new storage (after the
    /// copy): the pass is interrupted, and `sync --delete-extra` resumes it, walks the new
    /// keys again and removes what is left.
    fn a_removal_killed_midway_resumes(db: &TestDb) {
        let p = Project::new(db).with_users(100).with_plan(ID, USERS_PLAN);
        crate::walk::walk_to_double_write(&p);
        let strays: Vec<String> = (1001..=1600).map(|k| format!("({k}, 'stray')")).collect();
        p.sql(&format!("INSERT INTO users_pii (user_id, full_name) VALUES {}", strays.join(", ")));
        let mut child = p
            .attrmig(["--json", "sync", ID, "--delete-extra", "--batch-size", "20", "--max-rows-per-second", "400"])
            .into_command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 1000") > 450 {
            assert!(started.elapsed() < Duration::from_secs(60), "the removal made no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let left = p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 1000");
        assert!(left > 0, "killed midway ({left} left)");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id <= 100"), 100, "the copy was done");
        let out = p.attrmig(["sync", ID, "--delete-extra"]).run().ok();
        assert!(out.stdout.contains("sync pass 1 (resumed) done"), "{}", out.stdout);
        assert!(out.stdout.contains(&format!("{} only in new storage removed", if left == 1 { "1 row".to_owned() } else { format!("{left} rows") })), "{}", out.stdout);
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");
        p.attrmig(["advance", ID]).run().ok();
    }
}
