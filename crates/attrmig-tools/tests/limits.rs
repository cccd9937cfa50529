//! The state tables hold what the tools meet: a 100 KB value in a cross-check report or
//! a rejected row, a text key longer than 255 characters in a data issue or the step-9
//! fingerprint. A report keeps each value bounded and says where it cut it. And a run
//! that fails while recording ends `failed` (cross-check) or `interrupted` (sync) with
//! its error, never `running`.

mod common;

use attrmig_core::Step;
use attrmig_core::facts::SyncStatus;
use attrmig_db::Backend;
use attrmig_store::cross_checks::{self, CheckStatus};
use attrmig_store::{data_issues, sync_runs};
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::{crosscheck, sync};
use common::*;

/// 100 KB of text.
fn big() -> String {
    "0123456789".repeat(10_240)
}

/// A column type that holds 100 KB on every backend (MySQL's TEXT holds 64 KB).
fn long_text(db: &TestDb) -> &'static str {
    match db.backend() {
        Backend::Mysql => "LONGTEXT",
        Backend::Sqlite | Backend::Postgres => "TEXT",
    }
}

/// users(id, full_name) with 10 rows, row 5's value 100 KB; users_pii's column ends in
/// `new_extra`.
fn with_a_big_value(db: &TestDb, new_extra: &str) {
    let text = long_text(db);
    db.execute(&format!(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name {text});
         {}
         CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name {text}{new_extra});",
        insert(
            "users",
            "id, full_name",
            (1..=10).map(|i| if i == 5 {
                format!("({i}, '{}')", big())
            } else {
                format!("({i}, 'name {i}')")
            })
        ),
    ));
}

/// A text key of 300 characters (`k` then 299 digits of `i`), beyond VARCHAR(255).
fn long_key(i: u32) -> String {
    format!(
        "k{}",
        i.to_string()
            .repeat(299)
            .chars()
            .take(299)
            .collect::<String>()
    )
}

const TEXT_KEY_PLAN: &str = r#"
[old]
kind = "column"
table = "accounts"
key = "k"
column = "v"
[new]
table = "accounts_new"
key = "k"
column = "v"
"#;

/// accounts(k VARCHAR(400), v) with 10 rows keyed by [`long_key`]; accounts_new's `v`
/// ends in `new_extra`.
fn with_long_keys(db: &TestDb, new_extra: &str) {
    db.execute(&format!(
        "CREATE TABLE accounts (k VARCHAR(400) NOT NULL PRIMARY KEY, v VARCHAR(255));
         {}
         CREATE TABLE accounts_new (k VARCHAR(400) NOT NULL PRIMARY KEY, v VARCHAR(255){new_extra});",
        insert(
            "accounts",
            "k, v",
            (1..=10).map(|i| format!("('{}', 'value {i}')", long_key(i)))
        ),
    ));
}

fn sync_opts(db: &TestDb) -> sync::Options {
    sync::Options {
        batch_size: 4,
        max_rows_per_second: None,
        restart: false,
        holder: "sync@test:1".into(),
        lookahead: lookahead(db),
        delete_extra: false,
    }
}

fn check_opts(db: &TestDb, max_report: usize) -> crosscheck::Options {
    crosscheck::Options {
        sample: None,
        batch_size: 4,
        max_report,
        lookahead: lookahead(db),
    }
}

