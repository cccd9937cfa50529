//! Fixtures for the tools' tests: the three kinds of old storage, filled with known
//! values, on any backend.

#![allow(dead_code)]

use std::path::Path;

use attrmig_core::Plan;
use attrmig_core::Step;
use attrmig_db::{AnyConnection, Backend};
use attrmig_store::{Conns, setup};
use attrmig_testing::TestDb;
use attrmig_tools::{Layout, ToolError, crosscheck, sync};
use diesel::RunQueryDsl;

pub const ROWS: i64 = 300;

/// `name <id>` for most keys; NULL for every 50th.
pub fn name(id: i64) -> Option<String> {
    (id % 50 != 0).then(|| format!("name {id}"))
}

fn literal(v: &Option<String>) -> String {
    v.as_ref()
        .map_or("NULL".into(), |s| format!("'{}'", s.replace('\'', "''")))
}

/// A multi-row INSERT every backend accepts.
pub fn insert(table: &str, columns: &str, rows: impl Iterator<Item = String>) -> String {
    let rows: Vec<String> = rows.collect();
    rows.chunks(500)
        .map(|c| format!("INSERT INTO {table} ({columns}) VALUES {};", c.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn new_table(db: &TestDb, extra: &str) -> String {
    let _ = db;
    format!(
        "CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255){extra});"
    )
}

/// users(id, full_name) with `rows` keys named `name <key>`, and an empty users_pii.
pub fn named_users(db: &TestDb, rows: u64) {
    users_named_by(db, rows, |i| format!("'name {i}'"), "");
}

/// users(id, full_name) with keys `1..=rows`, each named by `name(key)` (an SQL
/// literal), and an empty users_pii whose column ends in `new_extra` (a CHECK, say).
pub fn users_named_by(db: &TestDb, rows: u64, name: impl Fn(u64) -> String, new_extra: &str) {
    db.execute(&format!(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));\n{}\n{}",
        insert(
            "users",
            "id, full_name",
            (1..=rows).map(|i| format!("({i}, {})", name(i)))
        ),
        new_table(db, new_extra)
    ));
}

/// users(id, full_name NULL) and an empty users_pii.
pub fn column_kind(db: &TestDb) -> Plan {
    users_named_by(db, ROWS as u64, |i| literal(&name(i as i64)), "");
    plan(COLUMN_PLAN)
}

/// users(id, attrs) with `full_name` inside, absent or JSON null for some keys.
pub fn json_kind(db: &TestDb) -> Plan {
    let json_type = match db.backend() {
        Backend::Sqlite => "TEXT",
        Backend::Postgres => "JSONB",
        Backend::Mysql => "JSON",
    };
    let doc = |i: i64| match name(i) {
        Some(n) => format!("'{{\"full_name\": \"{n}\", \"age\": {i}}}'"),
        None if i % 100 == 0 => "'{\"age\": 1}'".to_owned(),
        None => "'{\"full_name\": null}'".to_owned(),
    };
    db.execute(&format!(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, attrs {json_type});\n{}\n{}",
        insert(
            "users",
            "id, attrs",
            (1..=ROWS).map(|i| format!("({i}, {})", doc(i)))
        ),
        new_table(db, "")
    ));
    plan(JSON_PLAN)
}

/// user_attributes(user_id, name, value): one `full_name` row per key with a value, plus
/// rows of another attribute that must be left alone.
pub fn eav_kind(db: &TestDb) -> Plan {
    let rows = (1..=ROWS).flat_map(|i| {
        let mut r = vec![format!("({i}, 'nickname', 'nick {i}')")];
        if let Some(n) = name(i) {
            r.push(format!("({i}, 'full_name', '{n}')"));
        }
        r
    });
    db.execute(&format!(
        "CREATE TABLE user_attributes (user_id BIGINT NOT NULL, name VARCHAR(64) NOT NULL, value VARCHAR(255), PRIMARY KEY (user_id, name));\n{}\n{}",
        insert("user_attributes", "user_id, name, value", rows),
        new_table(db, "")
    ));
    plan(EAV_PLAN)
}

pub const COLUMN_PLAN: &str = r#"
[old]
kind = "column"
table = "users"
key = "id"
column = "full_name"
[new]
table = "users_pii"
key = "user_id"
column = "full_name"
"#;

