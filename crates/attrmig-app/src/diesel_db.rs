//! The built-in [`StateDb`]: the protocol's statements over diesel, on SQLite, PostgreSQL
//! and (feature `mysql`) MySQL/MariaDB, one connection per background thread's job so a
//! slow report never delays a refresh.

use std::path::Path;
use std::sync::Mutex;

use attrmig_db::{AnyConnection, Backend, DatabaseUrl, connect};
use attrmig_protocol::{Dialect, MigrationRow, READ_STEPS, ReportRow, upsert_report};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::error::StateError;
use crate::state_db::StateDb;

/// The state database reached by URL: `sqlite://PATH`, `postgres://…`, `mysql://…`.
///
/// It connects on first use and again after an error, so an instance rides out a
/// restart of the database. Give PostgreSQL URLs a `connect_timeout` (libpq's parameter,
/// seconds) so that an unreachable server fails a refresh instead of hanging it.
pub struct DieselStateDb {
    url: DatabaseUrl,
    reads: Mutex<Option<AnyConnection>>,
    reports: Mutex<Option<AnyConnection>>,
    /// Statements other than the protocol's own: the test of docs/app.md runs the
    /// documented text through this client.
    statements: Option<(String, String)>,
}

impl DieselStateDb {
    /// A client for `url`. Relative SQLite paths are relative to the working directory.
    /// Nothing is connected yet.
    pub fn new(url: &str) -> Result<DieselStateDb, StateError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_owned());
        let url = DatabaseUrl::parse(url, &cwd).map_err(|e| StateError::new(e.to_string()))?;
        Ok(DieselStateDb {
            url,
            reads: Mutex::new(None),
            reports: Mutex::new(None),
            statements: None,
        })
    }

    /// A client that runs `read_steps` and `upsert` (for this URL's backend) instead of
    /// the protocol's statements: how the test of docs/app.md runs the documented SQL.
    #[doc(hidden)]
    pub fn with_statements(
        url: &str,
        read_steps: String,
        upsert: String,
    ) -> Result<DieselStateDb, StateError> {
        Ok(DieselStateDb {
            statements: Some((read_steps, upsert)),
            ..DieselStateDb::new(url)?
        })
    }

    fn with<T>(
        &self,
        slot: &Mutex<Option<AnyConnection>>,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, diesel::result::Error>,
    ) -> Result<T, StateError> {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match &mut *slot {
            Some(conn) => conn,
            None => slot.insert(connect(&self.url).map_err(|e| StateError::new(e.to_string()))?),
        };
        f(conn).map_err(|e| {
            // The connection may be broken; the next call opens a new one.
            *slot = None;
            StateError::new(e.to_string())
        })
    }
}

fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
        Backend::Mysql => Dialect::Mysql,
    }
}

#[derive(QueryableByName)]
struct StepRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    step: String,
    #[diesel(sql_type = Bool)]
    abandoned: bool,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

impl StateDb for DieselStateDb {
    fn read_steps(&self) -> Result<Vec<MigrationRow>, StateError> {
        let sql = self
            .statements
            .as_ref()
            .map_or(READ_STEPS, |(read, _)| read);
        let rows = self.with(&self.reads, |conn| {
            diesel::sql_query(sql).load::<StepRow>(conn)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| MigrationRow {
                id: r.id,
                step: r.step,
                abandoned: r.abandoned,
                version: r.version,
            })
            .collect())
    }

    fn write_report(&self, r: &ReportRow) -> Result<(), StateError> {
        self.with(&self.reports, |conn| {
            let sql = match &self.statements {
                Some((_, upsert)) => upsert.as_str(),
                None => upsert_report(dialect(conn.backend())),
            };
            diesel::sql_query(sql)
                .bind::<Text, _>(&r.migration_id)
                .bind::<Text, _>(&r.instance_id)
                .bind::<Text, _>(&r.host)
                .bind::<Text, _>(&r.process)
                .bind::<Text, _>(&r.app_version)
                .bind::<Text, _>(&r.step)
                .bind::<Timestamp, _>(r.step_since.naive_utc())
                .bind::<Bool, _>(r.pinned)
                .bind::<Bool, _>(r.stale)
                .bind::<Nullable<Text>, _>(r.seen_step.as_deref())
                .bind::<Nullable<BigInt>, _>(r.seen_version)
                .bind::<Timestamp, _>(r.started_at.naive_utc())
                .bind::<Timestamp, _>(r.reported_at.naive_utc())
                .bind::<Text, _>(&r.periods)
                .bind::<Text, _>(&r.buckets)
                .bind::<Text, _>(&r.mismatches)
                .bind::<Integer, _>(r.protocol)
                .execute(conn)
        })?;
        Ok(())
    }
}
