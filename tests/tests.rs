//! End-to-end tests of the real `attrmig` binary. Each module is one story; server
//! backends run when `ATTRMIG_TEST_PG_URL` / `ATTRMIG_TEST_MYSQL_URL` are set (and must,
//! when `ATTRMIG_TEST_REQUIRE` names them).

mod support;

/// A migration walked step by step; illegal transitions, rollback, abandon, approvals.
mod lifecycle;

/// Support: migrations recorded at later steps through attrmig's own store.
mod recorded;

/// `attrmig check` for CI: each class of finding caught in a fixture repository.
mod check;

/// `attrmig report`: the HTML page rendered in headless Chromium, and its Markdown twin.
mod report;

/// The whole procedure, every step, through the real binary.
mod walk;

/// Late writes after 9: named with who wrote them, and the advice that follows.
mod late;

/// Eight processes advance one migration at once: one wins, the others are told.
mod race;

/// A sync killed with SIGKILL resumes from its checkpoint.
mod killed;

/// No tool writes after it is retired: a running tool blocks 8; a runner that lost its
/// lease or outlived the step writes nothing; a lease is never taken from a live runner.
mod fenced;

/// Bad input: clear errors that say what to do next, and nothing lost.
mod errors;

/// Snapshots of `--help` and of the refusals users meet most.
mod snapshots;

/// The application in the loop: instances report through attrmig-app, the guards of an
/// observed migration read their reports, `fleet`, `status` and `show` show them.
mod fleet;

/// State written by earlier releases still opens.
mod compat;

/// MySQL/MariaDB: an open DDL intent blocks changes until resolved; a mysql:// URL on a
/// build without MySQL says how to rebuild.
mod mysql;

/// Evidence that can't be laundered: a state edited by hand, a forged approval, a sample
/// of nothing; every transition refuses to extend a broken chain, and the advice works.
mod evidence;

/// No message holds a password, whatever the driver says, on every driver's error paths.
mod secrets;

/// Names, schemas and collations as the database has them: key collations kept or
/// refused, names resolved as the backend resolves them, schema-qualified and
/// partitioned tables.
mod names;

/// Step 1 refuses keys that do not name one row, and EAV entities with two rows of the
/// attribute.
mod keys;

/// What the database itself does with old storage: views, triggers, foreign keys and
/// indexes on schemas shaped like Pagila, Sakila and Chinook.
mod dependents;

/// Messages at the edges: a huge identifier, a SQLite URL naming a directory or a
/// device, an audit entry edited into something unreadable.
mod messages;

/// `attrmig demo`: the sandbox walked through all ten steps, with its fleet.
mod demo;

/// What people and machines read, exactly: singular counts, unambiguous values, JSON
/// that starts with its schema version, approvals as they counted, keys in key order.
mod wording;

/// Keys of several columns: a multi-tenant table through all ten steps, a link table,
/// data issues and rows only in new storage named by the whole key.
mod composite;

/// Rows only in new storage: each refusal's advice followed as written (`sync
/// --delete-extra`, `acknowledge-extra`, `--max-report`) at 4, 5a-6 and 8.
mod extra;
