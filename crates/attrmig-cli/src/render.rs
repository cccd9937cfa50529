//! How results read for people. Pure functions from values to text, so they can be
//! snapshot-tested.

use attrmig_core::dependents::{Access, Dependent, FoundBy, OnDrop};
use attrmig_core::guards::GuardCheck;
use attrmig_core::{Position, Step};
use attrmig_engine::{
    EngineError, FleetSummary, FleetView, LogView, Moved, RungState, Show, StatusRow, Verification,
};
use attrmig_tools::ddl::DdlReport;
use chrono::{DateTime, Utc};

use crate::exit::Failure;
use crate::output::table;

/// `2026-11-21 17:40:03 UTC`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A value of a report for people: `NULL` bare, anything else quoted and escaped
/// (`attrmig_core::equality::quoted`), with what the store added around it (the label
/// of a document that is no JSON, the marker of a value cut short) outside the quotes.
pub fn value(stored: Option<&str>) -> String {
    use attrmig_tools::values::NOT_JSON;
    let Some(stored) = stored else {
        return attrmig_core::equality::quoted(None);
    };
    let (label, rest) = match stored.strip_prefix(NOT_JSON) {
        Some(rest) => (NOT_JSON, rest),
        None => ("", stored),
    };
    let (kept, marker) = attrmig_store::bounded::split_cut(rest);
    format!(
        "{label}{}{}",
        attrmig_core::equality::quoted(Some(kept)),
        marker.unwrap_or("")
    )
}

/// `✓ name: detail` / `✗ name: why`, one per guard.
pub fn guards(checks: &[GuardCheck]) -> String {
    checks
        .iter()
        .map(|c| match &c.verdict {
            Ok(p) => format!("  ✓ {}: {}", c.name, p.detail),
            Err(r) => format!("  ✗ {}: {}", c.name, r),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An error for stderr.
pub fn failure(message: &str, err: &Failure) -> String {
    match err {
        Failure::Engine(EngineError::Blocked { id, to, checks }) => {
            format!(
                "refused: {id} cannot enter {to}; its guards say:\n{}",
                guards(checks)
            )
        }
        Failure::Engine(EngineError::Refused(_)) => format!("refused: {message}"),
        _ => format!("error: {message}"),
    }
}

/// After a transition: where the migration went, and its audit entry.
pub fn moved(id: &str, m: &Moved) -> String {
    format!(
        "{id}: {} → {}\n  audit entry {} by {} at {} (hash {})",
        m.from,
        m.position,
        m.version,
        m.actor,
        time(&m.at),
        &m.hash[..12]
    )
}

/// `attrmig status`.
pub fn status(rows: &[StatusRow]) -> String {
    if rows.is_empty() {
        return "no migrations: no plans and nothing recorded (`attrmig init` writes a plan)"
            .into();
    }
    let mut t = table(&[
        "MIGRATION",
        "STEP",
        "NEXT",
        "BLOCKED BY",
        "LAST CROSS-CHECK",
        "FLEET",
        "OWNERS",
    ]);
    for r in rows {
        let blocked = match (&r.problem, r.next) {
            _ if !r.audit_log.intact() => {
                format!("audit log broken (`attrmig log {} --verify`)", r.id)
            }
            (Some(p), _) => p.clone(),
            (None, None) if matches!(r.position, Position::Abandoned { .. }) => "abandoned".into(),
            (None, None) => "complete".into(),
            (None, Some(_)) if r.blocked_by.is_empty() => "ready".into(),
            (None, Some(_)) => r
                .blocked_by
                .iter()
                .map(|b| b.guard)
                .collect::<Vec<_>>()
                .join(", "),
        };
        let check = r.last_cross_check.as_ref().map_or("never".into(), |c| {
            let what = if c.full { "full" } else { "sample" };
            match c.status {
                attrmig_store::cross_checks::CheckStatus::Finished => format!(
                    "#{} {what}, {}, {}",
                    c.run,
                    attrmig_core::refusal::counted(c.counts.mismatches(), "mismatch", "mismatches"),
                    c.finished_at.map(|t| time(&t)).unwrap_or_default()
                ),
                other => format!(
                    "#{} {what}, {}",
                    c.run,
                    serde_json::to_value(other)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("")
                ),
            }
        });
        t.add_row(vec![
            r.id.clone(),
            r.position.to_string(),
            r.next.map_or("-".into(), |s| s.to_string()),
            blocked,
            check,
            r.fleet.as_ref().map_or("-".into(), fleet_line),
            r.owners.join(", "),
        ]);
    }
    t.to_string()
}

/// `attrmig show ID`.
pub fn show(s: &Show) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}: {}\n", s.id, s.description));
    out.push_str(&format!("  {} → {}", s.old, s.new));
    if !s.owners.is_empty() {
        out.push_str(&format!("   owners: {}", s.owners.join(", ")));
    }
    out.push_str(&format!(
        "\n  at {} (version {}); the application {}\n",
        s.position, s.version, s.mode.summary
    ));
    if let Verification::Broken {
        message, advice, ..
    } = &s.audit_log
    {
        out.push_str(&format!(
            "\n  audit log BROKEN: {message}\n  nothing can move this migration until it verifies: {advice}\n"
        ));
    }
    out.push('\n');
    for rung in &s.ladder {
        let (mark, label) = match rung.state {
            RungState::Reached => ("✓", ""),
            RungState::Current if matches!(s.position, Position::Abandoned { .. }) => {
                ("✗", "  ← abandoned here")
            }
            RungState::Current => ("●", "  ← current"),
            RungState::Next => ("→", "  ← next"),
            RungState::Later => ("·", ""),
        };
        let when = match (&rung.reached_at, &rung.by) {
            (Some(t), Some(by)) => format!("  {} by {by}", time(t)),
            (Some(t), None) => format!("  {}", time(t)),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {mark} {:>2} {:<17}{when}{label}\n",
            rung.number,
            rung.step.id()
        ));
    }
    match s.next {
        Some(next) => {
            let ready = s.guards.iter().all(GuardCheck::passed);
            out.push_str(&format!(
                "\nguards of {next}{}:\n{}\n",
                if ready {
                    " (all pass: `attrmig advance` will reach it)"
                } else {
                    ""
                },
                guards(&s.guards)
            ));
        }
        None if matches!(s.position, Position::At(Step::DropOld)) => {
            out.push_str("\nthe migration is complete\n")
        }
        None => out.push_str("\nthe migration was abandoned; it can't move again\n"),
    }
    out.push_str(&dependents(&s.old, &s.dependents));
    out.push_str(&format!("\nfleet: {}\n", fleet_line(&s.fleet)));
    for i in &s.fleet.lagging {
        out.push_str(&format!("  lagging: {i}\n"));
    }
    if !s.fleet.on_trust.is_empty() {
        out.push_str(
            "taken on trust (the application is not observed: [fleet] observed = false):\n",
        );
        for t in &s.fleet.on_trust {
            out.push_str(&format!("  · {t}\n"));
        }
    }
    out.push_str(&approvals(s));
    out.trim_end().to_owned()
}

