//! The few statement shapes that remove storage, over the tokens of
//! [`attrmig_core::sql_text`] (which knows strings, quoted identifiers and comments: a
//! `DROP` in a comment or a string is no drop).
//!
//! This is not a SQL parser, and it does not need to be: it recognises `DROP TABLE`,
//! `ALTER TABLE ... DROP [COLUMN]`, `UPDATE` and `DELETE FROM` in the spellings of
//! SQLite, PostgreSQL and MySQL, and says "something else" to everything else.

pub(crate) use attrmig_core::sql_text::{Statement, Token, statements};

/// What a statement does, as far as dropping storage goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape<'a> {
    /// `DROP TABLE a, b`: the last part of each (possibly schema-qualified) name.
    DropTables(Vec<&'a Token>),
    /// `ALTER TABLE t DROP COLUMN a, DROP b`: the table and the columns dropped.
    DropColumns {
        /// The table.
        table: &'a Token,
        /// The columns.
        columns: Vec<&'a Token>,
    },
    /// `UPDATE t ...`: the table and the tokens after its name.
    Update {
        /// The table.
        table: &'a Token,
        /// Everything after the name (`SET ... WHERE ...`).
        rest: &'a [Token],
    },
    /// `DELETE FROM t ...`: the table and the tokens after its name.
    Delete {
        /// The table.
        table: &'a Token,
        /// Everything after the name.
        rest: &'a [Token],
    },
    /// Anything else.
    Other,
}

/// A possibly schema-qualified name starting at `i`: its last part and the index after it.
fn qualified_name(tokens: &[Token], mut i: usize) -> Option<(&Token, usize)> {
    let mut last = tokens.get(i).filter(|t| t.is_name())?;
    i += 1;
    while tokens.get(i).is_some_and(|t| t.is_punct(".")) {
        last = tokens.get(i + 1).filter(|t| t.is_name())?;
        i += 2;
    }
    Some((last, i))
}

/// Skips the optional words `words` (in that order) at `i`.
fn skip_words(tokens: &[Token], mut i: usize, words: &[&str]) -> usize {
    for w in words {
        if tokens.get(i).is_some_and(|t| t.is(w)) {
            i += 1;
        }
    }
    i
}

fn skip_if_exists(tokens: &[Token], i: usize) -> usize {
    if tokens.get(i).is_some_and(|t| t.is("if"))
        && tokens.get(i + 1).is_some_and(|t| t.is("exists"))
    {
        i + 2
    } else {
        i
    }
}

/// What follows `DROP` in an `ALTER TABLE` action when it is not a column.
const NOT_A_COLUMN: &[&str] = &[
    "constraint",
    "index",
    "key",
    "primary",
    "foreign",
    "check",
    "default",
    "partition",
    "unique",
    "fulltext",
    "spatial",
    "trigger",
    "expression",
    "identity",
    "not",
    "period",
    "system",
];

/// Classifies a statement.
pub(crate) fn shape(statement: &Statement) -> Shape<'_> {
    let t = &statement.tokens;
    let first = |w: &str| t.first().is_some_and(|x| x.is(w));
    if first("drop") {
        let i = skip_words(t, 1, &["temporary"]);
        if !t.get(i).is_some_and(|x| x.is("table")) {
            return Shape::Other;
        }
        let mut i = skip_if_exists(t, i + 1);
        let mut tables = Vec::new();
        while let Some((name, next)) = qualified_name(t, i) {
            tables.push(name);
            if !t.get(next).is_some_and(|x| x.is_punct(",")) {
                break;
            }
            i = next + 1;
        }
        return Shape::DropTables(tables);
    }
    if first("alter") {
        // `ALTER TABLE`, and MySQL's `ALTER [ONLINE] [IGNORE] TABLE`.
        let i = skip_words(t, 1, &["online", "ignore"]);
        if !t.get(i).is_some_and(|x| x.is("table")) {
            return Shape::Other;
        }
        let i = skip_words(t, skip_if_exists(t, i + 1), &["only"]);
        let Some((table, i)) = qualified_name(t, i) else {
            return Shape::Other;
        };
        let columns = actions(&t[i..]).filter_map(dropped_column).collect();
        return Shape::DropColumns { table, columns };
    }
    if first("update") {
        let i = skip_words(t, 1, &["only", "low_priority", "ignore"]);
        return match qualified_name(t, i) {
            Some((table, i)) => Shape::Update {
                table,
                rest: &t[i..],
            },
            None => Shape::Other,
        };
    }
    if first("delete") {
        let i = skip_words(t, 1, &["low_priority", "quick", "ignore"]);
        if !t.get(i).is_some_and(|x| x.is("from")) {
            return Shape::Other;
        }
        let i = skip_words(t, i + 1, &["only"]);
        return match qualified_name(t, i) {
            Some((table, i)) => Shape::Delete {
                table,
                rest: &t[i..],
            },
            None => Shape::Other,
        };
    }
    Shape::Other
}

