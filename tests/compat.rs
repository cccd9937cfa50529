//! State written by earlier releases keeps working: every committed fixture of a state
//! schema version is opened by this binary (which upgrades it to its own version), read,
//! its audit chain verified, and the migration in it moved on.

use crate::support::*;

const ID: &str = "users-full-name";

/// A project whose application database is a copy of `tests/fixtures/<fixture>`.
fn from_fixture<'a>(db: &'a TestDb, fixture: &str) -> Project<'a> {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    std::fs::copy(&fixture, db.dir().join("app.db")).unwrap();
    Project::new(db).with_plan(ID, USERS_PLAN)
}

/// `log --verify` finds the chain intact, `entries` long, ending at `position`.
fn verified(p: &Project<'_>, entries: usize, position: &str) {
    let log = p
        .attrmig(["--json", "log", ID, "--verify"])
        .run()
        .ok()
        .json();
    assert_eq!(log["verification"]["result"], "intact", "{log:#}");
    assert_eq!(log["entries"].as_array().unwrap().len(), entries);
    assert_eq!(log["position"], position);
}

/// The state schema version in the fixture's copy now.
fn schema_version(p: &Project<'_>) -> i64 {
    p.count("SELECT version AS n FROM attrmig_schema")
}

#[test]
fn schema_v1_state_still_opens() {
    let db = TestDb::sqlite();
    let p = from_fixture(&db, "state-v1.sqlite");
    assert_eq!(schema_version(&p), 1);

    verified(&p, 4, "2 cross-check");
    // Opening it upgraded it.
    assert_eq!(
        schema_version(&p),
        i64::from(attrmig_store::setup::SCHEMA_VERSION)
    );
    p.attrmig(["show", ID])
        .run()
        .ok()
        .stdout_has("← current")
        .stdout_has("reviewer@example.com");
    // Opening it upgraded it to this binary's schema: the fleet's reports table exists.
    p.attrmig(["fleet", ID])
        .run()
        .ok()
        .stdout_has("users-full-name at 2 cross-check: not observed");
    // And it can still move: the recorded storage fingerprint matches today's plan.
    p.attrmig(["advance", ID, "--note", "release 2"])
        .run()
        .ok()
        .stdout_has("2 cross-check → 3 double-write");
    // The upgraded tables take a pass (its lease, token and checkpoint) and a report.
    p.attrmig(["sync", ID])
        .run()
        .ok()
        .stdout_has("sync pass 1 done");
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
}

/// `tests/fixtures/state-v2.sqlite`: the migration at 3 double-write, a completed sync
/// pass (owned by its runner's token), a data issue whose 6 KB old value was stored cut,
/// keyed by its key's hash, and two cross-checks, the second reporting the cut value.
#[test]
fn schema_v2_state_still_opens() {
    let db = TestDb::sqlite();
    let p = from_fixture(&db, "state-v2.sqlite");
    assert_eq!(schema_version(&p), 2);

    verified(&p, 4, "3 double-write");
    assert_eq!(
        schema_version(&p),
        i64::from(attrmig_store::setup::SCHEMA_VERSION)
    );
    // Exit 4: an issue is open.
    let issues = p
        .attrmig(["--json", "data-issues", ID])
        .run()
        .code(4)
        .json();
    let issue = &issues["issues"][0];
    assert_eq!(issue["key"], "7", "{issues:#}");
    assert!(
        issue["old_value"]
            .as_str()
            .unwrap()
            .contains("…[cut: 4096 of 6021 bytes shown, sha256 "),
        "{issue:#}"
    );

    // It moves on: the data fixed, the issue found by its stored key hash and resolved,
    // the pass run again, and 4 reached.
    p.sql("UPDATE users SET full_name = 'name 7' WHERE id = 7");
    let retried = p
        .attrmig(["--json", "data-issues", ID, "--retry"])
        .run()
        .ok()
        .json();
    assert_eq!(retried["fixed"], serde_json::json!(["7"]), "{retried:#}");
    p.attrmig(["sync", ID]).run().ok();
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("3 double-write → 4 sync");
}

