//! Old values the tools must survive without failing or losing the rest: documents that
//! are not JSON, bytes that are not UTF-8. Each is that key's problem, named with its key,
//! and every other key is compared and copied as usual.

mod common;

use attrmig_core::facts::Counts;
use attrmig_db::{AnyConnection, Backend};
use attrmig_store::cross_checks::MismatchClass;
use attrmig_store::data_issues;
use attrmig_testing::backend_tests;
use attrmig_tools::{Layout, crosscheck, sync};
use common::*;

fn check(conn: &mut AnyConnection, layout: &Layout, sample: Option<u64>) -> crosscheck::Report {
    cross_check_in(conn, layout, sample, 2).unwrap()
}

fn sync_all(conn: &mut AnyConnection, layout: &Layout) -> sync::Summary {
    sync_pass_in(conn, layout, 2).unwrap()
}

/// The mismatches as (key, class, old, new).
fn found(
    report: &crosscheck::Report,
) -> Vec<(String, MismatchClass, Option<String>, Option<String>)> {
    report
        .mismatches
        .iter()
        .map(|m| (m.key.clone(), m.class, m.old.clone(), m.new.clone()))
        .collect()
}

const MALFORMED: &str = r#"{"full_name": "b""#;

backend_tests! {
    /// A document that is not JSON has no readable value: the cross-check reports its
    /// key (it is not "no value"), the sync makes it a data issue and copies the rest,
    /// and once the document is fixed `data-issues --retry` copies it.
    fn a_malformed_json_document_is_its_keys_data_issue(db: &TestDb) {
        db.execute(&format!(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, attrs TEXT);
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             INSERT INTO users (id, attrs) VALUES (1, '{{\"full_name\": \"a\"}}'), (2, '{MALFORMED}'),
               (3, '{{\"full_name\": \"c\"}}'), (4, '{MALFORMED}'), (5, '{{\"full_name\": \"e\"}}');
             INSERT INTO users_pii (user_id, full_name) VALUES (4, 'x');"
        ));
        let plan = plan(JSON_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let report = check(&mut conn, &layout, None);
        assert_eq!(report.counts, Counts { missing_in_new: 4, differs: 1, ..Counts::default() }, "{:?}", report.mismatches);
        let unreadable = format!("(not valid JSON) {MALFORMED}");
        let mismatches = found(&report);
        assert_eq!(mismatches[1], ("2".into(), MismatchClass::MissingInNew, Some(unreadable.clone()), None));
        assert_eq!(mismatches[3], ("4".into(), MismatchClass::Differs, Some(unreadable.clone()), Some("x".into())));
        let sampled = check(&mut conn, &layout, Some(5));
        assert_eq!(sampled.counts, report.counts, "a sample of every key finds the same");

        let summary = sync_all(&mut conn, &layout);
        assert_eq!((summary.written, summary.rejected), (3, 2));
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["2", "4"]);
        assert_eq!(issues[0].old_value.as_deref(), Some(MALFORMED));
        assert!(issues[0].error.contains("not valid JSON"), "{}", issues[0].error);
        assert_eq!(
            text(&mut conn, "SELECT full_name AS t FROM users_pii WHERE user_id = 4").as_deref(),
            Some("x"),
            "the key with a malformed document is left alone in new"
        );
        let report = check(&mut conn, &layout, None);
        assert_eq!(report.counts, Counts { matching: 3, missing_in_new: 1, differs: 1, ..Counts::default() });

        // The data issue's advice: fix the document, then retry.
        db.execute("UPDATE users SET attrs = '{\"full_name\": \"b\"}' WHERE id = 2");
        let retried = retry(&mut conn, &layout);
        assert_eq!((retried.fixed, retried.still), (vec!["2".to_owned()], vec!["4".to_owned()]));
        let still = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        assert!(still[0].error.contains("not valid JSON"), "{}", still[0].error);
        assert_eq!(text(&mut conn, "SELECT full_name AS t FROM users_pii WHERE user_id = 2").as_deref(), Some("b"));

        // The fingerprint covers the malformed document as it is: rewriting it is a late write.
        at_nine(&mut conn, &layout).unwrap();
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 0);
        db.execute("UPDATE users SET attrs = '{\"full_name\": ' WHERE id = 4");
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 1);
    }

    /// Binary values are read back as bytes and shown in hex, whatever they hold: in the
    /// report (full and sampled), in data issues, in the fingerprint.
    fn binary_values_are_read_back_as_bytes(db: &TestDb) {
        let ty = match db.backend() {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
            Backend::Mysql => "VARBINARY(16)",
        };
        let bytes = |hex: &str| match db.backend() {
            Backend::Postgres => format!("'\\x{hex}'"),
            Backend::Sqlite | Backend::Mysql => format!("x'{hex}'"),
        };
        db.execute(&format!(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name {ty});
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name {ty} CHECK (LENGTH(full_name) < 3));
             INSERT INTO users (id, full_name) VALUES (1, {}), (2, {}), (3, {});
             INSERT INTO users_pii (user_id, full_name) VALUES (1, {});",
            bytes("ff01"), bytes("41"), bytes("fffefd"), bytes("fe01")
        ));
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let report = check(&mut conn, &layout, None);
        assert_eq!(
            found(&report)[0],
            ("1".into(), MismatchClass::Differs, Some("x'ff01'".into()), Some("x'fe01'".into()))
        );
        let sampled = check(&mut conn, &layout, Some(3));
        assert_eq!(found(&sampled), found(&report));

        let summary = sync_all(&mut conn, &layout);
        assert_eq!((summary.written, summary.rejected), (2, 1));
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        assert_eq!((issues[0].key.as_str(), issues[0].old_value.as_deref()), ("3", Some("x'fffefd'")));

        at_nine(&mut conn, &layout).unwrap();
        db.execute(&format!("UPDATE users SET full_name = {} WHERE id = 1", bytes("fe01")));
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 1);
    }
}