/// `approvals of 9 stop-writing-old: bob (...); not counted: alice (..., why)`, or nothing.
fn approvals(s: &Show) -> String {
    let counted: Vec<String> = s
        .approvals
        .iter()
        .map(|a| format!("{} ({})", a.approver, time(&a.at)))
        .collect();
    let not: Vec<String> = s
        .approvals_not_counted
        .iter()
        .map(|a| format!("{} ({}, {})", a.approver, time(&a.at), a.why))
        .collect();
    let mut parts = Vec::new();
    if !counted.is_empty() {
        parts.push(counted.join(", "));
    }
    if !not.is_empty() {
        parts.push(format!("not counted: {}", not.join(", ")));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("approvals of 9 stop-writing-old: {}\n", parts.join("; "))
}

/// What the database itself does with old storage, one object a line.
pub fn dependents(what: &str, found: &[Dependent]) -> String {
    if found.is_empty() {
        return format!("\nnothing in the database depends on {what}\n");
    }
    let mut out = format!("\nwhat the database itself does with {what}:\n");
    for d in found {
        let access = match d.access {
            Access::Reads => "reads it",
            Access::Writes => "writes it",
            Access::ReadsWrites => "reads and writes it",
            Access::Constrains => "indexes or constrains it",
            Access::NamesStorage => "names its storage, not the attribute",
        };
        let evidence = match d.found_by {
            FoundBy::Catalogue => "the catalogue",
            FoundBy::TextMatch => "a text match, a heuristic",
        };
        let on_drop = match d.on_drop {
            OnDrop::DroppedWith => "; dropped with it",
            OnDrop::Altered => "; kept without it",
            OnDrop::Blocks => "; the database refuses the drop while it exists",
            OnDrop::Breaks => "; breaks once it is dropped",
            OnDrop::Unaffected => "",
        };
        out.push_str(&format!(
            "  {}: {access} (from {evidence}){on_drop}\n",
            d.describe()
        ));
    }
    out
}

/// What a DDL takes along and what stands in its way, as SQL comments before it.
pub fn ddl_dependents(ddl: &DdlReport) -> String {
    let mut out = String::new();
    for (label, items) in [
        ("takes along", &ddl.takes_along),
        ("blocked by", &ddl.blocked_by),
        (
            "writes without the attribute are still refused by",
            &ddl.still_refused_by,
        ),
    ] {
        for item in items {
            out.push_str(&format!("-- {label}: {item}\n"));
        }
    }
    out
}

/// `attrmig log ID`.
pub fn log(view: &LogView) -> String {
    if view.entries.is_empty() {
        return format!("{}: no audit entries yet (at {})", view.id, view.position);
    }
    let mut t = table(&["#", "WHEN", "WHAT", "FROM → TO", "ACTOR", "NOTE"]);
    for e in &view.entries {
        let what = match e.kind {
            attrmig_core::EntryKind::Ddl => format!(
                "ddl {}",
                e.evidence
                    .get("ddl")
                    .and_then(|d| d.as_str())
                    .unwrap_or("(intent resolved)")
            ),
            attrmig_core::EntryKind::Acknowledge => format!(
                "acknowledge {} only in new storage (cross-check run {})",
                attrmig_core::refusal::counted(
                    e.evidence["rows"].as_array().map_or(0, |r| r.len() as u64),
                    "row",
                    "rows"
                ),
                e.evidence["cross_check_run"]
            ),
            kind => serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        let user = e
            .db_user
            .as_ref()
            .map(|u| format!(" (db: {u})"))
            .unwrap_or_default();
        t.add_row(vec![
            e.version.to_string(),
            time(&e.at),
            what,
            if e.from == e.to {
                e.to.to_string()
            } else {
                format!("{} → {}", e.from, e.to)
            },
            format!("{}{user}", e.actor),
            e.note.clone().unwrap_or_default(),
        ]);
    }
    let mut out = t.to_string();
    match &view.verification {
        Some(Verification::Intact { entries }) => {
            out.push_str(&format!(
                "\nhash chain intact: {entries} entries, ending at {}",
                view.position
            ));
        }
        Some(Verification::Broken {
            message, advice, ..
        }) => out.push_str(&format!(
            "\nhash chain BROKEN: {message}\nto repair: {advice}"
        )),
        None => {}
    }
    out
}

/// One line about a migration's fleet: `not observed`, `3 live, converged`,
/// `2 live, 1 lagging: web-2`, `no live instance (1 gone)`.
pub fn fleet_line(f: &FleetSummary) -> String {
    let gone = if f.gone > 0 {
        format!(" ({} gone)", f.gone)
    } else {
        String::new()
    };
    match (f.observed, f.live) {
        (Some(false), 0) => "not observed".into(),
        (Some(false), live) => format!("not observed ({live} live report)"),
        (_, 0) => format!("no live instance{gone}"),
        (_, live) if f.converged => format!("{live} live, converged{gone}"),
        (_, live) => format!(
            "{live} live, {} lagging: {}{gone}",
            f.lagging.len(),
            f.lagging
                .iter()
                .map(|i| format!("{} on {} at {}", i.id, i.host, i.step.number()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `attrmig fleet [ID]`.
pub fn fleet(view: &FleetView) -> String {
    if view.migrations.is_empty() {
        return "no instance has reported: applications report through attrmig-app or the protocol in docs/app.md".into();
    }
    let mut out = Vec::new();
    for m in &view.migrations {
        let mut head = format!("{} at {}: {}", m.id, m.position, fleet_line(&m.summary));
        if m.summary.observed == Some(false) {
            head.push_str(" ([fleet] observed = false: the guards don't read these reports)");
        }
        if m.instances.is_empty() {
            out.push(head);
            continue;
        }
        let mut t = table(&[
            "INSTANCE",
            "HOST",
            "VERSION",
            "STEP",
            "SINCE",
            "LAST SEEN",
            "STATE",
            "WRITES O/N (ERR)",
            "READS O/N (ERR)",
            "COMPARED",
            "MISMATCHES (TRANSIENT)",
        ]);
        for i in &m.instances {
            use attrmig_core::fleet::Counter::*;
            let c = &i.counters;
            let mut state = if i.summary.live { "live" } else { "gone" }.to_owned();
            if i.summary.pinned {
                state.push_str(", pinned");
            }
            if i.summary.stale {
                state.push_str(", stale");
            }
            t.add_row(vec![
                i.summary.id.clone(),
                i.summary.host.clone(),
                i.summary.app_version.clone(),
                i.summary.step.to_string(),
                time(&i.since),
                time(&i.summary.last_seen),
                state,
                format!(
                    "{}/{} ({}/{})",
                    c[WritesOld], c[WritesNew], c[WriteErrorsOld], c[WriteErrorsNew]
                ),
                format!(
                    "{}/{} ({}/{})",
                    c[ReadsOld], c[ReadsNew], c[ReadErrorsOld], c[ReadErrorsNew]
                ),
                c[Compared].to_string(),
                format!("{} ({})", c[Mismatches], c[TransientMismatches]),
            ]);
        }
        let mut block = format!("{head}\n{t}");
        let samples: Vec<String> = m
            .instances
            .iter()
            .flat_map(|i| i.mismatches.iter().map(move |s| (i, s)))
            .take(10)
            .map(|(i, s)| {
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .map(|f| format!("{}: {} ≠ {}", f.field, f.old, f.new))
                    .collect();
                format!(
                    "  key {} ({} at {}): {}",
                    s.key,
                    i.summary.id,
                    time(&s.at),
                    fields.join(", ")
                )
            })
            .collect();
        if !samples.is_empty() {
            block.push_str("\nrecent persistent mismatches:\n");
            block.push_str(&samples.join("\n"));
        }
        out.push(block);
    }
    out.join("\n\n")
}
