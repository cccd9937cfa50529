//! A tool's lease for one run: taken before the run writes anything, checked inside the
//! transaction of every write (the fence), renewed as the run goes, released at its end.
//!
//! The fence ([`attrmig_store::leases::fence`]) reads the migration's step and the lease
//! under a share lock in the very transaction that writes, so that:
//!
//! - an advance to 8 (a compare-and-swap on the migration's row) waits for a batch in
//!   flight, and a batch that starts after the advance sees 8 and writes nothing;
//! - a runner whose lease was taken over (it lapsed while the runner was stopped) writes
//!   nothing: the lease holds another token;
//! - with the state in another database ([`Conns::Split`]), the state transaction that
//!   holds those locks stays open across the application's commit and records the batch
//!   after it (DESIGN.md §8's pattern for two databases): the advance can't commit
//!   between the fence and the rows.
//!
//! A lease that lapsed but that nobody took is still the runner's: nobody can take it
//! while a batch holds it under the share lock, and a takeover changes the token.

use std::time::{Duration, Instant};

use attrmig_core::{Plan, Position, Refusal};
use attrmig_db::{AnyConnection, write_transaction};
use attrmig_store::Conns;
use attrmig_store::leases::{self, Fenced, NotGranted, Runner};

use crate::error::ToolError;
use crate::runner;

/// A lease this run holds.
#[derive(Debug)]
pub struct Lease {
    id: String,
    purpose: String,
    tool: &'static str,
    runner: Runner,
    ttl: chrono::Duration,
    renew_every: Duration,
    renewed: Instant,
}

impl Lease {
    /// Takes the lease `purpose` of `plan`'s migration for `runner`, running `tool`.
    /// Refused when the migration's tools are retired (8 or later), when it was
    /// abandoned, and while another live runner holds it (one provably dead on this
    /// machine is taken over at once: [`runner::is_dead`]).
    pub fn take(
        state: &mut AnyConnection,
        plan: &Plan,
        purpose: &str,
        tool: &'static str,
        runner: Runner,
    ) -> Result<Lease, ToolError> {
        let id = plan.id.to_string();
        let ttl = chrono::Duration::from_std(plan.sync.lease_ttl).unwrap_or(chrono::Duration::MAX);
        let now = attrmig_core::audit::now();
        let granted = leases::acquire(
            state,
            &id,
            purpose,
            tool,
            &runner,
            ttl,
            now,
            &runner::is_dead,
        )?;
        match granted {
            Ok(()) => Ok(Lease {
                id,
                purpose: purpose.to_owned(),
                tool,
                runner,
                ttl,
                renew_every: plan.sync.lease_renew_every(),
                renewed: Instant::now(),
            }),
            Err(NotGranted::Held(held)) => Err(Refusal::LeaseHeld {
                what: if purpose == leases::SYNC {
                    "sync"
                } else {
                    tool
                },
                id,
                holder: held.runner.holder,
                expires_at: held.expires_at,
            }
            .into()),
            Err(NotGranted::Retired { at }) => Err(Refusal::ToolRetired { tool, id, at }.into()),
            Err(NotGranted::Abandoned { at }) => Err(Refusal::Abandoned { at }.into()),
        }
    }

    /// Takes the lease ([`Lease::take`]), runs `work` holding it, and releases it
    /// whatever `work` returned (after a crash it lapses).
    pub fn hold<'c, T>(
        conns: &mut Conns<'c>,
        plan: &Plan,
        purpose: &str,
        tool: &'static str,
        runner: Runner,
        work: impl FnOnce(&mut Conns<'c>, &mut Lease) -> Result<T, ToolError>,
    ) -> Result<T, ToolError> {
        let mut lease = Lease::take(conns.state(), plan, purpose, tool, runner)?;
        let result = work(conns, &mut lease);
        let released = lease.release(conns.state());
        let done = result?;
        released?;
        Ok(done)
    }

    /// This run's fencing token.
    pub fn token(&self) -> &str {
        &self.runner.token
    }

