//! The state store on every backend: schema setup, compare-and-swap, the audit chain,
//! and the evidence tables.

use attrmig_core::audit::{ChainBreak, now, verify_chain};
use attrmig_core::facts::{Counts, SyncStatus};
use attrmig_core::{EntryKind, Position, Step};
use attrmig_store::audit::{self, NewEntry};
use attrmig_store::cross_checks::{self, Mismatch, MismatchClass, NewRun};
use attrmig_store::data_issues::{self, Rejected};
use attrmig_store::{
    FingerprintChange, StoreError, approvals, fingerprints, intents, leases, migration, setup,
    sync_runs,
};
use attrmig_testing::{TestDb, backend_tests};
use diesel::connection::SimpleConnection;

fn advance(to: Step, actor: &str) -> NewEntry {
    NewEntry {
        kind: EntryKind::Advance,
        to: Position::At(to),
        actor: actor.into(),
        note: None,
        evidence: serde_json::json!({ "guards": [] }),
        fingerprint: FingerprintChange::Keep,
    }
}

backend_tests! {
    fn schema_is_created_once_and_a_newer_one_refused(db: &TestDb) {
        let mut conn = db.connect();
        assert_eq!(setup::schema_version(&mut conn).unwrap(), None);
        setup::ensure_schema(&mut conn).unwrap();
        setup::ensure_schema(&mut conn).unwrap();
        assert_eq!(setup::schema_version(&mut conn).unwrap(), Some(setup::SCHEMA_VERSION));

        conn.batch_execute("UPDATE attrmig_schema SET version = 99").unwrap();
        let err = setup::ensure_schema(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("upgrade attrmig"), "{err}");
    }

    fn compare_and_swap_lets_one_writer_win(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let m = migration::unregistered("users-full-name", now());
        assert_eq!(migration::get(&mut conn, "users-full-name").unwrap(), None);
        // Registering twice is harmless (the first append registers it too).
        migration::register(&mut conn, "users-full-name", now()).unwrap();
        migration::register(&mut conn, "users-full-name", now()).unwrap();
        assert_eq!(migration::get(&mut conn, "users-full-name").unwrap().unwrap().version, 0);

        let entry = NewEntry { fingerprint: FingerprintChange::Set("sha256:abc".into()), ..advance(Step::PrepareStorage, "alice") };
        audit::append(&mut conn, &m, entry, now(), |_, _| Ok::<_, StoreError>(())).unwrap();
        // A second writer that read version 0 loses, and learns who won and where it is.
        let err = audit::append(&mut conn, &m, advance(Step::PrepareStorage, "bob"), now(), |_, _| Ok::<_, StoreError>(())).unwrap_err();
        match err {
            StoreError::LostRace { now_at, by, .. } => {
                assert_eq!(now_at, Position::At(Step::PrepareStorage));
                assert_eq!(by.as_deref(), Some("alice"));
            }
            other => panic!("{other}"),
        }
        let m = migration::get(&mut conn, "users-full-name").unwrap().unwrap();
        assert_eq!((m.version, m.storage_fingerprint.as_deref()), (1, Some("sha256:abc")));
        assert_eq!(audit::log(&mut conn, "users-full-name").unwrap().len(), 1, "the loser wrote nothing");
    }

    fn the_audit_chain_verifies_and_catches_tampering(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let mut m = migration::unregistered("m", now());
        for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
            audit::append(&mut conn, &m, advance(step, "alice"), now(), |_, _| Ok::<_, StoreError>(())).unwrap();
            m = migration::get(&mut conn, "m").unwrap().unwrap();
        }
        let approve = NewEntry { kind: EntryKind::Approve, to: m.position, ..advance(Step::DoubleWrite, "bob") };
        let at = now();
        audit::append(&mut conn, &m, approve, at, |conn, e| approvals::record(conn, "m", m.version + 1, &e.actor, at)).unwrap();
        let m = migration::get(&mut conn, "m").unwrap().unwrap();
        let log = audit::log(&mut conn, "m").unwrap();
        assert_eq!(log.len(), 4);
        verify_chain(&log, m.version, m.position).unwrap();
        if db.backend() != attrmig_db::Backend::Sqlite {
            assert!(log[0].0.db_user.is_some(), "servers record the database user");
        }
        let history = audit::history(&log);
        assert_eq!(history.reached.len(), 3);
        assert_eq!(approvals::rows(&mut conn, "m").unwrap()[0].approver, "bob");
        assert_eq!(audit::verify(&mut conn, "m").unwrap(), Ok(4));

        conn.batch_execute("UPDATE attrmig_transitions SET actor = 'mallory' WHERE version = 2").unwrap();
        let log = audit::log(&mut conn, "m").unwrap();
        assert!(verify_chain(&log, m.version, m.position).is_err());
        assert_eq!(audit::verify(&mut conn, "m").unwrap(), Err(ChainBreak::Altered { version: 2 }));
    }

    fn an_append_refuses_to_extend_a_broken_chain(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let m = migration::unregistered("m", now());
        audit::append(&mut conn, &m, advance(Step::PrepareStorage, "alice"), now(), |_, _| Ok::<_, StoreError>(())).unwrap();
        // The step edited by hand: an entry appended now would start at 4 and link to
        // entry 1, and the edit would verify from then on.
        conn.batch_execute("UPDATE attrmig_migrations SET step = 'sync' WHERE id = 'm'").unwrap();
        let m = migration::get(&mut conn, "m").unwrap().unwrap();
        let hook_ran = std::cell::Cell::new(false);
        let err = audit::append(&mut conn, &m, advance(Step::DoubleReadOld, "alice"), now(), |_, _| {
            hook_ran.set(true);
            Ok::<_, StoreError>(())
        })
        .unwrap_err();
        match err {
            StoreError::ChainBroken { id, chain: ChainBreak::PositionMismatch { replayed, stored } } => {
                assert_eq!(id, "m");
                assert_eq!((replayed, stored), (Position::At(Step::PrepareStorage), Position::At(Step::Sync)));
            }
            other => panic!("{other}"),
        }
        assert!(!hook_ran.get(), "nothing runs alongside a refused entry");
        let after = migration::get(&mut conn, "m").unwrap().unwrap();
        assert_eq!((after.version, after.position), (1, Position::At(Step::Sync)), "the row is untouched");
        assert_eq!(audit::log(&mut conn, "m").unwrap().len(), 1, "no entry written");
        // An approval row with no entry breaks it too.
        conn.batch_execute("UPDATE attrmig_migrations SET step = 'prepare-storage' WHERE id = 'm'").unwrap();
        approvals::record(&mut conn, "m", 2, "bob", now()).unwrap();
        assert!(matches!(
            audit::verify(&mut conn, "m").unwrap(),
            Err(ChainBreak::ApprovalUnrecorded { version: 2, .. })
        ));
    }

    fn cross_check_runs_record_and_reconcile(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let new = NewRun { migration_id: "m", sample: None, step: Step::PrepareStorage, actor: "alice" };
        let r1 = cross_checks::start(&mut conn, &new, now()).unwrap();
        let r2 = cross_checks::start(&mut conn, &NewRun { sample: Some(100), ..new.clone() }, now()).unwrap();
        assert_eq!((r1, r2), (1, 2));
        let counts = Counts { matching: 9, missing_in_new: 1, ..Counts::default() };
        let mismatch = Mismatch {
            key: "7".into(),
            field: "full_name".into(),
            class: MismatchClass::MissingInNew,
            old: Some("Ada".into()),
            new: None,
        };
        cross_checks::finish(&mut conn, "m", r1, counts, std::slice::from_ref(&mismatch), now()).unwrap();
        // Run 2's process "died": its heartbeat is stale.
        assert_eq!(cross_checks::reconcile(&mut conn, "m", now() + chrono::Duration::minutes(5)).unwrap(), 1);
        let recent = cross_checks::recent(&mut conn, "m", 10).unwrap();
        assert_eq!(recent[0].status, cross_checks::CheckStatus::Interrupted);
        assert_eq!(recent[1].mismatches, vec![mismatch]);
        let finished = cross_checks::finished(&mut conn, "m").unwrap();
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].counts, counts);
        assert!(finished[0].full);
    }

    fn sync_passes_checkpoints_and_data_issues(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let pass = sync_runs::start(&mut conn, "m", Step::DoubleWrite, "alice", now()).unwrap();
        assert_eq!(pass.pass, 1);
        let progress = sync_runs::BatchProgress { scanned: 10, written: 9, rejected: 1 };
        sync_runs::checkpoint(&mut conn, "m", 1, "10", progress, now()).unwrap();
        sync_runs::checkpoint(&mut conn, "m", 1, "20", progress, now()).unwrap();
        data_issues::record(&mut conn, "m", Rejected { key: "13", old_value: Some("x"), error: "too long", pass: 1 }, now()).unwrap();
        data_issues::record(&mut conn, "m", Rejected { key: "13", old_value: Some("xy"), error: "still too long", pass: 1 }, now()).unwrap();
        assert_eq!(data_issues::unresolved(&mut conn, "m").unwrap(), 1);
        let issue = &data_issues::list(&mut conn, "m", false).unwrap()[0];
        assert_eq!((issue.attempts, issue.error.as_str(), issue.old_value.as_deref()), (2, "still too long", Some("xy")));
        data_issues::resolve(&mut conn, "m", "13", now()).unwrap();
        assert_eq!(data_issues::unresolved(&mut conn, "m").unwrap(), 0);
        assert_eq!(data_issues::list(&mut conn, "m", true).unwrap().len(), 1);

        assert_eq!(sync_runs::reconcile(&mut conn, "m", now() + chrono::Duration::minutes(5)).unwrap(), 1);
        let run = sync_runs::get(&mut conn, "m", 1).unwrap().unwrap();
        assert_eq!((run.status, run.checkpoint.as_deref(), run.rows_scanned, run.rows_written), (SyncStatus::Interrupted, Some("20"), 20, 18));
        sync_runs::resume(&mut conn, "m", 1, "bob", now()).unwrap();
        sync_runs::end(&mut conn, "m", 1, SyncStatus::Completed, now()).unwrap();
        let facts = sync_runs::facts(&mut conn, "m").unwrap();
        assert_eq!(facts[0].status, SyncStatus::Completed);
        assert!(facts[0].finished_at.is_some());
    }

    fn leases_exclude_and_expire(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let ttl = chrono::Duration::seconds(30);
        let t0 = now();
        assert_eq!(leases::acquire(&mut conn, "m", "sync", "alice", ttl, t0).unwrap(), Ok(()));
        let held = leases::acquire(&mut conn, "m", "sync", "bob", ttl, t0).unwrap().unwrap_err();
        assert_eq!(held.holder, "alice");
        assert!(leases::renew(&mut conn, "m", "sync", "alice", ttl, t0).unwrap());
        // Alice died; after expiry Bob takes over, and Alice can no longer renew.
        let later = t0 + chrono::Duration::seconds(31);
        assert_eq!(leases::acquire(&mut conn, "m", "sync", "bob", ttl, later).unwrap(), Ok(()));
        assert!(!leases::renew(&mut conn, "m", "sync", "alice", ttl, later).unwrap());
        leases::release(&mut conn, "m", "sync", "bob").unwrap();
        assert_eq!(leases::holder(&mut conn, "m", "sync", later).unwrap(), None);
    }

    fn fingerprints_and_intents(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let rows: Vec<(String, String)> = (0..4500).map(|i| (i.to_string(), format!("{i:032x}"))).collect();
        fingerprints::insert(&mut conn, "m", &rows).unwrap();
        assert_eq!(fingerprints::count(&mut conn, "m").unwrap(), 4500);
        let found = fingerprints::lookup(&mut conn, "m", &["7".into(), "4499".into(), "nope".into()]).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["7"], format!("{:032x}", 7));
        fingerprints::clear(&mut conn, "m").unwrap();
        assert_eq!(fingerprints::count(&mut conn, "m").unwrap(), 0);

        let n = intents::begin(&mut conn, "m", "ddl drop-old", "ALTER TABLE ...", "alice", now()).unwrap();
        assert_eq!(intents::unfinished(&mut conn, "m").unwrap().unwrap().intent, n);
        assert!(intents::finish(&mut conn, "m", n, "done", now()).unwrap());
        assert!(!intents::finish(&mut conn, "m", n, "done", now()).unwrap(), "closing twice does nothing");
        assert_eq!(intents::unfinished(&mut conn, "m").unwrap(), None);
    }
}

/// Two first runs at once: both succeed, the schema is created once.
#[test]
fn concurrent_first_runs_do_not_race_on_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            std::thread::spawn(move || {
                let mut conn = attrmig_db::connect(
                    &attrmig_db::DatabaseUrl::parse(&url, std::path::Path::new("/")).unwrap(),
                )
                .unwrap();
                setup::ensure_schema(&mut conn)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn concurrent_first_runs_do_not_race_on_sqlite() {
    let db = TestDb::sqlite();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            std::thread::spawn(move || {
                let mut conn = attrmig_db::connect(
                    &attrmig_db::DatabaseUrl::parse(&url, std::path::Path::new("/")).unwrap(),
                )
                .unwrap();
                setup::ensure_schema(&mut conn)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}
