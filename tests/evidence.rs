//! Evidence that can't be laundered: a migration whose state was edited by hand, an
//! approval inserted by hand, a cross-check that compared nothing. Every transition
//! refuses to extend a broken audit chain; `status`, `show`, `check`, `log --verify` and
//! `report` flag it; each refusal's advice is followed and shown to work.

use attrmig_core::facts::Counts;
use attrmig_core::{EntryKind, Position, Step};

use crate::recorded::{Store, hours_ago, plan};
use crate::support::*;
use crate::walk::walk_to_sync;

const ID: &str = "users-full-name";

fn entries(p: &Project<'_>) -> usize {
    let log = p.attrmig(["--json", "log", ID]).run().ok().json();
    log["entries"].as_array().map_or(0, Vec::len)
}

/// The first statement in backquotes in `message` that starts with `verb`: the SQL a
/// refusal's advice says to run.
fn advised_sql(message: &str, verb: &str) -> String {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|s| s.starts_with(verb))
        .unwrap_or_else(|| panic!("no `{verb} ...` advised in:\n{message}"))
        .to_owned()
}

/// Every command that writes to the migration is refused, names the break, and writes
/// nothing. Returns the refusal's message.
fn every_change_refused(p: &Project<'_>, problem: &str) -> String {
    let before = entries(p);
    let refused = p.attrmig(["advance", ID]).run().code(3);
    assert!(
        refused
            .stderr
            .contains(&format!("the audit log of {ID} is broken"))
            && refused.stderr.contains(problem),
        "{}",
        refused.stderr
    );
    for args in [
        vec!["advance", ID, "--dry-run"],
        vec!["ddl", ID, "prepare-old-stop", "--apply"],
        vec!["approve", ID],
        vec!["rollback", ID, "--reason", "r"],
        vec!["abandon", ID, "--reason", "r"],
        vec!["cross-check", ID],
        vec!["sync", ID],
    ] {
        p.attrmig(&args)
            .run()
            .code(3)
            .stderr_has("is broken")
            .stderr_has(problem);
    }
    let json = p.attrmig(["--json", "advance", ID]).run().code(3).json();
    assert_eq!(json["error"]["refusal"]["code"], "chain-broken", "{json}");
    assert_eq!(entries(p), before, "nothing written");
    refused.stderr
}

/// `log --verify`, `status`, `show`, `check` and `report` all say the chain is broken.
fn flagged_everywhere(p: &Project<'_>, problem: &str) {
    p.attrmig(["log", ID, "--verify"])
        .run()
        .code(4)
        .stdout_has("hash chain BROKEN")
        .stdout_has(problem);
    p.attrmig(["status"])
        .run()
        .ok()
        .stdout_has("audit log broken");
    let status = p.attrmig(["--json", "status"]).run().ok().json();
    assert_eq!(
        status["migrations"][0]["audit_log"]["result"], "broken",
        "{status}"
    );
    p.attrmig(["show", ID])
        .run()
        .ok()
        .stdout_has("audit log BROKEN")
        .stdout_has(problem);
    let show = p.attrmig(["--json", "show", ID]).run().ok().json();
    assert_eq!(show["audit_log"]["result"], "broken", "{show}");
    p.attrmig(["check"])
        .run()
        .code(4)
        .stdout_has(&format!("plans/{ID}.toml"))
        .stdout_has(problem);
    p.attrmig(["report", "--format", "markdown"])
        .run()
        .code(4)
        .stdout_has("BROKEN");
}

fn intact(p: &Project<'_>) {
    p.intact_log(ID);
    let status = p.attrmig(["--json", "status"]).run().ok().json();
    assert_eq!(status["migrations"][0]["audit_log"]["result"], "intact");
}

