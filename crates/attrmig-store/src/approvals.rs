//! Approvals of the point of no return. Each is written with its own audit entry, so the
//! hash chain covers who approved, and read back by guard 9.

use attrmig_core::facts::ApprovalFact;
use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, ctx};
use crate::schema::attrmig_approvals as a;
use crate::time::{from_db, to_db};

/// Records an approval by `approver`, announced by audit entry `version`. Meant to run in
/// the hook of [`crate::audit::append`], so the row and its audit entry commit together.
pub fn record(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    approver: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(a::table)
        .values((
            a::migration_id.eq(id),
            a::version.eq(version),
            a::approver.eq(approver),
            a::approved_at.eq(to_db(at)),
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
    Ok(rows
        .into_iter()
        .map(|(approver, at)| ApprovalFact {
            approver,
            at: from_db(at),
        })
        .collect())
}
