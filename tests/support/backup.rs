//! A backup of the attrmig_ state tables made, and restored, with each backend's own
//! client tools, as an operator would: `sqlite3 .dump`, `pg_dump`/`psql`,
//! `mariadb-dump`/`mariadb`. The application's tables are left alone.

use std::path::PathBuf;
use std::process::Command;

use attrmig_db::Backend;

use super::TestDb;

/// The state tables a backup holds, in an order that restores (no foreign keys bind them).
const STATE_TABLES: &[&str] = &[
    "attrmig_schema",
    "attrmig_migrations",
    "attrmig_transitions",
    "attrmig_approvals",
    "attrmig_cross_check_runs",
    "attrmig_sync_runs",
    "attrmig_data_issues",
    "attrmig_leases",
    "attrmig_old_fingerprints",
    "attrmig_intents",
    "attrmig_fleet_reports",
    "attrmig_old_ranges",
    "attrmig_drop_checkpoints",
];

/// A dump file of the state tables.
pub struct Backup {
    file: PathBuf,
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (install the backend's client tools)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `mysql://user@host:port/db` as the mariadb clients' arguments.
fn mariadb_args(url: &str) -> (Vec<String>, String) {
    let rest = url.split_once("://").expect("a URL").1;
    let (authority, db) = rest.split_once('/').expect("a database in the URL");
    let db = db.split('?').next().unwrap().to_owned();
    let (user, host) = authority.split_once('@').unwrap_or(("root", authority));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    let user = user.split(':').next().unwrap();
    (
        vec![
            format!("--host={host}"),
            format!("--port={port}"),
            format!("--user={user}"),
            "--protocol=tcp".into(),
        ],
        db,
    )
}

impl Backup {
    /// Dumps the state tables of `db` into its scratch folder.
    pub fn take(db: &TestDb) -> Backup {
        let file = db.dir().join("attrmig-state-backup.sql");
        let dump = match db.backend() {
            Backend::Sqlite => {
                let path = db.url().trim_start_matches("sqlite://");
                run(Command::new("sqlite3").arg(path).arg(".dump attrmig_%"))
            }
            Backend::Postgres => run(Command::new("pg_dump")
                .arg(format!("--dbname={}", db.url()))
                .args(["--table=attrmig_*", "--clean", "--if-exists", "--no-owner"])),
            Backend::Mysql => {
                let (args, name) = mariadb_args(db.url());
                run(Command::new("mariadb-dump")
                    .args(&args)
                    .arg(&name)
                    .args(STATE_TABLES))
            }
        };
        std::fs::write(&file, dump).unwrap();
        Backup { file }
    }

    /// Replaces the state tables of `db` with the backup's.
    pub fn restore(&self, db: &TestDb) {
        match db.backend() {
            Backend::Sqlite => {
                let path = db.url().trim_start_matches("sqlite://");
                let drops: String = STATE_TABLES
                    .iter()
                    .map(|t| format!("DROP TABLE IF EXISTS {t};\n"))
                    .collect();
                let dump = std::fs::read_to_string(&self.file).unwrap();
                run(Command::new("sqlite3")
                    .arg("-bail")
                    .arg(path)
                    .arg(format!("{drops}{dump}")));
            }
            Backend::Postgres => {
                run(Command::new("psql")
                    .arg(db.url())
                    .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--file"])
                    .arg(&self.file));
            }
            Backend::Mysql => {
                let (args, name) = mariadb_args(db.url());
                run(Command::new("mariadb")
                    .args(&args)
                    .arg(&name)
                    .arg("--execute")
                    .arg(format!("source {}", self.file.display())));
            }
        }
    }
}
