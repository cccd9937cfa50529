//! The report's charts as inline SVG, generated here: no script, no library, no network.
//!
//! Horizontal positions are percentages and vertical ones pixels, so a chart fills any
//! width, from a phone to a desktop, while its text keeps a readable size (a scaled
//! `viewBox` would shrink the labels to nothing on a phone). Colours come from the page's
//! CSS classes, so the charts follow its light or dark scheme. Each mark carries a
//! `<title>`, which browsers show on hover and screen readers read.

use std::fmt::Write;

use attrmig_core::{EntryKind, Position, Step};
use attrmig_engine::{EntryView, LogView};
use attrmig_store::cross_checks::{CheckStatus, CrossCheckRun};
use attrmig_store::sync_runs::SyncRun;
use chrono::{DateTime, Duration, Utc};

use crate::escape::html as esc;
use crate::model::RatePoint;
use crate::words::{
    count, entry_move, entry_what, percent, run_label, run_outcome, serde_name, time,
};

/// A time scale onto 2%..98% of the width.
struct TimeAxis {
    t0: DateTime<Utc>,
    t1: DateTime<Utc>,
}

impl TimeAxis {
    fn new(t0: DateTime<Utc>, t1: DateTime<Utc>) -> TimeAxis {
        TimeAxis {
            t0,
            t1: if t1 > t0 { t1 } else { t0 + Duration::hours(1) },
        }
    }

    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.t1 - self.t0).num_milliseconds() as f64;
        let at = (t - self.t0).num_milliseconds() as f64;
        2.0 + 96.0 * (at / span).clamp(0.0, 1.0)
    }

    /// Three labels under the plot (start, middle, end), the outer ones flush with its
    /// edges: more would collide on a phone.
    fn ticks(&self, y: f64) -> String {
        let span = self.t1 - self.t0;
        let format = if span > Duration::days(2) {
            "%b %d"
        } else if span > Duration::hours(2) {
            "%b %d %H:%M"
        } else {
            "%H:%M:%S"
        };
        let mut out = String::new();
        for (i, anchor, x) in [(0, "start", 0.0), (1, "middle", 50.0), (2, "end", 100.0)] {
            let t = self.t0 + span * i / 2;
            let _ = write!(
                out,
                r#"<text class="tick" x="{}" y="{y}" text-anchor="{anchor}">{}</text>"#,
                pct(x),
                t.format(format)
            );
        }
        out
    }
}

fn pct(x: f64) -> String {
    format!("{x:.2}%")
}

fn open(class: &str, height: f64, label: &str) -> String {
    format!(
        r#"<svg class="chart {class}" xmlns="http://www.w3.org/2000/svg" width="100%" height="{height}" role="img" aria-label="{label}"><title>{label}</title>"#,
        label = esc(label)
    )
}

/// A chart with nothing to draw yet: the same element, saying so.
fn empty(class: &str, label: &str, message: &str) -> String {
    format!(
        r#"{}<text class="empty" x="50%" y="24" text-anchor="middle">{}</text></svg>"#,
        open(class, 40.0, label),
        esc(message)
    )
}

fn line(x1: f64, y1: f64, x2: f64, y2: f64, class: &str) -> String {
    format!(
        r#"<line class="{class}" x1="{}" y1="{y1:.1}" x2="{}" y2="{y2:.1}"/>"#,
        pct(x1),
        pct(x2)
    )
}

fn mark(x: f64, y: f64, r: f64, class: &str, title: &str) -> String {
    format!(
        r#"<circle class="{class}" cx="{}" cy="{y:.1}" r="{r}"><title>{}</title></circle>"#,
        pct(x),
        esc(title)
    )
}

/// Where an entry leaves the migration (approvals and DDL don't move it).
fn after(entry: &EntryView, before: Position) -> Position {
    match entry.kind {
        EntryKind::Advance | EntryKind::Rollback => Position::At(entry.to),
        EntryKind::Abandon => Position::Abandoned { at: entry.to },
        EntryKind::Approve | EntryKind::Ddl | EntryKind::Acknowledge => before,
    }
}

