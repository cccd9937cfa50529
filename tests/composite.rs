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
                Kind::Json => format!(
                    "'{{\"nickname\": \"{}\", \"plan\": \"free\"}}'",
                    nickname(tenant, id)
                ),
            };
            rows.push(format!("({tenant}, {id}, {value})"));
        }
    }
    let column = if kind == Kind::Column {
        "nickname"
    } else {
        "profile"
    };
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
    let plan = if kind == Kind::Column {
        COLUMN_PLAN
    } else {
        JSON_PLAN
    };
    let p = Project::new(db).with_plan(ID, plan);
    accounts(&p, kind);

    // 1: the new table with the whole key as its primary key.
    let ddl = p.attrmig(["ddl", ID, "prepare-storage"]).run().ok();
    assert!(ddl.stdout.contains("PRIMARY KEY ("), "{}", ddl.stdout);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    let show = p.attrmig(["--json", "show", ID]).run().ok().json();
    let keys_join = show["guards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "keys-join")
        .unwrap()
        .to_string();
    assert!(
        keys_join.contains("old key accounts(tenant_id ") && keys_join.contains("column by column"),
        "{keys_join}"
    );
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("0 planned → 1 prepare-storage");

    // 2, 3.
    p.attrmig(["cross-check", ID])
        .run()
        .code(4)
        .stdout_has(&format!("missing in new {ROWS}"));
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 7"]).run().ok();

    // 4: a sync killed mid-pass (SIGKILL), resumed from its checkpoint.
    let mut child = p
        .attrmig([
            "sync",
            ID,
            "--batch-size",
            "20",
            "--max-rows-per-second",
            "800",
        ])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while new_rows(&p) < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = new_rows(&p);
    assert!(copied < ROWS, "killed mid-pass ({copied} rows copied)");
    let out = p.attrmig(["sync", ID]).run().ok();
    assert!(
        out.stdout.contains("sync pass 1 (resumed) done"),
        "{}",
        out.stdout
    );
    let visited = keys_visited(&out.stdout);
    assert!(
        visited < ROWS as u64,
        "resumed, not restarted: visited {visited}"
    );
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
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");

    // Planted mismatches: a value that differs in one tenant only (the same id in the
    // others is right), a row missing, a row only in new storage.
    p.sql(
        "UPDATE account_nicknames SET nickname = 'planted' WHERE tenant_id = 2 AND account_id = 7",
    );
    p.sql("DELETE FROM account_nicknames WHERE tenant_id = 3 AND account_id = 5");
    p.sql("INSERT INTO account_nicknames (tenant_id, account_id, nickname) VALUES (9, 7, 'stray')");
    let report = p
        .attrmig(["--json", "cross-check", ID])
        .run()
        .code(4)
        .json();
    assert_eq!(
        mismatch_keys(&report),
        ["[2,7]", "[3,5]", "[9,7]"],
        "{report:#}"
    );
    assert_eq!(
        (
            report["report"]["counts"]["differs"].as_u64(),
            report["report"]["counts"]["missing_in_new"].as_u64(),
            report["report"]["counts"]["extra_in_new"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{report:#}"
    );
    let text = p.attrmig(["cross-check", ID]).run().code(4);
    assert!(
        text.stdout.contains("[2,7]") && text.stdout.contains("planted"),
        "{}",
        text.stdout
    );
    // A sample of every key finds the two old keys that disagree (a sample draws from
    // old keys), and never a key twice.
    let sample = p
        .attrmig(["--json", "cross-check", ID, "--sample", "2000"])
        .run()
        .code(4)
        .json();
    let compared = sample["report"]["counts"]["matching"].as_u64().unwrap()
        + sample["report"]["counts"]["differs"].as_u64().unwrap()
        + sample["report"]["counts"]["missing_in_new"]
            .as_u64()
            .unwrap();
    assert_eq!(compared, ROWS as u64, "{sample:#}");
    assert_eq!(mismatch_keys(&sample), ["[2,7]", "[3,5]"], "{sample:#}");
    let sample = p
        .attrmig(["--json", "cross-check", ID, "--sample", "50"])
        .run()
        .json();
    assert_eq!(
        sample["report"]["counts"]["matching"].as_u64().unwrap()
            + sample["report"]["counts"]["differs"].as_u64().unwrap()
            + sample["report"]["counts"]["missing_in_new"]
                .as_u64()
                .unwrap(),
        50,
        "{sample:#}"
    );

    // The sync repairs what it owns; the row only in new storage goes with --delete-extra.
    p.attrmig(["sync", ID]).run().ok();
    let report = p
        .attrmig(["--json", "cross-check", ID])
        .run()
        .code(4)
        .json();
    assert_eq!(mismatch_keys(&report), ["[9,7]"], "{report:#}");
    p.attrmig(["sync", ID, "--delete-extra"])
        .run()
        .ok()
        .stdout_has("1 row only in new storage removed");
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM account_nicknames WHERE tenant_id = 9"),
        0
    );
    p.attrmig(["cross-check", ID])
        .run()
        .ok()
        .stdout_has("old and new agree");
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("3 double-write → 4 sync");

    // 5a, 5b, 6, 7, 8.
    for _ in 0..3 {
        p.attrmig(["advance", ID]).run().ok();
    }
    if kind == Kind::Column {
        p.attrmig(["ddl", ID, "prepare-old-stop", "--apply"])
            .run()
            .ok();
    }
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID]).run().ok();

    // 9: the old storage's fingerprint covers every (tenant, id).
    p.attrmig(["approve", ID])
        .actor("bob@example.com")
        .run()
        .ok();
    let out = p
        .attrmig(["--json", "advance", ID, "--confirm-point-of-no-return"])
        .run()
        .ok()
        .json();
    assert_eq!(
        out["entry"]["evidence"]["old_fingerprint"]["keys"], ROWS,
        "{out:#}"
    );

    // 10: a late write to one tenant's row is caught; the same id elsewhere is not it.
    let late = match kind {
        Kind::Column => "UPDATE accounts SET nickname = 'late' WHERE tenant_id = 2 AND id = 9".to_owned(),
        Kind::Json => match db.backend() {
            Backend::Postgres => r#"UPDATE accounts SET profile = '{"nickname": "late"}' WHERE tenant_id = 2 AND id = 9"#.to_owned(),
            _ => r#"UPDATE accounts SET profile = '{"nickname": "late"}' WHERE tenant_id = 2 AND id = 9"#.to_owned(),
        },
    };
    p.sql(&late);
    p.attrmig(["advance", ID])
        .run()
        .code(3)
        .stderr_has("1 key of old storage written since")
        .stderr_has("\"[2,9]\" (at ");
    let undo = match kind {
        Kind::Column => format!(
            "UPDATE accounts SET nickname = '{}' WHERE tenant_id = 2 AND id = 9",
            nickname(2, 9)
        ),
        Kind::Json => format!(
            "UPDATE accounts SET profile = '{{\"nickname\": \"{}\", \"plan\": \"free\"}}' WHERE tenant_id = 2 AND id = 9",
            nickname(2, 9)
        ),
    };
    p.sql(&undo);
    p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().ok();
    p.attrmig(["advance", ID])
        .run()
        .ok()
        .stdout_has("9 stop-writing-old → 10 drop-old");
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

/// `accounts` as [`accounts`] makes it, and `account_nicknames` by hand with a CHECK
/// that rejects the value `rejected`; steps 0 to 3.
fn at_double_write_with_a_check(db: &TestDb) -> Project<'_> {
    let p = Project::new(db).with_plan(ID, COLUMN_PLAN);
    accounts(&p, Kind::Column);
    p.sql(
        "CREATE TABLE account_nicknames (tenant_id BIGINT NOT NULL, account_id BIGINT NOT NULL, nickname VARCHAR(255) CHECK (nickname <> 'rejected'), PRIMARY KEY (tenant_id, account_id))",
    );
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 7"]).run().ok();
    p
}

