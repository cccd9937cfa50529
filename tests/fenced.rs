//! No tool writes after it is retired: a sync or cross-check that holds its lease blocks
//! the advance to 8; a runner paused until its lease lapsed, or one that outlived the
//! step, writes nothing when it wakes, and leaves the pass of the runner that took over
//! alone; a runner in another PID namespace is never mistaken for a dead one.
//!
//! Real processes, real signals (`kill -STOP`, `kill -CONT`, SIGKILL) and, for the PID
//! namespace, `unshare --pid --fork --mount-proc` (needs root; skipped with a message
//! otherwise).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::support::*;

const ID: &str = "users-full-name";
const ROWS: usize = 300;

/// USERS_PLAN with a lease that lapses 2 s after its holder's last renewal.
fn short_lease_plan() -> String {
    USERS_PLAN.replace("batch_size = 37", "batch_size = 37\nlease_ttl = \"2s\"")
}

/// A project whose migration is at 7 prepare-old-stop, new storage synced, the
/// hand-written tool already gone (so nothing but a running tool can block 8).
fn at_seven<'a>(db: &'a TestDb, plan: &str, rows: usize) -> Project<'a> {
    let p = Project::new(db).with_users(rows).with_plan(ID, plan);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run().code(4);
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 1"]).run().ok();
    p.attrmig(["sync", ID, "--batch-size", "1000"]).run().ok();
    p.attrmig(["cross-check", ID]).run().ok();
    for _ in [
        "sync",
        "double-read-old",
        "double-read-new",
        "stop-reading-old",
    ] {
        p.attrmig(["advance", ID]).run().ok();
    }
    p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("→ 7 prepare-old-stop");
    p
}

/// A running `attrmig` whose `--json` lines arrive on a channel.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn attrmig");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Waits for a line containing `needle` (a JSON Lines `type`, say).
    #[track_caller]
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?} ({e})"),
            }
        }
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal}");
    }

    /// Waits for it to exit; returns its exit code and what it said: stderr, then the
    /// lines of stdout not read yet (`--json` reports errors there).
    #[track_caller]
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut said = String::new();
                use std::io::Read;
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut said)
                    .unwrap();
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
                    said.push('\n');
                    said.push_str(&line);
                }
                return (status.code().unwrap_or(-1), said);
            }
            assert!(Instant::now() < deadline, "it did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `attrmig sync ID --json` paced to about `rows_per_second` keys a second, 10 a batch.
fn paced_sync(p: &Project<'_>, rows_per_second: u32) -> Command {
    p.attrmig([
        "--json",
        "sync",
        ID,
        "--batch-size",
        "10",
        "--max-rows-per-second",
        &rows_per_second.to_string(),
    ])
    .into_command()
}

/// `cmd` run as PID 1 of a new PID namespace with its own /proc (same host name, same
/// boot): the runner a lease must not mistake for dead. Killing the returned process
/// kills the runner.
fn in_new_pid_namespace(cmd: Command) -> Command {
    let mut wrapped = Command::new("unshare");
    // --kill-child: SIGKILL to `unshare` reaches the runner too (its parent-death signal).
    wrapped
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

#[allow(clippy::print_stderr)] // saying why the test is skipped
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: `unshare --pid --fork --mount-proc` needs root here");
    }
    ok
}

/// A statement's one text value, from the state tables in the application database.
fn state_text(p: &Project<'_>, sql: &str) -> String {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let mut conn = p.db.connect();
    diesel::sql_query(sql)
        .get_result::<T>(&mut conn)
        .unwrap_or_else(|e| panic!("{e}\nin: {sql}"))
        .t
}

/// The newest sync pass: status, keys scanned, checkpoint.
fn last_pass(p: &Project<'_>) -> (String, i64, String) {
    let pass = p.count("SELECT MAX(pass) AS n FROM attrmig_sync_runs");
    let column = |c: &str| format!("SELECT {c} FROM attrmig_sync_runs WHERE pass = {pass}");
    (
        state_text(p, &column("status AS t")),
        p.count(&column("rows_scanned AS n")),
        state_text(p, &column("checkpoint AS t")),
    )
}

