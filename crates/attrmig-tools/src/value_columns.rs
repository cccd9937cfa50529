//! What equality needs to know about a value column beyond its type's name: its
//! collation on PostgreSQL (a nondeterministic one calls different texts equal), whether
//! a MariaDB `LONGTEXT` is really `JSON` (MariaDB's `JSON` is `LONGTEXT` with a
//! `json_valid` check). SQLite has nothing to add: its text is always compared in BINARY.

use attrmig_core::ident::TableName;
use attrmig_db::equality::TypeFacts;
use attrmig_db::{AnyConnection, Backend};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::error::ToolError;
use crate::sql::{Bind, Sql};

/// The facts of `table.column` (which exists).
pub fn facts(
    conn: &mut AnyConnection,
    table: &TableName,
    column: &str,
) -> Result<TypeFacts, ToolError> {
    match conn.backend() {
        Backend::Sqlite => Ok(TypeFacts::default()),
        Backend::Postgres => postgres(conn, table, column),
        Backend::Mysql => Ok(TypeFacts {
            json: mariadb_json(conn, table, column),
            ..TypeFacts::default()
        }),
    }
}

/// The table's schema bound, or `current` (`current_schema()`, `DATABASE()`) when the
/// plan names none.
pub(crate) fn in_schema<'s>(sql: &'s mut Sql, table: &TableName, current: &str) -> &'s mut Sql {
    match &table.schema {
        Some(schema) => sql.bind(Bind::Text(schema.as_str().to_owned())),
        None => sql.push(current),
    }
}

fn postgres(
    conn: &mut AnyConnection,
    table: &TableName,
    column: &str,
) -> Result<TypeFacts, ToolError> {
    #[derive(QueryableByName)]
    struct Collation {
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
        #[diesel(sql_type = BigInt)]
        nondeterministic: i64,
    }
    let mut sql = Sql::new(Backend::Postgres);
    sql.push(
        "SELECT CASE WHEN co.collname = 'default' THEN NULL ELSE CAST(co.collname AS TEXT) END AS name, \
                CAST(CASE WHEN co.collisdeterministic THEN 0 ELSE 1 END AS BIGINT) AS nondeterministic \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace ns ON ns.oid = c.relnamespace \
         JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE ns.nspname = ",
    );
    in_schema(&mut sql, table, "current_schema()")
        .push(" AND c.relname = ")
        .bind(Bind::Text(table.name.as_str().to_owned()))
        .push(" AND a.attname = ")
        .bind(Bind::Text(column.to_owned()))
        .push(" AND a.attnum > 0 AND NOT a.attisdropped");
    let rows: Vec<Collation> = sql
        .load(conn)
        .map_err(|e| ToolError::query("read a column's collation", e))?;
    // No row: a type without collation (a number, bytes).
    Ok(rows
        .into_iter()
        .next()
        .map_or_else(TypeFacts::default, |c| TypeFacts {
            nondeterministic: c.nondeterministic == 1,
            collation: c.name,
            json: false,
        }))
}

/// MariaDB marks a `JSON` column with a column-level check `json_valid(`column`)`. MySQL
/// has a JSON type of its own (and no `table_name` in `check_constraints`: the query
/// fails there, and the answer is no).
fn mariadb_json(conn: &mut AnyConnection, table: &TableName, column: &str) -> bool {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = Sql::new(Backend::Mysql);
    sql.push(
        "SELECT COUNT(*) AS n FROM information_schema.check_constraints \
         WHERE constraint_schema = ",
    );
    in_schema(&mut sql, table, "DATABASE()")
        .push(" AND table_name = ")
        .bind(Bind::Text(table.name.as_str().to_owned()))
        .push(" AND check_clause = ")
        .bind(Bind::Text(format!("json_valid(`{column}`)")));
    sql.load::<N>(conn)
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .is_some_and(|r| r.n > 0)
}
