//! EAV entities with more than one row of the attribute: the same key and name twice.
//! The sync can't tell which row holds the value (PostgreSQL's upsert fails the whole
//! batch, "cannot affect row a second time"; elsewhere one row wins at random), so step 1
//! refuses them, naming the first keys and how many there are.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use crate::error::ToolError;
use crate::layout::Layout;
use crate::sql::{Bind, Sql};

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
        sql.push(&format!(" GROUP BY {key} HAVING COUNT(*) > 1"));
    };
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut count = Sql::new(layout.backend());
    count.push(&format!("SELECT COUNT(*) AS n FROM (SELECT {key} "));
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
    first.push(&format!("SELECT {} AS k ", layout.text(&key)));
    grouped(&mut first);
    first
        .push(&format!(" ORDER BY {key} LIMIT "))
        .bind(Bind::Int(NAMED));
    let keys: Vec<K> = first
        .load(conn)
        .map_err(|e| ToolError::query("name entities with more than one attribute row", e))?;
    Ok((n, keys.into_iter().map(|k| k.k).collect()))
}
