//! PostgreSQL: `pg_depend` for everything the catalogue records on the column (or, for
//! EAV, on any column of the table), each catalogue's own table for names and
//! definitions, and a text match of function bodies `pg_depend` knows nothing about
//! (PL/pgSQL, SQL functions without `BEGIN ATOMIC`), reported as the triggers that run
//! them where they are trigger functions.

use attrmig_core::dependents::{Access, Dependent, DependentKind, FoundBy, OnDrop, Scope};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{Target, check_accepts_absent, drop_constraint, quoted, split_columns};
use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::url::Backend;

/// The old table's column(s) and what depends on them. `deptypes` holds every kind of
/// dependency recorded for one object: `a` (auto) or `i` (internal) means the drop takes
/// it along, `n` alone that it blocks the drop.
const DEPS: &str = "WITH target AS (
    SELECT c.oid AS relid, a.attnum AS attnum
    FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE ns.nspname = current_schema() AND c.relname = $1
      AND (CAST($2 AS TEXT) IS NULL OR a.attname = $2)
), deps AS (
    SELECT d.classid, d.objid, MIN(d.objsubid) AS objsubid,
           string_agg(DISTINCT CAST(d.deptype AS TEXT), '') AS deptypes
    FROM pg_depend d JOIN target t ON d.refobjid = t.relid AND d.refobjsubid = t.attnum
    WHERE d.refclassid = 'pg_class'::regclass AND d.deptype IN ('n', 'a', 'i')
    GROUP BY d.classid, d.objid
) ";

/// One catalogue dependent: every query below returns these columns.
#[derive(QueryableByName)]
struct CatalogueRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    rel: Option<String>,
    /// relkind, contype, prokind, index uniqueness...
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Text)]
    deptypes: String,
    #[diesel(sql_type = Nullable<Text>)]
    definition: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
    /// The other table of a foreign key, or a trigger's function.
    #[diesel(sql_type = Nullable<Text>)]
    other: Option<String>,
    /// The other table's columns, or a trigger function's body.
    #[diesel(sql_type = Nullable<Text>)]
    other_columns: Option<String>,
}

const COLUMNS_OF: &str = "(SELECT string_agg(CAST(a.attname AS TEXT), ',' ORDER BY k.ord) \
     FROM unnest(CAST({keys} AS int2[])) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum)";

fn columns_of(keys: &str, rel: &str) -> String {
    COLUMNS_OF.replace("{keys}", keys).replace("{rel}", rel)
}

