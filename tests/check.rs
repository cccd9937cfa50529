//! `attrmig check` over fixture repositories: a clean one passes (exit 0); each class of
//! finding is produced by a fixture and caught (exit 4, one line per finding, pointing at
//! the file and line); `--format github` is snapshot.

use std::path::Path;
use std::process::Command;

use attrmig_core::{EntryKind, Position, Step};
use chrono::Duration;

use crate::recorded::{Store, hours_ago, plan};
use crate::support::*;

const ID: &str = "users-full-name";

/// DESIGN.md's plan, with code rules.
const PLAN: &str = r#"description = "Move full_name out of users into users_pii"
owners = ["identity-team"]

[old]
kind = "column"
table = "users"
key = "id"
column = "full_name"

[new]
table = "users_pii"
key = "user_id"
column = "full_name"

[tools]
paths = ["scripts/backfill_full_name.py"]

[code]
old_refs = ["users.full_name", { regex = '\buser\.full_name\b' }]
paths = ["src/**/*.py"]
schema_paths = ["db/migrations/*/up.sql"]
"#;

/// A repository that agrees with the migration at any step: code reads new storage only,
/// the schema history creates new storage, the backfill script is gone.
fn clean_repository(db: &TestDb) -> Project<'_> {
    let p = Project::new(db).with_plan(ID, PLAN);
    p.write("src/app/models.py", "class User:\n    def display_name(self):\n        return self.pii.full_name  # users_pii.full_name\n");
    p.write(
        "db/migrations/0001_users_pii/up.sql",
        "CREATE TABLE users_pii (user_id BIGINT PRIMARY KEY, full_name VARCHAR(255));\n",
    );
    // Down migrations undo their up: dropping new storage there is expected, and the
    // plan's schema_paths only name the up files.
    p.write(
        "db/migrations/0001_users_pii/down.sql",
        "DROP TABLE users_pii;\n",
    );
    p
}

/// The schema migration of step 10: in order from 9 on.
fn with_drop_old(p: Project<'_>) -> Project<'_> {
    p.write(
        "db/migrations/0002_drop_full_name/up.sql",
        "-- step 10 of users-full-name\nALTER TABLE users\n  DROP COLUMN full_name;\n",
    );
    p
}

fn recorded_at(p: &Project<'_>, id: &str, text: &str, step: Step) {
    Store::open(p.db).advance_to(&plan(id, text), step, hours_ago(240), Duration::hours(4));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

backend_tests! {
    fn a_clean_repository_passes(db: &TestDb) {
        let p = with_drop_old(clean_repository(db));
        recorded_at(&p, ID, PLAN, Step::StopWritingOld);
        p.attrmig(["check"]).run().ok().stdout_has("ok: 1 plan(s), 1 recorded migration(s), 3 file(s) scanned; all holds");
        p.attrmig(["check", "--format", "github"]).run().ok();
        let doc = p.attrmig(["check", "--format", "json"]).run().ok().json();
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(doc["findings"], serde_json::json!([]));
        assert_eq!(doc["migrations"], 1);
    }

    fn references_to_old_storage_after_nine_are_findings(db: &TestDb) {
        let p = clean_repository(db);
        p.write("src/reports/legacy.py", "def export(db):\n    rows = db.query('SELECT users.full_name FROM users')\n    for user in rows:\n        yield user.full_name\n");
        recorded_at(&p, ID, PLAN, Step::DeleteTools);
        p.attrmig(["check"]).run().ok();
        recorded_at(&p, ID, PLAN, Step::StopWritingOld);
        let out = p.attrmig(["check"]).run().code(4).stderr_has("attrmig check: 2 finding(s)");
        assert_eq!(
            out.stdout.lines().collect::<Vec<_>>(),
            [
                "src/reports/legacy.py:2: `users.full_name` refers to users.full_name, the old storage of users-full-name, which is at 9 stop-writing-old: after stop-writing-old nothing reads or writes it; use users_pii.full_name",
                "src/reports/legacy.py:4: `user.full_name` refers to users.full_name, the old storage of users-full-name, which is at 9 stop-writing-old: after stop-writing-old nothing reads or writes it; use users_pii.full_name",
            ]
        );
    }
}

#[test]
fn an_invalid_plan_is_a_finding() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db);
    p.write(
        "plans/orders-status.toml",
        "[old]\nkind = \"column\"\ntabel = \"orders\"\n",
    );
    p.attrmig(["check"])
        .run()
        .code(4)
        .stdout_has("plans/orders-status.toml:3: old.tabel: unknown key `tabel`");
}

