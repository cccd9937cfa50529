//! `sync --delete-extra`: rows only in new storage (a new row whose key has no old row)
//! are removed after the copy, for every kind of old storage; a plain sync leaves them; a
//! new table with columns of its own keeps its rows and loses only the value; the new
//! column in the old table has none to remove. (Double-writes meanwhile:
//! `concurrency.rs`; the fence: `fence.rs`.)

mod common;

use attrmig_core::Plan;
use attrmig_core::Step;
use attrmig_db::AnyConnection;
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::sync::{self, Event};
use attrmig_tools::{Layout, ToolError};
use common::*;

fn pass(
    conn: &mut AnyConnection,
    layout: &Layout,
    delete_extra: bool,
) -> Result<(sync::Summary, Vec<String>), ToolError> {
    let opts = sync::Options {
        batch_size: 7,
        max_rows_per_second: None,
        restart: false,
        holder: "alice@test:1".into(),
        lookahead: None,
        delete_extra,
    };
    let mut removed = Vec::new();
    let summary = sync::run(
        &mut shared(conn),
        layout,
        Step::DoubleWrite,
        &opts,
        &mut |e| {
            if let Event::Removed { keys, .. } = e {
                removed.extend(keys.iter().cloned());
            }
        },
    )?;
    Ok((summary, removed))
}

/// Rows only in new storage beyond the old keys (301..=305), one with a NULL value
/// (306, which reads as absent), and one over key 50, whose old value is NULL (column,
/// JSON) or whose attribute row is absent (EAV).
fn plant(db: &TestDb) {
    db.execute(
        "INSERT INTO users_pii (user_id, full_name) VALUES \
         (301, 'a'), (302, 'b'), (303, 'c'), (304, 'd'), (305, 'e'), (306, NULL), (50, 'stale')",
    );
}

fn removes_rows_only_in_new_storage(db: &TestDb, plan: Plan) {
    let (mut conn, layout) = open(db, &plan);
    plant(db);
    let eav = matches!(plan.old, attrmig_core::plan::OldStorage::Eav { .. });
    pass(&mut conn, &layout, false).unwrap();
    let left = cross_check_in(&mut conn, &layout, None, 50).unwrap();
    // Key 50: the copy sets a value over a NULL old value to NULL, but it never meets a key
    // with no old row at all.
    assert_eq!(
        left.counts.extra_in_new,
        if eav { 6 } else { 5 },
        "{:?}",
        left.mismatches
    );

    let (summary, removed) = pass(&mut conn, &layout, true).unwrap();
    let mut expected: Vec<String> = (301..=305).map(|k| k.to_string()).collect();
    if eav {
        expected.insert(0, "50".into());
    }
    assert_eq!(removed, expected);
    assert_eq!(summary.removed, expected.len() as u64);
    let after = cross_check_in(&mut conn, &layout, None, 50).unwrap();
    assert!(after.counts.clean(), "{:?}", after.mismatches);
    // A row with no value was no mismatch and is left; every old key's row stays.
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM users_pii WHERE user_id = 306"
        ),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM users_pii WHERE user_id <= 300"
        ),
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM users_pii WHERE full_name IS NOT NULL AND user_id <= 300"
        ) + i64::from(!eav)
    );
    // Nothing left to remove.
    let (again, _) = pass(&mut conn, &layout, true).unwrap();
    assert_eq!(again.removed, 0);
}

backend_tests! {
    fn rows_only_in_new_storage_are_removed_for_a_column(db: &TestDb) {
        removes_rows_only_in_new_storage(db, column_kind(db));
    }

    fn rows_only_in_new_storage_are_removed_for_a_json_key(db: &TestDb) {
        removes_rows_only_in_new_storage(db, json_kind(db));
    }

    fn rows_only_in_new_storage_are_removed_for_an_eav_attribute(db: &TestDb) {
        removes_rows_only_in_new_storage(db, eav_kind(db));
    }

    /// A new table with columns of its own: a row only in new storage keeps its row and
    /// its other columns; only the migrated value goes.
    fn a_shared_new_table_keeps_its_rows_and_loses_the_value(db: &TestDb) {
        named_users(db, 20);
        db.execute("ALTER TABLE users_pii ADD COLUMN email VARCHAR(100)");
        db.execute("INSERT INTO users_pii (user_id, full_name, email) VALUES (21, 'x', 'x@example.com'), (22, NULL, 'y@example.com')");
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let (summary, removed) = pass(&mut conn, &layout, true).unwrap();
        assert_eq!((summary.removed, removed), (1, vec!["21".to_owned()]));
        assert_eq!(text(&mut conn, "SELECT email AS t FROM users_pii WHERE user_id = 21"), Some("x@example.com".into()));
        assert_eq!(text(&mut conn, "SELECT full_name AS t FROM users_pii WHERE user_id = 21"), None);
        assert!(cross_check_in(&mut conn, &layout, None, 50).unwrap().counts.clean());
    }

    /// There, a NOT NULL new column can be neither emptied nor its row deleted: refused
    /// before anything is written, naming the columns and the ways forward.
    fn a_shared_new_table_with_a_required_value_is_refused(db: &TestDb) {
        db.execute(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255));
             INSERT INTO users (id, full_name) VALUES (1, 'one');
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255) NOT NULL, email VARCHAR(100));
             INSERT INTO users_pii (user_id, full_name, email) VALUES (9, 'x', 'x@example.com');",
        );
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let err = pass(&mut conn, &layout, true).unwrap_err().to_string();
        assert!(err.contains("deleting a row would take along its other columns (email)"), "{err}");
        assert!(err.contains("`users_pii.full_name` is NOT NULL"), "{err}");
        assert!(err.contains("`attrmig acknowledge-extra users-full-name --note"), "{err}");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 1);
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM attrmig_sync_runs"), 0, "no pass started");
    }

    /// The new column in the old table: every new row is an old row, nothing to remove.
    fn in_the_old_table_there_is_nothing_to_remove(db: &TestDb) {
        db.execute(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255), display_name VARCHAR(255));
             INSERT INTO users (id, full_name, display_name) VALUES (1, 'one', NULL), (2, NULL, 'stale');",
        );
        let plan = plan(&COLUMN_PLAN.replace("table = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"", "table = \"users\"\nkey = \"id\"\ncolumn = \"display_name\""));
        let (mut conn, layout) = open(db, &plan);
        let (summary, removed) = pass(&mut conn, &layout, true).unwrap();
        assert_eq!((summary.removed, removed.len()), (0, 0));
        assert!(cross_check_in(&mut conn, &layout, None, 50).unwrap().counts.clean());
    }
}
