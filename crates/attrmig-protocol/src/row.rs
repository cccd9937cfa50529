//! The rows of the protocol's two tables as plain values, and their translation from and
//! to the core's types.

use attrmig_core::fleet::{Bucket, Identity, InstanceReport, MismatchSample, Period};
use attrmig_core::{Position, Step};
use chrono::{DateTime, SubsecRound, Utc};

use crate::PROTOCOL_VERSION;
use crate::limits::{MAX_ID_CHARS, MAX_NAME_CHARS, truncate};

/// A row of `attrmig_migrations` as [`crate::READ_STEPS`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRow {
    /// Migration id.
    pub id: String,
    /// Its step's id (`double-read-old`).
    pub step: String,
    /// Abandoned at that step.
    pub abandoned: bool,
    /// Its version: the number of audit entries; it changes with every transition.
    pub version: i64,
}

impl MigrationRow {
    /// Where the migration stands.
    pub fn position(&self) -> Result<Position, DecodeError> {
        let step = parse_step("step", &self.step)?;
        Ok(if self.abandoned {
            Position::Abandoned { at: step }
        } else {
            Position::At(step)
        })
    }
}

/// A row of `attrmig_fleet_reports`: one instance's latest report on one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Migration id.
    pub migration_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Host.
    pub host: String,
    /// Process: `name[pid]`.
    pub process: String,
    /// Application version.
    pub app_version: String,
    /// The step whose mode the instance applies.
    pub step: String,
    /// Since when.
    pub step_since: DateTime<Utc>,
    /// Pinned to that step.
    pub pinned: bool,
    /// The instance's last read of the migration's step failed.
    pub stale: bool,
    /// The migration's step as last read.
    pub seen_step: Option<String>,
    /// The migration's version as last read.
    pub seen_version: Option<i64>,
    /// When the instance started.
    pub started_at: DateTime<Utc>,
    /// When the report was made.
    pub reported_at: DateTime<Utc>,
    /// JSON: `[{"step", "since", "counters"}]`, oldest first.
    pub periods: String,
    /// JSON: `[{"start", "end", "step", "counters"}]`, oldest first.
    pub buckets: String,
    /// JSON: `[{"key", "at", "step", "fields": [{"field", "old", "new"}]}]`, oldest first.
    pub mismatches: String,
    /// The writer's protocol version.
    pub protocol: i32,
}

/// A row that doesn't read as a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A step id this build does not know.
    #[error("`{column}` holds `{value}`, which is no step this attrmig knows; upgrade attrmig")]
    UnknownStep {
        /// The column.
        column: &'static str,
        /// What it holds.
        value: String,
    },
    /// A JSON column that does not parse.
    #[error("`{column}` is not the JSON the protocol describes (docs/app.md): {error}")]
    Json {
        /// The column.
        column: &'static str,
        /// The parser's message.
        error: String,
    },
}

fn parse_step(column: &'static str, value: &str) -> Result<Step, DecodeError> {
    value.parse().map_err(|_| DecodeError::UnknownStep {
        column,
        value: value.to_owned(),
    })
}

fn json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|e| DecodeError::Json {
        column,
        error: e.to_string(),
    })
}

/// Times are kept at the microsecond, what every backend stores exactly.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

impl ReportRow {
    /// The row for `report`; names too long for their columns are cut.
    pub fn encode(report: &InstanceReport) -> ReportRow {
        let id = &report.identity;
        ReportRow {
            migration_id: report.migration_id.clone(),
            instance_id: truncate(&id.id, MAX_ID_CHARS),
            host: truncate(&id.host, MAX_NAME_CHARS),
            process: truncate(&id.process, MAX_NAME_CHARS),
            app_version: truncate(&id.app_version, MAX_ID_CHARS),
            step: report.step.id().to_owned(),
            step_since: micros(report.since),
            pinned: report.pinned,
            stale: report.stale,
            seen_step: report.seen_step.map(|s| s.id().to_owned()),
            seen_version: report.seen_version,
            started_at: micros(report.started_at),
            reported_at: micros(report.reported_at),
            periods: to_json(&report.periods),
            buckets: to_json(&report.buckets),
            mismatches: to_json(&report.mismatches),
            protocol: PROTOCOL_VERSION,
        }
    }

