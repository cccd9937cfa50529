//! An example service for attrmig: a users API whose handlers read and write
//! `full_name` through [`attrmig_app`], while attrmig moves it from `users.full_name`
//! (old storage) to `users_pii.full_name` (new storage).
//!
//! It is a real process speaking a line protocol over TCP ([`protocol`]), on SQLite,
//! PostgreSQL, and MySQL/MariaDB (feature `mysql`). Its tests run three or more of it
//! under load through all ten steps (`tests/`; docs/app.md, "The example service").
//!
//! By hand, from the repository root (a SQLite project whose state lives in app.db):
//!
//! ```sh
//! cargo build -p users-service
//! mkdir -p /tmp/users && cd /tmp/users
//! "$OLDPWD"/target/debug/users-service seed --database-url sqlite://app.db --users 1000
//! printf '[environments.dev]\ndatabase_url = "sqlite://app.db"\n' > attrmig.toml
//! mkdir -p plans && cp "$OLDPWD"/examples/users-service/users-full-name.toml plans/
//! "$OLDPWD"/target/debug/users-service serve --database-url sqlite://app.db \
//!     --listen 127.0.0.1:7001 --instance-id web-1 &
//! "$OLDPWD"/target/debug/users-service serve --database-url sqlite://app.db \
//!     --listen 127.0.0.1:7002 --instance-id web-2 &
//! printf 'PUT 1 Ada Lovelace\nGET 1\nSTATUS\n' | nc -q1 127.0.0.1 7001
//! attrmig fleet users-full-name     # both instances, at 0 planned
//! attrmig ddl users-full-name prepare-storage --apply && attrmig advance users-full-name
//! ```
//!
//! then walk the migration (docs/state-machine.md) and watch `STATUS` and
//! `attrmig fleet` follow it. `SHUTDOWN` stops an instance after its last report.
//!
//! - [`storage`]: the application's own queries of old and new storage.
//! - [`handlers`]: `put` and `get` through attrmig-app, per the migration's mode.
//! - [`server`]: the instance, the socket, a thread per client.

pub mod handlers;
pub mod protocol;
pub mod server;
pub mod storage;