/// `tests/fixtures/state-v3.sqlite`: the migration at 4 sync (five audit entries, an
/// approval by reviewer@example.com), and one instance's report in the fleet's table,
/// written by attrmig-app's `sync_app` example: pinned to 5a, three compared reads, one
/// persistent mismatch of key 3 in its sample.
#[test]
fn schema_v3_state_still_opens() {
    let db = TestDb::sqlite();
    let p = from_fixture(&db, "state-v3.sqlite");
    assert_eq!(schema_version(&p), 3);

    verified(&p, 5, "4 sync");
    assert_eq!(
        schema_version(&p),
        i64::from(attrmig_store::setup::SCHEMA_VERSION)
    );
    // The report reads back: the instance, its pin, its counts and its mismatch sample.
    let fleet = p.attrmig(["--json", "fleet", ID]).run().ok().json();
    let instance = &fleet["migrations"][0]["instances"][0];
    assert_eq!(instance["id"], "vm-4319-3fcda3", "{fleet:#}");
    assert_eq!(instance["pinned"], true, "{fleet:#}");
    assert_eq!(instance["step"], "double-read-old", "{fleet:#}");
    assert_eq!(instance["counters"]["compared"], 3, "{fleet:#}");
    assert_eq!(instance["mismatches"][0]["key"], "3", "{fleet:#}");
    // Long gone by now: its last report is older than the instance_ttl.
    assert_eq!(instance["live"], false, "{fleet:#}");

    // And it moves on: the plan is not observed, so 5a rests on the cross-check.
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("4 sync → 5a double-read-old");
}

/// `tests/fixtures/state-v3-past-9.sqlite`: schema 3, the migration at 9 stop-writing-old
/// with schema 3's fingerprint (a digest per key, 20 keys) and no late-write trigger.
/// Upgraded to the current schema, it is still checked key by key: a late write is
/// named, and once old storage is put back as it was at 9 the drop goes ahead.
#[test]
fn schema_v3_past_nine_is_still_checked_key_by_key() {
    let db = TestDb::sqlite();
    let p = from_fixture(&db, "state-v3-past-9.sqlite");
    assert_eq!(schema_version(&p), 3);
    verified(&p, 13, "9 stop-writing-old");
    assert_eq!(
        schema_version(&p),
        i64::from(attrmig_store::setup::SCHEMA_VERSION)
    );
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM attrmig_old_fingerprints"),
        20
    );
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_old_ranges"), 0);

    p.sql("UPDATE users SET full_name = 'written too late' WHERE id = 3; INSERT INTO users (id) VALUES (21)");
    let json = p
        .attrmig(["--json", "ddl", ID, "drop-old", "--apply"])
        .run()
        .code(3)
        .json();
    let refusal = &json["error"]["refusal"];
    assert_eq!(refusal["code"], "late-writes", "{json:#}");
    assert_eq!(refusal["changed"], 1, "{json:#}");
    assert_eq!(refusal["keys"][0]["key"], "3", "{json:#}");
    p.sql("UPDATE users SET full_name = 'name 3' WHERE id = 3");
    p.attrmig(["ddl", ID, "drop-old", "--apply"])
        .run()
        .ok()
        .stdout_has("(0 keys changed)");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("9 stop-writing-old → 10 drop-old");
}

/// `tests/fixtures/state-v4.sqlite`: schema 4, the migration at 9 stop-writing-old with
/// its range digests (one range, 20 keys) and the late-write trigger, which logged one
/// write of key 5 made after 9 with the `sqlite3` shell. It opens, the late write is
/// named from the log, and accepting exactly it lets the drop go ahead.
#[test]
fn schema_v4_state_still_opens() {
    let db = TestDb::sqlite();
    let p = from_fixture(&db, "state-v4.sqlite");
    assert_eq!(schema_version(&p), 4);
    verified(&p, 13, "9 stop-writing-old");
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_old_ranges"), 1);
    let json = p
        .attrmig(["--json", "ddl", ID, "drop-old", "--apply"])
        .run()
        .code(3)
        .json();
    let refusal = &json["error"]["refusal"];
    assert_eq!(refusal["code"], "late-writes", "{json:#}");
    assert_eq!(refusal["keys"][0]["key"], "5", "{json:#}");
    assert!(refusal["keys"][0]["at"].is_string(), "{json:#}");
    let token = refusal["token"].as_str().unwrap();
    p.attrmig([
        "ddl",
        ID,
        "drop-old",
        "--apply",
        "--accept-late-writes",
        token,
        "--note",
        "key 5 rewritten by hand in the fixture; nothing to keep",
    ])
    .run()
    .ok()
    .stdout_has("DROP COLUMN");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("9 stop-writing-old → 10 drop-old");
}
