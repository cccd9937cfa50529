//! The statements a sync batch runs, per backend: each makes new equal old over a scope
//! and says how many rows it wrote.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use attrmig_db::{AnyConnection, Backend};
use diesel::result::Error as DieselError;

use diesel::Connection;

use super::Rejection;
use crate::duplicates;
use crate::layout::{Layout, Scope};
use crate::sql::{Key, Sql};
use crate::values;

#[diesel::declare_sql_function]
extern "SQL" {
    /// Notes one NULL old value the upsert passed over; always false.
    fn attrmig_null_old() -> diesel::sql_types::Bool;
}

/// SQLite: counts the NULL old values a batch's upsert passes over, so that the NULL-out,
/// a second read of the whole range, runs only for a range that has one (most ranges of
/// a first pass have none). The upsert's filter is `old IS NOT NULL OR
/// attrmig_null_old()`, the function registered on the connection: an old row of the
/// range with a NULL value can only be filtered out by calling it, so the count is never
/// too low. (Too high, it only costs a NULL-out that finds nothing.) Elsewhere the tally
/// is off and every range is nulled out (PostgreSQL and MySQL don't need it: their
/// statements find the NULLs with the differences).
#[derive(Default)]
pub(super) struct NullTally(Option<Arc<AtomicU64>>);

impl NullTally {
    /// Registers the counting function on a SQLite connection; off on other backends.
    pub(super) fn register(conn: &mut AnyConnection) -> Result<Self, DieselError> {
        let AnyConnection::Sqlite(sqlite) = conn else {
            return Ok(Self::default());
        };
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        attrmig_null_old_utils::register_nondeterministic_impl(sqlite, move || {
            counter.fetch_add(1, Ordering::Relaxed);
            false
        })?;
        Ok(Self(Some(seen)))
    }
}

/// What [`write`] did.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Rows written.
    pub rows: usize,
    /// Rows not written: their old document is no JSON, or the new column's type would
    /// change their value. Each is that key's data issue.
    pub rejected: Vec<Rejection>,
}

/// Why a checked write was undone.
enum Undo {
    Db(DieselError),
    Changed(Vec<values::Changed>),
}

impl From<DieselError> for Undo {
    fn from(e: DieselError) -> Self {
        Undo::Db(e)
    }
}

/// Makes new equal old over `scope`, except for the rows it must not write: an old
/// document that is no JSON has no value to write (and must not make new NULL), and
/// where the new column's type can change a value ([`Layout::write_may_change`]) the
/// rows written are compared with old in the same savepoint; if the type changed any,
/// the savepoint is undone and the scope written again without them. A common layout
/// (the same type on both sides) pays for neither.
pub(super) fn write(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    nulls: &NullTally,
) -> Result<Written, DieselError> {
    let id = layout.plan().id.to_string();
    let mut rejected: Vec<Rejection> = values::unreadable(conn, layout, scope)?
        .into_iter()
        .map(|u| Rejection {
            error: format!(
                "the old document is not valid JSON, so the value at `{}` can't be read; \
                 fix the document in {}, then run `attrmig data-issues {id} --retry`",
                json_path(layout),
                layout.plan().old.table()
            ),
            key: u.key,
            old_value: Some(u.document),
        })
        .collect();
    rejected.extend(
        duplicates::in_scope(conn, layout, scope)?
            .into_iter()
            .map(|key| Rejection {
                error: duplicates::data_issue(layout),
                key,
                old_value: None,
            }),
    );
    loop {
        let keys: Vec<Key> = rejected.iter().map(|r| r.key.clone()).collect();
        let owned;
        let scope = match scope {
            _ if keys.is_empty() => scope,
            Scope::Range(lo, hi) | Scope::RangeExcept(lo, hi, _) => {
                owned = [scope_except(scope), keys].concat();
                Scope::RangeExcept(lo, hi, &owned)
            }
            Scope::Keys(all) => {
                owned = all.iter().filter(|k| !keys.contains(k)).cloned().collect();
                Scope::Keys(&owned)
            }
        };
        if !layout.write_may_change() {
            let rows = write_rows(conn, layout, scope, nulls)?;
            return Ok(Written { rows, rejected });
        }
        let attempt = conn.transaction(|c| {
            let rows = write_rows(c, layout, scope, nulls)?;
            let changed = values::changed(c, layout, scope)?;
            if changed.is_empty() {
                Ok(rows)
            } else {
                Err(Undo::Changed(changed))
            }
        });
        match attempt {
            Ok(rows) => return Ok(Written { rows, rejected }),
            Err(Undo::Db(e)) => return Err(e),
            Err(Undo::Changed(changed)) => {
                let new_type = layout
                    .new_table()
                    .column(layout.plan().new.column.as_str())
                    .map_or_else(String::new, |c| c.data_type.clone());
                rejected.extend(changed.into_iter().map(|c| Rejection {
                    error: format!(
                        "the new column's type ({new_type}) changes the value: {} would be stored as {}; \
                         widen the new column's type or correct the old value, then run `attrmig data-issues {id} --retry`",
                        c.old.as_deref().unwrap_or("NULL"),
                        c.new.as_deref().unwrap_or("NULL"),
                    ),
                    key: c.key,
                    old_value: c.old,
                }));
            }
        }
    }
}

