//! What the application's instances report about a migration, and the questions the
//! guards ask of those reports. Pure: the reports are written by `attrmig-app` (or any
//! client of the SQL protocol in docs/app.md) and read by `attrmig-store`.
//!
//! An instance reports, per migration, the step whose mode it applies and since when,
//! the stretches of time it spent at each step (a [`Period`] with its totals), the same
//! counts in time [`Bucket`]s (a minute wide while recent, an hour wide later), and a
//! bounded sample of recent persistent mismatches. A report is cumulative: each one
//! replaces the last, so a report that could not be written is carried by the next.

use std::fmt;
use std::ops::{Index, IndexMut};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Mode, Step};

/// One thing an instance counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Counter {
    /// Calls of the application's write to old storage (a delete included).
    WritesOld,
    /// Calls of the application's write to new storage.
    WritesNew,
    /// Writes to old storage that returned an error.
    WriteErrorsOld,
    /// Writes to new storage that returned an error.
    WriteErrorsNew,
    /// Calls of the application's read of old storage (re-reads included).
    ReadsOld,
    /// Calls of the application's read of new storage (re-reads included).
    ReadsNew,
    /// Reads of old storage that returned an error.
    ReadErrorsOld,
    /// Reads of new storage that returned an error.
    ReadErrorsNew,
    /// Reads whose old and new values were both read and compared.
    Compared,
    /// Compared reads that still disagreed when read again: a bug, not a race.
    Mismatches,
    /// Compared reads that disagreed once and agreed when read again (a write landed
    /// between the two reads).
    TransientMismatches,
}

impl Counter {
    /// Every counter, in the order of [`Counters`]' slots.
    pub const ALL: [Counter; 11] = [
        Counter::WritesOld,
        Counter::WritesNew,
        Counter::WriteErrorsOld,
        Counter::WriteErrorsNew,
        Counter::ReadsOld,
        Counter::ReadsNew,
        Counter::ReadErrorsOld,
        Counter::ReadErrorsNew,
        Counter::Compared,
        Counter::Mismatches,
        Counter::TransientMismatches,
    ];

    /// Its name in reports: `writes_old`, `transient_mismatches`.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::WritesOld => "writes_old",
            Counter::WritesNew => "writes_new",
            Counter::WriteErrorsOld => "write_errors_old",
            Counter::WriteErrorsNew => "write_errors_new",
            Counter::ReadsOld => "reads_old",
            Counter::ReadsNew => "reads_new",
            Counter::ReadErrorsOld => "read_errors_old",
            Counter::ReadErrorsNew => "read_errors_new",
            Counter::Compared => "compared",
            Counter::Mismatches => "mismatches",
            Counter::TransientMismatches => "transient_mismatches",
        }
    }

    fn from_name(name: &str) -> Option<Counter> {
        Counter::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A value for each [`Counter`]. Serialized as an object of the non-zero ones; names it
/// does not know (a newer writer's) are ignored when read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters([u64; 11]);

impl Counters {
    /// Adds `other` to these, slot by slot.
    pub fn add(&mut self, other: &Counters) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_add(b);
        }
    }

    /// Nothing counted.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }

    /// Persistent mismatches per compared read; `None` when nothing was compared.
    pub fn mismatch_rate(&self) -> Option<f64> {
        let compared = self[Counter::Compared];
        (compared > 0).then(|| self[Counter::Mismatches] as f64 / compared as f64)
    }

    /// The non-zero counters, by name.
    pub fn non_zero(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::ALL
            .into_iter()
            .map(|c| (c, self[c]))
            .filter(|(_, n)| *n > 0)
    }
}

impl Index<Counter> for Counters {
    type Output = u64;
    fn index(&self, c: Counter) -> &u64 {
        &self.0[c as usize]
    }
}

impl IndexMut<Counter> for Counters {
    fn index_mut(&mut self, c: Counter) -> &mut u64 {
        &mut self.0[c as usize]
    }
}

impl Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (c, n) in self.non_zero() {
            map.serialize_entry(c.name(), &n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Counters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u64>::deserialize(d)?;
        let mut counters = Counters::default();
        for (name, n) in map {
            if let Some(c) = Counter::from_name(&name) {
                counters[c] = n;
            }
        }
        Ok(counters)
    }
}

/// A stretch of time an instance applied one step's mode, with its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// The step whose mode it applied.
    pub step: Step,
    /// When it started applying it.
    pub since: DateTime<Utc>,
    /// Everything counted while it did.
    pub counters: Counters,
}

/// Counts over `[start, end)`, made while applying `step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start (a minute or hour boundary, or the moment the step was applied).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// The step whose mode was applied.
    pub step: Step,
    /// The counts.
    pub counters: Counters,
}

