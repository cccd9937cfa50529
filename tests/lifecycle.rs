//! A migration walked through the machine by the real binary: what is refused (exit 3,
//! nothing written), rollback and abandon rules, approvals, the audit log.

use crate::support::*;

const ID: &str = "users-full-name";

fn project(db: &TestDb) -> Project<'_> {
    Project::new(db).with_users(100).with_plan(ID, USERS_PLAN)
}

fn audit_entries(p: &Project<'_>) -> usize {
    let log = p.attrmig(["--json", "log", ID]).run().ok().json();
    log["entries"].as_array().map_or(0, Vec::len)
}

backend_tests! {
    fn step_one_needs_the_new_storage(db: &TestDb) {
        let p = project(db);
        p.attrmig(["status"]).run().ok().stdout_has("0 planned").stdout_has("new-storage-exists");
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("new table `users_pii` does not exist; create it (`attrmig ddl users-full-name prepare-storage`");
        // Refused means nothing written: not even the registration.
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_migrations"), 0);

        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok().stdout_has("CREATE TABLE");
        p.attrmig(["advance", ID, "--dry-run"]).run().ok().stdout_has("dry run");
        assert_eq!(audit_entries(&p), 1, "a dry run writes nothing; the ddl wrote one entry");
        let out = p.attrmig(["--json", "advance", ID]).run().ok().json();
        assert_eq!(out["schema_version"], 1);
        assert_eq!(out["to"], "prepare-storage");
        assert_eq!(out["entry"]["version"], 2);
        p.attrmig(["show", ID]).run().ok().stdout_has("← current").stdout_has("cross-check-ran");
    }

    fn illegal_transitions_are_refused_and_write_nothing(db: &TestDb) {
        let p = project(db);
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        let before = audit_entries(&p);
        p.attrmig(["advance", ID, "--to", "5a"])
            .run()
            .code(3)
            .stderr_has("cannot go from 1 prepare-storage to 5a double-read-old: steps are reached in order; next is 2 cross-check");
        p.attrmig(["advance", ID, "--to", "planned"]).run().code(3);
        p.attrmig(["advance", ID, "--to", "prepare-storage"]).run().code(3);
        p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().code(3).stderr_has("until 9 stop-writing-old is reached");
        p.attrmig(["rollback", ID, "--reason", "  "]).run().code(3).stderr_has("needs --reason");
        assert_eq!(audit_entries(&p), before);

        p.attrmig(["advance", ID, "--to", "6b"]).run().code(2).stderr_has("unknown step `6b`");
        p.attrmig(["advance", "no-such-migration"]).run().code(2).stderr_has("no migration `no-such-migration`");
        p.attrmig(["rollback", ID]).run().code(2);
    }

    fn rollback_and_abandon(db: &TestDb) {
        let p = project(db);
        p.attrmig(["rollback", ID, "--reason", "nothing yet"]).run().code(3).stderr_has("nothing to roll back");
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        p.attrmig(["rollback", ID, "--reason", "wrong column type"]).run().ok().stdout_has("→ 0 planned");
        // Back at 0 the plan may change; the fingerprint is recorded anew at step 1.
        p.attrmig(["advance", ID]).run().ok();
        p.attrmig(["abandon", ID, "--reason", "superseded by users-name-split"]).run().ok().stdout_has("abandoned at 1 prepare-storage");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("abandoned at 1 prepare-storage");
        p.attrmig(["rollback", ID, "--reason", "undo"]).run().code(3);
        p.attrmig(["approve", ID]).run().code(3);
        let mode = p.attrmig(["--json", "mode", ID]).run().ok().json();
        assert_eq!((mode["abandoned"].as_bool(), mode["write_new"].as_bool()), (Some(true), Some(false)));
        let log = p.attrmig(["--json", "log", ID, "--verify"]).run().ok().json();
        assert_eq!(log["verification"]["result"], "intact");
        let kinds: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ddl", "advance", "rollback", "advance", "abandon"]);
        assert_eq!(log["entries"][2]["note"], "wrong column type");
    }

    fn a_changed_plan_is_a_new_migration(db: &TestDb) {
        let p = project(db);
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        p.write(&format!("plans/{ID}.toml"), &USERS_PLAN.replace("column = \"full_name\"\n\n[sync]", "column = \"name\"\n\n[sync]"));
        p.attrmig(["advance", ID]).run().code(3).stderr_has("changed since 1 prepare-storage was reached");
        p.write(&format!("plans/{ID}.toml"), "this is not toml [");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("the plan is invalid");
        p.attrmig(["validate"]).run().code(4).stdout_has("invalid  plans/users-full-name.toml");
        std::fs::remove_file(p.path(&format!("plans/{ID}.toml"))).unwrap();
        p.attrmig(["advance", ID]).run().code(3).stderr_has("plans/users-full-name.toml is missing");
        p.attrmig(["status"]).run().ok().stdout_has("plan missing");
    }
}

#[test]
fn a_tampered_audit_entry_is_caught_by_verify() {
    let db = TestDb::sqlite();
    let p = project(&db);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["log", ID, "--verify"])
        .run()
        .ok()
        .stdout_has("hash chain intact: 2 entries");
    p.sql("UPDATE attrmig_transitions SET actor = 'mallory@example.com' WHERE version = 2");
    p.attrmig(["log", ID, "--verify"])
        .run()
        .code(4)
        .stdout_has("hash chain BROKEN: entry 2 was altered");
    p.sql("UPDATE attrmig_transitions SET actor = 'alice@example.com' WHERE version = 2");
    p.sql("UPDATE attrmig_migrations SET step = 'sync'");
    p.attrmig(["log", ID, "--verify"])
        .run()
        .code(4)
        .stdout_has("edited outside attrmig");
}
