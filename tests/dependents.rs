//! What the database itself does with old storage, on schemas shaped like the public
//! samples where it went wrong (Pagila on PostgreSQL, Sakila on MariaDB, Chinook on
//! SQLite), each story on every backend: views still reading old storage at 6, triggers
//! still copying it at 9, a foreign key on the old column, an index on it.

use attrmig_core::Step;
use attrmig_core::facts::Counts;
use attrmig_db::Backend;
use chrono::Duration;

use crate::recorded::{Store, hours_ago, plan};
use crate::support::*;

/// The same statement in each backend's spelling.
fn per_backend(db: &TestDb, sqlite: &str, postgres: &str, mysql: &str) -> String {
    match db.backend() {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
        Backend::Mysql => mysql,
    }
    .to_owned()
}

fn plan_text(old_table: &str, key: &str, column: &str, new_table: &str) -> String {
    format!(
        r#"
description = "Move {old_table}.{column} to {new_table}"

[old]
kind = "column"
table = "{old_table}"
key = "{key}"
column = "{column}"

[new]
table = "{new_table}"
key = "{key}"
column = "{column}"

[guards]
soak = "0s"
max_check_age = "1h"
approvals = 1
"#
    )
}

/// Records `id` at `step` through attrmig's own store, with a clean cross-check that just
/// finished (5a, 5b and 6 want a fresh one) and, from 8 on, bob's approval of 9.
fn recorded_at(p: &Project<'_>, id: &str, text: &str, step: Step) {
    let plan = plan(id, text);
    let mut store = Store::open(p.db);
    store.advance_to(&plan, step, hours_ago(48), Duration::hours(2));
    let clean = Counts {
        matching: 3,
        ..Counts::default()
    };
    store.cross_check(
        id,
        step,
        clean,
        attrmig_core::audit::now() - Duration::minutes(10),
    );
    if step >= Step::DeleteTools {
        store.approve(&plan, "bob@example.com", hours_ago(1));
    }
}

// --- Pagila: views reading address.phone -----------------------------------------------

const PHONE: &str = "address-phone";

fn pagila(p: &Project<'_>) {
    p.sql(
        "CREATE TABLE address (address_id INT PRIMARY KEY, address VARCHAR(50) NOT NULL, phone VARCHAR(20) NOT NULL);
         CREATE TABLE customer (customer_id INT PRIMARY KEY, first_name VARCHAR(45) NOT NULL, address_id INT NOT NULL);
         CREATE TABLE staff (staff_id INT PRIMARY KEY, first_name VARCHAR(45) NOT NULL, address_id INT NOT NULL);
         CREATE TABLE address_phone (address_id INT PRIMARY KEY, phone VARCHAR(20));
         INSERT INTO address VALUES (1, '47 MySakila Drive', '555-0101'), (2, '28 MySQL Boulevard', '555-0102'), (3, '23 Workhaven Lane', '555-0103');
         INSERT INTO address_phone SELECT address_id, phone FROM address;
         INSERT INTO customer VALUES (1, 'MARY', 1), (2, 'PATRICIA', 2);
         INSERT INTO staff VALUES (1, 'Mike', 3);
         CREATE VIEW customer_list AS
           SELECT cu.customer_id AS id, cu.first_name AS name, a.address AS address, a.phone AS phone
           FROM customer cu JOIN address a ON cu.address_id = a.address_id;
         CREATE VIEW staff_list AS
           SELECT s.staff_id AS id, s.first_name AS name, a.address AS address, a.phone AS phone
           FROM staff s JOIN address a ON s.address_id = a.address_id;",
    );
}

/// The views redefined over new storage: the old table is still joined, for `address`.
fn pagila_views_over_new_storage(p: &Project<'_>) {
    for (view, person, alias, key) in [
        ("customer_list", "customer", "cu", "customer_id"),
        ("staff_list", "staff", "s", "staff_id"),
    ] {
        let select = format!(
            "SELECT {alias}.{key} AS id, {alias}.first_name AS name, a.address AS address, ap.phone AS phone \
             FROM {person} {alias} JOIN address a ON {alias}.address_id = a.address_id \
             LEFT JOIN address_phone ap ON ap.address_id = a.address_id"
        );
        p.sql(&per_backend(
            p.db,
            &format!("DROP VIEW {view}; CREATE VIEW {view} AS {select}"),
            &format!("CREATE OR REPLACE VIEW {view} AS {select}"),
            &format!("CREATE OR REPLACE VIEW {view} AS {select}"),
        ));
    }
}

