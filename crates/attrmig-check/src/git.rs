//! git, run as a process: a plan as it was at the base revision, the repository's files,
//! and where the project sits inside its repository.
//!
//! A process rather than a library: CI machines have git, and its answers (which ref,
//! which files are ignored) are exactly the ones the user gets at their shell.

use std::path::Path;
use std::process::{Command, Output};

use crate::error::CheckError;

fn git(dir: &Path, args: &[&str]) -> Result<Output, CheckError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // Messages are read only to be quoted back; keep them in one language anyway.
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| CheckError::Git {
            what: args.join(" "),
            message: format!("cannot run git: {e}"),
        })
}

fn failure(args: &[&str], out: &Output) -> CheckError {
    CheckError::Git {
        what: args.join(" "),
        message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// Whether `dir` is inside a git work tree (false too when git is missing).
pub(crate) fn is_work_tree(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"])
        .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"true"))
}

/// Refuses a `--base` that names no commit, before anything is compared with it.
pub(crate) fn verify_commit(dir: &Path, reference: &str) -> Result<(), CheckError> {
    let spec = format!("{reference}^{{commit}}");
    let args = ["rev-parse", "--verify", "--quiet", spec.as_str()];
    let out = git(dir, &args)?;
    if out.status.success() {
        return Ok(());
    }
    if !is_work_tree(dir) {
        return Err(CheckError::Git {
            what: "rev-parse".into(),
            message: format!(
                "{} is not inside a git work tree, so --base has nothing to compare with",
                dir.display()
            ),
        });
    }
    Err(CheckError::UnknownRef {
        reference: reference.to_owned(),
    })
}

/// The text of `path` (relative to `dir`) at `reference`, or `None` when the file did not
/// exist there. `reference` must have passed [`verify_commit`].
pub(crate) fn show(dir: &Path, reference: &str, path: &str) -> Result<Option<String>, CheckError> {
    // `./` makes the path relative to `dir` rather than to the repository's root, so a
    // project in a subfolder of its repository works.
    let object = format!("{reference}:./{path}");
    // The ref is known good, so `cat-file -e` failing means only that the file is absent.
    let exists = git(dir, &["cat-file", "-e", object.as_str()])?;
    if !exists.status.success() {
        return Ok(None);
    }
    let args = ["show", object.as_str()];
    let out = git(dir, &args)?;
    if !out.status.success() {
        return Err(failure(&args, &out));
    }
    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The repository's files under `dir`, relative to it: tracked, plus untracked ones that
/// are not ignored. `None` when `dir` is not in a git work tree.
pub(crate) fn files(dir: &Path) -> Result<Option<Vec<String>>, CheckError> {
    if !is_work_tree(dir) {
        return Ok(None);
    }
    let args = [
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ];
    let out = git(dir, &args)?;
    if !out.status.success() {
        return Err(failure(&args, &out));
    }
    let mut files: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        // `--cached` lists files deleted in the work tree but not yet staged.
        .filter(|p| dir.join(p).is_file())
        .collect();
    files.sort();
    files.dedup();
    Ok(Some(files))
}

/// Where `dir` sits in its repository (`services/api/`, or empty at the top), for paths
/// that must be relative to the repository's root, like GitHub's annotations. `None`
/// outside a git work tree.
pub fn repo_prefix(dir: &Path) -> Option<String> {
    let out = git(dir, &["rev-parse", "--show-prefix"]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