#[test]
fn a_recorded_migration_without_its_plan_is_a_finding() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db);
    recorded_at(&p, ID, PLAN, Step::DoubleWrite);
    std::fs::remove_file(p.path("plans/users-full-name.toml")).unwrap();
    p.attrmig(["check"]).run().code(4).stdout_has(
        "plans/users-full-name.toml: users-full-name is recorded at 3 double-write but plans/users-full-name.toml is missing",
    );
    // An abandoned migration may lose its plan: it can't move again.
    let abandoned = Position::Abandoned {
        at: Step::DoubleWrite,
    };
    Store::open(p.db).entry(
        &plan(ID, PLAN),
        EntryKind::Abandon,
        abandoned,
        "alice@example.com",
        Some("superseded"),
        hours_ago(1),
    );
    p.attrmig(["check"]).run().ok();
}

#[test]
fn a_storage_change_after_step_one_is_a_finding() {
    // Driven by the real binary: step 1 records the fingerprint.
    let db = TestDb::sqlite();
    let p = clean_repository(&db).with_users(10);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["check"]).run().ok();
    p.write(
        &format!("plans/{ID}.toml"),
        &PLAN.replace(
            "column = \"full_name\"\n\n[tools]",
            "column = \"name\"\n\n[tools]",
        ),
    );
    p.attrmig(["check"])
        .run()
        .code(4)
        .stdout_has("plans/users-full-name.toml:4: the [old] or [new] part of plans/users-full-name.toml changed since 1 prepare-storage was reached")
        .stdout_has("(it is at 1 prepare-storage)");
    // Rolled back to 0, the plan may change: nothing is recorded any more.
    p.attrmig(["rollback", ID, "--reason", "new column name"])
        .run()
        .ok();
    p.attrmig(["check"]).run().ok();
}

#[test]
fn base_names_the_storage_keys_this_change_edits() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db).with_users(10);
    // The repository is the project's parent: the project sits in a subfolder of it.
    let repo = db.dir();
    git(repo, &["init", "-q"]);
    git(
        repo,
        &[
            "add",
            "project/attrmig.toml",
            "project/plans",
            "project/src",
            "project/db",
        ],
    );
    git(repo, &["commit", "-q", "-m", "base"]);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", ID]).run().ok();

    // A new plan is not a change; nor is an edit outside the storage part.
    p.write(
        "plans/orders-status.toml",
        &PLAN
            .replace("users", "orders")
            .replace("full_name", "status"),
    );
    p.write(
        &format!("plans/{ID}.toml"),
        &PLAN.replace("identity-team", "platform-team"),
    );
    p.attrmig(["check", "--base", "HEAD"]).run().ok();

    p.write(
        &format!("plans/{ID}.toml"),
        &PLAN.replace(
            "column = \"full_name\"\n\n[tools]",
            "column = \"name\"\n\n[tools]",
        ),
    );
    let out = p
        .attrmig(["check", "--base", "HEAD", "--format", "json"])
        .run()
        .code(4)
        .json();
    let findings = out["findings"].as_array().unwrap();
    assert_eq!(
        findings.len(),
        1,
        "reported once, not also as a fingerprint change: {out:#}"
    );
    assert_eq!(findings[0]["rule"], "plan-changed-since-base");
    assert_eq!(findings[0]["path"], "plans/users-full-name.toml");
    assert_eq!(findings[0]["line"], 13, "the line of [new] column");
    assert_eq!(
        findings[0]["message"],
        "this change edits the storage part of users-full-name since HEAD (new.column: \"full_name\" → \"name\") while the migration is at 1 prepare-storage: a plan change mid-migration is a new migration; revert it, or write a new plan under a new id"
    );
    p.attrmig(["check", "--base", "no-such-branch"])
        .run()
        .code(2)
        .stderr_has("--base no-such-branch: git knows no commit by that name");
}

#[test]
fn a_tool_that_came_back_after_eight_is_a_finding() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db);
    p.write(
        "scripts/backfill_full_name.py",
        "# copies users.full_name into users_pii\n",
    );
    recorded_at(&p, ID, PLAN, Step::PrepareOldStop);
    p.attrmig(["check"]).run().ok();
    recorded_at(&p, ID, PLAN, Step::DeleteTools);
    p.attrmig(["check"]).run().code(4).stdout_has(
        "scripts/backfill_full_name.py: the hand-written sync or cross-check tool scripts/backfill_full_name.py of users-full-name came back after its deletion (the migration is at 8 delete-tools); after step 9 it would clobber new data: delete it again",
    );
}

