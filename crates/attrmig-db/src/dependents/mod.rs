//! What the database itself does with old storage: every view, rule, trigger, routine,
//! generated column, index, constraint, policy and publication that names the old
//! attribute, from each backend's own catalogue ([`attrmig_core::dependents`] has the
//! fact types and the text match).
//!
//! - PostgreSQL records most dependencies in `pg_depend` (views, materialized views,
//!   rules, policies, triggers' `WHEN` and `UPDATE OF`, SQL-standard function bodies,
//!   indexes, constraints, generated columns, publications' column lists); the bodies of
//!   PL/pgSQL and other functions are matched by text.
//! - MySQL/MariaDB list indexes, foreign keys and CHECK constraints in
//!   `information_schema`; views, triggers, routines, events and generation expressions
//!   are matched by text.
//! - SQLite keeps only each object's `CREATE` text (`sqlite_schema`), read with the
//!   pragmas where they know more (`pragma_index_list`, `pragma_index_xinfo`,
//!   `pragma_foreign_key_list`).
//!
//! docs/dependents.md says per backend what this sees and what it does not. Objects named
//! with attrmig's own prefix are left out.

mod mysql;
mod postgres;
mod sqlite;

use attrmig_core::dependents::{
    Access, Attribute, Dependent, DependentKind, FoundBy, OnDrop, Scope, is_own, mention,
};
use attrmig_core::facts::TableFact;
use attrmig_core::ident::Ident;
use attrmig_core::plan::OldStorage;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::introspect;
use crate::url::Backend;

/// Every dependent of `old`, on the connection's current schema or database; empty when
/// the old table is gone.
pub fn of(conn: &mut AnyConnection, old: &OldStorage) -> Result<Vec<Dependent>, DbError> {
    let table = introspect::table(conn, old.table())?;
    if !table.exists() {
        return Ok(Vec::new());
    }
    let target = Target {
        old,
        attribute: Attribute::of(old),
        table: &table,
    };
    let mut found = match conn.backend() {
        Backend::Postgres => postgres::dependents(conn, &target)?,
        Backend::Mysql => mysql::dependents(conn, &target)?,
        Backend::Sqlite => sqlite::dependents(conn, &target)?,
    };
    found.retain(|d| !is_own(&d.name));
    if !matches!(old, OldStorage::Column { .. }) {
        // drop-old removes values there, and drops no column.
        for d in &mut found {
            d.on_drop = OnDrop::Unaffected;
        }
    }
    found.sort_by(|a, b| (a.kind, &a.table, &a.name).cmp(&(b.kind, &b.table, &b.name)));
    found.dedup_by(|a, b| a.kind == b.kind && a.name == b.name && a.table == b.table);
    Ok(found)
}

/// What the backends look for.
struct Target<'a> {
    old: &'a OldStorage,
    attribute: Attribute<'a>,
    table: &'a TableFact,
}

impl Target<'_> {
    /// The old table's own name (how catalogues name it in their `rel` columns).
    fn table_name(&self) -> &str {
        self.old.table().name.as_str()
    }

    /// `schema.table` when qualified, for statements ([`quoted`] quotes each part).
    fn qualified(&self) -> String {
        self.old.table().to_string()
    }

    /// `sql` looking in the old table's schema: `current` replaced by [`Self::schema_sql`].
    fn in_schema(&self, sql: &str, current: &str) -> String {
        sql.replace(current, &self.schema_sql(current))
    }

    /// Another table of the old table's schema, for statements: `schema.rel` or `rel`.
    fn sibling(&self, rel: &str) -> String {
        match &self.old.table().schema {
            Some(schema) => format!("{schema}.{rel}"),
            None => rel.to_owned(),
        }
    }

    /// The old table's schema as SQL: a literal when the plan names one (an [`Ident`],
    /// so nothing to escape), else `current` (`current_schema()`, `DATABASE()`).
    fn schema_sql(&self, current: &str) -> String {
        match &self.old.table().schema {
            Some(schema) => format!("'{schema}'"),
            None => current.to_owned(),
        }
    }

    /// The column whose catalogue dependencies count: the old column, the document
    /// column; `None` for EAV (every column of its table).
    fn column(&self) -> Option<&str> {
        match self.old {
            OldStorage::Column { column, .. } | OldStorage::Json { column, .. } => {
                Some(column.as_str())
            }
            OldStorage::Eav { .. } => None,
        }
    }

    fn is_column_kind(&self) -> bool {
        matches!(self.old, OldStorage::Column { .. })
    }

    fn is_old_table(&self, name: &str) -> bool {
        name == self.table_name()
    }

    /// What `text` does with the attribute.
    fn mention(&self, text: &str, scope: Scope) -> Option<Access> {
        mention(text, self.attribute, scope)
    }

    /// For a dependent the catalogue ties to the document column or the EAV table: what
    /// its definition does with the attribute itself (JSON key, EAV name). The column
    /// kind keeps what the catalogue says.
    fn refine(&self, catalogue_says: Access, definition: Option<&str>, scope: Scope) -> Access {
        if self.is_column_kind() {
            return catalogue_says;
        }
        definition
            .and_then(|text| self.mention(text, scope))
            .map_or(Access::NamesStorage, |found| {
                match (found, catalogue_says) {
                    (Access::NamesStorage, _) => Access::NamesStorage,
                    (_, Access::Constrains) => Access::Constrains,
                    (found, _) => found,
                }
            })
    }

    /// Does a row expression name another column of the old table than the attribute's?
    fn names_other_columns(&self, expression: &str) -> bool {
        let TableFact::Present { columns, .. } = self.table else {
            return false;
        };
        columns
            .iter()
            .filter(|c| Some(c.name.as_str()) != self.column())
            .any(|c| {
                mention(
                    expression,
                    Attribute::Column {
                        table: self.table_name(),
                        column: &c.name,
                    },
                    Scope::Row,
                )
                .is_some()
            })
    }
}

