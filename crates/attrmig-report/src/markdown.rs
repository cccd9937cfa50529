//! The report as GitHub-flavoured Markdown, for a pull-request comment: the same content
//! as the page, in tables; the charts become a one-line sparkline and the tables they
//! summarise. A comment is capped at 65,536 characters, so the long lists are cut to
//! their newest rows, saying so.

use std::fmt::Write;

use attrmig_core::facts::SyncStatus;
use attrmig_core::fleet::Counter;
use attrmig_engine::{RungState, Show};
use attrmig_store::cross_checks::{CheckStatus, CrossCheckRun};
use chrono::{DateTime, Utc};

use crate::escape::md as esc;
use crate::fleet::latest_mismatches;
use crate::model::{MigrationReport, Report};
use crate::words::{
    ago, blockers, count, entry_move, entry_what, fleet_standing, instance_state, percent,
    run_label, run_outcome, serde_name, standing, time, verification,
};

/// Rows kept in each long table.
const ROWS: usize = 20;

/// The whole comment.
pub fn render(report: &Report) -> String {
    let mut s = format!(
        "# attrmig report: {}\n\nEnvironment **{}** · generated {} · {} migration(s)\n\n",
        esc(&report.project),
        esc(&report.env),
        time(&report.generated_at),
        report.migrations.len()
    );
    if report.migrations.is_empty() {
        s.push_str("No migrations: no plans and nothing recorded.\n");
        return s;
    }
    s.push_str("| Migration | Step | Next | Blocked by | Audit chain |\n|---|---|---|---|---|\n");
    for m in &report.migrations {
        let chain = if m.chain_intact() {
            format!("intact ({})", m.log.entries.len())
        } else {
            "**BROKEN**".into()
        };
        let next = m.status.next.map_or("-".into(), |n| n.to_string());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {chain} |",
            esc(m.id()),
            esc(&m.status.position.to_string()),
            esc(&next),
            esc(&blockers(m))
        );
    }
    for m in &report.migrations {
        s.push_str(&migration(m, report.generated_at));
    }
    s
}

fn migration(m: &MigrationReport, now: DateTime<Utc>) -> String {
    let mut s = format!("\n## {}: {}\n\n", esc(m.id()), esc(&standing(m)));
    if let Some(problem) = &m.status.problem {
        let _ = writeln!(s, "> **{}**\n", esc(problem));
    }
    if let Some(show) = &m.show {
        s.push_str(&overview(show));
    }
    s.push_str(&fleet(m));
    s.push_str(&cross_checks(&m.cross_checks, now));
    s.push_str(&sync(m));
    s.push_str(&issues(m));
    s.push_str(&audit_log(m));
    s
}

fn overview(show: &Show) -> String {
    let mut s = String::new();
    if !show.description.is_empty() {
        let _ = writeln!(s, "{}\n", esc(&show.description));
    }
    let owners = if show.owners.is_empty() {
        String::new()
    } else {
        format!(" · owners: {}", esc(&show.owners.join(", ")))
    };
    let _ = writeln!(
        s,
        "{} → {}{owners} · the application {}\n",
        esc(&show.old),
        esc(&show.new),
        esc(&show.mode.summary)
    );
    s.push_str("### Steps\n\n| | # | Step | Reached |\n|---|---|---|---|\n");
    for rung in &show.ladder {
        let sym = match rung.state {
            RungState::Reached => "✓",
            RungState::Current => "●",
            RungState::Next => "→",
            RungState::Later => "·",
        };
        let when = match (&rung.reached_at, &rung.by) {
            (Some(t), Some(by)) => format!("{} by {}", time(t), esc(by)),
            (Some(t), None) => time(t),
            _ => String::new(),
        };
        let step = if rung.state == RungState::Current {
            format!("**{}**", rung.step.id())
        } else {
            rung.step.id().to_owned()
        };
        let _ = writeln!(s, "| {sym} | {} | {step} | {when} |", rung.number);
    }
    match show.next {
        Some(next) => {
            let passing = show.guards.iter().filter(|g| g.passed()).count();
            let _ = writeln!(
                s,
                "\n### Guards of {next} ({passing} of {} pass)\n",
                show.guards.len()
            );
            for g in &show.guards {
                match &g.verdict {
                    Ok(p) => {
                        let _ = writeln!(s, "- ✓ **{}**: {}", esc(g.name), esc(&p.detail));
                    }
                    Err(r) => {
                        let _ = writeln!(s, "- ✗ **{}**: {}", esc(g.name), esc(&r.to_string()));
                    }
                }
            }
        }
        None => s.push_str("\nNo next step.\n"),
    }
    if !show.approvals.is_empty() {
        let who: Vec<String> = show
            .approvals
            .iter()
            .map(|a| format!("{} ({})", esc(&a.approver), time(&a.at)))
            .collect();
        let _ = writeln!(s, "\nApprovals of 9 stop-writing-old: {}", who.join(", "));
    }
    s
}

