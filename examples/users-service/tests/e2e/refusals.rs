//! The fleet's reports hold steps back, and the refusals name who: an instance whose
//! double-write has a bug (its mismatches, with keys and values), an instance pinned to
//! an old mode (its id, host, release, mode).

use attrmig_core::Step;
use attrmig_core::fleet::Counter;

use crate::support::*;

backend_tests! {
    fn a_double_write_bug_refuses_5b_naming_its_mismatches(db: &TestDb) {
        let (mut world, mut alice, load) = three_at_double_read_old(db);

        // Release 2.1.0 ships a bug in the new write path (names lower-cased) and joins
        // the fleet at 5a. The last cross-check, before it, was clean.
        let mut buggy = world.spec("web-4", "host-d");
        buggy.version = "2.1.0".into();
        buggy.planted_bug = true;
        world.start(buggy);
        alice.wait_converged(4);
        eventually("the double read finds the bug", || {
            let (persistent, compared) = mismatches(&alice.reports());
            persistent >= 3 && compared >= 100
        });
        let why = alice.try_advance(None, false).unwrap_err();
        assert_eq!(why.lines().count(), 1, "only the fleet's guard refuses:\n{why}");
        assert!(why.starts_with("✗ fleet-compared-reads: "), "{why}");
        assert!(why.contains("compared read(s) in 5a double-read-old disagreed also when read again"), "{why}");
        assert!(why.contains("a bug in the double-write or in a read, not a race"), "{why}");
        // The sampled mismatches are the bug's: new holds old lower-cased.
        let samples: Vec<_> = alice.reports().into_iter().flat_map(|r| r.mismatches).collect();
        assert!(!samples.is_empty());
        for m in &samples {
            let f = &m.fields[0];
            assert_eq!((f.field.as_str(), f.new.clone()), ("value", f.old.replace("User", "user")), "{m:?}");
            assert!(why.contains(&format!("{} (value: {} ≠ {})", m.key, f.old, f.new)) || samples.len() > 10, "{m:?} not named in:\n{why}");
        }
        assert!(why.contains("; reported by: web-"), "{why}");

        // What the refusal says to do: fix the application (2.1.1 replaces 2.1.0),
        // repair new storage from old, roll back and advance so that the reads are
        // counted afresh.
        assert!(why.contains("repair what it wrote to new storage with `attrmig sync users-full-name`"), "{why}");
        assert!(why.contains("then `attrmig rollback users-full-name --reason \"...\"` and advance again"), "{why}");
        world.remove("web-4").shutdown();
        let mut fixed = world.spec("web-4", "host-d");
        fixed.version = "2.1.1".into();
        world.start(fixed);
        alice.wait_converged(4);
        // The fix doesn't undo what 2.1.0 wrote: at 5b those values would be served.
        assert!(!alice.cross_check(), "the bug's values are still in new storage");
        alice.sync(None);
        assert!(alice.cross_check(), "repaired");
        assert_eq!(alice.rollback("2.1.0 lower-cased names in new storage; fixed in 2.1.1"), Step::Sync);
        // The fleet applies 4 before 5a is reached again: an instance that never saw 4
        // would go on counting in a bucket that began before 5a was reached again.
        alice.wait_converged(4);
        assert_eq!(alice.advance(), Step::DoubleReadOld);
        alice.wait_converged(4);
        assert_eq!(alice.advance_when_ready(), Step::DoubleReadNew);

        let tally = load.stop();
        assert_no_failures(&tally);
        // The reports kept the persistent mismatches of the first stay at 5a.
        assert!(totals(&alice.reports())[Counter::Mismatches] >= 3);
    }

    fn an_instance_pinned_to_an_old_mode_blocks_7_and_is_named(db: &TestDb) {
        let (mut world, mut alice, load) = three_at_double_read_old(db);
        walk::through_double_read(&mut alice, &load, 3);

        // A batch worker of release 1.9.0, which ships 5b as code, is started at 6.
        let mut old = world.spec("batch-1", "worker-7");
        old.version = "1.9.0".into();
        old.pin = Some("5b");
        world.start(old);
        eventually("it reports", || alice.fleet().summary.live == 4);
        alice.ddl(Step::PrepareOldStop);
        let why = alice.try_advance(None, false).unwrap_err();
        assert!(why.starts_with("✗ fleet-stopped-reading-old: 1 live instance(s) still read old storage, so 7 prepare-old-stop can't be entered: batch-1 (users-service["), "{why}");
        assert!(why.contains("] on worker-7, version 1.9.0) at 5b double-read-new: writes both, reads both (new wins), pinned, last seen "), "{why}");
        // What it says to do: `attrmig fleet` lists it.
        assert!(why.contains("(`attrmig fleet users-full-name` lists them)"), "{why}");
        let fleet = alice.fleet();
        let lagging: Vec<_> = fleet.summary.lagging.iter().map(|i| (i.id.as_str(), i.pinned, i.step)).collect();
        assert_eq!(lagging, [("batch-1", true, Step::DoubleReadNew)]);

        // Its release is replaced: the same worker, unpinned.
        world.remove("batch-1").shutdown();
        world.start(world.spec("batch-1", "worker-7"));
        alice.wait_converged(4);
        assert_eq!(alice.advance(), Step::PrepareOldStop);
        assert_no_failures(&load.stop());
    }
}
