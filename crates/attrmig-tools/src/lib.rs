//! The tools the procedure needs, generic over a plan, so nobody writes them by hand:
//!
//! - [`crosscheck`]: compare old and new over every key (or a uniform sample).
//! - [`sync`]: copy old to new in keyset batches, resumable, one runner at a time,
//!   rejected rows set aside as data issues.
//! - [`ddl`]: the DDL of steps 1, 7 and 10 in each backend's dialect; [`drop_batches`]:
//!   drop-old of JSON and EAV old storage in keyset batches, resumable.
//! - [`fingerprint`]: the old-storage fingerprint of step 9 (digests per key range),
//!   compared before the drop; [`late_log`]: the trigger that logs late writes.
//! - [`duplicates`]: EAV entities with more than one row of the attribute (step 1).
//! - [`lease`] and [`runner`]: one runner at a time, and the fence every write passes, so
//!   that no tool writes after it is retired or after it lost its lease.
//!
//! Every statement is built from a [`layout::Layout`]: one definition of what the old
//! key and value are, for every kind of old storage and every backend, and of when an
//! old and a new value are equal ([`attrmig_core::equality`]); [`values`] reads values
//! back as bytes, for people and for digests.

mod batch_ends;
pub mod crosscheck;
pub mod ddl;
pub mod drop_batches;
pub mod duplicates;
mod error;
pub mod fingerprint;
pub mod late_log;
pub mod layout;
pub mod lease;
pub mod runner;
pub mod sql;
pub mod sync;
mod value_columns;
pub mod values;

pub use error::ToolError;
pub use layout::Layout;
