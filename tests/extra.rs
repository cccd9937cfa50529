//! Rows only in new storage, through the real binary: every refusal that meets them says
//! how to go on, and each way it names works when followed as written: `sync
//! --delete-extra` removes them, `acknowledge-extra` records that they may stay (and
//! covers those rows, not later ones), `--max-report` names them all to be acknowledged.
//! At 4 sync, 5a/5b/6 (a fresh cross-check) and 8 delete-tools alike.

use crate::support::*;

const ID: &str = "users-full-name";

/// 0 to 3 with `rows` users, the first sync pass copied.
fn at_double_write(db: &TestDb, rows: usize) -> Project<'_> {
    let p = Project::new(db).with_users(rows).with_plan(ID, USERS_PLAN);
    crate::walk::walk_to_double_write(&p);
    p.attrmig(["sync", ID]).run().ok();
    p
}

/// Rows only in new storage, `user_id` each of `keys`.
fn plant(p: &Project<'_>, keys: &[u32]) {
    let rows: Vec<String> = keys.iter().map(|k| format!("({k}, 'stray {k}')")).collect();
    p.sql(&format!(
        "INSERT INTO users_pii (user_id, full_name) VALUES {}",
        rows.join(", ")
    ));
}

/// The command a refusal names in backquotes that starts with `start`, as written.
#[track_caller]
fn advised(refusal: &str, start: &str) -> Vec<String> {
    let at = refusal
        .find(&format!("`{start}"))
        .unwrap_or_else(|| panic!("no `{start}...` advised in:\n{refusal}"));
    let rest = &refusal[at + 1..];
    let command = &rest[..rest.find('`').unwrap()];
    // Split like a shell: the note is one quoted word.
    let mut words = Vec::new();
    let mut quoted = false;
    let mut word = String::new();
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => words.push(std::mem::take(&mut word)),
            c => word.push(c),
        }
    }
    words.push(word);
    assert_eq!(words.remove(0), "attrmig", "{command}");
    words
}

/// The run number of the latest cross-check.
fn cross_check(p: &Project<'_>, args: &[&str]) -> i64 {
    let mut all = vec!["--json", "cross-check", ID];
    all.extend_from_slice(args);
    let out = p.attrmig(&all).run();
    out.json()["report"]["run"].as_i64().unwrap()
}