/// One field on which old and new disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field (`value` for a plain attribute).
    pub field: String,
    /// Its value in old storage, as the application formats it.
    pub old: String,
    /// Its value in new storage.
    pub new: String,
}

/// A compared read that still disagreed when read again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MismatchSample {
    /// The key that was read.
    pub key: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The step whose mode was applied.
    pub step: Step,
    /// The fields that differ.
    pub fields: Vec<FieldDiff>,
}

/// Who reports: one running process of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Unique per process unless the application sets it.
    pub id: String,
    /// The machine (or pod) it runs on.
    pub host: String,
    /// The process: `name[pid]`.
    pub process: String,
    /// The application's version (release, commit).
    pub app_version: String,
}

/// What one instance last reported about one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The migration.
    pub migration_id: String,
    /// The instance.
    pub identity: Identity,
    /// The step whose mode it applies.
    pub step: Step,
    /// Since when.
    pub since: DateTime<Utc>,
    /// It applies a step it was pinned to, not the migration's.
    pub pinned: bool,
    /// Its last attempt to read the migration's step failed: it keeps its last mode.
    pub stale: bool,
    /// The migration's step as it last read it (`None`: never read).
    pub seen_step: Option<Step>,
    /// The migration's version as it last read it.
    pub seen_version: Option<i64>,
    /// When the instance started.
    pub started_at: DateTime<Utc>,
    /// When this report was made: the instance's last sign of life.
    pub reported_at: DateTime<Utc>,
    /// The stretches of time at each step, oldest first (the last one is current).
    pub periods: Vec<Period>,
    /// Counts in time buckets, oldest first.
    pub buckets: Vec<Bucket>,
    /// Recent persistent mismatches, oldest first.
    pub mismatches: Vec<MismatchSample>,
}

impl InstanceReport {
    /// The mode it applies.
    pub fn mode(&self) -> Mode {
        Mode::at(self.step)
    }

    /// Reported within `ttl` of `now`.
    pub fn live(&self, now: DateTime<Utc>, ttl: Duration) -> bool {
        (now - self.reported_at).to_std().unwrap_or(Duration::ZERO) <= ttl
    }

    /// Since when it has applied, without a break, modes for which `holds` is true;
    /// `None` when its current mode fails it. Periods older than the report keeps count
    /// as a break (the answer errs late, never early).
    pub fn holds_since(&self, holds: impl Fn(Mode) -> bool) -> Option<DateTime<Utc>> {
        if !holds(self.mode()) {
            return None;
        }
        let mut since = self.since;
        for period in self.periods.iter().rev() {
            if !holds(Mode::at(period.step)) {
                break;
            }
            since = since.min(period.since);
        }
        Some(since)
    }

    /// What it counted from `from` on while applying a step for which `counts` is true.
    /// A period that began at or after `from` counts whole; one that began before counts
    /// its buckets that start at or after `from`.
    pub fn counted_since(&self, from: DateTime<Utc>, counts: impl Fn(Step) -> bool) -> Counters {
        let mut total = Counters::default();
        for (i, period) in self.periods.iter().enumerate() {
            if !counts(period.step) {
                continue;
            }
            if period.since >= from {
                total.add(&period.counters);
                continue;
            }
            let until = self.periods.get(i + 1).map(|p| p.since);
            for b in &self.buckets {
                let inside = b.step == period.step
                    && b.start >= from
                    && b.start >= period.since
                    && until.is_none_or(|u| b.start < u);
                if inside {
                    total.add(&b.counters);
                }
            }
        }
        total
    }

    /// Its totals at the step it applies now.
    pub fn current_counters(&self) -> Counters {
        self.periods
            .last()
            .filter(|p| p.step == self.step)
            .map(|p| p.counters)
            .unwrap_or_default()
    }

    /// Writes to old storage it counted in buckets starting at or after `from`.
    pub fn old_writes_since(&self, from: DateTime<Utc>) -> u64 {
        self.buckets
            .iter()
            .filter(|b| b.start >= from)
            .map(|b| b.counters[Counter::WritesOld])
            .sum()
    }

    /// The one line that names it in refusals and views.
    pub fn summary(&self, now: DateTime<Utc>, ttl: Duration) -> InstanceSummary {
        InstanceSummary {
            id: self.identity.id.clone(),
            host: self.identity.host.clone(),
            process: self.identity.process.clone(),
            app_version: self.identity.app_version.clone(),
            step: self.step,
            pinned: self.pinned,
            stale: self.stale,
            last_seen: self.reported_at,
            live: self.live(now, ttl),
        }
    }
}