/// The migration's steps over time: a staircase through its audit entries, one row per
/// step, one mark per entry, continued to `now`.
pub fn timeline(log: &LogView, now: DateTime<Utc>) -> String {
    let label = format!(
        "Timeline of {}: its step over time, one mark per audit entry",
        log.id
    );
    let Some(first) = log.entries.first() else {
        return empty("timeline", &label, "no transitions recorded yet");
    };
    const TOP: f64 = 8.0;
    const ROW: f64 = 19.0;
    let rows = Step::ALL.len() as f64;
    let bottom = TOP + rows * ROW;
    let y = |step: Step| TOP + (rows - 1.0 - step.index() as f64) * ROW + ROW / 2.0;
    let axis = TimeAxis::new(first.at, now);
    let mut svg = open("timeline", bottom + 22.0, &label);
    for step in Step::ALL {
        svg.push_str(&line(0.0, y(step), 100.0, y(step), "grid"));
        let _ = write!(
            svg,
            r#"<text class="row" x="4" y="{:.1}">{} {}</text>"#,
            y(step) - 3.0,
            step.number(),
            step.id()
        );
    }
    let mut position = Position::At(Step::Planned);
    let mut since = first.at;
    let mut marks = String::new();
    for entry in &log.entries {
        let next = after(entry, position);
        if next != position {
            let x0 = axis.x(since);
            let x1 = axis.x(entry.at);
            svg.push_str(&line(
                x0,
                y(position.step()),
                x1,
                y(position.step()),
                "path",
            ));
            svg.push_str(&line(x1, y(position.step()), x1, y(next.step()), "path"));
            since = entry.at;
        }
        position = next;
        let mut title = format!(
            "{} {} {} by {} at {}",
            entry.version,
            entry_what(entry),
            entry_move(entry),
            entry.actor,
            time(&entry.at)
        );
        if let Some(note) = &entry.note {
            let _ = write!(title, ": {note}");
        }
        marks.push_str(&mark(
            axis.x(entry.at),
            y(position.step()),
            4.5,
            &format!("mark {}", entry.kind.as_str()),
            &title,
        ));
    }
    let tail = if matches!(position, Position::Abandoned { .. }) {
        "path abandoned"
    } else {
        "path now"
    };
    svg.push_str(&line(
        axis.x(since),
        y(position.step()),
        axis.x(now),
        y(position.step()),
        tail,
    ));
    svg.push_str(&marks);
    svg.push_str(&axis.ticks(bottom + 16.0));
    svg.push_str("</svg>");
    svg
}

/// The smallest of 2, 4, 10, 20, 40, 100, ... at or above `n`: a y-axis top whose half
/// is a round number too.
fn nice_top(n: u64) -> u64 {
    let mut base = 1u64;
    loop {
        for m in [2, 4, 10] {
            if base.saturating_mul(m) >= n {
                return base.saturating_mul(m);
            }
        }
        base = base.saturating_mul(10);
    }
}

/// Where a value chart's plot begins, and how tall it is.
const VALUE_TOP: f64 = 14.0;
const VALUE_PLOT: f64 = 110.0;

/// A value chart's horizontal grid: a line and its label at each `(y, label)`.
fn value_grid(ticks: impl IntoIterator<Item = (f64, String)>) -> String {
    let mut out = String::new();
    for (y, label) in ticks {
        out.push_str(&line(0.0, y, 100.0, y, "grid"));
        let _ = write!(
            out,
            r#"<text class="row" x="4" y="{:.1}">{}</text>"#,
            y - 3.0,
            esc(&label)
        );
    }
    out
}

/// Cross-check mismatches over time: one mark per finished run (hollow for a sample),
/// joined by a line; failed and interrupted runs as grey marks on the axis.
pub fn mismatches(runs: &[CrossCheckRun], now: DateTime<Utc>) -> String {
    let label = "Cross-check mismatches over time, one mark per run";
    let Some(first) = runs.first() else {
        return empty("mismatches", label, "no cross-check has run yet");
    };
    let bottom = VALUE_TOP + VALUE_PLOT;
    let finished: Vec<&CrossCheckRun> = runs
        .iter()
        .filter(|r| r.status == CheckStatus::Finished)
        .collect();
    let top = nice_top(
        finished
            .iter()
            .map(|r| r.counts.mismatches())
            .max()
            .unwrap_or(0),
    );
    let y = |v: u64| bottom - VALUE_PLOT * (v as f64 / top as f64);
    let axis = TimeAxis::new(first.started_at, now);
    let mut svg = open("mismatches", bottom + 24.0, label);
    svg.push_str(&value_grid([0, top / 2, top].map(|v| (y(v), count(v)))));
    let at = |r: &CrossCheckRun| r.finished_at.unwrap_or(r.started_at);
    for pair in finished.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        svg.push_str(&line(
            axis.x(at(a)),
            y(a.counts.mismatches()),
            axis.x(at(b)),
            y(b.counts.mismatches()),
            "path",
        ));
    }
    for run in runs {
        let title = format!(
            "{}, {}: {}",
            run_label(run),
            time(&at(run)),
            run_outcome(run)
        );
        let (y, class) = match run.status {
            CheckStatus::Finished => {
                let clean = if run.counts.clean() { "clean" } else { "dirty" };
                (
                    y(run.counts.mismatches()),
                    format!("mark {clean}{}", if run.full { "" } else { " sample" }),
                )
            }
            other => (bottom, format!("mark other {}", serde_name(&other))),
        };
        svg.push_str(&mark(axis.x(at(run)), y, 4.0, &class, &title));
    }
    svg.push_str(&axis.ticks(bottom + 18.0));
    svg.push_str("</svg>");
    svg
}

