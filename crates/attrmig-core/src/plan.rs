//! A validated migration plan: what moves where, and the settings of its tools and guards.
//!
//! Plans are parsed and validated by `attrmig-plan`; this module only holds the result,
//! whose types can't express a bad identifier or a zero batch size.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ident::{Ident, JsonPath, MigrationId, TableName};
use crate::key::KeyColumns;

/// One attribute migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The plan file's stem.
    pub id: MigrationId,
    /// What the migration is for.
    pub description: String,
    /// Who answers for it (teams or people).
    pub owners: Vec<String>,
    /// Where the attribute lives now.
    pub old: OldStorage,
    /// Where the attribute moves to.
    pub new: NewStorage,
    /// Settings of `attrmig sync`.
    pub sync: SyncSettings,
    /// Settings of the guards.
    pub guards: GuardSettings,
    /// Hand-written tools that step 8 requires to be deleted.
    pub tools: ToolSettings,
    /// Code rules that `attrmig check` enforces.
    pub code: CodeRules,
    /// Whether the application reports what it does (`attrmig-app`), and what the
    /// guards require of its reports.
    pub fleet: FleetSettings,
    /// `[old]` and `[new]` as the plan file writes them, once [`Plan::renamed`] gave
    /// `old` and `new` the database's spelling: the storage fingerprint is the file's,
    /// so that `attrmig check`, which sees no database, computes the same one.
    #[serde(skip)]
    pub written: Option<Box<(OldStorage, NewStorage)>>,
}

/// Where the attribute lives before the migration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OldStorage {
    /// A plain column: `table.column`, one row per `key`.
    Column {
        /// Table holding the attribute.
        table: TableName,
        /// Unique key of the table (one column or several).
        key: KeyColumns,
        /// Column holding the attribute.
        column: Ident,
    },
    /// A key inside a JSON document column.
    Json {
        /// Table holding the document.
        table: TableName,
        /// Unique key of the table (one column or several).
        key: KeyColumns,
        /// Column holding the JSON document.
        column: Ident,
        /// Path of the attribute inside the document.
        path: JsonPath,
    },
    /// One row per entity in an entity-attribute-value table.
    Eav {
        /// The EAV table.
        table: TableName,
        /// Column(s) holding the entity key.
        key: KeyColumns,
        /// Column holding the attribute's name.
        name_column: Ident,
        /// The attribute's name (a value, always bound, never spliced into SQL).
        name: String,
        /// Column holding the attribute's value.
        value_column: Ident,
    },
}

impl OldStorage {
    /// The kind as written in plans: `column`, `json` or `eav`.
    pub fn kind(&self) -> &'static str {
        match self {
            OldStorage::Column { .. } => "column",
            OldStorage::Json { .. } => "json",
            OldStorage::Eav { .. } => "eav",
        }
    }

    /// The table that holds the old attribute.
    pub fn table(&self) -> &TableName {
        match self {
            OldStorage::Column { table, .. }
            | OldStorage::Json { table, .. }
            | OldStorage::Eav { table, .. } => table,
        }
    }

    /// The key column(s) of the old table.
    pub fn key(&self) -> &KeyColumns {
        match self {
            OldStorage::Column { key, .. }
            | OldStorage::Json { key, .. }
            | OldStorage::Eav { key, .. } => key,
        }
    }

    /// How people name the old attribute: `users.full_name`, `users.attrs->full_name`,
    /// `user_attributes[name=full_name]`.
    pub fn describe(&self) -> String {
        match self {
            OldStorage::Column { table, column, .. } => format!("{table}.{column}"),
            OldStorage::Json {
                table,
                column,
                path,
                ..
            } => format!("{table}.{column}->{path}"),
            OldStorage::Eav {
                table,
                name_column,
                name,
                ..
            } => format!("{table}[{name_column}={name}]"),
        }
    }
}

/// Where the attribute moves to: always a column, in the same or another table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NewStorage {
    /// Table of the new column (may be the old table).
    pub table: TableName,
    /// Unique key of that table; it joins to the old key, column by column in order.
    pub key: KeyColumns,
    /// The new column.
    pub column: Ident,
}

impl NewStorage {
    /// `users_pii.full_name`.
    pub fn describe(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// Settings of `attrmig sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncSettings {
    /// Keys per batch (and per transaction).
    pub batch_size: u32,
    /// Throttle; `None` is unthrottled.
    pub max_rows_per_second: Option<u32>,
    /// How long a tool's lease (sync, `data-issues --retry`, cross-check) lasts unless
    /// its runner renews it: how long a runner that vanished without a trace (a lost
    /// machine, another PID namespace) blocks the next one and an advance to 8.
    #[serde(with = "duration_secs")]
    pub lease_ttl: Duration,
}

impl SyncSettings {
    /// The largest batch accepted: a batch is one transaction holding share locks.
    pub const MAX_BATCH_SIZE: u32 = 1_000_000;
    /// The shortest lease accepted: a runner renews it six times per TTL.
    pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);
    /// The longest lease accepted: a vanished runner blocks no one for longer than this.
    pub const MAX_LEASE_TTL: Duration = Duration::from_secs(3600);

