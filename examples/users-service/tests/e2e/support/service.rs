//! Instances of the example service as real processes (`users-service serve`), and a
//! client of its line protocol.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The service binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_users-service");

/// How an instance is started: the flags of `users-service serve`.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub host: String,
    pub version: String,
    pub database_url: String,
    pub state_url: Option<String>,
    pub pin: Option<&'static str>,
    pub planted_bug: bool,
}

impl Spec {
    /// `--refresh-every` of every test instance: the fleet follows a step within it, and
    /// an instance says it is stale after three of them without a read of the steps.
    pub const REFRESH: &'static str = "200ms";
    /// `--report-every`: well under the plans' `instance_ttl`.
    pub const REPORT: &'static str = "250ms";

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "serve",
            "--database-url",
            &self.database_url,
            "--instance-id",
            &self.id,
            "--host",
            &self.host,
            "--app-version",
            &self.version,
            "--refresh-every",
            Self::REFRESH,
            "--report-every",
            Self::REPORT,
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(state) = &self.state_url {
            args.extend(["--state-url".to_owned(), state.clone()]);
        }
        if let Some(step) = self.pin {
            args.extend(["--pin".to_owned(), step.to_owned()]);
        }
        if self.planted_bug {
            args.push("--planted-bug".to_owned());
        }
        args
    }
}

/// A running instance. Killed (SIGKILL) when dropped, if still running.
pub struct Service {
    pub spec: Spec,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Child,
}

/// The outcome of starting a process that did not come up.
#[derive(Debug)]
pub struct Failed {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Service {
    /// Starts it and waits until it listens (it has read the steps once).
    pub fn start(spec: Spec, logs: &Path) -> Service {
        Service::try_start(spec, logs).unwrap_or_else(|f| {
            panic!(
                "the service did not start (exit {:?}):\n{}",
                f.code, f.stderr
            )
        })
    }

    /// Starts it; `Err` with its exit code and stderr when it exits instead of
    /// listening.
    pub fn try_start(spec: Spec, logs: &Path) -> Result<Service, Failed> {
        let log = logs.join(format!("{}.log", spec.id));
        let stderr = std::fs::File::create(&log).expect("create the instance's log");
        let mut child = Command::new(BIN)
            .args(spec.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn users-service");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait().expect("wait for users-service");
            return Err(Failed {
                code: status.code(),
                stderr: std::fs::read_to_string(&log).unwrap_or_default(),
            });
        };
        let addr = addr.parse().expect("an address");
        Ok(Service {
            spec,
            addr,
            log,
            child,
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// A new client connection.
    pub fn client(&self) -> Client {
        Client::connect(self.addr).expect("connect to the instance")
    }

    /// What `STATUS` says.
    pub fn status(&self) -> serde_json::Value {
        self.client().status()
    }

    /// SIGKILL: no last report, no cleanup.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `SHUTDOWN`: the instance writes its last report and exits.
    pub fn shutdown(mut self) {
        let mut c = self.client();
        assert_eq!(c.request("SHUTDOWN").unwrap(), "BYE");
        let status = self.child.wait().expect("wait for users-service");
        assert!(status.success(), "{} exited with {status}", self.spec.id);
    }

    /// The last lines of its log, for a failing test's message.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Service {
    #[allow(clippy::print_stderr)] // a failing test shows what its instances logged
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} (log {}):\n{}",
                self.spec.id,
                self.log.display(),
                self.log_tail(15)
            );
        }
        self.kill();
    }
}

/// One connection to an instance.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        // A request that takes this long means a hung instance: fail, don't hang the test.
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one line, returns the response line.
    pub fn request(&mut self, line: &str) -> std::io::Result<String> {
        writeln!(self.writer, "{line}")?;
        let mut response = String::new();
        if self.reader.read_line(&mut response)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(response.trim_end().to_owned())
    }

    pub fn status(&mut self) -> serde_json::Value {
        let line = self.request("STATUS").expect("STATUS");
        let json = line.strip_prefix("STATUS ").expect("a STATUS line");
        serde_json::from_str(json).expect("STATUS is JSON")
    }
}
