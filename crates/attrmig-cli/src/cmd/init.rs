//! `attrmig init`: write a plan.

use std::path::Path;

use attrmig_core::ident::{Ident, MigrationId};
use attrmig_core::plan::{
    CodeRules, FleetSettings, GuardSettings, NewStorage, OldStorage, Plan, SyncSettings,
    ToolSettings,
};
use clap::Args;
use serde_json::json;

use super::Ctx;
use crate::exit::{Code, Failure};

/// Write a plan for a column moving to another column.
///
/// plans/ID.toml gets every setting at its default, commented.
/// Edit it for JSON or EAV old storage (see docs/plan-format.md).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Migration id: lowercase letters, digits, - and _ (the plan file's name).
    pub id: String,
    /// Old storage, as TABLE.COLUMN.
    #[arg(long, value_name = "TABLE.COLUMN")]
    pub old: String,
    /// New storage, as TABLE.COLUMN (the same table or another).
    #[arg(long, value_name = "TABLE.COLUMN")]
    pub new: String,
    /// Key column of the old table.
    #[arg(long, default_value = "id")]
    pub old_key: String,
    /// Key column of the new table [default: the old key].
    #[arg(long)]
    pub new_key: Option<String>,
    /// Who answers for the migration (repeatable).
    #[arg(long = "owner")]
    pub owners: Vec<String>,
    /// What the migration is for.
    #[arg(long)]
    pub description: Option<String>,
    /// Overwrite an existing plan file.
    #[arg(long)]
    pub force: bool,
}

fn split(flag: &str, value: &str) -> Result<(Ident, Ident), Failure> {
    let (table, column) = value.split_once('.').ok_or_else(|| {
        Failure::Usage(format!(
            "--{flag} {value:?}: write TABLE.COLUMN, e.g. users.full_name"
        ))
    })?;
    let ident = |what: &str, s: &str| {
        Ident::new(s).map_err(|e| {
            Failure::Usage(format!(
                "--{flag}: {what} {s:?} is not a valid identifier: it {e}"
            ))
        })
    };
    Ok((ident("table", table)?, ident("column", column)?))
}

pub fn run(ctx: &Ctx, args: InitArgs) -> Result<Code, Failure> {
    let id = MigrationId::new(&args.id).map_err(|e| {
        Failure::Usage(format!("{:?} is not a valid migration id: it {e}", args.id))
    })?;
    let (old_table, old_column) = split("old", &args.old)?;
    let (new_table, new_column) = split("new", &args.new)?;
    let old_key =
        Ident::new(&args.old_key).map_err(|e| Failure::Usage(format!("--old-key: it {e}")))?;
    let new_key = match &args.new_key {
        Some(k) => Ident::new(k).map_err(|e| Failure::Usage(format!("--new-key: it {e}")))?,
        None => old_key.clone(),
    };
    let plan = Plan {
        id: id.clone(),
        description: args
            .description
            .unwrap_or_else(|| format!("Move {} to {}", args.old, args.new)),
        owners: args.owners,
        old: OldStorage::Column {
            table: old_table,
            key: old_key,
            column: old_column,
        },
        new: NewStorage {
            table: new_table,
            key: new_key,
            column: new_column,
        },
        sync: SyncSettings::default(),
        guards: GuardSettings::default(),
        tools: ToolSettings::default(),
        code: CodeRules::default(),
        fleet: FleetSettings::default(),
    };
    let project = ctx.project()?;
    let path = project.plan_path(id.as_str());
    if path.exists() && !args.force {
        return Err(Failure::Usage(format!(
            "{} already exists; pass --force to overwrite it",
            project.display_path(&path)
        )));
    }
    let text = attrmig_plan::render_plan(&plan);
    // What init writes must be what validate accepts.
    attrmig_plan::parse_plan(id.as_str(), &path, &text)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    write(&path, &text)?;
    let shown = project.display_path(&path);
    if ctx.out.json {
        ctx.out
            .json(&json!({ "id": id, "file": shown, "plan": plan }))?;
    } else {
        ctx.out.text(&format!(
            "wrote {shown}: {} → {}\n  check [new].key ({}), then `attrmig show {id}`",
            plan.old.describe(),
            plan.new.describe(),
            plan.new.key
        ))?;
    }
    Ok(Code::Ok)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
