//! The service's two handlers, written the way docs/app.md asks: the migration's mode
//! decides which storage a request touches, and attrmig-app runs the application's own
//! queries ([`crate::storage`]) in that order.
//!
//! A write runs old, then new, **in one transaction** (`BEGIN IMMEDIATE` on SQLite):
//! the double-write contract (docs/tools.md), under which a sync batch can never copy a
//! value older than one the application wrote, and a cross-check never sees old and new
//! of one write apart. A read is two autocommit queries: a write can land between them,
//! and attrmig-app's second read tells that race from a bug.

use std::cell::RefCell;

use attrmig_app::{Migration, ReadError, WriteError};
use attrmig_db::{AnyConnection, write_transaction};

use crate::storage;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Old or new storage refused the write (the transaction was rolled back: neither
    /// side kept it).
    #[error("{0}")]
    Write(#[from] WriteError<StorageError>),
    /// The served side could not be read.
    #[error("{0}")]
    Read(#[from] ReadError<diesel::result::Error>),
    /// The transaction itself failed (begin or commit).
    #[error("the transaction failed: {0}")]
    Transaction(#[from] diesel::result::Error),
}

impl HandlerError {
    /// Worth trying again as is: a deadlock, a serialization failure, a lock timeout.
    pub fn is_transient(&self) -> bool {
        let db = match self {
            HandlerError::Write(WriteError::Old(StorageError::Db(e)))
            | HandlerError::Write(WriteError::New(StorageError::Db(e)))
            | HandlerError::Read(ReadError::Old(e))
            | HandlerError::Read(ReadError::New(e))
            | HandlerError::Transaction(e) => e,
            HandlerError::Write(_) => return false,
        };
        attrmig_db::is_transient(db)
    }
}

/// How many times a write is tried when the database rolls it back.
pub const ATTEMPTS: u32 = 5;

/// A failed query of one side.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database's error.
    #[error("{0}")]
    Db(#[from] diesel::result::Error),
    /// `PUT` of a user that does not exist in old storage.
    #[error("no such user")]
    NoSuchUser,
}

/// The handlers of one migration's attribute, `full_name`.
pub struct Handlers {
    names: Migration,
    planted_bug: bool,
}

impl Handlers {
    /// Handlers reading and writing through `names`. With `planted_bug`, the write to
    /// new storage lower-cases the name: a double-write bug for the tests (and the
    /// curious) to catch in the double read.
    pub fn new(names: Migration, planted_bug: bool) -> Handlers {
        Handlers { names, planted_bug }
    }

    /// The migration handle (its mode and status).
    pub fn migration(&self) -> &Migration {
        &self.names
    }

    /// Sets user `id`'s name: old, then new, per the mode, in one transaction; again, up
    /// to [`ATTEMPTS`] times, when the database rolled it back for a deadlock or a lock
    /// timeout (what a server does; the sync retries its batches the same way).
    pub fn put(&self, conn: &mut AnyConnection, id: i64, name: &str) -> Result<(), HandlerError> {
        let mut attempt = 1;
        loop {
            match self.put_once(conn, id, name) {
                Err(e) if attempt < ATTEMPTS && e.is_transient() => {
                    tracing::warn!(target: "users_service", user = id, attempt, error = %e, "retrying a write the database rolled back");
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn put_once(&self, conn: &mut AnyConnection, id: i64, name: &str) -> Result<(), HandlerError> {
        let new_value = if self.planted_bug {
            name.to_lowercase()
        } else {
            name.to_owned()
        };
        write_transaction(conn, |conn| {
            let conn = RefCell::new(conn);
            self.names.write(
                || match storage::set_old_name(&mut conn.borrow_mut(), id, name)? {
                    true => Ok(()),
                    false => Err(StorageError::NoSuchUser),
                },
                || {
                    Ok(storage::set_new_name(
                        &mut conn.borrow_mut(),
                        id,
                        &new_value,
                    )?)
                },
            )?;
            Ok(())
        })
    }

    /// User `id`'s name, per the mode: old, both compared, or new.
    pub fn get(&self, conn: &mut AnyConnection, id: i64) -> Result<Option<String>, HandlerError> {
        let conn = RefCell::new(conn);
        Ok(self.names.read(
            &id,
            || storage::old_name(&mut conn.borrow_mut(), id),
            || storage::new_name(&mut conn.borrow_mut(), id),
        )?)
    }
}
