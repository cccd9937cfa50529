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
        p.attrmig(["ddl", id, "prepare-storage", "--apply"])
            .run()
            .ok();
    }
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["cross-check", id]).run();
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["advance", id, "--note", "release 1"]).run().ok();
    p.attrmig(["sync", id]).run().ok().stdout_has("0 rejected");
    p.attrmig(["cross-check", id])
        .run()
        .ok()
        .stdout_has("old and new agree");
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
            Backend::Postgres => ("public.case_insensitive", "C"),
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
        // Views see the names as the database spells them too: nothing reported missing.
        let status = p.attrmig(["--json", "status"]).run().ok().json().to_string();
        assert!(!status.contains("old key column"), "{status}");
        assert!(status.contains("new table `album_meta` does not exist"), "{status}");
        walk_to_sync(&p, "album-title", true);
        let show = p.attrmig(["--json", "show", "album-title"]).run().ok().json();
        assert_eq!(show["old"], "Album.Title");
        // Step 1's evidence records the database's spelling.
        let log = p.intact_log("album-title").to_string();
        assert!(log.contains("old key Album.AlbumId"), "{log}");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM album_meta WHERE title IS NOT NULL"), 2);
    }
}

/// SCHEMA.invoices(id, memo) to OTHER.invoice_memos: both tables qualified.
const QUALIFIED_PLAN: &str = r#"
[old]
kind = "column"
table = "SCHEMA.TABLE"
key = "id"
column = "memo"

[new]
table = "OTHER.invoice_memos"
key = "invoice_id"
column = "memo"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

/// A schema (PostgreSQL) or database (MySQL/MariaDB) named in the plan, for old and new
/// storage apart: a table of the same name in the connection's own schema is a decoy
/// no tool may touch, and the walk reaches 10.
fn walk_qualified(db: &TestDb, schema: &str, other: &str) {
    walk_qualified_as(db, schema, "invoices", other);
}

