//! The tools on every backend and every kind of old storage: cross-check counts and
//! reports, sync copies and repairs, rejected rows become data issues, the lease, the
//! step-9 fingerprint, and the DDL.

mod common;

use attrmig_core::Step;
use attrmig_core::facts::Counts;
use attrmig_db::{Backend, DatabaseUrl};
use attrmig_store::cross_checks::MismatchClass;
use attrmig_store::{Conns, data_issues, leases, setup};
use attrmig_testing::{TestDb, backend_tests};
use attrmig_tools::{Layout, crosscheck, ddl, sync};
use common::*;

/// The tools' batch size here: several batches over a fixture's 100 or 300 keys, the
/// last one partial.
const BATCH: u32 = 37;

fn check(
    db: &TestDb,
    conns: &mut Conns<'_>,
    layout: &Layout,
    sample: Option<u64>,
) -> crosscheck::Report {
    check_with(lookahead(db), conns, layout, sample)
}

/// A cross-check whose second connection (batch ends found ahead) goes to `lookahead`.
fn check_with(
    lookahead: Option<DatabaseUrl>,
    conns: &mut Conns<'_>,
    layout: &Layout,
    sample: Option<u64>,
) -> crosscheck::Report {
    let opts = crosscheck::Options {
        sample,
        batch_size: BATCH,
        max_report: 50,
        lookahead,
    };
    crosscheck::run(conns, layout, Step::CrossCheck, "alice", &opts, &mut ()).unwrap()
}

fn sync_all(db: &TestDb, conns: &mut Conns<'_>, layout: &Layout) -> sync::Summary {
    sync_with(lookahead(db), BATCH, conns, layout)
}

/// A sync pass whose second connection (batch ends found ahead) goes to `lookahead`.
fn sync_with(
    lookahead: Option<DatabaseUrl>,
    batch_size: u32,
    conns: &mut Conns<'_>,
    layout: &Layout,
) -> sync::Summary {
    sync_reporting(lookahead, batch_size, conns, layout).0
}

/// [`sync_with`], with the events the pass reported.
fn sync_reporting(
    lookahead: Option<DatabaseUrl>,
    batch_size: u32,
    conns: &mut Conns<'_>,
    layout: &Layout,
) -> (sync::Summary, Vec<sync::Event>) {
    let opts = sync::Options {
        batch_size,
        max_rows_per_second: None,
        restart: false,
        holder: "alice@test:1".into(),
        lookahead,
        delete_extra: false,
    };
    let mut events = Vec::new();
    let summary = sync::run(conns, layout, Step::DoubleWrite, &opts, &mut |e| {
        events.push(e.clone())
    })
    .unwrap();
    (summary, events)
}

/// Keys 1..=300, NULL for every 50th: 294 values.
const VALUES: u64 = 294;

/// `keys`: how many keys old storage has (EAV has no row for a NULL value).
fn copies_and_converges(db: &TestDb, plan: attrmig_core::Plan, keys: u64) {
    let (mut conn, layout) = open(db, &plan);
    let before = check(db, &mut shared(&mut conn), &layout, None);
    assert_eq!(
        before.counts,
        Counts {
            matching: keys - VALUES,
            missing_in_new: VALUES,
            extra_in_new: 0,
            differs: 0
        },
        "{:?}",
        before.mismatches.first()
    );
    assert_eq!(
        before.mismatches.len(),
        50,
        "the report is capped at --max-report"
    );
    assert_eq!(before.mismatches[0].key, "1");
    assert_eq!(before.mismatches[0].old.as_deref(), Some("name 1"));

    let (summary, events) = sync_reporting(lookahead(db), BATCH, &mut shared(&mut conn), &layout);
    assert_eq!(
        (summary.pass, summary.written, summary.rejected),
        (1, VALUES, 0)
    );
    let Some(sync::Event::Started { total, .. }) = events.first() else {
        panic!("a pass starts by saying so: {events:?}");
    };
    assert_eq!(
        *total, keys,
        "the progress total counts the old keys (for EAV, only the attribute's rows)"
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"),
        VALUES as i64,
        "NULL old values write no row"
    );
    let after = check(db, &mut shared(&mut conn), &layout, None);
    assert!(after.counts.clean(), "{:?}", after.mismatches);
    assert_eq!(after.counts.matching, keys);

    // A second pass finds nothing to write.
    let again = sync_all(db, &mut shared(&mut conn), &layout);
    assert_eq!((again.pass, again.written), (2, 0));
}

