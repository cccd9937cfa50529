//! What is particular to MySQL/MariaDB in the tools: collations that call different
//! values equal, MODIFY COLUMN restating a whole column, the rows-written count of an
//! upsert that the server counts twice. The comparison test runs on every backend (every
//! backend must compare exactly); the others only where a MySQL/MariaDB server is
//! configured (`ATTRMIG_TEST_MYSQL_URL`, a build with `--features mysql`).

mod common;

use attrmig_core::Step;
use attrmig_core::facts::Counts;
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::{Layout, crosscheck, ddl, sync};
use common::*;

fn check(db: &TestDb, layout: &Layout) -> crosscheck::Report {
    let mut conn = db.connect();
    let opts = crosscheck::Options {
        sample: None,
        batch_size: 2,
        max_report: 50,
        lookahead: lookahead(db),
    };
    crosscheck::run(
        &mut shared(&mut conn),
        layout,
        Step::CrossCheck,
        "alice",
        &opts,
        &mut (),
    )
    .unwrap()
}

fn sync_all(db: &TestDb, layout: &Layout) -> sync::Summary {
    let mut conn = db.connect();
    let opts = sync::Options {
        batch_size: 2,
        max_rows_per_second: None,
        restart: false,
        holder: "alice@test:1".into(),
        lookahead: lookahead(db),
        delete_extra: false,
    };
    sync::run(
        &mut shared(&mut conn),
        layout,
        Step::DoubleWrite,
        &opts,
        &mut |_| {},
    )
    .unwrap()
}

backend_tests! {
    /// A value that differs only in case, accents or trailing spaces is a different
    /// value: the application would read something else from new. MySQL's default
    /// collations call each of these pairs equal.
    fn values_differing_in_case_accents_or_trailing_spaces_are_different(db: &TestDb) {
        db.execute(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             INSERT INTO users (id, full_name) VALUES (1, 'Ada'), (2, 'Jose'), (3, 'Ada '), (4, 'same'), (5, 'Zoë');
             INSERT INTO users_pii (user_id, full_name) VALUES (1, 'ADA'), (2, 'José'), (3, 'Ada'), (4, 'same'), (5, 'Zoë');",
        );
        let plan = plan(COLUMN_PLAN);
        let (_conn, layout) = open(db, &plan);
        let report = check(db, &layout);
        assert_eq!(report.counts, Counts { matching: 2, differs: 3, ..Counts::default() }, "{:?}", report.mismatches);
        let keys: Vec<&str> = report.mismatches.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["1", "2", "3"]);
        let summary = sync_all(db, &layout);
        assert_eq!(summary.written, 3);
        assert!(check(db, &layout).counts.clean());
        let mut conn = db.connect();
        assert_eq!(text(&mut conn, "SELECT full_name AS t FROM users_pii WHERE user_id = 3").as_deref(), Some("Ada "));
    }
}

/// Old and new columns of different character sets and collations: compared by their
/// own collations `RENÉ` equals `René` (and some pairs of collations can't be compared at
/// all: "Illegal mix of collations"); compared as utf8mb4 bytes, equal text is equal
/// across character sets and a change of case is a difference.
#[test]
fn mysql_columns_of_different_collations_compare_as_text() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_general_ci);
         CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci);
         INSERT INTO users (id, full_name) VALUES (1, 'Zoë'), (2, 'René'), (3, 'ada'), (4, 'x');
         INSERT INTO users_pii (user_id, full_name) VALUES (1, 'Zoë'), (2, 'RENÉ');",
    );
    let plan = plan(COLUMN_PLAN);
    let (_conn, layout) = open(&db, &plan);
    let report = check(&db, &layout);
    assert_eq!(
        report.counts,
        Counts {
            matching: 1,
            differs: 1,
            missing_in_new: 2,
            ..Counts::default()
        },
        "{:?}",
        report.mismatches
    );
    assert_eq!(sync_all(&db, &layout).written, 3);
    assert!(check(&db, &layout).counts.clean());
    let mut conn = db.connect();
    assert_eq!(
        text(
            &mut conn,
            "SELECT full_name AS t FROM users_pii WHERE user_id = 2"
        )
        .as_deref(),
        Some("René")
    );
}

