//! One module per subcommand; each has its `Args` (whose doc comments are its `--help`)
//! and a `run` that returns the exit code.

pub mod abandon;
pub mod acknowledge_extra;
pub mod advance;
pub mod approve;
pub mod check;
pub mod cross_check;
pub mod data_issues;
pub mod ddl;
pub mod demo;
pub mod fleet;

pub mod init;
pub mod log;
pub mod mode;
pub mod report;
pub mod rollback;
pub mod show;
pub mod status;
pub mod sync;
pub mod validate;

use std::path::PathBuf;

use anyhow::Context;
use attrmig_engine::{Engine, Project, ProjectOptions, actor};

use crate::cli::{Cli, Command, Global};
use crate::exit::{Code, Failure};
use crate::output::Out;

/// What every command gets.
pub struct Ctx {
    /// Global flags.
    pub global: Global,
    /// Output.
    pub out: Out,
    /// The working directory.
    pub cwd: PathBuf,
}

impl Ctx {
    /// The project around the working directory.
    pub fn project(&self) -> Result<Project, Failure> {
        Ok(Project::discover(&ProjectOptions {
            cwd: self.cwd.clone(),
            env: self.global.env.clone(),
            database_url: self.global.database_url.clone(),
            plans: self.global.plans.clone(),
        })?)
    }

    /// Who acts.
    pub fn actor(&self) -> String {
        actor::resolve(self.global.actor.as_deref(), &self.cwd)
    }

    /// The project, connected.
    pub fn engine(&self) -> Result<Engine, Failure> {
        Ok(Engine::open(self.project()?, self.actor())?)
    }
}

/// Runs the parsed command line in the working directory.
pub fn run(cli: Cli) -> Result<Code, Failure> {
    run_in(
        cli,
        std::env::current_dir().context("cannot read the working directory")?,
    )
}

/// Runs the parsed command line as if started in `cwd` (the demo runs commands in its
/// sandbox this way).
pub fn run_in(cli: Cli, cwd: PathBuf) -> Result<Code, Failure> {
    let ctx = Ctx {
        out: Out {
            json: cli.global.json,
        },
        global: cli.global,
        cwd,
    };
    match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Show(args) => show::run(&ctx, args),
        Command::Advance(args) => advance::run(&ctx, args),
        Command::Rollback(args) => rollback::run(&ctx, args),
        Command::Abandon(args) => abandon::run(&ctx, args),
        Command::Approve(args) => approve::run(&ctx, args),
        Command::AcknowledgeExtra(args) => acknowledge_extra::run(&ctx, args),
        Command::Check(args) => check::run(&ctx, args),
        Command::Log(args) => log::run(&ctx, args),
        Command::Mode(args) => mode::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Ddl(args) => ddl::run(&ctx, args),
        Command::CrossCheck(args) => cross_check::run(&ctx, args),
        Command::Sync(args) => sync::run(&ctx, args),
        Command::DataIssues(args) => data_issues::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Fleet(args) => fleet::run(&ctx, args),
    }
}

/// Parses a step given as id or number, for clap.
pub fn parse_step(s: &str) -> Result<attrmig_core::Step, String> {
    s.parse()
        .map_err(|e: attrmig_core::step::UnknownStep| e.to_string())
}
