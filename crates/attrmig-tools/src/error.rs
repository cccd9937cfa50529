//! Why a tool stopped.

use attrmig_core::Refusal;
use attrmig_db::DbError;
use attrmig_store::StoreError;

/// A tool could not run, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// Refused: the migration's state or the database forbids it now (exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The application database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Something the code did not expect from the database.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl ToolError {
    /// Wraps a diesel error with what was being done.
    pub fn query(context: impl Into<String>, e: diesel::result::Error) -> ToolError {
        ToolError::Db(DbError::query(context, e))
    }
}

impl From<diesel::result::Error> for ToolError {
    /// Transaction begin/commit failures; statements add their own context.
    fn from(e: diesel::result::Error) -> Self {
        ToolError::query("run a transaction", e)
    }
}
