//! The double read over time, from the instances' reports: their time buckets summed
//! across the fleet, so that a reviewer sees when the reads disagreed and how often,
//! live instances and gone ones alike (a gone instance's reads counted while it ran).

use std::collections::BTreeMap;

use attrmig_core::fleet::{Counter, InstanceReport, MismatchSample};
use chrono::{DateTime, Utc};

use crate::model::{FleetReport, RatePoint};

/// How many persistent mismatches the report lists (the newest).
pub const SAMPLES_SHOWN: usize = 10;

/// The newest persistent mismatches the instances keep, with who reported each.
pub fn latest_mismatches(f: &FleetReport) -> Vec<(&str, &MismatchSample)> {
    let mut all: Vec<_> = f
        .fleet
        .instances
        .iter()
        .flat_map(|i| i.mismatches.iter().map(move |s| (i.summary.id.as_str(), s)))
        .collect();
    all.sort_by_key(|(_, s)| std::cmp::Reverse(s.at));
    all.truncate(SAMPLES_SHOWN);
    all
}

/// One point per bucket end (a minute or an hour boundary) in which any instance
/// compared reads, oldest first. Instances' buckets of one minute can start at
/// different moments (a bucket also starts when a step was applied); they meet at the
/// minute's end. Minute and hour buckets ending at one hour boundary stay apart.
pub fn double_read(reports: &[InstanceReport]) -> Vec<RatePoint> {
    let mut points: BTreeMap<(DateTime<Utc>, bool), RatePoint> = BTreeMap::new();
    for b in reports.iter().flat_map(|r| &r.buckets) {
        let compared = b.counters[Counter::Compared];
        if compared == 0 {
            continue;
        }
        let hour = b.end - b.start > chrono::Duration::seconds(60);
        let p = points.entry((b.end, hour)).or_insert_with(|| RatePoint {
            start: b.start,
            end: b.end,
            steps: Vec::new(),
            compared: 0,
            mismatches: 0,
            transient: 0,
        });
        p.start = p.start.min(b.start);
        if !p.steps.contains(&b.step) {
            p.steps.push(b.step);
            p.steps.sort();
        }
        p.compared += compared;
        p.mismatches += b.counters[Counter::Mismatches];
        p.transient += b.counters[Counter::TransientMismatches];
    }
    let mut out: Vec<RatePoint> = points.into_values().collect();
    out.sort_by_key(|p| (p.end, p.start));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use attrmig_core::Step;

    #[test]
    fn the_fleets_buckets_meet_at_their_ends() {
        let points = double_read(&fixture::fleet_reports());
        // web-1 and web-2 compared in the same buckets; web-3 (pinned at 2) never did.
        assert_eq!(points.len(), 5, "{points:#?}");
        let hour = &points[0];
        assert_eq!((hour.compared, hour.mismatches, hour.transient), (90, 3, 1));
        assert_eq!(hour.steps, [Step::DoubleReadOld]);
        assert!((hour.rate() - 3.0 / 90.0).abs() < 1e-12);
        // The minute that ends at the hour bucket's end stays apart from it.
        let minute = &points[1];
        assert_eq!((minute.end, minute.compared), (hour.end, 5));
        assert!(minute.end - minute.start == chrono::Duration::seconds(60));
        // Buckets of one minute that began at different moments meet at its end.
        assert_eq!((points[2].compared, points[2].mismatches), (45, 1));
        assert_eq!(
            points[2].end - points[2].start,
            chrono::Duration::seconds(60)
        );
        assert_eq!([points[3].compared, points[4].compared], [60, 10]);
        assert!(
            points
                .windows(2)
                .all(|w| (w[0].end, w[0].start) <= (w[1].end, w[1].start))
        );
    }

    #[test]
    fn the_latest_mismatches_come_first() {
        let report = fixture::report();
        let f = report.migrations[0].fleet.as_ref().unwrap();
        let keys: Vec<_> = latest_mismatches(f)
            .iter()
            .map(|(id, s)| (*id, s.key.as_str()))
            .collect();
        assert_eq!(keys, [("web-1", "7"), ("web-1", "42")]);
    }
}
