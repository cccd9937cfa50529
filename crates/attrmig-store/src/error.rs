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
    /// A row of the audit log (or an approval) that can't be read back.
    #[error(
        "entry {version} of {id} in {table} has {} `{field}` attrmig can't read: the audit log was edited outside attrmig; restore the attrmig_ tables from a backup taken before the edit (`attrmig log {id} --verify` shows the entries before it)",
        attrmig_core::audit::article(field)
    )]
    Unreadable {
        /// `attrmig_transitions` or `attrmig_approvals`.
        table: &'static str,
        /// Migration id.
        id: String,
        /// The entry's version.
        version: i64,
        /// The field that does not read.
        field: String,
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

impl StoreError {
    /// As a break of the chain, when it is an unreadable entry or approval.
    pub fn as_chain_break(&self) -> Option<ChainBreak> {
        match self {
            StoreError::Unreadable {
                table,
                version,
                field,
                ..
            } => Some(ChainBreak::Unreadable {
                table: (*table).to_owned(),
                version: *version,
                field: field.clone(),
            }),
            _ => None,
        }
    }
}

/// The field a row failed to deserialize on, when diesel says.
pub(crate) fn failed_field(e: &diesel::result::Error) -> Option<String> {
    match e {
        diesel::result::Error::DeserializationError(inner) => inner
            .downcast_ref::<diesel::result::DeserializeFieldError>()
            .and_then(|f| f.field_name.clone()),
        _ => None,
    }
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
