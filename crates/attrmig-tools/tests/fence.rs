//! Every sync batch is fenced: it commits only if, inside its own transaction, the
//! migration is still below 8 and the lease is still its runner's. Here the state changes
//! under a running pass between two of its batches (from the pass's own progress
//! callback, on another connection), as a slow runner would find it when it wakes.

mod common;

use attrmig_core::facts::SyncStatus;
use attrmig_core::{EntryKind, Plan, Position, Step};
use attrmig_db::AnyConnection;
use attrmig_store::audit::{self, NewEntry};
use attrmig_store::migration::{self, FingerprintChange};
use attrmig_store::{leases, sync_runs};
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::ToolError;
use attrmig_tools::lease::Lease;
use attrmig_tools::sync::{self, Event};
use common::*;
use diesel::connection::SimpleConnection;

/// Moves `plan`'s migration up to `to` through the store (guards skipped: an advance
/// that slipped past a running sync, as every advance did before the fence).
fn advance_to(conn: &mut AnyConnection, plan: &Plan, to: Step) {
    let id = plan.id.as_str();
    loop {
        let record = migration::get(conn, id)
            .unwrap()
            .unwrap_or_else(|| migration::unregistered(id, attrmig_core::audit::now()));
        let Some(next) = record.position.next().filter(|n| *n <= to) else {
            return;
        };
        let entry = NewEntry {
            kind: EntryKind::Advance,
            to: Position::At(next),
            actor: "alice@example.com".into(),
            note: Some("release 1".into()),
            evidence: serde_json::json!({}),
            fingerprint: if next == Step::PrepareStorage {
                FingerprintChange::Set(plan.storage_fingerprint())
            } else {
                FingerprintChange::Keep
            },
        };
        audit::append(conn, &record, entry, attrmig_core::audit::now(), |_, _| {
            Ok::<(), attrmig_store::StoreError>(())
        })
        .unwrap();
    }
}

/// What a runner that slept through 8 and 9 wakes up to: the migration at 9 (advanced
/// on `state`), and the application writing new storage only (on `app`), every key.
fn past_9_with_new_writes(state: &mut AnyConnection, app: &mut AnyConnection, plan: &Plan) {
    advance_to(state, plan, Step::StopWritingOld);
    app.batch_execute(
        "DELETE FROM users_pii; \
         INSERT INTO users_pii (user_id, full_name) SELECT id, 'written after 9' FROM users",
    )
    .unwrap();
}

fn opts(db: &TestDb) -> sync::Options {
    sync::Options {
        batch_size: 10,
        max_rows_per_second: None,
        restart: false,
        holder: "sync@test:1".into(),
        lookahead: lookahead(db),
        delete_extra: false,
    }
}

backend_tests! {
    /// The migration reaches 8 and 9 after the pass's first batch, and the application
    /// then writes new storage only: the pass's next batch must write nothing.
    fn a_batch_after_the_step_reached_8_writes_nothing(db: &TestDb) {
        named_users(db, 100);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::PrepareOldStop);
        let (mut other, mut other_app) = (db.connect(), db.connect());
        let mut batches = 0;
        let result = sync::run(
            &mut shared(&mut conn),
            &layout,
            Step::PrepareOldStop,
            &opts(db),
            &mut |event| {
                if let Event::Batch { .. } = event {
                    batches += 1;
                    if batches == 1 {
                        past_9_with_new_writes(&mut other, &mut other_app, &plan);
                    }
                }
            },
        );
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii WHERE full_name <> 'written after 9'"),
            0,
            "a batch after 9 copied old values over new ones"
        );
        let err = result.expect_err("the pass must stop").to_string();
        assert!(err.contains("8 delete-tools"), "{err}");
        assert!(err.contains("wrote nothing"), "{err}");
        assert_eq!(batches, 1, "no batch after the first one");
    }
}

backend_tests! {
    /// `--delete-extra`'s batches are fenced like the copy's: the migration reaches 8
    /// after the first batch that removed rows, and no later batch removes anything.
    fn a_removal_batch_after_the_step_reached_8_removes_nothing(db: &TestDb) {
        named_users(db, 30);
        db.execute(&insert(
            "users_pii",
            "user_id, full_name",
            (31..=60).map(|k| format!("({k}, 'orphan {k}')")),
        ));
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::PrepareOldStop);
        let mut other = db.connect();
        let mut removals = 0;
        let opts = sync::Options { delete_extra: true, ..opts(db) };
        let result = sync::run(&mut shared(&mut conn), &layout, Step::PrepareOldStop, &opts, &mut |event| {
            if let Event::Removed { .. } = event {
                removals += 1;
                if removals == 1 {
                    advance_to(&mut other, &plan, Step::DeleteTools);
                }
            }
        });
        let err = result.expect_err("the pass must stop").to_string();
        assert!(err.contains("reached 8 delete-tools") && err.contains("wrote nothing more"), "{err}");
        assert_eq!(removals, 1, "no removal after the first one");
        // Batches of 10 new keys: the one that removed 31..=40 stands, 41..=60 are left.
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 40"), 20);
    }
}

