//! SQLite: each object's `CREATE` text in `sqlite_schema` (views, triggers, the old
//! table's CHECK constraints and generated columns, foreign key names), and the pragmas
//! where they know more: `pragma_index_list` and `pragma_index_xinfo` for indexes,
//! `pragma_foreign_key_list` for foreign keys either way.
//!
//! SQLite refuses `DROP COLUMN` while anything names the column (views and triggers
//! included), except an index `ddl drop-old` drops first and the column's own CHECK.

use attrmig_core::dependents::{Access, Dependent, DependentKind, FoundBy, OnDrop, Scope};
use attrmig_core::sql_text::{Spanned, Token, spanned};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{Target, check, quoted};
use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::url::Backend;

#[derive(QueryableByName)]
struct SchemaRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    rel: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

pub(super) fn dependents(
    conn: &mut AnyConnection,
    target: &Target<'_>,
) -> Result<Vec<Dependent>, DbError> {
    let schema: Vec<SchemaRow> = diesel::sql_query(
        "SELECT type AS kind, name AS name, tbl_name AS rel, sql AS definition FROM sqlite_schema \
         WHERE sql IS NOT NULL AND type IN ('table', 'view', 'trigger', 'index')",
    )
    .load(conn)
    .map_err(|e| DbError::query("read sqlite_schema", e))?;
    let mut found = Vec::new();
    for row in &schema {
        let (kind, scope) = match row.kind.as_str() {
            "view" => (DependentKind::View, Scope::Elsewhere),
            "trigger" if target.is_old_table(&row.rel) => {
                (DependentKind::Trigger, Scope::TriggerOnTable)
            }
            "trigger" => (DependentKind::Trigger, Scope::Elsewhere),
            _ => continue,
        };
        if let Some(access) = target.mention(&row.definition, scope) {
            let mut d = Dependent::new(kind, &row.name, access, FoundBy::TextMatch, OnDrop::Blocks);
            if kind == DependentKind::Trigger {
                d = d.on(&row.rel);
            }
            found.push(d);
        }
    }
    let create = schema
        .iter()
        .find(|r| r.kind == "table" && r.name == target.table_name())
        .map(|r| r.definition.as_str());
    if target.column().is_some() {
        indexes(conn, target, &schema, &mut found)?;
        if let Some(create) = create {
            table_parts(conn, target, create, &mut found);
        }
    }
    if target.is_column_kind() {
        foreign_keys(conn, target, &schema, &mut found)?;
    }
    Ok(found)
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    uniq: i64,
    #[diesel(sql_type = Text)]
    origin: String,
}

