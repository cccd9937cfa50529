//! docs/app.md documents the fleet protocol as plain SQL per backend. This test takes
//! the statements from the page itself: they must be the protocol's own, and they must
//! work, run through the library on every backend, and as a PostgreSQL role (and a
//! MariaDB user) that holds only the documented grants.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use attrmig_app::{DieselStateDb, Instance, Step};
use attrmig_core::Position;
use attrmig_core::fleet::Counter;
use attrmig_db::Backend;
use attrmig_protocol::{Dialect, READ_STEPS, upsert_report};
use common::*;

/// Every ```sql DIALECT NAME``` block of docs/app.md, by (dialect, name).
fn documented() -> BTreeMap<(String, String), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/app.md");
    let text = std::fs::read_to_string(&path).expect("docs/app.md");
    let mut blocks = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```sql ") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let (Some(dialect), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.insert((dialect.to_owned(), name.to_owned()), body.join("\n"));
    }
    blocks
}

fn statement(dialect: Dialect, name: &str) -> String {
    documented()
        .remove(&(dialect.name().to_owned(), name.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "docs/app.md has no ```sql {} {name}``` block",
                dialect.name()
            )
        })
}

fn words(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn dialect(db: &TestDb) -> Dialect {
    match db.backend() {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
        Backend::Mysql => Dialect::Mysql,
    }
}

#[test]
fn the_documented_statements_are_the_protocols() {
    for d in Dialect::ALL {
        assert_eq!(
            words(&statement(d, "read-steps")),
            words(READ_STEPS),
            "{d:?}"
        );
        assert_eq!(
            words(&statement(d, "upsert-report")),
            words(upsert_report(d)),
            "{d:?}"
        );
    }
}

/// An instance whose client runs the documented statements, on `url`.
fn documented_instance(url: &str, d: Dialect) -> Instance {
    let db = DieselStateDb::with_statements(
        url,
        statement(d, "read-steps"),
        statement(d, "upsert-report"),
    )
    .unwrap();
    Instance::builder()
        .state_db(db)
        .migration(ID)
        .instance_id("documented")
        .app_version("doc-1")
        .refresh_every(Duration::from_millis(50))
        .report_every(Duration::from_millis(100))
        .open()
        .expect("open with the documented statements")
}

fn walks_the_protocol(state: &mut State, url: &str, d: Dialect) {
    let instance = documented_instance(url, d);
    let m = instance.migration(ID).unwrap();
    eventually("the documented read finds the step", || {
        m.status().step == Step::DoubleWrite
    });
    m.write(|| Ok::<(), ()>(()), || Ok(())).unwrap();
    eventually("the documented upsert writes a report", || {
        state
            .reports(ID)
            .first()
            .is_some_and(|r| r.current_counters()[Counter::WritesNew] == 1)
    });
    // And replaces it.
    m.write(|| Ok::<(), ()>(()), || Ok(())).unwrap();
    eventually("the documented upsert replaces it", || {
        state
            .reports(ID)
            .first()
            .is_some_and(|r| r.current_counters()[Counter::WritesNew] == 2)
    });
    assert_eq!(state.reports(ID).len(), 1);
}

fn at_double_write(state: &mut State) {
    for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
        state.set(ID, Position::At(step));
    }
}

backend_tests! {
    fn the_documented_statements_work(db: &TestDb) {
        let mut state = State::new(db);
        at_double_write(&mut state);
        walks_the_protocol(&mut state, db.url(), dialect(db));
    }
}

/// Runs the documented grants for `user`, as the admin.
fn grant(db: &TestDb, d: Dialect, user: &str) {
    let grants = statement(d, "grants").replace("app_user", user);
    db.execute(&grants);
}

#[test]
fn the_library_runs_as_a_postgres_role_with_only_the_documented_grants() {
    let Some(db) = TestDb::postgres() else { return };
    let mut state = State::new(&db);
    at_double_write(&mut state);
    let role = format!("attrmig_app_{}", std::process::id());
    db.execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"
    ));
    grant(&db, Dialect::Postgres, &role);
    let url = db.url().replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(url, db.url(), "the test URL names its user");

    walks_the_protocol(&mut state, &url, Dialect::Postgres);
    // The same through the library's own statements.
    let instance = Instance::builder()
        .state_url(&url)
        .migration(ID)
        .open()
        .unwrap();
    assert!(instance.mode(ID).write_new);

    // And the role can do nothing else.
    let mut conn =
        attrmig_db::connect(&attrmig_db::DatabaseUrl::parse(&url, Path::new("/")).unwrap())
            .unwrap();
    use diesel::connection::SimpleConnection;
    for sql in [
        "UPDATE attrmig_migrations SET step = 'drop-old'",
        "SELECT periods FROM attrmig_fleet_reports",
        "DELETE FROM attrmig_fleet_reports",
        "SELECT * FROM attrmig_transitions",
    ] {
        let err = conn.batch_execute(sql).unwrap_err().to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    drop((instance, conn));
    db.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

#[test]
fn the_library_runs_as_a_mysql_user_with_only_the_documented_grants() {
    let Some(db) = TestDb::mysql() else { return };
    let mut state = State::new(&db);
    at_double_write(&mut state);
    let user = format!("attrmig_app_{}", std::process::id());
    db.execute(&format!(
        "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%'"
    ));
    grant(&db, Dialect::Mysql, &format!("'{user}'@'%'"));
    let url = db.url().replacen("root@", &format!("{user}@"), 1);
    assert_ne!(url, db.url(), "the test URL names its user");

    walks_the_protocol(&mut state, &url, Dialect::Mysql);
    let mut conn =
        attrmig_db::connect(&attrmig_db::DatabaseUrl::parse(&url, Path::new("/")).unwrap())
            .unwrap();
    use diesel::connection::SimpleConnection;
    // (The upsert needs SELECT on the reports there: reading them is allowed.)
    for sql in [
        "UPDATE attrmig_migrations SET step = 'drop-old'",
        "DELETE FROM attrmig_fleet_reports",
        "SELECT * FROM attrmig_transitions",
    ] {
        let err = conn.batch_execute(sql).unwrap_err().to_string();
        assert!(err.contains("denied"), "{sql}: {err}");
    }
    drop(conn);
    db.execute(&format!("DROP USER '{user}'@'%'"));
}
