//! What the library returns when something fails: the application's own errors, told
//! apart by side, and the few of its own.

use std::fmt;

/// Old or new storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Where the attribute lives now.
    Old,
    /// Where it moves to.
    New,
}

impl Side {
    /// `old` or `new`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A write whose old or new side returned an error. Old is written first: when it
/// fails, new was not written; when new fails, old was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError<E> {
    /// The write to old storage failed; new storage was not written.
    #[error("the write to old storage failed: {0}")]
    Old(E),
    /// The write to new storage failed (old storage, if written, was written first).
    #[error("the write to new storage failed: {0}")]
    New(E),
}

impl<E> WriteError<E> {
    /// Which side failed.
    pub fn side(&self) -> Side {
        match self {
            WriteError::Old(_) => Side::Old,
            WriteError::New(_) => Side::New,
        }
    }

    /// The application's error.
    pub fn into_inner(self) -> E {
        match self {
            WriteError::Old(e) | WriteError::New(e) => e,
        }
    }
}

/// A read whose served side returned an error. (An error of the side that is only
/// compared is counted and logged, and the served value is returned.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError<E> {
    /// Reading old storage failed.
    #[error("the read of old storage failed: {0}")]
    Old(E),
    /// Reading new storage failed.
    #[error("the read of new storage failed: {0}")]
    New(E),
}

impl<E> ReadError<E> {
    pub(crate) fn on(side: Side, e: E) -> ReadError<E> {
        match side {
            Side::Old => ReadError::Old(e),
            Side::New => ReadError::New(e),
        }
    }

    /// Which side failed.
    pub fn side(&self) -> Side {
        match self {
            ReadError::Old(_) => Side::Old,
            ReadError::New(_) => Side::New,
        }
    }

    /// The application's error.
    pub fn into_inner(self) -> E {
        match self {
            ReadError::Old(e) | ReadError::New(e) => e,
        }
    }
}

/// A state database operation failed (a read of the steps, a report).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl StateError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> StateError {
        StateError(message.into())
    }
}

/// [`crate::Instance`] could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No migration was declared.
    #[error(
        "no migration declared: name each migration this application takes part in with `InstanceBuilder::migration(\"id\")`"
    )]
    NoMigration,
    /// A migration id that can't be one.
    #[error("{id:?} is not a valid migration id: it {reason}")]
    BadMigrationId {
        /// What was given.
        id: String,
        /// Why not.
        reason: String,
    },
    /// An interval or ratio out of range.
    #[error("{0}")]
    BadOption(String),
    /// The first read of the steps failed: without it the instance can't know which mode
    /// to apply, and guessing one could lose writes.
    #[error(
        "could not read the migrations' steps from the state database: {0}; the instance needs one successful read to start (check the URL and that the database user may SELECT from attrmig_migrations)"
    )]
    FirstRead(StateError),
    /// The background threads could not be started.
    #[error("could not start the background thread: {0}")]
    Thread(String),
}