    /// How often a runner renews its lease: six times per TTL, so that a few slow
    /// renewals in a row don't lose it.
    pub fn lease_renew_every(&self) -> Duration {
        self.lease_ttl / 6
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            batch_size: 10_000,
            max_rows_per_second: None,
            lease_ttl: Duration::from_secs(60),
        }
    }
}

/// Settings of the guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GuardSettings {
    /// Minimum time in 5a before 5b, and in 5b before 6.
    #[serde(with = "duration_secs")]
    pub soak: Duration,
    /// Oldest clean cross-check accepted by the guards of 5a, 5b and 6.
    #[serde(with = "duration_secs")]
    pub max_check_age: Duration,
    /// Approvals by people other than the actor required to pass the point of no return.
    pub approvals: u32,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            soak: Duration::from_secs(7 * 24 * 3600),
            max_check_age: Duration::from_secs(24 * 3600),
            approvals: 1,
        }
    }
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

/// `[fleet]`: whether the application's instances report what they do, and what the
/// guards of steps 4, 5b, 6, 7 and 10 require of those reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FleetSettings {
    /// The application reports (`attrmig-app` or the documented SQL protocol); the fleet
    /// guards apply. `false`: the application's steps are taken on trust.
    pub observed: bool,
    /// How long an instance counts as live after its last report.
    #[serde(with = "duration_secs")]
    pub instance_ttl: Duration,
    /// Compared reads the fleet must have made in 5a (5b) before 5b (6) is entered.
    pub min_compared_reads: u64,
    /// Highest accepted share of compared reads with a persistent mismatch (0 to 1).
    pub max_mismatch_rate: f64,
}

impl FleetSettings {
    /// The most `instance_ttl` can be: a week without a report is not a live instance.
    pub const MAX_INSTANCE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl Default for FleetSettings {
    fn default() -> Self {
        FleetSettings {
            observed: false,
            instance_ttl: Duration::from_secs(120),
            min_compared_reads: 1000,
            max_mismatch_rate: 0.0,
        }
    }
}

/// Hand-written tools that must be gone before step 8.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ToolSettings {
    /// Paths relative to the project root.
    pub paths: Vec<String>,
}

/// A reference to the old attribute in source code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "pattern", rename_all = "kebab-case")]
pub enum CodeRef {
    /// Matched as a literal substring.
    Literal(String),
    /// Matched as a regular expression (already checked to compile).
    Regex(String),
}

/// State-aware code rules enforced by `attrmig check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CodeRules {
    /// Strings or patterns naming the old attribute.
    pub old_refs: Vec<CodeRef>,
    /// Globs of source files to scan for `old_refs`.
    pub paths: Vec<String>,
    /// Globs of SQL migration files to scan for drops.
    pub schema_paths: Vec<String>,
}

/// What a name in a plan names, for [`Plan::renamed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRole {
    /// The old table.
    OldTable,
    /// The old table's schema (PostgreSQL) or database (MySQL/MariaDB).
    OldSchema,
    /// A column of the old table.
    OldColumn,
    /// The new table.
    NewTable,
    /// The new table's schema or database.
    NewSchema,
    /// A column of the new table.
    NewColumn,
}

/// `table` with its schema (if any) and name passed through `rename`.
fn renamed_table(
    table: &TableName,
    schema_role: NameRole,
    name_role: NameRole,
    rename: &impl Fn(NameRole, &Ident) -> Ident,
) -> TableName {
    TableName {
        schema: table.schema.as_ref().map(|s| rename(schema_role, s)),
        name: rename(name_role, &table.name),
    }
}

impl Plan {
    /// The plan with every table and column name passed through `rename` (the
    /// database's spelling of each, `attrmig_db::names`); values (an EAV attribute's
    /// name, a JSON path) are left as they are.
    pub fn renamed(&self, rename: impl Fn(NameRole, &Ident) -> Ident) -> Plan {
        use NameRole::*;
        let old = match &self.old {
            OldStorage::Column { table, key, column } => OldStorage::Column {
                table: renamed_table(table, OldSchema, OldTable, &rename),
                key: key.renamed(|c| rename(OldColumn, c)),
                column: rename(OldColumn, column),
            },
            OldStorage::Json {
                table,
                key,
                column,
                path,
            } => OldStorage::Json {
                table: renamed_table(table, OldSchema, OldTable, &rename),
                key: key.renamed(|c| rename(OldColumn, c)),
                column: rename(OldColumn, column),
                path: path.clone(),
            },
            OldStorage::Eav {
                table,
                key,
                name_column,
                name,
                value_column,
            } => OldStorage::Eav {
                table: renamed_table(table, OldSchema, OldTable, &rename),
                key: key.renamed(|c| rename(OldColumn, c)),
                name_column: rename(OldColumn, name_column),
                name: name.clone(),
                value_column: rename(OldColumn, value_column),
            },
        };
        let new = NewStorage {
            table: renamed_table(&self.new.table, NewSchema, NewTable, &rename),
            key: self.new.key.renamed(|c| rename(NewColumn, c)),
            column: rename(NewColumn, &self.new.column),
        };
        let written = self
            .written
            .clone()
            .unwrap_or_else(|| Box::new((self.old.clone(), self.new.clone())));
        Plan {
            old,
            new,
            written: Some(written),
            ..self.clone()
        }
    }

