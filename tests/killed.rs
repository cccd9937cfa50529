//! A sync killed mid-pass (SIGKILL: no cleanup at all) resumes where it stopped, and
//! loses or duplicates no row.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

const ID: &str = "users-full-name";
const ROWS: usize = 3_000;

fn killed_and_resumed(db: &TestDb) {
    let p = Project::new(db).with_users(ROWS).with_plan(ID, USERS_PLAN);
    crate::walk::walk_to_double_write(&p);

    // Throttled so that it is surely mid-pass when killed.
    let mut child = p
        .attrmig([
            "sync",
            ID,
            "--batch-size",
            "50",
            "--max-rows-per-second",
            "1000",
        ])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while p.count("SELECT COUNT(*) AS n FROM users_pii") < 500 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sync made no progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = p.count("SELECT COUNT(*) AS n FROM users_pii");
    assert!(
        copied < ROWS as i64,
        "killed mid-pass ({copied} rows copied)"
    );

    let status = p.attrmig(["--json", "status"]).run().ok().json();
    assert!(
        status["migrations"][0]["blocked_by"]
            .to_string()
            .contains("sync")
    );
    // The same machine's dead holder does not block; the pass resumes from its checkpoint.
    let out = p.attrmig(["sync", ID]).run().ok();
    assert!(
        out.stdout.contains("sync pass 1 (resumed) done"),
        "{}",
        out.stdout
    );
    let resumed_visits = keys_visited(&out.stdout);
    assert!(
        resumed_visits < ROWS as u64,
        "resumed, not restarted: visited {resumed_visits}"
    );

    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM users_pii"),
        ROWS as i64,
        "no row lost"
    );
    assert_eq!(
        p.count("SELECT COUNT(DISTINCT user_id) AS n FROM users_pii"),
        ROWS as i64,
        "no row duplicated"
    );
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("3 double-write → 4 sync");
}

backend_tests! {
    fn a_killed_sync_resumes_from_its_checkpoint(db: &TestDb) {
        killed_and_resumed(db);
    }
}

backend_tests! {
    /// `sync --delete-extra` killed while it removes rows only in new storage (after the
    /// copy): the pass is interrupted, and `sync --delete-extra` resumes it, walks the new
    /// keys again and removes what is left.
    fn a_removal_killed_midway_resumes(db: &TestDb) {
        let p = Project::new(db).with_users(100).with_plan(ID, USERS_PLAN);
        crate::walk::walk_to_double_write(&p);
        let strays: Vec<String> = (1001..=1600).map(|k| format!("({k}, 'stray')")).collect();
        p.sql(&format!("INSERT INTO users_pii (user_id, full_name) VALUES {}", strays.join(", ")));
        let mut child = p
            .attrmig(["--json", "sync", ID, "--delete-extra", "--batch-size", "20", "--max-rows-per-second", "400"])
            .into_command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 1000") > 450 {
            assert!(started.elapsed() < Duration::from_secs(60), "the removal made no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let left = p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id > 1000");
        assert!(left > 0, "killed midway ({left} left)");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users_pii WHERE user_id <= 100"), 100, "the copy was done");
        let out = p.attrmig(["sync", ID, "--delete-extra"]).run().ok();
        assert!(out.stdout.contains("sync pass 1 (resumed) done"), "{}", out.stdout);
        assert!(out.stdout.contains(&format!("{} only in new storage removed", if left == 1 { "1 row".to_owned() } else { format!("{left} rows") })), "{}", out.stdout);
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");
        p.attrmig(["advance", ID]).run().ok();
    }
}

