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

        let said = refused(&p, &["advance", STORE_ADDRESS, "--confirm-point-of-no-return"]);
        assert_names(&said, &["foreign key fk_store_address on store (address_id) to address (address_id)", "give store_location.address_id its own foreign key if it needs one"]);
        assert_eq!(p.attrmig(["--json", "mode", STORE_ADDRESS]).run().ok().json()["step"], "delete-tools");

        // Doing what it says lifts it, and drop-old then drops the column (MariaDB's
        // idx_fk_address_id goes with it).
        match db.backend() {
            Backend::Postgres => run_advised(&p, &said, "ALTER TABLE \"store\" DROP CONSTRAINT \"fk_store_address\""),
            Backend::Mysql => run_advised(&p, &said, "ALTER TABLE `store` DROP FOREIGN KEY `fk_store_address`"),
            Backend::Sqlite => {
                assert_names(&said, &["rebuild store without fk_store_address", "https://www.sqlite.org/lang_altertable.html#otheralter"]);
                p.sql("PRAGMA foreign_keys = OFF;
                       CREATE TABLE store_rebuilt (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL, address_id INT NOT NULL);
                       INSERT INTO store_rebuilt SELECT store_id, manager_staff_id, address_id FROM store;
                       DROP TABLE store;
                       ALTER TABLE store_rebuilt RENAME TO store;
                       CREATE INDEX idx_fk_address_id ON store (address_id);
                       PRAGMA foreign_keys = ON;");
            }
        }
        p.attrmig(["advance", STORE_ADDRESS, "--confirm-point-of-no-return"]).run().ok();
        p.attrmig(["ddl", STORE_ADDRESS, "drop-old", "--apply"])
            .run()
            .ok()
            .stdout_has("-- takes along: index idx_fk_address_id on store (address_id)");
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

// --- every kind of dependent, through the whole procedure -------------------------------------

/// What every backend's fixture shares: the tables around the old one, its rows, new
/// storage, and a view reading old storage.
const EVERYTHING_TABLES: &str = "
    CREATE TABLE phone_number (number VARCHAR(20) PRIMARY KEY);
    INSERT INTO phone_number VALUES ('555-0101'), ('555-0102');
    CREATE TABLE staff (staff_id INT PRIMARY KEY, phone VARCHAR(20));
    INSERT INTO staff VALUES (1, '555-0199');
";
const EVERYTHING_ROWS: &str = "
    INSERT INTO address (address_id, city, phone) VALUES (1, 'Lethbridge', '555-0101'), (2, 'Woodridge', '555-0102');
    CREATE TABLE address_phone (address_id INT PRIMARY KEY, phone VARCHAR(20));
    INSERT INTO address_phone SELECT address_id, phone FROM address;
    CREATE TABLE phone_log (phone TEXT);
    CREATE VIEW customer_list AS SELECT a.address_id AS id, a.city AS city, a.phone AS phone FROM address a;
";

/// One backend's fixture: the old table with its constraints, the dependents after its
/// rows, and the rest of what it has.
fn everything(parts: [&str; 3]) -> String {
    let [address, after_rows, rest] = parts;
    format!("{EVERYTHING_TABLES}{address}{EVERYTHING_ROWS}{after_rows}{rest}")
}

/// PostgreSQL: the old table, what comes after its rows, the rest.
const EVERYTHING_PG: [&str; 3] = [
    "    CREATE TABLE address (address_id INT PRIMARY KEY, city VARCHAR(50), phone VARCHAR(20) NOT NULL,
      CONSTRAINT phone_set CHECK (phone IS NOT NULL),
      CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
      CONSTRAINT address_phone_unique UNIQUE (phone),
      CONSTRAINT fk_address_phone FOREIGN KEY (phone) REFERENCES phone_number (number));
    ALTER TABLE address ADD COLUMN phone_digits TEXT GENERATED ALWAYS AS (replace(phone, '-', '')) STORED;
    CREATE INDEX ix_address_city_phone ON address (city, phone);",
    "    CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20) CONSTRAINT phone_book_phone_fkey REFERENCES address (phone));",
    "    CREATE MATERIALIZED VIEW phone_count AS SELECT phone, count(*) AS n FROM address GROUP BY phone;
    CREATE RULE log_phone_rule AS ON UPDATE TO address DO ALSO INSERT INTO phone_log VALUES (NEW.phone);
    ALTER TABLE address ENABLE ROW LEVEL SECURITY;
    CREATE POLICY has_phone ON address USING (phone IS NOT NULL);
    CREATE FUNCTION phone_of(id INT) RETURNS TEXT LANGUAGE sql BEGIN ATOMIC SELECT phone FROM address WHERE address_id = id; END;
    CREATE FUNCTION staff_phone(id INT) RETURNS TEXT LANGUAGE plpgsql AS $$
      BEGIN RETURN (SELECT phone FROM staff WHERE staff_id IN (SELECT address_id FROM address WHERE address_id = id)); END $$;
    CREATE FUNCTION set_phone(id INT, p TEXT) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN UPDATE address SET phone = p WHERE address_id = id; END $$;
    CREATE FUNCTION trim_phone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.phone := trim(NEW.phone); RETURN NEW; END $$;
    CREATE TRIGGER trim_phone BEFORE INSERT ON address FOR EACH ROW EXECUTE FUNCTION trim_phone();
    CREATE FUNCTION log_phone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO phone_log VALUES (NEW.phone); RETURN NEW; END $$;
    CREATE TRIGGER log_phone AFTER UPDATE ON address FOR EACH ROW EXECUTE FUNCTION log_phone();
    SET client_min_messages = error;
    CREATE PUBLICATION phones FOR TABLE address (address_id, phone);",
];

