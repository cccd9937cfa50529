//! Names and collations as the database has them: a key's collation kept by
//! `ddl prepare-storage`, names resolved as the backend resolves them, schema-qualified
//! and partitioned tables.

mod common;

use attrmig_core::Step;
use attrmig_testing::TestDb;
use attrmig_tools::{Layout, ddl};
use common::*;

const LOGIN_PLAN: &str = r#"
[old]
kind = "column"
table = "accounts"
key = "login"
column = "full_name"
[new]
table = "accounts_pii"
key = "login"
column = "full_name"
"#;

/// The issue's defect: an old key collated `utf8mb4_bin` got a new key of the table's
/// default collation (`utf8mb4_general_ci`) from prepare-storage, so 'alice' and 'ALICE'
/// were one key in new storage; the sync wrote one's value over the other's and never
/// converged. The new key keeps the old key's character set and collation.
#[test]
fn mysql_binary_collated_key_keeps_case_distinct_keys_apart() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE accounts (login VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, \
                                full_name VARCHAR(255)) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;
         INSERT INTO accounts VALUES ('alice', 'Alice Lower'), ('ALICE', 'Alice Upper'), ('bob', 'Bob');",
    );
    let plan = plan(LOGIN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let prepare = ddl::plan(&layout, Step::PrepareStorage, &[]).unwrap();
    ddl::apply(&mut conn, &prepare).unwrap();
    let layout = Layout::resolve(&mut conn, &plan).unwrap();
    let summary = sync_pass_in(&mut conn, &layout, 2).unwrap();
    assert_eq!((summary.written, summary.rejected), (3, 0));
    let report = cross_check_in(&mut conn, &layout, None, 2).unwrap();
    assert!(
        report.counts.clean(),
        "{:?} {:?}",
        report.counts,
        report.mismatches
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) AS n FROM accounts_pii"),
        3
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT full_name AS t FROM accounts_pii WHERE login = BINARY 'ALICE'"
        )
        .as_deref(),
        Some("Alice Upper")
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT full_name AS t FROM accounts_pii WHERE login = BINARY 'alice'"
        )
        .as_deref(),
        Some("Alice Lower")
    );
    // A second pass has nothing left to write: it converged.
    assert_eq!(sync_pass_in(&mut conn, &layout, 2).unwrap().written, 0);
    let statements = prepare.report().statements;
    assert!(
        statements[0].contains("CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        "{statements:?}"
    );
}

/// A key collated with a user's collation in another schema: prepare-storage names it
/// with its schema, which the search path need not hold (it wrote `COLLATE "exact"`,
/// which PostgreSQL refused).
#[test]
fn postgres_key_collation_of_another_schema_is_named_with_its_schema() {
    let Some(db) = TestDb::postgres() else { return };
    db.execute(
        "CREATE SCHEMA colls; CREATE COLLATION colls.exact (provider = libc, locale = 'C');
         CREATE TABLE accounts (login TEXT COLLATE colls.exact NOT NULL PRIMARY KEY, full_name TEXT);
         INSERT INTO accounts VALUES ('alice', 'Alice Lower'), ('ALICE', 'Alice Upper');",
    );
    let plan = plan(LOGIN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let prepare = ddl::plan(&layout, Step::PrepareStorage, &[]).unwrap();
    ddl::apply(&mut conn, &prepare).unwrap();
    assert_eq!(
        text(
            &mut conn,
            "SELECT CAST(n.nspname || '.' || c.collname AS TEXT) AS t FROM pg_attribute a \
             JOIN pg_collation c ON c.oid = a.attcollation JOIN pg_namespace n ON n.oid = c.collnamespace \
             WHERE a.attrelid = 'accounts_pii'::regclass AND a.attname = 'login'"
        )
        .as_deref(),
        Some("colls.exact")
    );
    let layout = Layout::resolve(&mut conn, &plan).unwrap();
    let summary = sync_pass_in(&mut conn, &layout, 1).unwrap();
    assert_eq!((summary.written, summary.rejected), (2, 0));
    assert!(
        cross_check_in(&mut conn, &layout, None, 1)
            .unwrap()
            .counts
            .clean()
    );
}
