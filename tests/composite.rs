//! Keys of several columns, end to end: a multi-tenant table keyed `(tenant_id, id)`,
//! where every id repeats in every tenant, walked through all ten steps (a sync killed
//! and resumed, mismatches planted and found, a sample, a late write) for a column and
//! for a JSON attribute; a link table refused by one column of its key and accepted by
//! both; data issues, their retry and rows only in new storage named by the whole key.

use std::process::Stdio;
use std::time::{Duration, Instant};

use attrmig_db::Backend;

use crate::support::*;

const ID: &str = "account-nicknames";
const TENANTS: i64 = 3;
const PER_TENANT: i64 = 400;
const ROWS: i64 = TENANTS * PER_TENANT;

/// `accounts(tenant_id, id, nickname)` to `account_nicknames(tenant_id, account_id,
/// nickname)`, the key's columns paired in order.
const COLUMN_PLAN: &str = r#"
description = "Move nickname out of accounts"
owners = ["tenancy-team"]

[old]
kind = "column"
table = "accounts"
key = ["tenant_id", "id"]
column = "nickname"

[new]
table = "account_nicknames"
key = ["tenant_id", "account_id"]
column = "nickname"

[sync]
batch_size = 37

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

/// The same attribute kept at `profile.nickname` in a JSON document.
const JSON_PLAN: &str = r#"
description = "Move profile.nickname out of accounts"
owners = ["tenancy-team"]

[old]
kind = "json"
table = "accounts"
key = ["tenant_id", "id"]
column = "profile"
path = "nickname"

[new]
table = "account_nicknames"
key = ["tenant_id", "account_id"]
column = "nickname"

[sync]
batch_size = 37

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Column,
    Json,
}

/// The old value of `(tenant, id)`.
fn nickname(tenant: i64, id: i64) -> String {
    format!("nick {tenant}-{id}")
}

/// Creates `accounts` with [`ROWS`] rows: ids 1..=PER_TENANT in each tenant.
fn accounts(p: &Project<'_>, kind: Kind) {
    let backend = p.db.backend();
    let (doc_type, int) = match backend {
        Backend::Sqlite => ("TEXT", "INTEGER"),
        Backend::Postgres => ("JSONB", "BIGINT"),
        Backend::Mysql => ("JSON", "BIGINT"),
    };
    let create = match kind {
        Kind::Column => format!(
            "CREATE TABLE accounts (tenant_id {int} NOT NULL, id {int} NOT NULL, nickname VARCHAR(255) NOT NULL, PRIMARY KEY (tenant_id, id))"
        ),
        Kind::Json => format!(
            "CREATE TABLE accounts (tenant_id {int} NOT NULL, id {int} NOT NULL, profile {doc_type}, PRIMARY KEY (tenant_id, id))"
        ),
    };
    p.sql(&create);
    let mut rows = Vec::new();
    for tenant in 1..=TENANTS {
        for id in 1..=PER_TENANT {
            let value = match kind {
                Kind::Column => format!("'{}'", nickname(tenant, id)),
                Kind::Json => format!("'{{\"nickname\": \"{}\", \"plan\": \"free\"}}'", nickname(tenant, id)),
            };
            rows.push(format!("({tenant}, {id}, {value})"));
        }
    }
    let column = if kind == Kind::Column { "nickname" } else { "profile" };
    p.sql(&format!(
        "INSERT INTO accounts (tenant_id, id, {column}) VALUES {}",
        rows.join(", ")
    ));
}

fn new_rows(p: &Project<'_>) -> i64 {
    p.count("SELECT COUNT(*) AS n FROM account_nicknames")
}