/// MySQL/MariaDB: the same, with its routines, triggers and an event.
const EVERYTHING_MYSQL: [&str; 3] = [
    "    CREATE TABLE address (address_id INT PRIMARY KEY, city VARCHAR(50), phone VARCHAR(20) NOT NULL,
      phone_digits VARCHAR(20) GENERATED ALWAYS AS (replace(phone, '-', '')) VIRTUAL,
      CONSTRAINT phone_set CHECK (phone IS NOT NULL),
      CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
      UNIQUE KEY address_phone_unique (phone),
      KEY ix_address_city_phone (city, phone),
      CONSTRAINT fk_address_phone FOREIGN KEY (phone) REFERENCES phone_number (number));",
    "    CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20),
      CONSTRAINT phone_book_phone_fkey FOREIGN KEY (phone) REFERENCES address (phone));",
    "    CREATE FUNCTION phone_of(id INT) RETURNS VARCHAR(20) READS SQL DATA RETURN (SELECT phone FROM address WHERE address_id = id);
    CREATE FUNCTION staff_phone(id INT) RETURNS VARCHAR(20) READS SQL DATA
      RETURN (SELECT phone FROM staff WHERE staff_id IN (SELECT address_id FROM address WHERE address_id = id));
    CREATE PROCEDURE set_phone(id INT, p VARCHAR(20)) MODIFIES SQL DATA UPDATE address SET phone = p WHERE address_id = id;
    CREATE TRIGGER trim_phone BEFORE INSERT ON address FOR EACH ROW SET NEW.phone = trim(NEW.phone);
    CREATE TRIGGER log_phone AFTER UPDATE ON address FOR EACH ROW INSERT INTO phone_log VALUES (NEW.phone);
    CREATE EVENT clear_phones ON SCHEDULE EVERY 1 DAY DISABLE DO UPDATE address SET phone = trim(phone);",
];

/// SQLite: the same, with what it has (views and triggers; no routines).
const EVERYTHING_SQLITE: [&str; 3] = [
    "    CREATE TABLE address (address_id INT PRIMARY KEY, city VARCHAR(50),
      phone VARCHAR(20) NOT NULL CONSTRAINT fk_address_phone REFERENCES phone_number (number),
      phone_digits TEXT GENERATED ALWAYS AS (replace(phone, '-', '')) VIRTUAL,
      CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
      CONSTRAINT address_phone_unique UNIQUE (phone));
    CREATE INDEX ix_address_city_phone ON address (city, phone);",
    "    CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20) CONSTRAINT phone_book_phone_fkey REFERENCES address (phone));",
    "    CREATE VIEW staff_with_address AS SELECT phone FROM staff WHERE staff_id IN (SELECT address_id FROM address);
    CREATE TRIGGER trim_phone AFTER INSERT ON address BEGIN
      UPDATE address SET phone = trim(new.phone) WHERE address_id = new.address_id;
    END;
    CREATE TRIGGER log_phone AFTER UPDATE ON address BEGIN INSERT INTO phone_log VALUES (new.phone); END;",
];

