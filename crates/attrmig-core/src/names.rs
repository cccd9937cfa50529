//! Names resolved as the backend resolves them, so that a plan may write a name the way
//! the database accepts it and every tool then uses the database's own spelling.
//!
//! - SQLite: table and column names are case-insensitive (`albumid` is `AlbumId`).
//! - MySQL/MariaDB: column names are case-insensitive always; table names follow
//!   `lower_case_table_names` (0: exact, as on Linux by default; 1 or 2:
//!   case-insensitive).
//! - PostgreSQL: a name is taken as the database spells it (as if quoted: `Customer`
//!   is Chinook's `"Customer"`); when no object is spelled so, as an unquoted name,
//!   which PostgreSQL folds to lower case (`Users` is `users`).
//!
//! The spelling written exactly always wins; a fold that matches two names (possible
//! only on PostgreSQL, `"Users"` and `users`, where the exact one wins) is not guessed.

/// How a backend matches a name that is not spelled exactly as the database has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folding {
    /// Only the exact spelling (MySQL tables with `lower_case_table_names = 0`).
    Exact,
    /// Any spelling that differs only in ASCII case (SQLite; MySQL columns).
    CaseInsensitive,
    /// The name folded to lower case, as PostgreSQL folds an unquoted name.
    LowerCase,
}

/// The database's spelling of `wanted` among `spellings` (the names that exist), or
/// `None` when the backend would not accept `wanted` for any of them.
pub fn resolve<'a>(folding: Folding, wanted: &str, spellings: &[&'a str]) -> Option<&'a str> {
    if let Some(exact) = spellings.iter().find(|s| **s == wanted) {
        return Some(exact);
    }
    let mut matches = spellings.iter().filter(|s| match folding {
        Folding::Exact => false,
        Folding::CaseInsensitive => s.eq_ignore_ascii_case(wanted),
        Folding::LowerCase => **s == wanted.to_ascii_lowercase(),
    });
    let first = matches.next()?;
    // Two spellings that differ only in case: the backend itself would not know which.
    matches.next().is_none().then_some(*first)
}

/// SQLite: attrmig opens one database file and attaches none, so a table is in `main`
/// (which a plan may say) or nowhere it can see.
pub fn sqlite_schemas(plan: &crate::Plan) -> Result<(), crate::Refusal> {
    for (role, table) in [("old", plan.old.table()), ("new", &plan.new.table)] {
        if let Some(schema) = &table.schema
            && !schema.as_str().eq_ignore_ascii_case("main")
        {
            return Err(crate::Refusal::SqliteSchema {
                role,
                schema: schema.to_string(),
                table: table.name.to_string(),
                id: plan.id.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_folds_as_it_does() {
        let sqlite = ["AlbumId", "Title"];
        assert_eq!(
            resolve(Folding::CaseInsensitive, "albumid", &sqlite),
            Some("AlbumId")
        );
        assert_eq!(resolve(Folding::CaseInsensitive, "album", &sqlite), None);
        assert_eq!(resolve(Folding::Exact, "albumid", &sqlite), None);
        assert_eq!(resolve(Folding::Exact, "AlbumId", &sqlite), Some("AlbumId"));
        // PostgreSQL: as spelled, else as an unquoted name folds.
        let pg = ["Customer", "users"];
        assert_eq!(
            resolve(Folding::LowerCase, "Customer", &pg),
            Some("Customer")
        );
        assert_eq!(resolve(Folding::LowerCase, "customer", &pg), None);
        assert_eq!(resolve(Folding::LowerCase, "Users", &pg), Some("users"));
        assert_eq!(
            resolve(Folding::LowerCase, "Users", &["Users", "users"]),
            Some("Users")
        );
        assert_eq!(
            resolve(Folding::CaseInsensitive, "users", &["Users", "USERS"]),
            None
        );
    }
}
