//! The state database as the library sees it: read every migration's step, write one
//! report. The built-in client ([`crate::DieselStateDb`], feature `diesel`) runs the
//! protocol's statements (`attrmig_protocol`) over diesel; an application with its own
//! database client implements this trait with the same statements (docs/app.md).

use attrmig_protocol::{MigrationRow, ReportRow};

use crate::error::StateError;

/// A client of the fleet protocol.
///
/// The library calls it from its two background threads, never from a request: the
/// refresher calls [`StateDb::read_steps`] every refresh interval, the reporter calls
/// [`StateDb::write_report`] once per migration every report interval. A failed call is
/// retried later; an implementation should reconnect on its next call after a lost
/// connection, and put a timeout on its connections so that a dead server fails a call
/// instead of hanging it.
pub trait StateDb: Send + Sync + 'static {
    /// Every row of `attrmig_migrations` ([`attrmig_protocol::READ_STEPS`]).
    fn read_steps(&self) -> Result<Vec<MigrationRow>, StateError>;

    /// Upserts one report ([`attrmig_protocol::upsert_report`], columns bound in the
    /// order of [`attrmig_protocol::REPORT_COLUMNS`]).
    fn write_report(&self, report: &ReportRow) -> Result<(), StateError>;
}
