//! A project: the folder holding `attrmig.toml`, its plans, and the environment chosen.

use std::path::{Path, PathBuf};

use attrmig_core::Plan;
use attrmig_db::DatabaseUrl;
use attrmig_plan::{Config, LoadError};

use crate::error::EngineError;

/// What the command line says about where to look.
#[derive(Debug, Clone)]
pub struct ProjectOptions {
    /// Where to start looking for `attrmig.toml`.
    pub cwd: PathBuf,
    /// `--env`.
    pub env: String,
    /// `--database-url`: overrides the environment's database URL.
    pub database_url: Option<String>,
    /// `--plans`: overrides the plans folder.
    pub plans: Option<PathBuf>,
}

/// A located project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder holding `attrmig.toml` (or the working directory, without one).
    pub root: PathBuf,
    /// The plans folder.
    pub plans_dir: PathBuf,
    /// The environment name.
    pub env: String,
    config: Option<Config>,
    database_url: Option<String>,
    cwd: PathBuf,
}

impl Project {
    /// Finds `attrmig.toml` at or above the working directory. Without one, the working
    /// directory is the root and `--database-url` must name the database.
    pub fn discover(opts: &ProjectOptions) -> Result<Project, EngineError> {
        let root = attrmig_plan::find_project_root(&opts.cwd);
        let config = root.as_deref().map(attrmig_plan::load_config).transpose()?;
        let root = root.unwrap_or_else(|| opts.cwd.clone());
        let plans_dir = match (&opts.plans, &config) {
            (Some(p), _) => opts.cwd.join(p),
            (None, Some(c)) => c.plans_dir(),
            (None, None) => root.join("plans"),
        };
        Ok(Project {
            root,
            plans_dir,
            env: opts.env.clone(),
            config,
            database_url: opts.database_url.clone(),
            cwd: opts.cwd.clone(),
        })
    }

    /// The file of a plan.
    pub fn plan_path(&self, id: &str) -> PathBuf {
        self.plans_dir.join(format!("{id}.toml"))
    }

    /// Every plan file, sorted.
    pub fn plan_files(&self) -> Result<Vec<PathBuf>, EngineError> {
        Ok(attrmig_plan::plan_files(&self.plans_dir)?)
    }

    /// The ids of every plan file.
    pub fn plan_ids(&self) -> Result<Vec<String>, EngineError> {
        Ok(self
            .plan_files()?
            .iter()
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .collect())
    }

    /// Loads one plan. `Ok(None)` when its file does not exist. Problems name the file
    /// relative to the project root, as people wrote it.
    pub fn load_plan(&self, id: &str) -> Result<Option<Plan>, EngineError> {
        let path = self.plan_path(id);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let shown = Path::new(&self.display_path(&path)).to_path_buf();
        Ok(Some(
            attrmig_plan::parse_plan(id, &shown, &text).map_err(LoadError::Invalid)?,
        ))
    }

    /// A path relative to the project root, as shown to users.
    pub fn display_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// The application database and, if separate, the state database.
    pub fn urls(&self) -> Result<(DatabaseUrl, Option<DatabaseUrl>), EngineError> {
        let from_config = match &self.config {
            Some(c) if self.database_url.is_none() || c.environments.contains_key(&self.env) => {
                Some(c.urls(&self.env)?)
            }
            _ => None,
        };
        let (database, state) = match (&self.database_url, from_config) {
            (Some(url), Some((_, state))) => (url.clone(), state),
            (Some(url), None) => (url.clone(), None),
            (None, Some((db, state))) => (db, state),
            (None, None) => {
                return Err(EngineError::NoDatabase {
                    cwd: self.cwd.clone(),
                });
            }
        };
        let database = DatabaseUrl::parse(&database, &self.root)?;
        let state = state
            .map(|s| DatabaseUrl::parse(&s, &self.root))
            .transpose()?;
        Ok((database, state))
    }
}

/// Reads a plan for a command that needs a valid one, turning "invalid" into a refusal
/// that lists every problem.
pub(crate) fn require_valid(
    result: Result<Option<Plan>, EngineError>,
) -> Result<Option<Plan>, EngineError> {
    match result {
        Err(EngineError::Plan(LoadError::Invalid(errors))) => {
            Err(attrmig_core::Refusal::PlanInvalid {
                errors: errors.to_string(),
            }
            .into())
        }
        other => other,
    }
}
