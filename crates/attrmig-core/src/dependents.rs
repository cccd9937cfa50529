//! What the database itself does with old storage: the views, rules, triggers, routines,
//! generated columns, indexes, constraints, policies and publications that name the old
//! attribute (its **dependents**), as `attrmig-db` introspects them, and the text match
//! that finds those no catalogue records (a PL/pgSQL body, a MySQL view, a SQLite
//! trigger).
//!
//! Each [`Dependent`] says what it does with the attribute ([`Access`]), how it was found
//! ([`FoundBy`]: a dependency the database records, or a match of its definition's text,
//! which is a heuristic), and what dropping the old column does to it ([`OnDrop`]), so that
//! a refusal can be exact and honest about its evidence.
//!
//! Objects attrmig itself creates are named with [`OWN_PREFIX`] and are never dependents.

use serde::Serialize;

use crate::plan::OldStorage;
use crate::sql_text::{Statement, Token, statements};

/// The prefix of every schema object attrmig creates (its state tables, the indexes
/// `ddl prepare-storage` proposes): such objects are never reported as dependents.
pub const OWN_PREFIX: &str = "attrmig_";

/// Was this object created by attrmig (named with [`OWN_PREFIX`])?
pub fn is_own(name: &str) -> bool {
    name.len() >= OWN_PREFIX.len()
        && name.as_bytes()[..OWN_PREFIX.len()].eq_ignore_ascii_case(OWN_PREFIX.as_bytes())
}

/// What kind of database object a dependent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DependentKind {
    /// A view.
    View,
    /// A PostgreSQL materialized view.
    MaterializedView,
    /// A PostgreSQL rule (other than a view's own).
    Rule,
    /// A row-level security policy.
    Policy,
    /// A function (not a trigger's: those are reported as their triggers).
    Function,
    /// A stored procedure.
    Procedure,
    /// A trigger, with the function it runs where the backend has one.
    Trigger,
    /// A MySQL/MariaDB scheduled event.
    Event,
    /// A generated (computed) column.
    GeneratedColumn,
    /// An index (`unique` says whether it is one).
    Index,
    /// A UNIQUE constraint.
    Unique,
    /// A primary key.
    PrimaryKey,
    /// A CHECK constraint.
    Check,
    /// A foreign key from the old column to another table.
    ForeignKey,
    /// Another table's foreign key that references the old column.
    ReferencingForeignKey,
    /// A PostgreSQL exclusion constraint.
    Exclusion,
    /// A PostgreSQL publication whose column list names the column.
    Publication,
    /// PostgreSQL extended statistics.
    Statistics,
    /// Anything else the catalogue records (its description says what).
    Other,
}

impl DependentKind {
    /// The kind in words, as a message names it.
    pub fn noun(self) -> &'static str {
        match self {
            DependentKind::View => "view",
            DependentKind::MaterializedView => "materialized view",
            DependentKind::Rule => "rule",
            DependentKind::Policy => "policy",
            DependentKind::Function => "function",
            DependentKind::Procedure => "procedure",
            DependentKind::Trigger => "trigger",
            DependentKind::Event => "event",
            DependentKind::GeneratedColumn => "generated column",
            DependentKind::Index => "index",
            DependentKind::Unique => "unique constraint",
            DependentKind::PrimaryKey => "primary key",
            DependentKind::Check => "CHECK constraint",
            DependentKind::ForeignKey | DependentKind::ReferencingForeignKey => "foreign key",
            DependentKind::Exclusion => "exclusion constraint",
            DependentKind::Publication => "publication",
            DependentKind::Statistics => "statistics object",
            DependentKind::Other => "object",
        }
    }

    /// Objects that read or write on their own when something happens (a trigger fires,
    /// a routine or an event is called): writers no application deploy removes.
    pub fn is_code(self) -> bool {
        matches!(
            self,
            DependentKind::Trigger
                | DependentKind::Function
                | DependentKind::Procedure
                | DependentKind::Event
        )
    }

    /// Objects that serve the attribute to whoever selects from them or is filtered by
    /// them: readers the application's switch to new storage does not switch.
    pub fn serves_reads(self) -> bool {
        matches!(
            self,
            DependentKind::View
                | DependentKind::MaterializedView
                | DependentKind::Rule
                | DependentKind::Policy
                | DependentKind::Function
                | DependentKind::Procedure
        )
    }

    /// Indexes and constraints: dropped by a statement of their own, not redefined.
    pub fn is_constraint(self) -> bool {
        matches!(
            self,
            DependentKind::Index
                | DependentKind::Unique
                | DependentKind::PrimaryKey
                | DependentKind::Check
                | DependentKind::ForeignKey
                | DependentKind::ReferencingForeignKey
                | DependentKind::Exclusion
        )
    }

    /// Foreign keys either way.
    pub fn is_foreign_key(self) -> bool {
        matches!(
            self,
            DependentKind::ForeignKey | DependentKind::ReferencingForeignKey
        )
    }
}

