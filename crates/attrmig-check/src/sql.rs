//! Just enough SQL to find the statements that drop storage: a lexer that knows strings,
//! quoted identifiers and comments (a `DROP` in a comment or a string is no drop), a
//! splitter into statements that remembers each one's first line, and the few statement
//! shapes that remove storage.
//!
//! This is not a SQL parser, and it does not need to be: it recognises `DROP TABLE`,
//! `ALTER TABLE ... DROP [COLUMN]`, `UPDATE` and `DELETE FROM` in the spellings of
//! SQLite, PostgreSQL and MySQL, and says "something else" to everything else.

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A keyword, bare identifier or number, as written.
    Word(String),
    /// An identifier in `"double quotes"`, `` `backticks` `` or `[brackets]`.
    Quoted(String),
    /// A string literal's content (`'...'`, or PostgreSQL's `$tag$...$tag$`).
    Str(String),
    /// Anything else: one character, or an operator such as PostgreSQL's `#-`.
    Punct(String),
}

impl Token {
    /// Is this the keyword `kw` (case-insensitive)?
    pub(crate) fn is(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    /// Does this token name `ident`? Bare names compare case-insensitively, as every
    /// backend folds them; quoted names compare exactly.
    pub(crate) fn names(&self, ident: &str) -> bool {
        match self {
            Token::Word(w) => w.eq_ignore_ascii_case(ident),
            Token::Quoted(q) => q == ident,
            Token::Str(_) | Token::Punct(_) => false,
        }
    }

    /// The token as a reader would write it in a message.
    pub(crate) fn text(&self) -> &str {
        match self {
            Token::Word(s) | Token::Quoted(s) | Token::Str(s) | Token::Punct(s) => s,
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self, Token::Punct(s) if s == p)
    }

    fn is_name(&self) -> bool {
        matches!(self, Token::Word(_) | Token::Quoted(_))
    }
}

/// One statement: its tokens and the line its first token is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// 1-based line of the first token.
    pub line: usize,
    /// Its tokens, without the closing `;`.
    pub tokens: Vec<Token>,
}

/// Splits a SQL file into statements.
pub(crate) fn statements(text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = Statement {
        line: 0,
        tokens: Vec::new(),
    };
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
    };
    while let Some((line, token)) = lexer.next_token() {
        if token.is_punct(";") {
            if !current.tokens.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Statement {
                        line: 0,
                        tokens: Vec::new(),
                    },
                ));
            }
            continue;
        }
        if current.tokens.is_empty() {
            current.line = line;
        }
        current.tokens.push(token);
    }
    if !current.tokens.is_empty() {
        out.push(current);
    }
    out
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.at).copied()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    /// Reads up to `close`, where a doubled `close` stands for itself (`'it''s'`).
    fn quoted(&mut self, close: char) -> String {
        let mut s = String::new();
        while let Some(c) = self.bump() {
            if c == close {
                if self.peek(0) == Some(close) && close != ']' {
                    self.bump();
                    s.push(close);
                    continue;
                }
                break;
            }
            s.push(c);
        }
        s
    }

    /// `$tag$` at the cursor: the tag's length including both `$`, if it is one.
    fn dollar_tag(&self) -> Option<usize> {
        let mut n = 1;
        while let Some(c) = self.peek(n) {
            if c == '$' {
                return Some(n + 1);
            }
            // A tag is an identifier; `$1` is a parameter, not a quote.
            let ok = if n == 1 {
                c.is_alphabetic() || c == '_'
            } else {
                c.is_alphanumeric() || c == '_'
            };
            if !ok {
                return None;
            }
            n += 1;
        }
        None
    }

    fn next_token(&mut self) -> Option<(usize, Token)> {
        loop {
            let c = self.peek(0)?;
            if c.is_whitespace() {
                self.bump();
            } else if c == '-' && self.peek(1) == Some('-') {
                self.skip_line();
            } else if c == '#' && !matches!(self.peek(1), Some('-' | '>')) {
                // MySQL's line comment; `#-` and `#>` are PostgreSQL's JSON operators.
                self.skip_line();
            } else if c == '/' && self.peek(1) == Some('*') {
                self.bump();
                self.bump();
                while self.peek(0).is_some()
                    && !(self.peek(0) == Some('*') && self.peek(1) == Some('/'))
                {
                    self.bump();
                }
                self.bump();
                self.bump();
            } else {
                break;
            }
        }
        let line = self.line;
        let c = self.bump()?;
        let token = match c {
            '\'' => Token::Str(self.quoted('\'')),
            '"' => Token::Quoted(self.quoted('"')),
            '`' => Token::Quoted(self.quoted('`')),
            '[' => Token::Quoted(self.quoted(']')),
            '$' => match self.dollar_tag_from_prev() {
                Some(tag) => Token::Str(self.until(&tag)),
                None => Token::Punct("$".into()),
            },
            '#' => {
                let op = self
                    .bump()
                    .map(|n| format!("#{n}"))
                    .unwrap_or_else(|| "#".into());
                Token::Punct(op)
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut w = String::from(c);
                while let Some(n) = self
                    .peek(0)
                    .filter(|n| n.is_alphanumeric() || *n == '_' || *n == '$')
                {
                    w.push(n);
                    self.bump();
                }
                Token::Word(w)
            }
            c => Token::Punct(c.to_string()),
        };
        Some((line, token))
    }

    /// After consuming a `$`: whether it opened `$tag$`, consuming the rest of the tag.
    fn dollar_tag_from_prev(&mut self) -> Option<String> {
        self.at -= 1;
        let len = self.dollar_tag();
        let tag: Option<String> = len.map(|n| self.chars[self.at..self.at + n].iter().collect());
        self.at += len.unwrap_or(1);
        tag
    }

    /// Reads up to and past `tag`, returning what was between.
    fn until(&mut self, tag: &str) -> String {
        let tag: Vec<char> = tag.chars().collect();
        let mut s = String::new();
        while self.peek(0).is_some() {
            if self.chars[self.at..].starts_with(&tag) {
                for _ in 0..tag.len() {
                    self.bump();
                }
                break;
            }
            if let Some(c) = self.bump() {
                s.push(c);
            }
        }
        s
    }
}

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

