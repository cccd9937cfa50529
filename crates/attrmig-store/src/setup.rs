//! Creating and upgrading the state tables: embedded diesel migrations, run under a lock
//! so that two first runs don't race, after refusing a schema newer than this binary.
//!
//! The schema's version lives in `attrmig_schema`, not only in diesel's own table: the
//! state tables share the application's database, and an application using diesel has
//! its own rows in `__diesel_schema_migrations`, so "versions we don't know" there says
//! nothing about us.

use attrmig_db::{AnyConnection, Backend, DbError, write_transaction};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::StoreError;
use crate::schema::attrmig_schema;

/// The state schema version this binary writes.
pub const SCHEMA_VERSION: i32 = 4;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// An arbitrary but fixed advisory-lock key for schema setup on PostgreSQL.
const PG_LOCK_KEY: i64 = 0x0061_7474_726d_6967; // "attrmig" in ASCII

/// Reads the state schema's version; `None` when the tables don't exist yet.
pub fn schema_version(conn: &mut AnyConnection) -> Result<Option<i32>, StoreError> {
    let exists = match conn.backend() {
        Backend::Sqlite => table_exists(
            conn,
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'attrmig_schema'",
        )?,
        Backend::Postgres => table_exists(
            conn,
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'attrmig_schema'",
        )?,
        Backend::Mysql => table_exists(
            conn,
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'attrmig_schema'",
        )?,
    };
    if !exists {
        return Ok(None);
    }
    let version = attrmig_schema::table
        .select(attrmig_schema::version)
        .first::<i32>(conn)
        .optional()
        .map_err(|e| DbError::query("read the attrmig state schema version", e))?;
    Ok(version)
}

fn table_exists(conn: &mut AnyConnection, sql: &str) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query(sql)
        .get_result(conn)
        .map_err(|e| DbError::query("look for the attrmig state tables", e))?;
    Ok(count.n > 0)
}

fn refuse_newer(found: Option<i32>) -> Result<(), StoreError> {
    match found {
        Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

/// Makes sure the state tables exist at this binary's version. Refuses, without touching
/// anything, when they are newer.
pub fn ensure_schema(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let found = schema_version(conn)?;
    refuse_newer(found)?;
    if found == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    match conn.backend() {
        // One IMMEDIATE transaction: a second first run waits on the write lock, then finds
        // the migrations applied. diesel runs each migration in a savepoint inside it.
        Backend::Sqlite => write_transaction(conn, |conn| {
            refuse_newer(schema_version(conn)?)?;
            register_sha256(conn)?;
            run_pending(conn, SQLITE)
        }),
        // PostgreSQL DDL is transactional: a transaction-scoped advisory lock serialises
        // concurrent first runs and is released by commit or rollback.
        Backend::Postgres => write_transaction(conn, |conn| {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({PG_LOCK_KEY})"))
                .map_err(|e| DbError::query("lock the attrmig state schema", e))?;
            refuse_newer(schema_version(conn)?)?;
            run_pending(conn, POSTGRES)
        }),
        Backend::Mysql => mysql_setup(conn),
    }
}

#[cfg(feature = "mysql")]
fn mysql_setup(conn: &mut AnyConnection) -> Result<(), StoreError> {
    // MySQL DDL commits implicitly, so a transaction can't hold the lock: a named
    // session lock does, released whatever happens.
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        got: Option<i64>,
    }
    let got: Got = diesel::sql_query(format!(
        "SELECT CAST(GET_LOCK({MYSQL_LOCK_NAME}, 60) AS SIGNED) AS got"
    ))
    .get_result(conn)
    .map_err(|e| DbError::query("lock the attrmig state schema", e))?;
    if got.got != Some(1) {
        return Err(StoreError::Setup(
            "another attrmig held the schema lock for 60 s; try again".into(),
        ));
    }
    // The migration itself can run again after a run killed halfway (see its up.sql).
    let result = refuse_newer(schema_version(conn)?).and_then(|()| run_pending(conn, MYSQL));
    let _ = conn.batch_execute(&format!("DO RELEASE_LOCK({MYSQL_LOCK_NAME})"));
    result
}

/// The named lock of schema setup: named locks are server-wide, so one per database (at
/// most 64 characters; two long names that collide only wait for each other).
#[cfg(feature = "mysql")]
const MYSQL_LOCK_NAME: &str = "LEFT(CONCAT('attrmig_state_schema.', DATABASE()), 64)";

#[cfg(not(feature = "mysql"))]
fn mysql_setup(_conn: &mut AnyConnection) -> Result<(), StoreError> {
    Err(StoreError::Db(DbError::MysqlNotBuilt))
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// SHA-256 of a text's UTF-8 bytes, lowercase hex (PostgreSQL and MySQL have one).
    fn attrmig_sha256(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// SQLite has no SHA-256: version 2 keys data issues and fingerprints by the key's hash,
/// and its migration computes the hashes of existing rows with this function, registered
/// on the connection that runs it.
fn register_sha256(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Sqlite(sqlite) = conn {
        attrmig_sha256_utils::register_impl(sqlite, |text: String| crate::bounded::key_hash(&text))
            .map_err(|e| DbError::query("register attrmig_sha256() for the schema upgrade", e))?;
    }
    Ok(())
}

fn run_pending(conn: &mut AnyConnection, migrations: EmbeddedMigrations) -> Result<(), StoreError> {
    conn.run_pending_migrations(migrations)
        .map_err(|e| StoreError::Setup(e.to_string()))?;
    Ok(())
}
