//! What the engine observed in the real database, the store and the repository, handed to
//! the pure guards. Nothing here does I/O; `attrmig-engine` fills these in.
//!
//! Fields are `Option` where a fact is only observed for the steps that need it
//! ([`crate::guards::needs`] says which); a guard that finds its fact missing refuses with
//! [`crate::Refusal::NotObserved`] rather than guessing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Step;
use crate::collation::Collation;
use crate::dependents::Dependent;
use crate::extra::{ExtraAcknowledgement, ExtraRow};
use crate::fleet::FleetFact;
use crate::refusal::counted;

/// Everything the guards of one transition may look at.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// Who asks for the transition.
    pub actor: String,
    /// `--note` given with the transition.
    pub note: Option<String>,
    /// `--confirm-point-of-no-return` given.
    pub confirmed_point_of_no_return: bool,
    /// When steps were reached, from the audit log.
    pub history: History,
    /// Storage fingerprint recorded at step 1, and the plan's current one.
    pub plan_fingerprint: PlanFingerprint,
    /// The new storage as introspected.
    pub new_storage: Option<TableFact>,
    /// The old storage as introspected.
    pub old_storage: Option<OldStorageFact>,
    /// Finished cross-check runs, newest first.
    pub cross_checks: Option<Vec<CrossCheckFact>>,
    /// Sync passes, newest first.
    pub sync_passes: Option<Vec<SyncPassFact>>,
    /// Data issues not yet resolved.
    pub unresolved_data_issues: Option<u64>,
    /// Hand-written tool paths from the plan that still exist in the repository.
    pub tool_paths_present: Option<Vec<String>>,
    /// Approvals of the point of no return.
    pub approvals: Option<Vec<ApprovalFact>>,
    /// What is known about late writes to old storage after step 9.
    pub late_writes: Option<LateWritesFact>,
    /// The database objects that name the old attribute, observed live (never stored).
    pub dependents: Option<Vec<Dependent>>,
    /// Tools that hold a live lease now (provably dead holders left out).
    pub running_tools: Option<Vec<RunningTool>>,
    /// The application instances' reports (observed migrations only).
    pub fleet: Option<FleetFact>,
    /// `[fleet] observed` as recorded by the latest advance (`None`: no advance yet).
    pub fleet_observed_recorded: Option<bool>,
    /// Every acknowledgement of rows only in new storage in the audit log, oldest first
    /// (observed with the cross-check runs).
    pub extra_acknowledgements: Option<Vec<ExtraAcknowledgement>>,
}

impl Facts {
    /// Facts with nothing observed yet, for the given time and actor.
    pub fn new(
        now: DateTime<Utc>,
        actor: impl Into<String>,
        plan_fingerprint: PlanFingerprint,
    ) -> Facts {
        Facts {
            now,
            actor: actor.into(),
            note: None,
            confirmed_point_of_no_return: false,
            history: History::default(),
            plan_fingerprint,
            new_storage: None,
            old_storage: None,
            cross_checks: None,
            sync_passes: None,
            unresolved_data_issues: None,
            tool_paths_present: None,
            approvals: None,
            late_writes: None,
            dependents: None,
            running_tools: None,
            fleet: None,
            fleet_observed_recorded: None,
            extra_acknowledgements: None,
        }
    }
}

/// When each step was last reached by an advance, and when the last rollback happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    /// The time of the latest advance into each step. A rollback does not move these:
    /// rolling back from 4 to 3 does not change when double-write went live.
    pub reached: BTreeMap<Step, DateTime<Utc>>,
    /// The latest rollback, if any; approvals given before it no longer count.
    pub last_rollback: Option<DateTime<Utc>>,
}

/// The plan's storage fingerprint, as recorded and as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanFingerprint {
    /// Recorded when step 1 was reached; `None` before.
    pub recorded: Option<String>,
    /// Computed from the plan file as it is now.
    pub current: String,
}

/// A column as introspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnFact {
    /// Column name.
    pub name: String,
    /// Type as the database names it (`bigint`, `character varying`, `TEXT`).
    pub data_type: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Default expression, if any.
    pub default: Option<String>,
    /// Is the primary key alone, or the sole column of a unique index.
    pub unique: bool,
    /// A text column's collation (`None`: not text, or not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<Collation>,
}

/// A table as introspected: missing, or its columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum TableFact {
    /// No such table.
    Missing {
        /// Table name.
        table: String,
    },
    /// The table and its columns.
    Present {
        /// Table name.
        table: String,
        /// Its columns.
        columns: Vec<ColumnFact>,
        /// The primary key's columns, in key order; empty when the table has none.
        primary_key: Vec<String>,
        /// Every unique constraint or index without a predicate or an expression (the
        /// primary key among them), each as its columns in order.
        unique_keys: Vec<Vec<String>>,
    },
}

