//! `attrmig report`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::Ctx;
use crate::exit::{Code, Failure};

/// A report for reviewers: one self-contained HTML page, or Markdown for a pull request.
///
/// Every migration's ladder with times and actors, the guards of its next step, a
/// timeline of its transitions, its cross-check mismatches over time, sync progress, open
/// data issues, and its audit log with the hash chain verified. The HTML file holds its
/// CSS and charts (no script, nothing fetched: it opens offline, and reads on a phone).
/// Exits 4, after writing the report, when an audit log's hash chain is broken.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// html: one self-contained page; markdown: for a pull-request comment.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
}

/// What the report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page.
    Html,
    /// GitHub-flavoured Markdown.
    Markdown,
}

pub fn run(ctx: &Ctx, args: ReportArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let report = attrmig_report::collect(&mut engine, attrmig_core::audit::now())?;
    let code = if report.any_chain_broken() {
        Code::Found
    } else {
        Code::Ok
    };
    if ctx.out.json {
        ctx.out.json(&report)?;
        return Ok(code);
    }
    let text = match args.format {
        ReportFormat::Html => attrmig_report::html::render(&report),
        ReportFormat::Markdown => attrmig_report::markdown::render(&report),
    };
    match &args.out {
        None => ctx.out.text(text.trim_end())?,
        Some(path) => {
            let path = ctx.cwd.join(path);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            ctx.out.text(&format!(
                "wrote {}: {} migration(s)",
                path.display(),
                report.migrations.len()
            ))?;
        }
    }
    Ok(code)
}