/// What a dependent does with the old attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Reads it (a view, a policy, a trigger copying `NEW.col` elsewhere).
    Reads,
    /// Writes it (`UPDATE old SET col = ...`, `SET NEW.col = ...`).
    Writes,
    /// Both.
    ReadsWrites,
    /// Indexes or constrains it (indexes, CHECK, UNIQUE, foreign keys).
    Constrains,
    /// For JSON and EAV old storage: names the document column or the EAV table, but its
    /// text does not name the attribute (a key or a name it does not spell out is not
    /// seen).
    NamesStorage,
}

impl Access {
    /// Reads the attribute.
    pub fn reads(self) -> bool {
        matches!(self, Access::Reads | Access::ReadsWrites)
    }

    /// Writes the attribute.
    pub fn writes(self) -> bool {
        matches!(self, Access::Writes | Access::ReadsWrites)
    }

    /// Does anything with the attribute itself.
    pub fn touches_attribute(self) -> bool {
        !matches!(self, Access::NamesStorage)
    }

    fn join(self, other: Access) -> Access {
        match (
            self.reads() || other.reads(),
            self.writes() || other.writes(),
        ) {
            (true, true) => Access::ReadsWrites,
            (true, false) => Access::Reads,
            (false, true) => Access::Writes,
            (false, false) if self == Access::Constrains || other == Access::Constrains => {
                Access::Constrains
            }
            (false, false) => Access::NamesStorage,
        }
    }
}

/// How a dependent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// The database's catalogue records the dependency (PostgreSQL's `pg_depend`, an
    /// index's or a foreign key's column list): exact.
    Catalogue,
    /// Its definition's text names the attribute: a heuristic, which can be wrong both
    /// ways (a same-named column of another table; SQL built at run time).
    TextMatch,
}

/// What `ALTER TABLE ... DROP COLUMN` (never with CASCADE) does to a dependent, on the
/// backend it was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDrop {
    /// Dropped along with the column (by the database, or on SQLite by `ddl drop-old`,
    /// which drops such an index first).
    DroppedWith,
    /// Kept without the column (MySQL/MariaDB remove the column from a multi-column
    /// index).
    Altered,
    /// The database refuses the drop while it exists.
    Blocks,
    /// The drop succeeds and it fails afterwards (a MySQL view, a trigger's body).
    Breaks,
    /// `ddl drop-old` does not drop a column (JSON and EAV kinds remove values).
    Unaffected,
}

impl OnDrop {
    /// Stands in the way of dropping old storage cleanly.
    pub fn is_obstacle(self) -> bool {
        matches!(self, OnDrop::Blocks | OnDrop::Breaks)
    }
}

/// One object of the database that names the old attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    /// What it is.
    pub kind: DependentKind,
    /// Its name as the database knows it (`customer_list`, `g(integer)`).
    pub name: String,
    /// The table it belongs to, for objects that live on one (triggers, indexes,
    /// constraints, policies, rules, generated columns).
    pub table: Option<String>,
    /// For indexes and constraints: their columns in order, where the catalogue lists
    /// them (an expression has none).
    pub columns: Vec<String>,
    /// A unique index or constraint.
    pub unique: bool,
    /// What it does with the attribute.
    pub access: Access,
    /// How it was found.
    pub found_by: FoundBy,
    /// What dropping the old column does to it.
    pub on_drop: OnDrop,
    /// The function a trigger runs, or the referenced table of a foreign key: what a
    /// person needs to find it.
    pub via: Option<String>,
    /// For CHECK constraints: whether the database evaluates it true or unknown (accepts)
    /// or false (refuses) on the value a write leaving the attribute out stores (its
    /// default, or NULL); `None` when it also names other columns, so the value alone
    /// can't decide.
    pub accepts_absent: Option<bool>,
    /// The statement that drops it in place, in the backend's dialect (`ALTER TABLE
    /// "store" DROP CONSTRAINT "fk_store_address"`); `None` where the backend has none
    /// (SQLite can't drop a constraint without rebuilding the table) or its name can't
    /// be written safely.
    pub drop_statement: Option<String>,
}