backend_tests! {
    /// Rows the new storage rejects are recorded by their whole key, listed and re-driven
    /// in key order (tenant first); rows only in new storage are acknowledged by it.
    fn data_issues_and_extra_rows_are_named_by_the_whole_key(db: &TestDb) {
        let p = at_double_write_with_a_check(db);
        // The same id in two tenants: only one of them is rejected each time.
        p.sql("UPDATE accounts SET nickname = 'rejected' WHERE (tenant_id = 2 AND id = 7) OR (tenant_id = 1 AND id = 12) OR (tenant_id = 1 AND id = 100)");
        p.attrmig(["sync", ID]).run().ok().stdout_has("3 rejected");
        let issues = p.attrmig(["--json", "data-issues", ID]).run().code(4).json();
        let keys: Vec<&str> = issues["issues"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["[1,12]", "[1,100]", "[2,7]"], "{issues:#}");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM account_nicknames WHERE account_id = 7"), TENANTS - 1, "tenants 1 and 3 copied");
        p.attrmig(["data-issues", ID]).run().code(4).stdout_has("[2,7]");

        // Two fixed at the source: those resolve, in key order; the third stays.
        p.sql("UPDATE accounts SET nickname = 'fixed' WHERE (tenant_id = 2 AND id = 7) OR (tenant_id = 1 AND id = 100)");
        let retried = p.attrmig(["--json", "data-issues", ID, "--retry"]).run().code(4).json();
        assert_eq!(retried["fixed"], serde_json::json!(["[1,100]", "[2,7]"]), "{retried:#}");
        assert_eq!(retried["unresolved"], serde_json::json!(1), "{retried:#}");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM account_nicknames WHERE tenant_id = 2 AND account_id = 7 AND nickname = 'fixed'"), 1);
        p.sql("UPDATE accounts SET nickname = 'fixed' WHERE tenant_id = 1 AND id = 12");
        p.attrmig(["data-issues", ID, "--retry"]).run().ok();
        p.attrmig(["cross-check", ID]).run().ok().stdout_has("old and new agree");

        // A row only in new storage, acknowledged by its whole key.
        p.sql("INSERT INTO account_nicknames (tenant_id, account_id, nickname) VALUES (9, 12, 'kept')");
        let run = p.attrmig(["--json", "cross-check", ID]).run().code(4).json()["report"]["run"].as_i64().unwrap();
        p.attrmig(["acknowledge-extra", ID, "--run", &run.to_string(), "--note", "tenant 9 is the support sandbox"])
            .run()
            .ok()
            .stdout_has("(key [9,12])");
        p.attrmig(["advance", ID]).run().ok().stdout_has("3 double-write → 4 sync");
    }

    /// A sample of a table whose tenants differ in size is uniform over rows, not over
    /// tenants: 100 of 1,010 rows, where the small tenant's 10 rows all disagree, draws
    /// about one of them (all ten would take about one chance in 10^10).
    fn a_sample_is_uniform_over_rows_of_all_tenants(db: &TestDb) {
        let p = Project::new(db).with_plan(ID, COLUMN_PLAN);
        p.sql("CREATE TABLE accounts (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL, nickname VARCHAR(255) NOT NULL, PRIMARY KEY (tenant_id, id))");
        let mut rows: Vec<String> = (1..=1000).map(|id| format!("(1, {id}, 'n{id}')")).collect();
        rows.extend((1..=10).map(|id| format!("(2, {id}, 'n{id}')")));
        p.sql(&format!("INSERT INTO accounts (tenant_id, id, nickname) VALUES {}", rows.join(", ")));
        p.attrmig(["ddl", ID, "prepare-storage", "--apply"]).run().ok();
        p.sql("INSERT INTO account_nicknames (tenant_id, account_id, nickname) SELECT tenant_id, id, nickname FROM accounts");
        p.sql("UPDATE account_nicknames SET nickname = 'planted' WHERE tenant_id = 2");
        let sample = p.attrmig(["--json", "cross-check", ID, "--sample", "100", "--max-report", "100"]).run().json();
        let counts = &sample["report"]["counts"];
        assert_eq!(counts["matching"].as_u64().unwrap() + counts["differs"].as_u64().unwrap(), 100, "{sample:#}");
        let keys = mismatch_keys(&sample);
        assert!(keys.len() < 10, "a sample over tenants, not rows: {keys:?}");
        assert!(keys.iter().all(|k| k.starts_with("[2,")), "{keys:?}");
    }

    /// Sakila's `film_actor`: planned by one column of its key it is refused, naming the
    /// key and how to plan it; planned as the refusal says, it is accepted and copied.
    fn a_link_table_is_accepted_by_its_whole_key(db: &TestDb) {
        let one = r#"
[old]
kind = "column"
table = "film_actor"
key = "actor_id"
column = "last_update"

[new]
table = "film_actor_meta"
key = "actor_id"
column = "last_update"
"#;
        let p = Project::new(db).with_plan("film-actor", one);
        p.sql(
            "CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL, last_update VARCHAR(40), PRIMARY KEY (actor_id, film_id));
             INSERT INTO film_actor VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c'), (2, 2, 'd');",
        );
        let refused = p.attrmig(["advance", "film-actor"]).run().code(3).stderr;
        assert!(refused.contains("old key `film_actor.actor_id` is not unique: the table's key is (actor_id, film_id)"), "{refused}");
        assert!(refused.contains(r#"plan `key = ["actor_id", "film_id"]`"#), "{refused}");
        let both = one
            .replacen(r#"key = "actor_id""#, r#"key = ["actor_id", "film_id"]"#, 2);
        p.write("plans/film-actor.toml", &both);
        let ddl = p.attrmig(["ddl", "film-actor", "prepare-storage"]).run().ok().stdout;
        assert!(ddl.contains("PRIMARY KEY ("), "{ddl}");
        p.attrmig(["ddl", "film-actor", "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", "film-actor"]).run().ok().stdout_has("0 planned → 1 prepare-storage");
        p.attrmig(["cross-check", "film-actor"]).run();
        p.attrmig(["advance", "film-actor"]).run().ok();
        p.attrmig(["advance", "film-actor", "--note", "release 1"]).run().ok();
        p.attrmig(["sync", "film-actor"]).run().ok().stdout_has("4 rows written");
        p.attrmig(["cross-check", "film-actor"]).run().ok().stdout_has("old and new agree");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM film_actor_meta WHERE actor_id = 1"), 2);
    }
}

backend_tests! {
    /// A key of three columns, one of them text holding a quote and a comma: keyset
    /// batches of 4 visit every key once in key order (on MySQL/MariaDB the comparison
    /// is written out column by column), and keys read back as one JSON array each.
    fn a_key_of_three_columns_with_text_batches_in_key_order(db: &TestDb) {
        let plan = r#"
[old]
kind = "column"
table = "shards"
key = ["region", "tenant_id", "id"]
column = "note"

[new]
table = "shard_notes"
key = ["region", "tenant_id", "shard_id"]
column = "note"

[sync]
batch_size = 4

[guards]
soak = "0s"
max_check_age = "1h"
"#;
        let p = Project::new(db).with_plan("shards", plan);
        p.sql("CREATE TABLE shards (region VARCHAR(20) NOT NULL, tenant_id INT NOT NULL, id INT NOT NULL, note VARCHAR(40) NOT NULL, PRIMARY KEY (region, tenant_id, id))");
        let mut rows = Vec::new();
        for region in ["eu", "us", "x\"y,z"] {
            for tenant in 1..=3 {
                for id in 1..=5 {
                    rows.push(format!("('{region}', {tenant}, {id}, 'note {tenant}.{id}')"));
                }
            }
        }
        p.sql(&format!("INSERT INTO shards (region, tenant_id, id, note) VALUES {}", rows.join(", ")));
        p.attrmig(["ddl", "shards", "prepare-storage", "--apply"]).run().ok();
        p.attrmig(["advance", "shards"]).run().ok();
        p.attrmig(["cross-check", "shards"]).run();
        p.attrmig(["advance", "shards"]).run().ok();
        p.attrmig(["advance", "shards", "--note", "release 1"]).run().ok();
        p.attrmig(["sync", "shards"]).run().ok().stdout_has("45 keys visited, 45 rows written, 0 rejected");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM shard_notes"), 45);
        p.sql("UPDATE shard_notes SET note = 'planted' WHERE region = 'x\"y,z' AND tenant_id = 2 AND shard_id = 4");
        let report = p.attrmig(["--json", "cross-check", "shards"]).run().code(4).json();
        assert_eq!(mismatch_keys(&report), [r#"["x\"y,z",2,4]"#], "{report:#}");
        p.attrmig(["sync", "shards"]).run().ok().stdout_has("1 row written");
        p.attrmig(["cross-check", "shards"]).run().ok().stdout_has("old and new agree");
    }
}

backend_tests! {
    /// An EAV table whose entity is `(tenant_id, user_id)`: an entity with two rows of the
    /// attribute is named by its whole key (the same user id in another tenant is not
    /// one); once it is gone, the attribute's rows are copied and agree.
    fn an_eav_entity_of_two_columns(db: &TestDb) {
        let plan = r#"
[old]
kind = "eav"
table = "tenant_attributes"
key = ["tenant_id", "user_id"]
name_column = "name"
name = "nickname"
value_column = "value"

[new]
table = "tenant_nicknames"
key = ["tenant_id", "user_id"]
column = "nickname"
"#;
        let p = Project::new(db).with_plan("eav-tenants", plan);
        p.sql("CREATE TABLE tenant_attributes (tenant_id INT NOT NULL, user_id INT NOT NULL, name VARCHAR(40) NOT NULL, value VARCHAR(255))");
        p.sql("INSERT INTO tenant_attributes VALUES (1, 7, 'nickname', 'a'), (2, 7, 'nickname', 'b'), (2, 7, 'nickname', 'b2'), (2, 7, 'email', 'x'), (3, 7, 'nickname', 'c'), (3, 8, 'nickname', 'd')");
        p.sql("CREATE TABLE tenant_nicknames (tenant_id INT NOT NULL, user_id INT NOT NULL, nickname VARCHAR(255), PRIMARY KEY (tenant_id, user_id))");
        p.attrmig(["advance", "eav-tenants"])
            .run()
            .code(3)
            .stderr_has("1 entity of `tenant_attributes` has more than one `nickname` row (key [2,7])")
            .stderr_has("a unique key on (tenant_id, user_id, name)");
        p.sql("DELETE FROM tenant_attributes WHERE value = 'b2'");
        p.attrmig(["advance", "eav-tenants"]).run().ok();
        p.attrmig(["cross-check", "eav-tenants"]).run();
        p.attrmig(["advance", "eav-tenants"]).run().ok();
        p.attrmig(["advance", "eav-tenants", "--note", "release 1"]).run().ok();
        p.attrmig(["sync", "eav-tenants"]).run().ok().stdout_has("4 rows written");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM tenant_nicknames WHERE tenant_id = 2 AND user_id = 7 AND nickname = 'b'"), 1);
        p.attrmig(["cross-check", "eav-tenants"]).run().ok().stdout_has("old and new agree");
    }
}

/// `init --old-key a,b` writes a plan with a key of several columns, which validates;
/// keys of different lengths are a usage error.
#[test]
fn init_writes_a_key_of_several_columns() {
    let db = TestDb::sqlite();
    let p = Project::new(&db);
    p.attrmig([
        "init",
        ID,
        "--old",
        "accounts.nickname",
        "--new",
        "account_nicknames.nickname",
        "--old-key",
        "tenant_id,id",
        "--new-key",
        "tenant_id,account_id",
    ])
    .run()
    .ok();
    let text = std::fs::read_to_string(p.path(&format!("plans/{ID}.toml"))).unwrap();
    assert!(text.contains(r#"key = ["tenant_id", "id"]"#), "{text}");
    assert!(
        text.contains(r#"key = ["tenant_id", "account_id"]"#),
        "{text}"
    );
    p.attrmig(["validate"]).run().ok();
    p.attrmig([
        "init",
        "other",
        "--old",
        "accounts.nickname",
        "--new",
        "account_nicknames.nickname",
        "--old-key",
        "tenant_id,id",
        "--new-key",
        "account_id",
    ])
    .run()
    .code(2)
    .stderr_has("--new-key names 1 column(s) and --old-key 2: they pair up in order");
}

backend_tests! {
    /// A unique index over a column that allows NULL names no row where it holds NULL
    /// (every backend lets such rows repeat): refused, saying which column; accepted
    /// once it is NOT NULL.
    fn a_unique_key_with_a_column_that_allows_null_is_refused(db: &TestDb) {
        let p = Project::new(db).with_plan(ID, COLUMN_PLAN);
        p.sql("CREATE TABLE accounts (tenant_id INT, id INT NOT NULL, nickname VARCHAR(255) NOT NULL)");
        p.sql("CREATE UNIQUE INDEX accounts_key ON accounts (tenant_id, id)");
        p.sql("INSERT INTO accounts VALUES (NULL, 1, 'a'), (NULL, 1, 'b')");
        p.sql("CREATE TABLE account_nicknames (tenant_id INT NOT NULL, account_id INT NOT NULL, nickname VARCHAR(255), PRIMARY KEY (tenant_id, account_id))");
        p.attrmig(["advance", ID])
            .run()
            .code(3)
            .stderr_has("old key `accounts(tenant_id, id)` is not unique")
            .stderr_has("make `tenant_id` NOT NULL: a unique index lets rows with NULL in it repeat");
    }
}