/// The double read's persistent-mismatch rate over time, the whole fleet's: one mark per
/// time bucket in which reads were compared (green: none disagreed), joined by a line,
/// and `[fleet] max_mismatch_rate` dashed when it is above zero. The axis tops at 1% or
/// the worst bucket, rounded up, so that one mismatch in a thousand reads still shows.
pub fn mismatch_rate(points: &[RatePoint], max_rate: Option<f64>, now: DateTime<Utc>) -> String {
    let label = "The double read's persistent-mismatch rate over time, one mark per time bucket";
    let Some(first) = points.first() else {
        return empty("rate", label, "no read has been compared yet");
    };
    let bottom = VALUE_TOP + VALUE_PLOT;
    // In basis points (0.01%), so that nice_top's round numbers are round percents.
    let bp = |rate: f64| (rate * 10_000.0).ceil() as u64;
    let worst = points.iter().map(|p| bp(p.rate())).max().unwrap_or(0);
    let top = nice_top(worst.max(bp(max_rate.unwrap_or(0.0))).max(100));
    let y = |rate: f64| bottom - VALUE_PLOT * (rate * 10_000.0 / top as f64).min(1.0);
    let axis = TimeAxis::new(first.start, now);
    let mut svg = open("rate", bottom + 24.0, label);
    let rates = [0, top / 2, top].map(|v| v as f64 / 10_000.0);
    svg.push_str(&value_grid(rates.map(|r| (y(r), percent(r)))));
    if let Some(max) = max_rate.filter(|m| *m > 0.0) {
        svg.push_str(&line(0.0, y(max), 100.0, y(max), "limit"));
    }
    // The middle of the bucket's time so far: the current bucket ends in the future.
    let mid = |p: &RatePoint| p.start + (p.end.min(now).max(p.start) - p.start) / 2;
    for pair in points.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        svg.push_str(&line(
            axis.x(mid(a)),
            y(a.rate()),
            axis.x(mid(b)),
            y(b.rate()),
            "path",
        ));
    }
    for p in points {
        let steps: Vec<String> = p.steps.iter().map(|s| s.to_string()).collect();
        let title = format!(
            "{} to {}, {}: {} compared, {} persistent ({}), {} transient",
            time(&p.start),
            p.end.format("%H:%M UTC"),
            steps.join(", "),
            count(p.compared),
            count(p.mismatches),
            percent(p.rate()),
            count(p.transient)
        );
        let class = if p.mismatches == 0 {
            "mark clean"
        } else {
            "mark dirty"
        };
        svg.push_str(&mark(axis.x(mid(p)), y(p.rate()), 4.0, class, &title));
    }
    svg.push_str(&axis.ticks(bottom + 18.0));
    svg.push_str("</svg>");
    svg
}

/// How many passes the sync chart shows (the newest).
const SYNC_PASSES_SHOWN: usize = 12;