/// A trigger that refuses the update of `table` when `condition` (on NEW) holds.
fn refuse_update(db: &TestDb, table: &str, condition: &str) {
    let sql = match db.backend() {
        Backend::Sqlite => format!(
            "CREATE TRIGGER refuse BEFORE UPDATE ON {table} WHEN {condition}
             BEGIN SELECT RAISE(ABORT, 'the disk said no'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF {condition} THEN RAISE EXCEPTION 'the disk said no'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER refuse BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION refuse();"
        ),
        Backend::Mysql => format!(
            "CREATE TRIGGER refuse BEFORE UPDATE ON {table} FOR EACH ROW
             BEGIN IF {condition} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the disk said no'; END IF; END"
        ),
    };
    db.execute(&sql);
}

backend_tests! {
    /// MariaDB used to fail with "Data too long for column 'mismatches'" and leave the
    /// run `running`: step 2 could never be reached.
    fn a_100kb_value_in_the_report_is_cut_visibly(db: &TestDb) {
        with_a_big_value(db, "");
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let report = crosscheck::run(&mut shared(&mut conn), &layout, Step::PrepareStorage, "alice", &check_opts(db, 5), &mut ())
            .expect("the cross-check records its report");
        assert_eq!(report.counts.missing_in_new, 10);
        let runs = cross_checks::recent(&mut conn, "users-full-name", 1).unwrap();
        assert_eq!(runs[0].status, CheckStatus::Finished);
        assert_eq!(runs[0].mismatches, report.mismatches, "the stored report is the one printed");
        assert_eq!(report.mismatches.len(), 5);
        let cut = report.mismatches.iter().find(|m| m.key == "5").expect("key 5 is reported").old.clone().unwrap();
        assert!(cut.len() < 5_000, "a reported value is bounded ({} bytes)", cut.len());
        assert!(cut.starts_with("0123456789"), "{cut}");
        assert!(cut.contains("[cut: 4096 of 102400 bytes shown"), "the cut is visible: …{}", &cut[4000..]);
        let whole = report.mismatches.iter().find(|m| m.key == "4").unwrap();
        assert_eq!(whole.old.as_deref(), Some("name 4"), "short values are not touched");
    }

    /// A rejected row's 100 KB old value (and PostgreSQL's "Failing row contains ..."
    /// error that repeats it) used to abort the whole pass on MariaDB.
    fn a_rejected_100kb_value_is_a_data_issue(db: &TestDb) {
        with_a_big_value(db, " CHECK (LENGTH(full_name) < 1000)");
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let summary = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &sync_opts(db), &mut |_| {})
            .expect("the pass goes on past a rejected row");
        assert_eq!((summary.written, summary.rejected), (9, 1));
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "5");
        let old = issues[0].old_value.clone().unwrap();
        assert!(old.len() < 5_000 && old.contains("[cut: 4096 of 102400 bytes shown"), "{}", old.len());
        assert!(issues[0].error.len() < 5_000, "a bounded error ({} bytes)", issues[0].error.len());
    }

    /// A text key longer than 255 characters used to abort the pass when its row was
    /// rejected (`row_key` was VARCHAR(255) on PostgreSQL and MariaDB).
    fn a_rejected_row_with_a_long_key_is_a_data_issue(db: &TestDb) {
        with_long_keys(db, " CHECK (v <> 'value 3')");
        let plan = plan(TEXT_KEY_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let summary = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &sync_opts(db), &mut |_| {})
            .expect("the pass goes on past a rejected row");
        assert_eq!((summary.written, summary.rejected), (9, 1));
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        assert_eq!(issues.iter().map(|i| i.key.clone()).collect::<Vec<_>>(), [long_key(3)]);
        // Fixed, then re-driven: the issue is found again by its long key and resolved.
        db.execute("UPDATE accounts SET v = 'value three' WHERE v = 'value 3'");
        let retried = sync::retry(&mut shared(&mut conn), &layout, "alice@test:1".into()).unwrap();
        assert_eq!((retried.fixed, retried.still), (vec![long_key(3)], vec![]));
        assert_eq!(data_issues::unresolved(&mut conn, "users-full-name").unwrap(), 0);
    }

    /// The step-9 fingerprint has the same column: a long key made 9 unreachable.
    fn the_step_9_fingerprint_takes_long_keys(db: &TestDb) {
        with_long_keys(db, "");
        let plan = plan(TEXT_KEY_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let summary = at_nine(&mut conn, &layout).expect("the fingerprint records long keys");
        assert_eq!(summary.keys, 10);
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 0);
        db.execute(&format!("UPDATE accounts SET v = 'late' WHERE k = '{}'", long_key(7)));
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 1);
    }

    /// A cross-check that fails while recording its end must not stay `running`.
    fn a_cross_check_that_fails_to_record_ends_failed(db: &TestDb) {
        named_users(db, 20);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        refuse_update(db, "attrmig_cross_check_runs", "NEW.status = 'finished'");
        let err = crosscheck::run(&mut shared(&mut conn), &layout, Step::PrepareStorage, "alice", &check_opts(db, 5), &mut ())
            .expect_err("recording the end fails");
        assert!(err.to_string().contains("the disk said no"), "{err}");
        let runs = cross_checks::recent(&mut conn, "users-full-name", 1).unwrap();
        assert_eq!(runs[0].status, CheckStatus::Failed);
        assert!(runs[0].error.as_deref().unwrap_or("").contains("the disk said no"), "{:?}", runs[0].error);
    }

    /// A sync that fails while recording a batch must not stay `running` either.
    fn a_sync_that_fails_to_record_ends_interrupted(db: &TestDb) {
        named_users(db, 20);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        refuse_update(db, "attrmig_sync_runs", "NEW.checkpoint = '12'");
        let err = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &sync_opts(db), &mut |_| {})
            .expect_err("recording the third batch fails");
        assert!(err.to_string().contains("the disk said no"), "{err}");
        let pass = sync_runs::list(&mut conn, "users-full-name").unwrap().remove(0);
        assert_eq!(pass.status, SyncStatus::Interrupted);
        assert_eq!(pass.checkpoint.as_deref(), Some("8"), "the last batch recorded");
        assert!(pass.error.as_deref().unwrap_or("").contains("the disk said no"), "{:?}", pass.error);
    }
}
