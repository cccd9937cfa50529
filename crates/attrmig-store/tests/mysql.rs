//! The state store where MySQL/MariaDB make it hard: DDL that commits as it goes (schema
//! setup under a named lock, resumable after a kill), and times that must come back to
//! the microsecond for the audit chain to verify. The time test runs on every backend.

use attrmig_core::audit::verify_chain;
use attrmig_core::{EntryKind, Position, Step};
use attrmig_store::audit::{self, NewEntry};
use attrmig_store::{FingerprintChange, StoreError, migration, setup};
use attrmig_testing::{TestDb, backend_tests};
use chrono::{TimeZone, Utc};
use diesel::connection::SimpleConnection;

backend_tests! {
    /// The audit hash covers the entry's time: it must read back exactly as written.
    fn times_come_back_to_the_microsecond(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 11, 12).unwrap()
            + chrono::Duration::microseconds(123_456);
        let m = migration::unregistered("m", at);
        let entry = NewEntry {
            kind: EntryKind::Advance,
            to: Position::At(Step::PrepareStorage),
            actor: "alice".into(),
            note: None,
            evidence: serde_json::json!({}),
            fingerprint: FingerprintChange::Keep,
        };
        audit::append(&mut conn, &m, entry, at, |_, _| Ok::<_, StoreError>(())).unwrap();
        let log = audit::log(&mut conn, "m").unwrap();
        assert_eq!(log[0].0.at, at);
        let m = migration::get(&mut conn, "m").unwrap().unwrap();
        assert_eq!((m.created_at, m.updated_at), (at, at));
        verify_chain(&log, m.version, m.position).unwrap();
    }
}

fn connect(url: &str) -> attrmig_db::AnyConnection {
    attrmig_db::connect(&attrmig_db::DatabaseUrl::parse(url, std::path::Path::new("/")).unwrap())
        .unwrap()
}

/// Two first runs at once: both succeed, the schema is created once (the named lock).
#[test]
fn concurrent_first_runs_do_not_race_on_mysql() {
    let Some(db) = TestDb::mysql() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            std::thread::spawn(move || setup::ensure_schema(&mut connect(&url)))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let mut conn = db.connect();
    assert_eq!(
        setup::schema_version(&mut conn).unwrap(),
        Some(setup::SCHEMA_VERSION)
    );
}

/// A first run killed after some of the state tables were created (each CREATE TABLE
/// commits at once on MySQL): the schema does not read as complete, and the next run
/// completes it.
#[test]
fn a_schema_setup_killed_halfway_is_completed_by_the_next_run_on_mysql() {
    let Some(db) = TestDb::mysql() else { return };
    let up = include_str!("../migrations/mysql/20261121000001_attrmig_state_v1/up.sql");
    // Everything up to the fourth table, as a killed run would have left it.
    let cut = up
        .match_indices("CREATE TABLE")
        .nth(3)
        .map(|(i, _)| i)
        .unwrap();
    db.execute(&up[..cut]);
    let mut conn = db.connect();
    assert_eq!(
        setup::schema_version(&mut conn).unwrap(),
        None,
        "half a schema is no schema"
    );
    setup::ensure_schema(&mut conn).unwrap();
    assert_eq!(
        setup::schema_version(&mut conn).unwrap(),
        Some(setup::SCHEMA_VERSION)
    );
    conn.batch_execute("SELECT COUNT(*) FROM attrmig_intents")
        .unwrap();
    setup::ensure_schema(&mut conn).unwrap();
}

/// The upgrade to version 2 killed halfway (each ALTER TABLE commits at once on MySQL):
/// the schema still reads as version 1, the next run completes the upgrade, and every
/// statement of it can run again over what is already done.
#[test]
fn an_upgrade_to_2_killed_halfway_is_completed_by_the_next_run_on_mysql() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(include_str!(
        "../migrations/mysql/20261121000001_attrmig_state_v1/up.sql"
    ));
    db.execute(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20261121000001');
         INSERT INTO attrmig_data_issues (migration_id, row_key, old_value, error, pass, first_seen_at, last_seen_at, attempts)
           VALUES ('m', 'key 1', 'x', 'too long', 1, '2026-11-21 10:00:00', '2026-11-21 10:00:00', 1);",
    );
    let up = include_str!("../migrations/mysql/20261201000001_attrmig_state_v2/up.sql");
    // Up to the old fingerprints' part: the data issues already rekeyed by hash.
    let cut = up
        .match_indices("SET @attrmig_ddl")
        .nth(3)
        .map(|(i, _)| i)
        .unwrap();
    db.execute(&up[..cut]);
    let mut conn = db.connect();
    assert_eq!(
        setup::schema_version(&mut conn).unwrap(),
        Some(1),
        "half an upgrade is no upgrade"
    );
    setup::ensure_schema(&mut conn).unwrap();
    assert_eq!(
        setup::schema_version(&mut conn).unwrap(),
        Some(setup::SCHEMA_VERSION)
    );
    // All of it once more, over the finished upgrade: nothing fails, nothing is lost.
    db.execute(up);
    let issues = attrmig_store::data_issues::list(&mut conn, "m", false).unwrap();
    assert_eq!(
        issues.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["key 1"]
    );
    attrmig_store::fingerprints::insert(&mut conn, "m", &[("k".repeat(5_000), "d".into())])
        .unwrap();
}
