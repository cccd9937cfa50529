//! An example service for attrmig: a users API whose handlers read and write
//! `full_name` through [`attrmig_app`], while attrmig moves it from `users.full_name`
//! (old storage) to `users_pii.full_name` (new storage).
//!
//! It is a real process speaking a line protocol over TCP ([`protocol`]), on SQLite,
//! PostgreSQL, and MySQL/MariaDB (feature `mysql`). Its tests run three or more of it
//! under load through all ten steps (`tests/`; docs/app.md, "The example service").
//!
//! How to run it by hand (a fleet of three on SQLite, walked with `attrmig`):
//! examples/users-service/README.md.
//!
//! - [`storage`]: the application's own queries of old and new storage.
//! - [`handlers`]: `put` and `get` through attrmig-app, per the migration's mode.
//! - [`server`]: the instance, the socket, a thread per client.

pub mod handlers;
pub mod protocol;
pub mod server;
pub mod storage;
