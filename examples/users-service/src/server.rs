//! The server: an [`attrmig_app::Instance`] opened on the state database, a
//! [`TcpListener`], one thread per client connection, each with its own connection to
//! the application's database.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use attrmig_app::{Instance, Step};
use attrmig_db::{AnyConnection, Backend, DatabaseUrl};
use diesel::connection::SimpleConnection;

use crate::handlers::{HandlerError, Handlers};
use crate::protocol::{self, Request};

/// How one instance runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The application's database (`users`, `users_pii`).
    pub database_url: String,
    /// attrmig's state database: the application's by default, as in attrmig.
    pub state_url: Option<String>,
    /// Where to listen (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// The migration whose attribute the handlers serve.
    pub migration: String,
    /// This instance's id in the fleet's reports (default: attrmig-app's own).
    pub instance_id: Option<String>,
    /// The host it reports (default: this machine's name).
    pub host: Option<String>,
    /// The release it reports.
    pub app_version: String,
    /// Apply this step's mode whatever the migration's step.
    pub pin: Option<Step>,
    /// How often the steps are read again.
    pub refresh_every: Duration,
    /// How often a report is written.
    pub report_every: Duration,
    /// Share of reads compared in 5a and 5b.
    pub compare_ratio: f64,
    /// Lower-case names written to new storage (a bug to catch).
    pub planted_bug: bool,
}

/// Why the service could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A URL that can't be one.
    #[error("{0}")]
    Url(#[from] attrmig_db::UrlError),
    /// The application's database can't be reached.
    #[error("{0}")]
    Db(#[from] attrmig_db::DbError),
    /// attrmig-app could not start.
    #[error("{0}")]
    Open(#[from] attrmig_app::OpenError),
    /// The socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Connects to the application's database; SQLite in WAL mode, so that readers never
/// wait for a writer (a server's usual setting).
pub fn connect(url: &DatabaseUrl) -> Result<AnyConnection, attrmig_db::DbError> {
    let mut conn = attrmig_db::connect(url)?;
    if conn.backend() == Backend::Sqlite {
        conn.batch_execute("PRAGMA journal_mode = WAL")
            .map_err(|e| attrmig_db::DbError::query("switch SQLite to WAL", e))?;
    }
    Ok(conn)
}

/// A started service: its address, and what [`Service::run`] serves.
pub struct Service {
    listener: TcpListener,
    instance: Instance,
    handlers: Arc<Handlers>,
    app: DatabaseUrl,
    stopping: Arc<AtomicBool>,
}

impl Service {
    /// Connects once to the application's database (so a wrong URL fails now), opens
    /// the instance (one read of the steps) and binds the socket.
    pub fn start(config: &Config) -> Result<Service, ServeError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_owned());
        let app = DatabaseUrl::parse(&config.database_url, &cwd)?;
        connect(&app)?;
        let mut builder = Instance::builder()
            .state_url(config.state_url.as_deref().unwrap_or(&config.database_url))
            .migration(&config.migration)
            .app_version(config.app_version.clone())
            .refresh_every(config.refresh_every)
            .report_every(config.report_every)
            .compare_ratio(config.compare_ratio);
        if let Some(id) = &config.instance_id {
            builder = builder.instance_id(id.clone());
        }
        if let Some(host) = &config.host {
            builder = builder.host(host.clone());
        }
        if let Some(step) = config.pin {
            builder = builder.pin(&config.migration, step);
        }
        let instance = builder.open()?;
        let names = instance
            .migration(&config.migration)
            .expect("declared with the builder");
        let listener = TcpListener::bind(config.listen).map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        Ok(Service {
            listener,
            instance,
            handlers: Arc::new(Handlers::new(names, config.planted_bug)),
            app,
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// Serves until a client sends `SHUTDOWN`, then writes the instance's last report.
    pub fn run(self) {
        let addr = self.addr();
        for stream in self.listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let client = Client {
                handlers: Arc::clone(&self.handlers),
                instance: self.instance.clone(),
                app: self.app.clone(),
                conn: None,
                stopping: Arc::clone(&self.stopping),
                wake: addr,
            };
            std::thread::spawn(move || client.serve(stream));
        }
        self.instance.shutdown();
    }
}

/// One client connection and its connection to the application's database.
struct Client {
    handlers: Arc<Handlers>,
    instance: Instance,
    app: DatabaseUrl,
    conn: Option<AnyConnection>,
    stopping: Arc<AtomicBool>,
    wake: SocketAddr,
}

impl Client {
    fn serve(mut self, stream: TcpStream) {
        let Ok(read) = stream.try_clone() else { return };
        let mut out = stream;
        for line in BufReader::new(read).lines() {
            let Ok(line) = line else { return };
            let (reply, stop) = match protocol::parse(&line) {
                Ok(Request::Shutdown) => ("BYE".to_owned(), true),
                Ok(request) => (self.answer(request), false),
                Err(usage) => (format!("ERR {usage}"), false),
            };
            if writeln!(out, "{}", protocol::one_line(&reply)).is_err() {
                return;
            }
            if stop {
                self.stopping.store(true, Ordering::SeqCst);
                // Wakes the accept loop so that it sees the flag.
                let _ = TcpStream::connect(self.wake);
                return;
            }
        }
    }

    fn answer(&mut self, request: Request) -> String {
        match request {
            Request::Put { id, name } => match self.with_conn(|h, conn| h.put(conn, id, &name)) {
                Ok(()) => "OK".to_owned(),
                Err(e) => format!("ERR {e}"),
            },
            Request::Get { id } => match self.with_conn(|h, conn| h.get(conn, id)) {
                Ok(Some(name)) => format!("VALUE {name}"),
                Ok(None) => "NONE".to_owned(),
                Err(e) => format!("ERR {e}"),
            },
            Request::Status => format!("STATUS {}", self.status()),
            Request::Shutdown => unreachable!("handled by serve"),
        }
    }

    /// Runs a handler on this client's connection, connecting first if needed; after
    /// an error the connection is dropped (it may be broken) and the next request
    /// connects again.
    fn with_conn<T>(
        &mut self,
        f: impl FnOnce(&Handlers, &mut AnyConnection) -> Result<T, HandlerError>,
    ) -> Result<T, String> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self
                .conn
                .insert(connect(&self.app).map_err(|e| e.to_string())?),
        };
        f(&self.handlers, conn).map_err(|e| {
            self.conn = None;
            e.to_string()
        })
    }

    fn status(&self) -> serde_json::Value {
        let m = self.handlers.migration();
        let status = m.status();
        serde_json::json!({
            "instance": self.instance.identity().id,
            "migration": m.id(),
            "step": status.step.id(),
            "since": status.since,
            "pinned": status.pinned,
            "stale": status.stale,
            "seen_version": status.seen_version,
            "mode": status.mode.describe(),
        })
    }
}
