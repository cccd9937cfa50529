//! No message attrmig prints holds a password, whatever the driver says: malformed URLs,
//! bad percent escapes, passwords libpq would split, a wrong password, an unreachable or
//! unknown host, and server errors that echo the password, on each driver, from every
//! command that connects, in text and with `--json`.

use std::process::{Child, Command};

use crate::support::*;

const ID: &str = "users-full-name";

/// The commands that open the database.
const COMMANDS: &[&[&str]] = &[
    &["status"],
    &["show", ID],
    &["advance", ID],
    &["approve", ID],
    &["log", ID, "--verify"],
    &["mode", ID],
    &["ddl", ID, "prepare-storage"],
    &["cross-check", ID],
    &["sync", ID],
    &["data-issues", ID],
    &["check"],
    &["report", "--format", "markdown"],
];

/// Asserts that nothing `out` printed holds any of `secrets`.
#[track_caller]
fn hides(out: &Output, secrets: &[&str]) {
    for secret in secrets {
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.contains(secret),
                "{stream} shows {secret:?}:\n{}\n{}",
                out.stdout,
                out.stderr
            );
        }
    }
}

/// Every command, in text and JSON, with `url` as the database: none succeeds, none shows
/// a secret, and each says `says` (in text) or puts it in the JSON error's message.
fn every_command(p: &Project<'_>, url: &str, secrets: &[&str], says: &str) {
    for command in COMMANDS {
        let text = p
            .attrmig(["--database-url", url].iter().chain(command.iter()))
            .run();
        assert_ne!(text.code, 0, "{command:?} with {url}");
        hides(&text, secrets);
        assert!(
            text.stderr.contains(says),
            "{command:?}: stderr lacks {says:?}:\n{}",
            text.stderr
        );
        let json = p
            .attrmig(
                ["--json", "--database-url", url]
                    .iter()
                    .chain(command.iter()),
            )
            .run();
        hides(&json, secrets);
        let doc = json.json();
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{command:?}: {doc}");
    }
}

fn project(db: &TestDb) -> Project<'_> {
    Project::new(db).with_plan(ID, USERS_PLAN)
}

#[test]
fn malformed_postgres_urls_never_show_the_password() {
    let db = TestDb::sqlite();
    let p = project(&db);
    // libpq printed the whole URL: "... IPv6 host address in URI: "postgres://app:S3cretPW@[...".
    every_command(
        &p,
        "postgres://app:S3cretPW@[::1:5432/db",
        &["S3cretPW"],
        "postgres://app:***@[::1:5432/db",
    );
    // libpq printed the password as "invalid percent-encoded token: "S3c%ZZretPW"".
    every_command(
        &p,
        "postgres://app:S3c%ZZretPW@127.0.0.1:5432/db",
        &["S3c%ZZretPW", "ZZretPW"],
        "percent-encode",
    );
    // libpq splits at the first `/` or `@`: "invalid integer value "S3c" for connection
    // option "port"", "could not translate host name "retPW@127.0.0.1"".
    every_command(
        &p,
        "postgres://app:S3c/retPW@127.0.0.1:5432/db",
        &["S3c/retPW", "retPW"],
        "%2F",
    );
    every_command(
        &p,
        "postgres://app:S3c@retPW@127.0.0.1:5432/db",
        &["S3c@retPW", "retPW"],
        "%40",
    );
    every_command(
        &p,
        "postgres://app@127.0.0.1:5432/db?password=S3c%ZZretPW",
        &["S3c%ZZretPW", "ZZretPW"],
        "percent-encode",
    );
}