#[derive(QueryableByName)]
struct IndexColumn {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

/// Indexes on the column, in an expression or in a partial index's WHERE. One made by
/// `CREATE INDEX` is dropped by `ddl drop-old` before the column; one a UNIQUE or
/// PRIMARY KEY constraint made can't be dropped without rebuilding the table.
fn indexes(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    schema: &[SchemaRow],
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    let Some(column) = target.column() else {
        return Ok(());
    };
    let context = "read indexes with pragma_index_list";
    let list: Vec<IndexRow> = diesel::sql_query(
        "SELECT name AS name, \"unique\" AS uniq, origin AS origin FROM pragma_index_list(?)",
    )
    .bind::<Text, _>(target.table_name())
    .load(conn)
    .map_err(|e| DbError::query(context, e))?;
    for index in list {
        let columns: Vec<IndexColumn> = diesel::sql_query(
            "SELECT name AS name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno",
        )
        .bind::<Text, _>(&index.name)
        .load(conn)
        .map_err(|e| DbError::query(context, e))?;
        let names: Vec<String> = columns.iter().filter_map(|c| c.name.clone()).collect();
        let in_key = names.iter().any(|n| n.eq_ignore_ascii_case(column));
        let definition = schema
            .iter()
            .find(|r| r.kind == "index" && r.name == index.name)
            .map(|r| r.definition.as_str());
        // An expression or a WHERE clause naming it: only the CREATE INDEX text says.
        let in_text = definition.and_then(|d| target.mention(d, Scope::Row));
        if !in_key && in_text.is_none() {
            continue;
        }
        let found_by = if in_key {
            FoundBy::Catalogue
        } else {
            FoundBy::TextMatch
        };
        let (kind, on_drop) = match index.origin.as_str() {
            "c" => (DependentKind::Index, OnDrop::DroppedWith),
            "pk" => (DependentKind::PrimaryKey, OnDrop::Blocks),
            _ => (DependentKind::Unique, OnDrop::Blocks),
        };
        let access = target.refine(Access::Constrains, definition, Scope::Row);
        let mut d = Dependent::new(kind, &index.name, access, found_by, on_drop)
            .on(target.table_name())
            .columns(names);
        d.unique = index.uniq == 1 && kind == DependentKind::Index;
        if kind == DependentKind::Index {
            d.drop_statement =
                quoted(Backend::Sqlite, &index.name).map(|n| format!("DROP INDEX {n}"));
            if d.drop_statement.is_none() {
                // A name attrmig can't write safely: the drop can't take it along.
                d.on_drop = OnDrop::Blocks;
            }
        }
        found.push(d);
    }
    Ok(())
}

/// The comma-separated parts of a CREATE TABLE's parenthesised list, as token ranges.
fn parts(tokens: &[Spanned]) -> Vec<&[Spanned]> {
    let Some(open) = tokens.iter().position(|t| t.token.is_punct("(")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.token.is_punct("(") {
            depth += 1;
        } else if t.token.is_punct(")") {
            depth -= 1;
            if depth == 0 {
                out.push(&tokens[start..i]);
                break;
            }
        } else if depth == 1 && t.token.is_punct(",") {
            out.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    out
}

/// The text between the parenthesis at `open` and its match.
fn parenthesised<'a>(text: &'a str, tokens: &[Spanned], open: usize) -> Option<&'a str> {
    let mut depth = 0usize;
    for t in &tokens[open..] {
        if t.token.is_punct("(") {
            depth += 1;
        } else if t.token.is_punct(")") {
            depth -= 1;
            if depth == 0 {
                return Some(&text[tokens[open].span.end..t.span.start]);
            }
        }
    }
    None
}

const TABLE_CONSTRAINT: &[&str] = &["constraint", "primary", "unique", "check", "foreign"];

/// The column a part defines, if it defines one.
fn defined_column(part: &[Spanned]) -> Option<&Token> {
    let first = &part.first()?.token;
    (first.is_name() && !TABLE_CONSTRAINT.iter().any(|w| first.is(w))).then_some(first)
}

/// `CONSTRAINT name` just before position `at` of a part.
fn constraint_name(part: &[Spanned], at: usize) -> Option<String> {
    (at >= 2 && part[at - 2].token.is("constraint")).then(|| part[at - 1].token.text().to_owned())
}

/// CHECK constraints and generated columns of the old table that name the column.
fn table_parts(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    create: &str,
    found: &mut Vec<Dependent>,
) {
    let Some(column) = target.column() else {
        return;
    };
    let tokens = spanned(create);
    for part in parts(&tokens) {
        let own = defined_column(part).is_some_and(|c| c.names(column));
        for (i, t) in part.iter().enumerate() {
            let opens = part.get(i + 1).is_some_and(|n| n.token.is_punct("("));
            if !opens {
                continue;
            }
            if t.token.is("check") {
                let Some(expression) = parenthesised(create, part, i + 1) else {
                    continue;
                };
                // An unnamed CHECK goes by its expression.
                let name =
                    constraint_name(part, i).unwrap_or_else(|| format!("({})", expression.trim()));
                found.extend(check(conn, target, name, expression, own));
            } else if t.token.is("as") && !own {
                let (Some(generated), Some(expression)) =
                    (defined_column(part), parenthesised(create, part, i + 1))
                else {
                    continue;
                };
                if let Some(access) = target.mention(expression, Scope::Row) {
                    found.push(
                        Dependent::new(
                            DependentKind::GeneratedColumn,
                            generated.text(),
                            access,
                            FoundBy::TextMatch,
                            OnDrop::Blocks,
                        )
                        .on(target.table_name()),
                    );
                }
            }
        }
    }
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    rel: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Text)]
    other: String,
    #[diesel(sql_type = Nullable<Text>)]
    other_col: Option<String>,
}

