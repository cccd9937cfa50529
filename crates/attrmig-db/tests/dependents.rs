//! Dependents against real databases: a fixture per backend with every kind of object
//! that can name the old attribute, each found with what it does, how it was found and
//! what the drop does to it; the look-alikes that don't name it are not found.

use attrmig_core::dependents::{Access, Dependent, DependentKind, FoundBy, OnDrop};
use attrmig_core::plan::OldStorage;
use attrmig_db::{Backend, dependents};
use attrmig_testing::{TestDb, backend_tests};

use Access::{Constrains, Reads, ReadsWrites, Writes};
use DependentKind as K;
use FoundBy::{Catalogue, TextMatch};
use OnDrop::{Altered, Blocks, Breaks, DroppedWith};

fn phone() -> OldStorage {
    let ident = |s: &str| attrmig_core::ident::Ident::new(s).unwrap();
    OldStorage::Column {
        table: attrmig_core::ident::TableName::parse("address").unwrap(),
        key: attrmig_core::key::KeyColumns::one(ident("address_id")),
        column: ident("phone"),
    }
}

type Expected = (DependentKind, &'static str, Access, FoundBy, OnDrop);

fn found(db: &TestDb, old: &OldStorage) -> Vec<Dependent> {
    dependents::of(&mut db.connect(), old).expect("introspect dependents")
}

fn assert_found(found: &[Dependent], expected: &[Expected]) {
    let actual: Vec<Expected> = found
        .iter()
        .map(|d| (d.kind, leak(&d.name), d.access, d.found_by, d.on_drop))
        .collect();
    let mut want = expected.to_vec();
    want.sort_by_key(|e| (e.0, e.1));
    let mut got = actual.clone();
    got.sort_by_key(|e| (e.0, e.1));
    assert_eq!(got, want, "\nfound: {found:#?}");
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn get<'a>(found: &'a [Dependent], name: &str) -> &'a Dependent {
    found
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("{name} in {found:#?}"))
}

/// What no backend may report: look-alikes and attrmig's own objects.
const NOT_DEPENDENTS: &str = "
    CREATE TABLE staff (staff_id INT PRIMARY KEY, phone VARCHAR(20));
    CREATE VIEW staff_phones AS SELECT s.staff_id, s.phone FROM staff s;
    CREATE VIEW city_list AS SELECT a.address_id, a.city FROM address a;
    CREATE INDEX attrmig_address_phone ON address (phone);
";

fn postgres_fixture(db: &TestDb) {
    db.execute(&format!(
        "CREATE TABLE phone_number (number VARCHAR(20) PRIMARY KEY);
         CREATE TABLE address (address_id INT PRIMARY KEY, city TEXT,
           phone VARCHAR(20) NOT NULL CONSTRAINT phone_not_blank CHECK (phone <> ''),
           CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
           CONSTRAINT fk_address_phone FOREIGN KEY (phone) REFERENCES phone_number (number));
         ALTER TABLE address ADD CONSTRAINT address_phone_unique UNIQUE (phone);
         CREATE INDEX address_city_phone ON address (city, phone);
         CREATE INDEX address_phone_lower ON address (lower(phone));
         ALTER TABLE address ADD COLUMN phone_digits TEXT GENERATED ALWAYS AS (regexp_replace(phone, '[^0-9]', '', 'g')) STORED;
         CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20) CONSTRAINT phone_book_phone_fkey REFERENCES address (phone));
         CREATE VIEW customer_list AS SELECT a.address_id, a.phone FROM address a;
         CREATE MATERIALIZED VIEW phone_count AS SELECT phone, count(*) AS n FROM address GROUP BY phone;
         CREATE TABLE phone_log (phone TEXT);
         CREATE RULE log_phone AS ON UPDATE TO address DO ALSO INSERT INTO phone_log VALUES (NEW.phone);
         ALTER TABLE address ENABLE ROW LEVEL SECURITY;
         CREATE POLICY has_phone ON address USING (phone IS NOT NULL);
         CREATE FUNCTION phone_of(id INT) RETURNS TEXT LANGUAGE sql BEGIN ATOMIC SELECT phone FROM address WHERE address_id = id; END;
         CREATE FUNCTION set_phone(id INT, p TEXT) RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE address SET phone = p WHERE address_id = id; END $$;
         CREATE FUNCTION trim_phone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.phone := trim(NEW.phone); RETURN NEW; END $$;
         CREATE TRIGGER trim_phone BEFORE INSERT ON address FOR EACH ROW EXECUTE FUNCTION trim_phone();
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER phone_changed AFTER UPDATE OF phone ON address FOR EACH ROW EXECUTE FUNCTION touch();
         CREATE TRIGGER city_changed AFTER UPDATE OF city ON address FOR EACH ROW EXECUTE FUNCTION touch();
         SET client_min_messages = error;
         CREATE PUBLICATION phones FOR TABLE address (address_id, phone);
         CREATE STATISTICS phone_city ON phone, city FROM address;
         {NOT_DEPENDENTS}"
    ));
}

