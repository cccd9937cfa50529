//! What can go wrong with the state store.

use attrmig_core::Position;
use attrmig_core::audit::ChainBreak;
use attrmig_db::DbError;

/// A state store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state schema is newer than this binary.
    #[error(
        "the attrmig state tables are at schema version {found}, newer than this attrmig knows ({known}); upgrade attrmig (nothing was read or written)"
    )]
    NewerSchema {
        /// Found in the database.
        found: i32,
        /// Known to this binary.
        known: i32,
    },
    /// Creating or upgrading the state tables failed.
    #[error("could not create or upgrade the attrmig state tables: {0}")]
    Setup(String),
    /// Compare-and-swap lost: another transition committed first.
    #[error("another transition won the race: {id} is now at {now_at}")]
    LostRace {
        /// Migration id.
        id: String,
        /// Where it is now.
        now_at: Position,
        /// Who moved it.
        by: Option<String>,
    },
    /// The audit chain a transition would extend does not verify: nothing was written.
    #[error("the audit log of {id} is broken: {chain}")]
    ChainBroken {
        /// Migration id.
        id: String,
        /// Where it first goes wrong.
        chain: ChainBreak,
    },
    /// A stored value that can't be read back (edited by hand, or a bug).
    #[error(
        "the state store holds {what}; was it edited by hand? `attrmig log ID --verify` checks the audit log"
    )]
    Corrupt {
        /// What was found.
        what: String,
    },
}

/// Wraps a diesel error with what was being done.
pub(crate) fn ctx(context: &'static str) -> impl FnOnce(diesel::result::Error) -> StoreError {
    move |e| StoreError::Db(DbError::query(context, e))
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::Db(DbError::query("update the attrmig state tables", e))
    }
}
