//! The whole procedure through the real binary: every step reached in order, each
//! refusal a user meets on the way, the tools retired at 8, approvals, the point of no
//! return, a late write caught by the step-9 fingerprint, and the drop.

use crate::support::*;

const ID: &str = "users-full-name";

fn step(p: &Project<'_>) -> String {
    let mode = p.attrmig(["--json", "mode", ID]).run().ok().json();
    mode["step"].as_str().unwrap().to_owned()
}

backend_tests! {
    fn all_ten_steps(db: &TestDb) {
        let p = Project::new(db).with_users(250).with_plan(ID, USERS_PLAN);
        p.write("scripts/backfill_full_name.py", "print('the hand-written backfill')\n");

        // 1: the new storage, by the DDL attrmig proposes.
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok().stdout_has("0 planned → 1 prepare-storage");

        // 2: a cross-check ran; its mismatches don't matter yet.
        p.attrmig(["advance", ID]).run().code(3).stderr_has("run `attrmig cross-check users-full-name`");
        p.attrmig(["cross-check", ID]).run().code(4).stdout_has("missing in new 250");
        p.attrmig(["advance", ID]).run().ok();

        // 3: a note says where double-write shipped; no sync before it.
        p.attrmig(["sync", ID]).run().code(3).stderr_has("double-write must be live first, or rows written after the sync are missed");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("needs --note");
        p.attrmig(["advance", ID, "--note", "release 42 (abc123)"]).run().ok();
        assert_eq!(step(&p), "double-write");

        // 4: a pass after double-write, then a clean full cross-check after the pass.
        p.attrmig(["sync", ID]).run().ok().stdout_has("250 keys visited, 250 rows written, 0 rejected");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("no full cross-check has finished since sync pass 1 completed");
        p.attrmig(["cross-check", ID, "--sample", "50"]).run().ok();
        p.attrmig(["advance", ID]).run().code(3).stderr_has("(without --sample)");
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");
        p.attrmig(["advance", ID]).run().ok();

        // 5a, 5b, 6: fresh clean cross-checks (soak is 0s in this plan).
        for next in ["double-read-old", "double-read-new", "stop-reading-old"] {
            p.attrmig(["advance", ID]).run().ok();
            assert_eq!(step(&p), next);
        }
        let mode = p.attrmig(["--json", "mode", ID]).run().ok().json();
        assert_eq!((mode["write_old"].as_bool(), mode["read"].as_str()), (Some(true), Some("new")));

        // 7: the old column must accept writes without the attribute.
        p.attrmig(["advance", ID]).run().code(3).stderr_has("is NOT NULL without a default");
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();

        // 8: hand-written tools gone; the built-in ones retire.
        p.attrmig(["advance", ID]).run().code(3).stderr_has("scripts/backfill_full_name.py");
        std::fs::remove_file(p.path("scripts/backfill_full_name.py")).unwrap();
        p.attrmig(["advance", ID]).run().ok();
        p.attrmig(["sync", ID]).run().code(3).stderr_has("the sync tool was deleted at step 8");
        p.attrmig(["cross-check", ID]).run().code(3).stderr_has("the cross-check tool was deleted at step 8");
        p.attrmig(["data-issues", ID, "--retry"]).run().code(3).stderr_has("deleted at step 8");

        // 9: approvals by others, and an explicit confirmation.
        p.attrmig(["approve", ID]).run().ok();
        p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
            .run()
            .code(3)
            .stderr_has("0 of 1 approval from people other than alice@example.com")
            .stderr_has("your own approval doesn't count");
        p.attrmig(["approve", ID]).actor("bob@example.com").run().ok();
        p.attrmig(["advance", ID]).run().code(3).stderr_has("pass --confirm-point-of-no-return");
        let out = p.attrmig(["--json", "advance", ID, "--confirm-point-of-no-return"]).run().ok().json();
        assert_eq!(out["entry"]["evidence"]["old_fingerprint"]["keys"], 250);
        p.attrmig(["rollback", ID, "--reason", "cold feet"]).run().code(3).stderr_has("the point of no return");
        p.attrmig(["abandon", ID, "--reason", "cold feet"]).run().code(3);

        // 10: a late write to old storage is caught before the drop.
        p.sql("UPDATE users SET full_name = 'written too late' WHERE id = 3");
        // Views don't read all of old storage; the transition and the drop do.
        p.attrmig(["show", ID]).run().ok().stdout_has("not compared yet");
        p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().code(3).stderr_has("1 key of old storage written since ").stderr_has(": \"3\" (at ");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("1 key of old storage written since").stderr_has("old storage users.full_name still exists");
        p.sql("UPDATE users SET full_name = 'name 3' WHERE id = 3");
        p.sql("INSERT INTO users (id) VALUES (1000)");
        p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().ok().stdout_has("DROP COLUMN");
        p.attrmig(["advance", ID]).run().ok().stdout_has("9 stop-writing-old → 10 drop-old");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("complete");

        let log = p.attrmig(["--json", "log", ID, "--verify"]).run().ok().json();
        assert_eq!(log["verification"]["result"], "intact");
        let advances = log["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "advance").count();
        assert_eq!(advances, 11, "every step reached exactly once");
        let status = p.attrmig(["--json", "status"]).run().ok().json();
        assert_eq!(status["migrations"][0]["position"], "10 drop-old");
        p.attrmig(["status"]).run().ok().stdout_has("complete");
    }

    fn the_old_storage_dropped_by_hand_needs_a_note(db: &TestDb) {
        let p = Project::new(db).with_users(20).with_plan(ID, &USERS_PLAN.replace("approvals = 1", "approvals = 0"));
        walk_to_nine(&p);
        // By hand, as `ddl drop-old` prints it: the late-write trigger first (SQLite
        // refuses to drop a column a trigger names; elsewhere it would fail writes).
        let printed = p.attrmig(["ddl", ID, "drop-old"]).run().ok().stdout;
        assert!(printed.contains("DROP TRIGGER IF EXISTS"), "{printed}");
        let statements: Vec<&str> = printed.lines().filter(|l| l.starts_with("DROP ")).collect();
        p.sql(&statements.join("\n"));
        p.sql("ALTER TABLE users DROP COLUMN full_name");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("dropped outside attrmig");
        p.attrmig(["advance", ID, "--note", "old column had no grants since step 9; audited in INC-42"]).run().ok();
    }
}

/// Steps 0 to 3 by the real binary: the new storage by attrmig's DDL, a cross-check,
/// double-write noted as shipped.
pub fn walk_to_double_write(p: &Project<'_>) {
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 1"]).run().ok();
}

/// Steps 0 to 4 by the real binary, with the guards: a sync after double-write and a
/// clean full cross-check after it.
pub fn walk_to_sync(p: &Project<'_>) {
    walk_to_double_write(p);
    p.attrmig(["sync", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run().ok();
    p.attrmig(["advance", ID]).run().ok();
}

/// Steps 1 to 8 without detours: the tools retired.
pub fn walk_to_eight(p: &Project<'_>) {
    walk_to_sync(p);
    for _ in 0..3 {
        p.attrmig(["advance", ID]).run().ok();
    }
    p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID]).run().ok();
}

/// Steps 1 to 9 without detours, for tests about what comes after.
pub fn walk_to_nine(p: &Project<'_>) {
    walk_to_eight(p);
    p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
        .run()
        .ok();
}