/// A name from the catalogue, quoted for a statement, if it is one attrmig can write
/// safely (a plain identifier); otherwise `None`, and nothing is generated for it.
/// `name` quoted, each part of a `schema.table` on its own.
fn quoted(backend: Backend, name: &str) -> Option<String> {
    let parts: Option<Vec<String>> = name
        .split('.')
        .map(|part| Ident::new(part).ok().map(|ident| backend.quote(&ident)))
        .collect();
    Some(parts?.join("."))
}

/// `ALTER TABLE t DROP CONSTRAINT c` (`DROP FOREIGN KEY` for MySQL's foreign keys).
fn drop_constraint(backend: Backend, table: &str, name: &str, foreign_key: bool) -> Option<String> {
    let what = if foreign_key && backend == Backend::Mysql {
        "FOREIGN KEY"
    } else {
        "CONSTRAINT"
    };
    Some(format!(
        "ALTER TABLE {} DROP {what} {}",
        quoted(backend, table)?,
        quoted(backend, name)?
    ))
}

/// Whether a CHECK constraint over the old column accepts a write that leaves the column
/// out (so that it holds its default, or NULL): the database evaluates `expression` on
/// that value. `None` when the expression names other columns too, the default is not a
/// constant, or the evaluation fails.
fn check_accepts_absent(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    expression: &str,
) -> Option<bool> {
    let column = target.column()?;
    if target.names_other_columns(expression) {
        return None;
    }
    let backend = conn.backend();
    let fact = target.table.column(column)?;
    let value = fact.default.as_deref().unwrap_or("NULL");
    // Only a constant is evaluated here: a default that calls something (`nextval(...)`)
    // would run it.
    if value.contains('(') {
        return None;
    }
    // PostgreSQL types the value as the column's type, so the expression's operators
    // resolve as they do on a real write.
    let value = match backend {
        Backend::Postgres => format!("CAST({value} AS {})", fact.data_type),
        Backend::Sqlite | Backend::Mysql => value.to_owned(),
    };
    let row = format!(
        "SELECT {value} AS {} ",
        quoted(backend, column).unwrap_or_else(|| column.to_owned())
    );
    let sql = format!(
        "SELECT {} AS n FROM ({row}) AS {}",
        backend.cast_bigint(&format!(
            "CASE WHEN ({expression}) IS FALSE THEN 0 ELSE 1 END"
        )),
        quoted(backend, &target.qualified())?
    );
    #[derive(QueryableByName)]
    struct Verdict {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // In a transaction of its own (a savepoint inside one): an expression that fails to
    // evaluate must not abort the caller's.
    let rows: Vec<Verdict> = conn.transaction(|c| diesel::sql_query(sql).load(c)).ok()?;
    rows.first().map(|r| r.n == 1)
}

/// A CHECK constraint of the old table, if its expression names the attribute: the
/// column's own (`own`) goes with the column, any other refuses the drop; judged on the
/// value a write without the attribute stores.
fn check(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    name: String,
    expression: &str,
    own: bool,
) -> Option<Dependent> {
    let access = target.mention(expression, Scope::Row).map(constrains)?;
    let on_drop = if own {
        OnDrop::DroppedWith
    } else {
        OnDrop::Blocks
    };
    let mut d = Dependent::new(
        DependentKind::Check,
        name,
        access,
        FoundBy::TextMatch,
        on_drop,
    )
    .on(target.table_name());
    if target.is_column_kind() {
        d.accepts_absent = check_accepts_absent(conn, target, expression);
    }
    Some(d)
}

/// Splits a comma-joined column list from a catalogue query.
fn split_columns(list: Option<String>) -> Vec<String> {
    list.map(|l| l.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A constraint whose text names the attribute constrains it (one that names only the
/// document column or the EAV table still only names the storage).
fn constrains(found: Access) -> Access {
    match found {
        Access::NamesStorage => Access::NamesStorage,
        _ => Access::Constrains,
    }
}
