//! `attrmig init`: write a plan.

use std::path::Path;

use attrmig_core::ident::{Ident, JsonPath, MigrationId, TableName};
use attrmig_core::key::KeyColumns;
use attrmig_core::plan::{
    CodeRules, FleetSettings, GuardSettings, NewStorage, OldStorage, Plan, SyncSettings,
    ToolSettings,
};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::Ctx;
use crate::exit::{Code, Failure};

/// Write a plan for an attribute moving to a column.
///
/// The attribute is a column (`--old users.full_name`), a key inside a JSON document
/// (`--kind json --old accounts.attrs --path profile.email`), or the rows of one name in an
/// entity-attribute-value table (`--kind eav --old user_attributes.value --old-key user_id
/// --name-column attr --name phone`). plans/ID.toml gets every setting at its default,
/// commented (docs/plan-format.md).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Migration id: lowercase letters, digits, - and _ (the plan file's name).
    pub id: String,
    /// What old storage is.
    #[arg(long, value_enum, default_value_t = Kind::Column)]
    pub kind: Kind,
    /// Old storage, as TABLE.COLUMN: the attribute's column; for json the document's
    /// column; for eav the value column.
    #[arg(long, value_name = "TABLE.COLUMN")]
    pub old: String,
    /// json: the key inside the document, dot-separated (`profile.email`).
    #[arg(long, value_name = "A.B")]
    pub path: Option<String>,
    /// eav: the column holding the attribute's name [default: name].
    #[arg(long, value_name = "COLUMN")]
    pub name_column: Option<String>,
    /// eav: the attribute's name (a value in the name column, e.g. `phone`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// New storage, as TABLE.COLUMN (the same table or another).
    #[arg(long, value_name = "TABLE.COLUMN")]
    pub new: String,
    /// Key column of the old table; several, comma-separated, for a key of several
    /// columns (`tenant_id,id`).
    #[arg(long, default_value = "id")]
    pub old_key: String,
    /// Key column(s) of the new table, paired with the old key's in order [default: the
    /// old key].
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

/// The kinds of old storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A column of the old table.
    Column,
    /// A key inside a JSON document column.
    Json,
    /// The rows of one name in an entity-attribute-value table.
    Eav,
}

fn split(flag: &str, value: &str) -> Result<(TableName, Ident), Failure> {
    // The column is the last part; what comes before is the table, which may be
    // qualified (`billing.invoices.total`).
    let (table, column) = value.rsplit_once('.').ok_or_else(|| {
        Failure::Usage(format!(
            "--{flag} {value:?}: write TABLE.COLUMN (or SCHEMA.TABLE.COLUMN), e.g. users.full_name"
        ))
    })?;
    let table = TableName::parse(table).map_err(|e| {
        Failure::Usage(format!(
            "--{flag}: table {table:?} is not a valid table name: it {e}"
        ))
    })?;
    let ident = |what: &str, s: &str| {
        Ident::new(s).map_err(|e| {
            Failure::Usage(format!(
                "--{flag}: {what} {s:?} is not a valid identifier: it {e}"
            ))
        })
    };
    Ok((table, ident("column", column)?))
}

pub fn run(ctx: &Ctx, args: InitArgs) -> Result<Code, Failure> {
    let id = MigrationId::new(&args.id).map_err(|e| {
        Failure::Usage(format!("{:?} is not a valid migration id: it {e}", args.id))
    })?;
    let (old_table, old_column) = split("old", &args.old)?;
    let (new_table, new_column) = split("new", &args.new)?;
    let old_key = key_columns("--old-key", &args.old_key)?;
    let old = old_storage(&args, old_table, old_key.clone(), old_column)?;
    let new_key = match &args.new_key {
        Some(k) => key_columns("--new-key", k)?,
        None => old_key.clone(),
    };
    let described = args.description.is_none();
    if new_key.len() != old_key.len() {
        return Err(Failure::Usage(format!(
            "--new-key names {} column(s) and --old-key {}: they pair up in order, so give as many of each",
            new_key.len(),
            old_key.len()
        )));
    }
    let plan = Plan {
        id: id.clone(),
        description: args
            .description
            .unwrap_or_else(|| format!("Move {} to {}", old.describe(), args.new)),
        owners: args.owners,
        old,
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
        written: None,
    };
    let project = ctx.project()?;
    let mut plan = spelled_by_database(&project, plan);
    if described {
        plan.description = format!("Move {} to {}", plan.old.describe(), plan.new.describe());
    }
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

/// `id` or `tenant_id,id`.
fn key_columns(flag: &str, text: &str) -> Result<KeyColumns, Failure> {
    let columns = text
        .split(',')
        .map(|c| Ident::new(c.trim()).map_err(|e| Failure::Usage(format!("{flag}: {c:?} {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    KeyColumns::new(columns).map_err(|e| Failure::Usage(format!("{flag}: the key {e}")))
}

/// `[old]` of the kind asked for; a flag of another kind, or a kind's flag missing, is a
/// usage error that says which.
fn old_storage(
    args: &InitArgs,
    table: TableName,
    key: KeyColumns,
    column: Ident,
) -> Result<OldStorage, Failure> {
    let usage = |m: String| Failure::Usage(m);
    if args.kind != Kind::Json && args.path.is_some() {
        return Err(usage(
            "--path is for --kind json (a key inside a JSON document)".into(),
        ));
    }
    if args.kind != Kind::Eav && (args.name.is_some() || args.name_column.is_some()) {
        return Err(usage(
            "--name and --name-column are for --kind eav (an entity-attribute-value table)".into(),
        ));
    }
    Ok(match args.kind {
        Kind::Column => OldStorage::Column { table, key, column },
        Kind::Json => {
            let path = args.path.as_deref().ok_or_else(|| {
                usage("--kind json needs --path: the key inside the document, e.g. --path profile.email".into())
            })?;
            let path = JsonPath::new(path)
                .map_err(|e| usage(format!("--path {path:?} is not a JSON path: it {e}")))?;
            OldStorage::Json {
                table,
                key,
                column,
                path,
            }
        }
        Kind::Eav => {
            let name = args.name.clone().ok_or_else(|| {
                usage("--kind eav needs --name: the attribute's name in the name column, e.g. --name phone".into())
            })?;
            let name_column = Ident::new(args.name_column.as_deref().unwrap_or("name"))
                .map_err(|e| usage(format!("--name-column: it {e}")))?;
            OldStorage::Eav {
                table,
                key,
                name_column,
                name,
                value_column: column,
            }
        }
    })
}

/// The plan's names as the database spells them (`AlbumId` for `--old-key albumid` on
/// SQLite), when the project's database can be reached; as written otherwise, since a
/// plan may well be written before its database exists. Only reads the catalogue: no
/// state tables are created.
fn spelled_by_database(project: &attrmig_engine::Project, plan: Plan) -> Plan {
    let Ok((app, _)) = project.urls() else {
        return plan;
    };
    let Ok(mut conn) = attrmig_db::connect(&app) else {
        return plan;
    };
    attrmig_db::names::resolve_plan(&mut conn, &plan).unwrap_or(plan)
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
