//! Values read back: for people (the cross-check's report, data issues), exactly (the
//! fingerprint), and the rows a statement must leave alone or report: old documents
//! that are no JSON, rows the new column's type changed.
//!
//! Every value is read as bytes ([`attrmig_db::equality::Read`]) and made text only
//! here, so any bytes survive: binary values are shown in hex (`x'ff01'`), never as
//! utf8mb4 question marks or a failed UTF-8 decoding.

use attrmig_core::equality::{Method, Scalar, Side, ValueType, render};
use attrmig_db::equality::Read;
use attrmig_db::{AnyConnection, Backend};
use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Binary, Nullable, Text};

use crate::layout::{Layout, Scope};
use crate::sql::{Key, Sql};

#[diesel::declare_sql_function]
extern "SQL" {
    /// Whether two values (as `Backend::read` reads them exactly) differ as JSON
    /// documents.
    fn attrmig_json_differs(a: Nullable<Binary>, b: Nullable<Binary>) -> diesel::sql_types::Bool;
}

/// Registers on a SQLite connection the functions the layouts' statements call (see
/// `attrmig_db::equality::SQLITE_JSON_DIFFERS`); nothing elsewhere.
pub(crate) fn register_sqlite_functions(conn: &mut AnyConnection) -> Result<(), DieselError> {
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    attrmig_json_differs_utils::register_impl(sqlite, |a: Option<Vec<u8>>, b: Option<Vec<u8>>| {
        let json = ValueType::Json { binary: false };
        let canonical = |raw: Option<Vec<u8>>| {
            raw.map(|r| {
                attrmig_core::equality::canonical(&Backend::Sqlite.decode(&json, r, Read::Exact))
            })
        };
        canonical(a) != canonical(b)
    })
}

impl Layout {
    /// The type of one side's values.
    pub fn value_type(&self, side: Side) -> &ValueType {
        match side {
            Side::Old => &self.equality().old,
            Side::New => &self.equality().new,
        }
    }

    /// An expression reading `expr` (of `side`'s type) for people, for [`Layout::show`].
    pub fn shown(&self, side: Side, expr: &str) -> String {
        self.backend()
            .read(self.value_type(side), expr, Read::Shown)
    }

    /// A value read by [`Layout::shown`], for people.
    pub fn show(&self, side: Side, raw: Option<Vec<u8>>) -> Option<String> {
        raw.map(|raw| {
            render(
                &self
                    .backend()
                    .decode(self.value_type(side), raw, Read::Shown),
            )
        })
    }

    /// An expression reading `expr` (of `side`'s type) exactly, for [`Layout::exact`].
    pub fn read_exact(&self, side: Side, expr: &str) -> String {
        self.backend()
            .read(self.value_type(side), expr, self.exact_read())
    }

    /// A value read by [`Layout::read_exact`].
    pub fn exact(&self, side: Side, raw: Vec<u8>) -> Scalar {
        self.backend()
            .decode(self.value_type(side), raw, self.exact_read())
    }

    /// How values are read to be compared outside the database: exactly, except for a
    /// pair compared as the text each type writes.
    fn exact_read(&self) -> Read {
        if self.equality().method == Method::AsText {
            Read::Shown
        } else {
            Read::Exact
        }
    }

    /// A JSON kind's document as text, for people (`doc` over alias `o`).
    pub(crate) fn shown_document(&self, doc: &str) -> String {
        self.backend()
            .read(&ValueType::plain_text(), doc, Read::Shown)
    }

    /// A document read by [`Layout::shown_document`].
    pub(crate) fn show_document(&self, raw: Vec<u8>) -> String {
        render(
            &self
                .backend()
                .decode(&ValueType::plain_text(), raw, Read::Shown),
        )
    }
}

/// An old row whose document is no JSON.
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// Its key.
    pub key: Key,
    /// The document as it is.
    pub document: String,
    /// The new value, for people (`None`: NULL or absent).
    pub new: Option<String>,
}

/// What the cross-check's report puts before an old document that is no JSON.
pub const NOT_JSON: &str = "(not valid JSON) ";

impl Unreadable {
    /// How the cross-check's report shows the old value.
    pub fn shown(&self) -> String {
        format!("{NOT_JSON}{}", self.document)
    }
}

