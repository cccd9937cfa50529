//! How results read for people. Pure functions from values to text, so they can be
//! snapshot-tested.

use attrmig_core::dependents::{Access, Dependent, FoundBy, OnDrop};
use attrmig_core::guards::GuardCheck;
use attrmig_core::{Position, Step};
use attrmig_engine::{EngineError, LogView, Moved, RungState, Show, StatusRow, Verification};
use attrmig_tools::ddl::DdlReport;
use chrono::{DateTime, Utc};

use crate::exit::Failure;
use crate::output::table;

/// `2026-11-21 17:40:03 UTC`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
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
                    "#{} {what}, {} mismatches, {}",
                    c.run,
                    c.counts.mismatches(),
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
    if !s.approvals.is_empty() {
        let who: Vec<String> = s
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.approver, time(&a.at)))
            .collect();
        out.push_str(&format!(
            "approvals of 9 stop-writing-old: {}\n",
            who.join(", ")
        ));
    }
    out.trim_end().to_owned()
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