#[test]
fn schema_files_may_not_drop_storage_out_of_turn() {
    let db = TestDb::sqlite();
    let p = with_drop_old(clean_repository(&db));
    p.write(
        "db/migrations/0003_cleanup/up.sql",
        "CREATE INDEX users_email ON users (email);\n\nDROP TABLE IF EXISTS users_pii;\n",
    );
    // Planned: dropping old storage is early; new storage is not in use yet.
    p.attrmig(["check"]).run().code(4).stdout_has(
        "db/migrations/0002_drop_full_name/up.sql:2: drops column users.full_name, the old storage of users-full-name (at 0 planned): drop-old is refused until stop-writing-old is reached (9)",
    );
    recorded_at(&p, ID, PLAN, Step::Sync);
    let out = p.attrmig(["check"]).run().code(4);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "db/migrations/0002_drop_full_name/up.sql:2: drops column users.full_name, the old storage of users-full-name (at 4 sync): drop-old is refused until stop-writing-old is reached (9); until then the application writes and reads it",
            "db/migrations/0003_cleanup/up.sql:3: drops table users_pii, which holds users_pii.full_name, the new storage of users-full-name (at 4 sync): the migration is under way and the application writes it; roll back to 0 planned or `attrmig abandon users-full-name` before removing it",
        ]
    );
}

/// From 6 on, the schema history may not leave a view (or rule, policy, routine, trigger)
/// reading old storage: the last definition of each counts, as the files apply in order.
#[test]
fn schema_files_may_not_leave_a_reader_of_old_storage_after_six() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db);
    p.write(
        "db/migrations/0002_user_list/up.sql",
        "-- the list the support tool reads\nCREATE VIEW user_list AS\n  SELECT u.id, u.full_name FROM users u;\n",
    );
    recorded_at(&p, ID, PLAN, Step::DoubleReadNew);
    p.attrmig(["check"]).run().ok();
    recorded_at(&p, ID, PLAN, Step::StopReadingOld);
    p.attrmig(["check"]).run().code(4).stdout_has(
        "db/migrations/0002_user_list/up.sql:2: defines view user_list, which uses users.full_name, the old storage of users-full-name (at 6 stop-reading-old): from 6 stop-reading-old on nothing may read it",
    );
    // Redefined over new storage by a later migration, as the finding says.
    p.write(
        "db/migrations/0003_user_list_over_pii/up.sql",
        "DROP VIEW user_list;\nCREATE VIEW user_list AS\n  SELECT u.id, p.full_name FROM users u JOIN users_pii p ON p.user_id = u.id;\n",
    );
    p.attrmig(["check"]).run().ok();
}

/// Every class of finding at once, as GitHub would receive them, from a project in a
/// subfolder of its repository (annotation paths start at the repository's root).
#[test]
fn github_annotations() {
    let db = TestDb::sqlite();
    let p = clean_repository(&db);
    let repo = db.dir();
    git(repo, &["init", "-q"]);
    git(repo, &["add", "project"]);
    git(repo, &["commit", "-q", "-m", "base"]);

    // users-full-name at 9: its tool is back, old storage is named, new storage dropped,
    // and this change edits its storage part.
    recorded_at(&p, ID, PLAN, Step::StopWritingOld);
    p.write("scripts/backfill_full_name.py", "print('sync')\n");
    p.write(
        "src/reports/legacy.py",
        "q = 'SELECT users.full_name FROM users'  # 100% legacy\n",
    );
    p.write(
        "db/migrations/0003_cleanup/up.sql",
        "DROP TABLE users_pii;\n",
    );
    p.write(
        &format!("plans/{ID}.toml"),
        &PLAN.replace("key = \"user_id\"", "key = \"id\""),
    );
    // accounts-email at 4: a schema file drops its old column, and its plan changed
    // since step 1 (before this change: the file is new to git, so not against --base).
    let accounts = "[old]\nkind = \"column\"\ntable = \"accounts\"\nkey = \"id\"\ncolumn = \"email\"\n\n\
                    [new]\ntable = \"accounts_pii\"\nkey = \"account_id\"\ncolumn = \"email\"\n\n\
                    [code]\nschema_paths = [\"db/accounts/*.sql\"]\n";
    p.write("plans/accounts-email.toml", accounts);
    p.write("db/accounts/0001.sql", "ALTER TABLE accounts DROP email;\n");
    let before = plan(
        "accounts-email",
        &accounts.replace(
            "column = \"email\"\n\n[code]",
            "column = \"email_address\"\n\n[code]",
        ),
    );
    Store::open(p.db).advance_to(&before, Step::Sync, hours_ago(300), Duration::hours(1));
    // orders-status: recorded, plan deleted. broken: invalid.
    let orders = PLAN
        .replace("users", "orders")
        .replace("full_name", "status");
    recorded_at(&p, "orders-status", &orders, Step::CrossCheck);
    p.write(
        "plans/broken.toml",
        "description = \"x\"\n[old]\nkind = \"colum\"\n",
    );

    let out = p
        .attrmig(["check", "--base", "HEAD", "--format", "github"])
        .run()
        .code(4);
    insta::assert_snapshot!("github_annotations", out.stdout);
}
