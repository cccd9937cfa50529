//! Database URLs: which backend, and how to show the URL without its password.

use std::fmt;
use std::path::{Path, PathBuf};

/// The database products attrmig speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Backend {
    /// The backend's name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MySQL/MariaDB",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What is handed to the driver: a file path for SQLite, the URL otherwise.
    target: String,
}

/// A URL attrmig can't use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Unknown scheme.
    #[error(
        "`{shown}` is not a database URL attrmig knows; use sqlite://PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB"
    )]
    UnknownScheme {
        /// The URL, password hidden.
        shown: String,
    },
    /// Empty SQLite path.
    #[error(
        "`{shown}` names no SQLite file; use sqlite://PATH (relative to attrmig.toml) or sqlite:///ABSOLUTE/PATH"
    )]
    EmptySqlitePath {
        /// The URL.
        shown: String,
    },
}

impl DatabaseUrl {
    /// Parses `url`; relative SQLite paths are resolved against `base` (the project root).
    pub fn parse(url: &str, base: &Path) -> Result<DatabaseUrl, UrlError> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if let Some(rest) = strip_any(url, &lower, &["sqlite://", "sqlite:"]) {
            if rest.is_empty() {
                return Err(UrlError::EmptySqlitePath {
                    shown: url.to_owned(),
                });
            }
            let path = PathBuf::from(rest);
            let path = if rest == ":memory:" || path.is_absolute() {
                path
            } else {
                base.join(path)
            };
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                target: path.to_string_lossy().into_owned(),
            });
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                target: url.to_owned(),
            });
        }
        if lower.starts_with("mysql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Mysql,
                target: url.to_owned(),
            });
        }
        if let Some(rest) = strip_any(url, &lower, &["mariadb://"]) {
            return Ok(DatabaseUrl {
                backend: Backend::Mysql,
                target: format!("mysql://{rest}"),
            });
        }
        Err(UrlError::UnknownScheme { shown: redact(url) })
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What the driver receives.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// For SQLite, the database file.
    pub fn sqlite_path(&self) -> Option<&Path> {
        (self.backend == Backend::Sqlite).then(|| Path::new(&self.target))
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL with any password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Sqlite => write!(f, "sqlite://{}", self.target),
            Backend::Postgres | Backend::Mysql => f.write_str(&redact(&self.target)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn strip_any<'a>(url: &'a str, lower: &str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| &url[p.len()..])
}

/// Hides the password in `scheme://user:password@host/...`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let base = Path::new("/repo");
        let u = DatabaseUrl::parse("sqlite://app.db", base).unwrap();
        assert_eq!((u.backend(), u.target()), (Backend::Sqlite, "/repo/app.db"));
        let u = DatabaseUrl::parse("sqlite:///var/app.db", base).unwrap();
        assert_eq!(u.target(), "/var/app.db");
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:", base)
                .unwrap()
                .target(),
            ":memory:"
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db", base)
                .unwrap()
                .backend(),
            Backend::Postgres
        );
        let u = DatabaseUrl::parse("mariadb://root@127.0.0.1/test", base).unwrap();
        assert_eq!(
            (u.backend(), u.target()),
            (Backend::Mysql, "mysql://root@127.0.0.1/test")
        );
        assert!(DatabaseUrl::parse("oracle://x", base).is_err());
        assert!(DatabaseUrl::parse("sqlite://", base).is_err());
    }

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(redact("postgres://app@db/prod"), "postgres://app@db/prod");
        let err = DatabaseUrl::parse("redis://u:pw@h", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw"), "{err}");
        let u = DatabaseUrl::parse("mysql://root:pw@h/db", Path::new("/")).unwrap();
        assert_eq!(u.to_string(), "mysql://root:***@h/db");
    }
}
