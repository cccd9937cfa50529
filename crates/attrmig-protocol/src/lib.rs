//! The fleet protocol: how an application learns each migration's step and reports what
//! it does, as plain SQL against attrmig's state tables. docs/app.md documents it for any
//! language; `attrmig-app` (the writer) and `attrmig-store` (the reader) both use this
//! crate, so the statements, the tables and the encoding have one home.
//!
//! - [`READ_STEPS`]: every migration's step, abandoned flag and version, one statement.
//! - [`upsert_report`]: one instance's report on one migration, one statement per backend,
//!   bound in the order of [`REPORT_COLUMNS`].
//! - [`ReportRow`]: a report as the row's values; [`ReportRow::encode`] and
//!   [`ReportRow::decode`] translate from and to [`attrmig_core::fleet::InstanceReport`].
//! - [`limits`]: what a writer keeps, so that a row stays small.

pub mod limits;
mod row;

pub use row::{DecodeError, MigrationRow, ReportRow};

/// The version of this protocol, written in every report's `protocol` column.
pub const PROTOCOL_VERSION: i32 = 1;

/// The table applications read: one row per migration (`id`, `step`, `abandoned`,
/// `version`). An application needs only SELECT on it.
pub const MIGRATIONS_TABLE: &str = "attrmig_migrations";

/// The table applications write: one row per migration and instance. An application
/// needs INSERT and UPDATE on it, and what each backend's upsert reads: SELECT on its two
/// key columns on PostgreSQL, SELECT on the table on MySQL/MariaDB (docs/app.md).
pub const REPORTS_TABLE: &str = "attrmig_fleet_reports";

/// The SQL backends, as the protocol spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// Its name in docs/app.md's code blocks: `sqlite`, `postgres`, `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

/// Reads every migration's step: the same statement on every backend. A migration with
/// no row is at `planned` (attrmig registers it with its first audit entry).
pub const READ_STEPS: &str = "SELECT id, step, abandoned, version FROM attrmig_migrations";

/// The report's columns, in the order the upsert binds them.
pub const REPORT_COLUMNS: [&str; 17] = [
    "migration_id",
    "instance_id",
    "host",
    "process",
    "app_version",
    "step",
    "step_since",
    "pinned",
    "stale",
    "seen_step",
    "seen_version",
    "started_at",
    "reported_at",
    "periods",
    "buckets",
    "mismatches",
    "protocol",
];

const UPSERT_SQLITE: &str = "INSERT INTO attrmig_fleet_reports (migration_id, instance_id, host, process, app_version, step, step_since, pinned, stale, seen_step, seen_version, started_at, reported_at, periods, buckets, mismatches, protocol)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (migration_id, instance_id) DO UPDATE SET host = excluded.host, process = excluded.process, app_version = excluded.app_version, step = excluded.step, step_since = excluded.step_since, pinned = excluded.pinned, stale = excluded.stale, seen_step = excluded.seen_step, seen_version = excluded.seen_version, started_at = excluded.started_at, reported_at = excluded.reported_at, periods = excluded.periods, buckets = excluded.buckets, mismatches = excluded.mismatches, protocol = excluded.protocol";

// On PostgreSQL the update reuses the parameters rather than `excluded.*`: reading
// `excluded` needs SELECT on those columns, and an application may only SELECT the key.
const UPSERT_POSTGRES: &str = "INSERT INTO attrmig_fleet_reports (migration_id, instance_id, host, process, app_version, step, step_since, pinned, stale, seen_step, seen_version, started_at, reported_at, periods, buckets, mismatches, protocol)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (migration_id, instance_id) DO UPDATE SET host = $3, process = $4, app_version = $5, step = $6, step_since = $7, pinned = $8, stale = $9, seen_step = $10, seen_version = $11, started_at = $12, reported_at = $13, periods = $14, buckets = $15, mismatches = $16, protocol = $17";

const UPSERT_MYSQL: &str = "INSERT INTO attrmig_fleet_reports (migration_id, instance_id, host, process, app_version, step, step_since, pinned, stale, seen_step, seen_version, started_at, reported_at, periods, buckets, mismatches, protocol)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE host = VALUES(host), process = VALUES(process), app_version = VALUES(app_version), step = VALUES(step), step_since = VALUES(step_since), pinned = VALUES(pinned), stale = VALUES(stale), seen_step = VALUES(seen_step), seen_version = VALUES(seen_version), started_at = VALUES(started_at), reported_at = VALUES(reported_at), periods = VALUES(periods), buckets = VALUES(buckets), mismatches = VALUES(mismatches), protocol = VALUES(protocol)";

/// Writes one instance's report on one migration, replacing its previous one: bind the
/// [`REPORT_COLUMNS`] in order. Reports are cumulative, so the statement is idempotent
/// and a failed one is simply carried by the next.
pub fn upsert_report(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => UPSERT_SQLITE,
        Dialect::Postgres => UPSERT_POSTGRES,
        Dialect::Mysql => UPSERT_MYSQL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upsert_binds_every_column_once_in_order() {
        for dialect in Dialect::ALL {
            let sql = upsert_report(dialect);
            let columns = format!("({})", REPORT_COLUMNS.join(", "));
            assert!(sql.contains(&columns), "{dialect:?}");
            let placeholders = match dialect {
                Dialect::Postgres => (1..=REPORT_COLUMNS.len())
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>(),
                _ => vec!["?".to_owned(); REPORT_COLUMNS.len()],
            };
            assert!(
                sql.contains(&format!("VALUES ({})", placeholders.join(", "))),
                "{dialect:?}"
            );
            // Every column but the key is updated.
            for (i, column) in REPORT_COLUMNS.iter().enumerate().skip(2) {
                let set = match dialect {
                    Dialect::Mysql => format!("{column} = VALUES({column})"),
                    Dialect::Postgres => format!("{column} = ${}", i + 1),
                    Dialect::Sqlite => format!("{column} = excluded.{column}"),
                };
                assert!(sql.contains(&set), "{dialect:?}: {column}");
            }
        }
    }
}