#[test]
fn unreachable_and_unknown_hosts_never_show_the_password() {
    let db = TestDb::sqlite();
    let p = project(&db);
    every_command(
        &p,
        "postgres://app:S3cretPW@127.0.0.1:1/db",
        &["S3cretPW"],
        "postgres://app:***@127.0.0.1:1/db",
    );
    every_command(
        &p,
        "postgres://app@127.0.0.1:1/db?sslmode=disable&password=S3cretPW",
        &["S3cretPW"],
        "password=***",
    );
    let out = p
        .attrmig([
            "--database-url",
            "postgres://app:S3cretPW@no-such-host.invalid/db",
            "status",
        ])
        .run()
        .code(1);
    hides(&out, &["S3cretPW"]);
    // Not a URL at all, but a libpq keyword string: it was echoed whole.
    every_command(
        &p,
        "host=127.0.0.1 user=app password=S3cretPW dbname=db",
        &["S3cretPW"],
        "is not a database URL",
    );
    // A SQLite URL written like a server's: the path it names holds the password.
    every_command(
        &p,
        "sqlite://app:S3cretPW@db.example/app.db",
        &["S3cretPW"],
        "does not exist",
    );
}

#[test]
fn a_url_held_in_an_environment_variable_is_hidden_too() {
    let db = TestDb::sqlite();
    let p = project(&db);
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url_env = \"APP_DB\"\n",
    );
    let out = p
        .attrmig(["status"])
        .env("APP_DB", "postgres://app:S3c%ZZretPW@127.0.0.1:1/db")
        .run()
        .code(1);
    hides(&out, &["S3c%ZZretPW", "ZZretPW"]);
    // A broken attrmig.toml is quoted back by the TOML parser, line and all.
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"postgres://app:S3cretPW@127.0.0.1/db\nplans = 3\n",
    );
    let out = p.attrmig(["status"]).run().code(1);
    hides(&out, &["S3cretPW"]);
    let out = p.attrmig(["--json", "status"]).run().code(1);
    hides(&out, &["S3cretPW"]);
}

/// A PostgreSQL server of its own with password authentication, stopped on drop.
struct PasswordServer {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
}

impl PasswordServer {
    fn start() -> PasswordServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries in /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, "RightPW1\n").unwrap();
        let chown = |path: &std::path::Path| {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(path)
                .status()
                .unwrap();
        };
        chown(dir.path());
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let server = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ready = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        assert!(ready, "the password server did not start");
        PasswordServer {
            dir,
            port,
            server: Some(server),
        }
    }
}

impl Drop for PasswordServer {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGTERM to the postgres we started (runuser passes it on): a smart shutdown.
            let _ = Command::new("kill").arg(server.id().to_string()).status();
            let _ = server.wait();
        }
        let _ = &self.dir;
    }
}

#[test]
fn a_wrong_postgres_password_is_not_shown() {
    if TestDb::postgres().is_none() {
        return;
    }
    let server = PasswordServer::start();
    let db = TestDb::sqlite();
    let p = project(&db);
    let url = format!(
        "postgres://postgres:WrongPW1@127.0.0.1:{}/postgres",
        server.port
    );
    every_command(&p, &url, &["WrongPW1"], "password authentication failed");
    let url = format!(
        "postgres://postgres:RightPW1@127.0.0.1:{}/postgres",
        server.port
    );
    let out = p.attrmig(["--database-url", &url, "status"]).run().ok();
    hides(&out, &["RightPW1"]);
}

/// A MariaDB user with a password, dropped at the end.
fn mariadb_user(db: &TestDb, user: &str, password: &str) {
    let name = db.url().rsplit('/').next().unwrap().to_owned();
    db.execute(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';
         CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}';
         GRANT ALL ON {name}.* TO '{user}'@'%';
         GRANT ALL ON {name}.* TO '{user}'@'localhost';"
    ));
}

fn drop_mariadb_user(db: &TestDb, user: &str) {
    db.execute(&format!(
        "DROP USER IF EXISTS '{user}'@'%'; DROP USER IF EXISTS '{user}'@'localhost';"
    ));
}

fn with_credentials(db: &TestDb, credentials: &str) -> String {
    let (scheme, rest) = db.url().split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{credentials}@{host}")
}

