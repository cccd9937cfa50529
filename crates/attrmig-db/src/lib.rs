//! Database access shared by attrmig's store and tools.
//!
//! - [`DatabaseUrl`]: which backend a URL names, and how to print it without a password;
//!   [`secret::scrub`]: no password in any text attrmig prints, whatever a driver echoes.
//! - [`AnyConnection`] and [`connect`]: one connection type for SQLite, PostgreSQL and
//!   (with the `mysql` feature) MySQL/MariaDB.
//! - [`Backend`]'s dialect methods: quoting, placeholders, casts, JSON access; and
//!   [`equality`], how each backend says that two values are equal.
//! - [`introspect::table`]: columns, types, nullability, defaults, uniqueness.
//! - [`dependents::of`]: the views, triggers, routines, indexes, constraints and policies
//!   that name the old attribute, from each backend's catalogue.
//! - [`write_transaction`], [`is_transient`], [`is_row_level`]: how writes are wrapped and
//!   how their failures are told apart.

mod connection;
pub mod dependents;
mod dialect;
pub mod equality;
mod error;
pub mod introspect;
pub mod names;
pub mod secret;
mod url;

pub use connection::{AnyConnection, connect, create_sqlite, write_transaction};

/// The diesel backend of [`AnyConnection`], for queries built at run time.
pub type AnyBackend = <AnyConnection as diesel::Connection>::Backend;
pub use dialect::SqlName;
pub use error::{DbError, is_row_level, is_transient};
pub use url::{Backend, DatabaseUrl, UrlError, redact};

/// Whether this build speaks MySQL/MariaDB (the `mysql` feature). A runtime value, so
/// that crates which can't see the feature (test support, reached as a dev-dependency)
/// can still tell.
pub const MYSQL_SUPPORTED: bool = cfg!(feature = "mysql");
