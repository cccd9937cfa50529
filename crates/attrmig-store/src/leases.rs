//! Leases: one runner per migration and purpose at a time. A lease expires unless its
//! holder renews it, so a runner that dies (SIGKILL, lost machine) frees it by itself.

use attrmig_db::{AnyConnection, write_transaction};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, ctx};
use crate::schema::attrmig_leases as l;
use crate::time::{from_db, to_db};

/// Someone else holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Who.
    pub holder: String,
    /// Until when, unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// Takes the lease for `ttl`, unless another live holder has it.
pub fn acquire(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    holder: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Result<(), Held>, StoreError> {
    let attempt = write_transaction(conn, |conn| {
        let current: Option<(String, chrono::NaiveDateTime)> = l::table
            .find((id, purpose))
            .select((l::holder, l::expires_at))
            .first(conn)
            .optional()
            .map_err(ctx("read a lease"))?;
        if let Some((current_holder, expires)) = current {
            let expires_at = from_db(expires);
            if expires_at > now && current_holder != holder {
                return Ok(Err(Held {
                    holder: current_holder,
                    expires_at,
                }));
            }
            diesel::delete(l::table.find((id, purpose)))
                .execute(conn)
                .map_err(ctx("take over an expired lease"))?;
        }
        diesel::insert_into(l::table)
            .values((
                l::migration_id.eq(id),
                l::purpose.eq(purpose),
                l::holder.eq(holder),
                l::acquired_at.eq(to_db(now)),
                l::expires_at.eq(to_db(now + ttl)),
            ))
            .execute(conn)?;
        Ok(Ok(()))
    });
    match attempt {
        // Two takers raced for a free lease; the insert decided. Report the winner.
        Err(StoreError::Db(e))
            if matches!(
                e.diesel(),
                Some(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                ))
            ) =>
        {
            let (winner, expires): (String, chrono::NaiveDateTime) = l::table
                .find((id, purpose))
                .select((l::holder, l::expires_at))
                .first(conn)
                .map_err(ctx("read a lease"))?;
            Ok(Err(Held {
                holder: winner,
                expires_at: from_db(expires),
            }))
        }
        other => other,
    }
}

/// Extends the lease; `false` when it is no longer ours (it expired and was taken).
pub fn renew(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    holder: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(l::table.find((id, purpose)).filter(l::holder.eq(holder)))
        .set(l::expires_at.eq(to_db(now + ttl)))
        .execute(conn)
        .map_err(ctx("renew a lease"))?;
    Ok(n == 1)
}

/// Gives the lease up.
pub fn release(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    holder: &str,
) -> Result<(), StoreError> {
    diesel::delete(l::table.find((id, purpose)).filter(l::holder.eq(holder)))
        .execute(conn)
        .map_err(ctx("release a lease"))?;
    Ok(())
}

/// The live holder of a lease, if any.
pub fn holder(
    conn: &mut AnyConnection,
    id: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Option<Held>, StoreError> {
    let current: Option<(String, chrono::NaiveDateTime)> = l::table
        .find((id, purpose))
        .select((l::holder, l::expires_at))
        .first(conn)
        .optional()
        .map_err(ctx("read a lease"))?;
    Ok(current
        .map(|(holder, e)| Held {
            holder,
            expires_at: from_db(e),
        })
        .filter(|h| h.expires_at > now))
}
