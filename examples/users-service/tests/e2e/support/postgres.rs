//! A PostgreSQL server of the test's own (initdb, pg_ctl on a free port), to stop and
//! start again: the state database going away, for real, while the instances run.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway server; stopped when dropped.
pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

fn required() -> bool {
    std::env::var("ATTRMIG_TEST_REQUIRE")
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("pg")))
}

/// The folder holding initdb and pg_ctl: on PATH, or Debian's versioned folder.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

impl ThrowawayPostgres {
    /// Starts one, or `None` (skip) without initdb, unless `ATTRMIG_TEST_REQUIRE` names
    /// `pg`.
    #[allow(clippy::print_stderr)] // saying why a test did not run is the point
    pub fn start() -> Option<ThrowawayPostgres> {
        let Some(bin) = bin_dir() else {
            let why = "initdb and pg_ctl are not installed (Debian: postgresql)";
            assert!(!required(), "ATTRMIG_TEST_REQUIRE contains `pg` but {why}");
            eprintln!("skipping: {why}");
            return None;
        };
        // PostgreSQL refuses to run as root: as root, run it as the postgres user.
        let as_postgres = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = tempfile::tempdir().expect("a folder for the server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = ThrowawayPostgres {
            dir,
            port,
            bin,
            as_postgres,
        };
        let data = pg.data().display().to_string();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.args(["postgres:postgres", &data]);
            pg.run(chown);
        }
        let mut initdb = pg.tool("initdb");
        initdb.args(["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"]);
        pg.run(initdb);
        pg.start_again();
        Some(pg)
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    /// A PostgreSQL tool, as the postgres user when the tests run as root.
    fn tool(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, mut cmd: Command) {
        let out = cmd.output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{cmd:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A URL of its `postgres` database, with a short connect timeout: a refresh of an
    /// instance fails fast while the server is down instead of hanging.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?connect_timeout=2",
            self.port
        )
    }

    /// Starts the server (again), on the same port and data.
    pub fn start_again(&self) {
        let data = self.data().display().to_string();
        let opts = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = format!("{data}/server.log");
        let mut start = self.tool("pg_ctl");
        start.args(["-D", &data, "-w", "-l", &log, "-o", &opts, "start"]);
        self.run(start);
    }

    /// Stops it at once: every connection is cut, new ones are refused.
    pub fn stop(&self) {
        let data = self.data().display().to_string();
        let mut stop = self.tool("pg_ctl");
        stop.args(["-D", &data, "-w", "-m", "immediate", "stop"]);
        self.run(stop);
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}
