//! `attrmig data-issues --retry`: re-drives the open data issues, key by key, holding the
//! sync's lease (one writer of new storage at a time) and behind the same fence as a
//! sync batch: each key is written and its issue resolved (or recorded again with its new
//! error) in one fenced unit, so a retry that outlived the step or lost its lease writes
//! nothing more.

use attrmig_db::{AnyConnection, is_row_level};
use attrmig_store::data_issues::{self, Rejected};
use attrmig_store::{Conns, sync_runs};
use diesel::Connection;
use serde::Serialize;

use super::{LEASE, NullTally, Rejection, describe, old_value, retrying, write};
use crate::error::ToolError;
use crate::layout::{Layout, Scope};
use crate::lease::Lease;
use crate::runner;
use crate::sql::Key;

/// What a retry did.
#[derive(Debug, Clone, Serialize)]
pub struct Retried {
    /// Keys now in new storage (their issues resolved).
    pub fixed: Vec<String>,
    /// Keys new storage still rejects, with the latest error.
    pub still: Vec<String>,
}

/// What one key's attempt came to.
enum Outcome {
    Written,
    Rejected(Rejection),
}

/// Re-drives every open data issue of `layout`'s migration, run by `holder`.
pub fn retry(conns: &mut Conns<'_>, layout: &Layout, holder: String) -> Result<Retried, ToolError> {
    layout.require_new()?;
    layout.prepare(conns.app())?;
    let id = layout.plan().id.to_string();
    let runner = runner::here(holder);
    Lease::hold(
        conns,
        layout.plan(),
        LEASE,
        "data-issues --retry",
        runner,
        |conns, lease| retry_leased(conns, layout, &id, lease),
    )
}

fn retry_leased(
    conns: &mut Conns<'_>,
    layout: &Layout,
    id: &str,
    lease: &mut Lease,
) -> Result<Retried, ToolError> {
    // In key order (the store orders them as text: 10 before 2), so that what a retry
    // reports reads like the table it walked.
    let mut open = data_issues::list(conns.state(), id, false)?
        .into_iter()
        .map(|issue| Ok((layout.parse_key(&issue.key)?, issue)))
        .collect::<Result<Vec<_>, ToolError>>()?;
    open.sort_by(|(a, _), (b, _)| a.cmp(b));
    let pass = sync_runs::list(conns.state(), id)?
        .first()
        .map_or(0, |p| p.pass);
    let mut done = Retried {
        fixed: Vec::new(),
        still: Vec::new(),
    };
    for (key, issue) in &open {
        let outcome = retrying(|| {
            lease.commit(
                conns,
                |app| copy_one(app, layout, key),
                |state, outcome| {
                    let now = attrmig_core::audit::now();
                    match outcome {
                        Outcome::Written => data_issues::resolve(state, id, &issue.key, now)?,
                        Outcome::Rejected(r) => {
                            let rejected = Rejected {
                                key: &issue.key,
                                old_value: r.old_value.as_deref(),
                                error: &r.error,
                                pass,
                            };
                            data_issues::record(state, id, rejected, now)?;
                        }
                    }
                    Ok(())
                },
            )
        })?;
        match outcome {
            Outcome::Written => done.fixed.push(issue.key.clone()),
            Outcome::Rejected(_) => done.still.push(issue.key.clone()),
        }
        lease.keep(conns.state())?;
    }
    Ok(done)
}

/// Writes one key in a savepoint; a row-level failure is the key's new error.
fn copy_one(conn: &mut AnyConnection, layout: &Layout, key: &Key) -> Result<Outcome, ToolError> {
    let keys = std::slice::from_ref(key);
    match conn.transaction(|c| write(c, layout, Scope::Keys(keys), &NullTally::default())) {
        // A value the new type would change is rejected without an error from the database.
        Ok(written) => Ok(match written.rejected.into_iter().next() {
            None => Outcome::Written,
            Some(r) if r.old_value.is_some() => Outcome::Rejected(r),
            Some(r) => Outcome::Rejected(Rejection {
                old_value: old_value(conn, layout, key)?,
                ..r
            }),
        }),
        Err(e) if is_row_level(&e) => Ok(Outcome::Rejected(Rejection {
            key: key.clone(),
            old_value: old_value(conn, layout, key)?,
            error: describe(&e),
        })),
        Err(e) => Err(ToolError::query("copy a row", e)),
    }
}
