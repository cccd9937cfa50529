//! What one instance remembers about one migration between reports: the periods it
//! spent at each step, the counts in time buckets, a sample of recent mismatches. Pure:
//! times come in as arguments, so the bookkeeping is tested without waiting.
//!
//! The request path never touches this; it counts in atomics ([`crate::cell`]) that the
//! reporter drains into the ledger at every minute boundary and before every report.

use std::collections::VecDeque;

use attrmig_core::Step;
use attrmig_core::fleet::{Bucket, Counters, MismatchSample, Period};
use attrmig_protocol::limits::{
    HOUR_BUCKETS_FOR, MAX_MISMATCH_SAMPLES, MAX_PERIODS, MINUTE_BUCKETS_FOR,
};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// A migration as this instance saw it in the state database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The migration's step.
    pub step: Step,
    /// Abandoned at that step.
    pub abandoned: bool,
    /// Its version.
    pub version: i64,
}

/// The bookkeeping of one migration.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    pub periods: VecDeque<Period>,
    pub buckets: Vec<Bucket>,
    pub samples: VecDeque<MismatchSample>,
    /// The latest successful read of the migration.
    pub seen: Option<Seen>,
    /// A step the application pinned.
    pub pinned: Option<Step>,
}

fn minute() -> Duration {
    Duration::seconds(60)
}

fn floor(t: DateTime<Utc>, unit: Duration) -> DateTime<Utc> {
    t.duration_trunc(unit).unwrap_or(t)
}

impl Ledger {
    /// A ledger whose first period is `step`, applied at `now`.
    pub fn new(step: Step, now: DateTime<Utc>) -> Ledger {
        Ledger {
            periods: VecDeque::from([Period {
                step,
                since: now,
                counters: Counters::default(),
            }]),
            buckets: Vec::new(),
            samples: VecDeque::new(),
            seen: None,
            pinned: None,
        }
    }

    /// The step applied now, and since when.
    pub fn current(&self) -> (Step, DateTime<Utc>) {
        let p = self.periods.back().expect("a ledger always has a period");
        (p.step, p.since)
    }

    /// The step to apply: the pinned one, else the migration's (an abandoned migration is
    /// back to old only), else the one applied now.
    pub fn wanted(&self) -> Step {
        match (self.pinned, self.seen) {
            (Some(pinned), _) => pinned,
            (
                None,
                Some(Seen {
                    abandoned: true, ..
                }),
            ) => Step::Planned,
            (None, Some(seen)) => seen.step,
            (None, None) => self.current().0,
        }
    }

    /// Starts a period at `step` if it is not the current one. Returns whether it did.
    pub fn apply(&mut self, step: Step, now: DateTime<Utc>) -> bool {
        if self.current().0 == step {
            return false;
        }
        self.periods.push_back(Period {
            step,
            since: now,
            counters: Counters::default(),
        });
        while self.periods.len() > MAX_PERIODS {
            self.periods.pop_front();
        }
        true
    }

    /// Adds counts made at `step` during an interval that began at `at` (intervals never
    /// span a minute boundary: the reporter drains at each one).
    pub fn add(&mut self, step: Step, counts: &Counters, at: DateTime<Utc>) {
        if counts.is_zero() {
            return;
        }
        // The latest period at that step: counts made just before a step change are
        // drained after it.
        let period = match self.periods.iter_mut().rev().find(|p| p.step == step) {
            Some(p) => p,
            None => self.periods.back_mut().expect("a period"),
        };
        period.counters.add(counts);
        let since = period.since;
        let start_of_minute = floor(at, minute());
        let end = start_of_minute + minute();
        let start = if since > start_of_minute && since < end {
            since
        } else {
            start_of_minute
        };
        match self
            .buckets
            .iter_mut()
            .rev()
            .find(|b| b.step == step && b.end == end && b.start <= at.max(start))
        {
            Some(b) => b.counters.add(counts),
            None => {
                self.buckets.push(Bucket {
                    start,
                    end,
                    step,
                    counters: *counts,
                });
                self.buckets.sort_by_key(|b| (b.start, b.step));
            }
        }
    }

    /// Merges minute buckets older than [`MINUTE_BUCKETS_FOR`] into hours and drops
    /// buckets older than [`HOUR_BUCKETS_FOR`]: the row stays small however long the
    /// instance runs or the state database is away.
    pub fn compact(&mut self, now: DateTime<Utc>) {
        let minutes_until = now - Duration::from_std(MINUTE_BUCKETS_FOR).unwrap_or(minute());
        let hours_until = now - Duration::from_std(HOUR_BUCKETS_FOR).unwrap_or(minute());
        let hour = Duration::hours(1);
        let mut kept: Vec<Bucket> = Vec::with_capacity(self.buckets.len());
        for b in self.buckets.drain(..) {
            if b.end <= hours_until {
                continue;
            }
            if b.end - b.start > minute() || b.end > minutes_until {
                kept.push(b);
                continue;
            }
            let end = floor(b.start, hour) + hour;
            match kept
                .iter_mut()
                .find(|k| k.step == b.step && k.end == end && k.end - k.start > minute())
            {
                Some(k) => {
                    k.counters.add(&b.counters);
                    k.start = k.start.min(b.start);
                }
                // An hour bucket is told from a minute one by its width; one that holds
                // only an hour's last minute looks like a minute, and no later minute of
                // that hour can come to be merged into it.
                None => kept.push(Bucket { end, ..b }),
            }
        }
        kept.sort_by_key(|b| (b.start, b.step));
        self.buckets = kept;
    }

