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

pub mod approvals;
pub mod audit;
pub mod cross_checks;
pub mod data_issues;
mod error;
pub mod fingerprints;
pub mod intents;
pub mod leases;
pub mod migration;
mod schema;
pub mod setup;
pub mod sync_runs;
mod time;

pub use error::StoreError;
pub use migration::{FingerprintChange, MigrationRecord};
