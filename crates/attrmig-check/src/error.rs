//! Why `attrmig check` could not check at all (as opposed to a finding, which is a check
//! that ran and failed).

use std::path::PathBuf;

/// The check could not run to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A plan, a folder or a source file can't be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `--base` names nothing git knows.
    #[error(
        "--base {reference}: git knows no commit by that name; fetch it first (actions/checkout needs `fetch-depth: 0`, or `git fetch origin main`)"
    )]
    UnknownRef {
        /// What was given.
        reference: String,
    },
    /// git could not be run, or failed in a way that is not "no such file".
    #[error("git {what} failed: {message}")]
    Git {
        /// The git command, e.g. `show origin/main:./plans/a.toml`.
        what: String,
        /// Its stderr, or why it could not start.
        message: String,
    },
}
