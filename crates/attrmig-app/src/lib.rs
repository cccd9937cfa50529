//! The application's side of an attrmig migration.
//!
//! **The step is the flag.** An [`Instance`] is opened on attrmig's state database and
//! reads each migration's step; a background thread reads it again every 5 s (by
//! default). Asking for the mode is an in-memory read. When the state database can't be
//! read the instance keeps the modes it has, says so ([`Instance::is_stale`], a `warn`
//! event) and never moves to another mode on its own: `attrmig advance` and `rollback`
//! are how the fleet's behaviour changes. [`Migration::pin`] holds a mode whatever the
//! migration's step, and the reports say so.
//!
//! **Writes and reads per the mode**, with the application's own closures (or futures):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # fn save_old(_: &str) -> Result<(), std::io::Error> { Ok(()) }
//! # fn save_new(_: &str) -> Result<(), std::io::Error> { Ok(()) }
//! # fn load_old(_: u64) -> Result<Option<String>, std::io::Error> { Ok(None) }
//! # fn load_new(_: u64) -> Result<Option<String>, std::io::Error> { Ok(None) }
//! let instance = attrmig_app::Instance::builder()
//!     .state_url("postgres://app@db/app?connect_timeout=5")
//!     .migration("users-full-name")
//!     .app_version(env!("CARGO_PKG_VERSION"))
//!     .open()?;
//! let names = instance.migration("users-full-name").expect("declared");
//!
//! names.write(|| save_old("Ada"), || save_new("Ada"))?;
//! let name = names.read(&42, || load_old(42), || load_new(42))?;
//! # Ok(()) }
//! ```
//!
//! A write runs old, then new, as the double-write contract requires (docs/tools.md); a
//! compared read that disagrees is read again once, and counts as a persistent mismatch
//! only if it still disagrees. Each persistent mismatch is one `warn` event of target
//! `attrmig_app::mismatch` with the key and the fields ([`diff`]).
//!
//! **Reports.** Every 10 s (by default) the instance writes, per migration, one row of
//! `attrmig_fleet_reports`: the step it applies and since when, whether pinned, counts in
//! time buckets and a sample of recent mismatches. attrmig's guards read them.
//!
//! The library depends on attrmig's pure core and the protocol crate only; its built-in
//! state database client (feature `diesel`, on by default) adds attrmig-db. Any other
//! client implements [`StateDb`] with the protocol's SQL (docs/app.md).

mod background;
mod calls;
mod cell;
#[cfg(feature = "diesel")]
mod diesel_db;
pub mod diff;
mod error;
mod instance;
mod ledger;
mod sampling;
mod state_db;

pub use attrmig_core::{Mode, Read, Step};
#[cfg(feature = "diesel")]
pub use diesel_db::DieselStateDb;
pub use diff::FieldDiff;
pub use error::{OpenError, ReadError, Side, StateError, WriteError};
pub use instance::{
    DEFAULT_REFRESH_EVERY, DEFAULT_REPORT_EVERY, Instance, InstanceBuilder, Migration, Status,
};
pub use state_db::StateDb;