fn mysql_fixture(db: &TestDb) {
    db.execute(&format!(
        "CREATE TABLE phone_number (number VARCHAR(20) PRIMARY KEY);
         CREATE TABLE address (address_id INT PRIMARY KEY, city TEXT,
           phone VARCHAR(20) NOT NULL CHECK (phone <> ''),
           phone_digits VARCHAR(20) GENERATED ALWAYS AS (replace(phone, '-', '')) VIRTUAL,
           CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
           UNIQUE KEY address_phone_unique (phone),
           KEY address_city_phone (city(10), phone),
           CONSTRAINT fk_address_phone FOREIGN KEY (phone) REFERENCES phone_number (number));
         CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20),
           CONSTRAINT phone_book_phone_fkey FOREIGN KEY (phone) REFERENCES address (phone));
         CREATE VIEW customer_list AS SELECT a.address_id, a.phone FROM address a;
         CREATE TABLE phone_log (phone TEXT);
         CREATE FUNCTION phone_of(id INT) RETURNS TEXT READS SQL DATA RETURN (SELECT phone FROM address WHERE address_id = id);
         CREATE PROCEDURE set_phone(id INT, p TEXT) MODIFIES SQL DATA UPDATE address SET phone = p WHERE address_id = id;
         CREATE TRIGGER trim_phone BEFORE INSERT ON address FOR EACH ROW SET NEW.phone = trim(NEW.phone);
         CREATE TRIGGER log_phone AFTER UPDATE ON address FOR EACH ROW INSERT INTO phone_log VALUES (NEW.phone);
         CREATE TRIGGER log_city AFTER UPDATE ON address FOR EACH ROW INSERT INTO phone_log VALUES (NEW.city);
         CREATE EVENT clear_phones ON SCHEDULE EVERY 1 DAY DISABLE DO UPDATE address SET phone = '' WHERE city IS NULL;
         {NOT_DEPENDENTS}"
    ));
}

fn sqlite_fixture(db: &TestDb) {
    db.execute(&format!(
        "CREATE TABLE phone_number (number VARCHAR(20) PRIMARY KEY);
         CREATE TABLE address (address_id INT PRIMARY KEY, city TEXT,
           phone VARCHAR(20) NOT NULL CONSTRAINT phone_not_blank CHECK (phone <> '')
             CONSTRAINT fk_address_phone REFERENCES phone_number (number),
           phone_digits TEXT GENERATED ALWAYS AS (replace(phone, '-', '')) VIRTUAL,
           CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL),
           CONSTRAINT address_phone_unique UNIQUE (phone));
         CREATE INDEX address_city_phone ON address (city, phone);
         CREATE INDEX address_phone_lower ON address (lower(phone));
         CREATE INDEX address_city_with_phone ON address (city) WHERE phone IS NOT NULL;
         CREATE TABLE phone_book (entry INT PRIMARY KEY, phone VARCHAR(20) CONSTRAINT phone_book_phone_fkey REFERENCES address (phone));
         CREATE VIEW customer_list AS SELECT a.address_id, a.phone FROM address a;
         CREATE TABLE phone_log (phone TEXT);
         CREATE TRIGGER trim_phone AFTER INSERT ON address BEGIN UPDATE address SET phone = trim(new.phone) WHERE address_id = new.address_id; END;
         CREATE TRIGGER log_phone AFTER UPDATE ON address BEGIN INSERT INTO phone_log VALUES (new.phone); END;
         CREATE TRIGGER log_city AFTER UPDATE ON address BEGIN INSERT INTO phone_log VALUES (new.city); END;
         {NOT_DEPENDENTS}"
    ));
}