/// Sync progress: one bar per pass (newest last), as long as the keys it scanned, filled
/// by the rows it wrote and, in red, the rows the new storage rejected.
pub fn sync_progress(runs: &[SyncRun]) -> String {
    let label = "Sync passes: keys scanned, rows written and rows rejected";
    if runs.is_empty() {
        return empty("sync", label, "no sync pass yet");
    }
    const ROW: f64 = 40.0;
    let shown = &runs[runs.len().saturating_sub(SYNC_PASSES_SHOWN)..];
    let widest = shown
        .iter()
        .map(|r| r.rows_scanned)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let w = |n: i64| 100.0 * (n.max(0) as f64 / widest);
    let mut svg = open("sync", shown.len() as f64 * ROW + 4.0, label);
    for (i, run) in shown.iter().enumerate() {
        let top = i as f64 * ROW;
        let status = serde_name(&run.status);
        let title = format!(
            "pass {}: {status}, {} scanned, {} written, {} rejected, checkpoint {}",
            run.pass,
            count(run.rows_scanned),
            count(run.rows_written),
            count(run.rows_rejected),
            run.checkpoint.as_deref().unwrap_or("none")
        );
        let _ = write!(
            svg,
            r#"<g><title>{}</title><text class="row" x="0" y="{:.1}">pass {} {status}</text><text class="row" x="100%" y="{:.1}" text-anchor="end">{} of {} written, {} rejected</text>"#,
            esc(&title),
            top + 13.0,
            run.pass,
            top + 13.0,
            count(run.rows_written),
            count(run.rows_scanned),
            count(run.rows_rejected)
        );
        let bar = |x: f64, width: f64, class: &str| {
            format!(
                r#"<rect class="{class}" x="{}" y="{:.1}" width="{}" height="12" rx="2"/>"#,
                pct(x),
                top + 19.0,
                pct(width)
            )
        };
        svg.push_str(&bar(0.0, 100.0, "track"));
        svg.push_str(&bar(0.0, w(run.rows_scanned), &format!("scanned {status}")));
        svg.push_str(&bar(0.0, w(run.rows_written), "written"));
        svg.push_str(&bar(w(run.rows_written), w(run.rows_rejected), "rejected"));
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_timeline_climbs_one_step_per_advance() {
        let report = fixture::report();
        let svg = timeline(&report.migrations[0].log, report.generated_at);
        assert_eq!(svg.matches(r#"class="mark advance""#).count(), 5);
        // Per advance a horizontal and a vertical segment, then the dashed run to now.
        assert_eq!(svg.matches(r#"class="path""#).count(), 10);
        assert_eq!(svg.matches(r#"class="path now""#).count(), 1);
        assert_eq!(svg.matches(r#"class="grid""#).count(), Step::ALL.len());
        assert!(svg.contains("<title>3 advance 2 cross-check → 3 double-write by alice@example.com at 2026-11-04 09:00 UTC: shipped in &lt;script&gt;"));
        let empty = timeline(&report.migrations[1].log, report.generated_at);
        assert!(
            empty.contains("no transitions recorded yet")
                && empty.starts_with(r#"<svg class="chart timeline""#)
        );
    }

    #[test]
    fn mismatch_marks_tell_clean_dirty_sample_and_failed_apart() {
        let report = fixture::report();
        let svg = mismatches(&report.migrations[0].cross_checks, report.generated_at);
        assert_eq!(svg.matches(r#"class="mark dirty""#).count(), 2);
        assert_eq!(svg.matches(r#"class="mark clean sample""#).count(), 1);
        assert_eq!(svg.matches(r#"class="mark clean""#).count(), 1);
        assert_eq!(svg.matches(r#"class="mark other failed""#).count(), 1);
        assert!(
            svg.contains(">10,000</text>"),
            "the top of the axis is the worst run, rounded: {svg}"
        );
    }

    #[test]
    fn sync_bars_are_relative_to_the_widest_pass() {
        let report = fixture::report();
        let svg = sync_progress(&report.migrations[0].sync_runs);
        assert_eq!(svg.matches("<g>").count(), 2);
        assert!(
            svg.contains(r#"class="scanned interrupted" x="0.00%" y="19.0" width="40.00%""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="rejected" x="99.98%" y="59.0" width="0.02%""#),
            "{svg}"
        );
    }

    #[test]
    fn the_rate_chart_marks_each_bucket_and_the_limit() {
        let report = fixture::report();
        let fleet = report.migrations[0].fleet.as_ref().unwrap();
        let svg = mismatch_rate(&fleet.double_read, Some(0.01), report.generated_at);
        assert_eq!(svg.matches(r#"class="mark dirty""#).count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"class="mark clean""#).count(), 3, "{svg}");
        assert_eq!(svg.matches(r#"class="path""#).count(), 4);
        assert_eq!(svg.matches(r#"class="limit""#).count(), 1);
        // The worst bucket, 3 of 90 (3.3%), rounds the axis up to 4%.
        assert!(
            svg.contains(">4.0%</text>") && svg.contains(">2.0%</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(": 90 compared, 3 persistent (3.3%), 1 transient</title>"),
            "{svg}"
        );
        // No limit drawn at 0, and the axis still tops at 1% when nothing disagreed.
        let clean: Vec<RatePoint> = fleet
            .double_read
            .iter()
            .filter(|p| p.mismatches == 0)
            .cloned()
            .collect();
        let svg = mismatch_rate(&clean, Some(0.0), report.generated_at);
        assert!(
            !svg.contains("limit") && svg.contains(">1.0%</text>"),
            "{svg}"
        );
        let none = mismatch_rate(&[], None, report.generated_at);
        assert!(none.contains("no read has been compared yet"));
    }

    #[test]
    fn y_tops_are_round_and_halve_roundly() {
        assert_eq!(
            [0, 1, 2, 3, 5, 11, 40, 41, 999].map(nice_top),
            [2, 2, 2, 4, 10, 20, 40, 100, 1000]
        );
    }

    #[test]
    fn times_map_onto_the_width() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let axis = TimeAxis::new(t0, t0 + Duration::hours(10));
        assert_eq!(axis.x(t0), 2.0);
        assert_eq!(axis.x(t0 + Duration::hours(5)), 50.0);
        assert_eq!(axis.x(t0 + Duration::hours(20)), 98.0, "clamped");
        let flat = TimeAxis::new(t0, t0);
        assert_eq!(flat.x(t0), 2.0, "an empty span is widened, not divided by");
    }
}
