//! One connection type for every backend, opened from a [`DatabaseUrl`].

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::error::DbError;
use crate::url::{Backend, DatabaseUrl};

/// A connection to any backend attrmig supports. Built from the URL's scheme, never by
/// trial (diesel's `establish` on a MultiConnection would let SQLite accept any string).
#[derive(diesel::MultiConnection)]
#[allow(missing_docs)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

/// How long SQLite waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 30_000;

/// Opens a connection. A SQLite file must already exist: creating an empty database
/// where the application's should be would hide a wrong path.
pub fn connect(url: &DatabaseUrl) -> Result<AnyConnection, DbError> {
    let connect_err = |source: ConnectionError| DbError::Connect {
        url: url.to_string(),
        source,
    };
    match url.backend() {
        Backend::Sqlite => {
            let file = url.sqlite_path().filter(|p| p.as_os_str() != ":memory:");
            if let Some(path) = file {
                check_sqlite_file(path)?;
            }
            let mut conn =
                diesel::SqliteConnection::establish(url.target()).map_err(connect_err)?;
            // Foreign keys are off by default in SQLite; the sync must see the same
            // constraints the application sees, or rejected rows would slip in.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;"
            ))
            .map_err(|source| DbError::query("configure the SQLite connection", source))?;
            // After the busy timeout: reading the header waits for a writer like any read.
            if let Some(path) = file {
                check_sqlite_header(&mut conn, path)?;
            }
            Ok(AnyConnection::Sqlite(conn))
        }
        Backend::Postgres => Ok(AnyConnection::Postgresql(
            diesel::PgConnection::establish(url.target()).map_err(connect_err)?,
        )),
        #[cfg(feature = "mysql")]
        Backend::Mysql => Ok(AnyConnection::Mysql(
            diesel::MysqlConnection::establish(url.target()).map_err(connect_err)?,
        )),
        #[cfg(not(feature = "mysql"))]
        Backend::Mysql => Err(DbError::MysqlNotBuilt),
    }
}

/// Refuses a SQLite path that is not a database file, saying what it is instead: SQLite
/// would create a missing file, open a directory or `/dev/null` as an empty database, or
/// fail on a text file with "file is not a database" at the first query.
fn check_sqlite_file(path: &std::path::Path) -> Result<(), DbError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DbError::SqliteMissing {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(DbError::SqliteUnreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    let not_a_file = |what: &'static str, todo: String| {
        Err(DbError::SqliteNotAFile {
            path: path.to_owned(),
            what,
            todo,
        })
    };
    if meta.is_dir() {
        return not_a_file(
            "a directory",
            format!(
                "name the database file in it, e.g. sqlite://{}",
                path.join("app.db").display()
            ),
        );
    }
    if !meta.is_file() {
        return not_a_file(
            special_file(&meta),
            "point the URL at the application's database file (relative paths are relative to attrmig.toml)".to_owned(),
        );
    }
    // Whether it is a database is SQLite's to read ([`check_sqlite_header`]), never by
    // opening the file here: a POSIX lock belongs to the process, and closing any
    // descriptor of the file drops every lock this process's connections hold on it.
    Ok(())
}

/// Refuses a SQLite file that is not a database, read through the connection just
/// opened (its header, by the first read of the schema). An empty file is an empty
/// database to SQLite.
fn check_sqlite_header(
    conn: &mut diesel::SqliteConnection,
    path: &std::path::Path,
) -> Result<(), DbError> {
    conn.batch_execute("PRAGMA schema_version")
        .map_err(|source| match &source {
            diesel::result::Error::DatabaseError(_, info)
                if info.message().contains("file is not a database") =>
            {
                DbError::SqliteNotADatabase {
                    path: path.to_owned(),
                }
            }
            _ => DbError::query("read the SQLite database's header", source),
        })
}

/// What a path that is neither a file nor a directory is, with an article.
#[cfg(unix)]
fn special_file(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_file(_: &std::fs::Metadata) -> &'static str {
    "not a regular file"
}

/// Creates an empty SQLite database file (for the demo and tests).
pub fn create_sqlite(path: &std::path::Path) -> Result<AnyConnection, DbError> {
    let mut conn =
        diesel::SqliteConnection::establish(&path.to_string_lossy()).map_err(|source| {
            DbError::Connect {
                url: format!("sqlite://{}", path.display()),
                source,
            }
        })?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;"
    ))
    .map_err(|source| DbError::query("configure the SQLite connection", source))?;
    Ok(AnyConnection::Sqlite(conn))
}

impl AnyConnection {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(_) => Backend::Mysql,
        }
    }

    /// The database user of this connection, where the backend has one.
    pub fn db_user(&mut self) -> Result<Option<String>, DbError> {
        #[derive(QueryableByName)]
        struct User {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let sql = match self.backend() {
            Backend::Sqlite => return Ok(None),
            Backend::Postgres => "SELECT CAST(current_user AS TEXT) AS name",
            Backend::Mysql => "SELECT CURRENT_USER() AS name",
        };
        let user: User = diesel::sql_query(sql)
            .get_result(self)
            .map_err(|e| DbError::query("read the database user", e))?;
        Ok(Some(user.name))
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite that is `BEGIN IMMEDIATE`: a deferred transaction that reads, then writes,
/// fails at once with "database is locked" when another writer got there first, instead
/// of waiting. Elsewhere row locks do that job and a plain transaction is right.
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Tm = <AnyConnection as Connection>::TransactionManager;
    match conn {
        AnyConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        _ => Tm::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The caller's error is what matters; a failed rollback leaves the connection
            // broken, which its next use reports.
            let _ = Tm::rollback_transaction(conn);
            Err(err)
        }
    }
}