backend_tests! {
    /// The step set from 4 to 6 by hand: before, attrmig walked on to 10 from there.
    fn a_step_edited_by_hand_refuses_every_change_until_set_back(db: &TestDb) {
        let p = Project::new(db).with_users(40).with_plan(ID, USERS_PLAN);
        walk_to_sync(&p);
        p.sql("UPDATE attrmig_migrations SET step = 'stop-reading-old' WHERE id = 'users-full-name'");
        let problem = "replaying the log ends at 4 sync but the migration says 6 stop-reading-old";
        let message = every_change_refused(&p, problem);
        flagged_everywhere(&p, problem);

        // The advice: put the row back where the log says.
        p.sql(&advised_sql(&message, "UPDATE"));
        intact(&p);
        p.attrmig(["advance", ID]).run().ok().stdout_has("4 sync → 5a double-read-old");
    }

    /// 8 set to 3 by hand: going back is as much an edit as skipping ahead.
    fn a_step_edited_backwards_is_refused_too(db: &TestDb) {
        let p = Project::new(db).with_users(10).with_plan(ID, USERS_PLAN);
        let plan = plan(ID, USERS_PLAN);
        Store::open(db).advance_to(&plan, Step::DeleteTools, hours_ago(30), chrono::Duration::hours(1));
        p.sql("UPDATE attrmig_migrations SET step = 'double-write' WHERE id = 'users-full-name'");
        every_change_refused(&p, "replaying the log ends at 8 delete-tools but the migration says 3 double-write");
    }

    /// The same edit, after an attrmig that did not check its chain walked on from the
    /// edited step: every hash links, the replay ends where the table says, and the entries
    /// of 5a, 5b and 6 were never written.
    fn a_log_walked_on_from_an_edited_step_is_broken_and_restored_from_a_backup(db: &TestDb) {
        let p = Project::new(db).with_users(40).with_plan(ID, USERS_PLAN);
        walk_to_sync(&p);
        let backup = Backup::take(db);

        p.sql("UPDATE attrmig_migrations SET step = 'stop-reading-old' WHERE id = 'users-full-name'");
        let mut store = Store::open(db);
        for to in [Step::PrepareOldStop, Step::DeleteTools, Step::StopWritingOld, Step::DropOld] {
            store.append_unchecked(ID, EntryKind::Advance, Position::At(to), hours_ago(0));
        }
        let problem = "entry 6 starts at 6 stop-reading-old but the entries before it end at 4 sync";
        let message = every_change_refused(&p, problem);
        flagged_everywhere(&p, problem);
        assert!(message.contains("restore the attrmig_ tables from a backup"), "{message}");

        // Advice one: without a backup, the same plan under a new id starts from 0 and
        // meets every guard again; the broken migration stays as it is, for the record.
        p.write("plans/users-full-name-2.toml", USERS_PLAN);
        p.attrmig(["advance", "users-full-name-2"]).run().ok().stdout_has("0 planned → 1 prepare-storage");
        p.attrmig(["log", ID, "--verify"]).run().code(4);

        // Advice two: restore the state tables from the backup taken before the edit.
        backup.restore(db);
        intact(&p);
        p.attrmig(["advance", ID]).run().ok().stdout_has("4 sync → 5a double-read-old");
    }

    /// An approval row inserted by hand, with no audit entry, passed guard 9.
    fn an_approval_without_its_audit_entry_counts_for_nothing(db: &TestDb) {
        let p = Project::new(db).with_users(20).with_plan(ID, USERS_PLAN);
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        let plan = plan(ID, USERS_PLAN);
        Store::open(db).advance_to(&plan, Step::DeleteTools, hours_ago(30), chrono::Duration::hours(1));
        let at = attrmig_core::audit::now().naive_utc().format("%Y-%m-%d %H:%M:%S");
        p.sql(&format!(
            "INSERT INTO attrmig_approvals (migration_id, version, approver, approved_at) \
             VALUES ('users-full-name', 10, 'bob@example.com', '{at}')"
        ));
        let problem = "approval by bob@example.com (attrmig_approvals, version 10) has no audit entry";
        let refused = p.attrmig(["advance", ID, "--confirm-point-of-no-return"]).run().code(3);
        assert!(refused.stderr.contains(problem), "{}", refused.stderr);
        flagged_everywhere(&p, problem);
        let show = p.attrmig(["--json", "show", ID]).run().ok().json();
        assert_eq!(show["approvals"], serde_json::json!([]), "a forged approval is not listed as counting");

        // The advice: delete the row. Then bob's real approval is what counts.
        p.sql(&advised_sql(&refused.stderr, "DELETE"));
        intact(&p);
        p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
            .run()
            .code(3)
            .stderr_has("0 of 1 approval");
        p.attrmig(["approve", ID]).actor("bob@example.com").run().ok();
        p.attrmig(["advance", ID, "--confirm-point-of-no-return"]).run().ok();
    }

    /// `--sample 0` compared no key, said "old and new agree" and counted as clean.
    fn a_sample_of_no_key_is_refused(db: &TestDb) {
        let p = Project::new(db).with_users(40).with_plan(ID, USERS_PLAN);
        walk_to_sync(&p);
        p.sql("UPDATE users_pii SET full_name = 'corrupted'");
        p.attrmig(["cross-check", ID, "--sample", "0"])
            .run()
            .code(2)
            .stderr_has("a sample needs at least one key");
        let json = p.attrmig(["--json", "cross-check", ID, "--sample", "0"]).run().code(2).json();
        assert_eq!(json["error"]["kind"], "usage");
    }

    /// A sample that compared fewer keys than it promised is no evidence, and the guards
    /// say how many a run compared.
    fn a_sample_short_of_its_promise_is_no_evidence(db: &TestDb) {
        let p = Project::new(db).with_users(40).with_plan(ID, USERS_PLAN);
        walk_to_sync(&p);
        // A table of 40 keys can't give a sample of 1000: it gave 40.
        p.attrmig(["cross-check", ID, "--sample", "1000"])
            .run()
            .ok()
            .stdout_has("40 of 1000 keys compared");
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("compared 40 of the 1000 keys its sample promised");
        p.attrmig(["cross-check", ID, "--sample", "25"]).run().ok();
        p.attrmig(["show", ID]).run().ok().stdout_has("25 keys compared");
        p.attrmig(["advance", ID]).run().ok().stdout_has("4 sync → 5a double-read-old");

        // Runs recorded by an attrmig that let `--sample 0` through count for nothing.
        Store::open(db).cross_check_of(ID, Step::DoubleReadOld, Some(0), Counts::default(), hours_ago(0));
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("compared 0 of the 0 keys its sample promised; a sample needs at least one key");
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("40 keys compared");
        p.attrmig(["show", ID]).run().ok().stdout_has("full, 40 keys compared");
    }
}