/// Catalogue queries, each `(what, SELECT ...)` over `deps`.
fn catalogue_queries() -> Vec<(DependentKind, String)> {
    vec![
        (
            DependentKind::View,
            "SELECT CAST(r.rulename AS TEXT) AS name, CAST(ev.relname AS TEXT) AS rel, \
                    CAST(ev.relkind AS TEXT) AS kind, d.deptypes AS deptypes, \
                    CASE WHEN r.rulename = '_RETURN' THEN pg_get_viewdef(ev.oid) ELSE pg_get_ruledef(r.oid) END AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class ev ON ev.oid = r.ev_class \
             WHERE d.classid = 'pg_rewrite'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Index,
            format!(
                "SELECT CAST(i.relname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                        CASE WHEN x.indisprimary THEN 'p' WHEN x.indisunique THEN 'u' ELSE 'i' END AS kind, \
                        d.deptypes AS deptypes, pg_get_indexdef(i.oid) AS definition, \
                        {} AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
                 FROM deps d JOIN pg_class i ON i.oid = d.objid AND i.relkind IN ('i', 'I') \
                 JOIN pg_index x ON x.indexrelid = i.oid JOIN pg_class t ON t.oid = x.indrelid \
                 WHERE d.classid = 'pg_class'::regclass",
                columns_of("x.indkey", "x.indrelid")
            ),
        ),
        (
            DependentKind::Check,
            format!(
                "SELECT CAST(con.conname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                        CAST(con.contype AS TEXT) AS kind, d.deptypes AS deptypes, \
                        CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) \
                             ELSE pg_get_constraintdef(con.oid) END AS definition, \
                        {} AS columns, CAST(ft.relname AS TEXT) AS other, {} AS other_columns \
                 FROM deps d JOIN pg_constraint con ON con.oid = d.objid \
                 JOIN pg_class t ON t.oid = con.conrelid LEFT JOIN pg_class ft ON ft.oid = con.confrelid \
                 WHERE d.classid = 'pg_constraint'::regclass",
                columns_of("con.conkey", "con.conrelid"),
                columns_of("con.confkey", "con.confrelid")
            ),
        ),
        (
            DependentKind::GeneratedColumn,
            "SELECT CAST(a.attname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                    CAST(a.attgenerated AS TEXT) AS kind, d.deptypes AS deptypes, \
                    pg_get_expr(ad.adbin, ad.adrelid) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_attrdef ad ON ad.oid = d.objid \
             JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum \
             JOIN pg_class t ON t.oid = ad.adrelid \
             WHERE d.classid = 'pg_attrdef'::regclass AND a.attgenerated <> ''"
                .to_owned(),
        ),
        (
            DependentKind::Trigger,
            "SELECT CAST(tg.tgname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                    CAST(NULL AS TEXT) AS kind, d.deptypes AS deptypes, pg_get_triggerdef(tg.oid) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(p.proname AS TEXT) || '()' AS other, p.prosrc AS other_columns \
             FROM deps d JOIN pg_trigger tg ON tg.oid = d.objid \
             JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_proc p ON p.oid = tg.tgfoid \
             WHERE d.classid = 'pg_trigger'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Policy,
            "SELECT CAST(pol.polname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                    CAST(NULL AS TEXT) AS kind, d.deptypes AS deptypes, \
                    concat_ws(' AND ', pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_policy pol ON pol.oid = d.objid JOIN pg_class t ON t.oid = pol.polrelid \
             WHERE d.classid = 'pg_policy'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Publication,
            "SELECT CAST(pub.pubname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                    CAST(NULL AS TEXT) AS kind, d.deptypes AS deptypes, CAST(NULL AS TEXT) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_publication_rel pr ON pr.oid = d.objid \
             JOIN pg_publication pub ON pub.oid = pr.prpubid JOIN pg_class t ON t.oid = pr.prrelid \
             WHERE d.classid = 'pg_publication_rel'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Function,
            "SELECT CAST(p.proname AS TEXT) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, \
                    CAST(NULL AS TEXT) AS rel, CAST(p.prokind AS TEXT) AS kind, d.deptypes AS deptypes, \
                    pg_get_functiondef(p.oid) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_proc p ON p.oid = d.objid \
             WHERE d.classid = 'pg_proc'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Statistics,
            "SELECT CAST(s.stxname AS TEXT) AS name, CAST(t.relname AS TEXT) AS rel, \
                    CAST(NULL AS TEXT) AS kind, d.deptypes AS deptypes, CAST(NULL AS TEXT) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d JOIN pg_statistic_ext s ON s.oid = d.objid JOIN pg_class t ON t.oid = s.stxrelid \
             WHERE d.classid = 'pg_statistic_ext'::regclass"
                .to_owned(),
        ),
        (
            DependentKind::Other,
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS name, CAST(NULL AS TEXT) AS rel, \
                    CAST(NULL AS TEXT) AS kind, d.deptypes AS deptypes, CAST(NULL AS TEXT) AS definition, \
                    CAST(NULL AS TEXT) AS columns, CAST(NULL AS TEXT) AS other, CAST(NULL AS TEXT) AS other_columns \
             FROM deps d \
             WHERE d.classid NOT IN ('pg_rewrite'::regclass, 'pg_constraint'::regclass, 'pg_attrdef'::regclass, \
                                     'pg_trigger'::regclass, 'pg_policy'::regclass, 'pg_publication_rel'::regclass, \
                                     'pg_proc'::regclass, 'pg_statistic_ext'::regclass) \
               AND NOT (d.classid = 'pg_class'::regclass \
                        AND EXISTS (SELECT 1 FROM pg_class i WHERE i.oid = d.objid AND i.relkind IN ('i', 'I')))"
                .to_owned(),
        ),
    ]
}