#[test]
fn mysql_error_paths_never_show_the_password() {
    let Some(db) = TestDb::mysql() else { return };
    let p = project(&db);
    let user = format!("pw{}", std::process::id());
    mariadb_user(&db, &user, "RightPW1");
    let wrong = with_credentials(&db, &format!("{user}:WrongPW1"));
    every_command(&p, &wrong, &["WrongPW1"], "Access denied");
    every_command(
        &p,
        "mysql://app:S3c%ZZretPW@127.0.0.1:3306/db",
        &["S3c%ZZretPW", "ZZretPW"],
        "percent-encode",
    );
    every_command(
        &p,
        "mysql://app:S3cretPW@[::1:3306/db",
        &["S3cretPW"],
        "mysql://app:***@[::1:3306/db",
    );
    every_command(
        &p,
        "mariadb://app:S3cretPW@127.0.0.1:1/db",
        &["S3cretPW"],
        "mysql://app:***@127.0.0.1:1/db",
    );
    let right = with_credentials(&db, &format!("{user}:RightPW1"));
    p.attrmig(["--database-url", &right, "status"]).run().ok();
    drop_mariadb_user(&db, &user);
}

/// A server error that echoes the password (here a trigger's message, standing in for
/// any driver or server text that quotes connection details) is printed without it, by
/// the sync as it goes, by `data-issues`, and in JSON.
fn server_errors_that_echo_the_password(db: &TestDb, url: &str, password: &str) {
    let p = Project::new(db).with_users(5).with_plan(ID, USERS_PLAN);
    let out = p
        .attrmig([
            "--database-url",
            url,
            "ddl",
            ID,
            "prepare-storage",
            "--apply",
        ])
        .run()
        .ok();
    hides(&out, &[password]);
    let trigger = match db.backend() {
        attrmig_db::Backend::Postgres => format!(
            "CREATE FUNCTION leak() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               RAISE EXCEPTION 'connected with %', 'postgres://app:{password}@db/x password={password}' \
               USING ERRCODE = 'check_violation'; END $$;
             CREATE TRIGGER leak BEFORE INSERT ON users_pii FOR EACH ROW EXECUTE FUNCTION leak();"
        ),
        attrmig_db::Backend::Mysql => format!(
            "CREATE TRIGGER leak BEFORE INSERT ON users_pii FOR EACH ROW \
               SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'CONSTRAINT `leak` failed for mysql://app:{password}@db/x'"
        ),
        attrmig_db::Backend::Sqlite => unreachable!("SQLite URLs carry no password"),
    };
    p.sql(&trigger);
    for args in [
        vec!["advance", ID],
        vec!["cross-check", ID],
        vec!["advance", ID],
        vec!["advance", ID, "--note", "release 1"],
    ] {
        let out = p
            .attrmig(["--database-url", url].iter().chain(args.iter()))
            .run();
        hides(&out, &[password]);
    }
    for json in [false, true] {
        let mut args = vec!["--database-url", url, "sync", ID];
        if json {
            args.insert(0, "--json");
        }
        let out = p.attrmig(&args).run();
        hides(&out, &[password]);
        let mut args = vec!["--database-url", url, "data-issues", ID];
        if json {
            args.insert(0, "--json");
        }
        let out = p.attrmig(&args).run().code(4);
        hides(&out, &[password]);
        assert!(out.stdout.contains("***"), "{}", out.stdout);
    }
}

#[test]
fn postgres_server_errors_that_echo_the_password() {
    let Some(db) = TestDb::postgres() else { return };
    // The shared server trusts 127.0.0.1, so any password connects.
    let url = db
        .url()
        .replacen("://postgres@", "://postgres:S3cretPW@", 1);
    server_errors_that_echo_the_password(&db, &url, "S3cretPW");
}

#[test]
fn mysql_server_errors_that_echo_the_password() {
    let Some(db) = TestDb::mysql() else { return };
    let user = format!("pe{}", std::process::id());
    mariadb_user(&db, &user, "S3cretPW");
    let url = with_credentials(&db, &format!("{user}:S3cretPW"));
    server_errors_that_echo_the_password(&db, &url, "S3cretPW");
    drop_mariadb_user(&db, &user);
}
