//! Database errors, classified by what the caller should do about them.

use std::path::PathBuf;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::secret::scrub;

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// Could not connect. The driver's text is scrubbed of passwords: libpq quotes what it
    /// was given.
    #[error("cannot connect to {url}: {}; is the server running, and are --env / --database-url right?", scrub(source.to_string().trim()))]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// Driver error.
        source: diesel::ConnectionError,
    },
    /// The SQLite file does not exist.
    #[error("SQLite database {} does not exist; check the URL (relative paths are relative to attrmig.toml)", scrub(&path.display().to_string()))]
    SqliteMissing {
        /// The file.
        path: PathBuf,
    },
    /// The SQLite URL names something that is not a file: a directory, a device.
    #[error("SQLite database {} is {what}, not a SQLite database file; {todo}", scrub(&path.display().to_string()))]
    SqliteNotAFile {
        /// What the URL names.
        path: PathBuf,
        /// What it is, with an article: `a directory`, `a character device`.
        what: &'static str,
        /// What to do.
        todo: String,
    },
    /// The SQLite URL names a file that is not a SQLite database.
    #[error("{} is not a SQLite database (its first bytes are not SQLite's header); check the URL: it must name the application's database file (relative paths are relative to attrmig.toml)", scrub(&path.display().to_string()))]
    SqliteNotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The SQLite file can't be read.
    #[error("cannot read SQLite database {}: {source}", scrub(&path.display().to_string()))]
    SqliteUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// This build has no MySQL driver.
    #[error(
        "this attrmig was built without MySQL/MariaDB support; rebuild with `cargo build --release --features mysql` (needs libmariadb-dev or libmysqlclient-dev)"
    )]
    MysqlNotBuilt,
    /// A statement failed. The server's text is scrubbed of passwords.
    #[error("could not {context}: {}", scrub(&source.to_string()))]
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
                // MariaDB with innodb_snapshot_isolation (the default from 11.6): a locking
                // read found a row changed since the transaction's snapshot (1020).
                || m.starts_with("record has changed since last read in table")
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
            ];
            ROW_LEVEL.iter().any(|p| m.contains(p)) || is_mysql_row_level(&m)
        }
    }
}

/// MySQL/MariaDB errors caused by a row's values, by their message: diesel hands over the
/// message of a MySQL error, not its number. Each is matched by how the server's message
/// begins and a part of it that only that error has, so that systemic errors sharing a
/// first word (`Incorrect table name`, `Incorrect key file for table`, `Check constraint
/// 'c' refers to non-existing column`) are not mistaken for bad rows.
const MYSQL_ROW_LEVEL: &[(&str, &str)] = &[
    // 1406 ER_DATA_TOO_LONG: Data too long for column 'c' at row 1
    ("data too long for column ", ""),
    // 1264 ER_WARN_DATA_OUT_OF_RANGE: Out of range value for column 'c' at row 1
    ("out of range value for column ", ""),
    // 1265 WARN_DATA_TRUNCATED: Data truncated for column 'c' at row 1
    ("data truncated for column ", ""),
    // 1292 ER_TRUNCATED_WRONG_VALUE: Truncated incorrect INTEGER value: 'x'
    ("truncated incorrect ", " value: "),
    // 1366 / 1292 / 1411: Incorrect integer value: 'x' for column 'c' at row 1,
    // Incorrect datetime value: 'x' for column ..., Incorrect string value: '\xF0...'
    // for column ..., Incorrect DATE value: 'x' for function str_to_date
    ("incorrect ", " value: '"),
    // 1048 ER_BAD_NULL_ERROR: Column 'c' cannot be null
    ("column ", " cannot be null"),
    // 1364 ER_NO_DEFAULT_FOR_FIELD: Field 'c' doesn't have a default value
    ("field ", " doesn't have a default value"),
    // 3819 ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8): Check constraint 'c' is violated.
    ("check constraint ", " is violated"),
    // 4025 ER_CONSTRAINT_FAILED (MariaDB): CONSTRAINT `t.c` failed for `db`.`t`
    ("constraint ", " failed for "),
    // 1452 ER_NO_REFERENCED_ROW_2: Cannot add or update a child row: a foreign key
    // constraint fails (...)
    (
        "cannot add or update a child row: a foreign key constraint fails",
        "",
    ),
    // 1062 ER_DUP_ENTRY: Duplicate entry 'x' for key 'k'
    ("duplicate entry ", " for key "),
    // 1690 ER_DATA_OUT_OF_RANGE: BIGINT UNSIGNED value is out of range in '(...)'
    ("", " value is out of range in "),
    // 3140 ER_INVALID_JSON_TEXT (MySQL 8): Invalid JSON text: "..." at position 0 in
    // value for column 't.c'.
    ("invalid json text", ""),
    // 3156 ER_INVALID_JSON_VALUE_FOR_CAST (MySQL 8)
    ("invalid json value for cast", ""),
];

