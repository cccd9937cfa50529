//! One migration's section of the page: where it stands, its ladder, the guards of its
//! next step, the charts, sync, data issues and the verified audit log.

use std::fmt::Write;

use attrmig_engine::{RungState, Show};
use attrmig_store::cross_checks::CheckStatus;
use chrono::{DateTime, Utc};

use super::{nowrap, table};
use crate::charts;
use crate::escape::html as esc;
use crate::model::MigrationReport;
use crate::words::{
    ago, count, entry_move, entry_what, run_label, run_outcome, serde_name, standing, state_class,
    time, verification,
};

/// How many mismatches of the latest run are listed.
const SAMPLE_SHOWN: usize = 10;
/// How many runs the cross-check table lists (the chart shows them all).
const RUNS_LISTED: usize = 10;
/// How many open data issues are listed.
const ISSUES_LISTED: usize = 50;

/// The `<section>` of one migration.
pub(super) fn section(m: &MigrationReport, now: DateTime<Utc>) -> String {
    let id = esc(m.id());
    let mut s = format!(
        "<section class=\"migration\" id=\"m-{id}\">\n<h2>{id} <span class=\"badge {}\">{}</span></h2>\n",
        state_class(m),
        esc(&standing(m))
    );
    if let Some(problem) = &m.status.problem {
        let _ = writeln!(s, r#"<p class="banner">{}</p>"#, esc(problem));
    }
    match &m.show {
        Some(show) => s.push_str(&overview(show)),
        None => s.push_str("<p class=\"muted\">Its ladder and guards need a valid plan.</p>\n"),
    }
    s.push_str("<h3>Timeline</h3>\n<figure>");
    s.push_str(&charts::timeline(&m.log, now));
    s.push_str(
        "</figure>\n<p class=\"legend\"><span><i class=\"dot accent\"></i>advance</span><span><i class=\"dot fail\"></i>rollback, abandon</span>\
         <span><i class=\"dot pass\"></i>approval</span><span><i class=\"dot warn\"></i>DDL applied</span><span>dashed: to now</span></p>\n",
    );
    s.push_str(&super::fleet::section(m, now));
    s.push_str(&cross_checks(m, now));
    s.push_str(&sync(m));
    s.push_str(&issues(m));
    s.push_str(&audit_log(m));
    s.push_str("</section>\n");
    s
}

/// Description, storage, mode, and the two lists side by side: ladder and guards.
fn overview(show: &Show) -> String {
    let mut s = String::new();
    if !show.description.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", esc(&show.description));
    }
    let owners = if show.owners.is_empty() {
        String::new()
    } else {
        format!(" · owners: {}", esc(&show.owners.join(", ")))
    };
    let _ = writeln!(
        s,
        "<p class=\"muted\"><code>{}</code> → <code>{}</code>{owners} · version {}<br>The application {}.</p>",
        esc(&show.old),
        esc(&show.new),
        show.version,
        esc(&show.mode.summary)
    );
    s.push_str("<div class=\"columns\">\n<div>\n<h3>Steps</h3>\n<ol class=\"ladder\">\n");
    for rung in &show.ladder {
        let (sym, class) = match rung.state {
            RungState::Reached => ("✓", "reached"),
            RungState::Current => ("●", "current"),
            RungState::Next => ("→", "next"),
            RungState::Later => ("·", "later"),
        };
        let when = match (&rung.reached_at, &rung.by) {
            (Some(t), Some(by)) => format!(
                "<span class=\"when\">{} by {}</span>",
                esc(&time(t)),
                esc(by)
            ),
            (Some(t), None) => format!("<span class=\"when\">{}</span>", esc(&time(t))),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "<li class=\"{class}\" title=\"{}\"><span class=\"sym\">{sym}</span><span>{}</span><span>{}</span>{when}</li>",
            esc(rung.meaning),
            rung.number,
            rung.step.id()
        );
    }
    s.push_str("</ol>\n</div>\n<div>\n");
    match show.next {
        Some(next) => {
            let passing = show.guards.iter().filter(|g| g.passed()).count();
            let _ = writeln!(
                s,
                "<h3>Guards of {} <span class=\"muted\">({passing} of {} pass)</span></h3>\n<ul class=\"guards\">",
                esc(&next.to_string()),
                show.guards.len()
            );
            for g in &show.guards {
                let (class, sym, why) = match &g.verdict {
                    Ok(p) => ("pass", "✓", p.detail.clone()),
                    Err(r) => ("fail", "✗", r.to_string()),
                };
                let _ = writeln!(
                    s,
                    "<li class=\"{class}\"><span class=\"sym\">{sym}</span> <strong>{}</strong>: {}</li>",
                    esc(g.name),
                    esc(&why)
                );
            }
            s.push_str("</ul>\n");
        }
        None => s.push_str("<h3>Guards</h3>\n<p class=\"muted\">No next step.</p>\n"),
    }
    if !show.approvals.is_empty() {
        let who: Vec<String> = show
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.approver, time(&a.at)))
            .collect();
        let _ = writeln!(
            s,
            "<p>Approvals of 9 stop-writing-old: {}</p>",
            esc(&who.join(", "))
        );
    }
    s.push_str("</div>\n</div>\n");
    s
}

