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
    /// The old key.
    pub key: String,
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
        let old_key =
            column(&old_table, plan.old.key().as_str()).ok_or_else(|| Refusal::ColumnMissing {
                role: "old key",
                table: plan.old.table().to_string(),
                column: plan.old.key().to_string(),
                todo: format!("check [old] in plans/{}.toml", plan.id),
            })?;
        let key_type = match type_family(&old_key.data_type) {
            TypeFamily::Integer => KeyType::Int,
            TypeFamily::Text | TypeFamily::Unknown => KeyType::Text { cast: None },
            _ if backend == Backend::Postgres => KeyType::Text {
                cast: Some(old_key.data_type.clone()),
            },
            _ => KeyType::Text { cast: None },
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
            Backend::Sqlite => sqlite_create_sql(conn, plan.old.table().as_str())?,
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
        for (role, col) in [
            ("new key", &self.plan.new.key),
            ("new", &self.plan.new.column),
        ] {
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

    /// Reads a key that was selected as text.
    pub fn parse_key(&self, text: &str) -> Result<Key, ToolError> {
        match self.key_type {
            KeyType::Int => text.parse().map(Key::Int).map_err(|_| {
                ToolError::Unexpected(format!("an integer key read back as {text:?}"))
            }),
            KeyType::Text { .. } => Ok(Key::Text(text.to_owned())),
        }
    }

    fn q(&self, ident: &attrmig_core::ident::Ident) -> String {
        self.backend.quote(ident)
    }

    /// `"users"`: the old table's name, quoted, for statements on the table itself.
    pub fn old_table_name(&self) -> String {
        self.q(self.plan.old.table())
    }

    /// `"users" o`: the old table, aliased `o`.
    pub fn old_from(&self) -> String {
        format!("{} o", self.q(self.plan.old.table()))
    }

    /// `"users_pii" n`: the new table, aliased `n`.
    pub fn new_from(&self) -> String {
        format!("{} n", self.q(&self.plan.new.table))
    }

    /// The old key column alone, for statements on the old table without an alias.
    pub fn old_key_column(&self) -> String {
        self.q(self.plan.old.key())
    }

    /// The old key expression, over alias `o`.
    pub fn old_key(&self) -> String {
        format!("o.{}", self.q(self.plan.old.key()))
    }

    /// The new key expression, over alias `n`.
    pub fn new_key(&self) -> String {
        format!("n.{}", self.q(&self.plan.new.key))
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
        let key = format!("{row}.{}", self.q(self.plan.old.key()));
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

    /// The old key column's type as the database names it (for a table of keys).
    pub fn old_key_type(&self) -> String {
        self.old_table
            .column(self.plan.old.key().as_str())
            .map(|c| c.data_type.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "TEXT".to_owned())
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

    /// Pushes `expr > lo AND expr <= hi`, either bound optional.
    pub fn push_range(&self, sql: &mut Sql, expr: &str, lo: Option<&Key>, hi: Option<&Key>) {
        let cast = match &self.key_type {
            KeyType::Text { cast } => cast.as_deref(),
            KeyType::Int => None,
        };
        match (lo, hi) {
            (None, None) => {
                sql.push("1 = 1");
            }
            (Some(lo), None) => {
                sql.push(&format!("{expr} > ")).bind_key(lo, cast);
            }
            (None, Some(hi)) => {
                sql.push(&format!("{expr} <= ")).bind_key(hi, cast);
            }
            (Some(lo), Some(hi)) => {
                sql.push(&format!("{expr} > "))
                    .bind_key(lo, cast)
                    .push(&format!(" AND {expr} <= "))
                    .bind_key(hi, cast);
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
                " LEFT JOIN {} ON {nk} = {ok} AND ",
                self.new_from()
            ));
            self.push_scope(sql, &nk, scope);
        }
        sql.push(" WHERE ");
        self.push_old_rows(sql);
        sql.push(" AND ");
        self.push_scope(sql, &ok, scope);
    }

    /// Pushes the condition that `expr` is in `scope`.
    pub fn push_scope(&self, sql: &mut Sql, expr: &str, scope: Scope<'_>) {
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

    /// Pushes `expr IN (k1, k2, ...)`.
    pub fn push_in(&self, sql: &mut Sql, expr: &str, keys: &[Key]) {
        let cast = match &self.key_type {
            KeyType::Text { cast } => cast.as_deref(),
            KeyType::Int => None,
        };
        if keys.is_empty() {
            sql.push("1 = 0");
            return;
        }
        sql.push(&format!("{expr} IN ("));
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_key(key, cast);
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
        let mut sql = Sql::new(self.backend);
        sql.push(&format!(
            "SELECT {} AS k FROM {} WHERE ",
            self.text(&key),
            self.old_from()
        ));
        self.push_old_rows(&mut sql);
        sql.push(" AND ");
        self.push_range(&mut sql, &key, after, None);
        sql.push(&format!(" ORDER BY {key} LIMIT "))
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
        let mut sql = Sql::new(self.backend);
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
        sql.push(&format!(
            "SELECT {} AS k FROM {} WHERE ",
            self.text(&self.old_key()),
            self.old_from()
        ));
        self.push_old_rows(&mut sql);
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
    table: &attrmig_core::ident::Ident,
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
