//! Every sync batch is fenced: it commits only if, inside its own transaction, the
//! migration is still below 8 and the lease is still its runner's. Here the state changes
//! under a running pass between two of its batches (from the pass's own progress
//! callback, on another connection), as a slow runner would find it when it wakes.

mod common;

use attrmig_core::{EntryKind, Plan, Position, Step};
use attrmig_db::AnyConnection;
use attrmig_store::audit::{self, NewEntry};
use attrmig_store::migration::{self, FingerprintChange};
use attrmig_testing::{TestDb, backend_tests};
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

fn opts(db: &TestDb) -> sync::Options {
    sync::Options {
        batch_size: 10,
        max_rows_per_second: None,
        restart: false,
        holder: "sync@test:1".into(),
        lookahead: lookahead(db),
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
        let mut other = db.connect();
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
                        advance_to(&mut other, &plan, Step::StopWritingOld);
                        other
                            .batch_execute(
                                "DELETE FROM users_pii; \
                                 INSERT INTO users_pii (user_id, full_name) \
                                 SELECT id, 'written after 9' FROM users",
                            )
                            .unwrap();
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
