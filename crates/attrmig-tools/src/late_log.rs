//! The late-write log: a trigger on old storage, installed when step 9 is reached, that
//! records every write of the old attribute (key, time, and who wrote where the backend
//! tells) in a small table of the application database. `ddl drop-old` reads it for the
//! key ranges whose step-9 digests changed ([`crate::fingerprint`]), to name the keys and
//! their writers, and removes trigger and table with old storage.
//!
//! Trigger, function and table are attrmig's own objects (named `attrmig_late_...`), so
//! they are never taken for dependents of old storage (`attrmig_core::dependents::is_own`).
//!
//! What a row of the log says, per backend:
//! - PostgreSQL: `session_user`, `application_name`, `inet_client_addr()`. The function
//!   is `SECURITY DEFINER`, so an application role needs no privilege on the log (and a
//!   write never fails for want of one); it runs with `search_path = pg_catalog` (a
//!   definer's function must not resolve names where a writer could plant its own) and
//!   names its log table with its schema.
//! - MySQL/MariaDB: `USER()`, the client's `user@host` (a trigger runs as its definer, so
//!   here too the application needs no privilege on the log).
//! - SQLite: nothing; the key and the time only.
//!
//! Times are the database's clock in UTC, written as RFC 3339 text.
//!
//! A log row that can't be written (the log dropped by hand, a full disk) is lost, never
//! the application's write: PostgreSQL's function and MySQL's triggers swallow their own
//! errors. A write lost to the log only makes its range "changed with nothing logged",
//! which drop-old refuses as well.
//!
//! The trigger fires only where the attribute itself changes (the old value, the key, or
//! for EAV whether the row holds the attribute's name): a write of another column of the
//! same row is not logged. A delete is logged (it explains a changed range) but is never
//! a late write: dropping old storage loses nothing of a removed value.

use attrmig_core::dependents::OWN_PREFIX;
use attrmig_core::ident::{Ident, MAX_IDENT_LEN, TableName};
use attrmig_db::{AnyConnection, Backend};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};

use crate::error::ToolError;
use crate::layout::{KeyExpr, Layout};
use crate::sql::{Key, Sql};

/// The names of a migration's late-write objects.
#[derive(Debug, Clone)]
pub struct Names {
    /// The log table.
    pub table: Ident,
    /// PostgreSQL: the trigger function; MySQL/SQLite: the prefix of the three triggers.
    pub trigger: Ident,
}

