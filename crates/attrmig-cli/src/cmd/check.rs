//! `attrmig check`.

use attrmig_check::{CheckError, Inputs, Recorded, format, repo_prefix};
use attrmig_engine::{EngineError, Verification};
use clap::{Args, ValueEnum};

use super::Ctx;
use crate::exit::{Code, Failure};

/// Check plans, recorded state and code against each other, for CI: exit 0 when all
/// holds, 4 with one line per finding otherwise.
///
/// Every plan parses and validates; every migration in the store still has its plan, with
/// the storage fingerprint recorded at step 1; hand-written tools stay deleted after 8;
/// after 9 no source in `[code] paths` names the old attribute (`[code] old_refs`); no
/// SQL in `[code] schema_paths` drops old storage below 9, or new storage while the
/// migration is under way; every migration's audit log verifies. Reads positions from the
/// environment's database.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also report plans whose [old] or [new] part changed since this git revision (e.g.
    /// origin/main) while their migration is under way.
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
    /// text: `PATH:LINE: message`; github: workflow annotations; json: one document.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per finding: `PATH:LINE: message`.
    Text,
    /// One JSON document with `schema_version` (as `--json`).
    Json,
    /// GitHub Actions workflow commands: `::error file=PATH,line=N::message`.
    Github,
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let mut recorded = Vec::new();
    for m in attrmig_store::migration::all(engine.session().state()).map_err(EngineError::from)? {
        let broken_chain = match engine.verify_log(&m.id)? {
            Verification::Intact { .. } => None,
            Verification::Broken { problem, .. } => Some(problem),
        };
        recorded.push(Recorded {
            id: m.id,
            position: m.position,
            storage_fingerprint: m.storage_fingerprint,
            broken_chain,
        });
    }
    let project = &engine.project;
    let inputs = Inputs {
        root: &project.root,
        plans_dir: &project.plans_dir,
        recorded: &recorded,
        base: args.base.as_deref(),
    };
    let outcome = attrmig_check::check(&inputs).map_err(|e| match e {
        CheckError::UnknownRef { .. } => Failure::Usage(e.to_string()),
        e => Failure::Other(anyhow::Error::new(e).context("attrmig check could not finish")),
    })?;
    let format = if ctx.out.json {
        Format::Json
    } else {
        args.format
    };
    let found = outcome.findings.len();
    match format {
        Format::Json => ctx.out.json(&outcome)?,
        Format::Text if found > 0 => ctx.out.text(&format::text(&outcome.findings))?,
        Format::Github if found > 0 => {
            let prefix = repo_prefix(&project.root).unwrap_or_default();
            ctx.out.text(&format::github(&outcome.findings, &prefix))?;
        }
        Format::Text | Format::Github => ctx.out.text(&format!(
            "ok: {} plan(s), {} recorded migration(s), {} file(s) scanned; all holds",
            outcome.plans, outcome.migrations, outcome.files_scanned
        ))?,
    }
    if found > 0 && format != Format::Json {
        // stdout stays one line per finding; the count is for whoever reads the log.
        eprintln!("attrmig check: {found} finding(s)");
    }
    Ok(if found > 0 { Code::Found } else { Code::Ok })
}