impl TableFact {
    /// A present table whose only keys are its columns marked `unique`, each alone, none
    /// of them primary: what a caller knows that has no introspection (tests, fixtures).
    pub fn present(table: impl Into<String>, columns: Vec<ColumnFact>) -> TableFact {
        let unique_keys = columns
            .iter()
            .filter(|c| c.unique)
            .map(|c| vec![c.name.clone()])
            .collect();
        TableFact::Present {
            table: table.into(),
            columns,
            primary_key: Vec::new(),
            unique_keys,
        }
    }

    /// The named column, if the table and column exist.
    pub fn column(&self, name: &str) -> Option<&ColumnFact> {
        match self {
            TableFact::Missing { .. } => None,
            TableFact::Present { columns, .. } => columns.iter().find(|c| c.name == name),
        }
    }

    /// The table's primary key columns (its real key), empty when it has none or is
    /// missing.
    pub fn primary_key(&self) -> &[String] {
        match self {
            TableFact::Missing { .. } => &[],
            TableFact::Present { primary_key, .. } => primary_key,
        }
    }

    /// Whether `columns` together name at most one row: some unique key (the primary key
    /// included) uses only these columns.
    pub fn unique_by(&self, columns: &[&str]) -> bool {
        self.key_within(columns).is_some()
    }

    /// A unique key (the primary key first) that uses only `columns`, if there is one.
    pub fn key_within(&self, columns: &[&str]) -> Option<&[String]> {
        match self {
            TableFact::Missing { .. } => None,
            TableFact::Present {
                primary_key,
                unique_keys,
                ..
            } => std::iter::once(primary_key)
                .chain(unique_keys)
                .filter(|key| !key.is_empty())
                .find(|key| key.iter().all(|c| columns.contains(&c.as_str())))
                .map(Vec::as_slice),
        }
    }

    /// Whether `columns` together name at most one row even where rows hold NULL: the
    /// primary key, or a unique key all of whose columns are NOT NULL, uses only these
    /// columns. (A unique index lets rows whose key holds NULL repeat, on every backend.)
    /// `Err` names the columns that allow NULL in the unique keys that would do but for
    /// them; `Err` of nothing: no unique key at all.
    pub fn names_one_row(&self, columns: &[&str]) -> Result<(), Vec<String>> {
        let TableFact::Present {
            primary_key,
            unique_keys,
            ..
        } = self
        else {
            return Err(Vec::new());
        };
        let within = |key: &Vec<String>| {
            !key.is_empty() && key.iter().all(|c| columns.contains(&c.as_str()))
        };
        if within(primary_key) {
            return Ok(());
        }
        let mut nullable = Vec::new();
        for key in unique_keys.iter().filter(|k| within(k)) {
            let open: Vec<String> = key
                .iter()
                .filter(|c| self.column(c).is_some_and(|f| f.nullable))
                .cloned()
                .collect();
            if open.is_empty() {
                return Ok(());
            }
            for c in open {
                if !nullable.contains(&c) {
                    nullable.push(c);
                }
            }
        }
        Err(nullable)
    }

    /// Does the table exist.
    pub fn exists(&self) -> bool {
        matches!(self, TableFact::Present { .. })
    }
}

/// Old storage as introspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OldStorageFact {
    /// The old table.
    pub table: TableFact,
    /// For JSON and EAV kinds, whether any row still holds the attribute (only observed
    /// when entering 10). Column kinds answer from `table`.
    pub attribute_rows_present: Option<bool>,
    /// For EAV, whether an entity has more than one row of the attribute (only observed
    /// when entering 1).
    pub duplicates: Option<DuplicatesFact>,
}

/// For EAV old storage: whether some entity has more than one row of the attribute (the
/// same key and name twice), which leaves the sync no way to tell which row holds the
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DuplicatesFact {
    /// A unique key on these columns (within key and name column) allows one row per
    /// entity and name: nothing to count.
    RuledOutBy {
        /// The key's columns.
        key: Vec<String>,
    },
    /// Counted in the data.
    Counted {
        /// Entities with more than one row of the attribute.
        keys: u64,
        /// The first of them, by key, as text.
        first: Vec<String>,
    },
    /// Not counted: that reads every row of the attribute, which views don't do.
    NotCounted,
}

/// The four counts of a cross-check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    /// Keys whose old and new values are equal (NULL old and absent new included).
    pub matching: u64,
    /// Old has a value, new has none.
    pub missing_in_new: u64,
    /// New has a value, old has none.
    pub extra_in_new: u64,
    /// Both have values and they differ.
    pub differs: u64,
}

impl Counts {
    /// Every key compared, matching or not.
    pub fn compared(&self) -> u64 {
        self.matching + self.mismatches()
    }

    /// Every mismatch of any class.
    pub fn mismatches(&self) -> u64 {
        self.missing_in_new + self.extra_in_new + self.differs
    }

    /// No mismatch at all.
    pub fn clean(&self) -> bool {
        self.mismatches() == 0
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: Counts) {
        self.matching += other.matching;
        self.missing_in_new += other.missing_in_new;
        self.extra_in_new += other.extra_in_new;
        self.differs += other.differs;
    }
}

