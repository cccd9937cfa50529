//! The fleet's reports (`attrmig_fleet_reports`), as the guards and views read them.
//! Applications write them through the protocol's upsert (`attrmig_protocol`); attrmig
//! only reads.

use attrmig_core::fleet::InstanceReport;
use attrmig_db::AnyConnection;
use attrmig_protocol::{REPORT_COLUMNS, REPORTS_TABLE, ReportRow};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::error::{StoreError, ctx};
use crate::time::from_db;

// Read by name (`sql_query`): diesel's `table!` stops at 16 columns without a feature
// that doubles its compile time, and the report has 17.
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    migration_id: String,
    #[diesel(sql_type = Text)]
    instance_id: String,
    #[diesel(sql_type = Text)]
    host: String,
    #[diesel(sql_type = Text)]
    process: String,
    #[diesel(sql_type = Text)]
    app_version: String,
    #[diesel(sql_type = Text)]
    step: String,
    #[diesel(sql_type = Timestamp)]
    step_since: chrono::NaiveDateTime,
    #[diesel(sql_type = Bool)]
    pinned: bool,
    #[diesel(sql_type = Bool)]
    stale: bool,
    #[diesel(sql_type = Nullable<Text>)]
    seen_step: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    seen_version: Option<i64>,
    #[diesel(sql_type = Timestamp)]
    started_at: chrono::NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    reported_at: chrono::NaiveDateTime,
    #[diesel(sql_type = Text)]
    periods: String,
    #[diesel(sql_type = Text)]
    buckets: String,
    #[diesel(sql_type = Text)]
    mismatches: String,
    #[diesel(sql_type = Integer)]
    protocol: i32,
}

fn select(filter: &str) -> String {
    format!(
        "SELECT {} FROM {REPORTS_TABLE}{filter} ORDER BY migration_id, reported_at DESC, instance_id",
        REPORT_COLUMNS.join(", ")
    )
}

impl Row {
    fn decode(self) -> Result<InstanceReport, StoreError> {
        let what = format!(
            "a fleet report of instance `{}` on {}",
            self.instance_id, self.migration_id
        );
        ReportRow {
            migration_id: self.migration_id,
            instance_id: self.instance_id,
            host: self.host,
            process: self.process,
            app_version: self.app_version,
            step: self.step,
            step_since: from_db(self.step_since),
            pinned: self.pinned,
            stale: self.stale,
            seen_step: self.seen_step,
            seen_version: self.seen_version,
            started_at: from_db(self.started_at),
            reported_at: from_db(self.reported_at),
            periods: self.periods,
            buckets: self.buckets,
            mismatches: self.mismatches,
            protocol: self.protocol,
        }
        .decode()
        .map_err(|e| StoreError::Corrupt {
            what: format!("{what} that does not read: {e}"),
        })
    }
}

/// Every instance's latest report on `migration_id`, newest first.
pub fn reports(
    conn: &mut AnyConnection,
    migration_id: &str,
) -> Result<Vec<InstanceReport>, StoreError> {
    let sql = select(&format!(
        " WHERE migration_id = {}",
        conn.backend().placeholder(1)
    ));
    diesel::sql_query(sql)
        .bind::<Text, _>(migration_id)
        .load::<Row>(conn)
        .map_err(ctx("read the fleet's reports"))?
        .into_iter()
        .map(Row::decode)
        .collect()
}

/// Every report on every migration, by migration, newest first.
pub fn all_reports(conn: &mut AnyConnection) -> Result<Vec<InstanceReport>, StoreError> {
    diesel::sql_query(select(""))
        .load::<Row>(conn)
        .map_err(ctx("read the fleet's reports"))?
        .into_iter()
        .map(Row::decode)
        .collect()
}
