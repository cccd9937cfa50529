//! A write and a read per the mode, with the application's own closures (or futures).
//!
//! Writes: old only, old then new, or new only; old first, as the double-write contract
//! requires (docs/tools.md), so that a sync batch can never copy a value older than the
//! one the application wrote. A delete is a write: pass closures that delete.
//!
//! Reads: old only; both, compared, old served (5a); both, compared, new served (5b); new
//! only. A compared read that disagrees is read again once: a write landing between the
//! two reads is a race (transient), one that still disagrees is a bug (persistent).

use std::fmt::Display;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use attrmig_core::fleet::{Counter, FieldDiff, MismatchSample};
use attrmig_core::{Read, Step};
use attrmig_protocol::limits::{MAX_FIELDS_PER_SAMPLE, MAX_VALUE_CHARS, truncate};

use crate::cell::Cell;
use crate::error::{ReadError, Side, WriteError};
use crate::instance::Shared;
use crate::sampling;

fn counter(side: Side, old: Counter, new: Counter) -> Counter {
    match side {
        Side::Old => old,
        Side::New => new,
    }
}

/// The call's context: the migration and the instance around it.
pub(crate) struct Call<'a> {
    pub shared: &'a Shared,
    pub cell: &'a Cell,
}

/// What a read does in the step it runs at.
enum Plan {
    Only(Side),
    Compare { serve: Side },
}