pub(super) fn dependents(
    conn: &mut AnyConnection,
    target: &Target<'_>,
) -> Result<Vec<Dependent>, DbError> {
    let mut found = Vec::new();
    for (query_kind, query) in catalogue_queries() {
        let deps = target.in_schema(DEPS, "current_schema()");
        let rows: Vec<CatalogueRow> = diesel::sql_query(format!("{deps}{query}"))
            .bind::<Text, _>(target.table_name())
            .bind::<Nullable<Text>, _>(target.column())
            .load(conn)
            .map_err(|e| DbError::query("find what depends on old storage in pg_depend", e))?;
        for row in rows {
            if let Some(d) = from_catalogue(conn, target, query_kind, row) {
                found.push(d);
            }
        }
    }
    found.extend(routines(conn, target)?);
    Ok(found)
}

fn from_catalogue(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    query_kind: DependentKind,
    row: CatalogueRow,
) -> Option<Dependent> {
    let on_drop = if row.deptypes.contains('a') || row.deptypes.contains('i') {
        OnDrop::DroppedWith
    } else {
        OnDrop::Blocks
    };
    let on_old = row.rel.as_deref().is_some_and(|r| target.is_old_table(r));
    let row_scope = if on_old { Scope::Row } else { Scope::Elsewhere };
    let definition = row.definition.as_deref();
    let (kind, name, table, base_access) = match query_kind {
        DependentKind::View => {
            let rel = row.rel.clone().unwrap_or_default();
            match (row.name.as_str(), row.kind.as_deref()) {
                ("_RETURN", Some("m")) => {
                    (DependentKind::MaterializedView, rel, None, Access::Reads)
                }
                ("_RETURN", _) => (DependentKind::View, rel, None, Access::Reads),
                _ => (
                    DependentKind::Rule,
                    row.name.clone(),
                    row.rel.clone(),
                    Access::Reads,
                ),
            }
        }
        DependentKind::Index => (
            DependentKind::Index,
            row.name.clone(),
            row.rel.clone(),
            Access::Constrains,
        ),
        DependentKind::Check => {
            let kind = match row.kind.as_deref() {
                Some("c") => DependentKind::Check,
                Some("u") => DependentKind::Unique,
                Some("p") => DependentKind::PrimaryKey,
                Some("x") => DependentKind::Exclusion,
                Some("f") => {
                    let from_old = on_old
                        && target.column().is_some_and(|c| {
                            split_columns(row.columns.clone()).iter().any(|k| k == c)
                        });
                    if from_old {
                        DependentKind::ForeignKey
                    } else {
                        DependentKind::ReferencingForeignKey
                    }
                }
                _ => DependentKind::Other,
            };
            (kind, row.name.clone(), row.rel.clone(), Access::Constrains)
        }
        DependentKind::Function => {
            let kind = if row.kind.as_deref() == Some("p") {
                DependentKind::Procedure
            } else {
                DependentKind::Function
            };
            (kind, row.name.clone(), None, Access::Reads)
        }
        other => (
            other,
            row.name.clone(),
            row.rel.clone(),
            match other {
                DependentKind::Statistics | DependentKind::Other => Access::Constrains,
                _ => Access::Reads,
            },
        ),
    };
    let scope = match kind {
        DependentKind::Trigger if on_old => Scope::TriggerOnTable,
        DependentKind::Check
        | DependentKind::GeneratedColumn
        | DependentKind::Policy
        | DependentKind::Index => row_scope,
        _ => Scope::Elsewhere,
    };
    let mut access = target.refine(base_access, definition, scope);
    if kind == DependentKind::Trigger && target.is_column_kind() {
        // The trigger's WHEN or UPDATE OF reads the column; its function may write it.
        if let Some(body_says) = row
            .other_columns
            .as_deref()
            .and_then(|b| target.mention(b, scope))
        {
            access = if body_says.writes() {
                Access::ReadsWrites
            } else {
                access
            };
        }
    }
    if kind == DependentKind::GeneratedColumn && target.column() == Some(name.as_str()) {
        return None;
    }
    let mut d = Dependent::new(kind, name, access, FoundBy::Catalogue, on_drop);
    d.table = table;
    d.columns = split_columns(row.columns.clone());
    d.unique = matches!(row.kind.as_deref(), Some("u" | "p")) && kind == DependentKind::Index;
    match kind {
        DependentKind::ForeignKey => {
            d = d.via(format!(
                "{} ({})",
                row.other.clone().unwrap_or_default(),
                row.other_columns.clone().unwrap_or_default()
            ));
        }
        DependentKind::ReferencingForeignKey => {
            d = d.via(format!(
                "{} ({})",
                target.table_name(),
                row.other_columns.clone().unwrap_or_default()
            ));
        }
        DependentKind::Trigger => {
            if let Some(func) = &row.other {
                d = d.via(func.clone());
            }
        }
        _ => {}
    }
    if kind == DependentKind::Index {
        d.drop_statement =
            quoted(Backend::Postgres, &target.sibling(&d.name)).map(|n| format!("DROP INDEX {n}"));
    } else if kind.is_constraint() {
        d.drop_statement = drop_constraint(
            Backend::Postgres,
            &target.sibling(d.table.as_deref().unwrap_or_default()),
            &d.name,
            kind.is_foreign_key(),
        );
    }
    if kind == DependentKind::Check && target.is_column_kind() {
        d.accepts_absent = definition.and_then(|e| check_accepts_absent(conn, target, e));
    }
    Some(d)
}