/// The keys a scope already leaves out.
fn scope_except(scope: Scope<'_>) -> Vec<Key> {
    match scope {
        Scope::RangeExcept(_, _, except) => except.to_vec(),
        Scope::Range(..) | Scope::Keys(_) => Vec::new(),
    }
}

/// A JSON kind's path, for messages.
fn json_path(layout: &Layout) -> String {
    match &layout.plan().old {
        attrmig_core::plan::OldStorage::Json { path, .. } => path.to_string(),
        _ => String::new(),
    }
}

/// The statement(s) that make new equal old over `scope`; returns rows written.
fn write_rows(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    nulls: &NullTally,
) -> Result<usize, DieselError> {
    if layout.same_table() {
        return same_table(layout, scope).execute(conn);
    }
    let upserted = match layout.backend() {
        Backend::Mysql => {
            // The locking read comes first and counts what the upsert will write: MySQL
            // and MariaDB report 2 affected rows for each row ON DUPLICATE KEY UPDATE
            // changes, so the upsert's own count can't say how many rows it wrote.
            // Nothing to write (a later pass over synced rows): the locks alone were needed.
            let counts = mysql_lock_batch(layout, scope).load::<Differing>(conn)?;
            let (differ, to_null) = counts.first().map_or((0, 0), |c| (c.n, c.nulls));
            if differ > to_null {
                upsert_values(layout, scope, false).execute(conn)?;
            }
            if to_null > 0 {
                null_out(layout, scope).execute(conn)?;
            }
            usize::try_from(differ).unwrap_or(0)
        }
        Backend::Postgres => upsert_differences(layout, scope).execute(conn)?,
        // The batch holds SQLite's write lock: nothing can change new between reading and
        // writing, and a conditional upsert writes nothing for an equal row, so the join
        // that finds the differences first (a second B-tree probe per row) is not needed.
        Backend::Sqlite => {
            let tally = nulls.0.as_deref();
            if let Some(seen) = tally {
                seen.store(0, Ordering::Relaxed);
            }
            let upserted = upsert_values(layout, scope, tally.is_some()).execute(conn)?;
            let any_null = tally.is_none_or(|seen| seen.load(Ordering::Relaxed) > 0);
            upserted
                + if any_null {
                    null_out(layout, scope).execute(conn)?
                } else {
                    0
                }
        }
    };
    Ok(upserted)
}

/// SQLite and MySQL: insert or update every key with an old value, without reading new
/// in the same statement. SQLite's conditional upsert skips an equal row (and does not
/// count it); InnoDB writes nothing for an update to an equal value (compared byte for
/// byte, so a change of case counts). On MySQL a SELECT that reads the table it inserts
/// into is first copied to a temporary table: the join that finds the differences is
/// what `mysql_lock_batch` does, once, under lock. `tally_nulls`: the rows with a NULL
/// old value call `attrmig_null_old()` (see [`NullTally`]).
fn upsert_values(layout: &Layout, scope: Scope<'_>, tally_nulls: bool) -> Sql {
    let b = layout.backend();
    let (ok, ov) = (layout.old_key(), layout.old_value());
    let new = &layout.plan().new;
    let (table, key, column) = (
        b.quote(&new.table),
        layout.new_key_bare().order(),
        b.quote(&new.column),
    );
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "INSERT INTO {table} ({key}, {column}) SELECT {}, {} FROM {} WHERE ",
        ok.order(),
        layout.old_value_for_new(),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_scope(&mut sql, &ok, scope);
    if tally_nulls {
        sql.push(&format!(" AND ({ov} IS NOT NULL OR attrmig_null_old())"));
    } else {
        sql.push(&format!(" AND {ov} IS NOT NULL"));
    }
    match b {
        Backend::Mysql => sql.push(&format!(
            " ON DUPLICATE KEY UPDATE {column} = VALUES({column})"
        )),
        Backend::Sqlite | Backend::Postgres => sql.push(&format!(
            " ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column} WHERE {}",
            layout.values_differ(&format!("{table}.{column}"), &format!("excluded.{column}"))
        )),
    };
    sql
}

