//! Times are stored as UTC without a zone (every backend has that type) at microsecond
//! precision (what every backend keeps), so a time read back hashes as it was written.

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub(crate) fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