/// `attrmig_<what>`: shortened with a digest to fit every backend's limit; a digest of the
/// migration id always, since ids may hold characters an identifier can't (`-`).
fn own_name(what: &str, id: &str) -> Ident {
    use sha2::{Digest, Sha256};
    let tag: String = Sha256::digest(id.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let slug: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let room = MAX_IDENT_LEN - OWN_PREFIX.len() - what.len() - tag.len() - 2 - 4;
    let slug: String = slug.chars().take(room).collect();
    Ident::new(&format!("{OWN_PREFIX}{what}_{slug}_{tag}")).expect("built from identifiers")
}

/// The names for the layout's migration.
pub fn names(layout: &Layout) -> Names {
    let id = layout.plan().id.to_string();
    Names {
        table: own_name("late", &id),
        trigger: own_name("latet", &id),
    }
}

/// The log table, in old storage's schema (or database) when the plan names one: a
/// MySQL trigger lives in its table's database and finds unqualified tables there.
fn log_table(layout: &Layout, names: &Names) -> TableName {
    TableName {
        schema: layout.plan().old.table().schema.clone(),
        name: names.table.clone(),
    }
}

/// A trigger per operation on MySQL and SQLite, which have no trigger for several;
/// on MySQL in old storage's database, where a trigger of its table must be.
fn trigger_name(layout: &Layout, names: &Names, op: &str) -> String {
    let b = layout.backend();
    let name =
        Ident::new(&format!("{}_{op}", names.trigger.as_str())).expect("built from identifiers");
    match (&layout.plan().old.table().schema, b) {
        (Some(schema), Backend::Mysql) => format!("{}.{}", b.quote(schema), b.quote(&name)),
        _ => b.quote(&name),
    }
}

const OPS: [&str; 3] = ["ins", "upd", "del"];

fn statement(backend: Backend, text: String) -> Sql {
    let mut s = Sql::new(backend);
    s.push(&text);
    s
}

/// `a` and `b` differ, NULL-safe. On PostgreSQL compared as text: some types have no
/// equality operator at all (`json`, `xml`, `point`), and a trigger that fails would fail
/// the application's write; two spellings of one value are only logged once too often.
fn distinct(backend: Backend, a: &str, b: &str) -> String {
    match backend {
        Backend::Postgres => format!("(CAST({a} AS TEXT) IS DISTINCT FROM CAST({b} AS TEXT))"),
        Backend::Sqlite => format!("({a} IS NOT {b})"),
        Backend::Mysql => format!("(NOT ({a} <=> {b}))"),
    }
}

/// The row values `a` and `b` differ in any column.
fn key_distinct(backend: Backend, a: &KeyExpr, b: &KeyExpr) -> String {
    let each: Vec<String> = a
        .columns()
        .iter()
        .zip(b.columns())
        .map(|(a, b)| distinct(backend, a, b))
        .collect();
    format!("({})", each.join(" OR "))
}

/// The log's key columns, unqualified: `row_key` for a key of one column, `row_key0`,
/// `row_key1`, ... for one of several (as [`Layout::key_names`] names them).
fn log_key_columns(layout: &Layout) -> Vec<String> {
    layout
        .key_names("l", "row_key")
        .columns()
        .iter()
        .map(|c| c.trim_start_matches("l.").to_owned())
        .collect()
}

/// `INSERT INTO log ... SELECT <key>, <op>, <when>, <who> WHERE <cond>`.
fn log_insert(
    backend: Backend,
    log: &str,
    (columns, key): (&[String], &KeyExpr),
    op: &str,
    cond: &str,
) -> String {
    let (when, user, application, client) = match backend {
        Backend::Postgres => (
            "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            "CAST(session_user AS TEXT)",
            "current_setting('application_name', true)",
            "CAST(inet_client_addr() AS TEXT)",
        ),
        Backend::Mysql => (
            "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
            "NULL",
            "NULL",
            "USER()",
        ),
        Backend::Sqlite => (
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            "NULL",
            "NULL",
            "NULL",
        ),
    };
    let from = if backend == Backend::Mysql {
        " FROM DUAL"
    } else {
        ""
    };
    format!(
        "INSERT INTO {log} ({}, op, written_at, db_user, application, client) \
         SELECT {}, '{op}', {when}, {user}, {application}, {client}{from} WHERE {cond}",
        columns.join(", "),
        key.order()
    )
}

/// The statements that create the log and its trigger(s), after removing any left from
/// an earlier attempt.
pub fn install_statements(
    layout: &Layout,
    conn: &mut AnyConnection,
) -> Result<Vec<Sql>, ToolError> {
    let b = layout.backend();
    let names = names(layout);
    let mut out = remove_statements(layout);
    let log_table = log_table(layout, &names);
    let log = match (b, &log_table.schema) {
        // Named with its schema: the function runs with search_path = pg_catalog.
        (Backend::Postgres, None) => format!(
            "{}.{}",
            quote_pg(&current_schema(conn)?),
            b.quote(&names.table)
        ),
        _ => b.quote(&log_table),
    };
    let text = match b {
        Backend::Mysql => "VARCHAR(255)",
        _ => "TEXT",
    };
    let key_columns = log_key_columns(layout);
    // Each log key column as its old key column is, collation too: the log is read by
    // the same key ranges as old storage, which must order and compare keys alike.
    let mut key_defs = Vec::with_capacity(key_columns.len());
    for (c, old) in key_columns.iter().zip(layout.plan().old.key().columns()) {
        let fact = layout.old_table().column(old.as_str());
        let data_type = fact
            .map(|f| f.data_type.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "TEXT".to_owned());
        let collate = crate::ddl::collate_clause(b, fact.and_then(|f| f.collation.as_ref()))?;
        key_defs.push(format!("{c} {data_type}{collate}"));
    }
    out.push(statement(
        b,
        format!(
            "CREATE TABLE {log} ({}, op VARCHAR(8) NOT NULL, written_at VARCHAR(40) NOT NULL, \
             db_user {text}, application {text}, client {text})",
            key_defs.join(", ")
        ),
    ));
    let (n, o) = (layout.trigger_row("NEW"), layout.trigger_row("OLD"));
    let changed = format!(
        "(({}) <> ({}) OR {} OR {})",
        o.holds,
        n.holds,
        key_distinct(b, &o.key, &n.key),
        distinct(b, &o.value, &n.value)
    );
    let on_insert = log_insert(
        b,
        &log,
        (&key_columns, &n.key),
        "insert",
        &format!("{} AND {} IS NOT NULL", n.holds, n.value),
    );
    let on_update = [
        log_insert(
            b,
            &log,
            (&key_columns, &n.key),
            "update",
            &format!("{} AND {changed}", n.holds),
        ),
        log_insert(
            b,
            &log,
            (&key_columns, &o.key),
            "update",
            &format!(
                "{} AND {changed} AND (NOT ({}) OR {})",
                o.holds,
                n.holds,
                key_distinct(b, &o.key, &n.key)
            ),
        ),
    ];
    let on_delete = log_insert(
        b,
        &log,
        (&key_columns, &o.key),
        "delete",
        &format!("{} AND {} IS NOT NULL", o.holds, o.value),
    );
    let table = layout.old_table_name();
    match b {
        Backend::Postgres => {
            let function = format!(
                "{}.{}",
                quote_pg(&current_schema(conn)?),
                b.quote(&names.trigger)
            );
            out.push(statement(
                b,
                format!(
                    "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $attrmig$\n\
                     BEGIN\n\
                       IF TG_OP = 'INSERT' THEN\n    {on_insert};\n\
                       ELSIF TG_OP = 'UPDATE' THEN\n    {};\n    {};\n\
                       ELSE\n    {on_delete};\n\
                       END IF;\n\
                       RETURN NULL;\n\
                     EXCEPTION WHEN OTHERS THEN\n\
                       RETURN NULL;\n\
                     END\n$attrmig$",
                    on_update[0], on_update[1]
                ),
            ));
            out.push(statement(
                b,
                format!(
                    "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()",
                    b.quote(&names.trigger)
                ),
            ));
        }
        Backend::Mysql | Backend::Sqlite => {
            // MySQL: a log row that can't be written is lost, never the application's
            // write (SQLite has no handler: its log is created before its triggers).
            let (begin, end) = match b {
                Backend::Mysql => (
                    "BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END; ",
                    "; END",
                ),
                _ => ("BEGIN ", "; END"),
            };
            for (op, event, body) in [
                ("ins", "INSERT", on_insert),
                ("upd", "UPDATE", on_update.join("; ")),
                ("del", "DELETE", on_delete),
            ] {
                out.push(statement(
                    b,
                    format!(
                        "CREATE TRIGGER {} AFTER {event} ON {table} FOR EACH ROW {begin}{body}{end}",
                        trigger_name(layout, &names, op)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The statements that remove trigger(s) and log, whether or not they exist.
pub fn remove_statements(layout: &Layout) -> Vec<Sql> {
    let b = layout.backend();
    let names = names(layout);
    let table = layout.old_table_name();
    let mut out = Vec::new();
    match b {
        Backend::Postgres => {
            out.push(statement(
                b,
                format!(
                    "DROP TRIGGER IF EXISTS {} ON {table}",
                    b.quote(&names.trigger)
                ),
            ));
            out.push(statement(
                b,
                format!("DROP FUNCTION IF EXISTS {}()", b.quote(&names.trigger)),
            ));
        }
        Backend::Mysql | Backend::Sqlite => {
            for op in OPS {
                out.push(statement(
                    b,
                    format!(
                        "DROP TRIGGER IF EXISTS {}",
                        trigger_name(layout, &names, op)
                    ),
                ));
            }
        }
    }
    out.push(statement(
        b,
        format!(
            "DROP TABLE IF EXISTS {}",
            b.quote(&log_table(layout, &names))
        ),
    ));
    out
}

/// A PostgreSQL name read from the catalogue, quoted.
fn quote_pg(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn current_schema(conn: &mut AnyConnection) -> Result<String, ToolError> {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = Text)]
        s: String,
    }
    let rows: Vec<S> = Sql::new(Backend::Postgres)
        .push("SELECT CAST(current_schema() AS TEXT) AS s")
        .load(conn)
        .map_err(|e| ToolError::query("read the current schema", e))?;
    rows.into_iter()
        .next()
        .map(|r| r.s)
        .ok_or_else(|| ToolError::Unexpected("no current schema".into()))
}

/// Runs statements one by one (DDL commits implicitly on MySQL anyway).
fn run(conn: &mut AnyConnection, statements: &[Sql], what: &str) -> Result<(), ToolError> {
    for s in statements {
        if s.binds().is_empty() {
            conn.batch_execute(s.text())
        } else {
            s.execute(conn).map(|_| ())
        }
        .map_err(|e| ToolError::query(format!("{what}: `{}`", s.display()), e))?;
    }
    Ok(())
}

/// Creates the log and its trigger(s) on old storage.
pub fn install(conn: &mut AnyConnection, layout: &Layout) -> Result<(), ToolError> {
    let statements = install_statements(layout, conn)?;
    run(conn, &statements, "install the late-write trigger")
}

/// Removes them.
pub fn remove(conn: &mut AnyConnection, layout: &Layout) -> Result<(), ToolError> {
    run(
        conn,
        &remove_statements(layout),
        "remove the late-write trigger",
    )
}

/// Whether the log table exists (it does from step 9 on, for a migration that reached 9
/// under state schema 4).
pub fn exists(conn: &mut AnyConnection, layout: &Layout) -> Result<bool, ToolError> {
    let table = attrmig_db::introspect::table(conn, &log_table(layout, &names(layout)))?;
    Ok(table.exists())
}

/// One logged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, as text.
    pub key: String,
    /// `insert`, `update` or `delete`.
    pub op: String,
    /// When (the database's clock).
    pub at: DateTime<Utc>,
    /// Who, as far as the backend tells.
    pub by: Option<String>,
}

/// The logged writes of keys in `(lo, hi]`, oldest first.
pub fn entries_in(
    conn: &mut AnyConnection,
    layout: &Layout,
    lo: Option<&Key>,
    hi: Option<&Key>,
) -> Result<Vec<Entry>, ToolError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        k: String,
        #[diesel(sql_type = Text)]
        op: String,
        #[diesel(sql_type = Text)]
        written_at: String,
        #[diesel(sql_type = Nullable<Text>)]
        db_user: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        application: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        client: Option<String>,
    }
    let b = layout.backend();
    let mut sql = Sql::new(b);
    let key = layout.key_names("l", "row_key");
    sql.push(&format!(
        "SELECT {} AS k, l.op AS op, l.written_at AS written_at, l.db_user AS db_user, \
         l.application AS application, l.client AS client FROM {} l WHERE {} IS NOT NULL AND ",
        layout.key_text(&key),
        b.quote(&log_table(layout, &names(layout))),
        key.first()
    ));
    layout.push_range(&mut sql, &key, lo, hi);
    sql.push(" ORDER BY l.written_at");
    let rows: Vec<Row> = sql
        .load(conn)
        .map_err(|e| ToolError::query("read the late-write log", e))?;
    rows.into_iter()
        .map(|r| {
            let by: Vec<String> = [
                r.db_user
                    .filter(|s| !s.is_empty())
                    .map(|u| format!("user {u}")),
                r.application
                    .filter(|s| !s.is_empty())
                    .map(|a| format!("application {a}")),
                r.client
                    .filter(|s| !s.is_empty())
                    .map(|c| format!("client {c}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            Ok(Entry {
                key: layout.recorded_key(r.k)?,
                op: r.op,
                // A time that does not read back counts as late (now): the safe side.
                at: DateTime::parse_from_rfc3339(&r.written_at)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now()),
                by: (!by.is_empty()).then(|| by.join(", ")),
            })
        })
        .collect()
}
