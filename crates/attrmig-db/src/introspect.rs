//! What the database says a table looks like: columns, types, nullability, defaults, its
//! primary key and unique keys (constraints or indexes without a predicate or an
//! expression, as lists of columns), and which columns are unique on their own.

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

/// One column of one unique key.
#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    key_name: String,
    #[diesel(sql_type = BigInt)]
    is_primary: i64,
    #[diesel(sql_type = BigInt)]
    position: i64,
    /// NULL for an expression.
    #[diesel(sql_type = Nullable<Text>)]
    column_name: Option<String>,
}

/// The primary key and the unique keys from their columns' rows; a key over an
/// expression is left out (it says nothing about the columns).
fn keys(mut rows: Vec<KeyRow>) -> (Vec<String>, Vec<Vec<String>>) {
    rows.sort_by(|a, b| (&a.key_name, a.position).cmp(&(&b.key_name, b.position)));
    let mut primary = Vec::new();
    let mut unique = Vec::new();
    for chunk in rows.chunk_by(|a, b| a.key_name == b.key_name) {
        let Some(columns) = chunk
            .iter()
            .map(|r| r.column_name.clone())
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        if chunk[0].is_primary == 1 {
            primary = columns.clone();
        }
        if !unique.contains(&columns) {
            unique.push(columns);
        }
    }
    (primary, unique)
}

/// Introspects `table` in the connection's current schema or database.
pub fn table(conn: &mut AnyConnection, table: &Ident) -> Result<TableFact, DbError> {
    let backend = conn.backend();
    let context = || format!("introspect table {}", table);
    let (columns_sql, keys_sql) = match backend {
        Backend::Sqlite => (
            // `INTEGER PRIMARY KEY` reports notnull = 0 but can't hold NULL: it is the rowid.
            // `pk` is the column's position in the primary key (0: not in it); a rowid
            // primary key has no index, so the primary key is read from here.
            "SELECT name AS name, type AS data_type, \
                    CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable, \
                    dflt_value AS default_value, \
                    pk AS primary_key \
             FROM pragma_table_info(?1) ORDER BY cid",
            "SELECT il.name AS key_name, CASE WHEN il.origin = 'pk' THEN 1 ELSE 0 END AS is_primary, \
                    ii.seqno AS position, ii.name AS column_name \
             FROM pragma_index_list(?1) il, pragma_index_info(il.name) ii \
             WHERE il.\"unique\" = 1 AND il.partial = 0",
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
            // Primary keys are unique indexes too, so one query covers both; INCLUDE
            // columns (past indnkeyatts) are not part of the key, an expression's attnum
            // is 0 (no column).
            "SELECT CAST(ic.relname AS TEXT) AS key_name, \
                    CAST(CASE WHEN i.indisprimary THEN 1 ELSE 0 END AS BIGINT) AS is_primary, \
                    CAST(k.n AS BIGINT) AS position, CAST(a.attname AS TEXT) AS column_name \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             CROSS JOIN LATERAL unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
             WHERE t.relname = $1 AND i.indisunique AND i.indpred IS NULL AND k.n <= i.indnkeyatts",
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
            // A functional key part (MySQL 8) has no column_name.
            "SELECT s.index_name AS key_name, \
                    CAST(CASE WHEN s.index_name = 'PRIMARY' THEN 1 ELSE 0 END AS SIGNED) AS is_primary, \
                    CAST(s.seq_in_index AS SIGNED) AS position, s.column_name AS column_name \
             FROM information_schema.statistics s \
             WHERE s.table_schema = DATABASE() AND s.table_name = ? AND s.non_unique = 0",
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
    let key_rows: Vec<KeyRow> = diesel::sql_query(keys_sql)
        .bind::<Text, _>(table.as_str())
        .load(conn)
        .map_err(|e| DbError::query(context(), e))?;
    let (mut primary_key, unique_keys) = keys(key_rows);
    if backend == Backend::Sqlite {
        let mut in_key: Vec<(i64, String)> = rows
            .iter()
            .filter(|r| r.primary_key > 0)
            .map(|r| (r.primary_key, r.name.clone()))
            .collect();
        in_key.sort();
        primary_key = in_key.into_iter().map(|(_, name)| name).collect();
    }
    let alone = |name: &str| {
        primary_key == [name] || unique_keys.iter().any(|k| k.len() == 1 && k[0] == name)
    };
    let columns = rows
        .into_iter()
        .map(|r| ColumnFact {
            unique: alone(&r.name),
            name: r.name,
            data_type: r.data_type,
            nullable: r.nullable == 1,
            default: r.default_value,
        })
        .collect();
    Ok(TableFact::Present {
        table: table.to_string(),
        columns,
        primary_key,
        unique_keys,
    })
}