/// With the state in another database, a batch's rows commit on the application
/// database and its checkpoint on the state database: the checkpoint may only claim
/// rows that are durable, so the sync must not relax the application connection's
/// durability there (it may where both commit in one transaction). A trigger on new
/// storage records the setting each batch's insert ran under.
fn a_split_sync_keeps_its_commits_durable(
    app: &TestDb,
    state: &TestDb,
    probe: &str,
    relaxed: &str,
) {
    named_users(app, 100);
    app.execute(probe);
    let plan = plan(COLUMN_PLAN);
    let (mut app_conn, layout) = open(app, &plan);
    let mut state_conn = state.connect();
    attrmig_store::setup::ensure_schema(&mut state_conn).unwrap();
    let mut conns = attrmig_store::Conns::Split {
        app: &mut app_conn,
        state: &mut state_conn,
    };
    sync::run(
        &mut conns,
        &layout,
        Step::DoubleWrite,
        &opts(app),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        count(&mut app_conn, "SELECT COUNT(*) AS n FROM users_pii"),
        100
    );
    let batches = count(&mut app_conn, "SELECT COUNT(*) AS n FROM durability");
    assert!(batches >= 10, "the probe saw {batches} inserts");
    let relaxed_batches = count(
        &mut app_conn,
        &format!("SELECT COUNT(*) AS n FROM durability WHERE setting = '{relaxed}'"),
    );
    assert_eq!(
        relaxed_batches, 0,
        "{relaxed_batches} of {batches} batches committed with relaxed durability"
    );
}

#[test]
fn a_split_sync_keeps_its_commits_durable_on_sqlite() {
    let (app, state) = (TestDb::sqlite(), TestDb::sqlite());
    // Relaxed durability applies to WAL mode (NORMAL is not crash-safe in rollback mode).
    app.execute("PRAGMA journal_mode = WAL");
    let probe = "CREATE TABLE durability (setting TEXT);
        CREATE TRIGGER users_pii_durability AFTER INSERT ON users_pii
        BEGIN INSERT INTO durability SELECT synchronous FROM pragma_synchronous; END;";
    a_split_sync_keeps_its_commits_durable(&app, &state, probe, "1");
}

#[test]
fn a_split_sync_keeps_its_commits_durable_on_postgres() {
    let (Some(app), Some(state)) = (TestDb::postgres(), TestDb::postgres()) else {
        return;
    };
    let probe = "CREATE TABLE durability (setting TEXT);
        CREATE FUNCTION log_durability() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO durability VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$;
        CREATE TRIGGER users_pii_durability AFTER INSERT ON users_pii
        FOR EACH STATEMENT EXECUTE FUNCTION log_durability();";
    a_split_sync_keeps_its_commits_durable(&app, &state, probe, "off");
}

/// A second runner takes the lease over, as it may once the lease lapsed.
fn take_over(conn: &mut AnyConnection, plan: &Plan) -> leases::Runner {
    let second = attrmig_tools::runner::here("bob@elsewhere:7".into());
    let after_ttl = attrmig_core::audit::now() + chrono::Duration::seconds(61);
    let ttl = chrono::Duration::seconds(60);
    leases::acquire(
        conn,
        plan.id.as_str(),
        leases::SYNC,
        "sync",
        &second,
        ttl,
        after_ttl,
        &|_| false,
    )
    .unwrap()
    .expect("a lapsed lease is taken over");
    second
}

/// ... and resumes the pass with its own token and completes it over `rows` keys (what
/// `attrmig sync` does when it finds the first runner's lease lapsed).
fn complete_the_pass(conn: &mut AnyConnection, plan: &Plan, second: &leases::Runner, rows: i64) {
    let id = plan.id.as_str();
    let pass = sync_runs::list(conn, id).unwrap().remove(0);
    let now = attrmig_core::audit::now();
    sync_runs::resume(conn, id, pass.pass, &second.holder, &second.token, now).unwrap();
    let progress = sync_runs::BatchProgress {
        scanned: rows - pass.rows_scanned,
        written: 0,
        rejected: 0,
    };
    let token = second.token.as_str();
    assert!(
        sync_runs::checkpoint(conn, id, pass.pass, token, &rows.to_string(), progress, now)
            .unwrap()
    );
    assert!(sync_runs::end(conn, id, pass.pass, token, SyncStatus::Completed, now).unwrap());
}

