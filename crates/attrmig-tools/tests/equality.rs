//! Every row of docs/tools.md's table of what is equal and what is not, on every backend
//! the row applies to: the cross-check's verdict, what the sync writes (and that a second
//! pass writes nothing), what the new column then holds, which rows become data issues,
//! that the step-9 fingerprint sees a change exactly when the cross-check would, and that
//! comparing canonical forms read out of the database (as comparing two databases must)
//! agrees with the database's own comparison.
//!
//! Each row runs in tables of its own under a migration of its own; a failing row does
//! not stop the others, and the test names every row that failed.

mod common;

use attrmig_core::facts::Counts;
use attrmig_db::{AnyConnection, Backend};
use attrmig_store::data_issues;
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::layout::Scope;
use attrmig_tools::{Layout, crosscheck, sync, values};
use common::*;

/// What a row of the table says about its pair of values.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The values are equal: the cross-check matches them, the sync writes nothing.
    Equal,
    /// The values differ: the cross-check says so, the sync copies old over new, and
    /// then they are equal.
    Different,
    /// New holds nothing; the sync copies old, after which new reads back as given (the
    /// column read as text) and the cross-check is clean.
    Copied(&'static str),
    /// New holds nothing; writing old into new's type would change the value: the sync
    /// writes nothing and records a data issue saying so, every pass.
    ChangedByType,
    /// The values differ and new storage rejects old's value (the database's own error):
    /// a data issue, new left as it was.
    Rejected,
}

/// One row on one backend: the column types, the values as SQL literals, the verdict.
#[derive(Debug, Clone, Copy)]
struct Sides {
    old_type: &'static str,
    new_type: &'static str,
    old: &'static str,
    new: Option<&'static str>,
    expect: Expect,
    /// Write `new` into old storage after the step-9 fingerprint: it must count as a
    /// late write exactly when the two values differ (only where `new` is a value of
    /// old's type).
    refingerprint: bool,
}

const fn sides(
    old_type: &'static str,
    new_type: &'static str,
    old: &'static str,
    new: Option<&'static str>,
    expect: Expect,
) -> Option<Sides> {
    Some(Sides {
        old_type,
        new_type,
        old,
        new,
        expect,
        refingerprint: false,
    })
}

/// [`sides`], also checking the fingerprint with `new` written into old storage.
const fn fingerprinted(
    old_type: &'static str,
    new_type: &'static str,
    old: &'static str,
    new: &'static str,
    expect: Expect,
) -> Option<Sides> {
    Some(Sides {
        old_type,
        new_type,
        old,
        new: Some(new),
        expect,
        refingerprint: true,
    })
}

/// Old storage: a column, or the key `v` of a JSON document in column `doc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Column,
    Json,
}

struct Case {
    /// The row's id in docs/tools.md.
    id: &'static str,
    kind: Kind,
    on: fn(Backend) -> Option<Sides>,
}

use Backend::{Mysql, Postgres, Sqlite};
use Expect::*;