// --- Sakila: triggers copying film.description into film_text ----------------------------

const DESCRIPTION: &str = "film-description";

fn sakila_film(p: &Project<'_>) {
    p.sql(
        "CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(128) NOT NULL, description TEXT);
         CREATE TABLE film_text (film_id INT PRIMARY KEY, title VARCHAR(255) NOT NULL, description TEXT);
         CREATE TABLE film_description (film_id INT PRIMARY KEY, description TEXT);",
    );
    p.sql(&per_backend(
        p.db,
        "CREATE TRIGGER ins_film AFTER INSERT ON film BEGIN
           INSERT INTO film_text (film_id, title, description) VALUES (new.film_id, new.title, new.description);
         END;
         CREATE TRIGGER upd_film AFTER UPDATE ON film BEGIN
           UPDATE film_text SET title = new.title, description = new.description, film_id = new.film_id
           WHERE film_id = old.film_id;
         END;",
        "CREATE FUNCTION film_text_ins() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO film_text (film_id, title, description) VALUES (NEW.film_id, NEW.title, NEW.description);
           RETURN NEW;
         END $$;
         CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW EXECUTE FUNCTION film_text_ins();
         CREATE FUNCTION film_text_upd() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           UPDATE film_text SET title = NEW.title, description = NEW.description, film_id = NEW.film_id
           WHERE film_id = OLD.film_id;
           RETURN NEW;
         END $$;
         CREATE TRIGGER upd_film AFTER UPDATE ON film FOR EACH ROW EXECUTE FUNCTION film_text_upd();",
        "CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW BEGIN
           INSERT INTO film_text (film_id, title, description) VALUES (new.film_id, new.title, new.description);
         END;
         CREATE TRIGGER upd_film AFTER UPDATE ON film FOR EACH ROW BEGIN
           IF (old.title != new.title) OR (old.description != new.description) OR (old.film_id != new.film_id) THEN
             UPDATE film_text SET title = new.title, description = new.description, film_id = new.film_id
             WHERE film_id = old.film_id;
           END IF;
         END;",
    ));
    p.sql(
        "INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR', 'A Epic Drama'), (2, 'ACE GOLDFINGER', 'A Astounding Epistle'), (3, 'ADAPTATION HOLES', 'A Astounding Reflection');
         INSERT INTO film_description SELECT film_id, description FROM film;",
    );
}

/// The triggers redefined without the old column: film_text's description is kept by
/// whoever writes new storage now.
fn sakila_triggers_without_description(p: &Project<'_>) {
    p.sql(&per_backend(
        p.db,
        "DROP TRIGGER ins_film; DROP TRIGGER upd_film;
         CREATE TRIGGER ins_film AFTER INSERT ON film BEGIN
           INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title);
         END;
         CREATE TRIGGER upd_film AFTER UPDATE ON film BEGIN
           UPDATE film_text SET title = new.title, film_id = new.film_id WHERE film_id = old.film_id;
         END;",
        "CREATE OR REPLACE FUNCTION film_text_ins() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO film_text (film_id, title) VALUES (NEW.film_id, NEW.title);
           RETURN NEW;
         END $$;
         CREATE OR REPLACE FUNCTION film_text_upd() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           UPDATE film_text SET title = NEW.title, film_id = NEW.film_id WHERE film_id = OLD.film_id;
           RETURN NEW;
         END $$;",
        "DROP TRIGGER ins_film; DROP TRIGGER upd_film;
         CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW BEGIN
           INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title);
         END;
         CREATE TRIGGER upd_film AFTER UPDATE ON film FOR EACH ROW BEGIN
           UPDATE film_text SET title = new.title, film_id = new.film_id WHERE film_id = old.film_id;
         END;",
    ));
}

// --- Sakila: store.address_id under fk_store_address -------------------------------------

const STORE_ADDRESS: &str = "store-address";