backend_tests! {
    /// The first case: a throttled pass started at 7 used to keep running through
    /// 8 and 9 and copy stale old values over what the application wrote after 9.
    fn a_running_sync_blocks_the_advance_to_8(db: &TestDb) {
        let p = at_seven(db, USERS_PLAN, ROWS);
        // About 10 s for the pass: surely running when the advance comes.
        let sync = Running::spawn(paced_sync(&p, 30));
        sync.wait_for("\"progress\"");
        let refused = p.attrmig(["advance", ID]).run().code(3);
        refused.clone()
            .stderr_has("a sync of users-full-name is running")
            .stderr_has("alice@example.com@")
            .stderr_has("let it finish, or stop it")
            .stderr_has(&format!("kill {}", sync.child.id()));
        // Nothing moved.
        let show = p.attrmig(["--json", "status"]).run().ok().json();
        assert_eq!(show["migrations"][0]["position"], "7 prepare-old-stop", "{show:#}");

        // The advice: stop it. A runner stopped on this machine frees its lease at once.
        sync.signal("-KILL");
        let (code, _) = sync.finish();
        assert_ne!(code, 0);
        p.attrmig(["advance", ID]).run().ok().stdout_has("7 prepare-old-stop → 8 delete-tools");
    }

    /// The other advice: let it finish; then the advance passes.
    fn a_sync_that_finished_no_longer_blocks(db: &TestDb) {
        let p = at_seven(db, USERS_PLAN, 60);
        let sync = Running::spawn(paced_sync(&p, 40));
        sync.wait_for("\"progress\"");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("let it finish");
        let (code, stderr) = sync.finish();
        assert_eq!(code, 0, "{stderr}");
        p.attrmig(["advance", ID]).run().ok().stdout_has("→ 8 delete-tools");
    }

    /// The second case: a runner paused (SIGSTOP) between batches until its lease
    /// lapsed; a second runner took over and finished; the migration reached 9 and the
    /// application wrote new storage only. Resumed, the first runner used to commit one
    /// more batch of old values over new and rewind the second runner's pass.
    fn a_runner_paused_past_its_lease_writes_nothing_when_it_wakes(db: &TestDb) {
        let p = at_seven(db, &short_lease_plan(), ROWS);
        let first = Running::spawn(paced_sync(&p, 50));
        first.wait_for("\"progress\"");
        // Right after a batch's line the runner sleeps for its throttle: between batches.
        first.signal("-STOP");
        std::thread::sleep(Duration::from_millis(3_000));

        // The lease lapsed: a second runner takes the pass over and finishes it.
        p.attrmig(["sync", ID])
            .run()
            .ok()
            .stdout_has("(resumed) done");
        let finished = last_pass(&p);
        assert_eq!(finished, ("completed".into(), ROWS as i64, ROWS.to_string()));
        p.attrmig(["advance", ID]).run().ok().stdout_has("→ 8 delete-tools");
        p.attrmig(["approve", ID]).actor("bob@example.com").run().ok();
        p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
            .run()
            .ok()
            .stdout_has("→ 9 stop-writing-old");
        // From 9 on the application writes new storage only.
        p.sql("UPDATE users_pii SET full_name = 'written after 9'");

        first.signal("-CONT");
        let (code, stderr) = first.finish();
        assert_eq!(
            p.count("SELECT COUNT(*) AS n FROM users_pii WHERE full_name <> 'written after 9'"),
            0,
            "the woken runner copied old values over new ones ({stderr})"
        );
        assert_eq!(last_pass(&p), finished, "the woken runner rewound the pass that another runner completed");
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("wrote nothing"), "{stderr}");
    }

    /// The third case: a runner in another PID namespace, on the same host and
    /// boot, does not find the holder's pid in its /proc; it used to take the live lease
    /// at once. It may only take the lease once it lapsed.
    fn a_runner_in_another_pid_namespace_waits_for_the_lease(db: &TestDb) {
        if !can_unshare() {
            return;
        }
        let p = at_seven(db, &short_lease_plan(), ROWS);
        let holder = Running::spawn(paced_sync(&p, 30));
        holder.wait_for("\"progress\"");
        let out = Running::spawn(in_new_pid_namespace(p.attrmig(["sync", ID]).into_command()));
        let (code, stderr) = out.finish();
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("another sync is running for users-full-name"), "{stderr}");

        // Killed without a trace, the holder can't be seen dead from the other namespace:
        // refused until its lease lapses (2 s), then taken over.
        holder.signal("-KILL");
        let _ = holder.finish();
        let out = Running::spawn(in_new_pid_namespace(p.attrmig(["sync", ID]).into_command()));
        let (code, stderr) = out.finish();
        assert_eq!(code, 3, "{stderr}");
        std::thread::sleep(Duration::from_millis(2_500));
        let out = Running::spawn(in_new_pid_namespace(p.attrmig(["sync", ID]).into_command()));
        let (code, stderr) = out.finish();
        assert_eq!(code, 0, "{stderr}");
    }

    /// The refusal's last advice: a runner stopped where the advance can't see it (here,
    /// another PID namespace) frees its lease within the lease's TTL of stopping.
    fn a_runner_stopped_out_of_sight_blocks_8_until_its_lease_lapses(db: &TestDb) {
        if !can_unshare() {
            return;
        }
        let p = at_seven(db, &short_lease_plan(), ROWS);
        let holder = Running::spawn(in_new_pid_namespace(paced_sync(&p, 30)));
        holder.wait_for("\"progress\"");
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("a sync of users-full-name is running")
            .stderr_has("frees its lease within 2s of stopping");
        holder.signal("-KILL");
        let _ = holder.finish();
        p.attrmig(["advance", ID]).run().code(3).stderr_has("is running");
        std::thread::sleep(Duration::from_millis(2_500));
        p.attrmig(["advance", ID]).run().ok().stdout_has("→ 8 delete-tools");
    }

    /// A cross-check holds a lease too: while one runs (here, stopped mid-run), 8 waits.
    fn a_running_cross_check_blocks_the_advance_to_8(db: &TestDb) {
        let rows = 10_000;
        if db.backend() == attrmig_db::Backend::Sqlite {
            // A reader stopped mid-statement would hold off every writer in SQLite's
            // rollback-journal mode; in WAL mode (how SQLite serves concurrent work)
            // readers don't block writers.
            db.execute("PRAGMA journal_mode = WAL");
        }
        let p = at_seven(db, USERS_PLAN, rows);
        let check = Running::spawn(
            p.attrmig(["cross-check", ID, "--batch-size", "1"]).into_command(),
        );
        let started = Instant::now();
        while p.count("SELECT COUNT(*) AS n FROM attrmig_cross_check_runs WHERE status = 'running'") == 0 {
            assert!(started.elapsed() < Duration::from_secs(30), "the cross-check never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        check.signal("-STOP");
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("a cross-check of users-full-name is running")
            .stderr_has(&format!("kill {}", check.child.id()));
        check.signal("-KILL");
        let _ = check.finish();
        p.attrmig(["advance", ID]).run().ok().stdout_has("→ 8 delete-tools");
    }
}
