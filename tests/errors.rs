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

/// `init --kind json --path a.b` and `init --kind eav --name N` write plans of those kinds
/// that validate and that the tools run on; a flag of another kind is a usage error.
#[test]
fn init_writes_json_and_eav_plans() {
    let db = TestDb::sqlite();
    let p = Project::new(&db);
    p.sql(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, attrs TEXT);
         INSERT INTO accounts VALUES (1, '{\"profile\": {\"email\": \"a@x\"}}'), (2, '{}');
         CREATE TABLE user_attributes (user_id INTEGER NOT NULL, attr TEXT NOT NULL, value TEXT, PRIMARY KEY (user_id, attr));
         INSERT INTO user_attributes VALUES (1, 'phone', '555'), (1, 'city', 'Oslo'), (2, 'phone', '777');",
    );
    p.attrmig([
        "init",
        "accounts-email",
        "--kind",
        "json",
        "--old",
        "accounts.attrs",
        "--path",
        "profile.email",
        "--new",
        "account_emails.email",
        "--new-key",
        "account_id",
    ])
    .run()
    .ok()
    .stdout_has(
        "wrote plans/accounts-email.toml: accounts.attrs->profile.email → account_emails.email",
    );
    let json_plan = std::fs::read_to_string(p.path("plans/accounts-email.toml")).unwrap();
    assert!(
        json_plan.contains("kind = \"json\"") && json_plan.contains("path = \"profile.email\""),
        "{json_plan}"
    );
    p.attrmig([
        "init",
        "user-phone",
        "--kind",
        "eav",
        "--old",
        "user_attributes.value",
        "--old-key",
        "user_id",
        "--name-column",
        "attr",
        "--name",
        "phone",
        "--new",
        "user_phones.phone",
    ])
    .run()
    .ok()
    .stdout_has("user_attributes[attr=phone] → user_phones.phone");
    let eav_plan = std::fs::read_to_string(p.path("plans/user-phone.toml")).unwrap();
    assert!(
        eav_plan.contains("kind = \"eav\"") && eav_plan.contains("name_column = \"attr\""),
        "{eav_plan}"
    );
    assert!(
        eav_plan.contains("value_column = \"value\"") && eav_plan.contains("key = \"user_id\""),
        "{eav_plan}"
    );
    p.attrmig(["validate"]).run().ok();
    // The tools take them as they are.
    for (id, missing) in [
        ("accounts-email", "missing in new 1"),
        ("user-phone", "missing in new 2"),
    ] {
        p.attrmig(["ddl", id, "prepare-storage", "--apply"])
            .run()
            .ok();
        p.attrmig(["cross-check", id])
            .run()
            .code(4)
            .stdout_has(missing);
    }

    let usage: [(&[&str], &str); 6] = [
        (
            &["--kind", "json", "--old", "a.doc"],
            "--kind json needs --path",
        ),
        (
            &["--kind", "eav", "--old", "a.value"],
            "--kind eav needs --name",
        ),
        (
            &["--old", "a.b", "--path", "x"],
            "--path is for --kind json",
        ),
        (
            &["--old", "a.b", "--name", "phone"],
            "--name and --name-column are for --kind eav",
        ),
        (
            &["--kind", "json", "--old", "a.doc", "--path", "a..b"],
            "--path",
        ),
        (&["--kind", "xml", "--old", "a.b"], "xml"),
    ];
    for (args, says) in usage {
        let mut all = vec!["init", "x", "--new", "t.c"];
        all.extend_from_slice(args);
        p.attrmig(&all).run().code(2).stderr_has(says);
    }
}
