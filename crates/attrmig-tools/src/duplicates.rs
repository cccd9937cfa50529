//! EAV entities with more than one row of the attribute: the same key and name twice.
//! The sync can't tell which row holds the value (PostgreSQL's upsert fails the whole
//! batch, "cannot affect row a second time"; elsewhere one row wins at random), so step 1
//! refuses them, naming the first keys and how many there are; and where the table has
//! no unique key that rules them out, each sync batch sets the ones that arrived since
//! aside as data issues ([`in_scope`]).

use attrmig_core::plan::OldStorage;
use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Text};

use crate::error::ToolError;
use crate::layout::{Layout, Scope};
use crate::sql::{Bind, Key, Sql};

/// Whether an entity can have more than one row of the attribute: an EAV table with no
/// unique key (the primary key included) within its key and name columns.
pub fn may_repeat(layout: &Layout) -> bool {
    match &layout.plan().old {
        OldStorage::Eav {
            key, name_column, ..
        } => {
            let mut columns = key.names();
            columns.push(name_column.as_str());
            !layout.old_table().unique_by(&columns)
        }
        OldStorage::Column { .. } | OldStorage::Json { .. } => false,
    }
}

/// A data issue's error for a key [`in_scope`] found: why it is not copied, and what to do.
pub fn data_issue(layout: &Layout) -> String {
    let id = &layout.plan().id;
    match &layout.plan().old {
        OldStorage::Eav {
            table,
            key,
            name_column,
            name,
            ..
        } => format!(
            "`{table}` has more than one `{name}` row for this key, so the sync can't tell which \
             holds the value; delete the extra rows (a unique key on ({}, {name_column}) keeps \
             them out), then run `attrmig data-issues {id} --retry`",
            key.names().join(", ")
        ),
        OldStorage::Column { table, .. } | OldStorage::Json { table, .. } => format!(
            "`{table}` has more than one row with this key, so the sync can't tell which holds \
             the value; delete the extra rows, then run `attrmig data-issues {id} --retry`"
        ),
    }
}

/// The keys of `scope` with more than one row of the attribute, in key order; none
/// without a query where the table rules them out ([`may_repeat`]). One aggregate over
/// the scope's rows of the attribute, for such tables only.
pub fn in_scope(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Key>, DieselError> {
    if !may_repeat(layout) {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct K {
        #[diesel(sql_type = Text)]
        k: String,
    }
    let key = layout.old_key();
    let mut sql = layout.select_old_keys();
    sql.push(" AND ");
    layout.push_scope(&mut sql, &key, scope);
    sql.push(&format!(
        " GROUP BY {0} HAVING COUNT(*) > 1 ORDER BY {0}",
        key.order()
    ));
    let rows: Vec<K> = sql.load(conn)?;
    rows.into_iter()
        .map(|r| {
            layout
                .parse_key(&r.k)
                .map_err(|e| DieselError::DeserializationError(e.to_string().into()))
        })
        .collect()
}

/// How many keys a refusal names.
pub const NAMED: i64 = 10;

/// Entities with more than one row of the attribute: how many, and the first [`NAMED`]
/// of them by key, as text. Reads every row of the attribute once per query (two).
pub fn attribute_rows(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
) -> Result<(u64, Vec<String>), ToolError> {
    let key = layout.old_key();
    let grouped = |sql: &mut Sql| {
        sql.push(&format!("FROM {} WHERE ", layout.old_from()));
        layout.push_old_rows(sql);
        sql.push(&format!(" GROUP BY {} HAVING COUNT(*) > 1", key.order()));
    };
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut count = Sql::new(layout.backend());
    count.push(&format!(
        "SELECT COUNT(*) AS n FROM (SELECT {} ",
        key.order()
    ));
    grouped(&mut count);
    count.push(") d");
    let n: Vec<N> = count
        .load(conn)
        .map_err(|e| ToolError::query("count entities with more than one attribute row", e))?;
    let n = n.first().map_or(0, |r| u64::try_from(r.n).unwrap_or(0));
    if n == 0 {
        return Ok((0, Vec::new()));
    }
    #[derive(QueryableByName)]
    struct K {
        #[diesel(sql_type = Text)]
        k: String,
    }
    let mut first = Sql::new(layout.backend());
    first.push(&format!("SELECT {} AS k ", layout.key_text(&key)));
    grouped(&mut first);
    first
        .push(&format!(" ORDER BY {} LIMIT ", key.order()))
        .bind(Bind::Int(NAMED));
    let keys: Vec<K> = first
        .load(conn)
        .map_err(|e| ToolError::query("name entities with more than one attribute row", e))?;
    // Through the key type, so a key of several columns reads as it is recorded.
    let keys = keys
        .into_iter()
        .map(|k| layout.parse_key(&k.k).map(|k| k.to_string()))
        .collect::<Result<_, _>>()?;
    Ok((n, keys))
}
