//! What the store and the tools rely on from a connection, on every backend.

use attrmig_testing::backend_tests;
use diesel::RunQueryDsl;

backend_tests! {
    /// Compare-and-swap and lease renewal read "1 row" as "it matched". MySQL counts
    /// changed rows unless the client asks for found rows (diesel does, with
    /// CLIENT_FOUND_ROWS): an UPDATE that writes the values a row already has must still
    /// count it.
    fn an_update_counts_the_rows_it_matched_not_the_rows_it_changed(db: &TestDb) {
        db.execute(
            "CREATE TABLE leases (id BIGINT PRIMARY KEY, holder VARCHAR(40) NOT NULL);
             INSERT INTO leases (id, holder) VALUES (1, 'alice'), (2, 'bob');",
        );
        let mut conn = db.connect();
        let same = diesel::sql_query("UPDATE leases SET holder = 'alice' WHERE id = 1")
            .execute(&mut conn)
            .unwrap();
        assert_eq!(same, 1, "a row set to its own values is matched");
        let changed = diesel::sql_query("UPDATE leases SET holder = 'carol' WHERE id = 2")
            .execute(&mut conn)
            .unwrap();
        assert_eq!(changed, 1);
        let none = diesel::sql_query("UPDATE leases SET holder = 'dave' WHERE id = 3")
            .execute(&mut conn)
            .unwrap();
        assert_eq!(none, 0);
    }
}

/// A `mysql://` URL on a build without MySQL support says how to rebuild.
#[test]
fn a_mysql_url_without_mysql_support_says_how_to_rebuild() {
    let url =
        attrmig_db::DatabaseUrl::parse("mysql://root@127.0.0.1/test", std::path::Path::new("/"))
            .unwrap();
    let result = attrmig_db::connect(&url);
    if !attrmig_db::MYSQL_SUPPORTED {
        let message = result
            .err()
            .expect("refused without MySQL support")
            .to_string();
        assert!(
            message.contains("cargo build --release --features mysql"),
            "{message}"
        );
    } else if let Err(e) = result {
        // With MySQL support the URL is tried (it may or may not reach a server): the
        // point is only that it is not refused as unsupported.
        assert!(!matches!(e, attrmig_db::DbError::MysqlNotBuilt), "{e}");
    }
}

/// Whether another process finds the SQLite database write-locked (the `sqlite3`
/// client, which .ci/run installs, with no busy timeout).
fn write_locked_for_another_process(path: &std::path::Path) -> bool {
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("BEGIN IMMEDIATE; ROLLBACK;")
        .output()
        .expect("the sqlite3 client runs (apt-get install sqlite3)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("locked"),
        "sqlite3 failed otherwise: {stderr}"
    );
    !out.status.success()
}

/// Opening a connection must leave the locks of this process's other connections to the
/// same file alone. A POSIX lock belongs to the process, and closing any descriptor of
/// the file drops them all: a header check that opened and closed the file itself let
/// another process write under a live transaction, or delete a WAL file still in use
/// (an application's acknowledged writes lost, and "disk I/O error" for its readers).
#[test]
fn connecting_leaves_the_locks_of_open_connections_alone() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let mut first = attrmig_db::create_sqlite(&path).unwrap();
    first
        .batch_execute("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
        .unwrap();
    assert!(
        write_locked_for_another_process(&path),
        "the open transaction locks the file"
    );
    let url = attrmig_db::DatabaseUrl::parse(&format!("sqlite://{}", path.display()), dir.path())
        .unwrap();
    let _second = attrmig_db::connect(&url).unwrap();
    assert!(
        write_locked_for_another_process(&path),
        "opening a second connection released the first one's lock"
    );
    first.batch_execute("COMMIT").unwrap();
}