backend_tests! {
    /// The second case, deterministic: after the first batch another runner takes
    /// the lapsed lease over and completes the pass; the first runner's next batch must
    /// write nothing and leave that pass as it was.
    fn a_runner_whose_lease_was_taken_writes_nothing_and_leaves_the_pass_alone(db: &TestDb) {
        named_users(db, 100);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::DoubleWrite);
        let mut other = db.connect();
        let mut batches = 0;
        let result = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts(db), &mut |event| {
            if let Event::Batch { .. } = event {
                batches += 1;
                if batches == 1 {
                    let second = take_over(&mut other, &plan);
                    complete_the_pass(&mut other, &plan, &second, 100);
                    other.batch_execute("UPDATE users SET full_name = 'changed meanwhile'").unwrap();
                }
            }
        });
        let err = result.expect_err("the first runner must stop").to_string();
        assert!(err.contains("lost its lease on users-full-name to bob@elsewhere:7"), "{err}");
        assert!(err.contains("wrote nothing more"), "{err}");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 10, "only the first batch");
        let pass = sync_runs::list(&mut conn, "users-full-name").unwrap().remove(0);
        assert_eq!(
            (pass.status, pass.checkpoint.as_deref(), pass.rows_scanned, pass.holder.as_str(), pass.error),
            (SyncStatus::Completed, Some("100"), 100, "bob@elsewhere:7", None),
            "the second runner's pass is untouched"
        );
    }

    /// The fence is the lease's, for any unit of work behind it (a data-issues retry's
    /// key goes through the same `commit`): with the lease taken over, nothing commits.
    fn a_unit_of_work_behind_a_lost_lease_writes_nothing(db: &TestDb) {
        named_users(db, 10);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, _) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::DoubleWrite);
        let me = attrmig_tools::runner::here("alice@test:1".into());
        let mut lease = Lease::take(&mut conn, &plan, leases::SYNC, "data-issues --retry", me).unwrap();
        let insert = |c: &mut AnyConnection| {
            c.batch_execute("INSERT INTO users_pii (user_id, full_name) VALUES (1, 'written')")
                .map_err(|e| ToolError::query("insert", e))
        };
        lease.commit(&mut shared(&mut conn), insert, |_, _| Ok(())).unwrap();
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 1);

        let mut other = db.connect();
        take_over(&mut other, &plan);
        let insert_two = |c: &mut AnyConnection| {
            c.batch_execute("INSERT INTO users_pii (user_id, full_name) VALUES (2, 'stale')")
                .map_err(|e| ToolError::query("insert", e))
        };
        let err = lease.commit(&mut shared(&mut conn), insert_two, |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("this data-issues --retry lost its lease"), "{err}");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 1, "nothing more");
        // And the migration at 8: a retry can't even start.
        let mut fresh = db.connect();
        advance_to(&mut fresh, &plan, Step::DeleteTools);
        let me = attrmig_tools::runner::here("alice@test:1".into());
        let err = Lease::take(&mut conn, &plan, leases::SYNC, "data-issues --retry", me).unwrap_err();
        assert!(err.to_string().contains("deleted at step 8"), "{err}");
    }
}

/// With the state in another database, the fence holds the state transaction open
/// across the application's commit: a batch after the step reached 8 writes nothing
/// there either.
fn a_split_batch_after_the_step_reached_8_writes_nothing(app: &TestDb, state: &TestDb) {
    named_users(app, 100);
    let plan = plan(COLUMN_PLAN);
    let (mut app_conn, layout) = open(app, &plan);
    let mut state_conn = state.connect();
    attrmig_store::setup::ensure_schema(&mut state_conn).unwrap();
    advance_to(&mut state_conn, &plan, Step::PrepareOldStop);
    let (mut other_state, mut other_app) = (state.connect(), app.connect());
    let mut batches = 0;
    let mut conns = attrmig_store::Conns::Split {
        app: &mut app_conn,
        state: &mut state_conn,
    };
    let result = sync::run(
        &mut conns,
        &layout,
        Step::PrepareOldStop,
        &opts(app),
        &mut |event| {
            if let Event::Batch { .. } = event {
                batches += 1;
                if batches == 1 {
                    past_9_with_new_writes(&mut other_state, &mut other_app, &plan);
                }
            }
        },
    );
    let err = result.expect_err("the pass must stop").to_string();
    assert!(err.contains("8 delete-tools"), "{err}");
    assert_eq!(
        count(
            &mut app_conn,
            "SELECT COUNT(*) AS n FROM users_pii WHERE full_name <> 'written after 9'"
        ),
        0
    );
    let pass = sync_runs::list(&mut state_conn, "users-full-name")
        .unwrap()
        .remove(0);
    assert_eq!(
        (pass.status, pass.checkpoint.as_deref()),
        (SyncStatus::Interrupted, Some("10"))
    );
}