fn sakila_store(p: &Project<'_>) {
    p.sql(
        "CREATE TABLE address (address_id INT PRIMARY KEY, phone VARCHAR(20));
         INSERT INTO address VALUES (1, '555-0101'), (2, '555-0102');
         CREATE TABLE store_location (store_id INT PRIMARY KEY, address_id INT);",
    );
    p.sql(&per_backend(
        p.db,
        "CREATE TABLE store (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL,
           address_id INT NOT NULL CONSTRAINT fk_store_address REFERENCES address (address_id));
         CREATE INDEX idx_fk_address_id ON store (address_id);",
        "CREATE TABLE store (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL, address_id INT NOT NULL,
           CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id));
         CREATE INDEX idx_fk_address_id ON store (address_id);",
        "CREATE TABLE store (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL, address_id INT NOT NULL,
           KEY idx_fk_address_id (address_id),
           CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id));",
    ));
    p.sql(
        "INSERT INTO store VALUES (1, 1, 1), (2, 2, 2);
         INSERT INTO store_location SELECT store_id, address_id FROM store;",
    );
}

// --- Chinook: IX_TrackComposer --------------------------------------------------------------

const COMPOSER: &str = "track-composer";

/// Chinook's mixed-case names (quoted on PostgreSQL, which folds bare names).
fn chinook_track(p: &Project<'_>) {
    let rows = "(1, 'For Those About To Rock', 'Angus Young, Malcolm Young, Brian Johnson'), \
                (2, 'Balls to the Wall', NULL), (3, 'Fast As a Shark', 'F. Baltes, S. Kaufman, U. Dirkscneider & W. Hoffman')";
    let bare = format!(
        "CREATE TABLE Track (TrackId INT PRIMARY KEY, Name VARCHAR(200) NOT NULL, Composer VARCHAR(220));
         CREATE INDEX IX_TrackComposer ON Track (Composer);
         INSERT INTO Track VALUES {rows};"
    );
    let quoted = format!(
        "CREATE TABLE \"Track\" (\"TrackId\" INT PRIMARY KEY, \"Name\" VARCHAR(200) NOT NULL, \"Composer\" VARCHAR(220));
         CREATE INDEX \"IX_TrackComposer\" ON \"Track\" (\"Composer\");
         INSERT INTO \"Track\" VALUES {rows};"
    );
    p.sql(&per_backend(p.db, &bare, &quoted, &bare));
}

