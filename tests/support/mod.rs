//! Test support for the end-to-end tests: a project folder around a fresh database, and a
//! builder that runs the real `attrmig` binary and checks what a user would see.
//!
//! ```ignore
//! let p = Project::new(db).with_users(100).with_plan("users-full-name", USERS_PLAN);
//! p.attrmig(["advance", "users-full-name"]).run().code(3).stderr_has("new table `users_pii`");
//! ```

#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;

use attrmig_db::Backend;
pub use attrmig_testing::{TestDb, backend_tests};

mod backup;
pub use backup::Backup;

mod mariadb;
pub use mariadb::ThrowawayMariaDb;

/// The plan every lifecycle test starts from: DESIGN.md's example, with a soak and a
/// cross-check age that let a test walk all ten steps in seconds.
pub const USERS_PLAN: &str = r#"
description = "Move full_name out of users into users_pii"
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

[sync]
batch_size = 37

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1

[tools]
paths = ["scripts/backfill_full_name.py"]
"#;

/// A project folder (attrmig.toml, plans/) whose dev environment is `db`.
pub struct Project<'a> {
    pub db: &'a TestDb,
    pub root: PathBuf,
}

impl<'a> Project<'a> {
    /// A project around `db`, in the database's scratch folder.
    pub fn new(db: &'a TestDb) -> Project<'a> {
        let root = db.dir().join("project");
        std::fs::create_dir_all(root.join("plans")).unwrap();
        std::fs::write(
            root.join("attrmig.toml"),
            format!("[environments.dev]\ndatabase_url = {:?}\n", db.url()),
        )
        .unwrap();
        Project { db, root }
    }

    /// Adds `users(id, full_name NOT NULL)` with `rows` rows named `name <id>`.
    pub fn with_users(self, rows: usize) -> Self {
        self.sql(&users_table_sql(self.db.backend(), rows));
        self
    }

    /// Writes plans/<id>.toml.
    pub fn with_plan(self, id: &str, text: &str) -> Self {
        self.write(&format!("plans/{id}.toml"), text);
        self
    }

    /// Writes a file under the project root.
    pub fn write(&self, path: &str, text: &str) {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Runs SQL on the application database.
    pub fn sql(&self, sql: &str) {
        self.db.execute(sql);
    }

    /// One number from the application database.
    pub fn count(&self, sql: &str) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(sql)
            .get_result::<N>(&mut conn)
            .unwrap_or_else(|e| panic!("{e}\nin: {sql}"))
            .n
    }

    /// A command of the real binary, run in the project root as alice@example.com.
    pub fn attrmig<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_attrmig"));
        cmd.args(args).current_dir(&self.root);
        for var in [
            "ATTRMIG_DATABASE_URL",
            "ATTRMIG_ENV",
            "ATTRMIG_ACTOR",
            "NO_COLOR",
            "COLUMNS",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("ATTRMIG_ACTOR", "alice@example.com")
            .env("COLUMNS", "200");
        Cmd { cmd }
    }

    /// The project root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `log ID --verify --json`, asserted intact.
    #[track_caller]
    pub fn intact_log(&self, id: &str) -> serde_json::Value {
        let log = self
            .attrmig(["--json", "log", id, "--verify"])
            .run()
            .ok()
            .json();
        assert_eq!(log["verification"]["result"], "intact", "{log:#}");
        log
    }
}

/// The SQL that creates and fills `users` on a backend.
pub fn users_table_sql(backend: Backend, rows: usize) -> String {
    match backend {
        Backend::Sqlite => format!(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
             WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows})
             INSERT INTO users (id, full_name) SELECT n, 'name ' || n FROM s WHERE {rows} > 0;"
        ),
        Backend::Postgres => format!(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
             INSERT INTO users (id, full_name) SELECT n, 'name ' || n FROM generate_series(1, {rows}) n;"
        ),
        Backend::Mysql => format!(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
             INSERT INTO users (id, full_name)
             SELECT n, CONCAT('name ', n) FROM (
               SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1 AS n
               FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
                    (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e
             ) s WHERE n <= {rows};"
        ),
    }
}

/// A command about to run.
pub struct Cmd {
    cmd: Command,
}

impl Cmd {
    /// Acts as someone else.
    pub fn actor(mut self, actor: &str) -> Self {
        self.cmd.env("ATTRMIG_ACTOR", actor);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Runs it in `dir` instead of the project root.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs it to completion.
    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("run attrmig");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            what: format!("{:?}", self.cmd),
        }
    }

    /// The underlying command, to spawn it.
    pub fn into_command(self) -> Command {
        self.cmd
    }
}

/// What a command printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    what: String,
}

impl Output {
    fn explain(&self) -> String {
        format!(
            "{}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        self.code(0)
    }

    /// Asserts an exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{}", self.explain());
        self
    }

    /// Asserts stdout contains `s`.
    #[track_caller]
    pub fn stdout_has(self, s: &str) -> Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\n{}",
            self.explain()
        );
        self
    }

    /// Asserts stderr contains `s`.
    #[track_caller]
    pub fn stderr_has(self, s: &str) -> Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\n{}",
            self.explain()
        );
        self
    }

    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.explain()))
    }
}

/// How many keys a finished sync pass says it visited (`... N keys visited ...`).
pub fn keys_visited(stdout: &str) -> u64 {
    stdout
        .split(" keys visited")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `N keys visited` in:\n{stdout}"))
}
