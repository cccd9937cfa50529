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

fn runner(holder: &str, token: &str) -> leases::Runner {
    leases::Runner {
        holder: holder.into(),
        token: token.into(),
        host: "host".into(),
        pid: 1,
        boot_id: None,
        pid_ns: None,
        proc_start: None,
    }
}

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
        let pass = sync_runs::start(&mut conn, "m", Step::DoubleWrite, "alice", "token-a", now()).unwrap();
        assert_eq!(pass.pass, 1);
        let progress = sync_runs::BatchProgress { scanned: 10, written: 9, rejected: 1 };
        assert!(sync_runs::checkpoint(&mut conn, "m", 1, "token-a", "10", progress, now()).unwrap());
        assert!(sync_runs::checkpoint(&mut conn, "m", 1, "token-a", "20", progress, now()).unwrap());
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
        sync_runs::resume(&mut conn, "m", 1, "bob", "token-b", now()).unwrap();
        // The pass is Bob's now: Alice, woken late, can't move it back or end it.
        assert!(!sync_runs::checkpoint(&mut conn, "m", 1, "token-a", "10", progress, now()).unwrap());
        assert!(!sync_runs::end(&mut conn, "m", 1, "token-a", SyncStatus::Interrupted, now()).unwrap());
        assert!(!sync_runs::interrupt(&mut conn, "m", 1, "token-a", "stale", now()).unwrap());
        assert!(sync_runs::end(&mut conn, "m", 1, "token-b", SyncStatus::Completed, now()).unwrap());
        let run = sync_runs::get(&mut conn, "m", 1).unwrap().unwrap();
        assert_eq!((run.checkpoint.as_deref(), run.rows_scanned, run.holder.as_str()), (Some("20"), 20, "bob"));
        let facts = sync_runs::facts(&mut conn, "m").unwrap();
        assert_eq!(facts[0].status, SyncStatus::Completed);
        assert!(facts[0].finished_at.is_some());

        // A pass that stops on an error keeps it.
        sync_runs::start(&mut conn, "m", Step::DoubleWrite, "carol", "token-c", now()).unwrap();
        assert!(sync_runs::interrupt(&mut conn, "m", 2, "token-c", "the disk said no", now()).unwrap());
        let run = sync_runs::get(&mut conn, "m", 2).unwrap().unwrap();
        assert_eq!((run.status, run.error.as_deref()), (SyncStatus::Interrupted, Some("the disk said no")));
    }

    fn leases_exclude_and_expire(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let ttl = chrono::Duration::seconds(30);
        let t0 = now();
        let (alice, bob) = (runner("alice@host:1", "token-a"), runner("alice@host:1", "token-b"));
        let take = |conn: &mut _, who: &leases::Runner, at| {
            leases::acquire(conn, "m", leases::SYNC, "sync", who, ttl, at, &|_| false).unwrap()
        };
        assert_eq!(take(&mut conn, &alice, t0), Ok(()));
        // The same holder name in another PID namespace is another runner: its token differs.
        let Err(leases::NotGranted::Held(held)) = take(&mut conn, &bob, t0) else { panic!("granted twice") };
        assert_eq!((held.runner.holder.as_str(), held.tool.as_str()), ("alice@host:1", "sync"));
        assert!(leases::renew(&mut conn, "m", leases::SYNC, "token-a", ttl, t0).unwrap());
        // Alice died; after expiry Bob takes over, and Alice can no longer renew.
        let later = t0 + chrono::Duration::seconds(31);
        assert_eq!(take(&mut conn, &bob, later), Ok(()));
        assert!(!leases::renew(&mut conn, "m", leases::SYNC, "token-a", ttl, later).unwrap());
        // Releasing someone else's lease does nothing.
        leases::release(&mut conn, "m", leases::SYNC, "token-a").unwrap();
        assert!(leases::holder(&mut conn, "m", leases::SYNC, later).unwrap().is_some());
        leases::release(&mut conn, "m", leases::SYNC, "token-b").unwrap();
        assert_eq!(leases::holder(&mut conn, "m", leases::SYNC, later).unwrap(), None);

        // A live holder that the caller can tell is dead is taken over at once.
        assert_eq!(take(&mut conn, &alice, later), Ok(()));
        let dead_alice = |r: &leases::Runner| r.token == "token-a";
        assert_eq!(leases::acquire(&mut conn, "m", leases::SYNC, "sync", &bob, ttl, later, &dead_alice).unwrap(), Ok(()));
        assert_eq!(leases::live(&mut conn, "m", later, true).unwrap().len(), 1);
    }

    fn the_fence_refuses_a_lost_lease_and_a_retired_step(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let ttl = chrono::Duration::seconds(30);
        let alice = runner("alice@host:1", "token-a");
        let take = |conn: &mut _, who: &leases::Runner, at| {
            leases::acquire(conn, "m", leases::SYNC, "sync", who, ttl, at, &|_| false).unwrap()
        };
        // At step 0 (nothing recorded) the lease alone decides.
        assert_eq!(take(&mut conn, &alice, now()), Ok(()));
        assert_eq!(leases::fence(&mut conn, "m", leases::SYNC, "token-a").unwrap(), Ok(()));
        assert_eq!(
            leases::fence(&mut conn, "m", leases::SYNC, "token-x").unwrap(),
            Err(leases::Fenced::LeaseLost { now_held_by: Some("alice@host:1".into()) })
        );
        let m = migration::unregistered("m", now());
        audit::append(&mut conn, &m, advance(Step::PrepareStorage, "alice"), now(), |_, _| Ok::<_, StoreError>(())).unwrap();
        assert_eq!(leases::fence(&mut conn, "m", leases::SYNC, "token-a").unwrap(), Ok(()));
        // The migration reaches 8: the fence closes, and no tool may start.
        conn.batch_execute("UPDATE attrmig_migrations SET step = 'delete-tools'").unwrap();
        assert_eq!(
            leases::fence(&mut conn, "m", leases::SYNC, "token-a").unwrap(),
            Err(leases::Fenced::Retired { at: Step::DeleteTools })
        );
        leases::release(&mut conn, "m", leases::SYNC, "token-a").unwrap();
        assert_eq!(take(&mut conn, &alice, now()), Err(leases::NotGranted::Retired { at: Step::DeleteTools }));
        assert_eq!(
            leases::fence(&mut conn, "m", leases::SYNC, "token-a").unwrap(),
            Err(leases::Fenced::Retired { at: Step::DeleteTools })
        );
        conn.batch_execute("UPDATE attrmig_migrations SET step = 'sync'").unwrap();
        assert_eq!(
            leases::fence(&mut conn, "m", leases::SYNC, "token-a").unwrap(),
            Err(leases::Fenced::LeaseLost { now_held_by: None })
        );
    }

    fn data_issues_and_fingerprints_take_unbounded_keys(db: &TestDb) {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).unwrap();
        let long = "k".repeat(10_000);
        let cased = ["a", "A"];
        for key in [long.as_str(), cased[0], cased[1]] {
            data_issues::record(&mut conn, "m", Rejected { key, old_value: Some("v"), error: "e", pass: 1 }, now()).unwrap();
        }
        let keys: Vec<String> = data_issues::list(&mut conn, "m", false).unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(keys.len(), 3, "'a' and 'A' are two keys");
        assert!(keys.contains(&long));
        data_issues::resolve(&mut conn, "m", &long, now()).unwrap();
        assert_eq!(data_issues::resolve_keys(&mut conn, "m", &["A".into()], now()).unwrap(), 1);
        assert_eq!(data_issues::unresolved(&mut conn, "m").unwrap(), 1);

        fingerprints::insert(&mut conn, "m", &[(long.clone(), "d1".into()), ("a".into(), "d2".into()), ("A".into(), "d3".into())]).unwrap();
        let found = fingerprints::lookup(&mut conn, "m", &[long.clone(), "A".into()]).unwrap();
        assert_eq!((found[&long].as_str(), found["A"].as_str()), ("d1", "d3"));
    }

    /// A state written at version 1 (its own migration, run alone) upgrades to this
    /// binary's version with every data issue and fingerprint still found by its key.
    fn version_1_upgrades_with_its_rows(db: &TestDb) {
        let mut conn = db.connect();
        let v1 = match db.backend() {
            attrmig_db::Backend::Sqlite => include_str!("../migrations/sqlite/20261121000001_attrmig_state_v1/up.sql"),
            attrmig_db::Backend::Postgres => include_str!("../migrations/postgres/20261121000001_attrmig_state_v1/up.sql"),
            attrmig_db::Backend::Mysql => include_str!("../migrations/mysql/20261121000001_attrmig_state_v1/up.sql"),
        };
        conn.batch_execute(v1).unwrap();
        // diesel's own record of having run it, as a version 1 binary leaves it.
        conn.batch_execute(
            "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
             INSERT INTO __diesel_schema_migrations (version) VALUES ('20261121000001');",
        ).unwrap();
        conn.batch_execute(
            "INSERT INTO attrmig_data_issues (migration_id, row_key, old_value, error, pass, first_seen_at, last_seen_at, attempts)
               VALUES ('m', 'key 1', 'x', 'too long', 1, '2026-11-21 10:00:00', '2026-11-21 10:00:00', 1),
                      ('m', 'clé 2', 'y', 'too long', 1, '2026-11-21 10:00:00', '2026-11-21 10:00:00', 1);
             INSERT INTO attrmig_old_fingerprints (migration_id, row_key, digest) VALUES ('m', 'key 1', 'd1'), ('m', 'clé 2', 'd2');
             INSERT INTO attrmig_leases (migration_id, purpose, holder, acquired_at, expires_at)
               VALUES ('m', 'sync', 'old@host:7', '2026-11-21 10:00:00', '2026-11-21 10:01:00');
             INSERT INTO attrmig_sync_runs (migration_id, pass, status, step, holder, started_at, heartbeat_at, checkpoint, rows_scanned, rows_written, rows_rejected)
               VALUES ('m', 1, 'interrupted', 'double-write', 'old@host:7', '2026-11-21 10:00:00', '2026-11-21 10:00:00', '40', 40, 40, 0);",
        ).unwrap();
        assert_eq!(setup::schema_version(&mut conn).unwrap(), Some(1));
        setup::ensure_schema(&mut conn).unwrap();
        assert_eq!(setup::schema_version(&mut conn).unwrap(), Some(setup::SCHEMA_VERSION));

        data_issues::resolve(&mut conn, "m", "clé 2", now()).unwrap();
        let open: Vec<String> = data_issues::list(&mut conn, "m", false).unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(open, ["key 1"], "the upgrade's hashes are the ones the binary computes");
        let found = fingerprints::lookup(&mut conn, "m", &["key 1".into(), "clé 2".into()]).unwrap();
        assert_eq!((found["key 1"].as_str(), found["clé 2"].as_str()), ("d1", "d2"));
        let pass = sync_runs::get(&mut conn, "m", 1).unwrap().unwrap();
        assert_eq!((pass.checkpoint.as_deref(), pass.error), (Some("40"), None));
        // A version 1 lease has no token: nobody's fence passes it, and it lapses as before.
        let lease = leases::holder(&mut conn, "m", leases::SYNC, chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:30Z").unwrap().into()).unwrap().unwrap();
        assert_eq!((lease.runner.holder.as_str(), lease.runner.token.as_str()), ("old@host:7", ""));
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
