//! A table's key as a plan names it: one column, or several that together name one row
//! (`(tenant_id, id)` of a multi-tenant table, `(actor_id, film_id)` of a link table).
//!
//! Every use of a key goes through [`KeyColumns`], so a one-column key is simply the
//! one-element case and no tool has a second code path that forgets the others.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ident::Ident;

/// The columns of a key, in key order: at least one, none twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyColumns(Vec<Ident>);

/// Why a list of columns is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// `key = []`.
    #[error("is empty; name at least one column")]
    Empty,
    /// `key = ["id", "id"]`.
    #[error("names `{0}` twice")]
    Repeated(Ident),
}

impl KeyColumns {
    /// A one-column key.
    pub fn one(column: Ident) -> KeyColumns {
        KeyColumns(vec![column])
    }

    /// A key of `columns`, in this order.
    pub fn new(columns: Vec<Ident>) -> Result<KeyColumns, KeyError> {
        if columns.is_empty() {
            return Err(KeyError::Empty);
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(KeyError::Repeated(c.clone()));
            }
        }
        Ok(KeyColumns(columns))
    }

    /// Each column passed through `rename` (the database's spelling of it), in order.
    /// (A plan that names one column twice in two spellings, `id` and `ID` where the
    /// backend folds case, gets that column twice here; the key is no less unique.)
    pub fn renamed(&self, rename: impl FnMut(&Ident) -> Ident) -> KeyColumns {
        KeyColumns(self.0.iter().map(rename).collect())
    }

    /// The columns, in key order.
    pub fn columns(&self) -> &[Ident] {
        &self.0
    }

    /// The column names, in key order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(Ident::as_str).collect()
    }

    /// How many columns (1 for a plain key).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a key has a column. (Clippy asks for it beside `len`.)
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// More than one column.
    pub fn is_composite(&self) -> bool {
        self.0.len() > 1
    }

    /// Whether `column` is one of the key's columns.
    pub fn contains(&self, column: &Ident) -> bool {
        self.0.contains(column)
    }

    /// The text recorded in the storage fingerprint: the one column's name as before
    /// composite keys existed (so recorded fingerprints stay valid), else the names joined
    /// by `,` (which no identifier contains).
    pub fn fingerprint_text(&self) -> String {
        self.names().join(",")
    }
}

/// `id`, or `(tenant_id, id)`.
impl fmt::Display for KeyColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => write!(
                f,
                "({})",
                many.iter()
                    .map(Ident::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// As the plan writes it: a string for one column, a list for several.
impl Serialize for KeyColumns {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Ident {
        Ident::new(s).unwrap()
    }

    #[test]
    fn one_column_reads_as_before_several_as_a_tuple() {
        let one = KeyColumns::one(id("id"));
        assert_eq!(one.to_string(), "id");
        assert_eq!(one.fingerprint_text(), "id");
        assert_eq!(serde_json::to_string(&one).unwrap(), "\"id\"");
        let two = KeyColumns::new(vec![id("tenant_id"), id("id")]).unwrap();
        assert_eq!(two.to_string(), "(tenant_id, id)");
        assert_eq!(two.fingerprint_text(), "tenant_id,id");
        assert_eq!(
            serde_json::to_string(&two).unwrap(),
            r#"["tenant_id","id"]"#
        );
        assert!(two.is_composite() && !one.is_composite());
    }

    #[test]
    fn empty_and_repeated_refused() {
        assert_eq!(KeyColumns::new(vec![]), Err(KeyError::Empty));
        assert_eq!(
            KeyColumns::new(vec![id("a"), id("a")]),
            Err(KeyError::Repeated(id("a")))
        );
    }
}