pub const JSON_PLAN: &str = r#"
[old]
kind = "json"
table = "users"
key = "id"
column = "attrs"
path = "full_name"
[new]
table = "users_pii"
key = "user_id"
column = "full_name"
"#;

pub const EAV_PLAN: &str = r#"
[old]
kind = "eav"
table = "user_attributes"
key = "user_id"
name_column = "name"
name = "full_name"
value_column = "value"
[new]
table = "users_pii"
key = "user_id"
column = "full_name"
"#;

pub fn plan(text: &str) -> Plan {
    attrmig_plan::parse_plan(
        "users-full-name",
        Path::new("plans/users-full-name.toml"),
        text,
    )
    .unwrap()
}

/// A connection with the state tables, and the plan's layout.
pub fn open(db: &TestDb, plan: &Plan) -> (AnyConnection, Layout) {
    let mut conn = db.connect();
    setup::ensure_schema(&mut conn).unwrap();
    let layout = Layout::resolve(&mut conn, plan).unwrap();
    (conn, layout)
}

pub fn count(conn: &mut AnyConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .unwrap_or_else(|e| panic!("{e}\nin: {sql}"))
        .n
}

pub fn text(conn: &mut AnyConnection, sql: &str) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        t: Option<String>,
    }
    diesel::sql_query(sql)
        .get_result::<T>(conn)
        .unwrap_or_else(|e| panic!("{e}\nin: {sql}"))
        .t
}

/// The test database's URL, for the tools' second connection (batch ends found ahead).
pub fn lookahead(db: &TestDb) -> Option<attrmig_db::DatabaseUrl> {
    Some(attrmig_db::DatabaseUrl::parse(db.url(), std::path::Path::new("/")).unwrap())
}

pub fn shared(conn: &mut AnyConnection) -> Conns<'_> {
    Conns::Shared(conn)
}

/// A cross-check of every key (or a `sample`) in batches of `batch` keys, on `conn`
/// alone (no second connection), reporting up to 10 mismatches.
pub fn cross_check_in(
    conn: &mut AnyConnection,
    layout: &Layout,
    sample: Option<u64>,
    batch: u32,
) -> Result<crosscheck::Report, ToolError> {
    let opts = crosscheck::Options {
        sample,
        batch_size: batch,
        max_report: 10,
        lookahead: None,
    };
    crosscheck::run(
        &mut shared(conn),
        layout,
        Step::CrossCheck,
        "alice",
        &opts,
        &mut (),
    )
}

/// `data-issues --retry` of every open issue, on `conn` alone.
pub fn retry(conn: &mut AnyConnection, layout: &Layout) -> sync::Retried {
    sync::retry(&mut shared(conn), layout, "alice@test:1".into()).expect("retry")
}

/// A sync pass in batches of `batch` keys, on `conn` alone (no second connection).
pub fn sync_pass_in(
    conn: &mut AnyConnection,
    layout: &Layout,
    batch: u32,
) -> Result<sync::Summary, ToolError> {
    let opts = sync::Options {
        batch_size: batch,
        max_rows_per_second: None,
        restart: false,
        holder: "alice@test:1".into(),
        lookahead: None,
        delete_extra: false,
    };
    sync::run(
        &mut shared(conn),
        layout,
        Step::DoubleWrite,
        &opts,
        &mut |_| {},
    )
}

/// Step 9 as the engine takes it: the late-write trigger on old storage, then the
/// fingerprint.
pub fn at_nine(
    conn: &mut AnyConnection,
    layout: &Layout,
) -> Result<attrmig_tools::fingerprint::Summary, attrmig_tools::ToolError> {
    attrmig_tools::late_log::install(conn, layout)?;
    attrmig_tools::fingerprint::take(&mut shared(conn), layout)
}

/// How many late writes drop-old's check finds (keys named by the log, and ranges that
/// changed with nothing logged).
pub fn late_writes(
    conn: &mut AnyConnection,
    layout: &Layout,
) -> Result<u64, attrmig_tools::ToolError> {
    let found = attrmig_tools::fingerprint::check(&mut shared(conn), layout, None)?;
    Ok(found.changed + found.untraced_ranges)
}
