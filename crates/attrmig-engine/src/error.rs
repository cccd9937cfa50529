//! Everything a command can fail with, grouped by what the user does next.

use std::path::PathBuf;

use attrmig_core::Refusal;
use attrmig_core::Step;
use attrmig_core::guards::GuardCheck;
use attrmig_db::DbError;
use attrmig_plan::{FileErrors, LoadError, UrlError};
use attrmig_store::StoreError;
use attrmig_tools::ToolError;

/// A command did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Refused: illegal transition, or a tool that may not run now. Boxed: a refusal
    /// carries what it names (instances, tools, a chain break), and every `Result` of
    /// the engine would otherwise be as large as the largest of them.
    #[error(transparent)]
    Refused(Box<Refusal>),
    /// Guards of the next step refuse; every guard's verdict is included.
    #[error("cannot enter {to}: {}", refusing(checks))]
    Blocked {
        /// Migration id.
        id: String,
        /// The step asked for.
        to: Step,
        /// Every guard of that step, passing or not.
        checks: Vec<GuardCheck>,
    },
    /// No plan and no record by that id.
    #[error("no migration `{id}`: there is no {} and nothing is recorded under that id; `attrmig init {id} --old TABLE.COLUMN --new TABLE.COLUMN` writes a plan", plan.display())]
    UnknownMigration {
        /// The id asked for.
        id: String,
        /// Where its plan would be.
        plan: PathBuf,
    },
    /// `ddl --resolve-intent N` where N is not the open intent.
    #[error("intent {intent} of {id} is not the open one{}", open.map(|o| format!(" (intent {o} is)")).unwrap_or_else(|| " (none is open)".into()))]
    NoSuchIntent {
        /// Migration id.
        id: String,
        /// The intent asked for.
        intent: i64,
        /// The open one, if any.
        open: Option<i64>,
    },
    /// `--sample 0`: a sample of no key compares nothing, and would read as clean.
    #[error(
        "a sample needs at least one key: pass --sample N with N of 1 or more, or leave --sample out to check every key"
    )]
    EmptySample,
    /// No database configured.
    #[error("no database: no attrmig.toml in {} or its parents, and no --database-url; create attrmig.toml (see `attrmig demo` for one) or pass --database-url", cwd.display())]
    NoDatabase {
        /// Where the search started.
        cwd: PathBuf,
    },
    /// attrmig.toml is invalid.
    #[error(transparent)]
    Config(#[from] FileErrors),
    /// An environment's URL can't be resolved.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A URL is not one attrmig knows.
    #[error(transparent)]
    DatabaseUrl(#[from] attrmig_db::UrlError),
    /// A plan can't be read or is invalid.
    #[error(transparent)]
    Plan(#[from] LoadError),
    /// The state store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A tool failed.
    #[error(transparent)]
    Tool(ToolError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<Refusal> for EngineError {
    fn from(r: Refusal) -> Self {
        EngineError::Refused(Box::new(r))
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LostRace { id, now_at, by } => {
                EngineError::Refused(Box::new(Refusal::LostRace { id, now_at, by }))
            }
            StoreError::ChainBroken { id, chain } => {
                EngineError::Refused(Box::new(Refusal::ChainBroken { id, chain }))
            }
            e => EngineError::Store(e),
        }
    }
}

impl From<ToolError> for EngineError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Refused(r) => EngineError::Refused(Box::new(r)),
            ToolError::Store(s) => s.into(),
            e => EngineError::Tool(e),
        }
    }
}

impl From<diesel::result::Error> for EngineError {
    /// Begin/commit failures of transactions opened through the store.
    fn from(e: diesel::result::Error) -> Self {
        EngineError::Db(DbError::query("run a transaction", e))
    }
}

/// `1 guard refuses`, `2 guards refuse`.
fn refusing(checks: &[GuardCheck]) -> String {
    match checks.iter().filter(|c| !c.passed()).count() {
        1 => "1 guard refuses".to_owned(),
        n => format!("{n} guards refuse"),
    }
}