/// SQLite and MySQL: where old is NULL, new must not keep a value.
fn null_out(layout: &Layout, scope: Scope<'_>) -> Sql {
    let b = layout.backend();
    let (ok, ov) = (layout.old_key(), layout.old_value());
    let new = &layout.plan().new;
    let (table, key, column) = (
        b.quote(&new.table),
        layout.new_key_bare(),
        b.quote(&new.column),
    );
    let mut sql = Sql::new(b);
    sql.push(&format!("UPDATE {table} SET {column} = NULL WHERE "));
    layout.push_scope(&mut sql, &key, scope);
    sql.push(&format!(
        " AND {column} IS NOT NULL AND {} IN (SELECT {} FROM {} WHERE ",
        key.row(),
        ok.order(),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_scope(&mut sql, &ok, scope);
    sql.push(&format!(" AND {ov} IS NULL)"));
    sql
}

/// What `mysql_lock_batch` counts: rows that differ, and among them the NULL old values
/// over a new value.
#[derive(diesel::QueryableByName)]
struct Differing {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    nulls: i64,
}

/// MySQL/MariaDB: locks every old row of the scope (and the new rows they join) until
/// the batch commits, and counts the rows that differ: what the upsert and the NULL-out
/// will write.
///
/// A statement of its own, because the one spelling of a shared lock that MySQL 8 and
/// MariaDB both accept is `LOCK IN SHARE MODE` (MariaDB has no `FOR SHARE`), and the
/// upsert then reads rows nobody else can change before the commit,
/// whatever the isolation level. Locks are held on every row of the range: the filter on
/// values is in the select list, not the WHERE, so READ COMMITTED releases none.
fn mysql_lock_batch(layout: &Layout, scope: Scope<'_>) -> Sql {
    let b = layout.backend();
    let (ov, nv) = (layout.old_value(), layout.new_value());
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS n, {} AS nulls",
        b.cast_bigint(&format!(
            "COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)",
            layout.values_differ(&ov, &nv)
        )),
        b.cast_bigint(&format!(
            "COALESCE(SUM(CASE WHEN {ov} IS NULL AND {nv} IS NOT NULL THEN 1 ELSE 0 END), 0)"
        )),
    ));
    layout.push_old_with_new(&mut sql, scope);
    sql.push(" LOCK IN SHARE MODE");
    sql
}

/// New column in the old table: one UPDATE of the rows that differ (row locks included).
fn same_table(layout: &Layout, scope: Scope<'_>) -> Sql {
    let b = layout.backend();
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let mut sql = Sql::new(b);
    let target = match b {
        Backend::Mysql => layout.old_from(),
        Backend::Sqlite | Backend::Postgres => layout.old_from().replacen(" o", " AS o", 1),
    };
    let column = match b {
        Backend::Mysql => format!("o.{}", layout.new_column()),
        Backend::Sqlite | Backend::Postgres => layout.new_column(),
    };
    sql.push(&format!(
        "UPDATE {target} SET {column} = {} WHERE ",
        layout.old_value_for_new()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_scope(&mut sql, &ok, scope);
    sql.push(&format!(" AND {}", layout.values_differ(&ov, &nv)));
    sql
}

/// PostgreSQL: upsert every key whose old value differs from new (absent reads as NULL).
/// That covers a value new lacks, a value that differs, and a NULL old value over a new
/// value (upserted as NULL); a NULL old value with no new row is left alone. The rows
/// that differ are found first and only they are locked (`FOR SHARE OF o`) and written:
/// a conditional upsert would still lock and log every row.
///
/// `ORDER BY` the key: without it PostgreSQL often joins by hashing old's range and emits
/// the rows in hash order, so each insert descends new's key index from its root instead
/// of appending at the index's rightmost page (at 10M rows: 20,000 more buffer reads a
/// batch of 10,000, 15–20 % of a first pass). Both sides come from their key indexes in
/// key order, so the planner usually merges them instead, and old's rows need no sort.
fn upsert_differences(layout: &Layout, scope: Scope<'_>) -> Sql {
    let b = layout.backend();
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let new = &layout.plan().new;
    let (table, key, column) = (
        b.quote(&new.table),
        layout.new_key_bare().order(),
        b.quote(&new.column),
    );
    let ok = ok.order();
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "INSERT INTO {table} ({key}, {column}) SELECT {ok}, {}",
        layout.old_value_for_new()
    ));
    layout.push_old_with_new(&mut sql, scope);
    sql.push(&format!(
        " AND {} ORDER BY {ok} FOR SHARE OF o ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column}",
        layout.values_differ(&ov, &nv)
    ));
    sql
}
