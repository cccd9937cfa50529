//! Bad input gets a clear error that says what to do next, and loses nothing: a database
//! that went away, a state schema newer than the binary, a broken config, an unknown
//! migration, a plan that tries SQL injection.

use crate::support::*;

const ID: &str = "users-full-name";

#[test]
fn a_database_that_went_away() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"postgres://postgres@127.0.0.1:1/none\"\n",
    );
    p.attrmig(["status"])
        .run()
        .code(1)
        .stderr_has("cannot connect to postgres://postgres@127.0.0.1:1/none")
        .stderr_has("is the server running");
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"sqlite://gone.db\"\n",
    );
    p.attrmig(["status"])
        .run()
        .code(1)
        .stderr_has("gone.db does not exist");
    assert!(
        !p.path("gone.db").exists(),
        "no empty database created in its place"
    );
}

#[test]
fn passwords_are_not_printed() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    let out = p
        .attrmig([
            "--database-url",
            "postgres://app:hunter2@127.0.0.1:1/prod",
            "status",
        ])
        .run()
        .code(1);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(
        out.stderr.contains("postgres://app:***@127.0.0.1:1/prod"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_newer_state_schema_is_refused() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(3).with_plan(ID, USERS_PLAN);
    p.attrmig(["status"]).run().ok();
    let known = attrmig_store::setup::SCHEMA_VERSION;
    p.sql(&format!(
        "UPDATE attrmig_schema SET version = {}",
        known + 1
    ));
    p.attrmig(["status"]).run().code(1).stderr_has(&format!(
        "schema version {}, newer than this attrmig knows ({known}); upgrade attrmig",
        known + 1
    ));
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .code(1)
        .stderr_has("upgrade attrmig");
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_transitions"), 0);
}

#[test]
fn config_and_environment_errors() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    p.attrmig(["--env", "prd", "status"])
        .run()
        .code(1)
        .stderr_has("no environment `prd`")
        .stderr_has("defined: dev");
    p.write(
        "attrmig.toml",
        "[environments.prd]\ndatabase_url_env = \"ATTRMIG_TEST_NOT_SET\"\n",
    );
    p.attrmig(["--env", "prd", "status"])
        .run()
        .code(1)
        .stderr_has("$ATTRMIG_TEST_NOT_SET, which is not set");
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_ur = \"sqlite://app.db\"\n",
    );
    p.attrmig(["status"])
        .run()
        .code(1)
        .stderr_has("attrmig.toml:2:1: environments.dev.database_ur: unknown key");
    let elsewhere = tempfile::tempdir().unwrap();
    p.attrmig(["status"])
        .current_dir(elsewhere.path())
        .run()
        .code(1)
        .stderr_has("no attrmig.toml")
        .stderr_has("--database-url");
}

#[test]
fn an_environment_reads_its_url_from_a_variable() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(3).with_plan(ID, USERS_PLAN);
    p.write(
        "attrmig.toml",
        "[environments.prd]\ndatabase_url_env = \"APP_DB\"\n",
    );
    p.attrmig(["--env", "prd", "status"])
        .env("APP_DB", db.url())
        .run()
        .ok()
        .stdout_has(ID);
    p.attrmig(["status"])
        .env("ATTRMIG_ENV", "prd")
        .env("APP_DB", db.url())
        .run()
        .ok();
}

#[test]
fn a_plan_that_tries_sql_injection_is_refused_at_validation() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(3);
    p.write(
        "plans/evil.toml",
        &USERS_PLAN.replace(
            "table = \"users_pii\"",
            "table = \"users_pii; DROP TABLE users; --\"",
        ),
    );
    p.attrmig(["validate"])
        .run()
        .code(4)
        .stdout_has("new.table: \"users_pii; DROP TABLE users; --\" is not a valid identifier");
    p.attrmig(["advance", "evil"])
        .run()
        .code(3)
        .stderr_has("the plan is invalid");
    p.attrmig(["ddl", "evil", "prepare-storage", "--apply"])
        .run()
        .code(3);
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM users"),
        3,
        "users survived"
    );
}

#[test]
fn unknown_migrations_and_steps_are_usage_errors() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    p.attrmig(["show", "nope"])
        .run()
        .code(2)
        .stderr_has("no migration `nope`")
        .stderr_has("attrmig init nope");
    p.attrmig(["ddl", ID, "sync"])
        .run()
        .code(2)
        .stderr_has("has no DDL");
    p.attrmig(["advance", ID, "--to", "11"])
        .run()
        .code(2)
        .stderr_has("unknown step");
    p.attrmig(["frobnicate"]).run().code(2);
}

#[test]
fn errors_are_json_with_json() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(3).with_plan(ID, USERS_PLAN);
    let out = p.attrmig(["--json", "advance", ID]).run().code(3);
    let doc = out.json();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["error"]["kind"], "refused");
    assert_eq!(doc["error"]["to"], "prepare-storage");
    assert_eq!(doc["error"]["guards"][1]["name"], "new-storage-exists");
    assert_eq!(doc["error"]["guards"][1]["passed"], false);
    let doc = p
        .attrmig(["--json", "advance", ID, "--to", "sync"])
        .run()
        .code(3)
        .json();
    assert_eq!(doc["error"]["refusal"]["code"], "out-of-order");
}

#[test]
fn init_writes_a_plan_that_validates() {
    let db = TestDb::sqlite();
    let p = Project::new(&db);
    p.attrmig([
        "init",
        "orders-note",
        "--old",
        "orders.note",
        "--new",
        "order_notes.body",
        "--new-key",
        "order_id",
        "--owner",
        "billing",
    ])
    .run()
    .ok()
    .stdout_has("wrote plans/orders-note.toml");
    p.attrmig(["validate"])
        .run()
        .ok()
        .stdout_has("ok       plans/orders-note.toml");
    p.attrmig([
        "init",
        "orders-note",
        "--old",
        "orders.note",
        "--new",
        "order_notes.body",
    ])
    .run()
    .code(2)
    .stderr_has("--force");
    p.attrmig(["init", "Bad", "--old", "orders.note", "--new", "x.y"])
        .run()
        .code(2);
    p.attrmig(["init", "x", "--old", "orders", "--new", "x.y"])
        .run()
        .code(2)
        .stderr_has("TABLE.COLUMN");
}
