//! Eight people advance the same migration at the same moment: exactly one transition is
//! recorded, and every other process is refused (exit 3) with a message naming the step
//! the winner reached.

use std::process::Stdio;

use crate::support::*;

const ID: &str = "users-full-name";

fn race(db: &TestDb) {
    let p = Project::new(db).with_users(10).with_plan(ID, USERS_PLAN);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    // The state schema exists before the race, so the race is about the transition.
    p.attrmig(["status"]).run().ok();
    let children: Vec<_> = (0..8)
        .map(|i| {
            p.attrmig(["advance", ID, "--to", "prepare-storage"])
                .actor(&format!("dev{i}@example.com"))
                .into_command()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let winners: Vec<_> = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {outputs:#?}");
    let winner = String::from_utf8_lossy(&winners[0].stdout);
    let who = winner
        .split(" by ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    for loser in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        let stderr = String::from_utf8_lossy(&loser.stderr);
        assert_eq!(loser.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("1 prepare-storage") && stderr.contains(&who),
            "names the winner's step and the winner: {stderr}"
        );
    }
    let log = p
        .attrmig(["--json", "log", ID, "--verify"])
        .run()
        .ok()
        .json();
    let advances = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "advance")
        .count();
    assert_eq!(advances, 1);
    assert_eq!(log["verification"]["result"], "intact");
}

#[test]
fn eight_processes_advance_at_once_on_postgres() {
    if let Some(db) = TestDb::postgres() {
        race(&db);
    }
}

#[test]
fn eight_processes_advance_at_once_on_mysql() {
    if let Some(db) = TestDb::mysql() {
        race(&db);
    }
}

#[test]
fn eight_processes_advance_at_once_on_sqlite() {
    race(&TestDb::sqlite());
}
