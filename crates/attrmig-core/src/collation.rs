//! Which text keys a column's collation calls equal, and whether two collations agree.
//!
//! A key joins old and new storage: when the new key's collation calls two old keys
//! equal (`utf8mb4_general_ci`: 'alice' = 'ALICE'), the upsert of one overwrites the
//! other and the sync can never converge. Step 1 refuses such a pair and
//! `ddl prepare-storage` gives the new key the old key's collation.
//!
//! The rule is deliberately strict: two collations agree when both call two strings
//! equal only when their bytes are (PostgreSQL's deterministic collations, whatever they
//! sort by; SQLite's `BINARY`), or when they are the same collation (same name and
//! character set). Anything else is refused with both names: MySQL's `utf8mb4_bin` and
//! `utf8mb4_0900_bin` differ on trailing spaces, `NOCASE` and `BINARY` on case.

use serde::Serialize;

/// A text column's collation, as the database reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collation {
    /// Its name: `utf8mb4_bin`, `NOCASE`, `default`, `und-x-icu`.
    pub name: String,
    /// MySQL/MariaDB: the column's character set (`utf8mb4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// PostgreSQL: the collation's schema when it is not `pg_catalog` (a user's
    /// `CREATE COLLATION`), which DDL must name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Calls two strings equal only when their bytes are equal: PostgreSQL's
    /// `collisdeterministic`, SQLite's `BINARY`; never on MySQL/MariaDB, whose `_bin`
    /// collations still pad trailing spaces (the name decides there).
    pub deterministic: bool,
}

impl Collation {
    /// A SQLite collation by name (`BINARY` when a column has no `COLLATE`).
    pub fn sqlite(name: &str) -> Collation {
        Collation {
            name: name.to_owned(),
            charset: None,
            schema: None,
            deterministic: name.eq_ignore_ascii_case("binary"),
        }
    }

    /// How a message names it: `utf8mb4_bin (utf8mb4)`, `NOCASE`.
    pub fn describe(&self) -> String {
        let name = match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        };
        match &self.charset {
            Some(cs) => format!("{name} ({cs})"),
            None => name,
        }
    }
}

/// Whether a key collated `old` and one collated `new` call the same keys equal, as far
/// as can be known without trying every string. A column without a collation (not
/// text) agrees with anything: the key types decide then.
pub fn agree(old: Option<&Collation>, new: Option<&Collation>) -> bool {
    match (old, new) {
        (Some(o), Some(n)) => {
            (o.deterministic && n.deterministic)
                || (o.name.eq_ignore_ascii_case(&n.name)
                    && o.schema == n.schema
                    && o.charset == n.charset
                    && o.deterministic == n.deterministic)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(name: &str) -> Collation {
        Collation {
            name: name.into(),
            charset: Some("utf8mb4".into()),
            schema: None,
            deterministic: false,
        }
    }

    fn pg(name: &str, deterministic: bool) -> Collation {
        Collation {
            name: name.into(),
            charset: None,
            schema: None,
            deterministic,
        }
    }

    #[test]
    fn binary_and_case_insensitive_disagree_everywhere() {
        assert!(!agree(
            Some(&mysql("utf8mb4_bin")),
            Some(&mysql("utf8mb4_general_ci"))
        ));
        assert!(agree(
            Some(&mysql("utf8mb4_bin")),
            Some(&mysql("utf8mb4_bin"))
        ));
        assert!(!agree(
            Some(&mysql("utf8mb4_bin")),
            Some(&mysql("utf8mb4_0900_bin"))
        ));
        assert!(!agree(
            Some(&Collation::sqlite("NOCASE")),
            Some(&Collation::sqlite("BINARY"))
        ));
        assert!(agree(
            Some(&Collation::sqlite("NOCASE")),
            Some(&Collation::sqlite("nocase"))
        ));
        assert!(agree(
            Some(&Collation::sqlite("BINARY")),
            Some(&Collation::sqlite("binary"))
        ));
        assert!(!agree(Some(&pg("ci", false)), Some(&pg("C", true))));
        assert!(!agree(Some(&pg("ci", false)), Some(&pg("ci2", false))));
        assert!(agree(Some(&pg("ci", false)), Some(&pg("ci", false))));
    }

    #[test]
    fn deterministic_postgres_collations_agree_on_equality() {
        assert!(agree(Some(&pg("default", true)), Some(&pg("C", true))));
        assert!(agree(Some(&pg("en_US", true)), Some(&pg("C", true))));
        assert!(agree(None, Some(&mysql("utf8mb4_bin"))));
    }
}
