//! `attrmig report`: for reviewers, every migration of a project in one document.
//!
//! For each migration: its ladder of steps with times and actors, the guards of its next
//! step with pass or fail and why, a timeline of its transitions, its fleet (the
//! application's instances, whether they converged, who lags, and the double read's
//! mismatch rate over time), its cross-check mismatches over time, its sync progress, its
//! open data issues, and its audit log with the verification of the hash chain.
//!
//! - [`collect`]: reads it all through a connected engine into a [`Report`].
//! - [`html::render`]: one self-contained page (inline CSS and SVG, no script, nothing
//!   fetched), readable on a phone.
//! - [`markdown::render`]: the same content for a pull-request comment.
//!
//! Nothing here prints.

mod charts;
mod collect;
mod escape;
#[cfg(test)]
mod fixture;
mod fleet;
pub mod html;
pub mod markdown;
mod model;
mod words;

pub use collect::collect;
pub use model::{CROSS_CHECKS_SHOWN, FleetReport, MigrationReport, RatePoint, Report};
