//! Introspection against real databases: what guards 1, 7 and 10 rely on.

use attrmig_core::facts::TableFact;
use attrmig_core::ident::TableName;
use attrmig_db::introspect;
use attrmig_testing::{TestDb, backend_tests};

fn ident(s: &str) -> TableName {
    TableName::parse(s).unwrap()
}

backend_tests! {
    fn columns_nullability_defaults_and_uniqueness(db: &TestDb) {
        db.execute(
            "CREATE TABLE users_pii (user_id BIGINT PRIMARY KEY, full_name VARCHAR(255) NOT NULL, \
             nick VARCHAR(40) DEFAULT 'none' NOT NULL, email VARCHAR(100), code VARCHAR(10), a INT, b INT);
             CREATE UNIQUE INDEX users_pii_code ON users_pii (code);
             CREATE UNIQUE INDEX users_pii_ab ON users_pii (a, b);",
        );
        let mut conn = db.connect();
        let TableFact::Present { columns, .. } = introspect::table(&mut conn, &ident("users_pii")).unwrap() else {
            panic!("table should exist");
        };
        let col = |n: &str| columns.iter().find(|c| c.name == n).unwrap_or_else(|| panic!("{n} in {columns:?}"));
        assert!(col("user_id").unique && !col("user_id").nullable);
        assert!(!col("full_name").nullable && col("full_name").default.is_none());
        assert!(col("full_name").data_type.to_lowercase().contains("char"), "{:?}", col("full_name"));
        assert!(col("nick").default.as_deref().is_some_and(|d| d.contains("none")), "{:?}", col("nick"));
        assert!(col("email").nullable && col("email").default.is_none(), "{:?}", col("email"));
        assert!(col("code").unique, "a one-column unique index makes a key");
        assert!(!col("a").unique && !col("b").unique, "a two-column index does not");
        assert_eq!(
            introspect::table(&mut conn, &ident("nope")).unwrap(),
            TableFact::Missing { table: "nope".into() }
        );
    }

    fn primary_and_unique_keys_as_lists_of_columns(db: &TestDb) {
        db.execute(
            "CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL, note VARCHAR(10), code VARCHAR(10), \
               PRIMARY KEY (film_id, actor_id));
             CREATE UNIQUE INDEX film_actor_code ON film_actor (code, note);
             CREATE TABLE heap (id INT NOT NULL, note VARCHAR(10));",
        );
        let mut conn = db.connect();
        let fact = introspect::table(&mut conn, &ident("film_actor")).unwrap();
        assert_eq!(fact.primary_key(), ["film_id", "actor_id"], "in key order: {fact:?}");
        assert!(!fact.column("actor_id").unwrap().unique, "part of a key is no key");
        assert!(fact.unique_by(&["actor_id", "film_id"]));
        assert!(fact.unique_by(&["actor_id", "film_id", "note"]), "a superset of a key is unique too");
        assert!(!fact.unique_by(&["actor_id"]));
        assert!(fact.unique_by(&["note", "code"]), "{fact:?}");
        let heap = introspect::table(&mut conn, &ident("heap")).unwrap();
        assert_eq!(heap.primary_key(), [] as [&str; 0]);
        assert!(!heap.unique_by(&["id", "note"]));
        if db.backend() != attrmig_db::Backend::Mysql {
            // An expression says nothing about the columns (MariaDB has no such index).
            db.execute("CREATE UNIQUE INDEX heap_lower ON heap ((id + 1))");
            let heap = introspect::table(&mut conn, &ident("heap")).unwrap();
            assert!(!heap.unique_by(&["id"]), "{heap:?}");
        }
    }

    fn database_user_where_there_is_one(db: &TestDb) {
        let user = db.connect().db_user().unwrap();
        match db.backend() {
            attrmig_db::Backend::Sqlite => assert_eq!(user, None),
            _ => assert!(user.is_some_and(|u| !u.is_empty())),
        }
    }
}

#[test]
fn sqlite_integer_primary_key_is_unique_and_not_null() {
    let db = TestDb::sqlite();
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT)");
    let mut conn = db.connect();
    let fact = introspect::table(&mut conn, &ident("users")).unwrap();
    let id = fact.column("id").unwrap();
    assert!(id.unique && !id.nullable, "{id:?}");
    assert_eq!(
        fact.primary_key(),
        ["id"],
        "a rowid primary key has no index to read it from"
    );
}

#[test]
fn missing_sqlite_file_is_an_error_not_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = attrmig_db::DatabaseUrl::parse("sqlite://gone.db", dir.path()).unwrap();
    let err = attrmig_db::connect(&url).err().unwrap().to_string();
    assert!(err.contains("gone.db does not exist"), "{err}");
    assert!(!dir.path().join("gone.db").exists());
}

/// MySQL/MariaDB defaults come back as SQL, whichever of the two wrote them: MariaDB
/// quotes literals and writes DEFAULT NULL as the bare word; MySQL 8 quotes nothing.
#[test]
fn mysql_defaults_are_sql_and_default_null_is_none() {
    let Some(db) = TestDb::mysql() else { return };
    db.execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, \
         full_name VARCHAR(255) NOT NULL DEFAULT '', \
         nick VARCHAR(40) NOT NULL DEFAULT 'it''s', \
         word VARCHAR(40) DEFAULT 'NULL', \
         email VARCHAR(100) DEFAULT NULL, \
         code VARCHAR(10) NOT NULL, \
         seen DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
    );
    let mut conn = db.connect();
    let fact = introspect::table(&mut conn, &ident("users")).unwrap();
    let default = |n: &str| fact.column(n).unwrap().default.clone();
    assert_eq!(
        default("full_name").as_deref(),
        Some("''"),
        "the procedure's own example: NOT NULL DEFAULT ''"
    );
    // MariaDB doubles the quote; MySQL 8's QUOTE() escapes it: both are the same literal.
    assert!(
        matches!(default("nick").as_deref(), Some("'it''s'" | "'it\\'s'")),
        "{:?}",
        default("nick")
    );
    assert_eq!(
        default("word").as_deref(),
        Some("'NULL'"),
        "a string 'NULL' is not DEFAULT NULL"
    );
    assert_eq!(default("email"), None);
    assert_eq!(default("code"), None);
    assert!(
        default("seen").is_some_and(|d| d.to_lowercase().starts_with("current_timestamp")),
        "{:?}",
        default("seen")
    );
    assert_eq!(fact.column("code").unwrap().data_type, "varchar(10)");
}