backend_tests! {
    fn column_kind_copies_and_converges(db: &TestDb) {
        copies_and_converges(db, column_kind(db), ROWS as u64);
    }

    fn json_kind_copies_and_converges(db: &TestDb) {
        copies_and_converges(db, json_kind(db), ROWS as u64);
    }

    fn eav_kind_copies_and_converges(db: &TestDb) {
        copies_and_converges(db, eav_kind(db), VALUES);
    }

    fn planted_mismatches_are_found_with_keys_and_values(db: &TestDb) {
        let plan = column_kind(db);
        let (mut conn, layout) = open(db, &plan);
        sync_all(db, &mut shared(&mut conn), &layout);
        db.execute(
            "DELETE FROM users_pii WHERE user_id = 5;
             UPDATE users_pii SET full_name = 'Wrong' WHERE user_id = 7;
             UPDATE users SET full_name = NULL WHERE id = 9;
             INSERT INTO users_pii (user_id, full_name) VALUES (100000, 'ghost');",
        );
        let report = check(db, &mut shared(&mut conn), &layout, None);
        assert_eq!(report.counts.missing_in_new, 1);
        assert_eq!(report.counts.differs, 1);
        assert_eq!(report.counts.extra_in_new, 2);
        let found: Vec<(&str, MismatchClass, Option<&str>, Option<&str>)> = report
            .mismatches
            .iter()
            .map(|m| (m.key.as_str(), m.class, m.old.as_deref(), m.new.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("5", MismatchClass::MissingInNew, Some("name 5"), None),
                ("7", MismatchClass::Differs, Some("name 7"), Some("Wrong")),
                ("9", MismatchClass::ExtraInNew, None, Some("name 9")),
                ("100000", MismatchClass::ExtraInNew, None, Some("ghost")),
            ]
        );
        assert_eq!(report.mismatches[1].field, "full_name");

        // The sync repairs what old storage decides; it never deletes new rows whose key
        // has no old row: a person must look at those.
        let repaired = sync_all(db, &mut shared(&mut conn), &layout);
        assert_eq!(repaired.written, 3);
        let report = check(db, &mut shared(&mut conn), &layout, None);
        assert_eq!(report.counts, Counts { matching: ROWS as u64, extra_in_new: 1, ..Counts::default() });
        assert_eq!(report.mismatches[0].key, "100000");
    }

    fn a_sample_is_drawn_from_existing_keys(db: &TestDb) {
        let plan = column_kind(db);
        let (mut conn, layout) = open(db, &plan);
        let report = check(db, &mut shared(&mut conn), &layout, Some(40));
        assert!(!report.full);
        assert_eq!(report.counts.matching + report.counts.mismatches(), 40, "{:?}", report.counts);
        let all = check(db, &mut shared(&mut conn), &layout, Some(10_000));
        assert_eq!(all.counts.matching + all.counts.mismatches(), ROWS as u64, "a sample larger than the table is the table");
    }

    fn rejected_rows_become_data_issues_and_are_re_driven(db: &TestDb) {
        three_rows_new_storage_rejects(db);
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let summary = sync_all(db, &mut shared(&mut conn), &layout);
        assert_eq!((summary.written, summary.rejected), (ROWS as u64 - 3, 3));
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["13", "14", "200"]);
        assert_eq!(issues[0].old_value.as_deref(), Some("a name far too long 13"));
        // MariaDB names the failed constraint without the word CHECK: `CONSTRAINT
        // `users_pii.full_name` failed for ...`.
        let error = issues[0].error.to_lowercase();
        assert!(error.contains("check") || error.contains("constraint `users_pii.full_name` failed"), "{error}");

        // Fix two of them at the source, re-drive: those resolve, the third stays.
        db.execute("UPDATE users SET full_name = 'fixed 13' WHERE id = 13; UPDATE users SET full_name = 'fixed 14' WHERE id = 14;");
        let retried = sync::retry(&mut shared(&mut conn), &layout, "alice@laptop:1".into()).unwrap();
        assert_eq!((retried.fixed, retried.still), (vec!["13".to_owned(), "14".to_owned()], vec!["200".to_owned()]));
        assert_eq!(text(&mut conn, "SELECT full_name AS t FROM users_pii WHERE user_id = 13").as_deref(), Some("fixed 13"));
        let open: Vec<String> = data_issues::list(&mut conn, "users-full-name", false).unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(open, ["200"]);
    }

    fn rejected_rows_are_isolated_with_the_state_in_another_database(db: &TestDb) {
        // The batch's rows and its checkpoint commit apart: the failed whole-batch attempt
        // must roll back on the application database alone before the batch is split.
        three_rows_new_storage_rejects(db);
        let plan = plan(COLUMN_PLAN);
        let (mut app, layout) = open(db, &plan);
        let state_db = TestDb::sqlite();
        let mut state = state_db.connect();
        setup::ensure_schema(&mut state).unwrap();
        let summary = sync_all(db, &mut Conns::Split { app: &mut app, state: &mut state }, &layout);
        assert_eq!((summary.written, summary.rejected), (ROWS as u64 - 3, 3));
        let issues = data_issues::list(&mut state, "users-full-name", false).unwrap();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["13", "14", "200"]);
        assert_eq!(count(&mut app, "SELECT COUNT(*) AS n FROM users_pii"), ROWS - 3);
        assert_eq!(count(&mut app, "SELECT COUNT(*) AS n FROM attrmig_data_issues"), 0, "nothing in the application's store");
    }

    fn a_second_sync_is_refused_while_the_lease_is_held(db: &TestDb) {
        let plan = column_kind(db);
        let (mut conn, layout) = open(db, &plan);
        let now = attrmig_core::audit::now();
        // Bob runs on another machine: nothing here can tell whether he is alive.
        let bob = leases::Runner {
            holder: "bob@ci-runner-7:4242".into(),
            token: "bob's token".into(),
            host: "ci-runner-7".into(),
            pid: 4242,
            boot_id: Some("another machine's boot".into()),
            pid_ns: Some("pid:[4026531836]".into()),
            proc_start: Some(1),
        };
        let ttl = chrono::Duration::seconds(60);
        leases::acquire(&mut conn, "users-full-name", sync::LEASE, "sync", &bob, ttl, now, &|_| false)
            .unwrap()
            .unwrap();
        let opts = sync::Options { batch_size: BATCH, max_rows_per_second: None, restart: false, holder: "alice@laptop:1".into(), lookahead: None, delete_extra: false };
        let err = sync::run(&mut shared(&mut conn), &layout, Step::DoubleWrite, &opts, &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("another sync is running for users-full-name: held by bob@ci-runner-7:4242"), "{message}");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii"), 0);
    }

    fn the_fingerprint_counts_late_writes(db: &TestDb) {
        let plan = column_kind(db);
        let (mut conn, layout) = open(db, &plan);
        let summary = at_nine(&mut conn, &layout).unwrap();
        assert_eq!(summary.keys, VALUES);
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 0);
        db.execute(
            "UPDATE users SET full_name = 'late' WHERE id IN (3, 4);
             UPDATE users SET full_name = 'appeared' WHERE id = 50;
             UPDATE users SET full_name = NULL WHERE id = 6;
             INSERT INTO users (id, full_name) VALUES (9999, NULL);",
        );
        // Two changed, one appeared where there was none; a value cleared and a row
        // inserted without the attribute are the expected traffic.
        assert_eq!(late_writes(&mut conn, &layout).unwrap(), 3);
    }

    fn ddl_for_every_step_and_kind(db: &TestDb) {
        db.execute(&format!(
            "CREATE TABLE users (id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(255) NOT NULL);\n{}",
            insert("users", "id, full_name", (1..=5).map(|i| format!("({i}, 'n{i}')")))
        ));
        let plan = plan(COLUMN_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let create = ddl::plan(&layout, Step::PrepareStorage, &[]).unwrap();
        assert!(create.report().statements[0].starts_with("CREATE TABLE"), "{:?}", create.report());
        ddl::apply(&mut conn, &create).unwrap();
        let layout = Layout::resolve(&mut conn, &plan).unwrap();
        layout.require_new().unwrap();
        assert!(ddl::plan(&layout, Step::PrepareStorage, &[]).unwrap().statements.is_empty());

        let relax = ddl::plan(&layout, Step::PrepareOldStop, &[]).unwrap();
        ddl::apply(&mut conn, &relax).unwrap();
        let layout = Layout::resolve(&mut conn, &plan).unwrap();
        let column = layout.old_table().column("full_name").unwrap().clone();
        assert!(column.nullable, "{column:?}");
        assert!(column.data_type.to_lowercase().contains("char"), "the type is kept: {column:?}");
        db.execute("INSERT INTO users (id) VALUES (6)");
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM users"), 6, "existing rows survive");

        let drop = ddl::plan(&layout, Step::DropOld, &[]).unwrap();
        ddl::apply(&mut conn, &drop).unwrap();
        let layout = Layout::resolve(&mut conn, &plan).unwrap();
        assert!(layout.old_table().column("full_name").is_none());
        assert!(!layout.old_attribute_present(&mut conn).unwrap());
    }

    fn drop_old_for_json_and_eav(db: &TestDb) {
        let plan = json_kind(db);
        let (mut conn, layout) = open(db, &plan);
        assert!(layout.old_attribute_present(&mut conn).unwrap());
        ddl::apply(&mut conn, &ddl::plan(&layout, Step::DropOld, &[]).unwrap()).unwrap();
        assert!(!layout.old_attribute_present(&mut conn).unwrap());
        assert!(text(&mut conn, "SELECT CAST(attrs AS CHAR(200)) AS t FROM users WHERE id = 1").is_some_and(|t| t.contains("age")),
            "other keys of the document stay");
    }
}

