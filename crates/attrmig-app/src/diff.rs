//! How old and new values are compared: the set of fields on which they differ, each
//! with both values. An empty set means they agree.
//!
//! The default, [`by_value`], compares with `PartialEq` and reports one field, `value`,
//! with both `Debug` forms. For a struct, say which fields matter with [`Fields`]:
//!
//! ```
//! use attrmig_app::diff::Fields;
//!
//! #[derive(Debug, PartialEq)]
//! struct Name { first: String, last: String, updated_at: u64 }
//!
//! fn names(old: &Name, new: &Name) -> Vec<attrmig_app::FieldDiff> {
//!     Fields::new(old, new)
//!         .field("first", |n| &n.first)
//!         .field("last", |n| &n.last)
//!         // updated_at differs by design between the two storages: not compared.
//!         .finish()
//! }
//!
//! let a = Name { first: "Ada".into(), last: "Lovelace".into(), updated_at: 1 };
//! let b = Name { first: "Ada".into(), last: "King".into(), updated_at: 2 };
//! let diffs = names(&a, &b);
//! assert_eq!(diffs.len(), 1);
//! assert_eq!((diffs[0].field.as_str(), diffs[0].old.as_str(), diffs[0].new.as_str()),
//!            ("last", "\"Lovelace\"", "\"King\""));
//! ```

use std::fmt::Debug;

pub use attrmig_core::fleet::FieldDiff;

/// Equal by `PartialEq`; otherwise one field named `value` with both `Debug` forms.
pub fn by_value<T: PartialEq + Debug>(old: &T, new: &T) -> Vec<FieldDiff> {
    if old == new {
        Vec::new()
    } else {
        vec![FieldDiff {
            field: "value".to_owned(),
            old: format!("{old:?}"),
            new: format!("{new:?}"),
        }]
    }
}

/// A struct's diff, field by field.
pub struct Fields<'a, T> {
    old: &'a T,
    new: &'a T,
    diffs: Vec<FieldDiff>,
}

impl<'a, T> Fields<'a, T> {
    /// Starts comparing `old` with `new`.
    pub fn new(old: &'a T, new: &'a T) -> Fields<'a, T> {
        Fields {
            old,
            new,
            diffs: Vec::new(),
        }
    }

    /// Compares one field, by `PartialEq`, and keeps both `Debug` forms when it differs.
    pub fn field<F: PartialEq + Debug + ?Sized>(
        mut self,
        name: &str,
        get: impl Fn(&T) -> &F,
    ) -> Fields<'a, T> {
        let (a, b) = (get(self.old), get(self.new));
        if a != b {
            self.diffs.push(FieldDiff {
                field: name.to_owned(),
                old: format!("{a:?}"),
                new: format!("{b:?}"),
            });
        }
        self
    }

    /// The fields that differ.
    pub fn finish(self) -> Vec<FieldDiff> {
        self.diffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_value_names_one_field() {
        assert!(by_value(&Some("Ada"), &Some("Ada")).is_empty());
        let d = by_value(&Some("Ada"), &None);
        assert_eq!(d[0].field, "value");
        assert_eq!(d[0].old, "Some(\"Ada\")");
        assert_eq!(d[0].new, "None");
    }
}
