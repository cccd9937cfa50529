//! Rows of `attrmig_migrations`: where each migration stands, at which version.

use attrmig_core::{Position, Step};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, ctx};
use crate::schema::attrmig_migrations as m;
use crate::time::{from_db, to_db};

/// A migration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRecord {
    /// Its id (the plan's stem).
    pub id: String,
    /// Where it stands.
    pub position: Position,
    /// Bumped by every audit entry; the compare-and-swap token.
    pub version: i64,
    /// The plan's storage fingerprint recorded at step 1.
    pub storage_fingerprint: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = m)]
struct Row {
    id: String,
    step: String,
    abandoned: bool,
    version: i64,
    storage_fingerprint: Option<String>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

pub(crate) fn parse_step(s: &str) -> Result<Step, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt {
        what: format!("an unknown step `{s}`"),
    })
}

impl TryFrom<Row> for MigrationRecord {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let step = parse_step(&r.step)?;
        Ok(MigrationRecord {
            id: r.id,
            position: if r.abandoned {
                Position::Abandoned { at: step }
            } else {
                Position::At(step)
            },
            version: r.version,
            storage_fingerprint: r.storage_fingerprint,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

/// One migration, if it is registered.
pub fn get(
    conn: &mut attrmig_db::AnyConnection,
    id: &str,
) -> Result<Option<MigrationRecord>, StoreError> {
    m::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()
        .map_err(ctx("read a migration"))?
        .map(MigrationRecord::try_from)
        .transpose()
}

/// Every registered migration, by id.
pub fn all(conn: &mut attrmig_db::AnyConnection) -> Result<Vec<MigrationRecord>, StoreError> {
    m::table
        .order(m::id)
        .select(Row::as_select())
        .load(conn)
        .map_err(ctx("read migrations"))?
        .into_iter()
        .map(MigrationRecord::try_from)
        .collect()
}

/// A migration not registered yet: at 0 planned, version 0.
pub fn unregistered(id: &str, now: DateTime<Utc>) -> MigrationRecord {
    MigrationRecord {
        id: id.to_owned(),
        position: Position::At(Step::Planned),
        version: 0,
        storage_fingerprint: None,
        created_at: now,
        updated_at: now,
    }
}

/// Registers a migration at 0 planned, version 0, unless it already is. An
/// insert-if-absent in each backend's spelling, so that it is safe inside a transaction
/// and from several processes at once (a unique violation would abort a PostgreSQL
/// transaction).
pub fn register(
    conn: &mut attrmig_db::AnyConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use attrmig_db::Backend;
    use diesel::sql_types::{Text, Timestamp};
    let (verb, tail) = match conn.backend() {
        Backend::Sqlite => ("INSERT OR IGNORE", ""),
        Backend::Postgres => ("INSERT", " ON CONFLICT (id) DO NOTHING"),
        Backend::Mysql => ("INSERT IGNORE", ""),
    };
    let b = conn.backend();
    let sql = format!(
        "{verb} INTO attrmig_migrations (id, step, abandoned, version, created_at, updated_at) VALUES ({}, {}, {}, 0, {}, {}){tail}",
        b.placeholder(1),
        b.placeholder(2),
        if b == Backend::Postgres { "FALSE" } else { "0" },
        b.placeholder(3),
        b.placeholder(4)
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(id)
        .bind::<Text, _>(Step::Planned.id())
        .bind::<Timestamp, _>(to_db(now))
        .bind::<Timestamp, _>(to_db(now))
        .execute(conn)
        .map_err(ctx("register a migration"))?;
    Ok(())
}

/// What happens to the storage fingerprint in a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerprintChange {
    /// Leave it.
    Keep,
    /// Record it (entering 1).
    Set(String),
    /// Forget it (rolling back to 0: the plan may change again).
    Clear,
}

/// Compare-and-swap: moves the migration to `to` and bumps its version, only if it is
/// still at `expected_version`. Returns whether it matched.
pub(crate) fn swap(
    conn: &mut attrmig_db::AnyConnection,
    id: &str,
    expected_version: i64,
    to: Position,
    fingerprint: &FingerprintChange,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let target = m::table
        .filter(m::id.eq(id))
        .filter(m::version.eq(expected_version));
    let step = to.step().id();
    let abandoned = matches!(to, Position::Abandoned { .. });
    let changes = (
        m::step.eq(step),
        m::abandoned.eq(abandoned),
        m::version.eq(expected_version + 1),
        m::updated_at.eq(to_db(now)),
    );
    // diesel asks MySQL for found rows (CLIENT_FOUND_ROWS), so on every backend this
    // counts rows matched by the WHERE, not rows whose values changed.
    let matched = match fingerprint {
        FingerprintChange::Keep => diesel::update(target).set(changes).execute(conn),
        FingerprintChange::Set(fp) => diesel::update(target)
            .set((changes, m::storage_fingerprint.eq(Some(fp.as_str()))))
            .execute(conn),
        FingerprintChange::Clear => diesel::update(target)
            .set((changes, m::storage_fingerprint.eq(None::<String>)))
            .execute(conn),
    }
    .map_err(ctx("move a migration"))?;
    Ok(matched == 1)
}