#[derive(QueryableByName)]
struct UnreadableRow {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Binary)]
    doc: Vec<u8>,
    #[diesel(sql_type = Nullable<Binary>)]
    new_v: Option<Vec<u8>>,
}

/// The old rows of `scope` whose document is no JSON, with their new values, in key
/// order; none for a layout whose old values are always readable.
pub fn unreadable(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Unreadable>, DieselError> {
    let (Some(condition), Some(doc)) = (layout.old_unreadable(), layout.old_document()) else {
        return Ok(Vec::new());
    };
    let ok = layout.old_key();
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT {} AS k, {} AS doc, {} AS new_v",
        layout.key_text(&ok),
        layout.shown_document(&doc),
        layout.shown(Side::New, &layout.new_value()),
    ));
    layout.push_old_with_new(&mut sql, scope);
    sql.push(&format!(" AND {condition} ORDER BY {}", ok.order()));
    let rows: Vec<UnreadableRow> = sql.load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(Unreadable {
                key: key(layout, &r.k)?,
                document: layout.show_document(r.doc),
                new: layout.show(Side::New, r.new_v),
            })
        })
        .collect()
}

/// A row whose new value, just written, is not the old value: the new column's type
/// changed it.
#[derive(Debug, Clone)]
pub struct Changed {
    /// Its key.
    pub key: Key,
    /// The old value, for people.
    pub old: Option<String>,
    /// What the new column made of it, for people.
    pub new: Option<String>,
}

/// A key with its old and new values read as bytes (by [`Layout::shown`] or
/// [`Layout::read_exact`]).
#[derive(QueryableByName)]
pub(crate) struct PairRow {
    #[diesel(sql_type = Text)]
    pub(crate) k: String,
    #[diesel(sql_type = Nullable<Binary>)]
    pub(crate) old_v: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub(crate) new_v: Option<Vec<u8>>,
}

/// A key read back as text, in a query's row.
fn key(layout: &Layout, text: &str) -> Result<Key, DieselError> {
    layout
        .parse_key(text)
        .map_err(|e| DieselError::DeserializationError(e.to_string().into()))
}

/// The readable old rows of `scope` with a value that new does not hold (after a write:
/// the rows the new column's type changed).
pub fn changed(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Changed>, DieselError> {
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT {} AS k, {} AS old_v, {} AS new_v",
        layout.key_text(&ok),
        layout.shown(Side::Old, &ov),
        layout.shown(Side::New, &nv),
    ));
    layout.push_old_with_new(&mut sql, scope);
    sql.push(&format!(
        " AND {ov} IS NOT NULL AND {}",
        layout.values_differ(&ov, &nv)
    ));
    let rows: Vec<PairRow> = sql.load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(Changed {
                key: key(layout, &r.k)?,
                old: layout.show(Side::Old, r.old_v),
                new: layout.show(Side::New, r.new_v),
            })
        })
        .collect()
}

/// The old keys of `scope` whose old and new values differ when each is read exactly and
/// brought to the pair's canonical form ([`attrmig_core::equality::Equality::canonical`]),
/// in key order. It is the comparison [`Layout::values_differ`] makes, made outside the
/// database: what comparing old and new that live in two databases takes.
pub fn differing_by_canonical_form(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Key>, DieselError> {
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT {} AS k, {} AS old_v, {} AS new_v",
        layout.key_text(&ok),
        layout.read_exact(Side::Old, &ov),
        layout.read_exact(Side::New, &nv),
    ));
    layout.push_old_with_new(&mut sql, scope);
    sql.push(&format!(" ORDER BY {}", ok.order()));
    let rows: Vec<PairRow> = sql.load(conn)?;
    let eq = layout.equality();
    let mut differing = Vec::new();
    for r in rows {
        let old = r
            .old_v
            .map(|v| eq.canonical(Side::Old, &layout.exact(Side::Old, v)));
        let new = r
            .new_v
            .map(|v| eq.canonical(Side::New, &layout.exact(Side::New, v)));
        if old != new {
            differing.push(key(layout, &r.k)?);
        }
    }
    Ok(differing)
}