/// Mismatches of finished runs, oldest first, as `▁` (clean) to `█` (the most), on a log
/// scale: mismatches fall by orders of magnitude as a migration converges, and a linear
/// scale would flatten everything after the first run.
fn sparkline(runs: &[&CrossCheckRun]) -> String {
    bars(runs.iter().map(|r| r.counts.mismatches()))
}

/// Values as `▁` (zero) to `█` (the most), on a log scale.
fn bars(values: impl Iterator<Item = u64> + Clone) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let most = values.clone().max().unwrap_or(0);
    values
        .map(|v| match v {
            0 => BARS[0],
            n if n >= most => BARS[7],
            // 1 <= n < most, so most >= 2 and the ratio is in [0, 1).
            n => BARS[1 + (6.0 * (n as f64).ln() / (most as f64).ln()) as usize],
        })
        .collect()
}

/// The fleet: converged or who lags, the instances, the double read over time.
fn fleet(m: &MigrationReport) -> String {
    let mut s = String::from("\n### Fleet\n\n");
    let Some(f) = &m.fleet else {
        let trusted = m.show.as_ref().map_or(&[][..], |s| &s.fleet.on_trust[..]);
        if trusted.is_empty() {
            return String::new();
        }
        s.push_str("Not observed (`[fleet] observed = false`): no instance reports, and these are taken on trust:\n\n");
        for t in trusted {
            let _ = writeln!(s, "- {}", esc(t));
        }
        return s;
    };
    let (good, standing) = fleet_standing(&f.fleet);
    let _ = writeln!(s, "{} {}.", if good { "✓" } else { "✗" }, esc(&standing));
    if !f.fleet.instances.is_empty() {
        s.push_str("\n| Instance | Host | Version | Applies | Since | Last seen | State | Compared | Persistent | Transient |\n|---|---|---|---|---|---|---|---:|---:|---:|\n");
        for i in f.fleet.instances.iter().take(ROWS) {
            let c = &i.counters;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                esc(&i.summary.id),
                esc(&i.summary.host),
                esc(&i.summary.app_version),
                i.summary.step,
                time(&i.since),
                time(&i.summary.last_seen),
                instance_state(i),
                count(c[Counter::Compared]),
                count(c[Counter::Mismatches]),
                count(c[Counter::TransientMismatches])
            );
        }
        if f.fleet.instances.len() > ROWS {
            let _ = writeln!(s, "\nand {} more.", f.fleet.instances.len() - ROWS);
        }
    }
    let points = &f.double_read;
    if points.is_empty() {
        s.push_str("\nNo read has been compared yet.\n");
        return s;
    }
    let (compared, persistent, transient) = points.iter().fold((0, 0, 0), |t, p| {
        (t.0 + p.compared, t.1 + p.mismatches, t.2 + p.transient)
    });
    let worst = points.iter().map(|p| p.rate()).fold(0.0, f64::max);
    let _ = writeln!(
        s,
        "\nThe double read: `{}` persistent-mismatch rate per time bucket, oldest first (worst {}); {} compared read(s), {} persistent ({}), {} transient.",
        // In parts per million: a small rate stays apart from zero on the log scale.
        bars(points.iter().map(|p| (p.rate() * 1e6).round() as u64)),
        percent(worst),
        count(compared),
        count(persistent),
        percent(persistent as f64 / compared.max(1) as f64),
        count(transient)
    );
    let latest = latest_mismatches(f);
    if !latest.is_empty() {
        s.push_str("\n| Key | Field | Old | New | Reported by | When | At step |\n|---|---|---|---|---|---|---|\n");
        for (id, m) in latest {
            for d in &m.fields {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    esc(&m.key),
                    esc(&d.field),
                    esc(&d.old),
                    esc(&d.new),
                    esc(id),
                    time(&m.at),
                    m.step
                );
            }
        }
    }
    s
}

