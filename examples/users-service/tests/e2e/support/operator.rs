//! The person driving the migration: attrmig's engine (what every `attrmig` command
//! runs) on a project folder, as alice, or as bob for the second approval.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attrmig_core::Step;
use attrmig_core::fleet::{Counter, Counters, InstanceReport};
use attrmig_engine::{
    AdvanceRequest, Advanced, CrossCheckRequest, Engine, EngineError, Intent, MigrationFleet,
    Project, ProjectOptions, SyncRequest,
};

pub const ID: &str = "users-full-name";

/// The plan of the tests: observed, with times short enough for a test.
pub const PLAN: &str = r#"
description = "Move full_name out of users into users_pii"
owners = ["identity-team"]

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
batch_size = 400

[guards]
soak = "1s"
max_check_age = "1h"
approvals = 1

[fleet]
observed = true
instance_ttl = "3s"
min_compared_reads = 100
"#;

/// Writes attrmig.toml (the application's database, and the state's if apart) and the
/// plan into `root`.
pub fn write_project(root: &Path, database_url: &str, state_url: Option<&str>) {
    std::fs::create_dir_all(root.join("plans")).unwrap();
    let state = state_url.map_or(String::new(), |s| format!("state_url = {s:?}\n"));
    std::fs::write(
        root.join("attrmig.toml"),
        format!("[environments.dev]\ndatabase_url = {database_url:?}\n{state}"),
    )
    .unwrap();
    std::fs::write(root.join(format!("plans/{ID}.toml")), PLAN).unwrap();
}

/// The engine on the project, acting as one person.
pub struct Operator {
    pub engine: Engine,
    root: PathBuf,
}

/// A refusal as `attrmig` prints it: the message, or every failing guard's.
pub fn refusal(err: &EngineError) -> String {
    match err {
        EngineError::Blocked { checks, .. } => checks
            .iter()
            .filter_map(|c| {
                c.verdict
                    .as_ref()
                    .err()
                    .map(|r| format!("✗ {}: {r}", c.name))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

impl Operator {
    pub fn open(root: &Path, actor: &str) -> Operator {
        let project = Project::discover(&ProjectOptions {
            cwd: root.to_owned(),
            env: "dev".into(),
            database_url: None,
            plans: None,
        })
        .expect("the project");
        let engine = Engine::open(project, actor.to_owned()).expect("open the engine");
        Operator {
            engine,
            root: root.to_owned(),
        }
    }

    /// The same person, connected anew (after the state database came back).
    pub fn reopen(&mut self) {
        let actor = self.engine.actor.clone();
        *self = Operator::open(&self.root.clone(), &actor);
    }

    pub fn try_advance(&mut self, note: Option<&str>, confirm: bool) -> Result<Advanced, String> {
        self.engine
            .advance(&AdvanceRequest {
                id: ID.into(),
                to: None,
                intent: Intent {
                    note: note.map(str::to_owned),
                    confirm_point_of_no_return: confirm,
                },
                dry_run: false,
            })
            .map_err(|e| refusal(&e))
    }

    /// Advances, expecting every guard to pass now.
    pub fn advance(&mut self) -> Step {
        self.advance_with(None, false)
    }

    pub fn advance_with(&mut self, note: Option<&str>, confirm: bool) -> Step {
        match self.try_advance(note, confirm) {
            Ok(a) => a.to,
            Err(why) => panic!("advance from {} refused:\n{why}", self.step()),
        }
    }

    /// Advances as soon as the guards that wait for time (the soak, enough compared
    /// reads) pass; any other refusal fails at once.
    pub fn advance_when_ready(&mut self) -> Step {
        let start = Instant::now();
        loop {
            match self.try_advance(None, false) {
                Ok(a) => return a.to,
                Err(why) => {
                    let waits = why.lines().all(|l| {
                        l.starts_with("✗ soak:")
                            || (l.starts_with("✗ fleet-compared-reads:")
                                && l.contains("fewer than [fleet] min_compared_reads"))
                    });
                    assert!(
                        waits && start.elapsed() < Duration::from_secs(30),
                        "advance from {} refused:\n{why}",
                        self.step()
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    pub fn rollback(&mut self, reason: &str) -> Step {
        self.engine
            .rollback(ID, reason)
            .map_err(|e| refusal(&e))
            .expect("rollback")
            .position
            .step()
    }

    pub fn approve(&mut self) {
        self.engine.approve(ID, None).expect("approve");
    }

    pub fn ddl(&mut self, step: Step) {
        self.engine
            .ddl(ID, step, true, None)
            .map_err(|e| refusal(&e))
            .unwrap_or_else(|why| panic!("ddl {step} --apply refused: {why}"));
    }

    /// A sync pass, throttled to `rows_per_second` so that it runs a while beside the
    /// fleet's writes (`None`: the plan's pace).
    pub fn sync(&mut self, rows_per_second: Option<u32>) {
        self.engine
            .sync(
                &SyncRequest {
                    id: ID.into(),
                    batch_size: None,
                    max_rows_per_second: rows_per_second,
                    restart: false,
                    delete_extra: false,
                },
                &mut |_| {},
            )
            .map_err(|e| refusal(&e))
            .expect("sync");
    }

    /// A full cross-check; `true` when old and new agree.
    pub fn cross_check(&mut self) -> bool {
        self.engine
            .cross_check(
                &CrossCheckRequest {
                    id: ID.into(),
                    sample: None,
                    batch_size: None,
                    max_report: 20,
                },
                &mut (),
            )
            .map_err(|e| refusal(&e))
            .expect("cross-check")
            .counts
            .clean()
    }

    /// The migration's step.
    pub fn step(&mut self) -> Step {
        self.engine.mode(ID).expect("mode").step
    }

    /// `attrmig fleet ID`.
    pub fn fleet(&mut self) -> MigrationFleet {
        let mut view = self.engine.fleet(Some(ID)).expect("fleet");
        view.migrations.remove(0)
    }

    /// Every instance's last report.
    pub fn reports(&mut self) -> Vec<InstanceReport> {
        attrmig_store::fleet::reports(self.engine.session().state(), ID).expect("reports")
    }

    /// Waits until every live instance applies the migration's step, and `live` are.
    pub fn wait_converged(&mut self, live: usize) {
        let start = Instant::now();
        loop {
            let fleet = self.fleet();
            if fleet.summary.converged && fleet.summary.live == live {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the fleet did not converge on {} with {live} live instance(s): {:#?}",
                fleet.position,
                fleet.summary
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every count of every report, all periods.
pub fn totals(reports: &[InstanceReport]) -> Counters {
    let mut all = Counters::default();
    for r in reports {
        for p in &r.periods {
            all.add(&p.counters);
        }
    }
    all
}

/// The persistent mismatches the fleet reported, and what it compared.
pub fn mismatches(reports: &[InstanceReport]) -> (u64, u64) {
    let t = totals(reports);
    (t[Counter::Mismatches], t[Counter::Compared])
}
