//! Just enough SQL lexing to read definitions and migration files: a lexer that knows
//! strings (including PostgreSQL's `$tag$...$tag$`), quoted identifiers and comments, and
//! a splitter into statements that remembers each one's first line.
//!
//! This is not a SQL parser. `attrmig check` uses it to recognise statements that drop
//! storage, and dependents introspection to see whether a view's, trigger's or routine's
//! text names the old attribute (a heuristic, and said to be one wherever it decides).

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
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
    pub fn is(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    /// Does this token name `ident`? Bare names compare case-insensitively, as every
    /// backend folds them; quoted names compare exactly.
    pub fn names(&self, ident: &str) -> bool {
        match self {
            Token::Word(w) => w.eq_ignore_ascii_case(ident),
            Token::Quoted(q) => q == ident,
            Token::Str(_) | Token::Punct(_) => false,
        }
    }

    /// The token as a reader would write it in a message.
    pub fn text(&self) -> &str {
        match self {
            Token::Word(s) | Token::Quoted(s) | Token::Str(s) | Token::Punct(s) => s,
        }
    }

    /// Is this the punctuation `p`?
    pub fn is_punct(&self, p: &str) -> bool {
        matches!(self, Token::Punct(s) if s == p)
    }

    /// Is this a name (bare or quoted)?
    pub fn is_name(&self) -> bool {
        matches!(self, Token::Word(_) | Token::Quoted(_))
    }
}

/// One statement: its tokens and the line its first token is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 1-based line of the first token.
    pub line: usize,
    /// Its tokens, without the closing `;`.
    pub tokens: Vec<Token>,
}

/// Splits a SQL file into statements.
pub fn statements(text: &str) -> Vec<Statement> {
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

/// A token and the bytes of the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    /// The token.
    pub token: Token,
    /// Where it lies in the text, in bytes: `&text[span]` is the token as written.
    pub span: std::ops::Range<usize>,
}

/// Every token of `text` with where it lies, for cutting pieces of the text out as
/// written (a CHECK expression from a `CREATE TABLE`).
pub fn spanned(text: &str) -> Vec<Spanned> {
    let chars: Vec<char> = text.chars().collect();
    // Byte offset of each character, and of the end.
    let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    offsets.push(text.len());
    let mut lexer = Lexer {
        chars,
        at: 0,
        line: 1,
    };
    let mut out = Vec::new();
    while let Some((_, start, token)) = lexer.next_spanned() {
        out.push(Spanned {
            token,
            span: offsets[start]..offsets[lexer.at.min(offsets.len() - 1)],
        });
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

    /// The next token, with its line and the index of its first character.
    fn next_token(&mut self) -> Option<(usize, Token)> {
        self.next_spanned().map(|(line, _, token)| (line, token))
    }

    fn next_spanned(&mut self) -> Option<(usize, usize, Token)> {
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
        let start = self.at;
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
        Some((line, start, token))
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
    fn spans_cut_the_text_as_written() {
        let text = "CHECK (\"Composer\" <> 'é''s') -- done";
        let tokens = spanned(text);
        let texts: Vec<&str> = tokens.iter().map(|t| &text[t.span.clone()]).collect();
        assert_eq!(
            texts,
            ["CHECK", "(", "\"Composer\"", "<", ">", "'é''s'", ")"]
        );
    }

    #[test]
    fn names_fold_bare_and_keep_quoted() {
        let s = statements(r#"SELECT "Users", `users`, [users], USERS, 'users'"#);
        let t = &s[0].tokens;
        assert!(!t[1].names("users"), "a quoted name is exact");
        assert!(t[3].names("users") && t[5].names("users"));
        assert!(t[7].names("users"), "a bare name folds");
        assert!(!t[9].names("users"), "a string is no name");
    }
}