/// `m` is lowercase.
fn is_mysql_row_level(m: &str) -> bool {
    MYSQL_ROW_LEVEL.iter().any(|(start, part)| {
        m.strip_prefix(start)
            .is_some_and(|rest| part.is_empty() || rest.contains(part))
    })
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn unknown(message: &str) -> Error {
        Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()))
    }

    #[test]
    fn mysql_row_level_errors_by_message() {
        for row in [
            "Data too long for column 'full_name' at row 1",
            "Out of range value for column 'age' at row 3",
            "Data truncated for column 'kind' at row 1",
            "Truncated incorrect INTEGER value: 'x'",
            "Incorrect integer value: 'x' for column `db`.`users_pii`.`age` at row 1",
            "Incorrect datetime value: 'soon' for column 'at' at row 1",
            "Incorrect string value: '\\xF0\\x9F\\x98\\x80' for column 'full_name' at row 1",
            "Column 'full_name' cannot be null",
            "Field 'full_name' doesn't have a default value",
            "Check constraint 'users_pii_chk_1' is violated.",
            "CONSTRAINT `users_pii.full_name` failed for `test`.`users_pii`",
            "Cannot add or update a child row: a foreign key constraint fails (`test`.`users_pii`, CONSTRAINT `fk` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))",
            "Duplicate entry 'ada' for key 'users_pii.email'",
            "BIGINT UNSIGNED value is out of range in '(`test`.`o`.`n` - 5)'",
            "Invalid JSON text: \"Invalid value.\" at position 0 in value for column 'users_pii.doc'.",
        ] {
            assert!(is_row_level(&unknown(row)), "{row}");
        }
        for systemic in [
            "Incorrect table name 'users pii'",
            "Incorrect column name 'full name '",
            "Incorrect key file for table 'users'; try to repair it",
            "Incorrect usage of UNION and ORDER BY",
            "Incorrect arguments to mysqld_stmt_execute",
            "Check constraint 'c' refers to non-existing column 'x'.",
            "Table 'test.users_pii' doesn't exist",
            "Unknown column 'n.full_name' in 'field list'",
            "Illegal mix of collations (utf8mb4_general_ci,IMPLICIT) and (utf8mb4_unicode_ci,IMPLICIT) for operation '='",
            "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version",
            "Lock wait timeout exceeded; try restarting transaction",
        ] {
            assert!(!is_row_level(&unknown(systemic)), "{systemic}");
        }
    }

    #[test]
    fn mysql_transient_errors() {
        assert!(is_transient(&unknown(
            "Lock wait timeout exceeded; try restarting transaction"
        )));
        assert!(is_transient(&Error::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new(
                "Deadlock found when trying to get lock; try restarting transaction".to_owned()
            )
        )));
        assert!(is_transient(&unknown(
            "Record has changed since last read in table 'users'"
        )));
        assert!(!is_transient(&unknown(
            "Data too long for column 'full_name' at row 1"
        )));
    }
}