impl Dependent {
    /// A dependent with the common fields; the rest at their defaults.
    pub fn new(
        kind: DependentKind,
        name: impl Into<String>,
        access: Access,
        found_by: FoundBy,
        on_drop: OnDrop,
    ) -> Dependent {
        Dependent {
            kind,
            name: name.into(),
            table: None,
            columns: Vec::new(),
            unique: false,
            access,
            found_by,
            on_drop,
            via: None,
            accepts_absent: None,
            drop_statement: None,
        }
    }

    /// On `table`.
    pub fn on(mut self, table: impl Into<String>) -> Dependent {
        self.table = Some(table.into());
        self
    }

    /// Over these columns.
    pub fn columns(mut self, columns: Vec<String>) -> Dependent {
        self.columns = columns;
        self
    }

    /// Found through `via` (a trigger's function, a foreign key's other table).
    pub fn via(mut self, via: impl Into<String>) -> Dependent {
        self.via = Some(via.into());
        self
    }

    /// The object in words: `view customer_list`, `trigger ins_film on film`,
    /// `index IX_TrackComposer on Track (Composer)`.
    pub fn describe(&self) -> String {
        let noun = match self.kind {
            DependentKind::Index if self.unique => "unique index",
            kind => kind.noun(),
        };
        let mut s = format!("{noun} {}", self.name);
        if let Some(table) = &self.table {
            s.push_str(&format!(" on {table}"));
        }
        if !self.columns.is_empty() {
            s.push_str(&format!(" ({})", self.columns.join(", ")));
        }
        match (&self.via, self.kind) {
            (Some(via), DependentKind::Trigger) => s.push_str(&format!(", running {via}")),
            (Some(via), DependentKind::ForeignKey) => s.push_str(&format!(" to {via}")),
            (Some(via), DependentKind::ReferencingForeignKey) => {
                s.push_str(&format!(" referencing {via}"))
            }
            (Some(via), _) => s.push_str(&format!(" ({via})")),
            (None, _) => {}
        }
        s
    }

    /// [`Dependent::describe`], marked when it rests on a text match.
    pub fn describe_with_evidence(&self) -> String {
        match self.found_by {
            FoundBy::Catalogue => self.describe(),
            FoundBy::TextMatch => format!("{} (a text match)", self.describe()),
        }
    }

    /// Stands in the way of dropping the old column: the database refuses the drop while
    /// it exists, or it breaks after it.
    pub fn stands_in_the_way(&self) -> bool {
        self.on_drop.is_obstacle() && self.access.touches_attribute()
    }

    /// Does `note` vouch for this dependent: name it (as a whole word; a function without
    /// its arguments), as a person overriding a text match must.
    pub fn named_in(&self, note: Option<&str>) -> bool {
        let name = self.name.split('(').next().unwrap_or(&self.name).trim();
        let Some(note) = note.filter(|_| !name.is_empty()) else {
            return false;
        };
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        note.match_indices(name).any(|(at, _)| {
            !word(note[..at].chars().next_back()) && !word(note[at + name.len()..].chars().next())
        })
    }
}

// --- text matching -----------------------------------------------------------------------

/// The old attribute, as a definition's text may name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// `table.column`.
    Column {
        /// The old table.
        table: &'a str,
        /// The old column.
        column: &'a str,
    },
    /// The key `key` (the path's first segment) in the document column `table.column`.
    JsonKey {
        /// The old table.
        table: &'a str,
        /// The document column.
        column: &'a str,
        /// The path's first segment.
        key: &'a str,
    },
    /// The rows named `name` of the EAV table `table`.
    EavName {
        /// The EAV table.
        table: &'a str,
        /// The attribute's name.
        name: &'a str,
    },
}

