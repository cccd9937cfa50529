//! Snapshots of what users read: the `--help` of every command, and the refusals they
//! meet most. A changed wording shows up in review as a changed snapshot.

use crate::support::*;

const ID: &str = "users-full-name";

const COMMANDS: &[&str] = &[
    "init",
    "validate",
    "status",
    "show",
    "advance",
    "rollback",
    "abandon",
    "approve",
    "acknowledge-extra",
    "log",
    "mode",
    "ddl",
    "cross-check",
    "sync",
    "data-issues",
    "check",
    "report",
    "demo",
    "fleet",
];

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[TIME]");
    s.add_filter(r"hash [0-9a-f]{12}", "hash [HASH]");
    s.add_filter(
        r"--accept-late-writes [0-9a-f]{12}",
        "--accept-late-writes [TOKEN]",
    );
    s.add_filter(r"\d+(ms|s) ago", "[AGE] ago");
    s
}

#[test]
fn help_of_every_command() {
    let db = TestDb::sqlite();
    let p = Project::new(&db);
    let _guard = settings().bind_to_scope();
    insta::assert_snapshot!("help", p.attrmig(["--help"]).run().ok().stdout);
    for command in COMMANDS {
        let out = p.attrmig([command, "--help"]).run();
        if out.code == 2 && out.stderr.contains("unrecognized subcommand") {
            continue; // not built yet in this tree
        }
        insta::assert_snapshot!(format!("help-{command}"), out.ok().stdout);
    }
}

#[test]
fn key_refusals() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(20).with_plan(ID, USERS_PLAN);
    let _guard = settings().bind_to_scope();
    let refusal = |args: &[&str]| p.attrmig(args).run().code(3).stderr;

    insta::assert_snapshot!("refused-new-storage-missing", refusal(&["advance", ID]));
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    insta::assert_snapshot!(
        "refused-out-of-order",
        refusal(&["advance", ID, "--to", "5a"])
    );
    insta::assert_snapshot!("refused-no-cross-check", refusal(&["advance", ID]));
    insta::assert_snapshot!("refused-sync-before-double-write", refusal(&["sync", ID]));
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    insta::assert_snapshot!("refused-note-required", refusal(&["advance", ID]));
    p.attrmig(["advance", ID, "--note", "release 7"]).run().ok();
    insta::assert_snapshot!("refused-sync-evidence", refusal(&["advance", ID]));
    p.attrmig(["sync", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run().ok();
    for _ in 0..4 {
        p.attrmig(["advance", ID]).run().ok();
    }
    insta::assert_snapshot!("refused-old-not-optional", refusal(&["advance", ID]));
    p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID]).run().ok();
    insta::assert_snapshot!("refused-tool-retired", refusal(&["sync", ID]));
    p.attrmig(["approve", ID]).run().ok();
    insta::assert_snapshot!(
        "refused-point-of-no-return-guards",
        refusal(&["advance", ID])
    );
    p.attrmig(["approve", ID])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
        .run()
        .ok();
    insta::assert_snapshot!(
        "refused-rollback-after-point-of-no-return",
        refusal(&["rollback", ID, "--reason", "x"])
    );
    p.sql("UPDATE users SET full_name = 'late' WHERE id = 1");
    insta::assert_snapshot!(
        "refused-late-writes",
        refusal(&["ddl", ID, "drop-old", "--apply"])
    );
}