/// `users` with `ROWS` names, of which keys 13, 14 and 200 are too long for the CHECK on
/// an empty `users_pii`.
fn three_rows_new_storage_rejects(db: &TestDb) {
    let name = |i: u64| {
        if [13, 14, 200].contains(&i) {
            format!("'a name far too long {i}'")
        } else {
            format!("'name {i}'")
        }
    };
    users_named_by(db, ROWS as u64, name, " CHECK (LENGTH(full_name) < 12)");
}

#[test]
fn eav_drop_deletes_only_the_attribute() {
    let db = TestDb::sqlite();
    let plan = eav_kind(&db);
    let (mut conn, layout) = open(&db, &plan);
    let statements = ddl::plan(&layout, Step::DropOld, &[]).unwrap();
    let printed = statements.report().statements;
    // The late-write trigger of step 9 goes first; then the attribute's rows.
    assert!(
        printed[0].starts_with("DROP TRIGGER IF EXISTS \"attrmig_latet_"),
        "{printed:?}"
    );
    assert_eq!(
        printed.last().unwrap(),
        "DELETE FROM \"user_attributes\" WHERE \"name\" = 'full_name'"
    );
    ddl::apply(&mut conn, &statements).unwrap();
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) AS n FROM user_attributes"),
        ROWS
    );
    assert!(!layout.old_attribute_present(&mut conn).unwrap());
}