impl<'a> Attribute<'a> {
    /// The attribute of a plan's old storage.
    pub fn of(old: &'a OldStorage) -> Attribute<'a> {
        match old {
            OldStorage::Column { table, column, .. } => Attribute::Column {
                table: table.name.as_str(),
                column: column.as_str(),
            },
            OldStorage::Json {
                table,
                column,
                path,
                ..
            } => Attribute::JsonKey {
                table: table.name.as_str(),
                column: column.as_str(),
                key: path.segments().next().unwrap_or(path.as_str()),
            },
            OldStorage::Eav { table, name, .. } => Attribute::EavName {
                table: table.name.as_str(),
                name: name.as_str(),
            },
        }
    }

    /// The table holding it.
    pub fn table(self) -> &'a str {
        match self {
            Attribute::Column { table, .. }
            | Attribute::JsonKey { table, .. }
            | Attribute::EavName { table, .. } => table,
        }
    }
}

/// Where a definition's text sits, which decides what its bare names refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// An expression over a row of the old table (a CHECK, an index or generated
    /// column's expression, a policy): bare names are its columns.
    Row,
    /// The body of a trigger on the old table: `NEW.col` and `OLD.col` are its columns.
    TriggerOnTable,
    /// Anywhere else (a view, a routine, a trigger on another table): a name refers to
    /// the old table only where the statement names that table.
    Elsewhere,
}

/// What `text` does with `attribute`, by matching names: `None` when it does not name
/// the attribute's storage at all. A heuristic: it follows aliases (`address a ...
/// a.phone`), `NEW`/`OLD` in triggers and the assignment forms (`SET col =`, `:=`,
/// `INSERT INTO old (col)`), but not SQL built at run time.
pub fn mention(text: &str, attribute: Attribute<'_>, scope: Scope) -> Option<Access> {
    mention_in(&statements(text), attribute, scope)
}

/// [`mention`] over statements already split, each read on its own (aliases are a
/// statement's).
pub fn mention_in(
    statements: &[Statement],
    attribute: Attribute<'_>,
    scope: Scope,
) -> Option<Access> {
    statements
        .iter()
        .filter_map(|s| statement_mention(s, attribute, scope))
        .reduce(Access::join)
}

const TABLE_INTRO: &[&str] = &[
    "from", "join", "update", "into", "table", "only", "to", "on",
];

/// Words that end a FROM list's comma-separated items.
const END_OF_FROM: &[&str] = &[
    "where",
    "group",
    "having",
    "order",
    "limit",
    "union",
    "select",
    "window",
    "returning",
    "set",
    "values",
    "on",
    "using",
    "except",
    "intersect",
];

/// Words that follow a table name without being its alias.
const NOT_AN_ALIAS: &[&str] = &[
    "on",
    "where",
    "join",
    "left",
    "right",
    "inner",
    "outer",
    "full",
    "cross",
    "natural",
    "group",
    "order",
    "limit",
    "set",
    "values",
    "using",
    "union",
    "having",
    "window",
    "for",
    "lock",
    "returning",
    "select",
    "default",
    "with",
    "offset",
    "except",
    "intersect",
    "straight_join",
    "use",
    "force",
    "ignore",
    "partition",
    "tablesample",
    "begin",
    "end",
    "execute",
    "referencing",
    "when",
    "instead",
    "do",
    "also",
    "then",
    "else",
    "as",
    "before",
    "after",
];

fn is_word(t: Option<&Token>, words: &[&str]) -> bool {
    t.is_some_and(|t| words.iter().any(|w| t.is(w)))
}

/// The old table's references in one statement: where they are, and the names that
/// stand for it (the table's own and its aliases).
struct TableRefs {
    positions: Vec<usize>,
    names: Vec<String>,
}

fn table_refs(tokens: &[Token], table: &str) -> TableRefs {
    let mut refs = TableRefs {
        positions: Vec::new(),
        names: vec![table.to_ascii_lowercase()],
    };
    let mut in_from = false;
    for (i, t) in tokens.iter().enumerate() {
        if t.is("from") {
            in_from = true;
        } else if is_word(Some(t), END_OF_FROM) {
            in_from = false;
        }
        if !t.names(table) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        // `schema.table`: look before the schema.
        let intro_at = if prev.is_some_and(|p| p.is_punct(".")) {
            i.checked_sub(3)
        } else {
            i.checked_sub(1)
        };
        let intro = intro_at.and_then(|p| tokens.get(p));
        let introduced =
            is_word(intro, TABLE_INTRO) || (in_from && intro.is_some_and(|p| p.is_punct(",")));
        let next = tokens.get(i + 1);
        if !introduced || next.is_some_and(|n| n.is_punct(".")) {
            continue;
        }
        refs.positions.push(i);
        let alias = match next {
            Some(n) if n.is("as") => tokens.get(i + 2),
            Some(n) if n.is_name() && !is_word(Some(n), NOT_AN_ALIAS) => Some(n),
            _ => None,
        };
        if let Some(alias) = alias.filter(|a| a.is_name()) {
            refs.names.push(alias.text().to_ascii_lowercase());
        }
    }
    refs
}