backend_tests! {
    fn every_kind_of_dependent_is_found(db: &TestDb) {
        match db.backend() {
            Backend::Postgres => {
                postgres_fixture(db);
                let found = found(db, &phone());
                assert_found(&found, &[
                    (K::View, "customer_list", Reads, Catalogue, Blocks),
                    (K::MaterializedView, "phone_count", Reads, Catalogue, Blocks),
                    (K::Rule, "log_phone", Reads, Catalogue, Blocks),
                    (K::Policy, "has_phone", Reads, Catalogue, Blocks),
                    (K::Function, "phone_of(id integer)", Reads, Catalogue, Blocks),
                    (K::Function, "set_phone(id integer, p text)", Writes, TextMatch, Breaks),
                    (K::Trigger, "trim_phone", ReadsWrites, TextMatch, Breaks),
                    (K::Trigger, "phone_changed", Reads, Catalogue, Blocks),
                    (K::GeneratedColumn, "phone_digits", Reads, Catalogue, Blocks),
                    (K::Index, "address_city_phone", Constrains, Catalogue, DroppedWith),
                    (K::Index, "address_phone_lower", Constrains, Catalogue, DroppedWith),
                    (K::Unique, "address_phone_unique", Constrains, Catalogue, DroppedWith),
                    (K::Check, "phone_not_blank", Constrains, Catalogue, DroppedWith),
                    (K::Check, "phone_or_city", Constrains, Catalogue, DroppedWith),
                    (K::ForeignKey, "fk_address_phone", Constrains, Catalogue, DroppedWith),
                    (K::ReferencingForeignKey, "phone_book_phone_fkey", Constrains, Catalogue, Blocks),
                    (K::Publication, "phones", Reads, Catalogue, Blocks),
                    (K::Statistics, "phone_city", Constrains, Catalogue, DroppedWith),
                ]);
                assert_eq!(get(&found, "trim_phone").via.as_deref(), Some("trim_phone()"));
                assert_eq!(
                    get(&found, "fk_address_phone").drop_statement.as_deref(),
                    Some("ALTER TABLE \"address\" DROP CONSTRAINT \"fk_address_phone\"")
                );
            }
            Backend::Mysql => {
                mysql_fixture(db);
                let found = found(db, &phone());
                assert_found(&found, &[
                    (K::View, "customer_list", Reads, TextMatch, Breaks),
                    (K::Function, "phone_of()", Reads, TextMatch, Breaks),
                    (K::Procedure, "set_phone()", Writes, TextMatch, Breaks),
                    (K::Trigger, "trim_phone", ReadsWrites, TextMatch, Breaks),
                    (K::Trigger, "log_phone", Reads, TextMatch, Breaks),
                    (K::Event, "clear_phones", Writes, TextMatch, Breaks),
                    (K::GeneratedColumn, "phone_digits", Reads, TextMatch, Blocks),
                    (K::Index, "address_phone_unique", Constrains, Catalogue, DroppedWith),
                    (K::Index, "address_city_phone", Constrains, Catalogue, Altered),
                    (K::Check, "phone", Constrains, TextMatch, DroppedWith),
                    (K::Check, "phone_or_city", Constrains, TextMatch, Blocks),
                    (K::ForeignKey, "fk_address_phone", Constrains, Catalogue, Blocks),
                    (K::ReferencingForeignKey, "phone_book_phone_fkey", Constrains, Catalogue, Blocks),
                ]);
                assert!(get(&found, "address_phone_unique").unique);
                assert_eq!(
                    get(&found, "phone_book_phone_fkey").drop_statement.as_deref(),
                    Some("ALTER TABLE `phone_book` DROP FOREIGN KEY `phone_book_phone_fkey`")
                );
            }
            Backend::Sqlite => {
                sqlite_fixture(db);
                let found = found(db, &phone());
                assert_found(&found, &[
                    (K::View, "customer_list", Reads, TextMatch, Blocks),
                    (K::Trigger, "trim_phone", ReadsWrites, TextMatch, Blocks),
                    (K::Trigger, "log_phone", Reads, TextMatch, Blocks),
                    (K::GeneratedColumn, "phone_digits", Reads, TextMatch, Blocks),
                    (K::Index, "address_city_phone", Constrains, Catalogue, DroppedWith),
                    (K::Index, "address_phone_lower", Constrains, TextMatch, DroppedWith),
                    (K::Index, "address_city_with_phone", Constrains, TextMatch, DroppedWith),
                    (K::Unique, "sqlite_autoindex_address_2", Constrains, Catalogue, Blocks),
                    (K::Check, "phone_not_blank", Constrains, TextMatch, DroppedWith),
                    (K::Check, "phone_or_city", Constrains, TextMatch, Blocks),
                    (K::ForeignKey, "fk_address_phone", Constrains, Catalogue, Blocks),
                    (K::ReferencingForeignKey, "phone_book_phone_fkey", Constrains, Catalogue, Breaks),
                ]);
                assert_eq!(
                    get(&found, "address_city_phone").drop_statement.as_deref(),
                    Some("DROP INDEX \"address_city_phone\"")
                );
            }
        }
    }

    /// CHECK constraints are judged by the database on the value a write without the
    /// attribute stores: NULL here, or the column's default.
    fn checks_are_evaluated_on_the_absent_value(db: &TestDb) {
        db.execute(
            "CREATE TABLE address (address_id INT PRIMARY KEY, city VARCHAR(20), phone VARCHAR(20),
               CONSTRAINT phone_set CHECK (phone IS NOT NULL),
               CONSTRAINT phone_short CHECK (length(phone) < 30),
               CONSTRAINT phone_or_city CHECK (phone IS NOT NULL OR city IS NOT NULL))",
        );
        let found = found(db, &phone());
        let verdict = |name: &str| get(&found, name).accepts_absent;
        assert_eq!(verdict("phone_set"), Some(false), "NULL IS NOT NULL is false");
        assert_eq!(verdict("phone_short"), Some(true), "length(NULL) < 30 is unknown, which a CHECK accepts");
        assert_eq!(verdict("phone_or_city"), None, "it names city too: the value alone can't tell");

        // A default that calls something is not run to find out.
        db.execute(
            "CREATE TABLE contact (contact_id INT PRIMARY KEY, phone VARCHAR(20) DEFAULT (lower('X')),
               CONSTRAINT phone_not_x CHECK (phone <> 'x'))",
        );
        let ident = |s: &str| attrmig_core::ident::Ident::new(s).unwrap();
        let contact = OldStorage::Column {
            table: attrmig_core::ident::TableName::parse("contact").unwrap(),
            key: attrmig_core::key::KeyColumns::one(ident("contact_id")),
            column: ident("phone"),
        };
        let found = dependents::of(&mut db.connect(), &contact).unwrap();
        assert_eq!(get(&found, "phone_not_x").accepts_absent, None, "{found:#?}");
    }
}