#[derive(QueryableByName)]
struct RoutineRow {
    #[diesel(sql_type = BigInt)]
    oid: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    prokind: String,
    #[diesel(sql_type = Nullable<Text>)]
    body: Option<String>,
    #[diesel(sql_type = BigInt)]
    is_trigger: i64,
}

#[derive(QueryableByName)]
struct TriggerRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    rel: String,
    #[diesel(sql_type = BigInt)]
    function: i64,
    #[diesel(sql_type = BigInt)]
    here: i64,
}

/// Functions and procedures of the user's schemas (not an extension's), matched by the
/// text of their bodies; a trigger function is reported as each trigger that runs it.
fn routines(conn: &mut AnyConnection, target: &Target<'_>) -> Result<Vec<Dependent>, DbError> {
    let context = "read function bodies from pg_proc";
    let routines: Vec<RoutineRow> = diesel::sql_query(
        "SELECT CAST(p.oid AS BIGINT) AS oid, \
                CAST(p.proname AS TEXT) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, \
                CAST(p.prokind AS TEXT) AS prokind, p.prosrc AS body, \
                CAST(CASE WHEN p.prorettype = 'trigger'::regtype THEN 1 ELSE 0 END AS BIGINT) AS is_trigger \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' \
           AND l.lanname NOT IN ('c', 'internal') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass \
                           AND e.objid = p.oid AND e.deptype = 'e')",
    )
    .load(conn)
    .map_err(|e| DbError::query(context, e))?;
    let triggers: Vec<TriggerRow> = diesel::sql_query(target.in_schema(
        "SELECT CAST(tg.tgname AS TEXT) AS name, CAST(c.relname AS TEXT) AS rel, \
                CAST(tg.tgfoid AS BIGINT) AS function, \
                CAST(CASE WHEN n.nspname = current_schema() THEN 1 ELSE 0 END AS BIGINT) AS here \
         FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT tg.tgisinternal",
        "current_schema()",
    ))
    .load(conn)
    .map_err(|e| DbError::query(context, e))?;
    let mut found = Vec::new();
    for routine in routines {
        let Some(body) = routine.body.as_deref() else {
            continue;
        };
        if routine.is_trigger == 0 {
            let Some(access) = target.mention(body, Scope::Elsewhere) else {
                continue;
            };
            let kind = if routine.prokind == "p" {
                DependentKind::Procedure
            } else {
                DependentKind::Function
            };
            found.push(Dependent::new(
                kind,
                routine.name,
                access,
                FoundBy::TextMatch,
                OnDrop::Breaks,
            ));
            continue;
        }
        for trigger in triggers.iter().filter(|t| t.function == routine.oid) {
            let scope = if trigger.here == 1 && target.is_old_table(&trigger.rel) {
                Scope::TriggerOnTable
            } else {
                Scope::Elsewhere
            };
            if let Some(access) = target.mention(body, scope) {
                found.push(
                    Dependent::new(
                        DependentKind::Trigger,
                        &trigger.name,
                        access,
                        FoundBy::TextMatch,
                        OnDrop::Breaks,
                    )
                    .on(&trigger.rel)
                    .via(routine.name.clone()),
                );
            }
        }
    }
    Ok(found)
}
