//! A plan's names as the database spells them ([`attrmig_core::names`] says how each
//! backend matches a name): every tool, guard and the audit evidence then use that
//! spelling, quoted, so a name means one object however the plan wrote it.

use attrmig_core::Plan;
use attrmig_core::ident::{Ident, TableName};
use attrmig_core::names::{Folding, resolve};
use attrmig_core::plan::NameRole;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::introspect;
use crate::url::Backend;

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// How the backend matches a table name.
fn table_folding(conn: &mut AnyConnection) -> Result<Folding, DbError> {
    Ok(match conn.backend() {
        Backend::Sqlite => Folding::CaseInsensitive,
        Backend::Postgres => Folding::LowerCase,
        Backend::Mysql => {
            let row: Setting =
                diesel::sql_query("SELECT CAST(@@lower_case_table_names AS SIGNED) AS value")
                    .get_result(conn)
                    .map_err(|e| DbError::query("read lower_case_table_names", e))?;
            if row.value == 0 {
                Folding::Exact
            } else {
                Folding::CaseInsensitive
            }
        }
    })
}

/// How the backend matches a column name.
fn column_folding(backend: Backend) -> Folding {
    match backend {
        Backend::Sqlite | Backend::Mysql => Folding::CaseInsensitive,
        Backend::Postgres => Folding::LowerCase,
    }
}

/// The tables (and, on PostgreSQL, partitioned tables) whose names equal `table` but
/// for case, in the connection's current schema or database.
fn tables_like(conn: &mut AnyConnection, table: &TableName) -> Result<Vec<String>, DbError> {
    let backend = conn.backend();
    let sql = match backend {
        Backend::Sqlite => {
            let schema = match &table.schema {
                Some(s) => backend.quote(s),
                None => "main".to_owned(),
            };
            // ?1 is the schema, bound for every backend alike and unused here.
            format!(
                "SELECT name AS name FROM {schema}.sqlite_master \
                 WHERE type = 'table' AND lower(name) = lower(?2) AND ?1 = ?1"
            )
        }
        Backend::Postgres => "SELECT CAST(c.relname AS TEXT) AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = COALESCE($1, current_schema()) \
             WHERE c.relkind IN ('r', 'p') AND lower(c.relname) = lower($2)"
            .to_owned(),
        Backend::Mysql => "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
             WHERE table_schema = COALESCE(?, DATABASE()) AND LOWER(table_name) = LOWER(?)"
            .to_owned(),
    };
    let rows: Vec<NameRow> = diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(introspect::schema_bind(backend, table))
        .bind::<Text, _>(table.name.as_str())
        .load(conn)
        .map_err(|e| DbError::query(format!("look up table {table}"), e))?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// The database's spelling of a schema (PostgreSQL) or database (MySQL/MariaDB) named
/// `schema`, matched as the backend matches a table name; as written when none matches
/// (SQLite's `main` included: it has no other).
fn schema_spelling(
    conn: &mut AnyConnection,
    schema: &Ident,
    folding: Folding,
) -> Result<Ident, DbError> {
    let sql = match conn.backend() {
        Backend::Sqlite => return Ok(schema.clone()),
        Backend::Postgres => {
            "SELECT CAST(nspname AS TEXT) AS name FROM pg_namespace WHERE lower(nspname) = lower($1)"
        }
        Backend::Mysql => {
            "SELECT CAST(schema_name AS CHAR) AS name FROM information_schema.schemata \
             WHERE LOWER(schema_name) = LOWER(?)"
        }
    };
    let rows: Vec<NameRow> = diesel::sql_query(sql)
        .bind::<Text, _>(schema.as_str())
        .load(conn)
        .map_err(|e| DbError::query(format!("look up schema {schema}"), e))?;
    let spellings: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    Ok(resolve(folding, schema.as_str(), &spellings)
        .and_then(|s| Ident::new(s).ok())
        .unwrap_or_else(|| schema.clone()))
}

/// The database's spelling of `table` (its schema's too), or the plan's when no table
/// matches (new storage not created yet: it is created as the plan spells it).
fn table_spelling(conn: &mut AnyConnection, table: &TableName) -> Result<TableName, DbError> {
    let folding = table_folding(conn)?;
    let table = &match &table.schema {
        Some(schema) => TableName {
            schema: Some(schema_spelling(conn, schema, folding)?),
            name: table.name.clone(),
        },
        None => table.clone(),
    };
    let found = tables_like(conn, table)?;
    let spellings: Vec<&str> = found.iter().map(String::as_str).collect();
    Ok(resolve(folding, table.name.as_str(), &spellings)
        .and_then(|s| Ident::new(s).ok())
        .map_or_else(|| table.clone(), |name| table.with_name(name)))
}

/// The column names of `table`, as the database spells them (empty when it is missing).
fn column_spellings(conn: &mut AnyConnection, table: &TableName) -> Result<Vec<String>, DbError> {
    Ok(match introspect::table(conn, table)? {
        attrmig_core::facts::TableFact::Present { columns, .. } => {
            columns.into_iter().map(|c| c.name).collect()
        }
        attrmig_core::facts::TableFact::Missing { .. } => Vec::new(),
    })
}

/// `plan` with its table and column names as the database spells them. A name the
/// backend would not accept for any object stays as written (the guards then say it is
/// missing).
pub fn resolve_plan(conn: &mut AnyConnection, plan: &Plan) -> Result<Plan, DbError> {
    let old_table = table_spelling(conn, plan.old.table())?;
    let new_table = table_spelling(conn, &plan.new.table)?;
    let old_columns = column_spellings(conn, &old_table)?;
    let new_columns = if new_table == old_table {
        old_columns.clone()
    } else {
        column_spellings(conn, &new_table)?
    };
    let folding = column_folding(conn.backend());
    let column = |columns: &[String], name: &Ident| {
        let spellings: Vec<&str> = columns.iter().map(String::as_str).collect();
        resolve(folding, name.as_str(), &spellings)
            .and_then(|s| Ident::new(s).ok())
            .unwrap_or_else(|| name.clone())
    };
    Ok(plan.renamed(|role, name| match role {
        NameRole::OldTable => old_table.name.clone(),
        NameRole::NewTable => new_table.name.clone(),
        NameRole::OldSchema => old_table.schema.clone().unwrap_or_else(|| name.clone()),
        NameRole::NewSchema => new_table.schema.clone().unwrap_or_else(|| name.clone()),
        NameRole::OldColumn => column(&old_columns, name),
        NameRole::NewColumn => column(&new_columns, name),
    }))
}