fn stands_for(token: &Token, names: &[String]) -> bool {
    names.iter().any(|n| token.names(n))
}

/// The mentions of `column` in one statement, each read or written.
fn column_access(tokens: &[Token], refs: &TableRefs, column: &str, scope: Scope) -> Option<Access> {
    let table_named = !refs.positions.is_empty();
    let is_update_of_old = tokens.first().is_some_and(|t| t.is("update"))
        && refs.positions.first().is_some_and(|&p| p <= 3);
    let insert_columns = insert_column_range(tokens, refs);
    let mut found: Option<Access> = None;
    for (k, t) in tokens.iter().enumerate() {
        if !t.names(column) || !t.is_name() {
            continue;
        }
        let prev = k.checked_sub(1).and_then(|p| tokens.get(p));
        let next = tokens.get(k + 1);
        if next.is_some_and(|n| n.is_punct(".") || n.is_punct("("))
            || prev.is_some_and(|p| p.is("as"))
        {
            continue;
        }
        let start = if prev.is_some_and(|p| p.is_punct(".")) {
            let qualifier = k.checked_sub(2).and_then(|q| tokens.get(q));
            let pseudo_row = scope == Scope::TriggerOnTable
                && qualifier.is_some_and(|q| q.is("new") || q.is("old"));
            if !(pseudo_row || qualifier.is_some_and(|q| stands_for(q, &refs.names))) {
                continue;
            }
            k - 2
        } else {
            let update_of = scope == Scope::TriggerOnTable && trigger_update_of(tokens, k);
            if !(scope == Scope::Row || table_named || update_of) {
                continue;
            }
            k
        };
        let before = start.checked_sub(1).and_then(|p| tokens.get(p));
        let assigned = next.is_some_and(|n| n.is_punct(":"))
            && tokens.get(k + 2).is_some_and(|n| n.is_punct("="));
        let set_assigned = next.is_some_and(|n| n.is_punct("="))
            && (before.is_some_and(|b| b.is("set"))
                || (is_update_of_old && in_set_list(tokens, start)));
        let inserted = insert_columns.is_some_and(|(a, b)| a < k && k < b);
        let access = if assigned || set_assigned || inserted {
            Access::Writes
        } else {
            Access::Reads
        };
        found = Some(found.map_or(access, |f| f.join(access)));
    }
    found
}

