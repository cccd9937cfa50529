//! One migration's live state, shared by the request path and the background threads.
//!
//! The request path reads the applied step from one atomic and counts in atomics, one
//! set per step, so a call takes no lock and makes no database round trip. The
//! background threads change the step and drain the counts into the [`Ledger`] under its
//! lock, which a request takes only to keep a persistent mismatch's sample.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use attrmig_core::fleet::{Counter, Counters};
use attrmig_core::{Mode, Step};
use chrono::{DateTime, Utc};

use crate::ledger::Ledger;

const STEPS: usize = Step::ALL.len();
const COUNTERS: usize = Counter::ALL.len();

/// One migration, as this instance applies it.
pub(crate) struct Cell {
    pub id: String,
    step: AtomicU8,
    compare_ratio: AtomicU64,
    counts: [[AtomicU64; COUNTERS]; STEPS],
    ledger: Mutex<Ledger>,
}

impl Cell {
    pub fn new(id: String, step: Step, compare_ratio: f64, now: DateTime<Utc>) -> Cell {
        Cell {
            id,
            step: AtomicU8::new(step.index() as u8),
            compare_ratio: AtomicU64::new(compare_ratio.to_bits()),
            counts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            ledger: Mutex::new(Ledger::new(step, now)),
        }
    }

    /// The step applied now and its mode: one atomic load.
    #[inline]
    pub fn current(&self) -> (Step, Mode) {
        let step = Step::ALL[usize::from(self.step.load(Ordering::Acquire))];
        (step, Mode::at(step))
    }

    /// Counts one event at `step`.
    #[inline]
    pub fn count(&self, step: Step, counter: Counter) {
        self.counts[step.index()][counter as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Share of reads compared in 5a and 5b.
    #[inline]
    pub fn compare_ratio(&self) -> f64 {
        f64::from_bits(self.compare_ratio.load(Ordering::Relaxed))
    }

    pub fn set_compare_ratio(&self, ratio: f64) {
        self.compare_ratio.store(ratio.to_bits(), Ordering::Relaxed);
    }

    /// The counts made at `step` since the last drain, reset to zero.
    pub fn drain(&self, step: Step) -> Counters {
        let mut out = Counters::default();
        for counter in Counter::ALL {
            out[counter] = self.counts[step.index()][counter as usize].swap(0, Ordering::Relaxed);
        }
        out
    }

    /// The ledger, for the background threads (and a request keeping a sample).
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic while holding it leaves bookkeeping, not invariants: go on with it.
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the step the ledger wants, if it is not applied yet. Returns the new step.
    pub fn settle(&self, ledger: &mut Ledger, now: DateTime<Utc>) -> Option<Step> {
        let wanted = ledger.wanted();
        if !ledger.apply(wanted, now) {
            return None;
        }
        self.step.store(wanted.index() as u8, Ordering::Release);
        Some(wanted)
    }
}