impl Statement {
    /// Classifies the statement.
    pub(crate) fn shape(&self) -> Shape<'_> {
        let t = &self.tokens;
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

    fn words(s: &Statement) -> Vec<&str> {
        s.tokens.iter().map(Token::text).collect()
    }

    #[test]
    fn splits_statements_and_keeps_their_first_line() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE a (x int);\n\n/* block;\n comment */ DROP TABLE a;\nSELECT ';', $$ ; $$, $body$ x; $body$";
        let s = statements(sql);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].line, s[1].line, s[2].line), (2, 5, 6));
        assert_eq!(words(&s[1]), ["DROP", "TABLE", "a"]);
        assert_eq!(words(&s[2]), ["SELECT", ";", ",", " ; ", ",", " x; "]);
    }

    #[test]
    fn strings_comments_and_quotes_are_not_code() {
        let s = statements(
            "INSERT INTO notes VALUES ('DROP TABLE users; it''s fine'); # DROP TABLE users\n",
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].shape(), Shape::Other);
        let s = statements(r#"DROP TABLE "Users", `users`, [dbo].[users]"#);
        let Shape::DropTables(tables) = s[0].shape() else {
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
        let shape_of = |sql: &str| format!("{:?}", statements(sql)[0].shape());
        assert!(shape_of("drop table if exists public.users cascade").contains("Word(\"users\")"));
        let s = statements(
            "ALTER TABLE IF EXISTS ONLY app.users DROP COLUMN IF EXISTS full_name, DROP nickname, DROP CONSTRAINT c, ALTER COLUMN x DROP NOT NULL, ADD CHECK (a IN (1, 2))",
        );
        let Shape::DropColumns { table, columns } = s[0].shape() else {
            panic!()
        };
        assert_eq!(table.text(), "users");
        assert_eq!(
            columns.iter().map(|t| t.text()).collect::<Vec<_>>(),
            ["full_name", "nickname"]
        );
        let s = statements("UPDATE users SET attrs = attrs #- '{full_name}'");
        let Shape::Update { table, rest } = s[0].shape() else {
            panic!()
        };
        assert_eq!(table.text(), "users");
        assert!(rest.contains(&Token::Punct("#-".into())));
        let s = statements("DELETE FROM user_attributes WHERE name = 'full_name'");
        assert!(matches!(s[0].shape(), Shape::Delete { .. }));
        assert_eq!(
            statements("DROP INDEX users_full_name")[0].shape(),
            Shape::Other
        );
        assert_eq!(
            statements("SELECT $1")[0].tokens[1],
            Token::Punct("$".into())
        );
    }
}
