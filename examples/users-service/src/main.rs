//! `users-service`: serve the example users API, or seed its database.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a server says where it listens, and why it can't

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use attrmig_app::Step;
use attrmig_db::DatabaseUrl;
use clap::{Parser, Subcommand};
use diesel::connection::SimpleConnection;
use users_service::server::{self, Config, Service};
use users_service::storage;

/// An example service for attrmig: a users API whose handlers read and write full_name
/// through attrmig-app.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the line protocol (PUT, GET, STATUS, SHUTDOWN) until SHUTDOWN.
    ///
    /// Prints `listening on ADDR` once the instance has read the migrations' steps.
    Serve(ServeArgs),
    /// Create the users table with N users named `name <id>`.
    Seed {
        /// The application's database.
        #[arg(long)]
        database_url: String,
        /// How many users.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        users: u32,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The application's database: sqlite://PATH, postgres://…, mysql://….
    #[arg(long)]
    database_url: String,
    /// attrmig's state database (default: the application's, as in attrmig). Give
    /// PostgreSQL a `?connect_timeout=5`, so that a dead server fails a refresh fast.
    #[arg(long)]
    state_url: Option<String>,
    /// Where to listen; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The migration whose attribute this service serves.
    #[arg(long, default_value = "users-full-name")]
    migration: String,
    /// This instance's id in the fleet (default: HOST-PID-RANDOM).
    #[arg(long)]
    instance_id: Option<String>,
    /// The host it reports (default: this machine's name).
    #[arg(long)]
    host: Option<String>,
    /// The release it reports.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    app_version: String,
    /// Apply this step's mode whatever the migration's step (id or number).
    #[arg(long)]
    pin: Option<Step>,
    /// How often the steps are read again.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    refresh_every: Duration,
    /// How often a report is written.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    report_every: Duration,
    /// Share of reads compared in 5a and 5b (0 to 1).
    #[arg(long, default_value_t = 1.0)]
    compare_ratio: f64,
    /// Write names to new storage lower-cased: a double-write bug for the double read to
    /// catch.
    #[arg(long)]
    planted_bug: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Seed {
            database_url,
            users,
        } => seed(&database_url, users),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("users-service: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(false)
        .init();
    let config = Config {
        database_url: args.database_url,
        state_url: args.state_url,
        listen: args.listen,
        migration: args.migration,
        instance_id: args.instance_id,
        host: args.host,
        app_version: args.app_version,
        pin: args.pin,
        refresh_every: args.refresh_every,
        report_every: args.report_every,
        compare_ratio: args.compare_ratio,
        planted_bug: args.planted_bug,
    };
    let service = Service::start(&config)?;
    println!("listening on {}", service.addr());
    service.run();
    Ok(())
}

fn seed(database_url: &str, users: u32) -> Result<(), Box<dyn std::error::Error>> {
    let cwd = std::env::current_dir()?;
    let url = DatabaseUrl::parse(database_url, &cwd)?;
    if let Some(path) = url.sqlite_path().filter(|p| !p.is_file()) {
        attrmig_db::create_sqlite(Path::new(path))?;
    }
    let mut conn = server::connect(&url)?;
    conn.batch_execute(&storage::seed_sql(conn.backend(), users))?;
    println!("seeded {users} users");
    Ok(())
}