    /// Who runs.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    fn due(&self) -> bool {
        self.renewed.elapsed() >= self.renew_every
    }

    /// The refusal for a runner that lost its lease.
    pub fn lost(&self, now_held_by: Option<String>) -> ToolError {
        Refusal::LeaseLost {
            tool: self.tool,
            id: self.id.clone(),
            now_held_by,
        }
        .into()
    }

    /// The fence, inside the caller's transaction on the state connection; renews the
    /// lease in the same transaction when `renew`.
    fn fence(&self, state: &mut AnyConnection, renew: bool) -> Result<(), ToolError> {
        match leases::fence(state, &self.id, &self.purpose, self.token())? {
            Ok(()) => {}
            Err(Fenced::Retired { at }) => return Err(self.outlived(Position::At(at))),
            Err(Fenced::Abandoned { at }) => {
                return Err(self.outlived(Position::Abandoned { at }));
            }
            Err(Fenced::LeaseLost { now_held_by }) => return Err(self.lost(now_held_by)),
        }
        if renew {
            let now = attrmig_core::audit::now();
            if !leases::renew(state, &self.id, &self.purpose, self.token(), self.ttl, now)? {
                return Err(self.lost(None));
            }
        }
        Ok(())
    }

    fn outlived(&self, at: Position) -> ToolError {
        Refusal::OutlivedStep {
            tool: self.tool,
            id: self.id.clone(),
            at,
        }
        .into()
    }

    /// One fenced unit of work: `write` on the application database and `book` (its
    /// bookkeeping) on the state, committed only if the fence passes. With one
    /// connection, all of it is one transaction; with two, the state transaction holds
    /// the fence's locks across the application's commit, then records `book`.
    pub fn commit<T>(
        &mut self,
        conns: &mut Conns<'_>,
        write: impl FnOnce(&mut AnyConnection) -> Result<T, ToolError>,
        book: impl FnOnce(&mut AnyConnection, &T) -> Result<(), ToolError>,
    ) -> Result<T, ToolError> {
        let renew = self.due();
        let done: T = match conns {
            Conns::Shared(conn) => write_transaction::<_, ToolError>(conn, |c| {
                self.fence(c, renew)?;
                let out = write(c)?;
                book(c, &out)?;
                Ok(out)
            }),
            Conns::Split { app, state } => write_transaction::<_, ToolError>(state, |s| {
                self.fence(s, renew)?;
                let out = write_transaction(app, write)?;
                book(s, &out)?;
                Ok(out)
            }),
        }?;
        if renew {
            self.renewed = Instant::now();
        }
        Ok(done)
    }

    /// A fenced unit of bookkeeping alone, on the state connection.
    pub fn commit_state<T>(
        &mut self,
        state: &mut AnyConnection,
        book: impl FnOnce(&mut AnyConnection) -> Result<T, ToolError>,
    ) -> Result<T, ToolError> {
        let renew = self.due();
        let out = write_transaction::<_, ToolError>(state, |s| {
            self.fence(s, renew)?;
            book(s)
        })?;
        if renew {
            self.renewed = Instant::now();
        }
        Ok(out)
    }

    /// Between units of work: renews the lease when due. Fails when it is no longer this
    /// runner's.
    pub fn keep(&mut self, state: &mut AnyConnection) -> Result<(), ToolError> {
        if !self.due() {
            return Ok(());
        }
        let now = attrmig_core::audit::now();
        if !leases::renew(state, &self.id, &self.purpose, self.token(), self.ttl, now)? {
            // Say why: the migration may have moved on meanwhile, or someone else runs.
            self.fence(state, false)?;
            return Err(self.lost(None));
        }
        self.renewed = Instant::now();
        Ok(())
    }

    /// Sleeps `d` (a throttle), renewing the lease as it goes: a paced run keeps its
    /// lease however slow it is.
    pub fn sleep(&mut self, state: &mut AnyConnection, d: Duration) -> Result<(), ToolError> {
        let until = Instant::now() + d;
        loop {
            self.keep(state)?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(self.renew_every));
        }
    }

    /// Gives the lease up (if it is still this runner's).
    pub fn release(&self, state: &mut AnyConnection) -> Result<(), ToolError> {
        leases::release(state, &self.id, &self.purpose, self.token())?;
        Ok(())
    }
}
