//! Instances and the state database fail for real: an instance killed with SIGKILL
//! loses no acknowledged write and leaves the fleet after `instance_ttl`; the state
//! database stopped leaves the instances serving with their last mode, flagged stale,
//! and their reports carry what they counted meanwhile once it is back.

use std::time::Instant;

use attrmig_core::Step;
use attrmig_core::fleet::Counter;

use crate::support::postgres::ThrowawayPostgres;
use crate::support::*;

backend_tests! {
    fn a_killed_instance_loses_no_write_and_leaves_the_fleet(db: &TestDb) {
        let (mut world, mut alice, load) = three_at_double_read_old(db);

        // SIGKILL mid-run: requests in flight to it fail and are sent to the others.
        let resent = load.resent();
        world.service("web-2").kill();
        let killed = Instant::now();
        eventually("a request to web-2 fails and is sent again", || load.resent() > resent);
        let web2 = world.remove("web-2");
        // Until instance_ttl (3 s) has passed since its last report, it counts as live.
        let fleet = alice.fleet();
        let seen = |id: &str| fleet.instances.iter().find(|i| i.summary.id == id).map(|i| i.summary.live);
        assert_eq!(seen("web-2"), Some(true), "{:#?}", fleet.summary);
        eventually("web-2 drops out of the fleet", || {
            let s = alice.fleet().summary;
            s.live == 2 && s.gone == 1
        });
        assert!(killed.elapsed().as_millis() >= 2_500, "gone only after instance_ttl, not at once");
        // The fleet goes on without it.
        walk::through_double_read(&mut alice, &load, 2);
        assert_eq!(alice.step(), Step::StopReadingOld);

        let tally = load.stop();
        assert_no_failures(&tally);
        assert!(tally.acked_by.get("web-2").copied().unwrap_or(0) > 0, "web-2 acknowledged writes before it died: {:?}", tally.acked_by);
        world.assert_new_storage_holds(&tally);
        drop(web2);
    }

    fn without_the_state_database_instances_serve_their_last_mode(db: &TestDb) {
        let Some(pg) = ThrowawayPostgres::start() else { return };
        let mut world = World::new(db, Some(pg.url()));
        let mut alice = world.operator("alice@example.com");
        world.start_fleet(3);
        let warmup = world.load(4);
        walk::to_double_write(&mut alice, &warmup, 3);
        let before = warmup.stop();
        assert_no_failures(&before);
        // From here every write is made at 3: old and new storage both hold it.
        let load = world.load(4);
        load.wait_for_writes(30);

        pg.stop();
        eventually("every instance says it can't read the state database", || {
            world.services.iter().all(|s| s.status()["stale"] == true)
        });
        for s in &world.services {
            let status = s.status();
            assert_eq!(status["step"], "double-write", "the last mode is kept: {status}");
        }
        load.wait_for_writes(100);
        // An instance that never read the steps doesn't guess a mode: it won't start.
        let failed = Service::try_start(world.spec("web-4", "host-d"), world.logs())
            .err()
            .expect("web-4 can't start without the state database");
        assert_eq!(failed.code, Some(1));
        assert!(failed.stderr.contains("could not read the migrations' steps from the state database"), "{}", failed.stderr);

        pg.start_again();
        eventually("the instances read the state database again", || {
            world.services.iter().all(|s| s.status()["stale"] == false)
        });
        alice.reopen();
        alice.wait_converged(3);
        load.wait_for_writes(30);
        let tally = load.stop();
        assert_no_failures(&tally);
        world.assert_holds_acked(&world.old_storage(), &tally);
        world.assert_holds_acked(&world.new_storage(), &tally);

        // Their last reports (at shutdown) count every write, those made while the
        // state database was away included: nothing was dropped.
        for s in world.services.drain(..) {
            s.shutdown();
        }
        let reports = alice.reports();
        assert_eq!(totals(&reports)[Counter::WritesOld], before.writes + tally.writes, "every acknowledged write is counted once");
        assert!(reports.iter().all(|r| !r.stale && r.step == Step::DoubleWrite));
    }
}