    /// Keeps a persistent mismatch, dropping the oldest beyond the sample's size.
    pub fn sample(&mut self, sample: MismatchSample) {
        self.samples.push_back(sample);
        while self.samples.len() > MAX_MISMATCH_SAMPLES {
            self.samples.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrmig_core::fleet::Counter;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs)
    }

    fn n(counter: Counter, value: u64) -> Counters {
        let mut c = Counters::default();
        c[counter] = value;
        c
    }

    #[test]
    fn counts_land_in_their_minute_and_period() {
        let mut l = Ledger::new(Step::Sync, t(0));
        l.add(Step::Sync, &n(Counter::WritesOld, 3), t(10));
        l.add(Step::Sync, &n(Counter::WritesOld, 2), t(50));
        l.add(Step::Sync, &n(Counter::WritesOld, 4), t(60));
        assert_eq!(l.buckets.len(), 2);
        assert_eq!(l.buckets[0].counters[Counter::WritesOld], 5);
        assert_eq!((l.buckets[0].start, l.buckets[0].end), (t(0), t(60)));
        assert_eq!(l.buckets[1].counters[Counter::WritesOld], 4);
        assert_eq!(l.periods[0].counters[Counter::WritesOld], 9);
    }

    #[test]
    fn a_step_change_mid_minute_starts_a_bucket_at_the_change() {
        let mut l = Ledger::new(Step::Sync, t(0));
        assert!(l.apply(Step::DoubleReadOld, t(90)));
        assert!(!l.apply(Step::DoubleReadOld, t(95)));
        // Counts made at 4 before the change are drained after it: they stay at 4.
        l.add(Step::Sync, &n(Counter::ReadsOld, 1), t(80));
        l.add(Step::DoubleReadOld, &n(Counter::Compared, 2), t(91));
        assert_eq!(l.periods[0].counters[Counter::ReadsOld], 1);
        assert_eq!(l.periods[1].counters[Counter::Compared], 2);
        let b = l
            .buckets
            .iter()
            .find(|b| b.step == Step::DoubleReadOld)
            .unwrap();
        assert_eq!((b.start, b.end), (t(90), t(120)));
    }

    #[test]
    fn old_minutes_become_hours_and_very_old_ones_go() {
        let mut l = Ledger::new(Step::Sync, t(0));
        for minute in 0..120 {
            l.add(Step::Sync, &n(Counter::WritesNew, 1), t(minute * 60 + 5));
        }
        l.compact(t(120 * 60));
        // The first hour is one bucket; the last hour stays in minutes.
        let hours: Vec<_> = l
            .buckets
            .iter()
            .filter(|b| b.end - b.start > minute())
            .collect();
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[0].counters[Counter::WritesNew], 60);
        assert_eq!(l.buckets.len(), 61);
        let total: u64 = l
            .buckets
            .iter()
            .map(|b| b.counters[Counter::WritesNew])
            .sum();
        assert_eq!(total, 120);
        // Compacting again changes nothing, and eight days later everything is gone.
        let before = l.buckets.clone();
        l.compact(t(120 * 60));
        assert_eq!(l.buckets, before);
        l.compact(t(9 * 24 * 3600));
        assert!(l.buckets.is_empty());
        // The period keeps its totals.
        assert_eq!(l.periods[0].counters[Counter::WritesNew], 120);
    }

    #[test]
    fn the_pinned_step_wins_and_an_abandoned_migration_is_back_to_old() {
        let mut l = Ledger::new(Step::Planned, t(0));
        l.seen = Some(Seen {
            step: Step::Sync,
            abandoned: false,
            version: 5,
        });
        assert_eq!(l.wanted(), Step::Sync);
        l.pinned = Some(Step::DoubleWrite);
        assert_eq!(l.wanted(), Step::DoubleWrite);
        l.pinned = None;
        l.seen = Some(Seen {
            step: Step::Sync,
            abandoned: true,
            version: 6,
        });
        assert_eq!(l.wanted(), Step::Planned);
    }

    #[test]
    fn samples_and_periods_are_bounded() {
        let mut l = Ledger::new(Step::Planned, t(0));
        for i in 0..100 {
            let step = if i % 2 == 0 {
                Step::Sync
            } else {
                Step::DoubleWrite
            };
            l.apply(step, t(i));
            l.sample(MismatchSample {
                key: i.to_string(),
                at: t(i),
                step,
                fields: Vec::new(),
            });
        }
        assert_eq!(l.periods.len(), MAX_PERIODS);
        assert_eq!(l.samples.len(), MAX_MISMATCH_SAMPLES);
        assert_eq!(l.samples.back().unwrap().key, "99");
    }
}
