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
                "{}: {} row(s) copied on retry{}\n",
                args.id,
                fixed.len(),
                keys(fixed)
            ));
        }
        text.push_str(&list(&args.id, &issues, open));
        ctx.out.text(&text)?;
    }
    Ok(if open > 0 { Code::Found } else { Code::Ok })
}

fn keys(keys: &[String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!(": {}", keys.join(", "))
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
            i.old_value.clone().unwrap_or_else(|| "NULL".into()),
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
