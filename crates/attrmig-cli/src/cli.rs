//! The command line: global flags and the subcommands. Doc comments are the `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;

/// Drive attribute migrations (a column, a JSON key, an EAV row moving to new storage)
/// through the ten-step procedure, one verified step at a time.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 refused (illegal transition or failed guard),
/// 4 problems found (cross-check mismatches, `check` findings, invalid plans).
#[derive(Debug, Parser)]
#[command(
    name = "attrmig",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Environment from attrmig.toml whose database to use.
    #[arg(
        long,
        global = true,
        env = "ATTRMIG_ENV",
        hide_env_values = true,
        default_value = "dev"
    )]
    pub env: String,
    /// Database URL (sqlite://PATH, postgres://..., mysql://...); overrides the environment's.
    #[arg(
        long,
        global = true,
        env = "ATTRMIG_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Plans folder; overrides attrmig.toml's `plans`.
    #[arg(long, global = true, value_name = "DIR")]
    pub plans: Option<PathBuf>,
    /// Who is acting [default: $ATTRMIG_ACTOR, else `git config user.email`, else the OS user].
    #[arg(long, global = true)]
    pub actor: Option<String>,
    /// Print JSON (one document, or JSON Lines for streams) with a `schema_version`.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(cmd::init::InitArgs),
    Validate(cmd::validate::ValidateArgs),
    Status(cmd::status::StatusArgs),
    Show(cmd::show::ShowArgs),
    Advance(cmd::advance::AdvanceArgs),
    Rollback(cmd::rollback::RollbackArgs),
    Abandon(cmd::abandon::AbandonArgs),
    Approve(cmd::approve::ApproveArgs),
    AcknowledgeExtra(cmd::acknowledge_extra::AcknowledgeExtraArgs),
    Check(cmd::check::CheckArgs),
    Log(cmd::log::LogArgs),
    Mode(cmd::mode::ModeArgs),
    Report(cmd::report::ReportArgs),
    Ddl(cmd::ddl::DdlArgs),
    CrossCheck(cmd::cross_check::CrossCheckArgs),
    Sync(cmd::sync::SyncArgs),
    DataIssues(cmd::data_issues::DataIssuesArgs),
    Demo(cmd::demo::DemoArgs),
    Fleet(cmd::fleet::FleetArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
