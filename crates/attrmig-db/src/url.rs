//! Database URLs: which backend, and how to show the URL without its password.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::secret;

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
    /// A server URL whose user name, password or host a driver would misread.
    #[error("`{shown}` is not a valid database URL: {problem}")]
    Malformed {
        /// The URL, password hidden.
        shown: String,
        /// What is wrong, naming no part of the password.
        problem: String,
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
    ///
    /// Its password is remembered, so that no message printed later shows it
    /// ([`crate::secret`]); a server URL whose credentials or host a driver would misread
    /// (and quote back, password and all) is refused before any driver sees it.
    pub fn parse(url: &str, base: &Path) -> Result<DatabaseUrl, UrlError> {
        let url = url.trim();
        secret::remember(url);
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
        let server = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            DatabaseUrl {
                backend: Backend::Postgres,
                target: url.to_owned(),
            }
        } else if lower.starts_with("mysql://") {
            DatabaseUrl {
                backend: Backend::Mysql,
                target: url.to_owned(),
            }
        } else if let Some(rest) = strip_any(url, &lower, &["mariadb://"]) {
            DatabaseUrl {
                backend: Backend::Mysql,
                target: format!("mysql://{rest}"),
            }
        } else {
            return Err(UrlError::UnknownScheme { shown: redact(url) });
        };
        match secret::check_credentials(&server.target) {
            Some(problem) => Err(UrlError::Malformed {
                shown: server.to_string(),
                problem,
            }),
            None => Ok(server),
        }
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

/// Hides the password in `scheme://user:password@host/...` and in `password=` parameters
/// (of a URL's query or a libpq keyword string).
pub fn redact(url: &str) -> String {
    secret::mask_url(url)
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
        let err = DatabaseUrl::parse("host=h password=Kq2", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("Kq2"), "{err}");
        let err = DatabaseUrl::parse("postgres://a:Kq%3@[::1/db", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`postgres://a:***@[::1/db` is not a valid database URL"),
            "{err}"
        );
        assert!(!err.contains("Kq"), "{err}");
    }
}
