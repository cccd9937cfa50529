//! What MySQL/MariaDB make necessary, through the real binary: DDL commits as it goes
//! there, so an intent announced before a DDL and never closed (a process killed
//! mid-DDL) blocks every change until a person resolves it; and a `mysql://` URL on a
//! build without MySQL support says how to rebuild. The intent story runs on every
//! backend: the rule is the same everywhere.

use crate::support::*;

const ID: &str = "users-full-name";

fn audit_kinds(p: &Project<'_>) -> Vec<String> {
    p.intact_log(ID)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    fn an_open_ddl_intent_refuses_every_change_until_resolved(db: &TestDb) {
        let p = Project::new(db).with_users(20).with_plan(ID, USERS_PLAN);
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_intents WHERE finished_at IS NULL"), 0, "the applied DDL closed its intent");
        // A `ddl prepare-old-stop --apply` killed after announcing its statement: on
        // MySQL the ALTER may or may not have run, and nothing else says which.
        p.sql(
            "INSERT INTO attrmig_intents (migration_id, intent, what, statements, actor, started_at) \
             VALUES ('users-full-name', 2, 'ddl prepare-old-stop', 'ALTER TABLE users MODIFY COLUMN full_name VARCHAR(255) NULL', 'bob@example.com', '2026-11-21 10:00:00')",
        );
        let entries = audit_kinds(&p).len();

        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("an earlier `ddl prepare-old-stop` started at 2026-11-21 10:00:00")
            .stderr_has("by bob@example.com did not finish; check the database by hand")
            .stderr_has("--resolve-intent 2");
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"]).run().code(3).stderr_has("did not finish");
        p.attrmig(["rollback", ID, "--reason", "start over"]).run().code(3).stderr_has("did not finish");
        // Printing the statements changes nothing and stays allowed.
        p.attrmig(["ddl", ID, "prepare-old-stop"]).run().ok().stdout_has("not applied");
        assert_eq!(audit_kinds(&p).len(), entries, "nothing was written while refused");

        // Closing it takes the right number and a note saying what was checked.
        p.attrmig(["ddl", ID, "--resolve-intent", "2"]).run().code(2).stderr_has("--note");
        p.attrmig(["ddl", ID, "--resolve-intent", "1", "--note", "checked"]).run().code(2).stderr_has("intent 1 of users-full-name is not the open one (intent 2 is)");
        p.attrmig(["ddl", ID, "--resolve-intent", "2", "--note", "checked: full_name is still NOT NULL, the ALTER never ran"])
            .run()
            .ok()
            .stdout_has("intent 2 closed");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_intents WHERE intent = 2 AND outcome = 'resolved' AND finished_at IS NOT NULL"), 1);
        let log = p.attrmig(["--json", "log", ID]).run().ok().json();
        let last = log["entries"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["kind"].as_str(), last["note"].as_str()), (Some("ddl"), Some("checked: full_name is still NOT NULL, the ALTER never ran")), "{last}");
        assert!(last.to_string().contains("resolved_intent"), "{last}");
        assert_eq!(audit_kinds(&p).len(), entries + 1);
        p.attrmig(["ddl", ID, "--resolve-intent", "2", "--note", "again"]).run().code(2).stderr_has("(none is open)");

        // Work goes on: the DDL that was interrupted now runs, and keeps the rows.
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"]).run().ok().stdout_has("applied; audit entry");
        p.sql("INSERT INTO users (id) VALUES (1000)");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users WHERE full_name IS NULL"), 1);
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users"), 21);
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_intents WHERE finished_at IS NULL"), 0);
    }
}

/// A build without the `mysql` feature names the rebuild command for a `mysql://` URL,
/// from attrmig.toml or from `--database-url`, and touches nothing.
#[cfg(not(feature = "mysql"))]
#[test]
fn a_mysql_url_on_a_build_without_mysql_says_how_to_rebuild() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"mysql://app:s3cret@db.example.com:3306/app\"\n",
    );
    let out = p
        .attrmig(["status"])
        .run()
        .code(1)
        .stderr_has("this attrmig was built without MySQL/MariaDB support")
        .stderr_has("cargo build --release --features mysql")
        .stderr_has("libmariadb-dev or libmysqlclient-dev");
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"sqlite://app.db\"\n",
    );
    p.attrmig([
        "--database-url",
        "mariadb://root@127.0.0.1/test",
        "advance",
        ID,
    ])
    .run()
    .code(1)
    .stderr_has("cargo build --release --features mysql");
    let json = p
        .attrmig([
            "--json",
            "--database-url",
            "mysql://root@127.0.0.1/test",
            "status",
        ])
        .run()
        .code(1)
        .json();
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--features mysql")),
        "{json}"
    );
}
