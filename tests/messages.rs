//! Messages that say what is wrong and what to do, at the edges: an identifier of 20 MB
//! is not echoed whole, a SQLite URL naming a directory or a device says what it names,
//! and an audit entry edited into something unreadable is named by table, migration and
//! entry.

use crate::support::*;

const ID: &str = "users-full-name";

/// Asserts that `text` is a message's length, not a file's.
#[track_caller]
fn short(text: &str) {
    assert!(text.len() < 2_000, "{} bytes printed", text.len());
}

#[test]
fn a_huge_identifier_is_not_echoed_whole() {
    let db = TestDb::sqlite();
    let huge = "x".repeat(20 * 1024 * 1024);
    let p = Project::new(&db).with_plan(
        ID,
        &USERS_PLAN.replace("table = \"users\"", &format!("table = \"{huge}\"")),
    );
    let out = p.attrmig(["validate"]).run().code(4);
    short(&out.stdout);
    assert!(out.stdout.contains("20971520 bytes"), "{}", out.stdout);
    assert!(out.stdout.contains("not shown"), "{}", out.stdout);
    assert!(out.stdout.contains("old.table"), "{}", out.stdout);
    let json = p.attrmig(["--json", "validate"]).run().code(4);
    short(&json.stdout);
    let refused = p.attrmig(["advance", ID]).run().code(3);
    short(&refused.stderr);
    assert!(refused.stderr.contains("not shown"), "{}", refused.stderr);

    // A key the parser does not know is named back by it, whole.
    p.write(&format!("plans/{ID}.toml"), &format!("[old]\n{huge} = 1\n"));
    let out = p.attrmig(["validate"]).run().code(4);
    short(&out.stdout);
    assert!(out.stdout.contains("not shown"), "{}", out.stdout);
}

#[test]
fn a_sqlite_url_that_names_no_database_file_says_what_it_names() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    std::fs::create_dir_all(p.path("data")).unwrap();
    p.attrmig(["--database-url", "sqlite://data", "status"])
        .run()
        .code(1)
        .stderr_has("data is a directory, not a SQLite database file")
        .stderr_has("name the database file in it, e.g. sqlite:///")
        .stderr_has("/project/data/app.db");
    p.attrmig(["--database-url", "sqlite:///dev/null", "status"])
        .run()
        .code(1)
        .stderr_has("/dev/null is a character device, not a SQLite database file");
    p.write(
        "notes.txt",
        "not a database, just text that is long enough to have a header\n",
    );
    p.attrmig(["--database-url", "sqlite://notes.txt", "status"])
        .run()
        .code(1)
        .stderr_has("notes.txt is not a SQLite database");
    // What the directory message advises works.
    std::fs::copy(
        db.url().trim_start_matches("sqlite://"),
        p.path("data/app.db"),
    )
    .unwrap();
    p.attrmig(["--database-url", "sqlite://data/app.db", "status"])
        .run()
        .ok();
    let out = p
        .attrmig(["--database-url", "sqlite://missing.db", "status"])
        .run()
        .code(1);
    assert!(
        out.stderr.contains("missing.db does not exist"),
        "{}",
        out.stderr
    );
}

backend_tests! {
    /// A time no backend's reader takes: text on SQLite, `infinity` on PostgreSQL, a
    /// zero date on MySQL. It said "Error deserializing field 'at'", from every command.
    fn an_edited_time_names_the_table_the_migration_and_the_entry(db: &TestDb) {
        let p = Project::new(db).with_users(5).with_plan(ID, USERS_PLAN);
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        p.attrmig(["cross-check", ID]).run();
        p.attrmig(["advance", ID]).run().ok();
        p.sql(match db.backend() {
            attrmig_db::Backend::Sqlite => "UPDATE attrmig_transitions SET at = 'yesterday' WHERE version = 2",
            attrmig_db::Backend::Postgres => "UPDATE attrmig_transitions SET at = 'infinity' WHERE version = 2",
            attrmig_db::Backend::Mysql => "SET SESSION sql_mode = ''; UPDATE attrmig_transitions SET at = '0000-00-00 00:00:00' WHERE version = 2",
        });
        let out = p.attrmig(["log", ID]).run().code(1);
        let named = "entry 2 of users-full-name in attrmig_transitions has an `at` attrmig can't read";
        assert!(out.stderr.contains(named) && out.stderr.contains("edited outside attrmig"), "{}", out.stderr);
        // Where the migration is named already (its log, its refusal), the break names
        // the entry and the table.
        let says = "entry 2 in attrmig_transitions has an `at` attrmig can't read: it was edited outside attrmig";
        assert!(!out.stderr.contains("Error deserializing"), "{}", out.stderr);
        p.attrmig(["log", ID, "--verify"])
            .run()
            .code(4)
            .stdout_has(says)
            .stdout_has("restore the attrmig_ tables from a backup");
        p.attrmig(["advance", ID]).run().code(3).stderr_has("the audit log of users-full-name is broken").stderr_has(says);
        p.attrmig(["status"]).run().ok().stdout_has("audit log broken");
        p.attrmig(["show", ID]).run().ok().stdout_has("audit log BROKEN").stdout_has(says);
        p.attrmig(["check"]).run().code(4).stdout_has(says);
        p.attrmig(["report", "--format", "markdown"]).run().code(4).stdout_has("BROKEN");
    }
}
