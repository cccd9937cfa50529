//! Names, schemas and collations as the database has them: keys whose collations
//! disagree on which keys are equal are refused at step 1; names are resolved as the
//! backend resolves them; schema-qualified and partitioned tables walk like any other.

use attrmig_db::Backend;

use crate::support::*;

/// accounts(login, full_name) to accounts_pii(login, full_name); a text key.
const LOGIN_PLAN: &str = r#"
[old]
kind = "column"
table = "OLD"
key = "login"
column = "full_name"

[new]
table = "NEW"
key = "login"
column = "full_name"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

fn login_plan(old: &str, new: &str) -> String {
    LOGIN_PLAN.replace("OLD", old).replace("NEW", new)
}

/// Walks 0 to 4 with the tools: prepare-storage's DDL (when `ddl`), a cross-check,
/// double-write noted, a sync pass and a clean full cross-check.
pub fn walk_to_sync(p: &Project<'_>, id: &str, ddl: bool) {
    if ddl {
        p.attrmig(["ddl", id, "prepare-storage", "--apply"]).run().ok();
    }
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["cross-check", id]).run();
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["advance", id, "--note", "release 1"]).run().ok();
    p.attrmig(["sync", id]).run().ok().stdout_has("0 rejected");
    p.attrmig(["cross-check", id]).run().ok().stdout_has("old and new agree");
    p.attrmig(["advance", id]).run().ok();
}

/// A text key whose old collation tells 'alice' from 'ALICE' and whose new one does
/// not (or the other way round), per backend: (old table, new table).
fn disagreeing_keys(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "CREATE TABLE accounts (login TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, full_name TEXT)",
            "CREATE TABLE accounts_pii (login TEXT NOT NULL PRIMARY KEY, full_name TEXT)",
        ),
        Backend::Postgres => (
            "CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
             CREATE TABLE accounts (login TEXT COLLATE case_insensitive NOT NULL PRIMARY KEY, full_name TEXT)",
            "CREATE TABLE accounts_pii (login TEXT COLLATE \"C\" NOT NULL PRIMARY KEY, full_name TEXT)",
        ),
        Backend::Mysql => (
            "CREATE TABLE accounts (login VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, full_name VARCHAR(255))",
            "CREATE TABLE accounts_pii (login VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, full_name VARCHAR(255))",
        ),
    }
}

backend_tests! {
    /// Step 1 refuses the pair, naming both collations and what to do; the advice
    /// (new storage by prepare-storage, which keeps the old key's collation) works.
    fn keys_whose_collations_disagree_are_refused_at_step_1(db: &TestDb) {
        let p = Project::new(db).with_plan("logins", &login_plan("accounts", "accounts_pii"));
        let (old, new) = disagreeing_keys(db.backend());
        p.sql(old);
        p.sql("INSERT INTO accounts (login, full_name) VALUES ('alice', 'Alice'), ('bob', 'Bob')");
        p.sql(new);
        let (old_name, new_name) = match db.backend() {
            Backend::Sqlite => ("NOCASE", "BINARY"),
            Backend::Postgres => ("case_insensitive", "C"),
            Backend::Mysql => ("utf8mb4_bin (utf8mb4)", "utf8mb4_general_ci (utf8mb4)"),
        };
        p.attrmig(["advance", "logins"])
            .run()
            .code(3)
            .stderr_has(&format!(
                "old key `accounts.login` is collated {old_name} but new key `accounts_pii.login` is collated {new_name}; they disagree on which keys are equal"
            ))
            .stderr_has("`attrmig ddl logins prepare-storage` creates new storage that way");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_transitions"), 0);
        p.sql("DROP TABLE accounts_pii");
        walk_to_sync(&p, "logins", true);
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM accounts_pii"), 2);
    }
}

/// Chinook's `Album`, planned by names the backend accepts but spelled otherwise.
const ALBUM_PLAN: &str = r#"
[old]
kind = "column"
table = "OLD_TABLE"
key = "OLD_KEY"
column = "OLD_COLUMN"

[new]
table = "album_meta"
key = "album_id"
column = "title"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

backend_tests! {
    /// SQLite matches table and column names case-insensitively, MySQL/MariaDB column
    /// names (tables by lower_case_table_names, 0 here: exact), PostgreSQL takes a name
    /// as the database spells it. The plan's names resolve to the database's spelling,
    /// which the evidence records and every tool uses.
    fn names_resolve_as_the_backend_resolves_them(db: &TestDb) {
        let (create, table, key, column) = match db.backend() {
            Backend::Sqlite => ("CREATE TABLE Album (AlbumId INTEGER NOT NULL PRIMARY KEY, Title VARCHAR(160))", "album", "albumid", "TITLE"),
            Backend::Mysql => ("CREATE TABLE Album (AlbumId INTEGER NOT NULL PRIMARY KEY, Title VARCHAR(160))", "Album", "albumid", "TITLE"),
            Backend::Postgres => ("CREATE TABLE \"Album\" (\"AlbumId\" INTEGER NOT NULL PRIMARY KEY, \"Title\" VARCHAR(160))", "Album", "AlbumId", "Title"),
        };
        let plan = ALBUM_PLAN.replace("OLD_TABLE", table).replace("OLD_KEY", key).replace("OLD_COLUMN", column);
        let p = Project::new(db).with_plan("album-title", &plan);
        p.sql(create);
        let insert = match db.backend() {
            Backend::Postgres => "INSERT INTO \"Album\" VALUES (1, 'For Those About To Rock'), (2, 'Balls to the Wall'), (3, NULL)",
            _ => "INSERT INTO Album VALUES (1, 'For Those About To Rock'), (2, 'Balls to the Wall'), (3, NULL)",
        };
        p.sql(insert);
        walk_to_sync(&p, "album-title", true);
        let show = p.attrmig(["--json", "show", "album-title"]).run().ok().json();
        assert_eq!(show["old"], "Album.Title");
        // Step 1's evidence records the database's spelling.
        let log = p.intact_log("album-title").to_string();
        assert!(log.contains("old key Album.AlbumId"), "{log}");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM album_meta WHERE title IS NOT NULL"), 2);
    }
}
