//! attrmig's persisted state, on any backend, through diesel.
//!
//! The store is a set of functions over a connection, not an owner of one: where the
//! state lives in the application's own database (the default), a sync batch writes its
//! rows and advances its checkpoint in one transaction on one connection.
//!
//! - [`setup::ensure_schema`]: embedded migrations under a lock; refuses a newer schema.
//! - [`migration`] and [`audit`]: positions, and every change as compare-and-swap plus one
//!   hash-chained audit entry in one transaction.
//! - [`approvals`], [`cross_checks`], [`sync_runs`], [`data_issues`], [`leases`],
//!   [`fingerprints`], [`intents`]: the evidence the guards and tools read and write.
//! - [`fleet`]: the application instances' reports (written by them, read here).

pub mod approvals;
pub mod audit;
pub mod bounded;
pub mod cross_checks;
pub mod data_issues;
mod error;
pub mod fingerprints;
pub mod fleet;
pub mod intents;
pub mod leases;
pub mod migration;
mod schema;
pub mod setup;
pub mod sync_runs;
mod time;

pub use error::StoreError;

use attrmig_db::AnyConnection;

/// The application database and the state store: one connection when the state lives in
/// the application database (the default), two when `state_url` puts it elsewhere.
///
/// With one connection, work on application rows and its bookkeeping (a sync batch and
/// its checkpoint, step 9 and its fingerprint) commits in one transaction.
pub enum Conns<'a> {
    /// State tables in the application database.
    Shared(&'a mut AnyConnection),
    /// State tables in another database.
    Split {
        /// The application database.
        app: &'a mut AnyConnection,
        /// The state database.
        state: &'a mut AnyConnection,
    },
}

impl Conns<'_> {
    /// The application database.
    pub fn app(&mut self) -> &mut AnyConnection {
        match self {
            Conns::Shared(c) => c,
            Conns::Split { app, .. } => app,
        }
    }

    /// The state store.
    pub fn state(&mut self) -> &mut AnyConnection {
        match self {
            Conns::Shared(c) => c,
            Conns::Split { state, .. } => state,
        }
    }

    /// Whether both are one connection.
    pub fn shared(&self) -> bool {
        matches!(self, Conns::Shared(_))
    }
}
pub use migration::{FingerprintChange, MigrationRecord};