/// The rows-written count stays exact though MariaDB and MySQL report 2 affected rows
/// for each row ON DUPLICATE KEY UPDATE changes: inserts, updates and NULL-outs in one
/// batch.
#[test]
fn mysql_rows_written_counts_each_row_once() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
         CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
         INSERT INTO users (id, full_name) VALUES (1, 'a'), (2, 'b'), (3, NULL), (4, 'd'), (5, 'e');
         INSERT INTO users_pii (user_id, full_name) VALUES (1, 'old a'), (2, 'b'), (3, 'stale'), (4, 'old d');",
    );
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let opts = sync::Options {
        batch_size: 100,
        max_rows_per_second: None,
        restart: false,
        holder: "alice@test:1".into(),
        lookahead: lookahead(&db),
        delete_extra: false,
    };
    let summary = sync::run(
        &mut shared(&mut conn),
        &layout,
        Step::DoubleWrite,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    // 1 and 4 updated, 5 inserted, 3 set to NULL; 2 already equal.
    assert_eq!((summary.scanned, summary.written), (5, 4));
    assert!(check(&db, &layout).counts.clean());
}

/// prepare-old-stop restates the column with everything it had (character set,
/// collation, default, comment), only NULL instead of NOT NULL: MODIFY COLUMN drops
/// whatever it is not told.
#[test]
fn mysql_prepare_old_stop_keeps_the_whole_column_definition() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, \
         full_name VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT '' COMMENT 'legal name; may be ''?''');
         INSERT INTO users (id, full_name) VALUES (1, 'Zoë');",
    );
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let relax = ddl::plan(&layout, Step::PrepareOldStop, &[]).unwrap();
    let statements = relax.report().statements;
    assert_eq!(
        statements,
        [
            "ALTER TABLE `users` MODIFY COLUMN `full_name` varchar(255) CHARACTER SET latin1 COLLATE latin1_bin NULL DEFAULT '' COMMENT 'legal name; may be ''?''', LOCK=NONE"
        ]
    );
    ddl::apply(&mut conn, &relax).unwrap();
    assert_eq!(
        text(
            &mut conn,
            "SELECT CONCAT_WS('|', is_nullable, column_type, character_set_name, collation_name, column_default, column_comment) AS t \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'full_name'"
        )
        .as_deref(),
        Some("YES|varchar(255)|latin1|latin1_bin|''|legal name; may be '?'")
    );
    db.execute(
        "INSERT INTO users (id) VALUES (2); INSERT INTO users (id, full_name) VALUES (3, NULL);",
    );
    assert_eq!(
        text(&mut conn, "SELECT full_name AS t FROM users WHERE id = 1").as_deref(),
        Some("Zoë")
    );
    assert_eq!(
        text(&mut conn, "SELECT full_name AS t FROM users WHERE id = 2").as_deref(),
        Some(""),
        "the default is kept"
    );
    let layout = Layout::resolve(&mut conn, &plan).unwrap();
    assert!(
        ddl::plan(&layout, Step::PrepareOldStop, &[])
            .unwrap()
            .statements
            .is_empty(),
        "nothing left to do"
    );
}

/// Binary values are compared byte for byte: read as utf8mb4 text, 0xFF01 would become
/// `?\x01` and equal 0x3F01.
#[test]
fn mysql_binary_values_are_compared_byte_for_byte() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARBINARY(16));
         CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARBINARY(16));
         INSERT INTO users (id, full_name) VALUES (1, 0xFF01), (2, 0x4164);
         INSERT INTO users_pii (user_id, full_name) VALUES (1, 0x3F01), (2, 0x4164);",
    );
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let report = check(&db, &layout);
    assert_eq!(
        report.counts,
        Counts {
            matching: 1,
            differs: 1,
            ..Counts::default()
        }
    );
    assert_eq!(sync_all(&db, &layout).written, 1);
    assert!(check(&db, &layout).counts.clean());
    assert_eq!(
        text(
            &mut conn,
            "SELECT HEX(full_name) AS t FROM users_pii WHERE user_id = 1"
        )
        .as_deref(),
        Some("FF01")
    );
}