/// Steps 1 to 9 through the real binary, for a plan whose old column is nullable.
fn walk_to_nine(p: &Project<'_>, id: &str) {
    p.attrmig(["ddl", id, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["cross-check", id]).run();
    p.attrmig(["advance", id]).run().ok();
    p.attrmig(["advance", id, "--note", "release 1"]).run().ok();
    p.attrmig(["sync", id]).run().ok();
    p.attrmig(["cross-check", id]).run().ok();
    for _ in 0..6 {
        p.attrmig(["advance", id]).run().ok();
    }
    p.attrmig(["approve", id])
        .actor("bob@example.com")
        .run()
        .ok();
    p.attrmig(["advance", id, "--confirm-point-of-no-return"])
        .run()
        .ok();
}

backend_tests! {
    /// Pagila's customer_list and staff_list read address.phone: stopping reading old
    /// storage is refused while they do, each named, and allowed once they read new.
    fn views_reading_old_storage_refuse_stop_reading_old(db: &TestDb) {
        let text = plan_text("address", "address_id", "phone", "address_phone");
        let p = Project::new(db).with_plan(PHONE, &text);
        pagila(&p);
        recorded_at(&p, PHONE, &text, Step::DoubleReadNew);

        p.attrmig(["advance", PHONE])
            .run()
            .code(3)
            .stderr_has("view customer_list")
            .stderr_has("view staff_list")
            .stderr_has("redefine");
        p.attrmig(["show", PHONE]).run().ok().stdout_has("customer_list");

        pagila_views_over_new_storage(&p);
        p.attrmig(["advance", PHONE]).run().ok().stdout_has("→ 6 stop-reading-old");
    }

    /// Sakila's ins_film and upd_film copy film.description into film_text: the point of
    /// no return is refused while they do, since every write of film would fail once the
    /// column is dropped; allowed once they no longer name it, and then the drop leaves
    /// film writable.
    fn triggers_on_old_storage_refuse_stop_writing_old(db: &TestDb) {
        let text = plan_text("film", "film_id", "description", "film_description");
        let p = Project::new(db).with_plan(DESCRIPTION, &text);
        sakila_film(&p);
        recorded_at(&p, DESCRIPTION, &text, Step::DeleteTools);

        p.attrmig(["advance", DESCRIPTION, "--confirm-point-of-no-return"])
            .run()
            .code(3)
            .stderr_has("trigger ins_film")
            .stderr_has("trigger upd_film");

        sakila_triggers_without_description(&p);
        p.attrmig(["advance", DESCRIPTION, "--confirm-point-of-no-return"]).run().ok();
        p.attrmig(["ddl", DESCRIPTION, "drop-old", "--apply"]).run().ok();
        p.sql("INSERT INTO film (film_id, title) VALUES (4, 'AFFAIR PREJUDICE'); UPDATE film SET title = 'ACADEMY DINOSAURS' WHERE film_id = 1");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM film_text"), 4, "the insert reached film_text");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM film_text WHERE title = 'ACADEMY DINOSAURS'"), 1, "and the update");
    }

    /// store.address_id carries fk_store_address: drop-old can't remove it, so the point
    /// of no return is refused before anything is dropped, with what to do.
    fn a_foreign_key_on_the_old_column_refuses_stop_writing_old(db: &TestDb) {
        let text = plan_text("store", "store_id", "address_id", "store_location");
        let p = Project::new(db).with_plan(STORE_ADDRESS, &text);
        sakila_store(&p);
        recorded_at(&p, STORE_ADDRESS, &text, Step::DeleteTools);

        p.attrmig(["advance", STORE_ADDRESS, "--confirm-point-of-no-return"])
            .run()
            .code(3)
            .stderr_has("foreign key fk_store_address");
        assert_eq!(p.attrmig(["--json", "mode", STORE_ADDRESS]).run().ok().json()["step"], "delete-tools");
    }

    /// Chinook's IX_TrackComposer: prepare-storage proposes its counterpart on new storage,
    /// and drop-old says it takes the index along (on SQLite it drops it first, so the
    /// drop succeeds).
    fn an_index_on_the_old_column(db: &TestDb) {
        let text = plan_text("Track", "TrackId", "Composer", "TrackComposer");
        let p = Project::new(db).with_plan(COMPOSER, &text);
        chinook_track(&p);

        p.attrmig(["ddl", COMPOSER, "prepare-storage"])
            .run()
            .ok()
            .stdout_has("CREATE INDEX");
        walk_to_nine(&p, COMPOSER);
        p.attrmig(["ddl", COMPOSER, "drop-old"])
            .run()
            .ok()
            .stdout_has("IX_TrackComposer");
        p.attrmig(["ddl", COMPOSER, "drop-old", "--apply"]).run().ok();
        p.attrmig(["advance", COMPOSER]).run().ok().stdout_has("→ 10 drop-old");
    }

    /// A view created after 6 still reads address.phone: drop-old names it and refuses
    /// before running anything, instead of PostgreSQL's error without its DETAIL line, or
    /// MariaDB dropping the column under the view.
    fn a_view_reading_old_storage_blocks_drop_old(db: &TestDb) {
        let text = plan_text("address", "address_id", "phone", "address_phone");
        let p = Project::new(db).with_plan(PHONE, &text);
        p.sql(
            "CREATE TABLE address (address_id INT PRIMARY KEY, address VARCHAR(50) NOT NULL, phone VARCHAR(20));
             INSERT INTO address VALUES (1, '47 MySakila Drive', '555-0101'), (2, '28 MySQL Boulevard', NULL);",
        );
        walk_to_nine(&p, PHONE);
        p.sql("CREATE VIEW address_list AS SELECT a.address_id AS id, a.address AS address, a.phone AS phone FROM address a");

        p.attrmig(["ddl", PHONE, "drop-old", "--apply"])
            .run()
            .code(3)
            .stderr_has("view address_list");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM address_list"), 2, "the view still works");
    }
}
