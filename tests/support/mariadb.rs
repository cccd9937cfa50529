//! A MariaDB server of the test's own (mariadb-install-db, mariadbd on a free port), for
//! server settings the shared one does not have: `lower_case_table_names` can only be
//! chosen when a server starts on its data.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use attrmig_db::{DatabaseUrl, connect};

/// A throwaway server; killed when dropped, its data with it.
pub struct ThrowawayMariaDb {
    dir: tempfile::TempDir,
    port: u16,
    server: Child,
}

const SERVER: &str = "/usr/sbin/mariadbd";

fn required() -> bool {
    std::env::var("ATTRMIG_TEST_REQUIRE")
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("mysql")))
}

impl ThrowawayMariaDb {
    /// Starts one with `options` (`--lower-case-table-names=1`), or `None` (skip) where
    /// MariaDB's server is not installed, unless `ATTRMIG_TEST_REQUIRE` names `mysql`.
    #[allow(clippy::print_stderr)] // saying why a test did not run is the point
    pub fn start(options: &[&str]) -> Option<ThrowawayMariaDb> {
        let installed = Path::new(SERVER).is_file()
            && Command::new("mariadb-install-db")
                .arg("--help")
                .output()
                .is_ok();
        if !attrmig_db::MYSQL_SUPPORTED || !installed {
            let why = "MariaDB's server is not installed (Debian: mariadb-server) or this build has no MySQL support";
            assert!(
                !required(),
                "ATTRMIG_TEST_REQUIRE contains `mysql` but {why}"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        let dir = tempfile::tempdir().expect("a folder for the server");
        let data = dir.path().join("data");
        let out = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
            ])
            .arg(format!("--datadir={}", data.display()))
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("the server's log");
        let server = Command::new(SERVER)
            .args([
                "--no-defaults",
                "--user=root",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .args(options)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mariadbd");
        let db = ThrowawayMariaDb { dir, port, server };
        db.wait_until_up();
        Some(db)
    }

    /// Its admin URL (root, no password).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    fn wait_until_up(&self) {
        let url = DatabaseUrl::parse(&self.url(), Path::new("/")).expect("a valid URL");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match connect(&url) {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(self.dir.path().join("server.log"))
                        .unwrap_or_default();
                    panic!("mariadbd did not come up in 60 s: {e}\n{log}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for ThrowawayMariaDb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
