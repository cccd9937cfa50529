//! Three instances under a load that writes and reads throughout, while the migration
//! goes through all ten steps; then every acknowledged write is in new storage and the
//! fleet recorded no persistent mismatch.

use attrmig_core::Step;
use attrmig_core::fleet::Counter;

use crate::support::operator::{ID, refusal};
use crate::support::*;

backend_tests! {
    fn all_ten_steps_under_load(db: &TestDb) {
        let (mut world, mut alice, load) = three_at_double_read_old(db);
        walk::through_double_read(&mut alice, &load, 3);
        walk::to_delete_tools(&mut alice, &load);

        // 9, the point of no return: another person's approval and a confirmation. The
        // load writes on: what instances still at 8 write to old storage before they
        // apply 9 is expected traffic, not a late write (docs/tools.md).
        world.operator("bob@example.com").approve();
        assert_eq!(alice.advance_with(None, true), Step::StopWritingOld);
        alice.wait_converged(3);
        load.wait_for_writes(50);

        // A write to old storage after the whole fleet applied 9 (and the grace for
        // writes in flight then) is a late write.
        std::thread::sleep(std::time::Duration::from_millis(2500));
        world.db.execute("UPDATE users SET full_name = 'written too late' WHERE id = 1");
        let refused = alice.engine.ddl(ID, Step::DropOld, true, None).unwrap_err();
        let attrmig_engine::EngineError::Refused(boxed) = &refused else {
            panic!("expected a late-write refusal, got: {}", refusal(&refused));
        };
        let attrmig_core::Refusal::LateWrites { found, .. } = boxed.as_ref() else {
            panic!("expected a late-write refusal, got: {boxed}");
        };
        let keys: Vec<&str> = found.keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["1"], "only the write after the fleet applied 9 is late: {found:?}");
        // Not the application's: accepted as what it is, and old storage dropped under load.
        let outcome = alice
            .engine
            .ddl_accepting(ID, Step::DropOld, true, Some("a test's own write to old storage, not the application's"), Some(&found.token))
            .unwrap_or_else(|e| panic!("{}", refusal(&e)));
        assert!(outcome.applied);
        assert_eq!(alice.advance(), Step::DropOld);
        alice.wait_converged(3);
        load.wait_for_writes(50);

        let tally = load.stop();
        assert_no_failures(&tally);
        world.assert_new_storage_holds(&tally);

        let reports = alice.reports();
        assert_eq!(reports.len(), 3);
        let (persistent, compared) = mismatches(&reports);
        assert_eq!(persistent, 0, "no persistent mismatch (of {compared} compared reads)");
        assert!(compared >= 200, "the double read compared {compared} reads");
        // Every instance applied every mode, one after the other.
        for r in &reports {
            let steps: Vec<Step> = r.periods.iter().map(|p| p.step).collect();
            for step in [Step::DoubleWrite, Step::DoubleReadOld, Step::DoubleReadNew, Step::StopReadingOld, Step::StopWritingOld] {
                assert!(steps.contains(&step), "{} never applied {step}: {steps:?}", r.identity.id);
            }
            assert!(!r.pinned && !r.stale);
        }
        let t = totals(&reports);
        assert_eq!(t[Counter::WriteErrorsOld] + t[Counter::WriteErrorsNew] + t[Counter::ReadErrorsOld] + t[Counter::ReadErrorsNew], 0, "{t:?}");
        assert!(t[Counter::WritesNew] > 0 && t[Counter::ReadsNew] > 0);

        // The reviewer's report shows the fleet that did it.
        let report = attrmig_report::collect(&mut alice.engine, chrono::Utc::now()).unwrap();
        let md = attrmig_report::markdown::render(&report);
        assert!(md.contains("### Fleet\n\n✓ converged: 3 live instance(s), all applying the mode of 10 drop-old."), "{md}");
        assert!(md.contains(" compared read(s), 0 persistent (0%), "), "{md}");
        let page = attrmig_report::html::render(&report);
        assert_eq!(page.matches(r#"<svg class="chart rate""#).count(), 1);
        let chart = &page[page.find(r#"<svg class="chart rate""#).unwrap()..];
        let chart = &chart[..chart.find("</svg>").unwrap()];
        assert!(chart.contains(r#"class="mark clean""#) && !chart.contains(r#"class="mark dirty""#), "{chart}");

        for s in world.services.drain(..) {
            s.shutdown();
        }
    }
}