/// `CREATE TRIGGER t AFTER UPDATE OF a, col ON old`: is position `at` in the OF list?
fn trigger_update_of(tokens: &[Token], at: usize) -> bool {
    let of = tokens[..at].iter().rposition(|t| t.is("of"));
    let on = tokens[..at].iter().rposition(|t| t.is("on"));
    match (of, on) {
        (Some(of), Some(on)) => of > on,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `UPDATE t SET a = 1, col = 2 WHERE ...`: is position `at` inside the SET list?
fn in_set_list(tokens: &[Token], at: usize) -> bool {
    let set = tokens[..at].iter().rposition(|t| t.is("set"));
    let wher = tokens[..at].iter().rposition(|t| t.is("where"));
    match (set, wher) {
        (Some(s), Some(w)) => s > w,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `INSERT INTO old (a, col) ...`: the positions of the column list's parentheses.
fn insert_column_range(tokens: &[Token], refs: &TableRefs) -> Option<(usize, usize)> {
    let &at = refs
        .positions
        .iter()
        .find(|&&p| p >= 1 && tokens[p - 1].is("into"))?;
    let open = at + 1;
    if !tokens.get(open).is_some_and(|t| t.is_punct("(")) {
        return None;
    }
    let close = tokens[open..].iter().position(|t| t.is_punct(")"))? + open;
    Some((open, close))
}

/// Does a string literal of the statement spell `key` (as `'key'`, `'$.key'`,
/// `'{key,sub}'`, `'$."key"'`)?
fn names_key(tokens: &[Token], key: &str) -> bool {
    tokens.iter().any(|t| match t {
        Token::Str(s) => s
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .any(|part| part == key),
        _ => false,
    })
}

fn statement_mention(
    statement: &Statement,
    attribute: Attribute<'_>,
    scope: Scope,
) -> Option<Access> {
    let tokens = &statement.tokens;
    let refs = table_refs(tokens, attribute.table());
    match attribute {
        Attribute::Column { column, .. } => column_access(tokens, &refs, column, scope),
        Attribute::JsonKey { column, key, .. } => {
            let access = column_access(tokens, &refs, column, scope)?;
            Some(if names_key(tokens, key) {
                access
            } else {
                Access::NamesStorage
            })
        }
        Attribute::EavName { name, .. } => {
            if refs.positions.is_empty() && scope == Scope::Elsewhere {
                return None;
            }
            if !tokens
                .iter()
                .any(|t| matches!(t, Token::Str(s) if s == name))
            {
                return Some(Access::NamesStorage);
            }
            let writes = tokens
                .first()
                .is_some_and(|t| t.is("insert") || t.is("update") || t.is("delete"))
                && refs.positions.first().is_some_and(|&p| p <= 3);
            Some(if writes {
                Access::Writes
            } else {
                Access::Reads
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: Attribute<'static> = Attribute::Column {
        table: "address",
        column: "phone",
    };

    fn m(text: &str, scope: Scope) -> Option<Access> {
        mention(text, PHONE, scope)
    }

    #[test]
    fn views_follow_aliases_and_skip_output_names() {
        // Pagila's customer_list, as MySQL normalises it.
        let normalised = "select `cu`.`customer_id` AS `id`,`a`.`phone` AS `phone` from (`sakila`.`customer` `cu` join `sakila`.`address` `a` on(`cu`.`address_id` = `a`.`address_id`))";
        assert_eq!(m(normalised, Scope::Elsewhere), Some(Access::Reads));
        // Redefined over new storage: the old table is still joined, the phone is not its.
        let redefined = "SELECT cu.customer_id AS id, a.address AS address, ap.phone AS phone \
             FROM customer cu JOIN address a ON cu.address_id = a.address_id \
             LEFT JOIN address_phone ap ON ap.address_id = a.address_id";
        assert_eq!(m(redefined, Scope::Elsewhere), None);
        // Unqualified names count where the statement reads the old table.
        assert_eq!(
            m("SELECT address_id, phone FROM address", Scope::Elsewhere),
            Some(Access::Reads)
        );
        assert_eq!(m("SELECT phone FROM staff", Scope::Elsewhere), None);
        assert_eq!(
            m(
                "SELECT s.phone FROM staff s, address WHERE s.id = 1",
                Scope::Elsewhere
            ),
            None
        );
        assert_eq!(
            m(
                "SELECT x.phone FROM staff s, public.address x",
                Scope::Elsewhere
            ),
            Some(Access::Reads)
        );
        // Comments and strings are not code.
        assert_eq!(
            m(
                "SELECT 1 FROM address -- phone\n WHERE note = 'phone'",
                Scope::Elsewhere
            ),
            None
        );
    }

    #[test]
    fn triggers_read_new_and_old_and_write_by_assignment() {
        let ins_film = "BEGIN INSERT INTO film_text (film_id, title, description) VALUES (new.film_id, new.title, new.description); END";
        let description = Attribute::Column {
            table: "film",
            column: "description",
        };
        assert_eq!(
            mention(ins_film, description, Scope::TriggerOnTable),
            Some(Access::Reads)
        );
        assert_eq!(
            mention(ins_film, description, Scope::Elsewhere),
            None,
            "NEW is film's row only in a trigger on film"
        );
        let without =
            "BEGIN INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title); END";
        assert_eq!(mention(without, description, Scope::TriggerOnTable), None);
        assert_eq!(
            m("SET NEW.phone = trim(NEW.phone)", Scope::TriggerOnTable),
            Some(Access::ReadsWrites)
        );
        assert_eq!(
            m(
                "BEGIN NEW.phone := NULL; RETURN NEW; END",
                Scope::TriggerOnTable
            ),
            Some(Access::Writes)
        );
    }

    #[test]
    fn routines_write_by_update_and_insert() {
        assert_eq!(
            m(
                "UPDATE address SET phone = $1 WHERE address_id = $2",
                Scope::Elsewhere
            ),
            Some(Access::Writes)
        );
        assert_eq!(
            m(
                "UPDATE address a SET address = 'x' WHERE a.phone IS NULL",
                Scope::Elsewhere
            ),
            Some(Access::Reads)
        );
        assert_eq!(
            m(
                "INSERT INTO address (address_id, phone) VALUES (1, '555')",
                Scope::Elsewhere
            ),
            Some(Access::Writes)
        );
        assert_eq!(
            m(
                "BEGIN SELECT phone INTO v FROM address WHERE address_id = id; UPDATE address SET phone = v; END",
                Scope::Elsewhere
            ),
            Some(Access::ReadsWrites)
        );
    }

    #[test]
    fn row_expressions_name_bare_columns() {
        assert_eq!(m("(phone <> '')", Scope::Row), Some(Access::Reads));
        assert_eq!(m("length(`phone`) < 30", Scope::Row), Some(Access::Reads));
        assert_eq!(m("(city IS NOT NULL)", Scope::Row), None);
        assert_eq!(
            m("(phone_digits(x))", Scope::Row),
            None,
            "a longer name is another name"
        );
    }

    #[test]
    fn json_and_eav_name_the_attribute_or_only_its_storage() {
        let key = Attribute::JsonKey {
            table: "users",
            column: "attrs",
            key: "full_name",
        };
        assert_eq!(
            mention(
                "SELECT id, attrs ->> 'full_name' FROM users",
                key,
                Scope::Elsewhere
            ),
            Some(Access::Reads)
        );
        assert_eq!(
            mention(
                "SELECT json_extract(u.attrs, '$.full_name') FROM users u",
                key,
                Scope::Elsewhere
            ),
            Some(Access::Reads)
        );
        assert_eq!(
            mention(
                "SELECT attrs ->> 'nickname' FROM users",
                key,
                Scope::Elsewhere
            ),
            Some(Access::NamesStorage)
        );
        assert_eq!(
            mention("SELECT attrs FROM accounts", key, Scope::Elsewhere),
            None
        );
        let eav = Attribute::EavName {
            table: "user_attributes",
            name: "full_name",
        };
        assert_eq!(
            mention(
                "SELECT value FROM user_attributes WHERE name = 'full_name'",
                eav,
                Scope::Elsewhere
            ),
            Some(Access::Reads)
        );
        assert_eq!(
            mention(
                "DELETE FROM user_attributes WHERE name = 'full_name'",
                eav,
                Scope::Elsewhere
            ),
            Some(Access::Writes)
        );
        assert_eq!(
            mention("SELECT * FROM user_attributes", eav, Scope::Elsewhere),
            Some(Access::NamesStorage)
        );
        assert_eq!(mention("SELECT 'full_name'", eav, Scope::Elsewhere), None);
    }

    #[test]
    fn own_objects_by_prefix() {
        assert!(is_own("attrmig_migrations") && is_own("ATTRMIG_x"));
        assert!(!is_own("attr") && !is_own("users_attrmig_"));
    }

    #[test]
    fn descriptions_name_the_object() {
        let trigger = Dependent::new(
            DependentKind::Trigger,
            "ins_film",
            Access::Reads,
            FoundBy::TextMatch,
            OnDrop::Breaks,
        )
        .on("film")
        .via("film_text_ins()");
        assert_eq!(
            trigger.describe_with_evidence(),
            "trigger ins_film on film, running film_text_ins() (a text match)"
        );
        let mut index = Dependent::new(
            DependentKind::Index,
            "IX_TrackComposer",
            Access::Constrains,
            FoundBy::Catalogue,
            OnDrop::DroppedWith,
        )
        .on("Track")
        .columns(vec!["Composer".into()]);
        assert_eq!(
            index.describe(),
            "index IX_TrackComposer on Track (Composer)"
        );
        index.unique = true;
        assert!(index.describe().starts_with("unique index"));
        assert!(trigger.named_in(Some("ins_film copies title only")));
        assert!(!trigger.named_in(None));
        assert!(
            !trigger.named_in(Some("ins_films is another")),
            "a whole word"
        );
        let function = Dependent::new(
            DependentKind::Function,
            "staff_phone(id integer)",
            Access::Reads,
            FoundBy::TextMatch,
            OnDrop::Breaks,
        );
        assert!(function.named_in(Some("staff_phone() reads staff.phone")));
    }
}
