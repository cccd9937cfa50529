//! State written by earlier releases keeps working: every committed fixture of a state
//! schema version is opened by this binary, read, and its audit chain verified.

use crate::support::*;

const ID: &str = "users-full-name";

#[test]
fn schema_v1_state_still_opens() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_plan(ID, USERS_PLAN);
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.sqlite");
    let app = p.path("app.db");
    std::fs::copy(&fixture, &app).unwrap();
    p.write(
        "attrmig.toml",
        "[environments.dev]\ndatabase_url = \"sqlite://app.db\"\n",
    );

    let log = p
        .attrmig(["--json", "log", ID, "--verify"])
        .run()
        .ok()
        .json();
    assert_eq!(log["verification"]["result"], "intact", "{log:#}");
    assert_eq!(log["entries"].as_array().unwrap().len(), 4);
    assert_eq!(log["position"], "2 cross-check");
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
}
