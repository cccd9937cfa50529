//! Parse and validate attrmig's files.
//!
//! - [`parse_plan`]: `plans/<id>.toml` into an [`attrmig_core::Plan`]; unknown keys, bad
//!   identifiers and bad durations are errors naming file, line and key.
//! - [`parse_config`]: `attrmig.toml`, the project's environments.
//! - [`render_plan`]: the file `attrmig init` writes.
//!
//! The raw serde shapes stay private: callers only ever see validated types.

mod config;
mod error;
mod plan;
mod render;

use std::path::{Path, PathBuf};

pub use config::{CONFIG_FILE, Config, Environment, UrlError, UrlSource, parse_config};
pub use error::{FileErrors, Problem};
pub use plan::parse_plan;
pub use render::render_plan;

use attrmig_core::Plan;

/// A plan file that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// I/O failure.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is invalid.
    #[error(transparent)]
    Invalid(#[from] FileErrors),
}

/// Reads and validates one plan file; its id is its stem.
pub fn load_plan(path: &Path) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    Ok(parse_plan(id, path, &text)?)
}

/// The plan files of a folder (`*.toml`), sorted by name.
pub fn plan_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LoadError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| LoadError::Io {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads `attrmig.toml` from `root`.
pub fn load_config(root: &Path) -> Result<Config, LoadError> {
    let path = root.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(parse_config(root, &path, &text)?)
}

/// The nearest folder at or above `start` holding `attrmig.toml`.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}