/// Runs a refused command and returns what it said.
#[track_caller]
fn refused(p: &Project<'_>, args: &[&str]) -> String {
    p.attrmig(args).run().code(3).stderr
}

#[track_caller]
fn assert_names(said: &str, objects: &[&str]) {
    for object in objects {
        assert!(said.contains(object), "{object:?} not named in:\n{said}");
    }
}

#[track_caller]
fn assert_not_named(said: &str, objects: &[&str]) {
    for object in objects {
        assert!(!said.contains(object), "{object:?} named in:\n{said}");
    }
}

/// The statement a refusal gives for `object`, run as it says.
#[track_caller]
fn run_advised(p: &Project<'_>, said: &str, statement: &str) {
    assert!(
        said.contains(statement),
        "{statement:?} not advised in:\n{said}"
    );
    p.sql(statement);
}

backend_tests! {
    /// Every kind of dependent a backend has, on one old column: each guard names the ones
    /// it is about, with what to do; doing it (redefining, dropping, running the statement
    /// the refusal gives, vouching for a text match with a note) lifts the refusal, and
    /// drop-old then runs without the database's own error.
    fn every_kind_of_dependent_through_the_procedure(db: &TestDb) {
        let text = plan_text("address", "address_id", "phone", "address_phone");
        let p = Project::new(db).with_plan(PHONE, &text);
        let backend = db.backend();
        p.sql(&everything(match backend {
            Backend::Postgres => EVERYTHING_PG,
            Backend::Mysql => EVERYTHING_MYSQL,
            Backend::Sqlite => EVERYTHING_SQLITE,
        }));
        recorded_at(&p, PHONE, &text, Step::DoubleReadNew);
        let show = p.attrmig(["show", PHONE]).run().ok().stdout;
        assert_names(&show, &["view customer_list", "trigger trim_phone on address", "foreign key fk_address_phone", "generated column phone_digits"]);

        // 6: the readers, each named; a text match can be vouched for, the rest redefined.
        let false_match = match backend {
            Backend::Sqlite => "staff_with_address",
            _ => "staff_phone",
        };
        let said = refused(&p, &["advance", PHONE]);
        assert_names(&said, &["view customer_list", false_match, "(a text match)", "pass --note naming it"]);
        assert_not_named(&said, &["trim_phone", "set_phone", "fk_address_phone", "ix_address_city_phone"]);
        match backend {
            Backend::Postgres => {
                assert_names(&said, &["materialized view phone_count", "rule log_phone_rule on address", "policy has_phone on address", "function phone_of(id integer)"]);
                p.sql("CREATE OR REPLACE VIEW customer_list AS SELECT a.address_id AS id, a.city AS city, n.phone AS phone
                         FROM address a LEFT JOIN address_phone n ON n.address_id = a.address_id;
                       DROP MATERIALIZED VIEW phone_count; DROP RULE log_phone_rule ON address;
                       DROP POLICY has_phone ON address; DROP FUNCTION phone_of(INT);");
            }
            Backend::Mysql => {
                assert_names(&said, &["function phone_of()"]);
                p.sql("CREATE OR REPLACE VIEW customer_list AS SELECT a.address_id AS id, a.city AS city, n.phone AS phone
                         FROM address a LEFT JOIN address_phone n ON n.address_id = a.address_id;
                       DROP FUNCTION phone_of;");
            }
            Backend::Sqlite => {
                p.sql("DROP VIEW customer_list;
                       CREATE VIEW customer_list AS SELECT a.address_id AS id, a.city AS city, n.phone AS phone
                         FROM address a LEFT JOIN address_phone n ON n.address_id = a.address_id;");
            }
        }
        let said = refused(&p, &["advance", PHONE]);
        assert_names(&said, &[false_match]);
        assert_not_named(&said, &["customer_list"]);
        let vouch = format!("{false_match} reads staff.phone; address is only joined for its keys");
        p.attrmig(["advance", PHONE, "--note", &vouch]).run().ok().stdout_has("vouched for by --note");

        // 7: constraints that refuse a write without phone; prepare-old-stop says so too.
        let said = refused(&p, &["advance", PHONE]);
        assert_names(&said, &["attrmig can't tell whether CHECK constraint phone_or_city on address", "accepts a row without address.phone"]);
        let ddl = p.attrmig(["ddl", PHONE, "prepare-old-stop"]).run().ok().stdout;
        assert_names(&ddl, &["-- writes without the attribute are still refused by: CHECK constraint phone_or_city on address", "(attrmig can't tell)"]);
        p.attrmig(["ddl", PHONE, "prepare-old-stop", "--apply"]).run().ok();
        if backend != Backend::Sqlite {
            let said = refused(&p, &["advance", PHONE]);
            assert_names(&said, &["refused by: CHECK constraint phone_set on address", "(false for NULL)"]);
            run_advised(&p, &said, match backend {
                Backend::Postgres => "ALTER TABLE \"address\" DROP CONSTRAINT \"phone_set\"",
                _ => "ALTER TABLE `address` DROP CONSTRAINT `phone_set`",
            });
        }
        let said = refused(&p, &["advance", PHONE]);
        assert_not_named(&said, &["phone_set"]);
        p.attrmig(["advance", PHONE, "--note", "phone_or_city holds whenever city is set, and every address has one"]).run().ok();
        p.attrmig(["advance", PHONE]).run().ok().stdout_has("→ 8 delete-tools");

        // 9: writers in the database, foreign keys, and what would block the drop.
        Store::open(db).approve(&plan(PHONE, &text), "bob@example.com", attrmig_core::audit::now());
        let said = refused(&p, &["advance", PHONE, "--confirm-point-of-no-return"]);
        assert_names(&said, &[
            "trigger trim_phone on address", "trigger log_phone on address", false_match,
            "foreign key fk_address_phone on address (phone) to phone_number (number)",
            "foreign key phone_book_phone_fkey on phone_book (phone) referencing address (phone)",
            "generated column phone_digits on address",
        ]);
        match backend {
            Backend::Postgres => {
                assert_names(&said, &["function set_phone(id integer, p text)", "publication phones"]);
                p.sql("DROP TRIGGER trim_phone ON address; DROP TRIGGER log_phone ON address; DROP FUNCTION set_phone(INT, TEXT);
                       ALTER TABLE address DROP COLUMN phone_digits; DROP PUBLICATION phones;");
                run_advised(&p, &said, "ALTER TABLE \"address\" DROP CONSTRAINT \"fk_address_phone\"");
                run_advised(&p, &said, "ALTER TABLE \"phone_book\" DROP CONSTRAINT \"phone_book_phone_fkey\"");
            }
            Backend::Mysql => {
                assert_names(&said, &["procedure set_phone()", "event clear_phones", "CHECK constraint phone_or_city on address"]);
                p.sql("DROP TRIGGER trim_phone; DROP TRIGGER log_phone; DROP PROCEDURE set_phone; DROP EVENT clear_phones;
                       ALTER TABLE address DROP COLUMN phone_digits;");
                run_advised(&p, &said, "ALTER TABLE `address` DROP FOREIGN KEY `fk_address_phone`");
                run_advised(&p, &said, "ALTER TABLE `phone_book` DROP FOREIGN KEY `phone_book_phone_fkey`");
                p.attrmig(["advance", PHONE, "--confirm-point-of-no-return", "--note", &vouch]).run().code(3)
                    .stderr_has("CHECK constraint phone_or_city on address (a text match) (the database refuses the drop while it exists)");
                run_advised(&p, &refused(&p, &["advance", PHONE, "--confirm-point-of-no-return"]), "ALTER TABLE `address` DROP CONSTRAINT `phone_or_city`");
            }
            Backend::Sqlite => {
                assert_names(&said, &["unique constraint sqlite_autoindex_address", "CHECK constraint phone_or_city on address", "rebuild address without fk_address_phone", "rebuild phone_book without phone_book_phone_fkey", "https://www.sqlite.org/lang_altertable.html#otheralter"]);
                // SQLite's documented rebuild, for the constraints it can't drop in place.
                p.sql("DROP TRIGGER trim_phone; DROP TRIGGER log_phone;
                       PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;
                       CREATE TABLE address_rebuilt (address_id INT PRIMARY KEY, city VARCHAR(50), phone VARCHAR(20));
                       INSERT INTO address_rebuilt SELECT address_id, city, phone FROM address;
                       DROP TABLE address;
                       ALTER TABLE address_rebuilt RENAME TO address;
                       CREATE INDEX ix_address_city_phone ON address (city, phone);
                       CREATE TABLE phone_book_rebuilt (entry INT PRIMARY KEY, phone VARCHAR(20));
                       INSERT INTO phone_book_rebuilt SELECT entry, phone FROM phone_book;
                       DROP TABLE phone_book;
                       ALTER TABLE phone_book_rebuilt RENAME TO phone_book;
                       PRAGMA legacy_alter_table = OFF; PRAGMA foreign_keys = ON;");
            }
        }
        let said = refused(&p, &["advance", PHONE, "--confirm-point-of-no-return"]);
        assert_names(&said, &[false_match]);
        assert_not_named(&said, &["trim_phone", "fk_address_phone", "phone_digits"]);
        p.attrmig(["advance", PHONE, "--confirm-point-of-no-return", "--note", &vouch]).run().ok();

        // 10: drop-old says what it takes along and refuses the text match until vouched for.
        let preview = p.attrmig(["ddl", PHONE, "drop-old"]).run().ok().stdout;
        assert_names(&preview, &["-- takes along: ", "ix_address_city_phone", &format!("-- blocked by: {}", if backend == Backend::Sqlite { "view staff_with_address" } else { "function staff_phone" })]);
        if backend == Backend::Sqlite {
            assert_names(&preview, &["DROP INDEX \"ix_address_city_phone\";\nALTER TABLE \"address\" DROP COLUMN \"phone\";"]);
        }
        let said = refused(&p, &["ddl", PHONE, "drop-old", "--apply"]);
        assert_names(&said, &[false_match, "run `attrmig ddl address-phone drop-old --apply` again"]);
        p.attrmig(["ddl", PHONE, "drop-old", "--apply", "--note", &vouch]).run().ok();
        p.attrmig(["advance", PHONE]).run().ok().stdout_has("→ 10 drop-old");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM customer_list WHERE phone IS NOT NULL"), 2, "the view reads new storage");
        p.sql("INSERT INTO address (address_id, city) VALUES (3, 'Sasebo')");
    }
}

backend_tests! {
    /// prepare-old-stop lists what will still refuse a write without the attribute, and
    /// refuses to run on a column of the primary key instead of leaving the database to
    /// say so (PostgreSQL: "column is in a primary key").
    fn prepare_old_stop_says_what_it_leaves_and_refuses_a_key_column(db: &TestDb) {
        let text = plan_text("phone_line", "address_id", "phone", "address_phone");
        let p = Project::new(db).with_plan(PHONE, &text);
        p.sql("CREATE TABLE phone_line (address_id INT NOT NULL, phone VARCHAR(20) NOT NULL, PRIMARY KEY (address_id, phone));");
        let said = refused(&p, &["ddl", PHONE, "prepare-old-stop", "--apply"]);
        assert_names(&said, &["phone_line.phone is part of the primary key", "can't be migrated out column by column"]);
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM phone_line"), 0);

        let text = plan_text("address", "address_id", "phone", "address_phone");
        let p = p.with_plan(PHONE, &text);
        p.sql(&per_backend(
            db,
            "CREATE TABLE address (address_id INT PRIMARY KEY, phone VARCHAR(20) NOT NULL CONSTRAINT phone_set CHECK (phone IS NOT NULL));",
            "CREATE TABLE address (address_id INT PRIMARY KEY, phone VARCHAR(20) NOT NULL CONSTRAINT phone_set CHECK (phone IS NOT NULL));",
            "CREATE TABLE address (address_id INT PRIMARY KEY, phone VARCHAR(20) NOT NULL, CONSTRAINT phone_set CHECK (phone IS NOT NULL));",
        ));
        p.attrmig(["ddl", PHONE, "prepare-old-stop"])
            .run()
            .ok()
            .stdout_has("-- writes without the attribute are still refused by: CHECK constraint phone_set on address");
    }
}