#[test]
fn postgres_type_conversion_failures_are_data_issues() {
    let Some(db) = TestDb::postgres() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, full_name VARCHAR(255));
         INSERT INTO users VALUES (1, '10'), (2, 'x'), (3, '30');
         CREATE TABLE users_pii (user_id BIGINT PRIMARY KEY, full_name INTEGER);",
    );
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let summary = sync_all(&db, &mut shared(&mut conn), &layout);
    assert_eq!((summary.written, summary.rejected), (2, 1));
    let issue = &data_issues::list(&mut conn, "users-full-name", false).unwrap()[0];
    assert_eq!(
        (issue.key.as_str(), issue.old_value.as_deref()),
        ("2", Some("x"))
    );
    assert!(
        issue.error.contains("invalid input syntax"),
        "{}",
        issue.error
    );
    let _ = Backend::Postgres;
}

/// The second connection only finds batch ends ahead: when the server refuses it, both
/// tools probe on their own connection and do the same work.
#[test]
fn the_tools_run_without_their_second_connection() {
    let Some(db) = TestDb::postgres() else { return };
    named_users(&db, 100);
    let refused = db.url().rsplit_once('/').unwrap().0.to_owned() + "/attrmig_no_such_database";
    let refused = Some(DatabaseUrl::parse(&refused, std::path::Path::new("/")).unwrap());
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    let summary = sync_with(refused.clone(), BATCH, &mut shared(&mut conn), &layout);
    assert_eq!((summary.scanned, summary.written), (100, 100));
    let report = check_with(refused, &mut shared(&mut conn), &layout, None);
    assert!(report.counts.clean(), "{:?}", report.mismatches);
    assert_eq!(report.counts.matching, 100);
}

/// A first pass writes new in key order (PostgreSQL) whatever join the planner picks:
/// otherwise each insert descends new's key index from its root, and new's rows lie out
/// of key order for every later read. PostgreSQL hashes old's range when it believes new
/// large (its statistics lag behind it as the pass fills it); here it is told new holds
/// 10 million rows and may use no other join.
#[test]
fn a_first_pass_writes_new_in_key_order() {
    let Some(db) = TestDb::postgres() else { return };
    named_users(&db, 25_000);
    let plan = plan(COLUMN_PLAN);
    let (mut conn, layout) = open(&db, &plan);
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "ANALYZE users;
         INSERT INTO users_pii VALUES (1000000000, 'far');
         UPDATE pg_class SET reltuples = 1e7, relpages = 1 WHERE relname = 'users_pii';
         SET enable_mergejoin = off; SET enable_nestloop = off",
    )
    .unwrap();
    let summary = sync_with(lookahead(&db), 10_000, &mut shared(&mut conn), &layout);
    assert_eq!(summary.written, 25_000);
    let out_of_order = count(
        &mut conn,
        "SELECT COUNT(*) AS n FROM (SELECT user_id, LAG(user_id) OVER (ORDER BY ctid) AS before \
         FROM users_pii WHERE user_id <= 25000) t WHERE user_id < before",
    );
    assert_eq!(out_of_order, 0, "rows of users_pii stored out of key order");
}