impl Call<'_> {
    fn plan(&self, read: Read) -> Plan {
        let (serve, compares) = match read {
            Read::Old => return Plan::Only(Side::Old),
            Read::New => return Plan::Only(Side::New),
            Read::BothServeOld => (Side::Old, true),
            Read::BothServeNew => (Side::New, true),
        };
        if compares && sampling::compare(self.cell.compare_ratio()) {
            Plan::Compare { serve }
        } else {
            Plan::Only(serve)
        }
    }

    fn counted<T, E>(&self, step: Step, side: Side, result: Result<T, E>) -> Result<T, E> {
        self.cell
            .count(step, counter(side, Counter::ReadsOld, Counter::ReadsNew));
        if result.is_err() {
            self.cell.count(
                step,
                counter(side, Counter::ReadErrorsOld, Counter::ReadErrorsNew),
            );
        }
        result
    }

    fn wrote<E>(&self, step: Step, side: Side, result: Result<(), E>) -> Result<(), WriteError<E>> {
        self.cell
            .count(step, counter(side, Counter::WritesOld, Counter::WritesNew));
        result.map_err(|e| {
            self.cell.count(
                step,
                counter(side, Counter::WriteErrorsOld, Counter::WriteErrorsNew),
            );
            match side {
                Side::Old => WriteError::Old(e),
                Side::New => WriteError::New(e),
            }
        })
    }

    // --- synchronous --------------------------------------------------------------

    pub fn write<E>(
        &self,
        old: impl FnOnce() -> Result<(), E>,
        new: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let (step, mode) = self.cell.current();
        if mode.write_old {
            self.wrote(step, Side::Old, old())?;
        }
        if mode.write_new {
            self.wrote(step, Side::New, new())?;
        }
        Ok(())
    }

    pub fn read<K: Display + ?Sized, T, E>(
        &self,
        key: &K,
        diff: impl Fn(&T, &T) -> Vec<FieldDiff>,
        mut old: impl FnMut() -> Result<T, E>,
        mut new: impl FnMut() -> Result<T, E>,
    ) -> Result<T, ReadError<E>> {
        let (step, mode) = self.cell.current();
        let mut side = |s: Side| match s {
            Side::Old => self.counted(step, s, old()),
            Side::New => self.counted(step, s, new()),
        };
        let serve = match self.plan(mode.read) {
            Plan::Only(s) => return side(s).map_err(|e| ReadError::on(s, e)),
            Plan::Compare { serve } => serve,
        };
        let served = side(serve).map_err(|e| ReadError::on(serve, e))?;
        let compared = side(other(serve));
        let Some(diffs) = self.first_compare(step, key, serve, &served, compared, &diff) else {
            return Ok(served);
        };
        // They disagree: read both again, once, before it counts as a bug.
        let again = (side(serve), side(other(serve)));
        Ok(self.second_compare(step, key, serve, served, diffs, again, &diff))
    }

    // --- asynchronous -------------------------------------------------------------

    pub async fn write_async<E, FO, FN>(
        &self,
        old: impl FnOnce() -> FO,
        new: impl FnOnce() -> FN,
    ) -> Result<(), WriteError<E>>
    where
        FO: Future<Output = Result<(), E>>,
        FN: Future<Output = Result<(), E>>,
    {
        let (step, mode) = self.cell.current();
        if mode.write_old {
            self.wrote(step, Side::Old, old().await)?;
        }
        if mode.write_new {
            self.wrote(step, Side::New, new().await)?;
        }
        Ok(())
    }

    pub async fn read_async<K: Display + ?Sized, T, E, FO, FN>(
        &self,
        key: &K,
        diff: impl Fn(&T, &T) -> Vec<FieldDiff>,
        mut old: impl FnMut() -> FO,
        mut new: impl FnMut() -> FN,
    ) -> Result<T, ReadError<E>>
    where
        FO: Future<Output = Result<T, E>>,
        FN: Future<Output = Result<T, E>>,
    {
        let (step, mode) = self.cell.current();
        let serve = match self.plan(mode.read) {
            Plan::Only(Side::Old) => {
                return self
                    .counted(step, Side::Old, old().await)
                    .map_err(ReadError::Old);
            }
            Plan::Only(Side::New) => {
                return self
                    .counted(step, Side::New, new().await)
                    .map_err(ReadError::New);
            }
            Plan::Compare { serve } => serve,
        };
        // Both sides at once: a compared read costs the slower of the two, not the sum.
        let both = |o: Result<T, E>, n: Result<T, E>| {
            let o = self.counted(step, Side::Old, o);
            let n = self.counted(step, Side::New, n);
            match serve {
                Side::Old => (o, n),
                Side::New => (n, o),
            }
        };
        let (o, n) = join(old(), new()).await;
        let (served, other) = both(o, n);
        let served = served.map_err(|e| ReadError::on(serve, e))?;
        let Some(diffs) = self.first_compare(step, key, serve, &served, other, &diff) else {
            return Ok(served);
        };
        let (o, n) = join(old(), new()).await;
        let again = both(o, n);
        Ok(self.second_compare(step, key, serve, served, diffs, again, &diff))
    }

    // --- comparing, shared by both --------------------------------------------------

    /// The first comparison: `None` when there is nothing more to do (they agree, or the
    /// other side failed), else the fields that differ.
    fn first_compare<K: Display + ?Sized, T, E>(
        &self,
        step: Step,
        key: &K,
        serve: Side,
        served: &T,
        other: Result<T, E>,
        diff: &impl Fn(&T, &T) -> Vec<FieldDiff>,
    ) -> Option<Vec<FieldDiff>> {
        let Ok(other) = other else {
            tracing::warn!(
                target: "attrmig_app::read",
                migration = %self.cell.id,
                key = %key,
                failed = other_name(serve),
                "the compared side of a double read failed; the served value is returned (counted as a read error)"
            );
            return None;
        };
        self.cell.count(step, Counter::Compared);
        let diffs = match serve {
            Side::Old => diff(served, &other),
            Side::New => diff(&other, served),
        };
        (!diffs.is_empty()).then_some(diffs)
    }

    /// The second comparison after a disagreement: transient if they now agree,
    /// persistent if they still differ or could not be read again. Returns the value to
    /// serve: the one read again when it could be, else the first.
    #[allow(clippy::too_many_arguments)]
    fn second_compare<K: Display + ?Sized, T, E>(
        &self,
        step: Step,
        key: &K,
        serve: Side,
        served: T,
        first: Vec<FieldDiff>,
        again: (Result<T, E>, Result<T, E>),
        diff: &impl Fn(&T, &T) -> Vec<FieldDiff>,
    ) -> T {
        let (value, diffs, reread) = match again {
            (Ok(s), Ok(o)) => {
                let diffs = match serve {
                    Side::Old => diff(&s, &o),
                    Side::New => diff(&o, &s),
                };
                (s, diffs, true)
            }
            (Ok(s), Err(_)) => (s, first, false),
            (Err(_), _) => (served, first, false),
        };
        if diffs.is_empty() {
            self.cell.count(step, Counter::TransientMismatches);
            tracing::info!(
                target: "attrmig_app::mismatch",
                migration = %self.cell.id,
                instance = %self.shared.identity.id,
                key = %key,
                step = step.id(),
                persistent = false,
                "old and new storage disagreed, then agreed when read again (a write landed between the reads)"
            );
            return value;
        }
        self.cell.count(step, Counter::Mismatches);
        let fields = self.kept(&diffs);
        tracing::warn!(
            target: "attrmig_app::mismatch",
            migration = %self.cell.id,
            instance = %self.shared.identity.id,
            key = %key,
            step = step.id(),
            persistent = true,
            read_again = reread,
            fields = %FieldList(&fields),
            "old and new storage disagree, also when read again"
        );
        self.cell.ledger().sample(MismatchSample {
            key: truncate(&key.to_string(), MAX_VALUE_CHARS),
            at: chrono::Utc::now(),
            step,
            fields,
        });
        value
    }

    /// The fields as reports and logs keep them: bounded, values redacted if asked.
    fn kept(&self, diffs: &[FieldDiff]) -> Vec<FieldDiff> {
        let redact = self.shared.options.redact_values;
        diffs
            .iter()
            .take(MAX_FIELDS_PER_SAMPLE)
            .map(|d| FieldDiff {
                field: truncate(&d.field, MAX_VALUE_CHARS),
                old: if redact {
                    "[redacted]".into()
                } else {
                    truncate(&d.old, MAX_VALUE_CHARS)
                },
                new: if redact {
                    "[redacted]".into()
                } else {
                    truncate(&d.new, MAX_VALUE_CHARS)
                },
            })
            .collect()
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Old => Side::New,
        Side::New => Side::Old,
    }
}

fn other_name(serve: Side) -> &'static str {
    other(serve).name()
}

/// `field: old ≠ new; field: old ≠ new`, for the log.
struct FieldList<'a>(&'a [FieldDiff]);

impl Display for FieldList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: old {} new {}", d.field, d.old, d.new)?;
        }
        Ok(())
    }
}

/// Polls two futures until both are done (no runtime needed, no dependency).
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (
        ra.expect("polled to completion"),
        rb.expect("polled to completion"),
    )
}
