//! The SQL `attrmig ddl` prints is run as printed, by each backend's own client (what a
//! person pasting it does), and must do exactly what `--apply` does with bound values,
//! whatever the value: an EAV name ending in a backslash was printed as
//! `WHERE name = 'x\'' OR 1=1; DROP TABLE victim; -- '`, which MariaDB's client ran as two
//! statements, deleting every attribute row and dropping a table.

mod common;

use std::process::Command;

use attrmig_db::{AnyConnection, Backend};
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::{Layout, ddl};
use common::*;
use diesel::connection::SimpleConnection;

/// Names that need quoting beyond doubling `'`, or none at all.
const NAMES: &[&str] = &[
    "x\\' OR 1=1; DROP TABLE victim; -- ",
    "x\\",
    "\\\\",
    "o'brien",
    "a\\'b",
    "tab\there, newline\nthere",
    "esc \u{1b}[2K hidden",
    "ünïcode ☃",
    "full_name",
];

/// The rows of the EAV table: the name under test for keys 1 to 3, and neighbours a
/// wrong literal would match (its prefix, other backslash counts, another case).
fn rows(name: &str) -> Vec<(i64, String)> {
    let mut rows: Vec<(i64, String)> = (1..=3).map(|k| (k, name.to_owned())).collect();
    for (k, other) in [
        (4, "x"),
        (5, "x\\\\"),
        (6, "X\\"),
        (7, "full_name"),
        (8, "o'brien"),
        (9, "\\"),
    ] {
        if other != name {
            rows.push((k, other.to_owned()));
        }
    }
    rows
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn plan_for(name: &str) -> attrmig_core::Plan {
    plan(&EAV_PLAN.replace(
        "name = \"full_name\"",
        &format!("name = {}", toml_string(name)),
    ))
}

/// Creates `user_attributes` with [`rows`] and a `victim` table, both bound as values.
fn fixture(db: &TestDb, conn: &mut AnyConnection, name: &str) {
    db.execute(
        "DROP TABLE IF EXISTS user_attributes; DROP TABLE IF EXISTS victim; \
         CREATE TABLE user_attributes (user_id BIGINT NOT NULL, name VARCHAR(64) NOT NULL, value VARCHAR(255), PRIMARY KEY (user_id, name)); \
         CREATE TABLE victim (id INT);",
    );
    for (k, n) in rows(name) {
        let mut sql = attrmig_tools::sql::Sql::new(conn.backend());
        sql.push("INSERT INTO user_attributes (user_id, name, value) VALUES (")
            .bind(attrmig_tools::sql::Bind::Int(k))
            .push(", ")
            .bind(attrmig_tools::sql::Bind::Text(n))
            .push(", 'v')");
        sql.execute(conn).unwrap();
    }
}

/// What is left: the attribute rows by key, and whether `victim` survived.
fn state(conn: &mut AnyConnection) -> (Vec<(i64, String)>, bool) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        k: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        n: String,
    }
    use diesel::RunQueryDsl;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT user_id AS k, name AS n FROM user_attributes ORDER BY user_id")
            .load(conn)
            .unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        #[allow(dead_code)]
        n: i64,
    }
    let victim = diesel::sql_query("SELECT COUNT(*) AS n FROM victim")
        .get_result::<N>(conn)
        .is_ok();
    (rows.into_iter().map(|r| (r.k, r.n)).collect(), victim)
}

/// A session setting a server may run with that changes how a literal reads.
#[derive(Clone, Copy, Debug)]
enum Session {
    /// The server's defaults.
    Default,
    /// PostgreSQL `standard_conforming_strings = off` (backslashes escape in '...'),
    /// MySQL `NO_BACKSLASH_ESCAPES` (they don't).
    Other,
}

fn sessions(backend: Backend) -> &'static [Session] {
    match backend {
        Backend::Sqlite => &[Session::Default],
        Backend::Postgres | Backend::Mysql => &[Session::Default, Session::Other],
    }
}

/// The statement that sets `session` on a connection.
fn setting(backend: Backend, session: Session) -> Option<&'static str> {
    match (backend, session) {
        (_, Session::Default) | (Backend::Sqlite, _) => None,
        (Backend::Postgres, Session::Other) => {
            Some("SET standard_conforming_strings = off; SET escape_string_warning = off")
        }
        (Backend::Mysql, Session::Other) => {
            Some("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        }
    }
}

/// Runs `sql` as a person would: pasted into the backend's own client, in `session`.
fn paste(db: &TestDb, sql: &str, session: Session) -> std::process::Output {
    let url = db.url();
    let script = format!("{sql};");
    let mut cmd = match db.backend() {
        Backend::Sqlite => {
            let mut c = Command::new("sqlite3");
            c.arg(url.trim_start_matches("sqlite://")).arg(&script);
            c
        }
        Backend::Postgres => {
            let mut c = Command::new("psql");
            c.arg(url)
                .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(&script);
            if let Session::Other = session {
                c.env(
                    "PGOPTIONS",
                    "-c standard_conforming_strings=off -c escape_string_warning=off",
                );
            }
            c
        }
        Backend::Mysql => {
            let rest = url.split_once("://").unwrap().1;
            let (authority, database) = rest.split_once('/').unwrap();
            let (user, host) = authority.split_once('@').unwrap();
            let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
            let mut c = Command::new("mariadb");
            c.args([
                format!("--host={host}"),
                format!("--port={port}"),
                format!("--user={user}"),
                "--protocol=tcp".into(),
                "--default-character-set=utf8mb4".into(),
            ]);
            if let Some(set) = setting(Backend::Mysql, session) {
                c.arg(format!("--init-command={set}"));
            }
            c.arg(database.split('?').next().unwrap())
                .arg("--execute")
                .arg(&script);
            c
        }
    };
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run the {} client: {e}", db.backend()))
}

backend_tests! {
    fn printed_drop_old_does_what_apply_does(db: &TestDb) {
        let mut conn = db.connect();
        attrmig_store::setup::ensure_schema(&mut conn).unwrap();
        db.execute(&new_table(db, ""));
        for name in NAMES {
            let plan = plan_for(name);
            fixture(db, &mut conn, name);
            let layout = Layout::resolve(&mut conn, &plan).unwrap();
            let ddl = ddl::plan(&layout, attrmig_core::Step::DropOld, &[]).unwrap();
            let printed = ddl.report().statements.join(";\n");

            ddl::apply(&mut conn, &ddl).unwrap();
            let applied = state(&mut conn);
            assert!(
                applied.1 && !applied.0.iter().any(|(_, n)| n == name) && applied.0.len() >= 4,
                "--apply with {name:?}: {applied:?}"
            );

            for session in sessions(db.backend()) {
                fixture(db, &mut conn, name);
                let out = paste(db, &printed, *session);
                assert!(
                    out.status.success(),
                    "{name:?}: the client refused\n{printed}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(
                    state(&mut conn),
                    applied,
                    "{name:?} pasted, {session:?}: the printed SQL did something else than --apply:\n{printed}"
                );
                // The same through the driver, as one batch of statements.
                fixture(db, &mut conn, name);
                let mut batch = db.connect();
                if let Some(set) = setting(db.backend(), *session) {
                    batch.batch_execute(set).unwrap();
                }
                batch.batch_execute(&printed).unwrap();
                assert_eq!(state(&mut conn), applied, "{name:?} as a batch, {session:?}:\n{printed}");
            }
            assert!(
                !printed.chars().any(|c| c.is_control() && c != '\n'),
                "printed SQL holds control characters: {printed:?}"
            );
        }
    }
}
