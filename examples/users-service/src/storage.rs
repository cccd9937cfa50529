//! The application's own SQL: `users.full_name` (old storage) and
//! `users_pii.full_name` (new storage), on SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! This is the code a team already has (its queries on old storage) and adds (its
//! queries on new storage); attrmig-app decides which of them a request runs.

use attrmig_db::{AnyConnection, Backend};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

/// The application's queries fail with diesel's error.
pub type DbResult<T> = Result<T, diesel::result::Error>;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    full_name: Option<String>,
}

fn placeholders(conn: &AnyConnection) -> (String, String) {
    let b = conn.backend();
    (b.placeholder(1), b.placeholder(2))
}

fn one_name(conn: &mut AnyConnection, sql: &str, id: i64) -> DbResult<Option<String>> {
    let rows: Vec<Name> = diesel::sql_query(sql).bind::<BigInt, _>(id).load(conn)?;
    Ok(rows.into_iter().next().and_then(|r| r.full_name))
}

/// A user's name in old storage (`None`: no such user, or no name).
pub fn old_name(conn: &mut AnyConnection, id: i64) -> DbResult<Option<String>> {
    let (p1, _) = placeholders(conn);
    one_name(
        conn,
        &format!("SELECT full_name FROM users WHERE id = {p1}"),
        id,
    )
}

/// A user's name in new storage.
pub fn new_name(conn: &mut AnyConnection, id: i64) -> DbResult<Option<String>> {
    let (p1, _) = placeholders(conn);
    one_name(
        conn,
        &format!("SELECT full_name FROM users_pii WHERE user_id = {p1}"),
        id,
    )
}

/// Sets an existing user's name in old storage; `false` when there is no such user.
pub fn set_old_name(conn: &mut AnyConnection, id: i64, name: &str) -> DbResult<bool> {
    let (p1, p2) = placeholders(conn);
    let n = diesel::sql_query(format!("UPDATE users SET full_name = {p1} WHERE id = {p2}"))
        .bind::<Text, _>(name)
        .bind::<BigInt, _>(id)
        .execute(conn)?;
    Ok(n > 0)
}

/// Sets a user's name in new storage, with an upsert (the double-write contract: the
/// sync may or may not have copied the row yet).
pub fn set_new_name(conn: &mut AnyConnection, id: i64, name: &str) -> DbResult<()> {
    let (p1, p2) = placeholders(conn);
    let sql = match conn.backend() {
        Backend::Sqlite | Backend::Postgres => format!(
            "INSERT INTO users_pii (user_id, full_name) VALUES ({p1}, {p2}) \
             ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name"
        ),
        Backend::Mysql => format!(
            "INSERT INTO users_pii (user_id, full_name) VALUES ({p1}, {p2}) \
             ON DUPLICATE KEY UPDATE full_name = VALUES(full_name)"
        ),
    };
    diesel::sql_query(sql)
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(name)
        .execute(conn)?;
    Ok(())
}

/// The application's schema before the migration: `users(id, full_name NOT NULL)` with
/// `users` rows named `name <id>`.
pub fn seed_sql(backend: Backend, users: u32) -> String {
    match backend {
        Backend::Sqlite => format!(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
             WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {users})
             INSERT INTO users (id, full_name) SELECT n, 'name ' || n FROM s WHERE {users} > 0;"
        ),
        Backend::Postgres => format!(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
             INSERT INTO users (id, full_name) SELECT n, 'name ' || n FROM generate_series(1, {users}) n;"
        ),
        // A cross join of digits: MySQL caps recursive CTEs at 1,000 rows by default.
        Backend::Mysql => {
            let digit = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                         UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
            format!(
                "CREATE TABLE users (id BIGINT PRIMARY KEY, full_name VARCHAR(255) NOT NULL);
                 INSERT INTO users (id, full_name)
                 SELECT n, CONCAT('name ', n) FROM (
                   SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 1 AS n
                   FROM {digit} a, {digit} b, {digit} c, {digit} e, {digit} f
                 ) s WHERE n <= {users};"
            )
        }
    }
}
