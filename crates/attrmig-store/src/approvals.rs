//! Approvals of the point of no return. Each is written with its own audit entry, so the
//! hash chain covers who approved; guard 9 counts a row only with that entry
//! ([`attrmig_core::audit::counted_approvals`]).

use attrmig_core::audit::ApprovalRecord;
use attrmig_db::AnyConnection;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, ctx, failed_field};
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

/// Every approval row of a migration, oldest first, as stored: whether each is backed by
/// its audit entry is for the verifier to say. A row that can't be read back (edited
/// outside attrmig) is [`StoreError::Unreadable`], naming it.
pub fn rows(conn: &mut AnyConnection, id: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
    let all: Result<Vec<(i64, String, chrono::NaiveDateTime)>, _> = a::table
        .filter(a::migration_id.eq(id))
        .order(a::version)
        .select((a::version, a::approver, a::approved_at))
        .load(conn);
    let rows = match all {
        Ok(rows) => rows,
        Err(e) if failed_field(&e).is_some() => {
            // Name the row: one by one (approvals are few, and this is the rare path).
            let versions: Vec<i64> = a::table
                .filter(a::migration_id.eq(id))
                .order(a::version)
                .select(a::version)
                .load(conn)
                .map_err(ctx("read approvals"))?;
            for version in versions {
                let one = a::table
                    .find((id, version))
                    .select((a::version, a::approver, a::approved_at))
                    .first::<(i64, String, chrono::NaiveDateTime)>(conn);
                if let Err(e) = one
                    && let Some(field) = failed_field(&e)
                {
                    return Err(StoreError::Unreadable {
                        table: "attrmig_approvals",
                        id: id.to_owned(),
                        version,
                        field,
                    });
                }
            }
            return Err(ctx("read approvals")(e));
        }
        Err(e) => return Err(ctx("read approvals")(e)),
    };
    Ok(rows
        .into_iter()
        .map(|(version, approver, at)| ApprovalRecord {
            version,
            approver,
            at: from_db(at),
        })
        .collect())
}
