//! Database errors, classified by what the caller should do about them.

use std::path::PathBuf;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// Could not connect.
    #[error("cannot connect to {url}: {}; is the server running, and are --env / --database-url right?", source.to_string().trim())]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// Driver error.
        source: diesel::ConnectionError,
    },
    /// The SQLite file does not exist.
    #[error("SQLite database {} does not exist; check the URL (relative paths are relative to attrmig.toml)", path.display())]
    SqliteMissing {
        /// The file.
        path: PathBuf,
    },
    /// This build has no MySQL driver.
    #[error(
        "this attrmig was built without MySQL/MariaDB support; rebuild with `cargo build --release --features mysql` (needs libmariadb-dev or libmysqlclient-dev)"
    )]
    MysqlNotBuilt,
    /// A statement failed.
    #[error("could not {context}: {source}")]
    Query {
        /// What was being done, as a verb phrase.
        context: String,
        /// Driver error.
        source: DieselError,
    },
}

impl DbError {
    /// Wraps a query error with what was being done.
    pub fn query(context: impl Into<String>, source: DieselError) -> DbError {
        DbError::Query {
            context: context.into(),
            source,
        }
    }

    /// The underlying diesel error of a failed statement.
    pub fn diesel(&self) -> Option<&DieselError> {
        match self {
            DbError::Query { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A failure worth retrying as is: deadlock, serialization failure, lock timeout.
pub fn is_transient(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message().to_ascii_lowercase();
            m.contains("deadlock")
                || m.contains("database is locked")
                || m.contains("lock wait timeout")
        }
        _ => false,
    }
}

/// A failure caused by the values of particular rows (a constraint, a type conversion),
/// not by the statement or the server: splitting the batch isolates the culprits.
pub fn is_row_level(err: &DieselError) -> bool {
    let DieselError::DatabaseError(kind, info) = err else {
        return false;
    };
    match kind {
        DatabaseErrorKind::NotNullViolation
        | DatabaseErrorKind::CheckViolation
        | DatabaseErrorKind::ForeignKeyViolation
        | DatabaseErrorKind::UniqueViolation
        | DatabaseErrorKind::RestrictViolation
        | DatabaseErrorKind::ExclusionViolation => true,
        _ => {
            let m = info.message().to_ascii_lowercase();
            const ROW_LEVEL: &[&str] = &[
                // PostgreSQL data exceptions (SQLSTATE class 22) and constraint messages
                "invalid input syntax",
                "invalid input value",
                "value too long",
                "out of range",
                "numeric field overflow",
                "violates check constraint",
                "violates not-null constraint",
                "violates foreign key constraint",
                "invalid byte sequence",
                // SQLite
                "constraint failed",
                "cannot store",
                "datatype mismatch",
                // MySQL / MariaDB
                "data too long",
                "incorrect",
                "truncated",
                "cannot be null",
                "doesn't have a default value",
                "foreign key constraint fails",
                "check constraint",
            ];
            ROW_LEVEL.iter().any(|p| m.contains(p))
        }
    }
}