/// Old storage for a batched drop-old: `profiles(id, attrs)` documents holding
/// `full_name` (JSON), or `user_attributes(user_id, name, value)` rows (EAV), made from
/// `users`.
fn batched_drop_plan(p: &Project<'_>, json: bool) -> String {
    let b = p.db.backend();
    if json {
        let (ty, object) = match b {
            attrmig_db::Backend::Sqlite => {
                ("TEXT", "json_object('full_name', full_name, 'age', id)")
            }
            attrmig_db::Backend::Postgres => (
                "JSONB",
                "jsonb_build_object('full_name', full_name, 'age', id)",
            ),
            attrmig_db::Backend::Mysql => {
                ("JSON", "JSON_OBJECT('full_name', full_name, 'age', id)")
            }
        };
        p.sql(&format!(
            "CREATE TABLE profiles (id BIGINT NOT NULL PRIMARY KEY, attrs {ty});
             INSERT INTO profiles (id, attrs) SELECT id, {object} FROM users;"
        ));
        "[old]\nkind = \"json\"\ntable = \"profiles\"\nkey = \"id\"\ncolumn = \"attrs\"\npath = \"full_name\"\n".to_owned()
    } else {
        p.sql(
            "CREATE TABLE user_attributes (user_id BIGINT NOT NULL, name VARCHAR(64) NOT NULL, value VARCHAR(255), PRIMARY KEY (user_id, name));
             INSERT INTO user_attributes (user_id, name, value) SELECT id, 'full_name', full_name FROM users;
             INSERT INTO user_attributes (user_id, name, value) SELECT id, 'nickname', 'nick' FROM users;",
        );
        "[old]\nkind = \"eav\"\ntable = \"user_attributes\"\nkey = \"user_id\"\nname_column = \"name\"\nname = \"full_name\"\nvalue_column = \"value\"\n".to_owned()
    }
}

/// Old keys still holding the attribute.
fn attribute_rows(p: &Project<'_>, json: bool) -> i64 {
    if !json {
        return p.count("SELECT COUNT(*) AS n FROM user_attributes WHERE name = 'full_name'");
    }
    p.count(match p.db.backend() {
        attrmig_db::Backend::Sqlite => "SELECT COUNT(*) AS n FROM profiles WHERE json_type(attrs, '$.full_name') IS NOT NULL",
        attrmig_db::Backend::Postgres => "SELECT COUNT(*) AS n FROM profiles WHERE attrs ? 'full_name'",
        attrmig_db::Backend::Mysql => "SELECT COUNT(*) AS n FROM profiles WHERE JSON_CONTAINS_PATH(attrs, 'one', '$.full_name')",
    })
}

/// A batched drop-old (JSON or EAV) killed mid-way goes on from its checkpoint when run
/// again, and the rest of old storage is left alone.
fn batched_drop_killed_and_resumed(db: &TestDb, json: bool) {
    let p = Project::new(db).with_users(ROWS);
    let old = batched_drop_plan(&p, json);
    let plan = format!(
        "{old}[new]\ntable = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"\n\
         [sync]\nbatch_size = 50\nmax_rows_per_second = 1500\n[guards]\nsoak = \"0s\"\nmax_check_age = \"1h\"\napprovals = 0\n"
    );
    let p = p.with_plan(ID, &plan);
    crate::walk::walk_to_nine(&p);
    let printed = p.attrmig(["ddl", ID, "drop-old"]).run().ok();
    assert!(
        printed.stdout.contains("keyset batches of 50 keys"),
        "{}",
        printed.stdout
    );

    let mut child = p
        .attrmig(["ddl", ID, "drop-old", "--apply"])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while attribute_rows(&p, json) > (ROWS as i64) - 600 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the drop made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = attribute_rows(&p, json);
    assert!(left > 0, "killed mid-way ({left} left)");

    // Nothing else moves while the drop is half done; running it again goes on.
    p.attrmig(["advance", ID]).run().code(3).stderr_has("stopped mid-way; run `attrmig ddl users-full-name drop-old --apply` again: it goes on from its checkpoint");
    let out = p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().ok();
    let rows: i64 = out
        .stdout
        .split(" row(s) this run")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{}", out.stdout));
    assert!(
        rows <= left + 50,
        "resumed, not restarted: {rows} rows this run, {left} were left\n{}",
        out.stdout
    );
    assert_eq!(attribute_rows(&p, json), 0, "the attribute is gone");
    if json {
        assert_eq!(
            p.count("SELECT COUNT(*) AS n FROM profiles"),
            ROWS as i64,
            "the documents stay"
        );
    } else {
        assert_eq!(
            p.count("SELECT COUNT(*) AS n FROM user_attributes WHERE name = 'nickname'"),
            ROWS as i64,
            "other attributes stay"
        );
    }
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("9 stop-writing-old → 10 drop-old");
    let log = p.intact_log(ID);
    let ddl = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "ddl")
        .unwrap()
        .clone();
    assert_eq!(ddl["evidence"]["in_batches"]["resumed"], true, "{ddl:#}");
}

backend_tests! {
    fn a_killed_json_drop_old_resumes_from_its_checkpoint(db: &TestDb) {
        batched_drop_killed_and_resumed(db, true);
    }

    fn a_killed_eav_drop_old_resumes_from_its_checkpoint(db: &TestDb) {
        batched_drop_killed_and_resumed(db, false);
    }
}