/// The mismatches' keys of a `--json cross-check`, in report order.
fn mismatch_keys(report: &serde_json::Value) -> Vec<String> {
    report["report"]["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_owned())
        .collect()
}

fn walk_all_ten_steps(db: &TestDb, kind: Kind) {
    let plan = if kind == Kind::Column { COLUMN_PLAN } else { JSON_PLAN };
    let p = Project::new(db).with_plan(ID, plan);
    accounts(&p, kind);

    // 1: the new table with the whole key as its primary key.
    let ddl = p.attrmig(["ddl", ID, "prepare-storage"]).run().ok();
    assert!(ddl.stdout.contains("PRIMARY KEY ("), "{}", ddl.stdout);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
    let show = p.attrmig(["--json", "show", ID]).run().ok().json();
    let keys_join = show["guards"].as_array().unwrap().iter().find(|g| g["name"] == "keys-join").unwrap().to_string();
    assert!(keys_join.contains("old key accounts(tenant_id ") && keys_join.contains("column by column"), "{keys_join}");
    p.attrmig(["advance", ID]).run().ok().stdout_has("0 planned → 1 prepare-storage");

    // 2, 3.
    p.attrmig(["cross-check", ID]).run().code(4).stdout_has(&format!("missing in new {ROWS}"));
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 7"]).run().ok();

    // 4: a sync killed mid-pass (SIGKILL), resumed from its checkpoint.
    let mut child = p
        .attrmig(["sync", ID, "--batch-size", "20", "--max-rows-per-second", "800"])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while new_rows(&p) < 300 {
        assert!(started.elapsed() < Duration::from_secs(60), "the sync made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = new_rows(&p);
    assert!(copied < ROWS, "killed mid-pass ({copied} rows copied)");
    let out = p.attrmig(["sync", ID]).run().ok();
    assert!(out.stdout.contains("sync pass 1 (resumed) done"), "{}", out.stdout);
    let visited: i64 = out.stdout.split(" keys visited").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(visited < ROWS, "resumed, not restarted: visited {visited}");
    assert_eq!(new_rows(&p), ROWS, "no row lost");
    // Every (tenant, id) once, with its own tenant's value: ids repeat across tenants.
    assert_eq!(
        p.count(
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT tenant_id, account_id FROM account_nicknames) d"
        ),
        ROWS
    );
    assert_eq!(
        p.count(&format!(
            "SELECT COUNT(*) AS n FROM account_nicknames WHERE tenant_id = 2 AND account_id = 7 AND nickname = '{}'",
            nickname(2, 7)
        )),
        1
    );
    p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");

    // Planted mismatches: a value that differs in one tenant only (the same id in the
    // others is right), a row missing, a row only in new storage.
    p.sql("UPDATE account_nicknames SET nickname = 'planted' WHERE tenant_id = 2 AND account_id = 7");
    p.sql("DELETE FROM account_nicknames WHERE tenant_id = 3 AND account_id = 5");
    p.sql("INSERT INTO account_nicknames (tenant_id, account_id, nickname) VALUES (9, 7, 'stray')");
    let report = p.attrmig(["--json", "cross-check", ID]).run().code(4).json();
    assert_eq!(mismatch_keys(&report), ["[2,7]", "[3,5]", "[9,7]"], "{report:#}");
    assert_eq!(
        (report["report"]["counts"]["differs"].as_u64(), report["report"]["counts"]["missing_in_new"].as_u64(), report["report"]["counts"]["extra_in_new"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{report:#}"
    );
    let text = p.attrmig(["cross-check", ID]).run().code(4);
    assert!(text.stdout.contains("[2,7]") && text.stdout.contains("planted"), "{}", text.stdout);
    // A sample of every key finds the two old keys that disagree (a sample draws from
    // old keys), and never a key twice.
    let sample = p.attrmig(["--json", "cross-check", ID, "--sample", "2000"]).run().code(4).json();
    let compared = sample["report"]["counts"]["matching"].as_u64().unwrap()
        + sample["report"]["counts"]["differs"].as_u64().unwrap()
        + sample["report"]["counts"]["missing_in_new"].as_u64().unwrap();
    assert_eq!(compared, ROWS as u64, "{sample:#}");
    assert_eq!(mismatch_keys(&sample), ["[2,7]", "[3,5]"], "{sample:#}");
    let sample = p.attrmig(["--json", "cross-check", ID, "--sample", "50"]).run().json();
    assert_eq!(sample["report"]["counts"]["matching"].as_u64().unwrap() + sample["report"]["counts"]["differs"].as_u64().unwrap() + sample["report"]["counts"]["missing_in_new"].as_u64().unwrap(), 50, "{sample:#}");

    // The sync repairs what it owns; the row only in new storage goes with --delete-extra.
    p.attrmig(["sync", ID]).run().ok();
    let report = p.attrmig(["--json", "cross-check", ID]).run().code(4).json();
    assert_eq!(mismatch_keys(&report), ["[9,7]"], "{report:#}");
    p.attrmig(["sync", ID, "--delete-extra"]).run().ok().stdout_has("1 row only in new storage removed");
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM account_nicknames WHERE tenant_id = 9"), 0);
    p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");
    p.attrmig(["advance", ID]).run().ok().stdout_has("3 double-write → 4 sync");

    // 5a, 5b, 6, 7, 8.
    for _ in 0..3 {
        p.attrmig(["advance", ID]).run().ok();
    }
    if kind == Kind::Column {
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"]).run().ok();
    }
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID]).run().ok();

    // 9: the old storage's fingerprint covers every (tenant, id).
    p.attrmig(["approve", ID]).actor("bob@example.com").run().ok();
    let out = p.attrmig(["--json", "advance", ID, "--confirm-point-of-no-return"]).run().ok().json();
    assert_eq!(out["entry"]["evidence"]["old_fingerprint"]["keys"], ROWS, "{out:#}");

    // 10: a late write to one tenant's row is caught; the same id elsewhere is not it.
    let late = match kind {
        Kind::Column => "UPDATE accounts SET nickname = 'late' WHERE tenant_id = 2 AND id = 9".to_owned(),
        Kind::Json => match db.backend() {
            Backend::Postgres => r#"UPDATE accounts SET profile = '{"nickname": "late"}' WHERE tenant_id = 2 AND id = 9"#.to_owned(),
            _ => r#"UPDATE accounts SET profile = '{"nickname": "late"}' WHERE tenant_id = 2 AND id = 9"#.to_owned(),
        },
    };
    p.sql(&late);
    p.attrmig(["advance", ID]).run().code(3).stderr_has("1 key(s) of old storage changed");
    let undo = match kind {
        Kind::Column => format!("UPDATE accounts SET nickname = '{}' WHERE tenant_id = 2 AND id = 9", nickname(2, 9)),
        Kind::Json => format!(
            "UPDATE accounts SET profile = '{{\"nickname\": \"{}\", \"plan\": \"free\"}}' WHERE tenant_id = 2 AND id = 9",
            nickname(2, 9)
        ),
    };
    p.sql(&undo);
    p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().ok();
    p.attrmig(["advance", ID]).run().ok().stdout_has("9 stop-writing-old → 10 drop-old");
    p.intact_log(ID);
    assert_eq!(new_rows(&p), ROWS, "new storage kept every row");
}

backend_tests! {
    fn a_multi_tenant_column_walks_all_ten_steps(db: &TestDb) {
        walk_all_ten_steps(db, Kind::Column);
    }

    fn a_multi_tenant_json_attribute_walks_all_ten_steps(db: &TestDb) {
        walk_all_ten_steps(db, Kind::Json);
    }
}
