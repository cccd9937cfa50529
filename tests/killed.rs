//! A sync killed mid-pass (SIGKILL: no cleanup at all) resumes where it stopped, and
//! loses or duplicates no row.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

const ID: &str = "users-full-name";
const ROWS: usize = 3_000;

fn killed_and_resumed(db: &TestDb) {
    let p = Project::new(db).with_users(ROWS).with_plan(ID, USERS_PLAN);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 1"]).run().ok();

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
