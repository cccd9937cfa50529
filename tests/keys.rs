//! Step 1 refuses keys that do not name one row: an old or new key that is not unique
//! (named with the table's real key), and EAV entities with more than one row of the
//! attribute (named by key, with their count). Sakila's `film_actor` planned by
//! `actor_id` and Chinook's `invoice_line` by `invoice_id` passed step 1, and the sync
//! then wrote the same rows over each other or failed ("ON CONFLICT DO UPDATE command
//! cannot affect row a second time", no key named).

use crate::support::*;

const PLAN: &str = r#"
[old]
kind = "column"
table = "TABLE"
key = "KEY"
column = "last_update"

[new]
table = "NEW"
key = "KEY"
column = "last_update"
"#;

/// `user_attributes(user_id, name, value)` rows of `full_name` to `users_pii`.
const EAV: &str = r#"
[old]
kind = "eav"
table = "user_attributes"
key = "user_id"
name_column = "name"
name = "full_name"
value_column = "value"

[new]
table = "users_pii"
key = "user_id"
column = "full_name"
"#;

fn plan(table: &str, key: &str, new: &str) -> String {
    PLAN.replace("TABLE", table)
        .replace("KEY", key)
        .replace("NEW", new)
}

backend_tests! {
    /// Sakila: film_actor's key is (actor_id, film_id).
    fn an_old_key_that_is_part_of_a_composite_key_is_refused(db: &TestDb) {
        let p = Project::new(db).with_plan("film-actor", &plan("film_actor", "actor_id", "film_actor_meta"));
        p.sql(
            "CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL, last_update VARCHAR(40), PRIMARY KEY (actor_id, film_id));
             INSERT INTO film_actor VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c');
             CREATE TABLE film_actor_meta (actor_id INT NOT NULL PRIMARY KEY, last_update VARCHAR(40));",
        );
        p.attrmig(["advance", "film-actor"])
            .run()
            .code(3)
            .stderr_has("old key `film_actor.actor_id` is not unique: the table's key is (actor_id, film_id)");
        let show = p.attrmig(["--json", "show", "film-actor"]).run().ok().json();
        let keys_join = show["guards"].as_array().unwrap().iter().find(|g| g["name"] == "keys-join").unwrap().clone();
        assert_eq!(keys_join["passed"], false, "{keys_join}");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_transitions"), 0);
    }

    /// Chinook: invoice_line's key is invoice_line_id; invoice_id names an invoice.
    fn an_old_key_that_is_not_the_tables_key_is_refused(db: &TestDb) {
        let p = Project::new(db).with_plan("invoice-line", &plan("invoice_line", "invoice_id", "invoice_meta"));
        p.sql(
            "CREATE TABLE invoice_line (invoice_line_id INT NOT NULL PRIMARY KEY, invoice_id INT NOT NULL, last_update VARCHAR(40));
             CREATE TABLE invoice_meta (invoice_id INT NOT NULL PRIMARY KEY, last_update VARCHAR(40));",
        );
        p.attrmig(["advance", "invoice-line"])
            .run()
            .code(3)
            .stderr_has("old key `invoice_line.invoice_id` is not unique: the table's key is (invoice_line_id)")
            .stderr_has("plan `key = \"invoice_line_id\"`");
        // A table with no key at all says so.
        p.sql(
            "CREATE TABLE heap (id INT NOT NULL, last_update VARCHAR(40));
             CREATE TABLE heap_meta (id INT NOT NULL PRIMARY KEY, last_update VARCHAR(40));",
        );
        p.write("plans/heap.toml", &plan("heap", "id", "heap_meta"));
        p.attrmig(["advance", "heap"])
            .run()
            .code(3)
            .stderr_has("old key `heap.id` is not unique: the table has no primary key")
            .stderr_has("give the table a primary key or a unique index on the key");
        // The advice of each, followed.
        p.sql("CREATE UNIQUE INDEX heap_id ON heap (id)");
        p.attrmig(["advance", "heap"]).run().ok();
        p.sql("CREATE TABLE invoice_line_meta (invoice_line_id INT NOT NULL PRIMARY KEY, last_update VARCHAR(40))");
        p.write("plans/invoice-line.toml", &plan("invoice_line", "invoice_line_id", "invoice_line_meta"));
        p.attrmig(["advance", "invoice-line"]).run().ok();
    }

    /// The new key must name one row too (the sync upserts by it), and the refusal names
    /// the new table's real key.
    fn a_new_key_that_is_not_unique_is_refused_with_the_real_key(db: &TestDb) {
        let p = Project::new(db).with_plan("m", &plan("old_t", "id", "new_t"));
        p.sql(
            "CREATE TABLE old_t (id INT NOT NULL PRIMARY KEY, last_update VARCHAR(40));
             CREATE TABLE new_t (row_id INT NOT NULL PRIMARY KEY, id INT NOT NULL, last_update VARCHAR(40));",
        );
        p.attrmig(["advance", "m"])
            .run()
            .code(3)
            .stderr_has("new key `new_t.id` is not unique: the table's key is (row_id)");
    }

    /// Two rows with the same key and name: the sync can't tell which holds the value.
    fn eav_entities_with_two_rows_of_the_attribute_are_refused_by_key(db: &TestDb) {
        let p = Project::new(db).with_plan("eav", EAV);
        p.sql(
            "CREATE TABLE user_attributes (id INT NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, value VARCHAR(40));
             INSERT INTO user_attributes VALUES (1, 1, 'full_name', 'Ada'), (2, 1, 'full_name', 'Ada L.'), (3, 2, 'full_name', 'Bob'),
               (4, 3, 'full_name', 'Cy'), (5, 3, 'full_name', 'Cy'), (6, 3, 'full_name', 'C.'), (7, 2, 'nickname', 'b'), (8, 2, 'nickname', 'bb');
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(40));",
        );
        // Views do not read every attribute row; they say so.
        p.attrmig(["show", "eav"]).run().ok().stdout_has("not counted yet");
        p.attrmig(["advance", "eav"])
            .run()
            .code(3)
            .stderr_has("2 entities of `user_attributes` have more than one `full_name` row (keys 1, 3)");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_transitions"), 0);

        // The advice: delete the extra rows, then a unique key keeps them out.
        p.sql("DELETE FROM user_attributes WHERE id IN (2, 5, 6)");
        p.attrmig(["advance", "eav"]).run().ok().stdout_has("0 planned → 1 prepare-storage");
        p.attrmig(["log", "eav", "--verify"]).run().ok();
    }

    /// A unique key on (key, name) rules duplicates out: nothing is counted, in views too.
    fn eav_with_a_unique_key_on_key_and_name_needs_no_count(db: &TestDb) {
        let p = Project::new(db).with_plan("eav", EAV);
        p.sql(
            "CREATE TABLE user_attributes (user_id BIGINT NOT NULL, name VARCHAR(40) NOT NULL, value VARCHAR(40), PRIMARY KEY (user_id, name));
             INSERT INTO user_attributes VALUES (1, 'full_name', 'Ada'), (1, 'nickname', 'a');
             CREATE TABLE users_pii (user_id BIGINT NOT NULL PRIMARY KEY, full_name VARCHAR(40));",
        );
        p.attrmig(["show", "eav"]).run().ok().stdout_has("the key (user_id, name) allows one `full_name` row per entity");
        p.attrmig(["advance", "eav"]).run().ok();
    }
}
