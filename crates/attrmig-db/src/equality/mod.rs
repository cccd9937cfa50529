//! The backend spellings of value equality ([`attrmig_core::equality`] decides what is
//! equal; this says it in each backend's SQL):
//!
//! - [`Backend::value_type`]: the type a database names, as equality sees it;
//! - [`Backend::differs`]: the NULL-safe "these values differ" expression of a pair;
//! - [`Backend::write_value`]: the old value as written into the new column;
//! - [`Backend::read`] and [`Backend::decode`]: a value read exactly, as bytes, and
//!   made a [`attrmig_core::equality::Scalar`] (for digests, for people);
//! - [`Backend::json_valid`]: whether a text is a JSON document, without failing on one
//!   that is not.

mod compare;
mod read;
mod types;

pub use read::{Read, SqliteStored};
pub use types::TypeFacts;

/// PostgreSQL 15 can't test whether a text is JSON without failing on it
/// (`pg_input_is_valid` and `IS JSON` are 16): a function in the session's own temporary
/// schema does, created by [`JSON_CHECK_SETUP`] on the connection that needs it and gone
/// with it. It catches the error in a subtransaction per call, so it is used only where
/// a text may hold JSON (a JSON attribute kept in a `text` column, a text compared with
/// JSON), never for `json`/`jsonb` columns.
pub const PG_JSON_CHECK: &str = "pg_temp.attrmig_json_valid";

/// Creates [`PG_JSON_CHECK`] (idempotent).
pub const JSON_CHECK_SETUP: &str = "CREATE OR REPLACE FUNCTION pg_temp.attrmig_json_valid(doc text) \
     RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ \
     BEGIN PERFORM CAST(doc AS jsonb); RETURN true; \
     EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN RETURN false; END $$";

/// The name of the SQLite function that compares two values as JSON (see
/// [`Backend::differs`]), registered on each connection by the tools.
pub const SQLITE_JSON_DIFFERS: &str = "attrmig_json_differs";
