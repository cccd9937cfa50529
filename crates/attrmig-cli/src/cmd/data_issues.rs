//! `attrmig data-issues ID`.

use attrmig_store::data_issues::DataIssue;
use clap::Args;
use serde_json::json;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::output::table;
use crate::render;

/// List (or re-drive) the rows new storage rejected during a sync.
///
/// Each with its key, old value and error.
/// `--retry` re-drives them after the data is fixed. Exit 4 while any is unresolved.
#[derive(Debug, Args)]
pub struct DataIssuesArgs {
    /// Migration id.
    pub id: String,
    /// Copy the rejected rows again now.
    #[arg(long)]
    pub retry: bool,
    /// List resolved issues too.
    #[arg(long)]
    pub all: bool,
}

pub fn run(ctx: &Ctx, args: DataIssuesArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let (fixed, issues) = if args.retry {
        let outcome = engine.retry_data_issues(&args.id)?;
        let issues = if args.all {
            engine.data_issues(&args.id, true)?
        } else {
            outcome.open
        };
        (Some(outcome.fixed), issues)
    } else {
        (None, engine.data_issues(&args.id, args.all)?)
    };
    let open = issues.iter().filter(|i| i.resolved_at.is_none()).count();
    if ctx.out.json {
        ctx.out.json(
            &json!({ "id": args.id, "fixed": fixed, "issues": issues, "unresolved": open }),
        )?;
    } else {
        let mut text = String::new();
        if let Some(fixed) = &fixed {
            text.push_str(&format!(
                "{}: {} copied on retry{}\n",
                args.id,
                attrmig_core::refusal::counted(fixed.len() as u64, "row", "rows"),
                keys(&args.id, fixed)
            ));
        }
        text.push_str(&list(&args.id, &issues, open));
        ctx.out.text(&text)?;
    }
    Ok(if open > 0 { Code::Found } else { Code::Ok })
}

/// Keys listed in full on one line; a longer list shows its first ones.
const KEYS_SHOWN: usize = 10;

/// `: 2, 9, 10`, or the first [`KEYS_SHOWN`] and how many more (in key order: the retry
/// walks them so).
fn keys(id: &str, keys: &[String]) -> String {
    match keys.len() {
        0 => String::new(),
        n if n <= KEYS_SHOWN => format!(": {}", keys.join(", ")),
        n => format!(
            ": {} and {} more (`attrmig data-issues {id} --all` lists them, resolved ones too)",
            keys[..KEYS_SHOWN].join(", "),
            n - KEYS_SHOWN
        ),
    }
}

fn list(id: &str, issues: &[DataIssue], open: usize) -> String {
    if issues.is_empty() {
        return format!("{id}: no data issues");
    }
    let mut t = table(&[
        "KEY",
        "OLD VALUE",
        "ERROR",
        "PASS",
        "TRIES",
        "LAST SEEN",
        "RESOLVED",
    ]);
    for i in issues {
        t.add_row(vec![
            i.key.clone(),
            render::value(i.old_value.as_deref()),
            i.error.clone(),
            i.pass.to_string(),
            i.attempts.to_string(),
            render::time(&i.last_seen_at),
            i.resolved_at.map(|t| render::time(&t)).unwrap_or_default(),
        ]);
    }
    let mut out = t.to_string();
    if open > 0 {
        out.push_str(&format!(
            "\n{open} unresolved: fix the data (old storage, or new storage's constraint), then `attrmig data-issues {id} --retry`"
        ));
    }
    out
}
