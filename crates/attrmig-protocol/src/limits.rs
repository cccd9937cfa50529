//! What a writer keeps in a report, so that one row stays a few kilobytes however long
//! the instance runs and however long the state database is away.
//!
//! Reports are cumulative: the row holds the instance's whole retained history, and each
//! upsert replaces it. What falls outside these limits is dropped from the row (and from
//! the writer's memory): counts in buckets coarsen from minutes to hours and are dropped
//! after [`HOUR_BUCKETS_FOR`]; periods beyond [`MAX_PERIODS`] and samples beyond
//! [`MAX_MISMATCH_SAMPLES`] drop the oldest first.

use std::time::Duration;

/// Buckets stay a minute wide this long.
pub const MINUTE_BUCKETS_FOR: Duration = Duration::from_secs(3600);

/// Older buckets are merged into hours, kept this long.
pub const HOUR_BUCKETS_FOR: Duration = Duration::from_secs(8 * 24 * 3600);

/// The newest periods kept (each is one step applied, with its totals).
pub const MAX_PERIODS: usize = 32;

/// The newest persistent mismatches kept, with their keys and fields.
pub const MAX_MISMATCH_SAMPLES: usize = 20;

/// Characters kept of a key or of a field's value in a sample.
pub const MAX_VALUE_CHARS: usize = 200;

/// Fields kept per sampled mismatch.
pub const MAX_FIELDS_PER_SAMPLE: usize = 16;

/// Characters kept of `instance_id`, `app_version` (the columns are `VARCHAR(100)`).
pub const MAX_ID_CHARS: usize = 100;

/// Characters kept of `host`, `process` (`VARCHAR(255)`).
pub const MAX_NAME_CHARS: usize = 255;

/// The first `max` characters of `s`, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if s[i..].chars().count() > 1 => format!("{}…", &s[..i]),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_short_strings_and_marks_cut_ones() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("", 3), "");
        assert_eq!(truncate("abcd", 3).chars().count(), 3);
    }
}