fn json_full_name() -> OldStorage {
    let ident = |s: &str| attrmig_core::ident::Ident::new(s).unwrap();
    OldStorage::Json {
        table: attrmig_core::ident::TableName::parse("users").unwrap(),
        key: attrmig_core::key::KeyColumns::one(ident("id")),
        column: ident("attrs"),
        path: attrmig_core::ident::JsonPath::new("full_name").unwrap(),
    }
}

fn eav_full_name() -> OldStorage {
    let ident = |s: &str| attrmig_core::ident::Ident::new(s).unwrap();
    OldStorage::Eav {
        table: attrmig_core::ident::TableName::parse("user_attributes").unwrap(),
        key: attrmig_core::key::KeyColumns::one(ident("user_id")),
        name_column: ident("name"),
        name: "full_name".into(),
        value_column: ident("value"),
    }
}

backend_tests! {
    /// JSON old storage: what names the document column is found; what names the key
    /// reads the attribute, the rest only names its storage; drop-old drops no column.
    fn json_dependents_name_the_key_or_only_the_document(db: &TestDb) {
        let (names, nicks) = match db.backend() {
            Backend::Postgres => ("attrs ->> 'full_name'", "attrs ->> 'nickname'"),
            _ => ("json_extract(attrs, '$.full_name')", "json_extract(attrs, '$.nickname')"),
        };
        let doc = if db.backend() == Backend::Postgres { "JSONB" } else { "TEXT" };
        db.execute(&format!(
            "CREATE TABLE users (id INT PRIMARY KEY, attrs {doc});
             CREATE VIEW user_names AS SELECT id, {names} AS full_name FROM users;
             CREATE VIEW user_nicks AS SELECT id, {nicks} AS nickname FROM users;
             CREATE VIEW user_ids AS SELECT id FROM users;"
        ));
        let found = found(db, &json_full_name());
        let by = |name: &str| (get(&found, name).access, get(&found, name).on_drop);
        assert_eq!(by("user_names"), (Reads, OnDrop::Unaffected));
        assert_eq!(by("user_nicks"), (Access::NamesStorage, OnDrop::Unaffected));
        assert!(found.iter().all(|d| d.name != "user_ids"), "{found:#?}");
    }

    /// EAV old storage: what names the table and the attribute's name reads or writes
    /// it; what names only the table is storage.
    fn eav_dependents_name_the_attribute_or_only_the_table(db: &TestDb) {
        db.execute(
            "CREATE TABLE user_attributes (user_id INT, name VARCHAR(40), value TEXT, PRIMARY KEY (user_id, name));
             CREATE TABLE users (id INT PRIMARY KEY);
             CREATE VIEW full_names AS SELECT user_id, value FROM user_attributes WHERE name = 'full_name';
             CREATE VIEW emails AS SELECT user_id, value FROM user_attributes WHERE name = 'email';
             CREATE VIEW people AS SELECT id FROM users;",
        );
        let found = found(db, &eav_full_name());
        assert_eq!(get(&found, "full_names").access, Reads, "{found:#?}");
        assert_eq!(get(&found, "emails").access, Access::NamesStorage, "{found:#?}");
        assert!(found.iter().all(|d| d.name != "people" && d.on_drop == OnDrop::Unaffected), "{found:#?}");
    }
}

