//! Late writes after step 9: the fingerprint per key range and the trigger's log, on
//! every backend and for every kind of old storage. What is named (keys, who), what is
//! not a late write (removals, rows without the attribute, other columns, writes before
//! the baseline moment), and a write that bypassed the trigger.

mod common;

use attrmig_core::Step;
use attrmig_db::Backend;
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::{Layout, ddl, fingerprint, late_log};
use common::*;

/// 2,500 keys with a second column: three ranges of the fingerprint and a bit.
fn many_users(db: &TestDb) -> attrmig_core::Plan {
    db.execute(&format!(
        "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255), email VARCHAR(255));\n{}\n{}",
        insert("users", "id, full_name, email", (1..=2500).map(|i| format!("({i}, 'name {i}', 'u{i}@x')"))),
        new_table(db, "")
    ));
    plan(COLUMN_PLAN)
}

fn keys(found: &attrmig_core::facts::LateWrites) -> Vec<&str> {
    found.keys.iter().map(|k| k.key.as_str()).collect()
}

backend_tests! {
    fn late_writes_are_named_with_who_wrote_them(db: &TestDb) {
        let plan = many_users(db);
        let (mut conn, layout) = open(db, &plan);
        let summary = at_nine(&mut conn, &layout).unwrap();
        assert_eq!((summary.keys, summary.ranges), (2500, 3));
        let clean = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert!(clean.is_clean(), "{clean:?}");

        db.execute(
            "UPDATE users SET full_name = 'late' WHERE id IN (1500, 3);
             INSERT INTO users (id, full_name) VALUES (9999, 'appeared');
             UPDATE users SET email = 'other@x' WHERE id = 2000;
             UPDATE users SET full_name = NULL WHERE id = 6;
             DELETE FROM users WHERE id = 2400;
             INSERT INTO users (id, full_name) VALUES (9998, NULL);",
        );
        let found = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        // Two values changed and one appeared; another column, a value cleared, a row
        // removed and a row inserted without the attribute are no late writes.
        assert_eq!(found.changed, 3, "{found:?}");
        assert_eq!(keys(&found), ["3", "1500", "9999"]);
        assert_eq!(found.untraced_ranges, 0, "every change is logged: {found:?}");
        assert!(text_of(&found).contains("--accept-late-writes"), "{}", text_of(&found));
        let by = found.keys[0].by.clone();
        match db.backend() {
            Backend::Sqlite => assert_eq!(by, None),
            Backend::Postgres => assert!(by.as_deref().is_some_and(|b| b.starts_with("user postgres")), "{by:?}"),
            Backend::Mysql => assert!(by.as_deref().is_some_and(|b| b.contains("client root@")), "{by:?}"),
        }
        assert!(found.keys.iter().all(|k| k.at.is_some()));

        // The refusal names them, and says what to do.
        let refusal = attrmig_core::Refusal::LateWrites { id: "users-full-name".into(), found: Box::new(found.clone()) };
        let text = refusal.to_string();
        assert!(text.starts_with("3 keys of old storage written since "), "{text}");
        assert!(text.contains("\"3\" (at ") && text.contains("\"9999\""), "{text}");
        let json = serde_json::to_value(&refusal).unwrap();
        assert_eq!(json["code"], "late-writes");
        assert_eq!(json["changed"], 3);
        assert_eq!(json["keys"][1]["key"], "1500", "{json:#}");

        // The token stands for exactly these: the same check gives it again, another
        // late write changes it.
        assert_eq!(found.token.len(), 12);
        let again = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert_eq!(again.token, found.token);
        db.execute("UPDATE users SET full_name = 'later' WHERE id = 2100");
        let later = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert_eq!(keys(&later), ["3", "1500", "2100", "9999"]);
        assert_ne!(later.token, found.token);
    }

    fn only_writes_after_the_baseline_moment_are_late(db: &TestDb) {
        let plan = many_users(db);
        let (mut conn, layout) = open(db, &plan);
        at_nine(&mut conn, &layout).unwrap();
        // An instance still at 8 double-writes key 10; then the whole fleet applies 9.
        db.execute("UPDATE users SET full_name = 'double-written' WHERE id = 10");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let fleet_applied_9 = chrono::Utc::now();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let found = fingerprint::check(&mut shared(&mut conn), &layout, Some(fleet_applied_9)).unwrap();
        assert!(found.is_clean(), "expected traffic is no late write: {found:?}");
        // A write after it is, even of the same range, and of the same key.
        db.execute("UPDATE users SET full_name = 'late' WHERE id IN (10, 20)");
        let found = fingerprint::check(&mut shared(&mut conn), &layout, Some(fleet_applied_9)).unwrap();
        assert_eq!(keys(&found), ["10", "20"], "{found:?}");
        assert_eq!(found.since, Some(fleet_applied_9));
    }

    fn a_write_that_bypassed_the_trigger_is_named_by_its_range(db: &TestDb) {
        let plan = many_users(db);
        let (mut conn, layout) = open(db, &plan);
        at_nine(&mut conn, &layout).unwrap();
        let log = late_log::names(&layout).table;
        // What a writer with triggers off leaves: a changed value, nothing logged.
        db.execute(&format!("UPDATE users SET full_name = 'untraced' WHERE id = 1200; DELETE FROM {log}"));
        let found = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert_eq!((found.changed, found.untraced_ranges), (0, 1), "{found:?}");
        assert_eq!(found.untraced[0].after.as_deref(), Some("1000"));
        assert_eq!(found.untraced[0].through.as_deref(), Some("2000"));
        let text = attrmig_core::Refusal::LateWrites { id: "users-full-name".into(), found: Box::new(found) }.to_string();
        assert!(text.contains("1 key range of old storage changed since 9 stop-writing-old was reached with no write logged (a writer that bypassed the trigger): keys after \"1000\" through \"2000\""), "{text}");
    }

    fn the_trigger_is_no_dependent_and_goes_with_drop_old(db: &TestDb) {
        let plan = many_users(db);
        let (mut conn, layout) = open(db, &plan);
        at_nine(&mut conn, &layout).unwrap();
        let dependents = attrmig_db::dependents::of(&mut conn, &plan.old).unwrap();
        assert!(dependents.is_empty(), "attrmig's own trigger is no dependent: {dependents:?}");
        assert!(late_log::exists(&mut conn, &layout).unwrap());
        let drop = ddl::plan(&layout, Step::DropOld, &dependents).unwrap();
        assert!(drop.report().statements[0].starts_with("DROP TRIGGER IF EXISTS"), "{:?}", drop.report());
        ddl::apply(&mut conn, &drop).unwrap();
        let layout = Layout::resolve(&mut conn, &plan).unwrap();
        assert!(layout.old_table().column("full_name").is_none());
        assert!(!late_log::exists(&mut conn, &layout).unwrap(), "the log goes with old storage");
        // The application goes on writing the table.
        db.execute("INSERT INTO users (id, email) VALUES (5000, 'new@x'); UPDATE users SET email = 'y' WHERE id = 1");
    }

    fn json_late_writes_are_named(db: &TestDb) {
        let plan = json_kind(db);
        let (mut conn, layout) = open(db, &plan);
        at_nine(&mut conn, &layout).unwrap();
        // Another key of the document is not the attribute.
        db.execute(&json_set(db, "age", "99", 7));
        assert!(fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap().is_clean());
        db.execute(&json_set(db, "full_name", "\"late\"", 8));
        let found = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert_eq!(keys(&found), ["8"], "{found:?}");
    }

    fn eav_late_writes_are_named(db: &TestDb) {
        let plan = eav_kind(db);
        let (mut conn, layout) = open(db, &plan);
        at_nine(&mut conn, &layout).unwrap();
        db.execute("UPDATE user_attributes SET value = 'other' WHERE user_id = 9 AND name = 'nickname'");
        assert!(fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap().is_clean());
        db.execute(
            "UPDATE user_attributes SET value = 'late' WHERE user_id = 9 AND name = 'full_name';
             INSERT INTO user_attributes (user_id, name, value) VALUES (100, 'full_name', 'appeared');",
        );
        let found = fingerprint::check(&mut shared(&mut conn), &layout, None).unwrap();
        assert_eq!(keys(&found), ["9", "100"], "{found:?}");
    }
}

fn text_of(found: &attrmig_core::facts::LateWrites) -> String {
    attrmig_core::Refusal::LateWrites {
        id: "users-full-name".into(),
        found: Box::new(found.clone()),
    }
    .to_string()
}

/// Sets a key of key `id`'s document to a JSON value.
fn json_set(db: &TestDb, key: &str, value: &str, id: i64) -> String {
    match db.backend() {
        Backend::Sqlite => format!(
            "UPDATE users SET attrs = json_set(attrs, '$.{key}', json('{value}')) WHERE id = {id}"
        ),
        Backend::Postgres => format!(
            "UPDATE users SET attrs = jsonb_set(attrs, '{{{key}}}', '{value}') WHERE id = {id}"
        ),
        Backend::Mysql => format!(
            "UPDATE users SET attrs = JSON_SET(attrs, '$.{key}', JSON_EXTRACT('{value}', '$')) WHERE id = {id}"
        ),
    }
}
