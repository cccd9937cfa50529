//! Plan parsing: the good shapes, and one bad plan per class of error, each reported with
//! file, line and key.

use std::path::Path;

use attrmig_core::plan::{CodeRef, OldStorage};
use attrmig_plan::{parse_config, parse_plan, render_plan};

const GOOD: &str = r#"
description = "Move full_name out of users into users_pii"
owners = ["identity-team"]

[old]                 # kind = "column" | "json" | "eav"
kind = "column"
table = "users"
key = "id"
column = "full_name"

[new]
table = "users_pii"
key = "user_id"
column = "full_name"

[sync]
batch_size = 10000
max_rows_per_second = 0      # 0: unthrottled

[guards]
soak = "7d"
max_check_age = "24h"
approvals = 1

[tools]
paths = ["scripts/backfill_full_name.py"]
"#;

fn parse(text: &str) -> Result<attrmig_core::Plan, String> {
    parse_plan(
        "users-full-name",
        Path::new("plans/users-full-name.toml"),
        text,
    )
    .map_err(|e| e.to_string())
}

/// The single error line for `text`, asserting there is exactly one.
fn error(text: &str) -> String {
    let err = parse(text).expect_err("the plan should be refused");
    assert_eq!(err.lines().count(), 1, "expected one problem, got:\n{err}");
    err
}

