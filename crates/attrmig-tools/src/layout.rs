//! Where a plan's old and new storage live in one particular database, and the SQL that
//! reads them: which expression is the old key, the old value (a column, a JSON key, an
//! EAV row), how keys are bound, how values are compared.
//!
//! Every tool builds its statements from a [`Layout`], so "what counts as the old value"
//! has one definition for cross-check, sync, fingerprint and DDL alike, and so has "the
//! old and the new value are equal": the [`Equality`] of the two columns' types
//! (`attrmig_core::equality` decides it, `attrmig_db::equality` spells it).

use attrmig_core::Plan;
use attrmig_core::Refusal;
use attrmig_core::equality::{self, Equality, Family, Method, ValueType};
use attrmig_core::facts::{ColumnFact, TableFact};
use attrmig_core::plan::OldStorage;
use attrmig_core::types::{TypeFamily, type_family};
use attrmig_db::equality::{JSON_CHECK_SETUP, PG_JSON_CHECK};
use attrmig_db::{AnyConnection, Backend, introspect};
use diesel::connection::SimpleConnection;

use crate::error::ToolError;
use crate::sql::{Bind, Key, Sql};
use crate::value_columns;

/// How keys are bound and read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    /// Integer keys, bound as BIGINT.
    Int,
    /// Any other key, bound as text and cast to `cast` where the backend needs it.
    Text {
        /// The key column's type, on PostgreSQL when it is not a text type (`uuid`).
        cast: Option<String>,
    },
    /// A key of several columns: each column's type, in key order (none a tuple).
    Tuple(Vec<KeyType>),
}

impl KeyType {
    /// Each key column's type: itself for a one-column key.
    pub fn parts(&self) -> &[KeyType] {
        match self {
            KeyType::Tuple(parts) => parts,
            one => std::slice::from_ref(one),
        }
    }

    fn cast(&self) -> Option<&str> {
        match self {
            KeyType::Text { cast } => cast.as_deref(),
            KeyType::Int | KeyType::Tuple(_) => None,
        }
    }
}

/// A key's columns as SQL expressions over one alias (`o."tenant_id"`, `o."id"`), in key
/// order. Statements use it whole: [`KeyExpr::order`] for ORDER BY,
/// [`Layout::key_text`] to read it, [`Layout::push_range`] and [`Layout::push_in`] to
/// scope it, [`KeyExpr::equals`] to join it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExpr(Vec<String>);

impl KeyExpr {
    /// The column expressions.
    pub fn columns(&self) -> &[String] {
        &self.0
    }

    /// `o."tenant_id", o."id"`: for ORDER BY, GROUP BY and column lists.
    pub fn order(&self) -> String {
        self.0.join(", ")
    }

    /// The key as one SQL value: the column, or the row value `(a, b)` (for
    /// `IN (SELECT ...)`, which all three backends accept with a row value).
    pub fn row(&self) -> String {
        match self.0.as_slice() {
            [one] => one.clone(),
            many => format!("({})", many.join(", ")),
        }
    }