/// An instance as refusals name it: who, where, which version, in which mode, last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSummary {
    /// Instance id.
    pub id: String,
    /// Host.
    pub host: String,
    /// Process.
    pub process: String,
    /// Application version.
    pub app_version: String,
    /// The step whose mode it applies.
    pub step: Step,
    /// Pinned to that step.
    pub pinned: bool,
    /// It could not read the migration's step at its last try.
    pub stale: bool,
    /// Its last report.
    pub last_seen: DateTime<Utc>,
    /// Reported within `instance_ttl`.
    pub live: bool,
}

impl fmt::Display for InstanceSummary {
    /// `web-2 (orders-api[4242], v1.4.0) at 4 sync: writes both, reads old, pinned, last seen 2026-11-21 17:40:03 UTC`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} on {}, version {}) at {}: {}",
            self.id,
            self.process,
            self.host,
            self.app_version,
            self.step,
            Mode::at(self.step).describe()
        )?;
        if self.pinned {
            f.write_str(", pinned")?;
        }
        if self.stale {
            f.write_str(", cannot read the state database")?;
        }
        write!(
            f,
            ", last seen {}",
            self.last_seen.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
        if !self.live {
            f.write_str(" (gone)")?;
        }
        Ok(())
    }
}

/// Every instance's last report about one migration, as observed at `now`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetFact {
    /// When the reports were read.
    pub now: DateTime<Utc>,
    /// `[fleet] instance_ttl`.
    pub instance_ttl: Duration,
    /// Every instance that ever reported, live or gone.
    pub instances: Vec<InstanceReport>,
}

impl FleetFact {
    /// The instances that reported within `instance_ttl`: "the fleet".
    pub fn live(&self) -> impl Iterator<Item = &InstanceReport> {
        self.instances
            .iter()
            .filter(|i| i.live(self.now, self.instance_ttl))
    }

    /// Live instances whose mode fails `holds`: the ones that hold a step back.
    pub fn holding_back(&self, holds: impl Fn(Mode) -> bool) -> Vec<InstanceSummary> {
        self.live()
            .filter(|i| !holds(i.mode()))
            .map(|i| self.summary(i))
            .collect()
    }

    /// Since when every instance has applied modes for which `holds` is true, and the
    /// instance that was last to. Gone instances count up to their last report: one that
    /// died in a failing mode held the fleet back until then. `None` when a live instance
    /// fails `holds` now, or nothing ever reported.
    pub fn holds_since(
        &self,
        holds: impl Fn(Mode) -> bool,
    ) -> Option<(DateTime<Utc>, InstanceSummary)> {
        let mut latest: Option<(DateTime<Utc>, &InstanceReport)> = None;
        for i in &self.instances {
            let since = match i.holds_since(&holds) {
                Some(since) => since,
                None if i.live(self.now, self.instance_ttl) => return None,
                None => i.reported_at,
            };
            if latest.is_none_or(|(t, _)| since > t) {
                latest = Some((since, i));
            }
        }
        latest.map(|(t, i)| (t, self.summary(i)))
    }

    /// Every live instance applies the mode of `step`.
    pub fn converged(&self, step: Step) -> bool {
        let mode = Mode::at(step);
        self.live().all(|i| i.mode() == mode)
    }

