//! What people and machines read, exactly: counts of one said in the singular, values a
//! report can't confuse with one another, JSON documents that start with their
//! `schema_version`, approvals shown as they counted, keys listed in key order.

use crate::support::*;

const ID: &str = "users-full-name";

/// A migration at 3 double-write over `rows` users, its new storage created.
fn at_double_write(db: &TestDb, rows: usize) -> Project<'_> {
    let p = Project::new(db).with_users(rows).with_plan(ID, USERS_PLAN);
    crate::walk::walk_to_double_write(&p);
    p
}

/// The first key of a JSON document as printed (serde_json's maps are sorted, so this
/// reads the text, not a parsed value).
fn first_key(text: &str) -> String {
    let start = text.find('"').expect("a key") + 1;
    let end = start + text[start..].find('"').expect("its end");
    text[start..end].to_owned()
}

#[test]
fn one_of_a_thing_is_singular() {
    let db = TestDb::sqlite();
    let p = at_double_write(&db, 1);
    p.attrmig(["sync", ID])
        .run()
        .ok()
        .stdout_has("1 key visited, 1 row written, 0 rejected");
    p.sql("UPDATE users_pii SET full_name = 'changed' WHERE user_id = 1");
    p.attrmig(["cross-check", ID])
        .run()
        .code(4)
        .stdout_has("every key: 1 key compared");
    p.attrmig(["status"])
        .run()
        .ok()
        .stdout_has(", 1 mismatch, ");
    p.attrmig(["advance", ID])
        .run()
        .code(3)
        .stderr_has("found 1 mismatch (0 missing in new, 0 extra in new, 1 differs)");
}

/// docs/cli.md: every JSON document's first key is `schema_version`, errors and the
/// lines of a stream included.
#[test]
fn json_starts_with_its_schema_version() {
    let db = TestDb::sqlite();
    let p = at_double_write(&db, 3);
    let refused = p.attrmig(["--json", "advance", ID]).run().code(3);
    assert_eq!(
        first_key(&refused.stdout),
        "schema_version",
        "{}",
        refused.stdout
    );
    let unknown = p.attrmig(["--json", "show", "nope"]).run().code(2);
    assert_eq!(
        first_key(&unknown.stdout),
        "schema_version",
        "{}",
        unknown.stdout
    );
    let shown = p.attrmig(["--json", "show", ID]).run().ok();
    assert_eq!(
        first_key(&shown.stdout),
        "schema_version",
        "{}",
        shown.stdout
    );
    let synced = p.attrmig(["--json", "sync", ID]).run().ok();
    for line in synced.stdout.lines() {
        assert_eq!(first_key(line), "schema_version", "{line}");
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(doc["type"].is_string() && !doc["data"].is_null(), "{line}");
    }
}

/// After 9, `show` lists the approvals the advance to 9 counted; the approval of the
/// person who advanced is shown as not counted, never among them.
#[test]
fn approvals_are_shown_as_they_counted() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(5).with_plan(ID, USERS_PLAN);
    crate::walk::walk_to_eight(&p);
    p.attrmig(["approve", ID]).run().ok();
    p.attrmig(["approve", ID])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", ID, "--confirm-point-of-no-return"])
        .run()
        .ok();

    let shown = p
        .attrmig(["show", ID])
        .actor("carol@example.com")
        .run()
        .ok();
    let line = shown
        .stdout
        .lines()
        .find(|l| l.starts_with("approvals"))
        .unwrap_or_else(|| panic!("no approvals line\n{}", shown.stdout))
        .to_owned();
    let (counted, rest) = line.split_once("; not counted: ").unwrap_or((&line, ""));
    assert!(counted.contains("bob@example.com"), "{line}");
    assert!(!counted.contains("alice@example.com"), "{line}");
    assert!(
        rest.contains("alice@example.com") && rest.contains("who advanced to 9"),
        "{line}"
    );
    let json = p.attrmig(["--json", "show", ID]).run().ok().json();
    let counted: Vec<&str> = json["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap())
        .collect();
    assert_eq!(counted, ["bob@example.com"], "{json:#}");
    assert_eq!(
        json["approvals_not_counted"][0]["approver"], "alice@example.com",
        "{json:#}"
    );
}

/// A migration at 3 over `rows` users whose new storage refuses the name `bad` (a CHECK):
/// rows named so become data issues.
fn refusing_bad_names(db: &TestDb, rows: usize) -> Project<'_> {
    let p = Project::new(db).with_users(rows).with_plan(ID, USERS_PLAN);
    p.sql("CREATE TABLE users_pii (user_id INTEGER PRIMARY KEY, full_name VARCHAR(255) CHECK (full_name <> 'bad'))");
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["cross-check", ID]).run();
    p.attrmig(["advance", ID]).run().ok();
    p.attrmig(["advance", ID, "--note", "release 1"]).run().ok();
    p
}