/// The comma-separated actions of an `ALTER TABLE`, commas inside parentheses excepted.
fn actions(tokens: &[Token]) -> impl Iterator<Item = &[Token]> {
    let mut depth = 0i32;
    tokens.split(move |t| {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth -= 1;
        }
        depth == 0 && t.is_punct(",")
    })
}

/// `DROP [COLUMN] [IF EXISTS] name`: the column, if the action drops one.
fn dropped_column(action: &[Token]) -> Option<&Token> {
    if !action.first().is_some_and(|t| t.is("drop")) {
        return None;
    }
    let i = skip_if_exists(action, skip_words(action, 1, &["column"]));
    let name = action.get(i).filter(|t| t.is_name())?;
    if matches!(name, Token::Word(w) if NOT_A_COLUMN.iter().any(|k| w.eq_ignore_ascii_case(k))) {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_comments_and_quotes_are_not_code() {
        let s = statements(
            "INSERT INTO notes VALUES ('DROP TABLE users; it''s fine'); # DROP TABLE users\n",
        );
        assert_eq!(s.len(), 1);
        assert_eq!(shape(&s[0]), Shape::Other);
        let s = statements(r#"DROP TABLE "Users", `users`, [dbo].[users]"#);
        let Shape::DropTables(tables) = shape(&s[0]) else {
            panic!()
        };
        assert_eq!(
            tables.iter().map(|t| t.text()).collect::<Vec<_>>(),
            ["Users", "users", "users"]
        );
        assert!(!tables[0].names("users"), "a quoted name is exact");
        assert!(
            Token::Word("USERS".into()).names("users"),
            "a bare name folds"
        );
    }

    #[test]
    fn recognises_drop_shapes() {
        let shape_of = |sql: &str| format!("{:?}", shape(&statements(sql)[0]));
        assert!(shape_of("drop table if exists public.users cascade").contains("Word(\"users\")"));
        let s = statements(
            "ALTER TABLE IF EXISTS ONLY app.users DROP COLUMN IF EXISTS full_name, DROP nickname, DROP CONSTRAINT c, ALTER COLUMN x DROP NOT NULL, ADD CHECK (a IN (1, 2))",
        );
        let Shape::DropColumns { table, columns } = shape(&s[0]) else {
            panic!()
        };
        assert_eq!(table.text(), "users");
        assert_eq!(
            columns.iter().map(|t| t.text()).collect::<Vec<_>>(),
            ["full_name", "nickname"]
        );
        let s = statements("UPDATE users SET attrs = attrs #- '{full_name}'");
        let Shape::Update { table, rest } = shape(&s[0]) else {
            panic!()
        };
        assert_eq!(table.text(), "users");
        assert!(rest.contains(&Token::Punct("#-".into())));
        let s = statements("DELETE FROM user_attributes WHERE name = 'full_name'");
        assert!(matches!(shape(&s[0]), Shape::Delete { .. }));
        assert_eq!(
            shape(&statements("DROP INDEX users_full_name")[0]),
            Shape::Other
        );
        assert_eq!(
            statements("SELECT $1")[0].tokens[1],
            Token::Punct("$".into())
        );
    }
}