/// The name a CREATE TABLE gives the foreign key on `column`: `CONSTRAINT name` before
/// the column's REFERENCES, or before a `FOREIGN KEY (... column ...)`.
fn foreign_key_name(create: &str, column: &str) -> Option<String> {
    let tokens = spanned(create);
    for part in parts(&tokens) {
        let own = defined_column(part).is_some_and(|c| c.names(column));
        for (i, t) in part.iter().enumerate() {
            if own && t.token.is("references") {
                return constraint_name(part, i);
            }
            if t.token.is("foreign") {
                let list_end = part.iter().position(|p| p.token.is("references"))?;
                if part[i..list_end].iter().any(|p| p.token.names(column)) {
                    return constraint_name(part, i);
                }
            }
        }
    }
    None
}

/// Foreign keys from the column (they refuse the drop) and other tables' foreign keys
/// to it (the drop succeeds, and every write of those tables then fails with "foreign
/// key mismatch").
fn foreign_keys(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    schema: &[SchemaRow],
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    let Some(column) = target.column() else {
        return Ok(());
    };
    let context = "read foreign keys with pragma_foreign_key_list";
    let rows: Vec<KeyRow> = diesel::sql_query(
        "SELECT m.name AS rel, f.\"from\" AS col, f.\"table\" AS other, f.\"to\" AS other_col \
         FROM sqlite_schema m, pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND (m.name = ?1 OR f.\"table\" = ?1 COLLATE NOCASE)",
    )
    .bind::<Text, _>(target.table_name())
    .load(conn)
    .map_err(|e| DbError::query(context, e))?;
    for row in rows {
        let from_old = target.is_old_table(&row.rel) && row.col.eq_ignore_ascii_case(column);
        let to_old = row.other.eq_ignore_ascii_case(target.table_name())
            && row
                .other_col
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(column));
        let (kind, on_drop, via) = match (from_old, to_old) {
            (true, _) => (
                DependentKind::ForeignKey,
                OnDrop::Blocks,
                format!(
                    "{} ({})",
                    row.other,
                    row.other_col.clone().unwrap_or_default()
                ),
            ),
            (false, true) => (
                DependentKind::ReferencingForeignKey,
                OnDrop::Breaks,
                format!("{} ({column})", target.table_name()),
            ),
            (false, false) => continue,
        };
        let name = schema
            .iter()
            .find(|r| r.kind == "table" && r.name == row.rel)
            .and_then(|r| foreign_key_name(&r.definition, &row.col))
            .unwrap_or_else(|| "(unnamed)".to_owned());
        found.push(
            Dependent::new(kind, name, Access::Constrains, FoundBy::Catalogue, on_drop)
                .on(&row.rel)
                .columns(vec![row.col.clone()])
                .via(via),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_names_come_from_the_create_statement() {
        let create = "CREATE TABLE store (store_id INT PRIMARY KEY, address_id INT NOT NULL CONSTRAINT fk_store_address REFERENCES address (address_id), \
                      manager INT, CONSTRAINT fk_manager FOREIGN KEY (manager) REFERENCES staff (staff_id))";
        assert_eq!(
            foreign_key_name(create, "address_id").as_deref(),
            Some("fk_store_address")
        );
        assert_eq!(
            foreign_key_name(create, "manager").as_deref(),
            Some("fk_manager")
        );
        assert_eq!(foreign_key_name(create, "store_id"), None);
    }

    #[test]
    fn parts_split_at_top_level_commas() {
        let create = "CREATE TABLE t (a INT CHECK (a IN (1, 2)), b TEXT, CHECK (a > 0 OR b <> ''))";
        let tokens = spanned(create);
        let parts = parts(&tokens);
        assert_eq!(parts.len(), 3);
        let open = parts[2].iter().position(|t| t.token.is_punct("(")).unwrap();
        assert_eq!(
            parenthesised(create, parts[2], open),
            Some("a > 0 OR b <> ''")
        );
    }
}