/// `data-issues --retry` names the rows it copied in key order (2 before 10, as integers
/// sort), and a long list by its first keys and how many more.
#[test]
fn retried_keys_come_in_key_order_and_long_lists_are_summarised() {
    let db = TestDb::sqlite();
    let p = refusing_bad_names(&db, 200);
    let bad = |keys: &str| {
        p.sql(&format!(
            "UPDATE users SET full_name = 'bad' WHERE id IN ({keys})"
        ));
        p.attrmig(["sync", ID, "--restart"]).run().ok();
        p.sql(&format!(
            "UPDATE users SET full_name = 'fixed' WHERE id IN ({keys})"
        ));
        p.attrmig(["data-issues", ID, "--retry"]).run().ok().stdout
    };
    let out = bad("100, 9, 2, 10");
    assert!(
        out.contains("4 rows copied on retry: 2, 9, 10, 100\n"),
        "{out}"
    );
    let many: Vec<String> = (101..=130).map(|k| k.to_string()).collect();
    let out = bad(&many.join(", "));
    assert!(
        out.contains("30 rows copied on retry: 101, 102, 103, 104, 105, 106, 107, 108, 109, 110 and 20 more (`attrmig data-issues users-full-name --all` lists"),
        "{out}"
    );
}

/// The issues themselves are listed in key order too.
#[test]
fn data_issues_are_listed_in_key_order() {
    let db = TestDb::sqlite();
    let p = refusing_bad_names(&db, 20);
    p.sql("UPDATE users SET full_name = 'bad' WHERE id IN (10, 2, 9)");
    p.attrmig(["sync", ID]).run().ok();
    for args in [
        vec!["--json", "data-issues", ID],
        vec!["--json", "data-issues", ID, "--retry"],
    ] {
        let doc = p.attrmig(&args).run().code(4).json();
        let keys: Vec<&str> = doc["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["2", "9", "10"], "{args:?}");
    }
}

/// A cross-check's table quotes every value, so that an empty string, trailing spaces,
/// the text `NULL` and control characters can't be mistaken for something else (nor
/// move the terminal's cursor); SQL NULL stands bare. The JSON keeps the exact values.
#[test]
fn report_values_are_unambiguous() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(0).with_plan(ID, USERS_PLAN);
    p.sql(
        "INSERT INTO users (id, full_name) VALUES (1, ''), (2, 'trail  '), (3, 'NULL'), \
         (4, 'line' || char(10) || 'break'), (5, 'tab' || char(9) || 'here'), \
         (6, char(27) || '[31mred'), (7, 'say \"hi\" \\ bye')",
    );
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.sql("INSERT INTO users_pii (user_id, full_name) VALUES (3, ''), (8, 'NULL')");
    let out = p.attrmig(["cross-check", ID]).run().code(4).stdout;
    // KEY, MISMATCH, FIELD, OLD, NEW: the row's old and then its new value, each a cell.
    let row = |key: &str, old: &str, new: &str| {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no row for key {key}\n{out}"));
        let at = line
            .find(&format!("  {old}  "))
            .unwrap_or_else(|| panic!("key {key}: no old cell {old}\n{out}"));
        assert!(
            line[at + old.len() + 2..].trim() == new,
            "key {key}: the new cell is not {new}\n{out}"
        );
    };
    row("1", r#""""#, "NULL");
    row("2", r#""trail  ""#, "NULL");
    row("3", r#""NULL""#, r#""""#);
    row("4", r#""line\nbreak""#, "NULL");
    row("5", r#""tab\there""#, "NULL");
    row("6", r#""\u{1b}[31mred""#, "NULL");
    row("7", r#""say \"hi\" \\ bye""#, "NULL");
    row("8", "NULL", r#""NULL""#);
    assert!(!out.contains('\u{1b}') && !out.contains('\t'), "{out}");

    let json = p
        .attrmig(["--json", "cross-check", ID])
        .run()
        .code(4)
        .json();
    let m = json["report"]["mismatches"].as_array().unwrap();
    let value = |key: &str, side: &str| m.iter().find(|x| x["key"] == key).unwrap()[side].clone();
    assert_eq!(value("1", "old"), "");
    assert_eq!(value("1", "new"), serde_json::Value::Null);
    assert_eq!(value("2", "old"), "trail  ");
    assert_eq!(value("3", "old"), "NULL");
    assert_eq!(value("4", "old"), "line\nbreak");
    assert_eq!(value("6", "old"), "\u{1b}[31mred");
    assert_eq!(value("8", "new"), "NULL");
}