backend_tests! {
    /// At 4, rows only in new storage beside a missing row; at 5a, alone: the sync each
    /// refusal names removes them (a plain one does not).
    fn removed_as_the_refusals_advise(db: &TestDb) {
        let p = at_double_write(db, 40);
        plant(&p, &[1001, 1002]);
        p.sql("DELETE FROM users_pii WHERE user_id = 7");
        cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        assert!(refused.contains("found 3 mismatches (1 missing in new, 2 extra in new, 0 differ)"), "{refused}");
        let sync = advised(&refused, "attrmig sync");
        assert_eq!(sync, ["sync", ID, "--delete-extra"]);
        p.attrmig(&sync).run().ok().stdout_has("1 row written").stdout_has("2 rows only in new storage removed (--delete-extra)");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 1000"), 0);
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");
        p.attrmig(["advance", ID]).run().ok().stdout_has("3 double-write → 4 sync");

        // 5a: alone this time. A plain sync leaves them, as the refusal says.
        plant(&p, &[1003]);
        cross_check(&p, &[]);
        p.attrmig(["sync", ID]).run().ok();
        cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        assert!(refused.contains("found 1 row only in new storage: key 1003; a plain sync never deletes them"), "{refused}");
        let sync = advised(&refused, "attrmig sync");
        assert_eq!(sync, ["sync", ID, "--delete-extra"]);
        p.attrmig(&sync).run().ok().stdout_has("1 row only in new storage removed");
        cross_check(&p, &[]);
        p.attrmig(["advance", ID]).run().ok().stdout_has("4 sync → 5a double-read-old");
    }

    /// The same advice followed the other way: a look, recorded. It covers those rows at
    /// 4 and at 5a; a row that appears later is named on its own, and is acknowledged or
    /// removed in turn; at 8 as well.
    fn acknowledged_as_the_refusals_advise(db: &TestDb) {
        let p = at_double_write(db, 40);
        plant(&p, &[1001, 1002]);
        let run = cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        let mut ack = advised(&refused, "attrmig acknowledge-extra");
        assert_eq!(ack[..4], ["acknowledge-extra", ID, "--run", &run.to_string()]);
        *ack.last_mut().unwrap() = "test accounts of the 2019 import; support keeps them".into();
        p.attrmig(&ack)
            .run()
            .ok()
            .stdout_has(&format!("2 rows only in new storage, found by cross-check run {run}, acknowledged by alice@example.com (keys 1001, 1002)"));
        let log = p.intact_log(ID);
        let entry = log["entries"].as_array().unwrap().last().unwrap().clone();
        let first = entry["version"].as_i64().unwrap();
        let advanced = p.attrmig(["advance", ID]).run().ok().stdout;
        assert!(advanced.contains(&format!("but for 2 rows only in new storage, acknowledged in audit entry {first}")), "{advanced}");
        assert_eq!(entry["kind"], "acknowledge", "{log:#}");
        assert_eq!(entry["evidence"]["cross_check_run"], run);
        assert_eq!(entry["evidence"]["rows"][1]["key"], "1002");
        assert_eq!(entry["note"], "test accounts of the 2019 import; support keeps them");
        p.attrmig(["log", ID])
            .run()
            .ok()
            .stdout_has("acknowledge 2 rows only in new storage");

        // 5a: a fresh cross-check; the acknowledged rows still count as agreeing.
        cross_check(&p, &[]);
        p.attrmig(["advance", ID]).run().ok();
        // One more appears, and one acknowledged row changes: neither is covered.
        plant(&p, &[1003]);
        p.sql("UPDATE users_pii SET full_name = 'changed' WHERE user_id = 1001");
        let later = cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        assert!(
            refused.contains(&format!("cross-check run {later} found 3 rows only in new storage (1 of them acknowledged in audit entry {first}; not the 2 below: new since, or their value changed): keys 1001, 1003")),
            "{refused}"
        );
        let mut ack = advised(&refused, "attrmig acknowledge-extra");
        *ack.last_mut().unwrap() = "1003 is a support test account; 1001 renamed by support".into();
        p.attrmig(&ack).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        assert_eq!(p.attrmig(["--json", "mode", ID]).run().ok().json()["step"], "double-read-new");

        // 6 by removal this time: a fresh row, a fresh check, the sync the refusal names.
        plant(&p, &[1004]);
        cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        let sync = advised(&refused, "attrmig sync");
        p.attrmig(&sync).run().ok().stdout_has("4 rows only in new storage removed");
        cross_check(&p, &[]);
        p.attrmig(["advance", ID]).run().ok();

        // 8: the last cross-check must agree too.
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"]).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        plant(&p, &[1005]);
        cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        assert!(refused.contains("last-cross-check-clean"), "{refused}");
        let mut ack = advised(&refused, "attrmig acknowledge-extra");
        *ack.last_mut().unwrap() = "1005: a probe the monitoring writes; dropped with the table".into();
        p.attrmig(&ack).run().ok();
        p.attrmig(["advance", ID]).run().ok();
        assert_eq!(p.attrmig(["--json", "mode", ID]).run().ok().json()["step"], "delete-tools");
        // From here the guards that count acknowledgements are behind.
        p.attrmig(["acknowledge-extra", ID, "--note", "late"])
            .run()
            .code(3)
            .stderr_has("serves the guards of 4 sync to 8 delete-tools, which are behind it; nothing was written");
        p.intact_log(ID);
    }

    /// More rows than the report names: the refusal says how to have every one named; then
    /// they can be acknowledged.
    fn every_row_named_before_it_is_acknowledged(db: &TestDb) {
        let p = at_double_write(db, 10);
        plant(&p, &(1001..=1025).collect::<Vec<_>>());
        let run = cross_check(&p, &[]);
        let refused = p.attrmig(["advance", ID]).run().code(3).stderr;
        assert!(refused.contains(&format!("cross-check run {run} found 25 rows only in new storage and its report names 20")), "{refused}");
        p.attrmig(["acknowledge-extra", ID, "--note", "seen"])
            .run()
            .code(3)
            .stderr_has("its report names 20");
        let named = advised(&refused, "attrmig cross-check");
        assert_eq!(named, ["cross-check", ID, "--max-report", "25"]);
        p.attrmig(&named).run().code(4);
        p.attrmig(["acknowledge-extra", ID, "--note", "25 load-test accounts"]).run().ok().stdout_has("25 rows only in new storage");
        p.attrmig(["advance", ID]).run().ok();
    }
}