/// A finished cross-check run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossCheckFact {
    /// Run number within the migration.
    pub run: i64,
    /// Compared every key (not a sample).
    pub full: bool,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// What it found.
    pub counts: Counts,
    /// For a sample, the keys it was asked to compare; `None` for a full run.
    pub sample_size: Option<u64>,
    /// The rows only in new storage its report names (all of them, or the first ones:
    /// compare with `counts.extra_in_new`), for acknowledgements ([`crate::extra`]).
    pub extra_rows: Vec<ExtraRow>,
}

impl CrossCheckFact {
    /// Whether the run compared what it promised. A full run compares every key there
    /// is; a sample that compared fewer keys than asked for (old storage had fewer, or
    /// none was asked for) says nothing about the keys it did not reach.
    pub fn complete(&self) -> bool {
        match self.sample_size {
            None => true,
            Some(promised) => promised > 0 && self.counts.compared() >= promised,
        }
    }

    /// What it covered, for people: `full, 40 keys compared`, `sample of 25 keys, 25 keys
    /// compared`.
    pub fn scope(&self) -> String {
        let compared = self.counts.compared();
        match self.sample_size {
            None => format!("full, {} compared", counted(compared, "key", "keys")),
            Some(n) => format!(
                "sample of {}, {} compared",
                counted(n, "key", "keys"),
                counted(compared, "key", "keys")
            ),
        }
    }
}

/// Where a sync pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncStatus {
    /// A runner holds it now.
    Running,
    /// Its runner died or was stopped; `attrmig sync` resumes it.
    Interrupted,
    /// Every key was visited.
    Completed,
}

/// One sync pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncPassFact {
    /// Pass number within the migration.
    pub pass: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it completed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its state.
    pub status: SyncStatus,
}

/// A tool that holds its lease (a sync, `data-issues --retry`, a cross-check): while one
/// does, the tools can't retire (8 delete-tools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningTool {
    /// `sync`, `data-issues --retry`, `cross-check`.
    pub tool: String,
    /// `actor@host:pid`.
    pub holder: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id (in its own PID namespace).
    pub pid: u32,
    /// Since when it holds the lease.
    pub since: DateTime<Utc>,
    /// Until when, unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// An approval of the point of no return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalFact {
    /// Who approved.
    pub approver: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What is known about writes to old storage after step 9.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LateWritesFact {
    /// Old storage is still there and was compared with the fingerprint taken at step 9.
    Compared(LateWrites),
    /// Old storage is still there and was not compared: comparing reads every old value,
    /// which read-only views (`status`, `show`) don't do.
    NotCompared,
    /// Old storage was dropped by `attrmig ddl ID drop-old --apply`, which compared first.
    VerifiedByDrop,
    /// Old storage was dropped without comparing it with the step-9 fingerprint.
    Unverified,
}

/// How many late writes a comparison found, and which (the first [`LateWrites::NAMED`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LateWrites {
    /// Keys whose old value was written after the fleet stopped writing old storage and
    /// still holds a value (a key removed loses nothing when old storage is dropped).
    pub changed: u64,
    /// The first of them, in key order.
    pub keys: Vec<LateWrite>,
    /// Key ranges whose old values changed with no trace in the late-write log (a write
    /// that bypassed the trigger: see docs/tools.md), the first [`LateWrites::NAMED`].
    pub untraced: Vec<UntracedRange>,
    /// How many such ranges there are.
    pub untraced_ranges: u64,
    /// Since when a write counts as late: when the whole fleet applied 9 (observed), when
    /// 9 was reached (not observed); `None` for a fingerprint of state schema 3, taken
    /// key by key when 9 was reached.
    pub since: Option<DateTime<Utc>>,
    /// Stands for exactly these late writes (all of them, not only those named): `ddl
    /// drop-old --apply --accept-late-writes TOKEN --note ...` drops old storage despite
    /// them, once a person has copied what must survive; any other late write changes it.
    /// Empty when there are none.
    pub token: String,
}

impl LateWrites {
    /// How many keys and ranges a refusal and its JSON name.
    pub const NAMED: usize = 20;

    /// Nothing late.
    pub fn is_clean(&self) -> bool {
        self.changed == 0 && self.untraced_ranges == 0
    }
}

/// One key written late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateWrite {
    /// The key, as text.
    pub key: String,
    /// When the last late write of it was logged (`None` without a log: schema 3).
    pub at: Option<DateTime<Utc>>,
    /// Who wrote it, as far as the database tells: `user`, `application`, `client`.
    pub by: Option<String>,
}

/// A key range (`after`, `through`] whose old values changed with nothing logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntracedRange {
    /// The key before the range (`None`: from the first key).
    pub after: Option<String>,
    /// Its last key (`None`: open above).
    pub through: Option<String>,
}
