//! One fresh database per test, on every backend the environment offers.
//!
//! - SQLite always, in a temporary folder.
//! - PostgreSQL when `ATTRMIG_TEST_PG_URL` is set (an admin URL; a database is created
//!   per test and dropped when the test passes, kept for inspection when it fails).
//! - MySQL/MariaDB when `ATTRMIG_TEST_MYSQL_URL` is set and attrmig-db was built with its
//!   `mysql` feature ([`attrmig_db::MYSQL_SUPPORTED`]; e.g. `cargo test --features mysql`).
//!
//! When `ATTRMIG_TEST_REQUIRE` names a backend (`pg`, `mysql`, comma-separated), a missing
//! URL or an unreachable server fails the test instead of skipping it: a CI that thinks
//! it tests PostgreSQL must not silently test SQLite.
//!
//! [`backend_tests!`] turns one test body into one test per backend.

#![allow(clippy::print_stderr)] // telling why a backend is skipped is this crate's job

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use attrmig_db::{AnyConnection, Backend, DatabaseUrl, connect, create_sqlite};
use diesel::connection::SimpleConnection;

/// A database that exists for one test.
pub struct TestDb {
    backend: Backend,
    url: String,
    dir: tempfile::TempDir,
    /// For servers: the admin URL and the database name to drop.
    server: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn required(tag: &str) -> bool {
    std::env::var("ATTRMIG_TEST_REQUIRE")
        .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(tag)))
        .unwrap_or(false)
}

fn unavailable(tag: &str, why: String) -> Option<TestDb> {
    if required(tag) {
        panic!("ATTRMIG_TEST_REQUIRE contains `{tag}` but {why}");
    }
    eprintln!("skipping the {tag} variant: {why}");
    None
}

fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

fn unique_name() -> String {
    format!(
        "attrmig_t{}_{}_{:06x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>() & 0xff_ffff
    )
}

impl TestDb {
    /// A new, empty SQLite database file.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.db");
        create_sqlite(&path).expect("create SQLite database");
        TestDb {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            dir,
            server: None,
        }
    }

    /// A new PostgreSQL database, or `None` (skip) when none is configured.
    pub fn postgres() -> Option<TestDb> {
        Self::server("pg", "ATTRMIG_TEST_PG_URL", Backend::Postgres)
    }

    /// A new MySQL/MariaDB database, or `None` (skip) when none is configured.
    pub fn mysql() -> Option<TestDb> {
        if !attrmig_db::MYSQL_SUPPORTED {
            return unavailable(
                "mysql",
                "this build has no MySQL support; run the tests with `--features mysql`".into(),
            );
        }
        Self::server("mysql", "ATTRMIG_TEST_MYSQL_URL", Backend::Mysql)
    }

    fn server(tag: &str, var: &str, backend: Backend) -> Option<TestDb> {
        let Some(admin) = std::env::var(var).ok().filter(|v| !v.is_empty()) else {
            return unavailable(tag, format!("{var} is not set"));
        };
        let admin_url = DatabaseUrl::parse(&admin, Path::new("/")).expect("a valid admin URL");
        let mut conn = match connect(&admin_url) {
            Ok(conn) => conn,
            Err(e) => return unavailable(tag, format!("{var} is unreachable: {e}")),
        };
        Some(Self::created(&mut conn, backend, admin))
    }

    /// A new database on the server of `admin` (a URL a test has of a server it started
    /// itself, with settings of its own).
    pub fn on_server(admin: &str) -> TestDb {
        let admin_url = DatabaseUrl::parse(admin, Path::new("/")).expect("a valid admin URL");
        let mut conn = connect(&admin_url).expect("connect to the test's own server");
        Self::created(&mut conn, admin_url.backend(), admin.to_owned())
    }

    fn created(conn: &mut AnyConnection, backend: Backend, admin: String) -> TestDb {
        let name = unique_name();
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        TestDb {
            backend,
            url: with_database(&admin, &name),
            dir: tempfile::tempdir().expect("temp dir"),
            server: Some((admin, name)),
        }
    }

    /// The database's URL, for `--database-url` or `attrmig.toml`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A scratch folder that lives as long as the database (a project root for tests).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new connection to it.
    pub fn connect(&self) -> AnyConnection {
        connect(&DatabaseUrl::parse(&self.url, Path::new("/")).expect("valid URL"))
            .expect("connect to the test database")
    }

    /// Runs SQL (several statements allowed), panicking with the statement on failure.
    pub fn execute(&self, sql: &str) {
        self.connect()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{e}\nin: {sql}"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = &self.server else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("test failed: database {name} kept for inspection");
            return;
        }
        let Ok(url) = DatabaseUrl::parse(admin, Path::new("/")) else {
            return;
        };
        if let Ok(mut conn) = connect(&url) {
            let force = if self.backend == Backend::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name}{force}"));
        }
    }
}

/// Defines one test per backend from one body:
///
/// ```ignore
/// backend_tests! {
///     fn sync_copies_every_row(db: &TestDb) { ... }
/// }
/// ```
///
/// expands to `sqlite::sync_copies_every_row`, `postgres::sync_copies_every_row` and
/// `mysql::sync_copies_every_row`; server variants skip (or fail, when required) without
/// a server.
#[macro_export]
macro_rules! backend_tests {
    ($(#[$meta:meta])* fn $name:ident($db:ident: &TestDb) $body:block $($rest:tt)*) => {
        $(#[$meta])*
        fn $name($db: &$crate::TestDb) $body

        $crate::backend_tests!(@variants $name);
        $crate::backend_tests!($($rest)*);
    };
    (@variants $name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&$crate::TestDb::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(db) = $crate::TestDb::postgres() {
                    super::$name(&db);
                }
            }
            #[test]
            fn mysql() {
                if let Some(db) = $crate::TestDb::mysql() {
                    super::$name(&db);
                }
            }
        }
    };
    () => {};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306/test?ssl=false", "x"),
            "mysql://root@h:3306/x?ssl=false"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
