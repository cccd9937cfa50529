//! What the database says a table looks like: columns, types, nullability, defaults, and
//! which columns are unique on their own (a primary key of one column, or a one-column
//! unique index without a predicate).

use attrmig_core::facts::{ColumnFact, TableFact};
use attrmig_core::ident::Ident;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::url::Backend;

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = BigInt)]
    nullable: i64,
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    #[diesel(sql_type = BigInt)]
    primary_key: i64,
}

#[derive(QueryableByName)]
struct UniqueRow {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Introspects `table` in the connection's current schema or database.
pub fn table(conn: &mut AnyConnection, table: &Ident) -> Result<TableFact, DbError> {
    let backend = conn.backend();
    let context = || format!("introspect table {}", table);
    let (columns_sql, unique_sql) = match backend {
        Backend::Sqlite => (
            // `INTEGER PRIMARY KEY` reports notnull = 0 but can't hold NULL: it is the rowid.
            "SELECT name AS name, type AS data_type, \
                    CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable, \
                    dflt_value AS default_value, \
                    CASE WHEN pk > 0 AND (SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1 THEN 1 ELSE 0 END AS primary_key \
             FROM pragma_table_info(?1) ORDER BY cid",
            "SELECT ii.name AS name FROM pragma_index_list(?1) il, pragma_index_info(il.name) ii \
             WHERE il.\"unique\" = 1 AND il.partial = 0 \
               AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1",
        ),
        Backend::Postgres => (
            // pg_catalog rather than information_schema: format_type gives the exact type
            // (`character varying(255)`), which `ddl prepare-storage` copies.
            "SELECT CAST(a.attname AS TEXT) AS name, \
                    format_type(a.atttypid, a.atttypmod) AS data_type, \
                    CAST(CASE WHEN a.attnotnull THEN 0 ELSE 1 END AS BIGINT) AS nullable, \
                    pg_get_expr(d.adbin, d.adrelid) AS default_value, \
                    CAST(0 AS BIGINT) AS primary_key \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace ns ON ns.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE ns.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p') \
               AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            // Primary keys are unique indexes too, so one query covers both.
            "SELECT CAST(a.attname AS TEXT) AS name \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             WHERE t.relname = $1 AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL",
        ),
        // Defaults come back as SQL, as on the other backends (`'none'`, `0`,
        // `current_timestamp()`). MariaDB (10.2.7+) quotes literals itself and writes an
        // explicit DEFAULT NULL as the bare word NULL; MySQL 8 writes literals unquoted
        // and marks expressions DEFAULT_GENERATED in `extra`.
        Backend::Mysql => (
            "SELECT c.column_name AS name, c.column_type AS data_type, \
                    CAST(CASE WHEN c.is_nullable = 'YES' THEN 1 ELSE 0 END AS SIGNED) AS nullable, \
                    CASE WHEN c.column_default IS NULL THEN NULL \
                         WHEN VERSION() LIKE '%MariaDB%' THEN NULLIF(c.column_default, 'NULL') \
                         WHEN c.extra LIKE '%DEFAULT_GENERATED%' THEN c.column_default \
                         ELSE QUOTE(c.column_default) END AS default_value, \
                    CAST(0 AS SIGNED) AS primary_key \
             FROM information_schema.columns c \
             WHERE c.table_schema = DATABASE() AND c.table_name = ? ORDER BY c.ordinal_position",
            "SELECT MIN(s.column_name) AS name FROM information_schema.statistics s \
             WHERE s.table_schema = DATABASE() AND s.table_name = ? AND s.non_unique = 0 \
             GROUP BY s.index_name HAVING COUNT(*) = 1",
        ),
    };
    let rows: Vec<ColumnRow> = diesel::sql_query(columns_sql)
        .bind::<Text, _>(table.as_str())
        .load(conn)
        .map_err(|e| DbError::query(context(), e))?;
    if rows.is_empty() {
        return Ok(TableFact::Missing {
            table: table.to_string(),
        });
    }
    let unique: Vec<UniqueRow> = diesel::sql_query(unique_sql)
        .bind::<Text, _>(table.as_str())
        .load(conn)
        .map_err(|e| DbError::query(context(), e))?;
    let columns = rows
        .into_iter()
        .map(|r| ColumnFact {
            unique: r.primary_key == 1 || unique.iter().any(|u| u.name == r.name),
            name: r.name,
            data_type: r.data_type,
            nullable: r.nullable == 1,
            default: r.default_value,
        })
        .collect();
    Ok(TableFact::Present {
        table: table.to_string(),
        columns,
    })
}