fn cases() -> Vec<Case> {
    let column = |id, on| Case {
        id,
        kind: Kind::Column,
        on,
    };
    let json = |id, on| Case {
        id,
        kind: Kind::Json,
        on,
    };
    vec![
        // --- text: byte for byte, no collation folding -------------------------------
        column("T1", |b| match b {
            Sqlite => fingerprinted(
                "TEXT COLLATE NOCASE",
                "TEXT COLLATE NOCASE",
                "'Ada'",
                "'ADA'",
                Different,
            ),
            Postgres => fingerprinted("citext", "citext", "'Ada'", "'ADA'", Different),
            Mysql => fingerprinted("VARCHAR(255)", "VARCHAR(255)", "'Ada'", "'ADA'", Different),
        }),
        column("T2", |b| match b {
            Sqlite => fingerprinted("TEXT COLLATE NOCASE", "TEXT", "'Ada'", "'ADA'", Different),
            Postgres => fingerprinted("TEXT COLLATE ci", "TEXT", "'Ada'", "'ADA'", Different),
            Mysql => fingerprinted(
                "VARCHAR(255) COLLATE utf8mb4_general_ci",
                "VARCHAR(255) COLLATE utf8mb4_bin",
                "'Ada'",
                "'ADA'",
                Different,
            ),
        }),
        column("T3", |b| match b {
            Sqlite => fingerprinted(
                "TEXT COLLATE RTRIM",
                "TEXT COLLATE RTRIM",
                "'a'",
                "'a  '",
                Different,
            ),
            Postgres => fingerprinted("TEXT", "TEXT", "'a'", "'a  '", Different),
            Mysql => fingerprinted("VARCHAR(255)", "VARCHAR(255)", "'a'", "'a  '", Different),
        }),
        column("T4", |b| match b {
            Sqlite => fingerprinted("TEXT", "TEXT", "'é'", "'e'", Different),
            Postgres => fingerprinted(
                "TEXT COLLATE ci_ai",
                "TEXT COLLATE ci_ai",
                "'é'",
                "'e'",
                Different,
            ),
            Mysql => fingerprinted("VARCHAR(255)", "VARCHAR(255)", "'é'", "'e'", Different),
        }),
        column("T5", |b| match b {
            Sqlite => fingerprinted("TEXT", "VARCHAR(255)", "'Zoë'", "'Zoë'", Equal),
            Postgres => fingerprinted("VARCHAR(255)", "TEXT", "'Zoë'", "'Zoë'", Equal),
            Mysql => fingerprinted(
                "VARCHAR(255) CHARACTER SET latin1",
                "VARCHAR(255) CHARACTER SET utf8mb4",
                "'Zoë'",
                "'Zoë'",
                Equal,
            ),
        }),
        column("T6", |b| match b {
            Sqlite => sides("TEXT", "CHAR(10)", "'hello'", None, Copied("hello")),
            Postgres => sides("TEXT", "CHAR(10)", "'hello'", None, Copied("hello")),
            Mysql => sides("TEXT", "CHAR(10)", "'hello'", None, Copied("hello")),
        }),
        column("T7", |b| match b {
            Sqlite => None, // SQLite does not pad: CHAR(10) is text
            Postgres => sides("TEXT", "CHAR(10)", "'hello  '", None, ChangedByType),
            Mysql => sides("TEXT", "CHAR(10)", "'hello  '", None, ChangedByType),
        }),
        column("T8", |b| match b {
            // Texts that differ after a NUL byte (SQLite's quote() stops at one).
            Sqlite => fingerprinted(
                "TEXT",
                "TEXT",
                "CAST(x'610062' AS TEXT)",
                "CAST(x'610063' AS TEXT)",
                Different,
            ),
            Postgres => None, // PostgreSQL text holds no NUL byte
            Mysql => fingerprinted(
                "VARCHAR(255)",
                "VARCHAR(255)",
                "CONCAT('a', CHAR(0), 'b')",
                "CONCAT('a', CHAR(0), 'c')",
                Different,
            ),
        }),
        // --- bytes -------------------------------------------------------------------
        column("B1", |b| match b {
            Sqlite => fingerprinted("BLOB", "BLOB", "x'FF01'", "x'FE01'", Different),
            Postgres => fingerprinted("BYTEA", "BYTEA", "'\\xff01'", "'\\xfe01'", Different),
            Mysql => fingerprinted("BLOB", "LONGBLOB", "x'FF01'", "x'FE01'", Different),
        }),
        column("B2", |b| match b {
            Sqlite => fingerprinted("BLOB", "BLOB", "x'FF01'", "x'FF01'", Equal),
            Postgres => fingerprinted("BYTEA", "BYTEA", "'\\xff01'", "'\\xff01'", Equal),
            Mysql => fingerprinted("BLOB", "LONGBLOB", "x'FF01'", "x'FF01'", Equal),
        }),
        // --- numbers -----------------------------------------------------------------
        column("N1", |b| match b {
            Sqlite => fingerprinted("DECIMAL(10,2)", "DECIMAL(12,4)", "1.50", "1.5000", Equal),
            Postgres => fingerprinted("NUMERIC(10,2)", "NUMERIC(12,4)", "1.50", "1.5000", Equal),
            Mysql => fingerprinted("DECIMAL(10,2)", "DECIMAL(12,4)", "1.50", "1.5000", Equal),
        }),
        column("N2", |b| match b {
            Sqlite => sides("INTEGER", "DECIMAL(12,2)", "10", Some("10.00"), Equal),
            Postgres => sides("BIGINT", "NUMERIC(12,2)", "10", Some("10.00"), Equal),
            Mysql => sides("BIGINT", "DECIMAL(12,2)", "10", Some("10.00"), Equal),
        }),
        column("N3", |b| match b {
            Sqlite => None, // SQLite decimals are not rounded to a scale
            Postgres => sides(
                "NUMERIC(12,4)",
                "NUMERIC(10,2)",
                "1.2345",
                None,
                ChangedByType,
            ),
            Mysql => sides(
                "DECIMAL(12,4)",
                "DECIMAL(10,2)",
                "1.2345",
                None,
                ChangedByType,
            ),
        }),
        column("N4", |b| match b {
            Sqlite => fingerprinted("REAL", "REAL", "1.0000001", "1.0", Different),
            Postgres => sides(
                "REAL",
                "DOUBLE PRECISION",
                "1.0000001",
                Some("1.0"),
                Different,
            ),
            Mysql => sides("FLOAT", "DOUBLE", "1.0000001", Some("1.0"), Different),
        }),
        column("N5", |b| match b {
            Sqlite => sides("REAL", "REAL", "0.1", None, Copied("0.1")),
            Postgres => sides(
                "REAL",
                "DOUBLE PRECISION",
                "0.1",
                None,
                Copied("0.10000000149011612"),
            ),
            Mysql => sides(
                "FLOAT",
                "DOUBLE",
                "0.1",
                None,
                Copied("0.10000000149011612"),
            ),
        }),
        column("N6", |b| match b {
            Sqlite => fingerprinted("REAL", "REAL", "0.30000000000000004", "0.3", Different),
            Postgres => fingerprinted(
                "DOUBLE PRECISION",
                "DOUBLE PRECISION",
                "0.30000000000000004",
                "0.3",
                Different,
            ),
            Mysql => fingerprinted("DOUBLE", "DOUBLE", "0.30000000000000004", "0.3", Different),
        }),
        column("N7", |b| match b {
            Sqlite => None, // SQLite decimals are not rounded to a scale
            Postgres => sides(
                "DOUBLE PRECISION",
                "NUMERIC(10,2)",
                "1.234",
                None,
                ChangedByType,
            ),
            Mysql => sides("DOUBLE", "DECIMAL(10,2)", "1.234", None, ChangedByType),
        }),
        column("N8", |b| match b {
            Sqlite => sides("TEXT", "NUMERIC", "'1.50'", None, Copied("1.5")),
            Postgres => sides("TEXT", "NUMERIC(10,2)", "'1.50'", None, Copied("1.50")),
            Mysql => sides(
                "VARCHAR(255)",
                "DECIMAL(10,2)",
                "'1.50'",
                None,
                Copied("1.50"),
            ),
        }),
        column("N9", |b| match b {
            Sqlite => sides("TEXT", "NUMERIC", "'1.5'", Some("1.50"), Equal),
            Postgres => sides("TEXT", "NUMERIC(10,2)", "'1.5'", Some("1.50"), Equal),
            Mysql => sides(
                "VARCHAR(255)",
                "DECIMAL(10,2)",
                "'1.5'",
                Some("1.50"),
                Equal,
            ),
        }),
        column("N10", |b| match b {
            // SQLite keeps a text that is no number as text in a NUMERIC column.
            Sqlite => sides("TEXT", "NUMERIC", "'abc'", Some("0"), Different),
            Postgres => sides("TEXT", "NUMERIC(10,2)", "'abc'", Some("0"), Rejected),
            Mysql => sides(
                "VARCHAR(255)",
                "DECIMAL(10,2)",
                "'abc'",
                Some("0"),
                Rejected,
            ),
        }),
        column("N11", |b| match b {
            Sqlite => sides(
                "REAL",
                "TEXT",
                "0.30000000000000004",
                None,
                Copied("0.30000000000000004"),
            ),
            Postgres => sides(
                "DOUBLE PRECISION",
                "TEXT",
                "0.30000000000000004",
                None,
                Copied("0.30000000000000004"),
            ),
            Mysql => sides(
                "DOUBLE",
                "VARCHAR(255)",
                "0.30000000000000004",
                None,
                Copied("0.30000000000000004"),
            ),
        }),
        // --- timestamps: instants, a naive one in UTC -----------------------------------
        column("I1", |b| match b {
            Sqlite => fingerprinted(
                "DATETIME",
                "DATETIME",
                "'2024-01-01 10:00:00'",
                "'2024-01-01 10:00:00'",
                Equal,
            ),
            Postgres => sides(
                "TIMESTAMP",
                "TIMESTAMPTZ",
                "'2024-01-01 10:00:00'",
                Some("'2024-01-01 10:00:00+00'"),
                Equal,
            ),
            Mysql => fingerprinted(
                "DATETIME",
                "DATETIME(6)",
                "'2024-01-01 10:00:00'",
                "'2024-01-01 10:00:00.000000'",
                Equal,
            ),
        }),
        column("I2", |b| match b {
            Sqlite => fingerprinted(
                "DATETIME",
                "DATETIME",
                "'2024-01-01 10:00:00'",
                "'2024-01-01 10:00:01'",
                Different,
            ),
            Postgres => sides(
                "TIMESTAMP",
                "TIMESTAMPTZ",
                "'2024-01-01 10:00:00'",
                Some("'2024-01-01 10:00:00+02'"),
                Different,
            ),
            Mysql => fingerprinted(
                "DATETIME(6)",
                "DATETIME(6)",
                "'2024-01-01 10:00:00'",
                "'2024-01-01 10:00:00.5'",
                Different,
            ),
        }),
        column("I3", |b| match b {
            Sqlite => None, // SQLite has no time types
            Postgres => sides(
                "TIMESTAMPTZ",
                "TIMESTAMP",
                "'2024-01-01 10:00:00+02'",
                None,
                Copied("2024-01-01 08:00:00"),
            ),
            Mysql => sides(
                "DATETIME",
                "DATETIME(6)",
                "'2024-01-01 10:00:00'",
                None,
                Copied("2024-01-01 10:00:00.000000"),
            ),
        }),
        column("I4", |b| match b {
            Sqlite => None,
            Postgres => sides(
                "TIMESTAMP(6)",
                "TIMESTAMP(0)",
                "'2024-01-01 10:00:00.123456'",
                None,
                ChangedByType,
            ),
            Mysql => sides(
                "DATETIME(6)",
                "DATETIME",
                "'2024-01-01 10:00:00.123456'",
                None,
                ChangedByType,
            ),
        }),
        column("I5", |b| match b {
            Mysql => sides(
                "TIMESTAMP NULL",
                "DATETIME",
                "'2024-01-01 10:00:00'",
                None,
                Copied("2024-01-01 10:00:00"),
            ),
            Sqlite | Postgres => None,
        }),
        column("I6", |b| match b {
            Mysql => sides(
                "DATETIME",
                "TIMESTAMP NULL",
                "'2024-01-01 10:00:00'",
                Some("'2024-01-01 10:00:01'"),
                Different,
            ),
            Sqlite | Postgres => None,
        }),
        // --- intervals: by their fields (PostgreSQL) -----------------------------------
        column("V1", |b| match b {
            Postgres => fingerprinted("INTERVAL", "INTERVAL", "'1 day'", "'24 hours'", Different),
            Sqlite | Mysql => None,
        }),
        column("V2", |b| match b {
            Postgres => fingerprinted("INTERVAL", "INTERVAL", "'1 mon'", "'30 days'", Different),
            Sqlite | Mysql => None,
        }),
        column("V3", |b| match b {
            Postgres => fingerprinted(
                "INTERVAL",
                "INTERVAL",
                "'1 day 02:00'",
                "'1 day 2 hours'",
                Equal,
            ),
            Sqlite | Mysql => None,
        }),
        // --- booleans ---------------------------------------------------------------------
        column("L1", |b| match b {
            Sqlite => fingerprinted("BOOLEAN", "BOOLEAN", "1", "0", Different),
            Postgres => fingerprinted("BOOLEAN", "BOOLEAN", "TRUE", "FALSE", Different),
            Mysql => fingerprinted("BOOLEAN", "BOOLEAN", "TRUE", "FALSE", Different),
        }),
        column("L2", |b| match b {
            Sqlite => fingerprinted("BOOLEAN", "BOOLEAN", "1", "1", Equal),
            Postgres => fingerprinted("BOOLEAN", "BOOLEAN", "TRUE", "'t'", Equal),
            Mysql => fingerprinted("BOOLEAN", "BOOLEAN", "TRUE", "1", Equal),
        }),
        // --- JSON: by structure, scalars exactly ---------------------------------------------
        column("J1", |b| match b {
            Sqlite => fingerprinted(
                "JSON",
                "JSON",
                r#"'{"b":[true,null],"a":1}'"#,
                r#"'{"a": 1, "b": [true, null]}'"#,
                Equal,
            ),
            Postgres => sides(
                "JSON",
                "JSONB",
                r#"'{"b":[true,null],"a":1}'"#,
                Some(r#"'{"a": 1, "b": [true, null]}'"#),
                Equal,
            ),
            Mysql => fingerprinted(
                "JSON",
                "JSON",
                r#"'{"b":[true,null],"a":1}'"#,
                r#"'{"a": 1, "b": [true, null]}'"#,
                Equal,
            ),
        }),
        column("J2", |b| match b {
            Sqlite => fingerprinted("JSON", "JSON", r#"'{"a": 1}'"#, r#"'{"a":1}'"#, Equal),
            Postgres => fingerprinted("JSON", "JSON", r#"'{"a": 1}'"#, r#"'{"a":1}'"#, Equal),
            Mysql => fingerprinted("JSON", "JSON", r#"'{"a": 1}'"#, r#"'{"a":1}'"#, Equal),
        }),
        column("J3", |b| match b {
            Sqlite => fingerprinted("JSON", "JSON", r#"'{"a":1}'"#, r#"'{"a":"1"}'"#, Different),
            Postgres => fingerprinted(
                "JSONB",
                "JSONB",
                r#"'{"a":1}'"#,
                r#"'{"a":"1"}'"#,
                Different,
            ),
            Mysql => fingerprinted("JSON", "JSON", r#"'{"a":1}'"#, r#"'{"a":"1"}'"#, Different),
        }),
        column("J4", |b| match b {
            Sqlite => fingerprinted("JSON", "JSON", r#"'{"a":true}'"#, r#"'{"a":1}'"#, Different),
            Postgres => fingerprinted(
                "JSONB",
                "JSONB",
                r#"'{"a":true}'"#,
                r#"'{"a":1}'"#,
                Different,
            ),
            Mysql => fingerprinted("JSON", "JSON", r#"'{"a":true}'"#, r#"'{"a":1}'"#, Different),
        }),
        column("J5", |b| match b {
            Sqlite => fingerprinted(
                "JSON",
                "JSON",
                "'[12345678901234567890]'",
                "'[12345678901234567891]'",
                Different,
            ),
            Postgres => fingerprinted(
                "JSONB",
                "JSONB",
                "'[12345678901234567890]'",
                "'[12345678901234567891]'",
                Different,
            ),
            Mysql => fingerprinted(
                "JSON",
                "JSON",
                "'[12345678901234567890]'",
                "'[12345678901234567891]'",
                Different,
            ),
        }),
        column("J6", |b| match b {
            Sqlite => fingerprinted("JSON", "JSON", r#"'{"a":1.0}'"#, r#"'{"a":1}'"#, Equal),
            Postgres => fingerprinted("JSONB", "JSONB", r#"'{"a":1.0}'"#, r#"'{"a":1}'"#, Equal),
            Mysql => fingerprinted("JSON", "JSON", r#"'{"a":1.0}'"#, r#"'{"a":1}'"#, Equal),
        }),
        column("J7", |b| match b {
            // A document that goes on after a NUL byte is no JSON (SQLite's quote()
            // stops at the NUL, which leaves JSON).
            Sqlite => fingerprinted(
                "JSON",
                "JSON",
                "CAST(x'7b2261223a317d0078' AS TEXT)",
                r#"'{"a":1}'"#,
                Different,
            ),
            Postgres | Mysql => None, // their JSON holds no NUL byte outside a string
        }),
        // --- JSON kind: the value at a path, into a text column ------------------------------
        json("K1", |_| {
            sides("", "VARCHAR(255)", r#"'{"v": true}'"#, None, Copied("true"))
        }),
        json("K2", |_| {
            sides(
                "",
                "VARCHAR(255)",
                r#"'{"v": 0.30000000000000004}'"#,
                None,
                Copied("0.30000000000000004"),
            )
        }),
        json("K3", |_| {
            sides(
                "",
                "VARCHAR(255)",
                r#"'{"v": 12345678901234567890}'"#,
                None,
                Copied("12345678901234567890"),
            )
        }),
        json("K4", |_| {
            sides(
                "",
                "VARCHAR(255)",
                r#"'{"v": 1.50}'"#,
                Some("'1.50'"),
                Equal,
            )
        }),
        json("K5", |_| {
            sides("", "VARCHAR(255)", r#"'{"v": "Ada"}'"#, None, Copied("Ada"))
        }),
    ]
}

fn json_doc_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "TEXT",
        Backend::Postgres => "JSONB",
        Backend::Mysql => "JSON",
    }
}

fn plan_for(case: &Case) -> attrmig_core::Plan {
    let n = case.id.to_lowercase();
    let old = match case.kind {
        Kind::Column => {
            format!("kind = \"column\"\ntable = \"old_{n}\"\nkey = \"id\"\ncolumn = \"v\"")
        }
        Kind::Json => format!(
            "kind = \"json\"\ntable = \"old_{n}\"\nkey = \"id\"\ncolumn = \"doc\"\npath = \"v\""
        ),
    };
    let text = format!("[old]\n{old}\n[new]\ntable = \"new_{n}\"\nkey = \"id\"\ncolumn = \"v\"\n");
    attrmig_plan::parse_plan(
        &format!("case-{n}"),
        std::path::Path::new(&format!("plans/case-{n}.toml")),
        &text,
    )
    .unwrap()
}

/// Databases that need something created before a row's types exist.
fn prepare(db: &TestDb) {
    if db.backend() == Backend::Postgres {
        // Nondeterministic ICU collations, and a session time zone that is not UTC, so
        // that a naive timestamp read in the session's zone would not be read in UTC.
        db.execute(
            "CREATE EXTENSION IF NOT EXISTS citext;
             CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
             CREATE COLLATION ci_ai (provider = icu, locale = 'und-u-ks-level1', deterministic = false);
             DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Asia/Tokyo'); END $$;",
        );
    }
}

fn cross_check(conn: &mut AnyConnection, layout: &Layout) -> Result<crosscheck::Report, String> {
    cross_check_in(conn, layout, None, 10).map_err(|e| format!("cross-check failed: {e}"))
}

fn sync_pass(conn: &mut AnyConnection, layout: &Layout) -> Result<sync::Summary, String> {
    sync_pass_in(conn, layout, 10).map_err(|e| format!("sync failed: {e}"))
}

/// The SQL comparison (the cross-check's counts) and the comparison of canonical forms
/// read out of the database (what comparing two databases takes) agree on key 1.
fn canonical_forms_agree(
    conn: &mut AnyConnection,
    layout: &Layout,
    counts: Counts,
) -> Result<(), String> {
    let differing = values::differing_by_canonical_form(conn, layout, Scope::Range(None, None))
        .map_err(|e| format!("reading canonical forms failed: {e}"))?;
    let by_sql = counts.matching == 0;
    if differing.is_empty() == by_sql {
        return Err(format!(
            "the cross-check said {counts:?}, but the canonical forms {}",
            if by_sql { "agree" } else { "differ" }
        ));
    }
    Ok(())
}

fn one(class: fn(&mut Counts)) -> Counts {
    let mut c = Counts::default();
    class(&mut c);
    c
}

/// Runs one row on one backend; `Err` says what went wrong.
fn run_case(db: &TestDb, case: &Case, s: Sides) -> Result<(), String> {
    let n = case.id.to_lowercase();
    let b = db.backend();
    let (old_table, new_table) = (format!("old_{n}"), format!("new_{n}"));
    let (old_column, old_type) = match case.kind {
        Kind::Column => ("v", s.old_type),
        Kind::Json => ("doc", json_doc_type(b)),
    };
    let mut setup = format!(
        "CREATE TABLE {old_table} (id BIGINT NOT NULL PRIMARY KEY, {old_column} {old_type});
         CREATE TABLE {new_table} (id BIGINT NOT NULL PRIMARY KEY, v {});
         INSERT INTO {old_table} (id, {old_column}) VALUES (1, {});",
        s.new_type, s.old
    );
    if let Some(new) = s.new {
        setup.push_str(&format!(
            "INSERT INTO {new_table} (id, v) VALUES (1, {new});"
        ));
    }
    let mut conn = db.connect();
    diesel::connection::SimpleConnection::batch_execute(&mut conn, &setup)
        .map_err(|e| format!("setup failed: {e}"))?;
    let plan = plan_for(case);
    attrmig_store::setup::ensure_schema(&mut conn).map_err(|e| e.to_string())?;
    let layout = Layout::resolve(&mut conn, &plan).map_err(|e| e.to_string())?;

    let before = cross_check(&mut conn, &layout)?;
    let expected_before = match s.expect {
        Equal => one(|c| c.matching = 1),
        Different | Rejected => one(|c| c.differs = 1),
        Copied(_) | ChangedByType => one(|c| c.missing_in_new = 1),
    };
    if before.counts != expected_before {
        return Err(format!(
            "before the sync the cross-check said {:?}, expected {expected_before:?}: {:?}",
            before.counts, before.mismatches
        ));
    }
    canonical_forms_agree(&mut conn, &layout, before.counts)?;

    let first = sync_pass(&mut conn, &layout)?;
    let expected_sync = match s.expect {
        Equal => (0, 0),
        Different | Copied(_) => (1, 0),
        ChangedByType | Rejected => (0, 1),
    };
    if (first.written, first.rejected) != expected_sync {
        return Err(format!(
            "the sync wrote {} and rejected {}, expected {expected_sync:?}",
            first.written, first.rejected
        ));
    }
    let after = cross_check(&mut conn, &layout)?;
    let expected_after = match s.expect {
        Equal | Different | Copied(_) => one(|c| c.matching = 1),
        ChangedByType => one(|c| c.missing_in_new = 1),
        Rejected => one(|c| c.differs = 1),
    };
    if after.counts != expected_after {
        return Err(format!(
            "after the sync the cross-check said {:?}, expected {expected_after:?}: {:?}",
            after.counts, after.mismatches
        ));
    }
    canonical_forms_agree(&mut conn, &layout, after.counts)?;
    if let Copied(reads) = s.expect {
        let cast = match b {
            Backend::Mysql => "CAST(v AS CHAR)",
            Backend::Sqlite | Backend::Postgres => "CAST(v AS TEXT)",
        };
        let got = text(
            &mut conn,
            &format!("SELECT {cast} AS t FROM {new_table} WHERE id = 1"),
        );
        if got.as_deref() != Some(reads) {
            return Err(format!(
                "new holds {got:?} after the sync, expected {reads:?}"
            ));
        }
    }
    if let ChangedByType = s.expect {
        let issues =
            data_issues::list(&mut conn, &plan.id.to_string(), false).map_err(|e| e.to_string())?;
        let said = issues.first().map(|i| i.error.clone()).unwrap_or_default();
        if !said.contains("changes the value") {
            return Err(format!(
                "the data issue says {said:?}, expected that the new column's type changes the value"
            ));
        }
    }
    let second = sync_pass(&mut conn, &layout)?;
    if second.written != 0 || second.rejected != expected_sync.1 {
        return Err(format!(
            "a second pass wrote {} and rejected {}: it must write nothing",
            second.written, second.rejected
        ));
    }

    if s.refingerprint {
        let new = s.new.expect("a value to write into old storage");
        at_nine(&mut conn, &layout).map_err(|e| format!("fingerprint failed: {e}"))?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            &format!("UPDATE {old_table} SET {old_column} = {new} WHERE id = 1"),
        )
        .map_err(|e| e.to_string())?;
        let changed =
            late_writes(&mut conn, &layout).map_err(|e| format!("fingerprint failed: {e}"))?;
        let expected = u64::from(matches!(s.expect, Different));
        if changed != expected {
            return Err(format!(
                "after writing {new} into old storage the fingerprint counted {changed} changed keys, expected {expected}"
            ));
        }
    }
    Ok(())
}

backend_tests! {
    fn every_row_of_the_equality_table(db: &TestDb) {
        prepare(db);
        let mut failed = Vec::new();
        let mut ran = 0;
        for case in cases() {
            let Some(s) = (case.on)(db.backend()) else { continue };
            ran += 1;
            if let Err(e) = run_case(db, &case, s) {
                failed.push(format!("{} ({} -> {}, {} vs {:?}): {e}", case.id, s.old_type, s.new_type, s.old, s.new));
            }
        }
        assert!(ran > 20, "only {ran} rows ran");
        assert!(failed.is_empty(), "{} of {ran} rows failed on {}:\n{}", failed.len(), db.backend().name(), failed.join("\n"));
    }
}

/// The table in docs/tools.md and the rows here are the same rows.
#[test]
fn the_documented_table_and_the_tested_rows_agree() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tools.md"))
        .unwrap();
    let documented: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|id| {
            id.len() <= 3
                && id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && id[1..].chars().all(|c| c.is_ascii_digit())
                && id.len() > 1
        })
        .map(str::to_owned)
        .collect();
    let tested: Vec<String> = cases().iter().map(|c| c.id.to_owned()).collect();
    assert_eq!(documented, tested);
}

/// A value the new column's type would change is a data issue whose advice works: after
/// correcting the old value, or widening the new column, `data-issues --retry` copies it.
/// (PostgreSQL and MySQL: SQLite columns round nothing.)
fn the_advice_for_a_changed_value_works(db: &TestDb, widen: &str) {
    db.execute(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name NUMERIC(12,4));
         CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name NUMERIC(10,2));
         INSERT INTO users (id, full_name) VALUES (1, 1.2345), (2, 2.3456), (3, 3.5);",
    );
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(db, &plan);
    let summary = sync_pass(&mut conn, &layout).unwrap();
    assert_eq!((summary.written, summary.rejected), (1, 2));
    let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0].old_value.as_deref(), Some("1.2345"));
    let error = &issues[0].error;
    assert!(
        error.contains("changes the value: 1.2345 would be stored as 1.23")
            && error.contains("widen the new column's type or correct the old value")
            && error.contains("attrmig data-issues users-full-name --retry"),
        "{error}"
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"),
        1,
        "nothing written for them"
    );

    // Correct the old value: the retry copies it; the other stays.
    db.execute("UPDATE users SET full_name = 1.23 WHERE id = 1");
    let retried = retry(&mut conn, &layout);
    assert_eq!(
        (retried.fixed, retried.still),
        (vec!["1".to_owned()], vec!["2".to_owned()])
    );
    let still = data_issues::list(&mut conn, "users-full-name", false).unwrap();
    assert!(
        still[0].error.contains("2.3456 would be stored as 2.35"),
        "{}",
        still[0].error
    );

    // Widen the new column: the retry (a new command, which reads the new type) copies it.
    db.execute(widen);
    let layout = Layout::resolve(&mut conn, &plan).unwrap();
    let retried = retry(&mut conn, &layout);
    assert_eq!(
        (retried.fixed, retried.still.len()),
        (vec!["2".to_owned()], 0)
    );
    let report = cross_check(&mut conn, &layout).unwrap();
    assert_eq!(
        report.counts,
        Counts {
            matching: 3,
            ..Counts::default()
        }
    );
}

#[test]
fn postgres_advice_for_a_changed_value_works() {
    let Some(db) = TestDb::postgres() else { return };
    the_advice_for_a_changed_value_works(
        &db,
        "ALTER TABLE users_pii ALTER COLUMN full_name TYPE NUMERIC(12,4)",
    );
}

#[test]
fn mysql_advice_for_a_changed_value_works() {
    let Some(db) = TestDb::mysql() else { return };
    the_advice_for_a_changed_value_works(
        &db,
        "ALTER TABLE users_pii MODIFY full_name DECIMAL(12,4)",
    );
}
