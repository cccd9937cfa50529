//! `attrmig validate`: parse and validate plans.

use attrmig_plan::{LoadError, load_plan};
use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::exit::{Code, Failure};

/// Parse and validate every plan (or the named ones); exit 4 if any is invalid.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only these migrations.
    pub ids: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    plans: Vec<Checked>,
}

#[derive(Serialize)]
struct Checked {
    id: String,
    file: String,
    valid: bool,
    problems: Vec<String>,
}

pub fn run(ctx: &Ctx, args: ValidateArgs) -> Result<Code, Failure> {
    let project = ctx.project()?;
    let files = if args.ids.is_empty() {
        project.plan_files()?
    } else {
        args.ids.iter().map(|id| project.plan_path(id)).collect()
    };
    let mut plans = Vec::new();
    for file in &files {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let problems = match load_plan(file) {
            Ok(_) => Vec::new(),
            Err(LoadError::Invalid(errors)) => {
                errors.to_string().lines().map(str::to_owned).collect()
            }
            Err(e) => vec![e.to_string()],
        };
        plans.push(Checked {
            id,
            file: project.display_path(file),
            valid: problems.is_empty(),
            problems,
        });
    }
    let invalid = plans.iter().filter(|p| !p.valid).count();
    if ctx.out.json {
        ctx.out.json(&Report { plans })?;
    } else if plans.is_empty() {
        ctx.out.text(&format!(
            "no plans in {}",
            project.display_path(&project.plans_dir)
        ))?;
    } else {
        for p in &plans {
            if p.valid {
                ctx.out.text(&format!("ok       {}", p.file))?;
            } else {
                ctx.out.text(&format!("invalid  {}", p.file))?;
                for line in &p.problems {
                    ctx.out.text(&format!("  {line}"))?;
                }
            }
        }
    }
    Ok(if invalid > 0 { Code::Found } else { Code::Ok })
}
