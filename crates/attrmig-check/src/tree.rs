//! The files the code rules scan, and the globs that pick them.
//!
//! In a git work tree the files are git's: tracked ones plus untracked ones that are not
//! ignored, so build output (`target/`, `node_modules/`) is never scanned. Elsewhere the
//! project folder is walked, `.git` folders and symlinked folders excepted.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::CheckError;
use crate::git;

/// The project's files, relative to its root, with `/` separators, sorted.
pub(crate) struct FileTree {
    root: PathBuf,
    files: Vec<String>,
}

impl FileTree {
    /// Lists the files under `root`.
    pub(crate) fn load(root: &Path) -> Result<FileTree, CheckError> {
        let files = match git::files(root)? {
            Some(files) => files,
            None => {
                let mut files = Vec::new();
                walk(root, root, &mut files)?;
                files.sort();
                files
            }
        };
        Ok(FileTree {
            root: root.to_owned(),
            files,
        })
    }

    /// The files matching `globs`.
    pub(crate) fn matching<'a>(&'a self, globs: &'a GlobSet) -> impl Iterator<Item = &'a str> + 'a {
        self.files
            .iter()
            .map(String::as_str)
            .filter(move |f| globs.is_match(f))
    }

    /// A file's text, or `None` for a binary file (one holding a NUL byte). Text that is
    /// not UTF-8 is read lossily: an ASCII reference in a Latin-1 file still counts.
    pub(crate) fn read(&self, file: &str) -> Result<Option<String>, CheckError> {
        let path = self.root.join(file);
        let bytes = std::fs::read(&path).map_err(|source| CheckError::Read { path, source })?;
        if bytes.contains(&0) {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), CheckError> {
    let read_err = |source| CheckError::Read {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        // `file_type` does not follow symlinks: a symlinked folder is not descended into,
        // so a link cycle can't loop and nothing outside the project is scanned.
        let kind = entry.file_type().map_err(read_err)?;
        let path = entry.path();
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(root, &path, out)?;
            }
        } else if path.is_file() {
            out.push(relative(root, &path));
        }
    }
    Ok(())
}

/// `path` relative to `root` with `/` separators, as findings and globs use; `path`
/// itself when it is outside `root`.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

/// One matcher for a plan's globs. `*` stops at `/` and `**` crosses folders, as in
/// `.gitignore`, so `src/*.py` means the files directly in `src/`.
pub(crate) fn globset(patterns: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        // Plans are validated with the same glob parser, so every pattern builds; the
        // separator setting changes matching, not parsing.
        if let Ok(glob) = GlobBuilder::new(pattern).literal_separator(true).build() {
            set.add(glob);
        }
    }
    set.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stop_at_slashes_and_double_stars_cross_them() {
        let set = globset(&["src/*.py".into(), "db/**/*.sql".into()]);
        assert!(set.is_match("src/app.py"));
        assert!(!set.is_match("src/models/user.py"));
        assert!(set.is_match("db/001.sql"));
        assert!(set.is_match("db/migrations/2024/001.sql"));
        assert!(!set.is_match("other/db/001.sql"));
    }

    #[test]
    fn walks_without_git_skipping_dot_git_and_binaries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("src/deep/a.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("src/b.bin"), [0u8, 1, 2]).unwrap();
        std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
        let mut files = Vec::new();
        walk(root, root, &mut files).unwrap();
        files.sort();
        assert_eq!(files, ["src/b.bin", "src/deep/a.py"]);
        let tree = FileTree {
            root: root.to_owned(),
            files,
        };
        assert_eq!(tree.read("src/b.bin").unwrap(), None);
        assert_eq!(
            tree.read("src/deep/a.py").unwrap().as_deref(),
            Some("x = 1\n")
        );
    }
}