/// [`walk_qualified`], the plan naming old's table `table` (`invoices`, as it is made,
/// or another spelling the server takes for it).
fn walk_qualified_as(db: &TestDb, schema: &str, table: &str, other: &str) {
    let plan = QUALIFIED_PLAN
        .replace("SCHEMA", schema)
        .replace("TABLE", table)
        .replace("OTHER", other);
    let p = Project::new(db).with_plan("memos", &plan);
    p.sql(&format!(
        "CREATE SCHEMA {schema}; CREATE SCHEMA {other};
         CREATE TABLE {schema}.invoices (id INT NOT NULL PRIMARY KEY, memo VARCHAR(100) NOT NULL);
         CREATE INDEX invoices_memo ON {schema}.invoices (memo);
         INSERT INTO {schema}.invoices VALUES (1, 'net 30'), (2, 'net 60'), (3, 'paid');
         CREATE TABLE invoices (id INT NOT NULL PRIMARY KEY, memo VARCHAR(100) NOT NULL);
         INSERT INTO invoices VALUES (1, 'decoy');"
    ));
    p.attrmig(["ddl", "memos", "prepare-storage"])
        .run()
        .ok()
        .stdout_has(&format!(
            "CREATE TABLE {}",
            quote_pair(db, other, "invoice_memos")
        ))
        .stdout_has(&format!("ON {}", quote_pair(db, other, "invoice_memos")));
    walk_to_sync(&p, "memos", true);
    assert_eq!(
        p.count(&format!(
            "SELECT COUNT(*) AS n FROM {other}.invoice_memos WHERE memo IS NOT NULL"
        )),
        3
    );
    for _ in 0..3 {
        p.attrmig(["advance", "memos"]).run().ok();
    }
    p.attrmig(["ddl", "memos", "prepare-old-stop", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", "memos"]).run().ok();
    p.attrmig(["advance", "memos"]).run().ok();
    p.attrmig(["approve", "memos"])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", "memos", "--confirm-point-of-no-return"])
        .run()
        .ok();
    p.attrmig(["ddl", "memos", "drop-old", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", "memos"]).run().ok();
    let mode = p.attrmig(["--json", "mode", "memos"]).run().ok().json();
    assert_eq!(mode["step"], "drop-old");
    // The decoy in the connection's own schema kept its column and its row.
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM invoices WHERE memo = 'decoy'"),
        1
    );
}

fn quote_pair(db: &TestDb, schema: &str, table: &str) -> String {
    match db.backend() {
        Backend::Mysql => format!("`{schema}`.`{table}`"),
        _ => format!("\"{schema}\".\"{table}\""),
    }
}

#[test]
fn postgres_schema_qualified_tables_walk_to_10() {
    let Some(db) = TestDb::postgres() else { return };
    walk_qualified(&db, "billing", "archive");
}

/// A schema name folds like a table name: `Billing` in the plan is the schema that
/// `CREATE SCHEMA Billing` made, `billing`, as PostgreSQL reads the unquoted name.
#[test]
fn postgres_schema_names_fold_like_table_names() {
    let Some(db) = TestDb::postgres() else { return };
    walk_qualified(&db, "Billing", "archive");
}

#[test]
fn mysql_database_qualified_tables_walk_to_10() {
    let Some(db) = TestDb::mysql() else { return };
    // A MySQL schema is a database, server-wide: names of this test's own, dropped after.
    let own = db.url().rsplit('/').next().unwrap().to_owned();
    let (schema, other) = (format!("{own}_billing"), format!("{own}_archive"));
    walk_qualified(&db, &schema, &other);
    db.execute(&format!("DROP DATABASE {schema}; DROP DATABASE {other};"));
}

/// With `lower_case_table_names = 1` (a MariaDB server of the test's own: the setting is
/// chosen when a server starts) table and database names are case-insensitive: a plan's
/// `Billing.Invoices` is the table `invoices` of the database `billing`, and the walk
/// reaches 10 on the server's spelling. The shared server (0) would refuse that plan.
#[test]
fn mysql_case_insensitive_table_names_walk_to_10() {
    let Some(server) = ThrowawayMariaDb::start(&["--lower-case-table-names=1"]) else {
        return;
    };
    let db = TestDb::on_server(&server.url());
    let own = db.url().rsplit('/').next().unwrap().to_owned();
    let (schema, other) = (format!("{own}_Billing"), format!("{own}_archive"));
    walk_qualified_as(&db, &schema, "Invoices", &other);
    let stored: Vec<String> = {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut conn = db.connect();
        diesel::RunQueryDsl::load::<Name>(
            diesel::sql_query(format!(
                "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
                 WHERE table_schema = '{}' ORDER BY table_name",
                schema.to_lowercase()
            )),
            &mut conn,
        )
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
    };
    assert_eq!(stored, ["invoices"], "the server keeps names in lower case");
    db.execute(&format!("DROP DATABASE {schema}; DROP DATABASE {other};"));
}

#[test]
fn sqlite_main_schema_is_accepted_and_others_refused() {
    let db = TestDb::sqlite();
    let plan = login_plan("main.accounts", "accounts_pii");
    let p = Project::new(&db).with_plan("logins", &plan);
    p.sql(
        "CREATE TABLE accounts (login TEXT NOT NULL PRIMARY KEY, full_name TEXT);
           INSERT INTO accounts VALUES ('alice', 'Alice'), ('ALICE', 'Alice Upper');",
    );
    walk_to_sync(&p, "logins", true);
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM accounts_pii"), 2);
    p.write(
        "plans/elsewhere.toml",
        &login_plan("billing.accounts", "accounts_pii"),
    );
    p.attrmig(["ddl", "elsewhere", "prepare-storage"])
        .run()
        .code(3)
        .stderr_has("SQLite has no schema `billing` here")
        .stderr_has("write `table = \"accounts\"` (or `main.accounts`)");
}

/// payment(payment_id, amount) partitioned by range, as Pagila's `payment`, to NEW.
const PAYMENT_PLAN: &str = r#"
[old]
kind = "column"
table = "payment"
key = "payment_id"
column = "amount"

[new]
table = "NEW"
key = "payment_id"
column = "NEW_COLUMN"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

/// Pagila's `payment` is PARTITION BY RANGE: a partitioned table (relkind 'p') whose
/// rows live in its partitions. As old storage it walks to 10 (introspection, its
/// partitioned unique index, sync, cross-check, the step-9 fingerprint, prepare-old-stop
/// and drop-old on the parent); as new storage (a column added to it) its index is
/// created on the partitioned table. Pagila's own key includes the partition key, so
/// `payment_id` alone is refused, naming it.
#[test]
fn postgres_partitioned_tables_as_old_and_new_storage() {
    let Some(db) = TestDb::postgres() else { return };
    let plan = PAYMENT_PLAN
        .replace("NEW_COLUMN", "amount")
        .replace("NEW", "payment_amounts");
    let p = Project::new(&db).with_plan("amounts", &plan);
    p.sql(
        "CREATE TABLE payment (payment_id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, amount NUMERIC(5,2) NOT NULL)
           PARTITION BY RANGE (payment_id);
         CREATE TABLE payment_p1 PARTITION OF payment FOR VALUES FROM (1) TO (100);
         CREATE TABLE payment_p2 PARTITION OF payment FOR VALUES FROM (100) TO (1000);
         CREATE INDEX payment_amount ON payment (amount);
         INSERT INTO payment SELECT i, i % 7, (i % 50) + 0.99 FROM generate_series(1, 250) AS i;",
    );
    p.attrmig(["ddl", "amounts", "prepare-storage"])
        .run()
        .ok()
        .stdout_has("CREATE INDEX");
    walk_to_sync(&p, "amounts", true);
    // A planted difference in a partition is found, and the sync repairs it.
    p.sql("UPDATE payment_amounts SET amount = 0 WHERE payment_id = 150");
    p.attrmig(["cross-check", "amounts"])
        .run()
        .code(4)
        .stdout_has("differs 1");
    p.attrmig(["sync", "amounts"]).run().ok();
    p.attrmig(["cross-check", "amounts"])
        .run()
        .ok()
        .stdout_has("old and new agree");
    for _ in 0..3 {
        p.attrmig(["advance", "amounts"]).run().ok();
    }
    p.attrmig(["ddl", "amounts", "prepare-old-stop", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", "amounts"]).run().ok();
    p.attrmig(["advance", "amounts"]).run().ok();
    p.attrmig(["approve", "amounts"])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", "amounts", "--confirm-point-of-no-return"])
        .run()
        .ok();
    p.attrmig(["ddl", "amounts", "drop-old", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", "amounts"]).run().ok();
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_name = 'payment_p1' AND column_name = 'amount'"), 0);

    // New storage in the partitioned table itself: the column and its index on the parent.
    p.sql(
        "CREATE TABLE rental (rental_id INT NOT NULL PRIMARY KEY, note VARCHAR(40)) PARTITION BY RANGE (rental_id);
         CREATE TABLE rental_p1 PARTITION OF rental FOR VALUES FROM (1) TO (1000);
         CREATE INDEX rental_note ON rental (note);
         INSERT INTO rental SELECT i, 'note ' || i FROM generate_series(1, 20) AS i;",
    );
    let same = PAYMENT_PLAN
        .replace("table = \"payment\"", "table = \"rental\"")
        .replace("payment_id", "rental_id")
        .replace("column = \"amount\"", "column = \"note\"")
        .replace("NEW_COLUMN", "remark")
        .replace("NEW", "rental");
    p.write("plans/remarks.toml", &same);
    p.attrmig(["ddl", "remarks", "prepare-storage", "--apply"])
        .run()
        .ok();
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM pg_class WHERE relkind = 'I' AND relname LIKE 'attrmig_rental_remark%'"), 1);
    walk_to_sync(&p, "remarks", false);

    // Pagila's own shape: the key includes the partition key.
    p.sql(
        "CREATE TABLE pagila_payment (payment_id INT NOT NULL, payment_date DATE NOT NULL, amount NUMERIC(5,2),
           PRIMARY KEY (payment_date, payment_id)) PARTITION BY RANGE (payment_date);
         CREATE TABLE pagila_payment_2022 PARTITION OF pagila_payment FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
         CREATE TABLE pagila_amounts (payment_id INT NOT NULL PRIMARY KEY, amount NUMERIC(5,2));",
    );
    let pagila = PAYMENT_PLAN
        .replace("table = \"payment\"", "table = \"pagila_payment\"")
        .replace("NEW_COLUMN", "amount")
        .replace("NEW", "pagila_amounts");
    p.write("plans/pagila.toml", &pagila);
    p.attrmig(["advance", "pagila"])
        .run()
        .code(3)
        .stderr_has("old key `pagila_payment.payment_id` is not unique: the table's key is (payment_date, payment_id)");
}

/// Chinook's "Customer"."Company" (quoted, mixed case) to a new mixed-case table, next to
/// a table created unquoted (folded to lower case) that the plan writes in mixed case.
const CHINOOK_PLAN: &str = r#"
[old]
kind = "column"
table = "Customer"
key = "CustomerId"
column = "Company"

[new]
table = "CustomerCompany"
key = "CustomerId"
column = "Company"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

/// PostgreSQL: a name written as the database spells it (`Customer`, Chinook's
/// `"Customer"`) is that object; one that matches nothing so spelled is taken as an
/// unquoted name, which PostgreSQL folds (`Invoice_Notes` is `invoice_notes`). A new
/// table is created as the plan spells it, quoted. The mixed-case walk reaches 10.
#[test]
fn postgres_mixed_case_and_folded_names() {
    let Some(db) = TestDb::postgres() else { return };
    let p = Project::new(&db).with_plan("company", CHINOOK_PLAN);
    p.sql(
        "CREATE TABLE \"Customer\" (\"CustomerId\" INT NOT NULL PRIMARY KEY, \"Company\" VARCHAR(80));
         CREATE TABLE customer (customerid INT NOT NULL PRIMARY KEY, company VARCHAR(80));
         INSERT INTO \"Customer\" VALUES (1, 'Embraer'), (2, NULL), (3, 'JetBrains s.r.o.');
         INSERT INTO customer VALUES (1, 'decoy');",
    );
    p.attrmig(["ddl", "company", "prepare-storage"])
        .run()
        .ok()
        .stdout_has("CREATE TABLE \"CustomerCompany\" (\"CustomerId\" integer NOT NULL PRIMARY KEY, \"Company\" character varying(80))");
    walk_to_sync(&p, "company", true);
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM \"CustomerCompany\" WHERE \"Company\" IS NOT NULL"),
        2
    );
    for _ in 0..3 {
        p.attrmig(["advance", "company"]).run().ok();
    }
    p.attrmig(["advance", "company"]).run().ok();
    p.attrmig(["advance", "company"]).run().ok();
    p.attrmig(["approve", "company"])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", "company", "--confirm-point-of-no-return"])
        .run()
        .ok();
    p.attrmig(["ddl", "company", "drop-old", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", "company"]).run().ok();
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_name = 'Customer' AND column_name = 'Company'"), 0);
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM customer WHERE company = 'decoy'"),
        1
    );

    // Written in mixed case, created unquoted: PostgreSQL's fold, and the log says so.
    p.sql(
        "CREATE TABLE invoice_notes (invoiceid INT NOT NULL PRIMARY KEY, note VARCHAR(80));
         INSERT INTO invoice_notes VALUES (1, 'a'), (2, 'b');",
    );
    let folded = CHINOOK_PLAN
        .replace("table = \"Customer\"", "table = \"Invoice_Notes\"")
        .replace(
            "key = \"CustomerId\"\ncolumn = \"Company\"\n\n[new]",
            "key = \"InvoiceId\"\ncolumn = \"Note\"\n\n[new]",
        )
        .replace(
            "table = \"CustomerCompany\"\nkey = \"CustomerId\"\ncolumn = \"Company\"",
            "table = \"invoice_meta\"\nkey = \"invoice_id\"\ncolumn = \"note\"",
        );
    p.write("plans/notes.toml", &folded);
    walk_to_sync(&p, "notes", true);
    let log = p.intact_log("notes").to_string();
    assert!(log.contains("old key invoice_notes.invoiceid"), "{log}");
}

backend_tests! {
    /// `init` writes the names as the database spells them when it can see the database
    /// (and as written when it can't: a plan may come first).
    fn init_writes_names_as_the_database_spells_them(db: &TestDb) {
        let p = Project::new(db);
        let create = match db.backend() {
            Backend::Postgres => "CREATE TABLE album (albumid INT NOT NULL PRIMARY KEY, title VARCHAR(160))",
            _ => "CREATE TABLE Album (AlbumId INT NOT NULL PRIMARY KEY, Title VARCHAR(160))",
        };
        p.sql(create);
        // MySQL/MariaDB match table names exactly here (lower_case_table_names = 0).
        let (old, key) = match db.backend() {
            Backend::Sqlite => ("album.title", "albumid"),
            Backend::Mysql => ("Album.title", "albumid"),
            Backend::Postgres => ("Album.Title", "AlbumId"),
        };
        p.attrmig(["init", "album-title", "--old", old, "--old-key", key, "--new", "Album_Meta.title", "--new-key", "album_id"])
            .run()
            .ok();
        let text = std::fs::read_to_string(p.path("plans/album-title.toml")).unwrap();
        let (table, key, column) = match db.backend() {
            Backend::Postgres => ("album", "albumid", "title"),
            _ => ("Album", "AlbumId", "Title"),
        };
        assert!(text.contains(&format!("table = \"{table}\"")), "{text}");
        assert!(text.contains(&format!("key = \"{key}\"")), "{text}");
        assert!(text.contains(&format!("column = \"{column}\"")), "{text}");
        // New storage doesn't exist yet: as written.
        assert!(text.contains("table = \"Album_Meta\""), "{text}");
    }
}

/// crm.user_attributes(user_id, name, value) to crm.users_pii.
const QUALIFIED_EAV: &str = r#"
[old]
kind = "eav"
table = "crm.user_attributes"
key = "user_id"
name_column = "name"
name = "full_name"
value_column = "value"

[new]
table = "crm.users_pii"
key = "user_id"
column = "full_name"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#;

/// Step 1's count of EAV entities with two rows of the attribute reads the qualified
/// table, not the connection's own table of the same name (clean here, a decoy).
#[test]
fn postgres_qualified_eav_duplicates_are_counted_in_the_named_schema() {
    let Some(db) = TestDb::postgres() else { return };
    let p = Project::new(&db).with_plan("eav", QUALIFIED_EAV);
    p.sql(
        "CREATE SCHEMA crm;
         CREATE TABLE crm.user_attributes (id INT NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, value VARCHAR(40));
         INSERT INTO crm.user_attributes VALUES (1, 1, 'full_name', 'Ada'), (2, 1, 'full_name', 'Ada L.'), (3, 2, 'full_name', 'Bob');
         CREATE TABLE crm.users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(40));
         CREATE TABLE user_attributes (id INT NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, value VARCHAR(40));
         INSERT INTO user_attributes VALUES (1, 1, 'full_name', 'decoy');",
    );
    p.attrmig(["advance", "eav"])
        .run()
        .code(3)
        .stderr_has("1 entity of `crm.user_attributes` has more than one `full_name` row");
    p.sql("DELETE FROM crm.user_attributes WHERE id = 2");
    walk_to_sync(&p, "eav", false);
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM crm.users_pii"), 2);
}

/// The issue's defect, through the binary: a `utf8mb4_bin` key on MariaDB keeps 'alice'
/// and 'ALICE' apart from prepare-storage through the sync and a clean cross-check.
#[test]
fn mysql_binary_collated_key_walks_with_alice_and_alice_apart() {
    let Some(db) = TestDb::mysql() else { return };
    let p = Project::new(&db).with_plan("logins", &login_plan("accounts", "accounts_pii"));
    p.sql(
        "CREATE TABLE accounts (login VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, full_name VARCHAR(255))
           DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;
         INSERT INTO accounts VALUES ('alice', 'Alice Lower'), ('ALICE', 'Alice Upper'), ('Alice', 'Alice Title');",
    );
    p.attrmig(["ddl", "logins", "prepare-storage"])
        .run()
        .ok()
        .stdout_has(
            "`login` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY",
        );
    walk_to_sync(&p, "logins", true);
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM accounts_pii"), 3);
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM accounts_pii WHERE login = BINARY 'ALICE' AND full_name = 'Alice Upper'"), 1);
    assert_eq!(p.count("SELECT COUNT(*) AS n FROM accounts_pii WHERE login = BINARY 'alice' AND full_name = 'Alice Lower'"), 1);
    // Converged: a second pass writes nothing.
    p.attrmig(["sync", "logins"])
        .run()
        .ok()
        .stdout_has("0 rows written");
}