#[test]
fn a_split_batch_after_the_step_reached_8_writes_nothing_on_sqlite() {
    a_split_batch_after_the_step_reached_8_writes_nothing(&TestDb::sqlite(), &TestDb::sqlite());
}

#[test]
fn a_split_batch_after_the_step_reached_8_writes_nothing_on_postgres() {
    let (Some(app), Some(state)) = (TestDb::postgres(), TestDb::postgres()) else {
        return;
    };
    a_split_batch_after_the_step_reached_8_writes_nothing(&app, &state);
}

#[test]
fn a_split_batch_after_the_step_reached_8_writes_nothing_on_mysql() {
    let (Some(app), Some(state)) = (TestDb::mysql(), TestDb::mysql()) else {
        return;
    };
    a_split_batch_after_the_step_reached_8_writes_nothing(&app, &state);
}

backend_tests! {
    /// A runner whose lease was taken and given back meanwhile (the other runner finished)
    /// is told so, and what it says to do works: a sync goes on.
    fn a_runner_whose_lease_came_and_went_says_how_to_go_on(db: &TestDb) {
        named_users(db, 100);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::DoubleWrite);
        let mut other = db.connect();
        let mut batches = 0;
        let result = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts(db), &mut |event| {
            if let Event::Batch { .. } = event {
                batches += 1;
                if batches == 1 {
                    let second = take_over(&mut other, &plan);
                    leases::release(&mut other, "users-full-name", leases::SYNC, &second.token).unwrap();
                }
            }
        });
        let err = result.expect_err("the first runner must stop").to_string();
        assert!(
            err.ends_with("wrote nothing more (its earlier batches stand); `attrmig sync users-full-name` goes on (an interrupted pass resumes from its checkpoint)"),
            "{err}"
        );
        let summary = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts(db), &mut |_| {}).unwrap();
        assert!(summary.resumed, "the interrupted pass resumes");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 100);
    }
}

/// Counts a sample's chunks, sleeping after each so that the whole sample outlasts its
/// lease, and asks another connection, after the last, whether the lease is still live.
struct SlowChunks<'a> {
    other: &'a mut AnyConnection,
    id: String,
    chunks: u32,
    started: std::time::Instant,
    /// For each chunk after the lease's first life: whether a live lease was seen.
    live_after_ttl: Vec<bool>,
    ttl: std::time::Duration,
}

impl attrmig_tools::crosscheck::Progress for SlowChunks<'_> {
    fn batch(&mut self, _counts: &attrmig_core::facts::Counts) {
        self.chunks += 1;
        std::thread::sleep(self.ttl / 2);
        if self.started.elapsed() > self.ttl {
            let live =
                leases::live(self.other, &self.id, attrmig_core::audit::now(), false).unwrap();
            self.live_after_ttl.push(!live.is_empty());
        }
    }
}

backend_tests! {
    /// A sampled cross-check renews its lease between chunks as a full one does between
    /// batches: one that outlasts its lease's first life still holds it, so the advance
    /// to 8 still waits for it. (It didn't: a sample never renewed.)
    fn a_sampled_cross_check_keeps_its_lease_while_it_runs(db: &TestDb) {
        named_users(db, 3_000);
        let mut plan = plan(COLUMN_PLAN);
        plan.sync.lease_ttl = std::time::Duration::from_millis(1_200);
        let (mut conn, layout) = open(db, &plan);
        advance_to(&mut conn, &plan, Step::PrepareOldStop);
        let mut other = db.connect();
        let ttl = plan.sync.lease_ttl;
        let mut progress = SlowChunks {
            other: &mut other,
            id: plan.id.to_string(),
            chunks: 0,
            started: std::time::Instant::now(),
            live_after_ttl: Vec::new(),
            ttl,
        };
        let opts = attrmig_tools::crosscheck::Options {
            sample: Some(3_000),
            batch_size: 10_000,
            max_report: 10,
            lookahead: None,
        };
        let report = attrmig_tools::crosscheck::run(
            &mut shared(&mut conn),
            &layout,
            Step::PrepareOldStop,
            "alice",
            &opts,
            &mut progress,
        )
        .expect("the sample runs");
        assert_eq!(report.counts.compared(), 3_000, "{:?}", report.counts);
        assert!(progress.chunks >= 4, "a sample of several chunks ({})", progress.chunks);
        assert!(
            !progress.live_after_ttl.is_empty() && progress.live_after_ttl.iter().all(|l| *l),
            "the sample's lease lapsed while it ran: {:?}",
            progress.live_after_ttl
        );
    }
}
