//! `attrmig sync ID`.

use std::io::IsTerminal;

use attrmig_engine::{SyncOutcome, SyncRequest};
use attrmig_tools::sync::Event;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::output::clean;
use crate::render;
use attrmig_core::refusal::counted;

/// Copy old to new for every key, resumably.
///
/// Keyset batches, one transaction per batch with its checkpoint: a killed sync resumes
/// where it stopped.
/// Rows new storage rejects become data issues (`attrmig data-issues`). A new row whose key
/// old storage lacks is left alone unless --delete-extra says to remove it. Refused before 3
/// double-write (rows written after the sync would be missed) and from 8 delete-tools on.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Migration id.
    pub id: String,
    /// Keys per batch [default: the plan's sync.batch_size].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Throttle; 0 is unthrottled [default: the plan's sync.max_rows_per_second].
    #[arg(long, value_name = "R")]
    pub max_rows_per_second: Option<u32>,
    /// Start a new pass instead of resuming an interrupted one.
    #[arg(long)]
    pub restart: bool,
    /// After the copy, remove the rows only in new storage: new rows whose key has no old
    /// row are deleted (or, in a table with other columns, their new column set NULL),
    /// under the copy's locks and fence.
    #[arg(long)]
    pub delete_extra: bool,
}

pub fn run(ctx: &Ctx, args: SyncArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let req = SyncRequest {
        id: args.id.clone(),
        batch_size: args.batch_size,
        max_rows_per_second: args.max_rows_per_second,
        restart: args.restart,
        delete_extra: args.delete_extra,
    };
    let bar = (!ctx.out.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} pass {prefix} [{bar:30}] {pos}/{len} keys · {per_sec} · ETA {eta} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let mut failed_output = None;
    let outcome = engine.sync(&req, &mut |event| {
        if ctx.out.json {
            let kind = match event {
                Event::Started { .. } => "started",
                Event::Batch { .. } => "progress",
                Event::Rejected { .. } => "rejected",
                Event::Removed { .. } => "removed",
            };
            if let Err(e) = ctx.out.json_line(kind, event) {
                failed_output.get_or_insert(e);
            }
            return;
        }
        match (event, &bar) {
            (
                Event::Started {
                    pass, total, done, ..
                },
                Some(bar),
            ) => {
                bar.set_prefix(pass.to_string());
                bar.set_length(*total);
                bar.set_position(*done);
                bar.reset_eta();
            }
            (
                Event::Batch {
                    done,
                    written,
                    rejected,
                    ..
                },
                Some(bar),
            ) => {
                bar.set_position(*done);
                bar.set_message(format!("· {written} written · {rejected} rejected"));
            }
            (
                Event::Started {
                    pass,
                    resumed_after: Some(after),
                    ..
                },
                None,
            ) => {
                eprintln!("resuming pass {pass} after key {after}");
            }
            (Event::Rejected { key, error }, Some(bar)) => {
                bar.println(clean(&format!("rejected key {key}: {error}")))
            }
            (Event::Rejected { key, error }, None) => {
                eprintln!("{}", clean(&format!("rejected key {key}: {error}")))
            }
            (Event::Removed { keys, .. }, Some(bar)) => bar.println(clean(&format!(
                "removed, only in new storage: {}",
                keys.join(", ")
            ))),
            (Event::Removed { keys, .. }, None) => {
                eprintln!(
                    "{}",
                    clean(&format!(
                        "removed, only in new storage: {}",
                        keys.join(", ")
                    ))
                )
            }
            _ => {}
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = failed_output {
        return Err(e);
    }
    let outcome = outcome?;
    if ctx.out.json {
        ctx.out.json_line("summary", &outcome)?;
    } else {
        ctx.out.text(&describe(&outcome))?;
    }
    Ok(Code::Ok)
}

/// The end-of-pass summary for people.
pub fn describe(o: &SyncOutcome) -> String {
    let s = &o.summary;
    let rate = if s.seconds > 0.0 {
        s.scanned as f64 / s.seconds
    } else {
        0.0
    };
    let mut out = format!(
        "{}: sync pass {}{} done: {} visited, {} written, {} rejected, in {:.1}s ({:.0} keys/s)",
        o.id,
        s.pass,
        if s.resumed { " (resumed)" } else { "" },
        counted(s.scanned, "key", "keys"),
        counted(s.written, "row", "rows"),
        s.rejected,
        s.seconds,
        rate
    );
    if let Some(dw) = o.double_write_at {
        let lead = s.started_at - dw;
        out.push_str(&format!(
            "\n  the pass started {} {} 3 double-write was reached ({})",
            attrmig_core::human_duration(lead.abs().to_std().unwrap_or_default()),
            if lead >= chrono::Duration::zero() {
                "after"
            } else {
                "BEFORE"
            },
            render::time(&dw)
        ));
    }
    if s.removed > 0 {
        out.push_str(&format!(
            "\n  {} only in new storage removed (--delete-extra): a full cross-check now shows what is left",
            counted(s.removed, "row", "rows")
        ));
    }
    if s.rejected > 0 {
        out.push_str(&format!(
            "\n  {} rejected by new storage: `attrmig data-issues {}` lists them",
            counted(s.rejected, "row", "rows"),
            o.id
        ));
    }
    out
}