fn cross_checks(m: &MigrationReport, now: DateTime<Utc>) -> String {
    let mut s = String::from("<h3>Cross-check mismatches</h3>\n<figure>");
    s.push_str(&charts::mismatches(&m.cross_checks, now));
    s.push_str(
        "</figure>\n<p class=\"legend\"><span><i class=\"dot pass\"></i>clean</span><span><i class=\"dot fail\"></i>mismatches</span>\
         <span><i class=\"dot hollow\"></i>sample</span><span><i class=\"dot other\"></i>failed or interrupted</span></p>\n",
    );
    let Some(last) = m
        .cross_checks
        .iter()
        .rev()
        .find(|r| r.status == CheckStatus::Finished)
    else {
        return s;
    };
    let _ = writeln!(
        s,
        "<p>Last finished run {}, {}: {}.</p>",
        esc(&run_label(last)),
        esc(&ago(&now, &last.finished_at.unwrap_or(last.started_at))),
        esc(&run_outcome(last))
    );
    if !last.mismatches.is_empty() {
        let rows: Vec<Vec<String>> = last
            .mismatches
            .iter()
            .take(SAMPLE_SHOWN)
            .map(|x| {
                let value = |v: &Option<String>| {
                    v.as_deref()
                        .map_or("<span class=\"muted\">NULL</span>".into(), |v| {
                            format!("<code>{}</code>", esc(v))
                        })
                };
                vec![
                    format!("<code>{}</code>", esc(&x.key)),
                    esc(x.class.as_str()),
                    value(&x.old),
                    value(&x.new),
                ]
            })
            .collect();
        s.push_str(&table(&["Key", "Class", "Old", "New"], &[], &rows));
    }
    let rows: Vec<Vec<String>> = m
        .cross_checks
        .iter()
        .rev()
        .take(RUNS_LISTED)
        .map(|r| {
            vec![
                esc(&run_label(r)),
                nowrap(&time(&r.started_at)),
                esc(&r.step.to_string()),
                esc(&r.actor),
                esc(&run_outcome(r)),
            ]
        })
        .collect();
    let _ = write!(
        s,
        "<details><summary>Latest {} run(s)</summary>\n{}</details>\n",
        rows.len(),
        table(&["Run", "Started", "At step", "By", "Outcome"], &[], &rows)
    );
    s
}

fn sync(m: &MigrationReport) -> String {
    let mut s = String::from("<h3>Sync</h3>\n<figure>");
    s.push_str(&charts::sync_progress(&m.sync_runs));
    s.push_str("</figure>\n");
    if m.sync_runs.is_empty() {
        return s;
    }
    let rows: Vec<Vec<String>> = m
        .sync_runs
        .iter()
        .rev()
        .map(|r| {
            vec![
                r.pass.to_string(),
                esc(&serde_name(&r.status)),
                nowrap(&time(&r.started_at)),
                r.finished_at.map_or("-".into(), |t| nowrap(&time(&t))),
                count(r.rows_scanned),
                count(r.rows_written),
                count(r.rows_rejected),
                r.checkpoint
                    .as_deref()
                    .map_or("-".into(), |c| format!("<code>{}</code>", esc(c))),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "Pass",
            "Status",
            "Started",
            "Finished",
            "Scanned",
            "Written",
            "Rejected",
            "Checkpoint",
        ],
        &[0, 4, 5, 6],
        &rows,
    ));
    s
}

fn issues(m: &MigrationReport) -> String {
    let mut s = String::from("<h3>Open data issues</h3>\n");
    let resolved = if m.resolved_issues > 0 {
        format!(" ({} resolved)", m.resolved_issues)
    } else {
        String::new()
    };
    if m.open_issues.is_empty() {
        let _ = writeln!(s, "<p class=\"ok\">None{resolved}.</p>");
        return s;
    }
    let _ = writeln!(
        s,
        "<p class=\"bad\">{} row(s) the new storage rejected{resolved}; <code>attrmig data-issues {} --retry</code> re-drives them.</p>",
        m.open_issues.len(),
        esc(m.id())
    );
    let rows: Vec<Vec<String>> = m
        .open_issues
        .iter()
        .take(ISSUES_LISTED)
        .map(|i| {
            vec![
                format!("<code>{}</code>", esc(&i.key)),
                esc(&i.error),
                i.attempts.to_string(),
                nowrap(&time(&i.last_seen_at)),
                i.pass.to_string(),
            ]
        })
        .collect();
    s.push_str(&table(
        &["Key", "Error", "Attempts", "Last seen", "Pass"],
        &[2, 4],
        &rows,
    ));
    if m.open_issues.len() > ISSUES_LISTED {
        let _ = writeln!(
            s,
            "<p class=\"muted\">and {} more.</p>",
            m.open_issues.len() - ISSUES_LISTED
        );
    }
    s
}

fn audit_log(m: &MigrationReport) -> String {
    let mut s = String::from("<h3>Audit log</h3>\n");
    let class = if m.chain_intact() {
        "banner ok"
    } else {
        "banner"
    };
    let _ = writeln!(
        s,
        "<p class=\"{class} verification\">{}</p>",
        esc(&verification(&m.log))
    );
    if m.log.entries.is_empty() {
        return s;
    }
    let rows: Vec<Vec<String>> = m
        .log
        .entries
        .iter()
        .map(|e| {
            let actor = match &e.db_user {
                Some(u) => format!(
                    "{} <span class=\"muted\">(db: {})</span>",
                    esc(&e.actor),
                    esc(u)
                ),
                None => esc(&e.actor),
            };
            vec![
                e.version.to_string(),
                nowrap(&time(&e.at)),
                esc(&entry_what(e)),
                esc(&entry_move(e)),
                actor,
                esc(e.note.as_deref().unwrap_or("")),
                format!(
                    "<code class=\"nowrap\" title=\"{}\">{}</code>",
                    esc(&e.hash),
                    esc(e.hash.get(..12).unwrap_or(&e.hash))
                ),
            ]
        })
        .collect();
    let _ = write!(
        s,
        "<details open><summary>{} entr{}</summary>\n{}</details>\n",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        table(
            &["#", "When", "What", "From → To", "Actor", "Note", "Hash"],
            &[0],
            &rows
        )
    );
    s
}
