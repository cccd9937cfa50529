//! `attrmig.toml`: where the plans are and which database each environment uses.
//!
//! ```toml
//! plans = "plans"                      # default
//!
//! [environments.dev]
//! database_url = "sqlite://app.db"     # relative paths are relative to this file
//!
//! [environments.prd]
//! database_url_env = "DATABASE_URL"    # read from the environment: secrets stay out of files
//! state_url_env = "ATTRMIG_STATE_URL"  # optional: keep attrmig's tables elsewhere
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Collector, FileErrors};

/// The project config file's name.
pub const CONFIG_FILE: &str = "attrmig.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    plans: Option<Spanned<String>>,
    #[serde(default)]
    environments: BTreeMap<String, Spanned<RawEnvironment>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    database_url: Option<Spanned<String>>,
    database_url_env: Option<Spanned<String>>,
    state_url: Option<Spanned<String>>,
    state_url_env: Option<Spanned<String>>,
}

/// A validated project config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The directory holding `attrmig.toml`: the project root.
    pub root: PathBuf,
    /// The plans folder, relative to `root`.
    pub plans: PathBuf,
    /// Environments by name.
    pub environments: BTreeMap<String, Environment>,
}

/// Where a URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Written in the file.
    Inline(String),
    /// Read from an environment variable when used.
    EnvVar(String),
}

/// One environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The application database.
    pub database: UrlSource,
    /// Where attrmig's state tables live, if not in the application database.
    pub state: Option<UrlSource>,
}

/// An environment's URL could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No such environment.
    #[error("no environment `{name}` in {file}; defined: {}", if defined.is_empty() { "none".to_owned() } else { defined.join(", ") })]
    UnknownEnvironment {
        /// Requested name.
        name: String,
        /// The config file.
        file: String,
        /// The names that exist.
        defined: Vec<String>,
    },
    /// The named variable is not set.
    #[error(
        "environment `{env}` reads its {what} from ${var}, which is not set; export it or pass --database-url"
    )]
    VarNotSet {
        /// Environment name.
        env: String,
        /// `database URL` or `state URL`.
        what: &'static str,
        /// Variable name.
        var: String,
    },
}

impl UrlSource {
    fn resolve(&self, env: &str, what: &'static str) -> Result<String, UrlError> {
        match self {
            UrlSource::Inline(url) => Ok(url.clone()),
            UrlSource::EnvVar(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| UrlError::VarNotSet {
                    env: env.to_owned(),
                    what,
                    var: var.clone(),
                }),
        }
    }
}

impl Config {
    /// The plans folder as a path.
    pub fn plans_dir(&self) -> PathBuf {
        self.root.join(&self.plans)
    }

    /// The application database URL and the optional state URL of an environment.
    pub fn urls(&self, env: &str) -> Result<(String, Option<String>), UrlError> {
        let e = self
            .environments
            .get(env)
            .ok_or_else(|| UrlError::UnknownEnvironment {
                name: env.to_owned(),
                file: self.root.join(CONFIG_FILE).display().to_string(),
                defined: self.environments.keys().cloned().collect(),
            })?;
        let database = e.database.resolve(env, "database URL")?;
        let state = e
            .state
            .as_ref()
            .map(|s| s.resolve(env, "state URL"))
            .transpose()?;
        Ok((database, state))
    }
}

/// Parses `attrmig.toml` found in `root`.
pub fn parse_config(root: &Path, file: &Path, text: &str) -> Result<Config, FileErrors> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| Collector::from_toml(file, text, &e))?;
    let mut c = Collector::new(file, text);
    let plans = match raw.plans {
        None => PathBuf::from("plans"),
        Some(p) if p.get_ref().is_empty() || Path::new(p.get_ref()).is_absolute() => {
            c.at(
                p.span(),
                "plans",
                "must be a folder relative to attrmig.toml",
            );
            PathBuf::from("plans")
        }
        Some(p) => PathBuf::from(p.into_inner()),
    };
    let mut environments = BTreeMap::new();
    for (name, raw_env) in raw.environments {
        let span = raw_env.span();
        let env = raw_env.into_inner();
        let key = format!("environments.{name}");
        let database = match (env.database_url, env.database_url_env) {
            (Some(url), None) => Some(UrlSource::Inline(url.into_inner())),
            (None, Some(var)) => Some(UrlSource::EnvVar(var.into_inner())),
            (Some(url), Some(_)) => {
                c.at(
                    url.span(),
                    &key,
                    "set database_url or database_url_env, not both",
                );
                None
            }
            (None, None) => {
                c.at(
                    span.clone(),
                    &key,
                    "needs database_url = \"...\" or database_url_env = \"VAR\"",
                );
                None
            }
        };
        let state = match (env.state_url, env.state_url_env) {
            (Some(url), None) => Some(UrlSource::Inline(url.into_inner())),
            (None, Some(var)) => Some(UrlSource::EnvVar(var.into_inner())),
            (Some(url), Some(_)) => {
                c.at(url.span(), &key, "set state_url or state_url_env, not both");
                None
            }
            (None, None) => None,
        };
        if let Some(database) = database {
            environments.insert(name, Environment { database, state });
        }
    }
    c.finish(Some(Config {
        root: root.to_owned(),
        plans,
        environments,
    }))
}