backend_tests! {
    /// The most rows one acknowledgement records, with keys of 16 digits, fit the audit
    /// log of every backend (MySQL's `TEXT` holds 64 KB) and count.
    fn the_largest_acknowledgement_fits_every_backend(db: &TestDb) {
        let p = at_double_write(db, 10);
        let rows: Vec<String> = (1..=1000u64).map(|i| format!("({}, 'stray')", 1_000_000_000_000_000 + i)).collect();
        p.sql(&format!("INSERT INTO users_pii (user_id, full_name) VALUES {}", rows.join(", ")));
        cross_check(&p, &["--max-report", "1000"]);
        p.attrmig(["acknowledge-extra", ID, "--note", "a thousand load-test accounts"]).run().ok().stdout_has("1000 rows only in new storage");
        p.attrmig(["advance", ID]).run().ok().stdout_has("but for 1000 rows only in new storage, acknowledged");
        p.intact_log(ID);
    }
}

/// What `acknowledge-extra` refuses, each time saying what to do.
#[test]
fn nothing_to_acknowledge_is_refused() {
    let fresh = TestDb::sqlite();
    Project::new(&fresh)
        .with_users(10)
        .with_plan(ID, USERS_PLAN)
        .attrmig(["acknowledge-extra", ID, "--note", "x"])
        .run()
        .code(3)
        .stderr_has("no full cross-check of users-full-name has finished")
        .stderr_has("`attrmig cross-check users-full-name`");
    let db = TestDb::sqlite();
    let p = at_double_write(&db, 10);
    let sample = cross_check(&p, &["--sample", "5"]);
    p.attrmig([
        "acknowledge-extra",
        ID,
        "--note",
        "x",
        "--run",
        &sample.to_string(),
    ])
    .run()
    .code(3)
    .stderr_has(&format!(
        "cross-check run {sample} is not a finished full run"
    ));
    let clean = cross_check(&p, &[]);
    p.attrmig(["acknowledge-extra", ID, "--note", "x"])
        .run()
        .code(3)
        .stderr_has(&format!(
            "cross-check run {clean} of users-full-name found no rows only in new storage"
        ));
    p.attrmig(["acknowledge-extra", ID, "--note", "  "])
        .run()
        .code(2)
        .stderr_has("--note must say why");
    p.attrmig(["acknowledge-extra", ID])
        .run()
        .code(2)
        .stderr_has("--note");
    let log = p.intact_log(ID);
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        !kinds.contains(&"acknowledge"),
        "nothing recorded: {kinds:?}"
    );
}

/// A new table with columns of its own and a NOT NULL value: `--delete-extra` can't remove
/// the rows, and says so before it writes anything; the acknowledgement it names instead
/// lets 4 be reached.
#[test]
fn rows_that_cannot_be_removed_can_be_acknowledged() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(10).with_plan(ID, USERS_PLAN);
    p.sql("CREATE TABLE users_pii (user_id INTEGER PRIMARY KEY, full_name VARCHAR(255) NOT NULL, email TEXT)");
    p.sql("INSERT INTO users_pii (user_id, full_name, email) VALUES (99, 'kept', 'k@example.com')");
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 1"]).run().ok();
    p.attrmig(["sync", ID]).run().ok();
    cross_check(&p, &[]);
    let refused = p
        .attrmig(["sync", ID, "--delete-extra"])
        .run()
        .code(3)
        .stderr;
    assert!(
        refused.contains("deleting a row would take along its other columns (email)"),
        "{refused}"
    );
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id = 99"),
        1
    );
    let mut ack = advised(&refused, "attrmig acknowledge-extra");
    *ack.last_mut().unwrap() = "99 is the support desk's own account".into();
    p.attrmig(&ack).run().ok();
    p.attrmig(["advance", ID]).run().ok();
}

/// More rows only in new storage than one acknowledgement records: refused, and the
/// removal it names instead works.
#[test]
fn too_many_to_acknowledge_are_removed() {
    let db = TestDb::sqlite();
    let p = at_double_write(&db, 10);
    p.sql(
        "WITH RECURSIVE s(n) AS (SELECT 2001 UNION ALL SELECT n + 1 FROM s WHERE n < 3001) \
         INSERT INTO users_pii (user_id, full_name) SELECT n, 'stray' FROM s",
    );
    cross_check(&p, &["--max-report", "2000"]);
    let refused = p
        .attrmig(["acknowledge-extra", ID, "--note", "all of them"])
        .run()
        .code(3)
        .stderr;
    assert!(refused.contains("found 1001 rows only in new storage, more than one acknowledgement records (at most 1000 rows"), "{refused}");
    let sync = advised(&refused, "attrmig sync");
    p.attrmig(&sync)
        .run()
        .ok()
        .stdout_has("1001 rows only in new storage removed");
    cross_check(&p, &[]);
    p.attrmig(["advance", ID]).run().ok();
}