fn cross_checks(runs: &[CrossCheckRun], now: DateTime<Utc>) -> String {
    let mut s = String::from("\n### Cross-check mismatches\n\n");
    let finished: Vec<&CrossCheckRun> = runs
        .iter()
        .filter(|r| r.status == CheckStatus::Finished)
        .collect();
    let Some(last) = finished.last() else {
        s.push_str("No cross-check has run yet.\n");
        return s;
    };
    let _ = writeln!(
        s,
        "`{}` over {} finished run(s), oldest first. Last: {}, {}: {}.\n",
        sparkline(&finished),
        finished.len(),
        esc(&run_label(last)),
        ago(&now, &last.finished_at.unwrap_or(last.started_at)),
        esc(&run_outcome(last))
    );
    s.push_str("| Run | Started | At step | By | Outcome |\n|---|---|---|---|---|\n");
    for r in runs.iter().rev().take(ROWS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            esc(&run_label(r)),
            time(&r.started_at),
            r.step,
            esc(&r.actor),
            esc(&run_outcome(r))
        );
    }
    if runs.len() > ROWS {
        let _ = writeln!(
            s,
            "\n{} earlier run(s) in the HTML report.",
            runs.len() - ROWS
        );
    }
    s
}

fn sync(m: &MigrationReport) -> String {
    let mut s = String::from("\n### Sync\n\n");
    if m.sync_runs.is_empty() {
        s.push_str("No sync pass yet.\n");
        return s;
    }
    let completed = m
        .sync_runs
        .iter()
        .filter(|r| r.status == SyncStatus::Completed)
        .count();
    let _ = writeln!(
        s,
        "{} pass(es), {completed} completed.\n",
        m.sync_runs.len()
    );
    s.push_str("| Pass | Status | Started | Finished | Scanned | Written | Rejected | Checkpoint |\n|---:|---|---|---|---:|---:|---:|---|\n");
    for r in m.sync_runs.iter().rev().take(ROWS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.pass,
            serde_name(&r.status),
            time(&r.started_at),
            r.finished_at.map_or("-".into(), |t| time(&t)),
            count(r.rows_scanned),
            count(r.rows_written),
            count(r.rows_rejected),
            esc(r.checkpoint.as_deref().unwrap_or("-"))
        );
    }
    s
}

fn issues(m: &MigrationReport) -> String {
    let mut s = String::from("\n### Open data issues\n\n");
    let resolved = if m.resolved_issues > 0 {
        format!(" ({} resolved)", m.resolved_issues)
    } else {
        String::new()
    };
    if m.open_issues.is_empty() {
        let _ = writeln!(s, "None{resolved}.");
        return s;
    }
    let _ = writeln!(
        s,
        "**{}** row(s) the new storage rejected{resolved}; `attrmig data-issues {} --retry` re-drives them.\n",
        m.open_issues.len(),
        esc(m.id())
    );
    s.push_str("| Key | Error | Attempts | Last seen |\n|---|---|---:|---|\n");
    for i in m.open_issues.iter().take(ROWS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            esc(&i.key),
            esc(&i.error),
            i.attempts,
            time(&i.last_seen_at)
        );
    }
    if m.open_issues.len() > ROWS {
        let _ = writeln!(s, "\nand {} more.", m.open_issues.len() - ROWS);
    }
    s
}

fn audit_log(m: &MigrationReport) -> String {
    let mut s = String::from("\n### Audit log\n\n");
    let mark = if m.chain_intact() { "✓" } else { "✗" };
    let _ = writeln!(s, "{mark} **{}**", esc(&verification(&m.log)));
    if m.log.entries.is_empty() {
        return s;
    }
    let shown = m.log.entries.len().min(ROWS);
    let _ = writeln!(
        s,
        "\n<details><summary>{} newest of {} entries</summary>\n",
        shown,
        m.log.entries.len()
    );
    s.push_str("| # | When | What | From → To | Actor | Note |\n|---:|---|---|---|---|---|\n");
    for e in &m.log.entries[m.log.entries.len() - shown..] {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            e.version,
            time(&e.at),
            esc(&entry_what(e)),
            esc(&entry_move(e)),
            esc(&e.actor),
            esc(e.note.as_deref().unwrap_or(""))
        );
    }
    s.push_str("\n</details>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_comment_reads_like_the_page() {
        insta::assert_snapshot!(render(&fixture::report()));
    }

    #[test]
    fn free_text_can_not_break_out_of_its_cell() {
        let text = render(&fixture::report());
        assert!(!text.contains("<script>"), "markup is neutralised");
        assert!(
            text.contains(r"shipped in &lt;script&gt;alert('x')&lt;/script&gt; \| release \*42\*"),
            "{text}"
        );
    }

    #[test]
    fn the_sparkline_spans_clean_to_worst() {
        let report = fixture::report();
        let finished: Vec<&CrossCheckRun> = report.migrations[0]
            .cross_checks
            .iter()
            .filter(|r| r.status == CheckStatus::Finished)
            .collect();
        assert_eq!(sparkline(&finished), "█▃▁▁");
    }
}
