//! `attrmig ddl ID STEP`.

use attrmig_core::Step;
use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Ctx, parse_step};
use crate::exit::{Code, Failure};
use crate::render;

/// Print or apply the DDL of steps 1, 7 and 10.
///
/// prepare-storage (1), prepare-old-stop (7) or drop-old (10), in the database's dialect;
/// `--apply` runs it and records it in the audit log.
/// Before anything runs it lists what the statements take along (indexes, constraints)
/// and what stands in their way (views, triggers, foreign keys), and refuses while
/// anything does; it never drops with CASCADE. drop-old first compares old storage with
/// the fingerprint taken at 9 and refuses if anything wrote it.
#[derive(Debug, Args)]
pub struct DdlArgs {
    /// Migration id.
    pub id: String,
    /// prepare-storage, prepare-old-stop or drop-old.
    #[arg(value_parser = parse_ddl_step, required_unless_present = "resolve_intent")]
    pub step: Option<Step>,
    /// Execute the statements.
    #[arg(long)]
    pub apply: bool,
    /// Close intent N left open by a process that died mid-DDL, after checking the
    /// database by hand; needs --note.
    #[arg(long, value_name = "N", requires = "note", conflicts_with_all = ["step", "apply"])]
    pub resolve_intent: Option<i64>,
    /// What you checked (with --resolve-intent); with --apply, recorded with the
    /// statements, and a note naming a dependent found by a text match only vouches that
    /// it does not use old storage.
    #[arg(long)]
    pub note: Option<String>,
    /// drop-old: drop old storage despite the late writes its refusal named, exactly
    /// those (the refusal's token; any other late write changes it), once what must
    /// survive is in new storage; needs --note saying what was done.
    #[arg(long, value_name = "TOKEN", requires = "apply")]
    pub accept_late_writes: Option<String>,
}

fn parse_ddl_step(s: &str) -> Result<Step, String> {
    let step = parse_step(s)?;
    if attrmig_tools::ddl::DDL_STEPS.contains(&step) {
        Ok(step)
    } else {
        Err(format!(
            "{step} has no DDL; use prepare-storage, prepare-old-stop or drop-old"
        ))
    }
}

pub fn run(ctx: &Ctx, args: DdlArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    if let Some(intent) = args.resolve_intent {
        let moved =
            engine.resolve_intent(&args.id, intent, args.note.as_deref().unwrap_or_default())?;
        if ctx.out.json {
            ctx.out.json(&moved)?;
        } else {
            ctx.out.text(&format!(
                "intent {intent} closed\n{}",
                render::moved(&args.id, &moved)
            ))?;
        }
        return Ok(Code::Ok);
    }
    let step = args.step.ok_or_else(|| {
        Failure::Usage("name a step: prepare-storage, prepare-old-stop or drop-old".into())
    })?;
    // A batched drop-old (JSON and EAV) shows its batches on a terminal, like the sync.
    let bar = (!ctx.out.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} drop-old [{bar:30}] {pos}/{len} keys · {per_sec} · ETA {eta} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let mut batches = None;
    let outcome = engine.ddl_with(
        &args.id,
        step,
        args.apply,
        args.note.as_deref(),
        args.accept_late_writes.as_deref(),
        &mut |p| {
            if let Some(bar) = &bar {
                bar.set_length(p.total);
                bar.set_position((p.batches * p.batch_size).min(p.total));
                bar.set_message(format!(
                    "through key {}",
                    p.through.as_deref().unwrap_or("(last)")
                ));
            }
            batches = Some(p.clone());
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    if ctx.out.json {
        ctx.out.json(&outcome)?;
        return Ok(Code::Ok);
    }
    let mut text = render::ddl_dependents(&outcome.ddl);
    if let Some(note) = &outcome.ddl.note {
        text.push_str(&format!("-- {note}\n"));
    }
    for s in &outcome.ddl.statements {
        text.push_str(&format!("{s};\n"));
    }
    if let Some(p) = &batches {
        text.push_str(&format!(
            "-- in keyset batches of {}: {} batch(es), {} row(s) this run\n",
            p.batch_size, p.batches, p.rows
        ));
    }
    if let Some(found) = &outcome.late_writes {
        if found.is_clean() {
            text.push_str("-- old storage matches the fingerprint taken at 9 stop-writing-old (0 keys changed)\n");
        } else {
            text.push_str(&format!(
                "-- {} late write(s) accepted (token {}), as the note says\n",
                found.changed + found.untraced_ranges,
                found.token
            ));
        }
    }
    match &outcome.entry {
        Some(entry) => text.push_str(&format!(
            "-- applied; audit entry {} (hash {})",
            entry.version,
            &entry.hash[..12]
        )),
        None if args.apply => text.push_str("-- nothing to apply"),
        None if outcome.ddl.statements.is_empty() => text.push_str("-- nothing to do"),
        None => text.push_str(&format!(
            "-- not applied; `attrmig ddl {} {} --apply` runs it",
            args.id,
            step.id()
        )),
    }
    ctx.out.text(&text)?;
    Ok(Code::Ok)
}