    /// A digest of the plan's storage part (`[old]` and `[new]`), recorded when step 1 is
    /// reached. A later change of it is a different migration, and is refused.
    pub fn storage_fingerprint(&self) -> String {
        match &self.written {
            Some(written) => storage_fingerprint(&written.0, &written.1),
            None => storage_fingerprint(&self.old, &self.new),
        }
    }
}

/// See [`Plan::storage_fingerprint`]. Canonical text, one `key=value` per line in a fixed
/// order, so formatting and comments in the plan file don't matter.
pub fn storage_fingerprint(old: &OldStorage, new: &NewStorage) -> String {
    let mut canonical = String::new();
    let mut line = |k: &str, v: &str| {
        canonical.push_str(k);
        canonical.push('=');
        canonical.push_str(v);
        canonical.push('\n');
    };
    line("old.kind", old.kind());
    match old {
        OldStorage::Column { table, key, column } => {
            line("old.table", &table.to_string());
            line("old.key", &key.fingerprint_text());
            line("old.column", column.as_str());
        }
        OldStorage::Json {
            table,
            key,
            column,
            path,
        } => {
            line("old.table", &table.to_string());
            line("old.key", &key.fingerprint_text());
            line("old.column", column.as_str());
            line("old.path", path.as_str());
        }
        OldStorage::Eav {
            table,
            key,
            name_column,
            name,
            value_column,
        } => {
            line("old.table", &table.to_string());
            line("old.key", &key.fingerprint_text());
            line("old.name_column", name_column.as_str());
            line("old.name", name);
            line("old.value_column", value_column.as_str());
        }
    }
    line("new.table", &new.table.to_string());
    line("new.key", &new.key.fingerprint_text());
    line("new.column", new.column.as_str());
    let digest = Sha256::digest(canonical.as_bytes());
    format!("sha256:{}", hex(&digest))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The plan from DESIGN.md section 3.
    pub fn users_full_name() -> Plan {
        Plan {
            id: MigrationId::new("users-full-name").unwrap(),
            description: "Move full_name out of users into users_pii".into(),
            owners: vec!["identity-team".into()],
            old: OldStorage::Column {
                table: TableName::parse("users").unwrap(),
                key: KeyColumns::one(Ident::new("id").unwrap()),
                column: Ident::new("full_name").unwrap(),
            },
            new: NewStorage {
                table: TableName::parse("users_pii").unwrap(),
                key: KeyColumns::one(Ident::new("user_id").unwrap()),
                column: Ident::new("full_name").unwrap(),
            },
            sync: SyncSettings::default(),
            guards: GuardSettings::default(),
            tools: ToolSettings {
                paths: vec!["scripts/backfill_full_name.py".into()],
            },
            code: CodeRules::default(),
            fleet: FleetSettings::default(),
            written: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_respelled_by_the_database_keep_the_files_fingerprint() {
        let plan = fixtures::users_full_name();
        let respelled = plan.renamed(|_, name| Ident::new(&name.as_str().to_uppercase()).unwrap());
        assert_eq!(respelled.old.table().to_string(), "USERS");
        assert_eq!(respelled.storage_fingerprint(), plan.storage_fingerprint());
        // Twice: still the file's.
        let again = respelled.renamed(|_, name| Ident::new(&name.as_str().to_lowercase()).unwrap());
        assert_eq!(again.storage_fingerprint(), plan.storage_fingerprint());
    }

    #[test]
    fn fingerprint_covers_storage_only() {
        let plan = fixtures::users_full_name();
        let mut tuned = plan.clone();
        tuned.sync.batch_size = 500;
        tuned.guards.approvals = 3;
        tuned.description = "reworded".into();
        assert_eq!(plan.storage_fingerprint(), tuned.storage_fingerprint());

        let mut moved = plan.clone();
        moved.new.column = Ident::new("name").unwrap();
        assert_ne!(plan.storage_fingerprint(), moved.storage_fingerprint());
        assert!(plan.storage_fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn describes_each_kind() {
        let plan = fixtures::users_full_name();
        assert_eq!(plan.old.describe(), "users.full_name");
        let json = OldStorage::Json {
            table: TableName::parse("users").unwrap(),
            key: KeyColumns::one(Ident::new("id").unwrap()),
            column: Ident::new("attrs").unwrap(),
            path: JsonPath::new("full_name").unwrap(),
        };
        assert_eq!(json.describe(), "users.attrs->full_name");
    }
}
