//! The step is the flag, on every backend: an instance applies the migration's step as
//! attrmig moves it, keeps its mode when the state database can't be read, and reports
//! what it does in a row attrmig reads back. A report that could not be written is
//! carried by the next one.

mod common;

use attrmig_app::Step;
use attrmig_core::Position;
use attrmig_core::fleet::Counter;
use common::*;

backend_tests! {
    fn the_instance_follows_advance_rollback_and_abandon(db: &TestDb) {
        let mut state = State::new(db);
        // Not registered yet: planned, old only.
        let instance = state.instance().open().unwrap();
        let m = instance.migration(ID).unwrap();
        assert_eq!(m.status().step, Step::Planned);
        assert!(!m.mode().write_new);
        for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
            state.set(ID, Position::At(step));
        }
        eventually("double-write is applied", || m.mode().write_new);
        let status = m.status();
        assert_eq!((status.step, status.seen, status.seen_version), (Step::DoubleWrite, Some(Position::At(Step::DoubleWrite)), Some(3)));
        assert!(!status.stale && !status.pinned);
        state.set(ID, Position::At(Step::CrossCheck));
        eventually("the rollback is applied", || !m.mode().write_new);
        state.set(ID, Position::Abandoned { at: Step::CrossCheck });
        eventually("abandoned is read", || m.status().seen == Some(Position::Abandoned { at: Step::CrossCheck }));
        assert_eq!(m.status().step, Step::Planned, "an abandoned migration is back to old only");
    }

    fn a_new_instance_starts_at_the_recorded_step(db: &TestDb) {
        let mut state = State::new(db);
        for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite, Step::Sync, Step::DoubleReadOld] {
            state.set(ID, Position::At(step));
        }
        let instance = state.instance().open().unwrap();
        assert_eq!(instance.mode(ID), attrmig_app::Mode::at(Step::DoubleReadOld));
    }

    fn reports_are_written_per_interval_and_read_back_by_attrmig(db: &TestDb) {
        let mut state = State::new(db);
        for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
            state.set(ID, Position::At(step));
        }
        let instance = state.instance().instance_id("web-1").host("host-a").open().unwrap();
        let m = instance.migration(ID).unwrap();
        for _ in 0..5 {
            m.write(|| Ok::<(), ()>(()), || Ok(())).unwrap();
        }
        let _ = m.write(|| Ok(()), || Err("new down"));
        eventually("a report with the writes", || {
            state.reports(ID).first().is_some_and(|r| r.current_counters()[Counter::WritesNew] == 6)
        });
        let r = state.reports(ID).remove(0);
        assert_eq!((r.identity.id.as_str(), r.identity.host.as_str(), r.identity.app_version.as_str()), ("web-1", "host-a", "test-1.0"));
        assert_eq!((r.step, r.pinned, r.stale, r.seen_step, r.seen_version), (Step::DoubleWrite, false, false, Some(Step::DoubleWrite), Some(3)));
        let c = r.current_counters();
        assert_eq!((c[Counter::WritesOld], c[Counter::WriteErrorsNew]), (6, 1));
        // The same counts are in the time buckets.
        let in_buckets: u64 = r.buckets.iter().map(|b| b.counters[Counter::WritesNew]).sum();
        assert_eq!(in_buckets, 6);
        assert!(r.buckets.iter().all(|b| b.start >= r.started_at - chrono::Duration::seconds(60) && b.end > b.start));
        // One row per instance, replaced by each report.
        let reported = r.reported_at;
        eventually("a later report replaces it", || state.reports(ID)[0].reported_at > reported);
        assert_eq!(state.reports(ID).len(), 1);

        // Pinned: the mode stays, and the report says so.
        m.pin(Step::DoubleReadOld);
        state.set(ID, Position::At(Step::Sync));
        // Two background loops: the refresh that sees 4 and the report that says so.
        eventually("the pin is reported, with the step seen since", || {
            let r = &state.reports(ID)[0];
            r.pinned && r.seen_step == Some(Step::Sync)
        });
        let r = state.reports(ID).remove(0);
        assert_eq!((r.step, r.seen_step), (Step::DoubleReadOld, Some(Step::Sync)));
        assert_eq!(r.periods.iter().map(|p| p.step).collect::<Vec<_>>(), [Step::DoubleWrite, Step::DoubleReadOld]);
        m.unpin();
        eventually("unpinned, it follows the migration again", || m.status().step == Step::Sync);
    }

    fn the_last_mode_is_kept_while_the_state_cannot_be_read(db: &TestDb) {
        let mut state = State::new(db);
        for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
            state.set(ID, Position::At(step));
        }
        let instance = state.instance().open().unwrap();
        let m = instance.migration(ID).unwrap();
        // The migrations table goes away: reads fail.
        db.execute("ALTER TABLE attrmig_migrations RENAME TO attrmig_migrations_away");
        eventually("the instance says it is stale", || instance.is_stale());
        assert!(m.status().stale);
        assert_eq!(m.status().step, Step::DoubleWrite, "the last mode is kept");
        eventually("the report says it is stale", || state.reports(ID).first().is_some_and(|r| r.stale));
        db.execute("ALTER TABLE attrmig_migrations_away RENAME TO attrmig_migrations");
        state.set(ID, Position::At(Step::Sync));
        eventually("back, and current", || !instance.is_stale() && m.status().step == Step::Sync);
    }

    fn a_report_that_could_not_be_written_is_carried_by_the_next(db: &TestDb) {
        let mut state = State::new(db);
        let instance = state.instance().instance_id("web-2").open().unwrap();
        let m = instance.migration(ID).unwrap();
        eventually("a first report", || !state.reports(ID).is_empty());
        db.execute("ALTER TABLE attrmig_fleet_reports RENAME TO attrmig_fleet_reports_away");
        for _ in 0..7 {
            m.write(|| Ok::<(), ()>(()), || Ok(())).unwrap();
        }
        // Long enough for several failed reports.
        std::thread::sleep(std::time::Duration::from_millis(400));
        db.execute("ALTER TABLE attrmig_fleet_reports_away RENAME TO attrmig_fleet_reports");
        eventually("the writes made during the outage are reported", || {
            state.reports(ID).first().is_some_and(|r| r.current_counters()[Counter::WritesOld] == 7)
        });
    }

    fn a_shutdown_writes_a_last_report(db: &TestDb) {
        let mut state = State::new(db);
        // A report interval far longer than the test: only the last report can carry it.
        let instance = state.instance().report_every(std::time::Duration::from_secs(600)).open().unwrap();
        instance.migration(ID).unwrap().write(|| Ok::<(), ()>(()), || Ok(())).unwrap();
        drop(instance);
        let r = state.reports(ID).pop().expect("the last report");
        assert_eq!(r.current_counters()[Counter::WritesOld], 1);
    }
}