    /// The summary of one instance, as of `now`.
    pub fn summary(&self, i: &InstanceReport) -> InstanceSummary {
        i.summary(self.now, self.instance_ttl)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use chrono::TimeZone;

    pub fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    pub fn counters(pairs: &[(Counter, u64)]) -> Counters {
        let mut c = Counters::default();
        for (k, n) in pairs {
            c[*k] = *n;
        }
        c
    }

    /// An instance that applied `steps` (step, since in seconds), last reported at
    /// `reported` seconds.
    pub fn instance(id: &str, steps: &[(Step, i64)], reported: i64) -> InstanceReport {
        let periods: Vec<Period> = steps
            .iter()
            .map(|(step, since)| Period {
                step: *step,
                since: t(*since),
                counters: Counters::default(),
            })
            .collect();
        let last = periods.last().expect("a step");
        InstanceReport {
            migration_id: "users-full-name".into(),
            identity: Identity {
                id: id.into(),
                host: format!("host-{id}"),
                process: "app[1]".into(),
                app_version: "1.0.0".into(),
            },
            step: last.step,
            since: last.since,
            pinned: false,
            stale: false,
            seen_step: Some(last.step),
            seen_version: Some(1),
            started_at: periods[0].since,
            reported_at: t(reported),
            periods,
            buckets: Vec::new(),
            mismatches: Vec::new(),
        }
    }

    pub fn fleet(now: i64, instances: Vec<InstanceReport>) -> FleetFact {
        FleetFact {
            now: t(now),
            instance_ttl: Duration::from_secs(120),
            instances,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn counters_serialize_their_non_zero_slots_by_name() {
        let c = counters(&[(Counter::Compared, 7), (Counter::Mismatches, 1)]);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"compared":7,"mismatches":1}"#);
        let back: Counters =
            serde_json::from_str(r#"{"compared":7,"mismatches":1,"from_the_future":3}"#).unwrap();
        assert_eq!(back, c);
        assert_eq!(c.mismatch_rate(), Some(1.0 / 7.0));
        assert_eq!(Counters::default().mismatch_rate(), None);
    }

    #[test]
    fn holds_since_walks_back_over_periods_of_the_same_kind() {
        // 2 at 0s, 3 at 100s, 4 at 200s: it writes new since 100s.
        let i = instance(
            "a",
            &[
                (Step::CrossCheck, 0),
                (Step::DoubleWrite, 100),
                (Step::Sync, 200),
            ],
            300,
        );
        assert_eq!(i.holds_since(|m| m.write_new), Some(t(100)));
        assert_eq!(i.holds_since(|m| !m.write_old), None);
    }

    #[test]
    fn the_fleet_applied_a_mode_when_its_last_instance_did() {
        let a = instance("a", &[(Step::CrossCheck, 0), (Step::DoubleWrite, 100)], 500);
        let b = instance("b", &[(Step::CrossCheck, 0), (Step::DoubleWrite, 130)], 500);
        let f = fleet(510, vec![a.clone(), b.clone()]);
        let (since, who) = f.holds_since(|m| m.write_new).unwrap();
        assert_eq!((since, who.id.as_str()), (t(130), "b"));
        assert!(f.holding_back(|m| m.write_new).is_empty());

        // An instance still writing old only holds it back, and is named.
        let c = instance("c", &[(Step::CrossCheck, 0)], 505);
        let f = fleet(510, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(f.holds_since(|m| m.write_new), None);
        let held = f.holding_back(|m| m.write_new);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].id, "c");
        assert!(
            held[0].to_string().contains(
                "c (app[1] on host-c, version 1.0.0) at 2 cross-check: writes old, reads old"
            ),
            "{}",
            held[0]
        );

        // Once it is gone, it held the fleet back until its last report.
        let f = fleet(505 + 121, vec![a, b, c]);
        assert_eq!(f.holds_since(|m| m.write_new).unwrap().0, t(505));
        assert!(f.holding_back(|m| m.write_new).is_empty());
    }

    #[test]
    fn counts_since_a_time_use_buckets_for_a_period_that_began_before_it() {
        let mut i = instance(
            "a",
            &[
                (Step::Sync, 0),
                (Step::DoubleReadOld, 100),
                (Step::DoubleReadNew, 400),
            ],
            500,
        );
        i.periods[1].counters = counters(&[(Counter::Compared, 30)]);
        i.periods[2].counters = counters(&[(Counter::Compared, 5)]);
        i.buckets = vec![
            Bucket {
                start: t(100),
                end: t(120),
                step: Step::DoubleReadOld,
                counters: counters(&[(Counter::Compared, 10)]),
            },
            Bucket {
                start: t(120),
                end: t(180),
                step: Step::DoubleReadOld,
                counters: counters(&[(Counter::Compared, 20)]),
            },
        ];
        let in_5a = |s: Step| s == Step::DoubleReadOld;
        assert_eq!(i.counted_since(t(100), in_5a)[Counter::Compared], 30);
        assert_eq!(i.counted_since(t(110), in_5a)[Counter::Compared], 20);
        assert_eq!(i.counted_since(t(0), |_| true)[Counter::Compared], 35);
        assert_eq!(i.current_counters()[Counter::Compared], 5);
    }

    #[test]
    fn converged_means_every_live_instance_applies_the_steps_mode() {
        let a = instance("a", &[(Step::StopReadingOld, 0)], 100);
        let b = instance("b", &[(Step::PrepareOldStop, 0)], 100);
        // 6 and 7 share a mode.
        assert!(fleet(110, vec![a.clone(), b.clone()]).converged(Step::PrepareOldStop));
        let c = instance("c", &[(Step::DoubleReadNew, 0)], 100);
        assert!(!fleet(110, vec![a.clone(), c.clone()]).converged(Step::PrepareOldStop));
        // Gone instances don't count.
        let a_later = instance("a", &[(Step::StopReadingOld, 0)], 390);
        assert!(fleet(400, vec![a_later, c]).converged(Step::PrepareOldStop));
    }
}
