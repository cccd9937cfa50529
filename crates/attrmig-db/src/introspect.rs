//! What the database says a table looks like: columns, types, nullability, defaults, its
//! primary key and unique keys (constraints or indexes without a predicate or an
//! expression, as lists of columns), and which columns are unique on their own.

use attrmig_core::collation::Collation;
use attrmig_core::facts::{ColumnFact, TableFact};
use attrmig_core::ident::{Ident, TableName};
use attrmig_core::sql_text::{Token, statements};
use attrmig_core::types::{TypeFamily, type_family};
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
    /// A text column's collation (SQLite: read from the table's CREATE statement).
    #[diesel(sql_type = Nullable<Text>)]
    collation_name: Option<String>,
    /// MySQL/MariaDB: the column's character set.
    #[diesel(sql_type = Nullable<Text>)]
    charset: Option<String>,
    /// PostgreSQL: the collation's schema, when not `pg_catalog`.
    #[diesel(sql_type = Nullable<Text>)]
    collation_schema: Option<String>,
    /// PostgreSQL: the collation calls strings equal only when their bytes are.
    #[diesel(sql_type = BigInt)]
    bytewise: i64,
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
pub fn table(conn: &mut AnyConnection, table: &TableName) -> Result<TableFact, DbError> {
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
                    pk AS primary_key, \
                    NULL AS collation_name, NULL AS charset, NULL AS collation_schema, 1 AS bytewise \
             FROM pragma_table_info(?2, ?1) ORDER BY cid",
            "SELECT il.name AS key_name, CASE WHEN il.origin = 'pk' THEN 1 ELSE 0 END AS is_primary, \
                    ii.seqno AS position, ii.name AS column_name \
             FROM pragma_index_list(?2, ?1) il, pragma_index_info(il.name, ?1) ii \
             WHERE il.\"unique\" = 1 AND il.partial = 0",
        ),
        Backend::Postgres => (
            // pg_catalog rather than information_schema: format_type gives the exact type
            // (`character varying(255)`), which `ddl prepare-storage` copies.
            "SELECT CAST(a.attname AS TEXT) AS name, \
                    format_type(a.atttypid, a.atttypmod) AS data_type, \
                    CAST(CASE WHEN a.attnotnull THEN 0 ELSE 1 END AS BIGINT) AS nullable, \
                    pg_get_expr(d.adbin, d.adrelid) AS default_value, \
                    CAST(0 AS BIGINT) AS primary_key, \
                    CAST(coll.collname AS TEXT) AS collation_name, CAST(NULL AS TEXT) AS charset, \
                    CAST(NULLIF(cns.nspname, 'pg_catalog') AS TEXT) AS collation_schema, \
                    CAST(CASE WHEN coll.collisdeterministic IS FALSE THEN 0 ELSE 1 END AS BIGINT) AS bytewise \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace ns ON ns.oid = c.relnamespace \
             LEFT JOIN pg_collation coll ON coll.oid = a.attcollation \
             LEFT JOIN pg_namespace cns ON cns.oid = coll.collnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE ns.nspname = COALESCE($1, current_schema()) AND c.relname = $2 AND c.relkind IN ('r', 'p') \
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
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = COALESCE($1, current_schema()) \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             CROSS JOIN LATERAL unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
             WHERE t.relname = $2 AND i.indisunique AND i.indpred IS NULL AND k.n <= i.indnkeyatts",
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
                    CAST(0 AS SIGNED) AS primary_key, \
                    c.collation_name AS collation_name, c.character_set_name AS charset, \
                    CAST(NULL AS CHAR) AS collation_schema, \
                    CAST(0 AS SIGNED) AS bytewise \
             FROM information_schema.columns c \
             WHERE c.table_schema = COALESCE(?, DATABASE()) AND c.table_name = ? ORDER BY c.ordinal_position",
            // A functional key part (MySQL 8) has no column_name.
            "SELECT s.index_name AS key_name, \
                    CAST(CASE WHEN s.index_name = 'PRIMARY' THEN 1 ELSE 0 END AS SIGNED) AS is_primary, \
                    CAST(s.seq_in_index AS SIGNED) AS position, s.column_name AS column_name \
             FROM information_schema.statistics s \
             WHERE s.table_schema = COALESCE(?, DATABASE()) AND s.table_name = ? AND s.non_unique = 0",
        ),
    };
    let schema = schema_bind(backend, table);
    let rows: Vec<ColumnRow> = diesel::sql_query(columns_sql)
        .bind::<Nullable<Text>, _>(schema.clone())
        .bind::<Text, _>(table.name.as_str())
        .load(conn)
        .map_err(|e| DbError::query(context(), e))?;
    if rows.is_empty() {
        return Ok(TableFact::Missing {
            table: table.to_string(),
        });
    }
    let key_rows: Vec<KeyRow> = diesel::sql_query(keys_sql)
        .bind::<Nullable<Text>, _>(schema)
        .bind::<Text, _>(table.name.as_str())
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
    let sqlite_collations = match backend {
        Backend::Sqlite => sqlite_collations(conn, table)?,
        _ => Vec::new(),
    };
    let columns = rows
        .into_iter()
        .map(|r| ColumnFact {
            collation: match backend {
                // Every SQLite column has a collation; it matters for text (and untyped)
                // columns, the ones a text key can be.
                Backend::Sqlite if type_family(&r.data_type) != TypeFamily::Integer => {
                    Some(Collation::sqlite(
                        sqlite_collations
                            .iter()
                            .find(|(c, _)| c.eq_ignore_ascii_case(&r.name))
                            .map_or("BINARY", |(_, coll)| coll.as_str()),
                    ))
                }
                Backend::Sqlite => None,
                _ => r.collation_name.map(|name| Collation {
                    name,
                    charset: r.charset,
                    schema: r.collation_schema,
                    deterministic: r.bytewise == 1,
                }),
            },
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

fn main() -> Ident {
    Ident::new("main").expect("a valid identifier")
}

/// The schema a catalogue query binds: the table's own, or NULL for the connection's
/// current one (`COALESCE(?, current_schema())`); SQLite's pragmas take `main`.
pub(crate) fn schema_bind(backend: Backend, table: &TableName) -> Option<String> {
    match (&table.schema, backend) {
        (Some(s), _) => Some(s.as_str().to_owned()),
        (None, Backend::Sqlite) => Some("main".to_owned()),
        (None, _) => None,
    }
}

#[derive(QueryableByName)]
struct CreateRow {
    #[diesel(sql_type = Text)]
    sql: String,
}

/// SQLite keeps no collation in its catalogue but the table's CREATE statement: each
/// column's `COLLATE <name>`, read from there.
fn sqlite_collations(
    conn: &mut AnyConnection,
    table: &TableName,
) -> Result<Vec<(String, String)>, DbError> {
    // sqlite_schema of the table's own schema (`main` unless qualified).
    let schema = conn
        .backend()
        .quote(table.schema.as_ref().unwrap_or(&main()));
    let rows: Vec<CreateRow> = diesel::sql_query(format!(
        "SELECT sql FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE"
    ))
    .bind::<Text, _>(table.name.as_str())
    .load(conn)
    .map_err(|e| DbError::query(format!("read the definition of {table}"), e))?;
    Ok(rows
        .first()
        .map(|r| column_collations(&r.sql))
        .unwrap_or_default())
}

/// `(column, collation)` for each column definition of a `CREATE TABLE` that says
/// `COLLATE`; table constraints (`PRIMARY KEY (...)`, `CHECK`...) are skipped.
pub(crate) fn column_collations(create: &str) -> Vec<(String, String)> {
    let Some(statement) = statements(create).into_iter().next() else {
        return Vec::new();
    };
    let tokens = statement.tokens;
    let Some(open) = tokens.iter().position(|t| t.is_punct("(")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut definition: Vec<&Token> = Vec::new();
    let mut finish = |definition: &mut Vec<&Token>| {
        let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];
        if let Some(first) = definition.first()
            && first.is_name()
            && !constraint.iter().any(|k| first.is(k))
            && let Some(at) = definition.iter().position(|t| t.is("COLLATE"))
            && let Some(name) = definition.get(at + 1).filter(|t| t.is_name())
        {
            out.push((first.text().to_owned(), name.text().to_owned()));
        }
        definition.clear();
    };
    for token in &tokens[open + 1..] {
        if token.is_punct("(") {
            depth += 1;
        } else if token.is_punct(")") {
            if depth == 0 {
                break;
            }
            depth -= 1;
        } else if token.is_punct(",") && depth == 0 {
            finish(&mut definition);
            continue;
        }
        if depth == 0 || !definition.is_empty() {
            definition.push(token);
        }
    }
    finish(&mut definition);
    out
}

#[cfg(test)]
mod tests {
    use super::column_collations;

    #[test]
    fn sqlite_collations_are_read_from_column_definitions() {
        let create = "CREATE TABLE \"Users\" (login TEXT COLLATE NOCASE PRIMARY KEY, \
                      \"Name\" VARCHAR(20) NOT NULL COLLATE rtrim, n INTEGER CHECK (n > 0), \
                      other TEXT, PRIMARY KEY (login) )";
        assert_eq!(
            column_collations(create),
            [
                ("login".to_owned(), "NOCASE".to_owned()),
                ("Name".to_owned(), "rtrim".to_owned())
            ]
        );
    }
}