    /// The report this row holds.
    pub fn decode(self) -> Result<InstanceReport, DecodeError> {
        Ok(InstanceReport {
            step: parse_step("step", &self.step)?,
            seen_step: self
                .seen_step
                .as_deref()
                .map(|s| parse_step("seen_step", s))
                .transpose()?,
            periods: json::<Vec<Period>>("periods", &self.periods)?,
            buckets: json::<Vec<Bucket>>("buckets", &self.buckets)?,
            mismatches: json::<Vec<MismatchSample>>("mismatches", &self.mismatches)?,
            migration_id: self.migration_id,
            identity: Identity {
                id: self.instance_id,
                host: self.host,
                process: self.process,
                app_version: self.app_version,
            },
            since: self.step_since,
            pinned: self.pinned,
            stale: self.stale,
            seen_version: self.seen_version,
            started_at: self.started_at,
            reported_at: self.reported_at,
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain data (strings, numbers, times): serializing it can't fail.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrmig_core::fleet::{Counter, Counters, FieldDiff};
    use chrono::TimeZone;

    fn report() -> InstanceReport {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut counters = Counters::default();
        counters[Counter::Compared] = 12;
        counters[Counter::Mismatches] = 1;
        InstanceReport {
            migration_id: "users-full-name".into(),
            identity: Identity {
                id: "web-1".into(),
                host: "h".repeat(300),
                process: "api[42]".into(),
                app_version: "1.2.3".into(),
            },
            step: Step::DoubleReadOld,
            since: at,
            pinned: true,
            stale: false,
            seen_step: Some(Step::Sync),
            seen_version: Some(7),
            started_at: at,
            reported_at: at + chrono::Duration::microseconds(1_500_001),
            periods: vec![Period {
                step: Step::DoubleReadOld,
                since: at,
                counters,
            }],
            buckets: vec![Bucket {
                start: at,
                end: at + chrono::Duration::seconds(60),
                step: Step::DoubleReadOld,
                counters,
            }],
            mismatches: vec![MismatchSample {
                key: "42".into(),
                at,
                step: Step::DoubleReadOld,
                fields: vec![FieldDiff {
                    field: "value".into(),
                    old: "\"Ada\"".into(),
                    new: "\"ada\"".into(),
                }],
            }],
        }
    }

    #[test]
    fn a_report_survives_its_row() {
        let report = report();
        let row = ReportRow::encode(&report);
        assert_eq!(row.host.chars().count(), MAX_NAME_CHARS);
        assert_eq!(row.step, "double-read-old");
        assert_eq!(row.seen_step.as_deref(), Some("sync"));
        let back = row.decode().unwrap();
        assert_eq!(back.periods, report.periods);
        assert_eq!(back.buckets, report.buckets);
        assert_eq!(back.mismatches, report.mismatches);
        assert_eq!(back.reported_at, report.reported_at);
        assert_eq!(back.identity.id, "web-1");
    }

    #[test]
    fn a_bad_row_says_which_column() {
        let mut row = ReportRow::encode(&report());
        row.step = "6b".into();
        assert!(
            row.clone()
                .decode()
                .unwrap_err()
                .to_string()
                .contains("`step` holds `6b`")
        );
        row.step = "sync".into();
        row.buckets = "{".into();
        assert!(
            row.decode()
                .unwrap_err()
                .to_string()
                .contains("`buckets` is not the JSON")
        );
    }

    #[test]
    fn migration_rows_read_as_positions() {
        let row = MigrationRow {
            id: "x".into(),
            step: "sync".into(),
            abandoned: true,
            version: 4,
        };
        assert_eq!(
            row.position().unwrap(),
            Position::Abandoned { at: Step::Sync }
        );
    }
}
