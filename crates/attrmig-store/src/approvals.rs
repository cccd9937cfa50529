//! Approvals of the point of no return. Each is written with its own audit entry, so the
//! hash chain covers who approved, and read back by guard 9.

use attrmig_core::audit::AuditEntry;
use attrmig_core::facts::ApprovalFact;
use attrmig_db::AnyConnection;
use diesel::prelude::*;

use crate::error::{StoreError, ctx};
use crate::schema::attrmig_approvals as a;
use crate::time::{from_db, to_db};

/// Records the approval that `entry` (an `approve` audit entry) announces. Meant as the
/// `extra` of [`crate::audit::append`], so both commit together.
pub fn record(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    diesel::insert_into(a::table)
        .values((
            a::migration_id.eq(&entry.migration_id),
            a::version.eq(entry.version),
            a::approver.eq(&entry.actor),
            a::approved_at.eq(to_db(entry.at)),
        ))
        .execute(conn)
        .map_err(ctx("record an approval"))?;
    Ok(())
}

/// Every approval of a migration, oldest first.
pub fn list(conn: &mut AnyConnection, id: &str) -> Result<Vec<ApprovalFact>, StoreError> {
    let rows: Vec<(String, chrono::NaiveDateTime)> = a::table
        .filter(a::migration_id.eq(id))
        .order(a::version)
        .select((a::approver, a::approved_at))
        .load(conn)
        .map_err(ctx("read approvals"))?;
    Ok(rows.into_iter().map(|(approver, at)| ApprovalFact { approver, at: from_db(at) }).collect())
}