fn replace(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_design_example_parses() {
    let plan = parse(GOOD).unwrap();
    assert_eq!(plan.id.as_str(), "users-full-name");
    assert_eq!(plan.old.describe(), "users.full_name");
    assert_eq!(plan.new.describe(), "users_pii.full_name");
    assert_eq!(plan.sync.batch_size, 10_000);
    assert_eq!(plan.sync.max_rows_per_second, None);
    assert_eq!(plan.guards.soak.as_secs(), 7 * 86_400);
    assert_eq!(plan.guards.max_check_age.as_secs(), 86_400);
    assert_eq!(plan.tools.paths, ["scripts/backfill_full_name.py"]);
}

#[test]
fn json_and_eav_kinds() {
    let json = replace(
        "column = \"full_name\"\n\n[new]",
        "column = \"attrs\"\npath = \"profile.full_name\"\n\n[new]",
    )
    .replace("\nkind = \"column\"", "\nkind = \"json\"");
    let plan = parse(&json).unwrap();
    assert!(
        matches!(plan.old, OldStorage::Json { ref path, .. } if path.as_str() == "profile.full_name")
    );

    let eav = GOOD.replace(
        "kind = \"column\"\ntable = \"users\"\nkey = \"id\"\ncolumn = \"full_name\"",
        "kind = \"eav\"\ntable = \"user_attributes\"\nkey = \"user_id\"\nname_column = \"name\"\nname = \"full name's\"\nvalue_column = \"value\"",
    );
    let plan = parse(&eav).unwrap();
    assert!(matches!(plan.old, OldStorage::Eav { ref name, .. } if name == "full name's"));
}

#[test]
fn minimal_plan_gets_defaults() {
    let text = "[old]\nkind='column'\ntable='users'\nkey='id'\ncolumn='full_name'\n[new]\ntable='users'\nkey='id'\ncolumn='display_name'\n";
    let plan = parse(text).unwrap();
    assert_eq!(plan.sync.batch_size, 10_000);
    assert_eq!(plan.sync.lease_ttl.as_secs(), 60);
    assert_eq!(plan.guards.approvals, 1);
    assert!(plan.tools.paths.is_empty());
}

#[test]
fn lease_ttl_is_a_bounded_duration() {
    let with = |ttl: &str| {
        replace(
            "max_rows_per_second = 0",
            &format!("max_rows_per_second = 0\nlease_ttl = {ttl}"),
        )
    };
    let plan = parse(&with("\"5s\"")).unwrap();
    assert_eq!(plan.sync.lease_ttl.as_secs(), 5);
    assert_eq!(plan.sync.lease_renew_every().as_millis(), 833);
    let err = error(&with("\"500ms\""));
    assert!(
        err.contains(":19:13: sync.lease_ttl: must be between 1s and 1h"),
        "{err}"
    );
    let err = error(&with("\"soon\""));
    assert!(
        err.contains("sync.lease_ttl: \"soon\" is not a duration"),
        "{err}"
    );
}

#[test]
fn syntax_error() {
    let err = error("[old\nkind = 'column'\n");
    assert!(err.starts_with("plans/users-full-name.toml:1:5: "), "{err}");
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = error(&replace(
        "column = \"full_name\"\n\n[new]",
        "column = \"full_name\"\ncolum = \"x\"\n\n[new]",
    ));
    assert!(
        err.starts_with("plans/users-full-name.toml:10:1: old.colum: unknown key `colum`"),
        "{err}"
    );
    assert!(err.contains("(in [old])"), "{err}");

    let err = error(&format!("{GOOD}\n[extra]\nx = 1\n"));
    assert!(err.contains(": extra: unknown key `extra`"), "{err}");
}

#[test]
fn missing_sections_and_keys() {
    let err = error(&replace(
        "[new]\ntable = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"\n",
        "",
    ));
    assert!(err.contains("new: missing [new] table"), "{err}");
    let err = error(&replace("key = \"user_id\"\n", ""));
    assert!(err.contains(":11:1: new.key: missing key `key`"), "{err}");
}

#[test]
fn bad_identifiers_including_injection() {
    let err = error(&replace(
        "table = \"users_pii\"",
        "table = \"users_pii; DROP TABLE users; --\"",
    ));
    assert!(
        err.contains(
            ":12:9: new.table: \"users_pii; DROP TABLE users; --\" is not a valid identifier"
        ),
        "{err}"
    );
    let err = error(&replace(
        "column = \"full_name\"",
        "column = \"full\\\"name\"",
    ));
    assert!(err.contains("old.column: "), "{err}");
    let err = error(&replace("key = \"id\"", "key = \"1d\""));
    assert!(
        err.contains("old.key: \"1d\" is not a valid identifier: it contains '1' at position 1"),
        "{err}"
    );
}

#[test]
fn bad_kind_and_misplaced_keys() {
    let err = error(&replace("\nkind = \"column\"", "\nkind = \"document\""));
    assert!(err.contains("old.kind: unknown kind \"document\""), "{err}");
    let err = error(&replace(
        "column = \"full_name\"\n\n[new]",
        "column = \"full_name\"\npath = \"x\"\n\n[new]",
    ));
    assert!(
        err.contains("old.path: `path` does not apply to kind = \"column\""),
        "{err}"
    );
    let json = replace("\nkind = \"column\"", "\nkind = \"json\"");
    let err = error(&json);
    assert!(err.contains("old.path: missing key `path`"), "{err}");
    let err = error(&json.replace(
        "column = \"full_name\"\n\n[new]",
        "column = \"attrs\"\npath = \"a..b\"\n\n[new]",
    ));
    assert!(
        err.contains("old.path: \"a..b\" is not a valid JSON path"),
        "{err}"
    );
}

#[test]
fn bad_durations() {
    let err = error(&replace("soak = \"7d\"", "soak = \"a week\""));
    assert!(
        err.contains(":21:8: guards.soak: \"a week\" is not a duration"),
        "{err}"
    );
    let err = error(&replace("max_check_age = \"24h\"", "max_check_age = 24"));
    assert!(err.contains("guards.max_check_age: "), "{err}");
}

#[test]
fn bad_numbers() {
    let err = error(&replace("batch_size = 10000", "batch_size = 0"));
    assert!(
        err.contains("sync.batch_size: must be between 1 and 1000000"),
        "{err}"
    );
    let err = error(&replace(
        "max_rows_per_second = 0",
        "max_rows_per_second = -5",
    ));
    assert!(err.contains("sync.max_rows_per_second: "), "{err}");
    let err = error(&replace("approvals = 1", "approvals = 1000"));
    assert!(
        err.contains("guards.approvals: must be between 0 and 100"),
        "{err}"
    );
    let err = error(&replace("batch_size = 10000", "batch_size = \"big\""));
    assert!(err.contains("sync.batch_size: "), "{err}");
}

#[test]
fn paths_stay_inside_the_repository() {
    let err = error(&replace(
        "[\"scripts/backfill_full_name.py\"]",
        "[\"../other/sync.py\"]",
    ));
    assert!(
        err.contains(
            "tools.paths: \"../other/sync.py\" must be a path relative to the project root"
        ),
        "{err}"
    );
    let err = error(&replace(
        "[\"scripts/backfill_full_name.py\"]",
        "[\"/etc/passwd\"]",
    ));
    assert!(err.contains("tools.paths: "), "{err}");
}

#[test]
fn code_rules() {
    let text = format!(
        "{GOOD}\n[code]\nold_refs = [\"users.full_name\", {{ regex = \"full_?name\" }}]\npaths = [\"src/**/*.rs\"]\nschema_paths = [\"migrations/*.sql\"]\n"
    );
    let plan = parse(&text).unwrap();
    assert_eq!(
        plan.code.old_refs,
        [
            CodeRef::Literal("users.full_name".into()),
            CodeRef::Regex("full_?name".into())
        ]
    );
    let err = error(&text.replace("full_?name", "full_(name"));
    assert!(
        err.contains("code.old_refs: regex \"full_(name\" does not compile: unclosed group"),
        "{err}"
    );
    let err = error(&text.replace("src/**/*.rs", "src/[*.rs"));
    assert!(
        err.contains("code.paths: \"src/[*.rs\" is not a valid glob"),
        "{err}"
    );
}

#[test]
fn new_storage_must_differ_from_old() {
    let err = error(&replace(
        "table = \"users_pii\"\nkey = \"user_id\"",
        "table = \"users\"\nkey = \"id\"",
    ));
    assert!(
        err.contains("new.column: `users.full_name` is old storage"),
        "{err}"
    );
    let err = error(&replace(
        "table = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"",
        "table = \"users\"\nkey = \"user_id\"\ncolumn = \"display_name\"",
    ));
    assert!(
        err.contains(
            "new.key: [new] is in the old table `users`, so its key must be the old key `id`"
        ),
        "{err}"
    );
}

#[test]
fn all_problems_of_a_file_are_reported() {
    let text = replace("table = \"users_pii\"", "table = \"bad table\"")
        .replace("soak = \"7d\"", "soak = \"soon\"");
    let err = parse(&text).unwrap_err();
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn bad_file_name() {
    let err = parse_plan("Users Full", Path::new("plans/Users Full.toml"), GOOD)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the file name `Users Full` is not a valid migration id"),
        "{err}"
    );
}

#[test]
fn render_round_trips() {
    let mut plan = parse(&format!(
        "{GOOD}\n[code]\nold_refs = [\"users.full_name\", {{ regex = \"full_?name\" }}]\npaths = [\"src/**\"]\n"
    ))
    .unwrap();
    plan.description = "quote \" and backslash \\ survive".into();
    let text = render_plan(&plan);
    assert_eq!(parse(&text).unwrap(), plan, "{text}");
}

#[test]
fn config_environments() {
    let text = "[environments.dev]\ndatabase_url = \"sqlite://app.db\"\n[environments.prd]\ndatabase_url_env = \"ATTRMIG_TEST_UNSET_VAR_X\"\nstate_url = \"postgres://state\"\n";
    let cfg = parse_config(Path::new("/repo"), Path::new("/repo/attrmig.toml"), text).unwrap();
    assert_eq!(cfg.plans_dir(), Path::new("/repo/plans"));
    assert_eq!(
        cfg.urls("dev").unwrap(),
        ("sqlite://app.db".to_owned(), None)
    );
    let err = cfg.urls("prd").unwrap_err().to_string();
    assert!(
        err.contains("$ATTRMIG_TEST_UNSET_VAR_X, which is not set"),
        "{err}"
    );
    let err = cfg.urls("stg").unwrap_err().to_string();
    assert!(
        err.contains("no environment `stg`") && err.contains("dev, prd"),
        "{err}"
    );

    let err = parse_config(
        Path::new("/r"),
        Path::new("attrmig.toml"),
        "[environments.dev]\ndatabase = 'x'\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("attrmig.toml:2:1: environments.dev.database: unknown key `database`"),
        "{err}"
    );
    let err = parse_config(
        Path::new("/r"),
        Path::new("attrmig.toml"),
        "[environments.dev]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("needs database_url"), "{err}");
}

#[test]
fn fleet_defaults_when_absent() {
    let plan = parse(GOOD).unwrap();
    assert!(!plan.fleet.observed);
    assert_eq!(plan.fleet.instance_ttl, std::time::Duration::from_secs(120));
    assert_eq!(plan.fleet.min_compared_reads, 1000);
    assert_eq!(plan.fleet.max_mismatch_rate, 0.0);
}

#[test]
fn fleet_table_is_read() {
    let plan = parse(&format!(
        "{GOOD}\n[fleet]\nobserved = true\ninstance_ttl = \"45s\"\nmin_compared_reads = 50\nmax_mismatch_rate = 0.001\n"
    ))
    .unwrap();
    assert!(plan.fleet.observed);
    assert_eq!(plan.fleet.instance_ttl, std::time::Duration::from_secs(45));
    assert_eq!(plan.fleet.min_compared_reads, 50);
    assert_eq!(plan.fleet.max_mismatch_rate, 0.001);
    // A rate written as an integer is a rate too.
    let plan = parse(&format!("{GOOD}\n[fleet]\nmax_mismatch_rate = 0\n")).unwrap();
    assert_eq!(plan.fleet.max_mismatch_rate, 0.0);
}

#[test]
fn fleet_errors_name_file_line_and_key() {
    let text = format!(
        "{GOOD}\n[fleet]\nobserved = true\ninstance_ttl = \"0s\"\nmin_compared_reads = -1\nmax_mismatch_rate = 1.5\n"
    );
    let err = parse(&text).unwrap_err();
    let line = |key: &str| {
        text.lines()
            .position(|l| l.starts_with(key))
            .map(|i| i + 1)
            .unwrap()
    };
    assert!(
        err.contains(&format!(
            "plans/users-full-name.toml:{}:16: fleet.instance_ttl: must be more than 0s",
            line("instance_ttl")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            ":{}:22: fleet.min_compared_reads: must be 0 or a positive number",
            line("min_compared_reads")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            ":{}:21: fleet.max_mismatch_rate: must be a share between 0 and 1",
            line("max_mismatch_rate")
        )),
        "{err}"
    );
    let err = parse(&format!("{GOOD}\n[fleet]\nobserve = true\n")).unwrap_err();
    assert!(
        err.contains("fleet.observe: unknown key `observe`"),
        "{err}"
    );
    assert!(err.contains("(in [fleet])"), "{err}");
    let err = parse(&format!("{GOOD}\n[fleet]\ninstance_ttl = \"soon\"\n")).unwrap_err();
    assert!(
        err.contains("fleet.instance_ttl: \"soon\" is not a duration"),
        "{err}"
    );
    let err = parse(&format!("{GOOD}\n[fleet]\nobserved = \"yes\"\n")).unwrap_err();
    assert!(err.contains("fleet.observed"), "{err}");
}

#[test]
fn fleet_renders_and_round_trips() {
    let mut plan = parse(GOOD).unwrap();
    plan.fleet.observed = true;
    plan.fleet.instance_ttl = std::time::Duration::from_secs(300);
    plan.fleet.max_mismatch_rate = 0.0005;
    let text = render_plan(&plan);
    assert!(text.contains("[fleet]"), "{text}");
    assert_eq!(parse(&text).unwrap(), plan, "{text}");
}

#[test]
fn tables_may_be_qualified_and_are_written_without_quotes() {
    let plan = parse(&replace(
        "table = \"users_pii\"",
        "table = \"archive.users_pii\"",
    ))
    .unwrap();
    assert_eq!(plan.new.table.to_string(), "archive.users_pii");
    assert_eq!(plan.new.table.schema.as_ref().unwrap().as_str(), "archive");
    let err = error(&replace("table = \"users_pii\"", "table = '\"Users_PII\"'"));
    assert!(
        err.contains("is quoted; write the name without quotes, as the database spells it: `table = \"Users_PII\"`"),
        "{err}"
    );
    let err = error(&replace("table = \"users_pii\"", "table = \"a.b.c\""));
    assert!(
        err.contains("new.table: \"a.b.c\" is not a valid identifier"),
        "{err}"
    );
}

#[test]
fn a_key_of_several_columns_pairs_up_in_order_and_renders_back() {
    let text = replace("key = \"id\"", "key = [\"tenant_id\", \"id\"]").replacen(
        "key = \"user_id\"",
        "key = [\"tenant_id\", \"user_id\"]",
        1,
    );
    let plan = parse(&text).unwrap();
    assert_eq!(plan.old.key().names(), ["tenant_id", "id"]);
    assert_eq!(plan.new.key.to_string(), "(tenant_id, user_id)");
    // The rendered plan reads back as the same plan.
    let rendered = render_plan(&plan);
    assert!(
        rendered.contains("key = [\"tenant_id\", \"id\"]"),
        "{rendered}"
    );
    assert_eq!(parse(&rendered).unwrap(), plan);
    // A one-element list is the one-column key, fingerprint and all.
    let one = parse(&replace("key = \"id\"", "key = [\"id\"]")).unwrap();
    assert_eq!(
        one.storage_fingerprint(),
        parse(GOOD).unwrap().storage_fingerprint()
    );

    let err = error(&replace("key = \"id\"", "key = [\"tenant_id\", \"id\"]"));
    assert!(
        err.contains("new.key: [new] key user_id has 1 column(s) but [old] key (tenant_id, id) has 2: they pair up in order"),
        "{err}"
    );
    let err = error(&replace("key = \"id\"", "key = []"));
    assert!(err.contains("old.key: the key is empty"), "{err}");
    let err = error(&replace("key = \"id\"", "key = [\"id\", \"id\"]"));
    assert!(err.contains("old.key: the key names `id` twice"), "{err}");
    let err = error(&replace("key = \"id\"", "key = [\"id\", \"a b\"]"));
    assert!(
        err.contains("old.key: \"a b\" is not a valid identifier"),
        "{err}"
    );
}