/// A qualified old table: its dependents are looked up in its own schema (PostgreSQL) or
/// database (MySQL/MariaDB), and the same names in the connection's own are not its.
fn qualified_dependents(db: &TestDb, schema: &str) {
    db.execute(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.address (address_id INT NOT NULL PRIMARY KEY, phone VARCHAR(20) NOT NULL);
         CREATE INDEX address_phone ON {schema}.address (phone);
         CREATE TABLE address (address_id INT NOT NULL PRIMARY KEY, phone VARCHAR(20), city VARCHAR(20));
         CREATE INDEX decoy_phone ON address (phone);"
    ));
    let old = OldStorage::Column {
        table: attrmig_core::ident::TableName::parse(&format!("{schema}.address")).unwrap(),
        key: attrmig_core::key::KeyColumns::one(
            attrmig_core::ident::Ident::new("address_id").unwrap(),
        ),
        column: attrmig_core::ident::Ident::new("phone").unwrap(),
    };
    let found = found(db, &old);
    let index = get(&found, "address_phone");
    assert_eq!(
        (index.kind, index.found_by),
        (K::Index, Catalogue),
        "{found:#?}"
    );
    assert!(found.iter().all(|d| d.name != "decoy_phone"), "{found:#?}");
}

#[test]
fn postgres_dependents_of_a_qualified_table() {
    let Some(db) = TestDb::postgres() else { return };
    qualified_dependents(&db, "crm");
}

#[test]
fn mysql_dependents_of_a_qualified_table() {
    let Some(db) = TestDb::mysql() else { return };
    let schema = format!("{}_crm", db.url().rsplit('/').next().unwrap());
    qualified_dependents(&db, &schema);
    db.execute(&format!("DROP DATABASE {schema}"));
}