    /// `n.a = o.a AND n.b = o.b`: column by column, which every backend's planner reads
    /// as one equality per index column.
    pub fn equals(&self, other: &KeyExpr) -> String {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| format!("{a} = {b}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `o.a AS k0, o.b AS k1`: each column under the matching name of `names`.
    pub fn aliased(&self, names: &KeyExpr) -> String {
        self.0
            .iter()
            .zip(&names.0)
            .map(|(c, n)| format!("{c} AS {}", n.rsplit('.').next().unwrap_or(n)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first column: over an outer join's side, NULL where that side has no row (as
    /// a one-column key's column is).
    pub fn first(&self) -> &str {
        &self.0[0]
    }

    /// `COALESCE(a.x0, b.y0), COALESCE(a.x1, b.y1)` column by column, each `AS` the
    /// matching name of `names`.
    pub fn coalesce_as(&self, other: &KeyExpr, names: &KeyExpr) -> String {
        self.0
            .iter()
            .zip(&other.0)
            .zip(&names.0)
            .map(|((a, b), n)| {
                format!(
                    "COALESCE({a}, {b}) AS {}",
                    n.rsplit('.').next().unwrap_or(n)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which keys a statement covers: a keyset range `(lo, hi]` (either end open), or a list.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Keys after `lo` up to and including `hi`.
    Range(Option<&'a Key>, Option<&'a Key>),
    /// Keys after `lo` up to and including `hi`, but none of `except` (rows the sync
    /// found it must not write).
    RangeExcept(Option<&'a Key>, Option<&'a Key>, &'a [Key]),
    /// Exactly these keys.
    Keys(&'a [Key]),
}

/// The old key and value over a trigger's row: see [`Layout::trigger_row`].
#[derive(Debug, Clone)]
pub struct TriggerRow {
    /// The old key's columns.
    pub key: KeyExpr,
    /// The old value (NULL when absent).
    pub value: String,
    /// True when the row holds the attribute's storage (always, but for EAV).
    pub holds: String,
}

/// A plan resolved against one database.
#[derive(Debug, Clone)]
pub struct Layout {
    backend: Backend,
    plan: Plan,
    old_table: TableFact,
    new_table: TableFact,
    key_type: KeyType,
    /// How an old value and a new value compare, from the two columns' types.
    equality: Equality,
    /// The new column's type, as the database names it.
    new_type: Option<String>,
    /// JSON kind whose documents are text: true for an old row whose document is no
    /// JSON, which has no readable value (over alias `o`).
    unreadable: Option<String>,
    /// PostgreSQL: statements call [`PG_JSON_CHECK`], which [`Layout::prepare`] creates.
    pg_json_check: bool,
    /// SQLite: the old table's stored CREATE statement (for editing its constraints);
    /// MySQL/MariaDB: `SHOW CREATE TABLE` (for restating a column in `MODIFY COLUMN`).
    old_table_sql: Option<String>,
}

fn column<'a>(table: &'a TableFact, name: &str) -> Option<&'a ColumnFact> {
    table.column(name)
}

impl Layout {
    /// Introspects the plan's tables. The old table and key must exist; the new table may
    /// not exist yet (`ddl prepare-storage` is how it comes to exist).
    pub fn resolve(conn: &mut AnyConnection, plan: &Plan) -> Result<Layout, ToolError> {
        let backend = conn.backend();
        // Every statement uses the database's spelling of each name (quoted), whatever
        // spelling the plan used that the backend accepts.
        let plan = &attrmig_db::names::resolve_plan(conn, plan)?;
        if backend == Backend::Sqlite {
            attrmig_core::names::sqlite_schemas(plan)?;
        }
        let old_table = introspect::table(conn, plan.old.table())?;
        let new_table = if plan.new.table == *plan.old.table() {
            old_table.clone()
        } else {
            introspect::table(conn, &plan.new.table)?
        };
        if !old_table.exists() {
            return Err(Refusal::TableMissing {
                role: "old",
                table: plan.old.table().to_string(),
                todo: format!(
                    "check [old] in plans/{}.toml and the --env you are using",
                    plan.id
                ),
            }
            .into());
        }
        let mut key_types = Vec::with_capacity(plan.old.key().len());
        for name in plan.old.key().columns() {
            let old_key =
                column(&old_table, name.as_str()).ok_or_else(|| Refusal::ColumnMissing {
                    role: "old key",
                    table: plan.old.table().to_string(),
                    column: name.to_string(),
                    todo: format!("check [old] in plans/{}.toml", plan.id),
                })?;
            key_types.push(match type_family(&old_key.data_type) {
                TypeFamily::Integer => KeyType::Int,
                TypeFamily::Text | TypeFamily::Unknown => KeyType::Text { cast: None },
                _ if backend == Backend::Postgres => KeyType::Text {
                    cast: Some(old_key.data_type.clone()),
                },
                _ => KeyType::Text { cast: None },
            });
        }
        let key_type = match key_types.len() {
            1 => key_types.remove(0),
            _ => KeyType::Tuple(key_types),
        };
        let new_column = column(&new_table, plan.new.column.as_str());
        let new_type = new_column.map(|c| c.data_type.clone());
        let new_value_type = match new_column {
            Some(c) => {
                let facts = value_columns::facts(conn, &plan.new.table, &c.name)?;
                backend.value_type(&c.data_type, &facts)
            }
            None => ValueType::Other,
        };
        let (old_value_type, unreadable) = match &plan.old {
            OldStorage::Column { column: c, .. }
            | OldStorage::Eav {
                value_column: c, ..
            } => match column(&old_table, c.as_str()) {
                Some(c) => {
                    let facts = value_columns::facts(conn, plan.old.table(), &c.name)?;
                    (backend.value_type(&c.data_type, &facts), None)
                }
                None => (ValueType::Other, None),
            },
            // The value at the path: its JSON text for a JSON column, else its text.
            OldStorage::Json { column: c, .. } => {
                let value = if new_value_type.family() == Family::Json {
                    ValueType::Json { binary: false }
                } else {
                    ValueType::plain_text()
                };
                let doc = match column(&old_table, c.as_str()) {
                    Some(d) => {
                        let facts = value_columns::facts(conn, plan.old.table(), &d.name)?;
                        backend.value_type(&d.data_type, &facts)
                    }
                    None => ValueType::Other,
                };
                // A document the database checks as JSON can't be malformed; one kept as
                // text can (SQLite has no JSON type at all).
                let checked = backend != Backend::Sqlite && doc.family() == Family::Json;
                let unreadable = (!checked).then(|| {
                    let d = format!("o.{}", backend.quote(c));
                    format!("({d} IS NOT NULL AND NOT {})", backend.json_valid(&d))
                });
                (value, unreadable)
            }
        };
        let equality = equality::between(&old_value_type, &new_value_type);
        let pg_json_check = backend == Backend::Postgres
            && (unreadable.is_some()
                || equality.method == Method::JsonStructure
                    && (old_value_type.family() != Family::Json
                        || new_value_type.family() != Family::Json));
        let old_table_sql = match backend {
            Backend::Sqlite => sqlite_create_sql(conn, plan.old.table().name.as_str())?,
            Backend::Mysql => mysql_create_sql(conn, plan.old.table())?,
            Backend::Postgres => None,
        };
        Ok(Layout {
            backend,
            plan: plan.clone(),
            old_table,
            new_table,
            key_type,
            equality,
            new_type,
            unreadable,
            pg_json_check,
            old_table_sql,
        })
    }

    /// Refuses unless the new storage exists with its key and column.
    pub fn require_new(&self) -> Result<(), ToolError> {
        let todo = format!(
            "create it (`attrmig ddl {} prepare-storage` prints the statement)",
            self.plan.id
        );
        if !self.new_table.exists() {
            return Err(Refusal::TableMissing {
                role: "new",
                table: self.plan.new.table.to_string(),
                todo,
            }
            .into());
        }
        let key = self.plan.new.key.columns().iter().map(|c| ("new key", c));
        for (role, col) in key.chain([("new", &self.plan.new.column)]) {
            if self.new_table.column(col.as_str()).is_none() {
                return Err(Refusal::ColumnMissing {
                    role,
                    table: self.plan.new.table.to_string(),
                    column: col.to_string(),
                    todo: todo.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The old table as introspected.
    pub fn old_table(&self) -> &TableFact {
        &self.old_table
    }

    /// The old table's CREATE statement: SQLite's stored one, MySQL's `SHOW CREATE TABLE`.
    pub fn old_table_sql(&self) -> Option<&str> {
        self.old_table_sql.as_deref()
    }

    /// The new table as introspected.
    pub fn new_table(&self) -> &TableFact {
        &self.new_table
    }

    /// How keys are typed.
    pub fn key_type(&self) -> &KeyType {
        &self.key_type
    }

    /// Whether the new column lives in the old table (one row per key on both sides).
    pub fn same_table(&self) -> bool {
        self.plan.new.table == *self.plan.old.table()
    }
    /// A key read as text (by [`Layout::key_text`]) in the one spelling attrmig records:
    /// a key of several columns is spelled by the backend's JSON functions, whose spacing
    /// differs, so it is parsed and written again; a one-column key is already as
    /// recorded. Keys from different reads compare equal only in this spelling.
    pub fn recorded_key(&self, text: String) -> Result<String, ToolError> {
        if self.plan.old.key().is_composite() {
            Ok(self.parse_key(&text)?.to_string())
        } else {
            Ok(text)
        }
    }

    /// Reads a key that was selected as text ([`Layout::key_text`]) or recorded as text
    /// (its [`Key`]'s `Display`): a key of several columns is a JSON array, however the
    /// backend spaced it.
    pub fn parse_key(&self, text: &str) -> Result<Key, ToolError> {
        let bad = |what: &str| ToolError::Unexpected(format!("{what} read back as {text:?}"));
        match &self.key_type {
            KeyType::Int => text
                .parse()
                .map(Key::Int)
                .map_err(|_| bad("an integer key")),
            KeyType::Text { .. } => Ok(Key::Text(text.to_owned())),
            KeyType::Tuple(types) => {
                let values: Vec<serde_json::Value> =
                    serde_json::from_str(text).map_err(|_| bad("a key of several columns"))?;
                if values.len() != types.len() {
                    return Err(bad(&format!("a key of {} columns", types.len())));
                }
                let parts = values
                    .iter()
                    .zip(types)
                    .map(|(value, ty)| match (ty, value) {
                        (KeyType::Int, serde_json::Value::Number(n)) => n.as_i64().map(Key::Int),
                        (KeyType::Int, serde_json::Value::String(s)) => {
                            s.parse().ok().map(Key::Int)
                        }
                        (_, serde_json::Value::String(s)) => Some(Key::Text(s.clone())),
                        (_, serde_json::Value::Number(n)) => Some(Key::Text(n.to_string())),
                        _ => None,
                    })
                    .collect::<Option<Vec<Key>>>()
                    .ok_or_else(|| bad("a key of several columns"))?;
                Ok(Key::Tuple(parts))
            }
        }
    }

    /// A key's expression as text, to select as `k` and read with [`Layout::parse_key`]:
    /// the column cast to text, or for several columns a JSON array of them (integers as
    /// numbers, the others cast to text), cast to text.
    pub fn key_text(&self, key: &KeyExpr) -> String {
        let types = self.key_type.parts();
        match key.columns() {
            [one] => self.text(one),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .zip(types)
                    .map(|(c, ty)| match ty {
                        KeyType::Int => c.clone(),
                        _ => self.text(c),
                    })
                    .collect();
                let array = match self.backend {
                    Backend::Sqlite => "json_array",
                    Backend::Postgres => "json_build_array",
                    Backend::Mysql => "JSON_ARRAY",
                };
                self.text(&format!("{array}({})", parts.join(", ")))
            }
        }
    }

    fn q(&self, name: &impl attrmig_db::SqlName) -> String {
        self.backend.quote(name)
    }

    /// `"users"`: the old table's name, quoted, for statements on the table itself.
    pub fn old_table_name(&self) -> String {
        self.q(self.plan.old.table())
    }

    /// `SELECT <old key as text> AS k FROM <old table> o WHERE <rows of the attribute>`:
    /// how every statement that reads old keys begins; callers add their conditions
    /// (after ` AND `) and order.
    pub fn select_old_keys(&self) -> Sql {
        let mut sql = Sql::new(self.backend);
        sql.push(&format!(
            "SELECT {} AS k FROM {} WHERE ",
            self.key_text(&self.old_key()),
            self.old_from()
        ));
        self.push_old_rows(&mut sql);
        sql
    }

    /// `"users" o`: the old table, aliased `o`.
    pub fn old_from(&self) -> String {
        format!("{} o", self.q(self.plan.old.table()))
    }

    /// `"users_pii" n`: the new table, aliased `n`.
    pub fn new_from(&self) -> String {
        format!("{} n", self.q(&self.plan.new.table))
    }

    /// The old key's columns, over alias `o`.
    pub fn old_key(&self) -> KeyExpr {
        self.key_over("o", self.plan.old.key())
    }

    /// The old key's columns unqualified, for statements on the old table without an
    /// alias.
    pub fn old_key_bare(&self) -> KeyExpr {
        KeyExpr(
            self.plan
                .old
                .key()
                .columns()
                .iter()
                .map(|c| self.q(c))
                .collect(),
        )
    }

    /// The new key's columns, over alias `n`.
    pub fn new_key(&self) -> KeyExpr {
        self.key_over("n", &self.plan.new.key)
    }

    /// The new key's columns, over `alias`.
    pub fn new_key_as(&self, alias: &str) -> KeyExpr {
        self.key_over(alias, &self.plan.new.key)
    }

    fn key_over(&self, alias: &str, key: &attrmig_core::key::KeyColumns) -> KeyExpr {
        KeyExpr(
            key.columns()
                .iter()
                .map(|c| format!("{alias}.{}", self.q(c)))
                .collect(),
        )
    }

    /// Names for a key's columns in a derived table, qualified by `alias`: `p.k` for a
    /// one-column key (as before keys of several columns), `p.k0, p.k1, ...` otherwise.
    pub fn key_names(&self, alias: &str, base: &str) -> KeyExpr {
        let n = self.plan.old.key().len();
        KeyExpr(match n {
            1 => vec![format!("{alias}.{base}")],
            _ => (0..n).map(|i| format!("{alias}.{base}{i}")).collect(),
        })
    }

    /// The new key's columns unqualified (`"tenant_id"`, `"id"`), for column lists,
    /// conflict targets and statements on the new table alone.
    pub fn new_key_bare(&self) -> KeyExpr {
        KeyExpr(
            self.plan
                .new
                .key
                .columns()
                .iter()
                .map(|c| self.q(c))
                .collect(),
        )
    }

    /// The new value expression, over alias `n` (alias `o` when in the same table).
    pub fn new_value(&self) -> String {
        let alias = if self.same_table() { "o" } else { "n" };
        format!("{alias}.{}", self.q(&self.plan.new.column))
    }

    /// The new column alone, for SET clauses.
    pub fn new_column(&self) -> String {
        self.q(&self.plan.new.column)
    }

    /// The old value expression, over alias `o`: NULL when the attribute is absent (and
    /// when the document holding it is no JSON: see [`Layout::old_unreadable`]).
    pub fn old_value(&self) -> String {
        match &self.plan.old {
            OldStorage::Column { column, .. } => format!("o.{}", self.q(column)),
            OldStorage::Json { column, path, .. } => {
                let doc = format!("o.{}", self.q(column));
                let value = if self.equality.old.family() == Family::Json {
                    self.backend.json_value(&doc, path)
                } else {
                    self.backend.json_text(&doc, path)
                };
                match &self.unreadable {
                    // Reading a malformed document fails the statement: it is not read.
                    Some(_) => format!(
                        "(CASE WHEN {} THEN {value} END)",
                        self.backend.json_valid(&doc)
                    ),
                    None => value,
                }
            }
            OldStorage::Eav { value_column, .. } => format!("o.{}", self.q(value_column)),
        }
    }

    /// For the late-write trigger (`crate::late_log`): the old key, the old value, and
    /// whether the row holds the attribute's storage at all (EAV: its name), over a
    /// trigger's row (`NEW`, `OLD`). None of them can fail on a row, whatever it holds: a
    /// write the trigger broke would be the application's. A JSON document kept as text
    /// on PostgreSQL is compared whole (reading the path would need the session's JSON
    /// check, which a trigger can't call): a change elsewhere in it is logged too, which
    /// only matters inside a range that changed.
    pub fn trigger_row(&self, row: &str) -> TriggerRow {
        let key = self.key_over(row, self.plan.old.key());
        let (value, holds) = match &self.plan.old {
            OldStorage::Column { column, .. } => (format!("{row}.{}", self.q(column)), None),
            OldStorage::Json { column, path, .. } => {
                let doc = format!("{row}.{}", self.q(column));
                let value = if self.equality.old.family() == Family::Json {
                    self.backend.json_value(&doc, path)
                } else {
                    self.backend.json_text(&doc, path)
                };
                let value = match (&self.unreadable, self.backend) {
                    (None, _) => value,
                    (Some(_), Backend::Postgres) => doc,
                    (Some(_), _) => format!(
                        "(CASE WHEN {} THEN {value} ELSE {doc} END)",
                        self.backend.json_valid(&doc)
                    ),
                };
                (value, None)
            }
            OldStorage::Eav {
                value_column,
                name_column,
                name,
                ..
            } => (
                format!("{row}.{}", self.q(value_column)),
                Some(format!(
                    "COALESCE({row}.{} = {}, FALSE)",
                    self.q(name_column),
                    crate::sql::literal(self.backend, name)
                )),
            ),
        };
        TriggerRow {
            key,
            value,
            holds: holds.unwrap_or_else(|| "TRUE".to_owned()),
        }
    }

    /// The old value as written into the new column.
    pub fn old_value_for_new(&self) -> String {
        self.backend.write_value(
            &self.equality,
            &self.old_value(),
            self.new_type.as_deref().unwrap_or(""),
        )
    }

    /// How the old and the new value compare.
    pub fn equality(&self) -> &Equality {
        &self.equality
    }

    /// Whether writing an old value into the new column can change it: the sync then
    /// checks what it wrote (see [`Equality::may_change`]).
    pub fn write_may_change(&self) -> bool {
        self.equality.may_change
    }

    /// For a JSON attribute kept in text documents: a condition over alias `o`, true for
    /// a row whose document is not JSON. Such a row has no value anyone can read (the
    /// old value expression is NULL for it); the tools report it with its key.
    pub fn old_unreadable(&self) -> Option<&str> {
        self.unreadable.as_deref()
    }

    /// The document column of a JSON kind, over alias `o`.
    pub fn old_document(&self) -> Option<String> {
        match &self.plan.old {
            OldStorage::Json { column, .. } => Some(format!("o.{}", self.q(column))),
            OldStorage::Column { .. } | OldStorage::Eav { .. } => None,
        }
    }

    /// Prepares a connection for this layout's statements: on SQLite registers the
    /// function that compares JSON, on PostgreSQL creates the session's JSON check.
    /// Every tool calls it on its connection before comparing or reading values.
    pub fn prepare(&self, conn: &mut AnyConnection) -> Result<(), ToolError> {
        if self.equality.method == Method::JsonStructure {
            crate::values::register_sqlite_functions(conn)
                .map_err(|e| ToolError::query("register the JSON comparison", e))?;
        }
        if self.pg_json_check {
            conn.batch_execute(JSON_CHECK_SETUP).map_err(|e| {
                ToolError::query(
                    format!("create {PG_JSON_CHECK} (it needs the TEMPORARY privilege)"),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Whether some rows of old's table hold no old key (EAV: rows of other names), so
    /// that [`Layout::push_old_rows`] has a real condition to push.
    fn old_rows_are_filtered(&self) -> bool {
        matches!(self.plan.old, OldStorage::Eav { .. })
    }

    /// Pushes the condition that selects old rows at all (`1 = 1`, or the EAV name).
    pub fn push_old_rows(&self, sql: &mut Sql) {
        match &self.plan.old {
            OldStorage::Eav {
                name_column, name, ..
            } => {
                sql.push(&format!("o.{} = ", self.q(name_column)))
                    .bind(Bind::Text(name.clone()));
            }
            OldStorage::Column { .. } | OldStorage::Json { .. } => {
                sql.push("1 = 1");
            }
        }
    }

    /// Pushes `key > lo AND key <= hi`, either bound optional. A key of several columns
    /// compares as a row value, in key order, in the form each backend's planner turns
    /// into one index range: `(a, b) > (?, ?)` on SQLite and PostgreSQL; on MySQL/MariaDB,
    /// whose optimizer does not range-scan a row-value inequality, the expanded form led
    /// by the first column's bound (`a >= ? AND (a > ? OR (a = ? AND b > ?))`).
    pub fn push_range(&self, sql: &mut Sql, key: &KeyExpr, lo: Option<&Key>, hi: Option<&Key>) {
        match (lo, hi) {
            (None, None) => {
                sql.push("1 = 1");
            }
            (Some(lo), None) => self.push_compare(sql, key, ">", lo),
            (None, Some(hi)) => self.push_compare(sql, key, "<=", hi),
            (Some(lo), Some(hi)) => {
                self.push_compare(sql, key, ">", lo);
                sql.push(" AND ");
                self.push_compare(sql, key, "<=", hi);
            }
        }
    }

    /// Binds one key value of column `i`, with the column's cast.
    fn bind_part(&self, sql: &mut Sql, i: usize, value: &Key) {
        let ty = &self.key_type.parts()[i.min(self.key_type.parts().len() - 1)];
        sql.bind_key(value, ty.cast());
    }

    /// Pushes `key <op> value` (`>` or `<=`), in key order.
    fn push_compare(&self, sql: &mut Sql, key: &KeyExpr, op: &str, value: &Key) {
        let (cols, parts) = (key.columns(), value.parts());
        if let ([col], [part]) = (cols, parts) {
            sql.push(&format!("{col} {op} "));
            self.bind_part(sql, 0, part);
            return;
        }
        match self.backend {
            Backend::Sqlite | Backend::Postgres => {
                sql.push(&format!("({}) {op} (", key.order()));
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    self.bind_part(sql, i, part);
                }
                sql.push(")");
            }
            Backend::Mysql => {
                // a >= ? AND (a > ? OR (a = ? AND (b > ? OR (b = ? AND c <op> ?))))
                let (strict, wide) = if op == ">" { (">", ">=") } else { ("<", "<=") };
                sql.push(&format!("{} {wide} ", cols[0]));
                self.bind_part(sql, 0, &parts[0]);
                sql.push(" AND ");
                let last = cols.len() - 1;
                for (i, col) in cols.iter().enumerate() {
                    if i == last {
                        sql.push(&format!("{col} {op} "));
                        self.bind_part(sql, i, &parts[i]);
                    } else {
                        sql.push(&format!("({col} {strict} "));
                        self.bind_part(sql, i, &parts[i]);
                        sql.push(&format!(" OR ({col} = "));
                        self.bind_part(sql, i, &parts[i]);
                        sql.push(" AND ");
                    }
                }
                sql.push(&")".repeat(2 * last));
            }
        }
    }

    /// Pushes ` FROM old o LEFT JOIN new n ON <new key> = <old key> AND <scope on the new
    /// key> WHERE <old rows> AND <scope on the old key>`: the old rows of a scope with their
    /// new values (`new_value()`), absent as NULL. No join when new is in the old table.
    ///
    /// The scope is stated on the new side too: PostgreSQL can't carry a range through an
    /// outer join, and would read the whole new table for every batch.
    pub fn push_old_with_new(&self, sql: &mut Sql, scope: Scope<'_>) {
        let (ok, nk) = (self.old_key(), self.new_key());
        sql.push(&format!(" FROM {}", self.old_from()));
        if !self.same_table() {
            sql.push(&format!(
                " LEFT JOIN {} ON {} AND ",
                self.new_from(),
                nk.equals(&ok)
            ));
            self.push_scope(sql, &nk, scope);
        }
        sql.push(" WHERE ");
        self.push_old_rows(sql);
        sql.push(" AND ");
        self.push_scope(sql, &ok, scope);
    }

    /// Pushes the condition that `expr` is in `scope`.
    pub fn push_scope(&self, sql: &mut Sql, expr: &KeyExpr, scope: Scope<'_>) {
        match scope {
            Scope::Range(lo, hi) => self.push_range(sql, expr, lo, hi),
            Scope::RangeExcept(lo, hi, except) => {
                self.push_range(sql, expr, lo, hi);
                if !except.is_empty() {
                    sql.push(" AND NOT ");
                    self.push_in(sql, expr, except);
                }
            }
            Scope::Keys(keys) => self.push_in(sql, expr, keys),
        }
    }

    /// Pushes `expr IN (k1, k2, ...)`; for a key of several columns
    /// `((a = ? AND b = ?) OR (a = ? AND b = ?) ...)`, which every backend reads as one
    /// index lookup per key (SQLite has no row-value list after IN).
    pub fn push_in(&self, sql: &mut Sql, expr: &KeyExpr, keys: &[Key]) {
        if keys.is_empty() {
            sql.push("1 = 0");
            return;
        }
        if let [col] = expr.columns() {
            sql.push(&format!("{col} IN ("));
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                self.bind_part(sql, 0, key);
            }
            sql.push(")");
            return;
        }
        sql.push("(");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (j, (col, part)) in expr.columns().iter().zip(key.parts()).enumerate() {
                if j > 0 {
                    sql.push(" AND ");
                }
                sql.push(&format!("{col} = "));
                self.bind_part(sql, j, part);
            }
            sql.push(")");
        }
        sql.push(")");
    }

    /// The old and new values differ, NULL-safe, by the pair's [`Equality`]: `old` and
    /// `new` are expressions of the old value's and the new column's types.
    pub fn values_differ(&self, old: &str, new: &str) -> String {
        self.backend.differs(&self.equality, old, new)
    }

    /// The old keys after `after`, in order, at most `limit`: the next batch.
    pub fn next_keys(
        &self,
        conn: &mut AnyConnection,
        after: Option<&Key>,
        limit: u32,
    ) -> Result<Vec<Key>, ToolError> {
        self.keys_after(conn, after, limit, 0)
            .map_err(|e| ToolError::query("read the next batch of keys", e))
    }

    /// The old key `n` positions after `after` (1 is the next one), if there is one: the
    /// upper bound of a batch, found without reading the keys in between.
    pub fn key_at_offset(
        &self,
        conn: &mut AnyConnection,
        after: Option<&Key>,
        n: u32,
    ) -> Result<Option<Key>, ToolError> {
        let keys = self
            .keys_after(conn, after, 1, n.max(1) - 1)
            .map_err(|e| ToolError::query("find the end of a batch", e))?;
        Ok(keys.into_iter().next())
    }

    /// `limit` old keys after `after`, skipping `offset`, in key order.
    fn keys_after(
        &self,
        conn: &mut AnyConnection,
        after: Option<&Key>,
        limit: u32,
        offset: u32,
    ) -> diesel::QueryResult<Vec<Key>> {
        #[derive(diesel::QueryableByName)]
        struct K {
            #[diesel(sql_type = diesel::sql_types::Text)]
            k: String,
        }
        let key = self.old_key();
        let mut sql = self.select_old_keys();
        sql.push(" AND ");
        self.push_range(&mut sql, &key, after, None);
        sql.push(&format!(" ORDER BY {} LIMIT ", key.order()))
            .bind(Bind::Int(i64::from(limit)));
        if offset > 0 {
            sql.push(" OFFSET ").bind(Bind::Int(i64::from(offset)));
        }
        let rows: Vec<K> = sql.load(conn)?;
        rows.iter()
            .map(|r| {
                self.parse_key(&r.k)
                    .map_err(|e| diesel::result::Error::DeserializationError(e.to_string().into()))
            })
            .collect()
    }

    /// How many old keys there are (rows holding the attribute's storage).
    pub fn count_old(&self, conn: &mut AnyConnection) -> Result<u64, ToolError> {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut sql = Sql::new(self.backend);
        sql.push(&format!("SELECT COUNT(*) AS n FROM {}", self.old_from()));
        // The bare `COUNT(*)`, with no `WHERE 1 = 1` when every row counts (and no CAST:
        // it is a 64-bit integer everywhere): SQLite then counts the entries of the
        // table's smallest index page by page (a few ms for 1M rows) instead of stepping
        // through every row (over 20 ms).
        if self.old_rows_are_filtered() {
            sql.push(" WHERE ");
            self.push_old_rows(&mut sql);
        }
        let rows: Vec<N> = sql
            .load(conn)
            .map_err(|e| ToolError::query("count old rows", e))?;
        Ok(rows.first().map_or(0, |r| u64::try_from(r.n).unwrap_or(0)))
    }

    /// `expr` as text, for reading keys and values back.
    pub fn text(&self, expr: &str) -> String {
        self.backend.cast_text(expr)
    }
}

impl Layout {
    /// Whether any old row still holds the attribute: the column exists; for JSON a
    /// document still has the key (even with a JSON null); for EAV a row has the name.
    pub fn old_attribute_present(&self, conn: &mut AnyConnection) -> Result<bool, ToolError> {
        let condition = match &self.plan.old {
            OldStorage::Column { column, .. } => {
                return Ok(self.old_table.column(column.as_str()).is_some());
            }
            OldStorage::Json { column, path, .. } => Some(
                self.backend
                    .json_has_key(&format!("o.{}", self.q(column)), path),
            ),
            OldStorage::Eav { .. } => None,
        };
        let mut sql = self.select_old_keys();
        if let Some(c) = condition {
            sql.push(&format!(" AND {c}"));
        }
        sql.push(" LIMIT 1");
        #[derive(diesel::QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Text)]
            #[allow(dead_code)]
            k: String,
        }
        let rows: Vec<Found> = sql
            .load(conn)
            .map_err(|e| ToolError::query("look for old values", e))?;
        Ok(!rows.is_empty())
    }
}

fn sqlite_create_sql(conn: &mut AnyConnection, table: &str) -> Result<Option<String>, ToolError> {
    #[derive(diesel::QueryableByName)]
    struct Create {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let mut query = Sql::new(Backend::Sqlite);
    query
        .push("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ")
        .bind(Bind::Text(table.to_owned()));
    let rows: Vec<Create> = query
        .load(conn)
        .map_err(|e| ToolError::query("read the old table's definition", e))?;
    Ok(rows.into_iter().next().map(|c| c.sql))
}

/// MySQL/MariaDB: the old table's `SHOW CREATE TABLE` (the table exists).
fn mysql_create_sql(
    conn: &mut AnyConnection,
    table: &attrmig_core::ident::TableName,
) -> Result<Option<String>, ToolError> {
    struct Create {
        sql: String,
    }
    // The column is named `Create Table`, which diesel's derive can't spell.
    impl diesel::QueryableByName<attrmig_db::AnyBackend> for Create {
        fn build<'a>(
            row: &impl diesel::row::NamedRow<'a, attrmig_db::AnyBackend>,
        ) -> diesel::deserialize::Result<Self> {
            Ok(Create {
                sql: diesel::row::NamedRow::get::<diesel::sql_types::Text, String>(
                    row,
                    "Create Table",
                )?,
            })
        }
    }
    let mut query = Sql::new(Backend::Mysql);
    query.push(&format!(
        "SHOW CREATE TABLE {}",
        Backend::Mysql.quote(table)
    ));
    let rows: Vec<Create> = query
        .load(conn)
        .map_err(|e| ToolError::query("read the old table's definition", e))?;
    Ok(rows.into_iter().next().map(|c| c.sql))
}
