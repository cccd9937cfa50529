//! Every way attrmig says no, each with what to do next. All of them exit with code 3.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::ChainBreak;
use crate::facts::{Counts, RunningTool};
use crate::fleet::InstanceSummary;
use crate::{Position, Step};

/// A refused command: an illegal transition, a failed guard, or a tool that may not run now.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Refusal {
    // --- the machine ------------------------------------------------------------------
    /// A target other than the next step.
    #[error("cannot go from {from} to {to}: steps are reached in order; next is {next}")]
    OutOfOrder {
        /// Current step.
        from: Step,
        /// Requested step.
        to: Step,
        /// The only step `advance` may reach.
        next: Step,
    },
    /// The migration already reached the last step.
    #[error("the migration is complete: 10 drop-old is the last step")]
    Complete,
    /// The migration was abandoned.
    #[error(
        "the migration was abandoned at {at}; an abandoned migration can't move again (start over with a new plan id)"
    )]
    Abandoned {
        /// Where it was abandoned.
        at: Step,
    },
    /// Rollback at step 0.
    #[error("nothing to roll back: the migration is at 0 planned (`attrmig abandon` gives it up)")]
    NothingToRollBack,
    /// Rollback or abandon after step 9.
    #[error(
        "cannot {action} from {at}: the point of no return (9 stop-writing-old) has passed and new storage holds writes old never saw; fix forward instead"
    )]
    PastPointOfNoReturn {
        /// `roll back` or `abandon`.
        action: &'static str,
        /// Current step.
        at: Step,
    },
    /// Rollback or abandon without a reason.
    #[error("`attrmig {command}` needs --reason \"...\" saying why; it goes into the audit log")]
    ReasonRequired {
        /// `rollback` or `abandon`.
        command: &'static str,
    },
    /// The step asked for is where the migration already is.
    #[error(
        "{id} is already at {at}{}; nothing was written",
        by.as_deref().map(|b| format!(" (reached by {b})")).unwrap_or_default()
    )]
    AlreadyAt {
        /// Migration id.
        id: String,
        /// Where it is.
        at: Step,
        /// Who reached it.
        by: Option<String>,
    },
    /// Another transition committed between our read and our write.
    #[error(
        "another transition won the race: {id} is now at {now_at}{}; nothing was written. Run `attrmig show {id}` and decide again",
        by.as_deref().map(|b| format!(" (by {b})")).unwrap_or_default()
    )]
    LostRace {
        /// Migration id.
        id: String,
        /// Where the winner left it.
        now_at: Position,
        /// The winner.
        by: Option<String>,
    },

    // --- guards -----------------------------------------------------------------------
    /// The plan file does not validate.
    #[error("the plan is invalid; fix it (`attrmig validate` checks every plan):\n{errors}")]
    PlanInvalid {
        /// The problems, one per line, each with file, line and key.
        errors: String,
    },
    /// The migration is in the store but its plan file is gone.
    #[error(
        "{id} is recorded at {at} but plans/{id}.toml is missing; restore the plan (git history has it) before moving it"
    )]
    PlanMissing {
        /// Migration id.
        id: String,
        /// Where it stands.
        at: Position,
    },
    /// The plan's storage part changed since step 1.
    #[error(
        "the [old] or [new] part of plans/{id}.toml changed since 1 prepare-storage was reached (recorded {recorded}, now {current}); a plan change mid-migration is a new migration: restore it, or roll back to 0 planned first"
    )]
    PlanChanged {
        /// Migration id.
        id: String,
        /// Fingerprint recorded at step 1.
        recorded: String,
        /// Fingerprint now.
        current: String,
    },
    /// A table the plan names does not exist.
    #[error("{role} table `{table}` does not exist; {todo}")]
    TableMissing {
        /// `old` or `new`.
        role: &'static str,
        /// Table name.
        table: String,
        /// What to do.
        todo: String,
    },
    /// A column the plan names does not exist.
    #[error("{role} column `{table}.{column}` does not exist; {todo}")]
    ColumnMissing {
        /// `old`, `new`, `old key`, `new key`.
        role: &'static str,
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// What to do.
        todo: String,
    },
    /// Old and new keys are of types that don't join.
    #[error(
        "old key `{old_key}` is {old_type} but new key `{new_key}` is {new_type}; keys must be of the same family (both integer or both text) to join"
    )]
    KeyTypesDiffer {
        /// `users.id`.
        old_key: String,
        /// Its type.
        old_type: String,
        /// `users_pii.user_id`.
        new_key: String,
        /// Its type.
        new_type: String,
    },
    /// SQLite: a table qualified by a schema other than `main`.
    #[error(
        "[{role}] table = \"{schema}.{table}\": SQLite has no schema `{schema}` here (attrmig opens one database file and attaches none); write `table = \"{table}\"` (or `main.{table}`) in plans/{id}.toml"
    )]
    SqliteSchema {
        /// `old` or `new`.
        role: &'static str,
        /// The schema written.
        schema: String,
        /// The table's own name.
        table: String,
        /// Migration id.
        id: String,
    },
    /// Old and new keys are text whose collations disagree on which keys are equal.
    #[error(
        "old key `{old_key}` is collated {old_collation} but new key `{new_key}` is collated {new_collation}; they disagree on which keys are equal (one may call 'alice' and 'ALICE' one key, the other two), so one row's value would overwrite another's. {todo}"
    )]
    KeyCollationsDiffer {
        /// `users.login`.
        old_key: String,
        /// Its collation, as the database names it.
        old_collation: String,
        /// `users_pii.login`.
        new_key: String,
        /// Its collation.
        new_collation: String,
        /// What to do.
        todo: String,
    },
    /// No cross-check since a given step was reached.
    #[error(
        "no cross-check has finished since {step} was reached at {}; run `attrmig cross-check {id}`",
        ts(since)
    )]
    NoCrossCheckSince {
        /// Migration id.
        id: String,
        /// The step.
        step: Step,
        /// When it was reached.
        since: DateTime<Utc>,
    },
    /// A transition that must say something in its note.
    #[error("entering {step} needs --note \"...\" saying {what}; it is recorded in the audit log")]
    NoteRequired {
        /// The step being entered.
        step: Step,
        /// What the note must say.
        what: &'static str,
    },
    /// No completed sync pass that started after double-write went live.
    #[error(
        "no completed sync pass started after 3 double-write was reached at {}{}: rows written before double-write went live would be missed; run `attrmig sync {id}`",
        ts(double_write_at),
        latest.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
    )]
    NoSyncAfterDoubleWrite {
        /// Migration id.
        id: String,
        /// When 3 was reached.
        double_write_at: DateTime<Utc>,
        /// What the latest pass was, in words, if any.
        latest: Option<String>,
    },
    /// No full cross-check finished after the qualifying sync pass.
    #[error(
        "no full cross-check has finished since sync pass {pass} completed at {}; run `attrmig cross-check {id}` (without --sample)",
        ts(completed_at)
    )]
    NoFullCheckAfterSync {
        /// Migration id.
        id: String,
        /// The pass.
        pass: i64,
        /// When it completed.
        completed_at: DateTime<Utc>,
    },
    /// The cross-check the guard relies on found mismatches.
    #[error(
        "cross-check run {run} found {} ({} missing in new, {} extra in new, {} {}); {todo}",
        counted(counts.mismatches(), "mismatch", "mismatches"), counts.missing_in_new, counts.extra_in_new, counts.differs,
        if counts.differs == 1 { "differs" } else { "differ" }
    )]
    Mismatches {
        /// The run.
        run: i64,
        /// What it found.
        counts: Counts,
        /// What to do.
        todo: String,
    },
    /// Rows the new storage rejected are waiting.
    #[error(
        "{} unresolved: rows the new storage rejected; `attrmig data-issues {id}` lists them, fix the data, then `attrmig data-issues {id} --retry`",
        counted(*count, "data issue", "data issues")
    )]
    UnresolvedDataIssues {
        /// Migration id.
        id: String,
        /// How many.
        count: u64,
    },
    /// No cross-check at all.
    #[error("no cross-check has finished yet; run `attrmig cross-check {id}`")]
    NoCrossCheck {
        /// Migration id.
        id: String,
    },
    /// The last clean cross-check is too old.
    #[error(
        "the last cross-check (run {run}) finished {} ago, longer than max_check_age ({}); run `attrmig cross-check {id}`",
        human_duration(*age), human_duration(*max)
    )]
    CrossCheckTooOld {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
        /// Its age.
        age: Duration,
        /// The limit.
        max: Duration,
    },
    /// Not long enough in the previous step.
    #[error(
        "soak: {} of {} in {step} so far; {} to go (guards.soak)",
        human_duration(*elapsed), human_duration(*soak), human_duration_left(soak.saturating_sub(*elapsed))
    )]
    SoakNotElapsed {
        /// The step being soaked in.
        step: Step,
        /// Time spent in it.
        elapsed: Duration,
        /// Required.
        soak: Duration,
    },
    /// Old column refuses writes without the attribute.
    #[error(
        "old column `{table}.{column}` is NOT NULL without a default, so writers that stop writing it would fail; run `attrmig ddl {id} prepare-old-stop` (or give it a default)"
    )]
    OldNotOptional {
        /// Migration id.
        id: String,
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// Hand-written tools still exist.
    #[error(
        "hand-written tools still in the repository: {}; delete them (after 9 stop-writing-old a sync would copy stale old values over new ones)",
        paths.join(", ")
    )]
    ToolsPresent {
        /// Paths still present.
        paths: Vec<String>,
    },
    /// Fewer approvals than required.
    #[error(
        "{have} of {} from people other than {actor}; ask a reviewer to run `attrmig approve {id}`{}",
        counted(u64::from(*need), "approval", "approvals"),
        if *own_ignored { " (your own approval doesn't count)" } else { "" }
    )]
    NotEnoughApprovals {
        /// Migration id.
        id: String,
        /// Who wants to advance.
        actor: String,
        /// Counted approvals.
        have: u32,
        /// Required.
        need: u32,
        /// The actor approved too, and that was not counted.
        own_ignored: bool,
    },
    /// The point of no return needs an explicit confirmation.
    #[error(
        "9 stop-writing-old is the point of no return: after it there is no rollback; pass --confirm-point-of-no-return to say you mean it"
    )]
    ConfirmationRequired,
    /// Old storage still exists when entering 10.
    #[error("old storage {what} still exists; run `attrmig ddl {id} drop-old --apply`")]
    OldStorageStillExists {
        /// Migration id.
        id: String,
        /// `users.full_name`.
        what: String,
    },
    /// Something wrote old storage after the point of no return.
    #[error("{}", late_writes_message(id, found))]
    LateWrites {
        /// Migration id.
        id: String,
        /// What the comparison found (boxed: it names up to 20 keys and ranges).
        #[serde(flatten)]
        found: Box<crate::facts::LateWrites>,
    },
    /// Late writes accepted without saying what was done with them.
    #[error(
        "--accept-late-writes {token} needs --note \"...\" saying what was done with those writes (copied into new storage, say); it goes into the audit log: run `attrmig ddl {id} drop-old --apply --accept-late-writes {token} --note \"...\"`"
    )]
    LateWritesAcceptedWithoutNote {
        /// Migration id.
        id: String,
        /// The token.
        token: String,
    },
    /// Old storage is still there and was not compared with the step-9 fingerprint.
    #[error(
        "not compared yet with the fingerprint taken at 9 stop-writing-old (that reads all of old storage); `attrmig ddl ID drop-old --apply` compares before dropping, `attrmig advance` when entering 10"
    )]
    LateWritesNotCompared,
    /// Old storage was dropped without comparing it with the step-9 fingerprint.
    #[error(
        "old storage was dropped outside attrmig, so nothing compared it with the fingerprint taken at 9 stop-writing-old; pass --note \"...\" saying how late writes were ruled out"
    )]
    DroppedUnverified,
    /// Database objects still read old storage when the application is to stop reading it.
    #[error(
        "the database itself still reads {what}: {}; each would go on serving old values once the application reads new, and break when old storage is dropped: redefine each over {new} (or drop it), then advance again{}",
        objects.join(", "),
        heuristic_hint(*heuristic, what)
    )]
    DatabaseReadsOld {
        /// `address.phone`.
        what: String,
        /// `address_phone.phone`.
        new: String,
        /// Each reader, described with its evidence.
        objects: Vec<String>,
        /// Some of them rest on a text match only.
        heuristic: bool,
    },
    /// Database objects still read or write old storage at the point of no return.
    #[error(
        "the database itself still reads or writes {what}: {}; no application deploy stops these, and once old storage is dropped each fails whatever runs it (a trigger, every write of its table): redefine each without {what} (keeping {new} up to date there instead, if it must be) or drop it, then advance again{}",
        objects.join(", "),
        heuristic_hint(*heuristic, what)
    )]
    DatabaseWritesOld {
        /// `film.description`.
        what: String,
        /// `film_description.description`.
        new: String,
        /// Each trigger or routine, described with its evidence.
        objects: Vec<String>,
        /// Some of them rest on a text match only.
        heuristic: bool,
    },
    /// Constraints that would refuse a write leaving the attribute out.
    #[error(
        "{}{}",
        if refused_by.is_empty() { String::new() } else { format!("writes that leave {what} out would still be refused by: {}; drop or relax each{}, then advance again", refused_by.join(", "), statements_hint(statements)) },
        if unjudged.is_empty() { String::new() } else { format!("{}attrmig can't tell whether {} accept{} a row without {what}: if so, pass --note naming each and saying why; otherwise drop or relax it", if refused_by.is_empty() { "" } else { "; " }, unjudged.join(", "), if unjudged.len() == 1 { "s" } else { "" }) }
    )]
    AbsenceRefused {
        /// `address.phone`.
        what: String,
        /// Each constraint that refuses such a write, with why.
        refused_by: Vec<String>,
        /// Each one attrmig can't judge.
        unjudged: Vec<String>,
        /// Statements that drop them, where the backend has one.
        statements: Vec<String>,
    },
    /// Foreign keys on the old column at the point of no return.
    #[error(
        "{} tie{} {what} to another table, and drop-old can't take a foreign key along after the point of no return (the database refuses the drop, or silently drops the rule with the column): give {new} its own foreign key if it needs one, drop {} from old storage{}, then advance again",
        keys.join(", "),
        if keys.len() == 1 { "s" } else { "" },
        if keys.len() == 1 { "it" } else { "them" },
        statements_hint(statements)
    )]
    ForeignKeysOnOld {
        /// `store.address_id`.
        what: String,
        /// `store_location.address_id`.
        new: String,
        /// Each foreign key, described.
        keys: Vec<String>,
        /// Statements that drop them, or how to on SQLite.
        statements: Vec<String>,
    },
    /// Database objects that stand in the way of dropping old storage.
    #[error(
        "dropping {what} is blocked: {}; redefine each without {what} or drop it{}, then {then}{}",
        objects.join(", "),
        statements_hint(statements),
        heuristic_hint(*heuristic, what)
    )]
    DropOldBlocked {
        /// `address.phone`.
        what: String,
        /// Each obstacle, with what the drop would do to it.
        objects: Vec<String>,
        /// Statements that drop them, where the backend has one.
        statements: Vec<String>,
        /// Some of them rest on a text match only.
        heuristic: bool,
        /// What to run again: `advance again`, `run drop-old again`.
        then: String,
    },
    /// `ddl prepare-old-stop` can't make a primary-key column optional.
    #[error(
        "{what} is part of the primary key {key}, so no DDL can make it optional; an attribute that is part of its table's key can't be migrated out column by column"
    )]
    OldColumnInPrimaryKey {
        /// `users.full_name`.
        what: String,
        /// The primary key, described.
        key: String,
    },
    /// A guard's fact was not observed (a bug in the caller).
    #[error("internal: the guard needs {what}, which was not observed; please report this")]
    NotObserved {
        /// The missing fact.
        what: &'static str,
    },

    // --- tools ------------------------------------------------------------------------
    /// A built-in tool after step 8.
    #[error(
        "the {tool} tool was deleted at step 8: {id} is at {at}{}",
        if *at >= Step::StopWritingOld { "; after the point of no return it would copy stale old values over new ones" } else { "; `attrmig rollback` to 7 re-arms it" }
    )]
    ToolRetired {
        /// `cross-check` or `sync`.
        tool: &'static str,
        /// Migration id.
        id: String,
        /// Current step.
        at: Step,
    },
    /// Sync before double-write.
    #[error(
        "double-write must be live first, or rows written after the sync are missed: {id} is at {at}; ship double-write and `attrmig advance {id}` to 3 double-write"
    )]
    SyncBeforeDoubleWrite {
        /// Migration id.
        id: String,
        /// Current step.
        at: Step,
    },
    /// Another runner holds the lease.
    #[error(
        "another {what} is running for {id}: held by {holder} until {} (it expires if its holder dies)",
        ts(expires_at)
    )]
    LeaseHeld {
        /// `sync`.
        what: &'static str,
        /// Migration id.
        id: String,
        /// The holder.
        holder: String,
        /// When the lease lapses unless renewed.
        expires_at: DateTime<Utc>,
    },
    /// A DDL step at the wrong time.
    #[error("`ddl {statement} --apply` is refused {when}: {id} is at {at}")]
    DdlNotNow {
        /// Which DDL.
        statement: &'static str,
        /// When it is allowed, in words.
        when: &'static str,
        /// Migration id.
        id: String,
        /// Current position.
        at: Position,
    },
    /// A batched drop-old (JSON, EAV) stopped mid-way.
    #[error(
        "a batched drop-old of {id} started at {} by {actor} stopped mid-way; run `attrmig ddl {id} drop-old --apply` again: it goes on from its checkpoint",
        ts(started_at)
    )]
    BatchedDropUnfinished {
        /// Migration id.
        id: String,
        /// Who started it.
        actor: String,
        /// When.
        started_at: DateTime<Utc>,
    },
    /// A side effect was started and not finished (DDL is not transactional everywhere).
    #[error(
        "an earlier `{what}` started at {} by {actor} did not finish; check the database by hand, then `attrmig ddl {id} --resolve-intent {intent} --note \"what you found\"`",
        ts(started_at)
    )]
    UnfinishedIntent {
        /// Migration id.
        id: String,
        /// Intent number.
        intent: i64,
        /// What was being done.
        what: String,
        /// Who.
        actor: String,
        /// When.
        started_at: DateTime<Utc>,
    },

    // --- evidence ---------------------------------------------------------------------
    /// The audit log does not verify, so it is no evidence and nothing may extend it.
    #[error(
        "the audit log of {id} is broken: {chain}. attrmig adds nothing to a broken log (nothing was written); {}",
        chain.remedy(id)
    )]
    ChainBroken {
        /// Migration id.
        id: String,
        /// Where the chain first goes wrong.
        chain: ChainBreak,
    },
    /// A sampled cross-check compared fewer keys than it was asked to.
    #[error(
        "cross-check run {run} compared {compared} of the {} its sample promised{}, so it is no evidence; run `attrmig cross-check {id}` (every key), or a sample no larger than old storage",
        counted(*promised, "key", "keys"),
        if *promised == 0 { "; a sample needs at least one key" } else { "" }
    )]
    IncompleteCrossCheck {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
        /// Keys it compared.
        compared: u64,
        /// Keys its sample was asked for.
        promised: u64,
    },

    // --- keys -------------------------------------------------------------------------
    /// A key column that does not name one row.
    #[error(
        "{role} key `{}` is not unique: {}; a key must name one row, or the sync writes one row's value over another's and the cross-check counts a key twice; {todo}",
        qualified_key(table, key),
        real_key_words(real_key)
    )]
    NotUnique {
        /// `old` or `new`.
        role: &'static str,
        /// Table name.
        table: String,
        /// The planned key: `id`, or `(tenant_id, id)`.
        key: String,
        /// The table's primary key columns, empty when it has none.
        real_key: Vec<String>,
        /// What to do.
        todo: String,
    },
    /// EAV entities with more than one row of the attribute.
    #[error(
        "{keys} {} of `{table}` {} more than one `{name}` row ({} {}{}): the sync can't tell which holds the value (on PostgreSQL the batch fails, elsewhere one row wins at random); delete the extra rows, then a unique key on ({columns}) keeps them out",
        if *keys == 1 { "entity" } else { "entities" },
        if *keys == 1 { "has" } else { "have" },
        if first.len() == 1 { "key" } else { "keys" },
        first.join(", "),
        if *keys > first.len() as u64 { ", …" } else { "" }
    )]
    DuplicateAttributeRows {
        /// The EAV table.
        table: String,
        /// The attribute's name.
        name: String,
        /// Its key and name columns: `user_id, name`.
        columns: String,
        /// How many entities.
        keys: u64,
        /// The first of them, by key.
        first: Vec<String>,
    },
    /// A view did not count EAV duplicates.
    #[error(
        "not counted yet whether an entity has more than one `{name}` row: that reads every `{name}` row of `{table}`, which `status` and `show` don't; `attrmig advance` counts them (a unique key on ({columns}) would rule them out)"
    )]
    DuplicatesNotCounted {
        /// The EAV table.
        table: String,
        /// The attribute's name.
        name: String,
        /// Its key and name columns: `user_id, name`.
        columns: String,
    },
    // --- fences (a tool that may no longer write, and what blocks retiring the tools) --
    /// Advancing to 8 (or past it) while a tool holds its lease.
    #[error("{}", tools_running(id, tools, *lease_ttl))]
    ToolsRunning {
        /// Migration id.
        id: String,
        /// Every live lease.
        tools: Vec<RunningTool>,
        /// How long a lease lasts after its runner stops renewing it.
        #[serde(with = "secs")]
        lease_ttl: Duration,
    },
    /// A running tool found the migration at 8 or later, or abandoned.
    #[error(
        "{id} {} while this {tool} ran: it stopped and wrote nothing more (the tools retire at 8 delete-tools; its earlier batches stand)",
        match at { Position::At(step) => format!("reached {step}"), Position::Abandoned { at } => format!("was abandoned at {at}") }
    )]
    OutlivedStep {
        /// `sync`, `data-issues --retry`.
        tool: &'static str,
        /// Migration id.
        id: String,
        /// Where the migration is.
        at: Position,
    },
    /// A running tool's lease is no longer its own.
    #[error(
        "this {tool} lost its lease on {id}{}: it stopped and wrote nothing more (its earlier batches stand); {}",
        now_held_by.as_deref().map(|h| format!(" to {h}")).unwrap_or_default(),
        if now_held_by.is_some() { "the other runner carries on".to_owned() } else { again(tool, id) }
    )]
    LeaseLost {
        /// `sync`, `data-issues --retry`.
        tool: &'static str,
        /// Migration id.
        id: String,
        /// Who holds the lease now, if anyone.
        now_held_by: Option<String>,
    },
    // --- the fleet (attrmig-app reports) --------------------------------------------
    /// An observed migration whose application has no live instance.
    #[error(
        "no instance of the application reported in the last {} ({gone} instance(s) reported before and are gone); [fleet] observed = true gates this step on the reports: start the application with attrmig-app or a client of docs/app.md's protocol (`attrmig fleet {id}` lists what reported)",
        human_duration(*ttl)
    )]
    FleetSilent {
        /// Migration id.
        id: String,
        /// `[fleet] instance_ttl`.
        ttl: Duration,
        /// Instances whose last report is older than that.
        gone: usize,
    },
    /// Live instances don't apply the mode the step needs.
    #[error(
        "{} live instance(s) {need}, so {step} can't be entered: {}; an instance applies the migration's step within its refresh interval unless it is pinned, can't read the state database, or runs a release without attrmig-app (`attrmig fleet {id}` lists them)",
        instances.len(), list(instances)
    )]
    FleetLagging {
        /// Migration id.
        id: String,
        /// The step being entered.
        step: Step,
        /// What they do that holds it back, in words: `still write old storage only`.
        need: &'static str,
        /// The instances.
        instances: Vec<InstanceSummary>,
    },
    /// The counted sync pass started before the whole fleet wrote both storages.
    #[error(
        "sync pass {pass} started {}, before the whole fleet wrote both storages ({}, when {} was the last to): rows written meanwhile by an instance still writing old only can be missing in new; run `attrmig sync {id}` for a new pass, then a full cross-check",
        ts(started_at),
        ts(fleet_since),
        last
    )]
    SyncBeforeFleetDoubleWrote {
        /// Migration id.
        id: String,
        /// The pass.
        pass: i64,
        /// When it started.
        started_at: DateTime<Utc>,
        /// Since when every instance writes both.
        fleet_since: DateTime<Utc>,
        /// The instance that was last to.
        last: Box<InstanceSummary>,
    },
    /// The fleet did not compare enough reads in the step before.
    #[error(
        "the fleet compared {compared} read(s) in {step} since it was reached, fewer than [fleet] min_compared_reads = {need}; let it serve reads longer (per live instance: {})",
        per_instance.join(", ")
    )]
    TooFewComparedReads {
        /// Migration id.
        id: String,
        /// The step the reads were compared in.
        step: Step,
        /// Compared reads.
        compared: u64,
        /// Required.
        need: u64,
        /// `web-1: 120` for each live instance.
        per_instance: Vec<String>,
    },
    /// Too many compared reads still disagreed when read again.
    #[error(
        "{mismatches} of {compared} compared read(s) in {step} disagreed also when read again (rate {rate:.6}, [fleet] max_mismatch_rate = {max}): a bug in the double-write or in a read, not a race; sample keys: {}; reported by: {}; fix the application, repair what it wrote to new storage with `attrmig sync {id}` (old storage is still written by every instance), then `attrmig rollback {id} --reason \"...\"` and advance again so that the reads are counted afresh",
        if sample_keys.is_empty() { "none kept".to_owned() } else { sample_keys.join(", ") },
        list(instances)
    )]
    MismatchRateTooHigh {
        /// Migration id.
        id: String,
        /// The step the reads were compared in.
        step: Step,
        /// Compared reads.
        compared: u64,
        /// Persistent mismatches.
        mismatches: u64,
        /// Their rate.
        rate: f64,
        /// The limit.
        max: f64,
        /// Keys of sampled mismatches, with the fields that differ.
        sample_keys: Vec<String>,
        /// The instances that reported them.
        instances: Vec<InstanceSummary>,
    },
    /// `[fleet] observed` changed since the last advance and no note says why.
    #[error(
        "plans/{id}.toml switched [fleet] observed from {from} to {to} since the last advance; pass --note \"...\" saying why (it is recorded in the audit log), or restore it"
    )]
    FleetObservationSwitched {
        /// Migration id.
        id: String,
        /// As recorded at the last advance.
        from: bool,
        /// As the plan says now.
        to: bool,
    },
    // --- rows only in new storage (crate::extra) ---------------------------------------
    /// A cross-check found rows only in new storage that no acknowledgement covers.
    #[error(
        "cross-check run {run} found {} only in new storage{}: {}; a plain sync never deletes them. `attrmig sync {id} --delete-extra` removes them (then cross-check again); or, if they may stay, look at them (`attrmig cross-check {id}` lists them) and `attrmig acknowledge-extra {id} --run {run} --note \"why they may stay\"`",
        counted(*extra, "row", "rows"),
        covered_words(*extra, *uncovered, acknowledged_in),
        key_list(keys, *uncovered)
    )]
    ExtraRowsUnacknowledged {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
        /// Rows only in new storage it found.
        extra: u64,
        /// How many of them no acknowledgement covers.
        uncovered: u64,
        /// The first of those, by key.
        keys: Vec<String>,
        /// The audit entries that acknowledge the others.
        acknowledged_in: Vec<i64>,
    },
    /// A run whose report does not name every row only in new storage it found.
    #[error(
        "cross-check run {run} found {} only in new storage and its report names {named}, so they can't be looked at and acknowledged one by one; `attrmig sync {id} --delete-extra` removes them (then cross-check again){}",
        counted(*extra, "row", "rows"),
        if *extra <= crate::extra::MAX_ROWS as u64 {
            format!(", or `attrmig cross-check {id} --max-report {report_needs}` names every one to look at and acknowledge")
        } else {
            format!("; more than {}, they are too many to acknowledge", crate::extra::MAX_ROWS)
        }
    )]
    ExtraRowsUnnamed {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
        /// Rows only in new storage it found.
        extra: u64,
        /// How many its report names.
        named: u64,
        /// The `--max-report` that names them all: every mismatch of the run.
        report_needs: u64,
    },
    /// `acknowledge-extra` with no run to acknowledge.
    #[error(
        "{}",
        match run {
            None => format!("no full cross-check of {id} has finished, so nothing found rows only in new storage to acknowledge: `attrmig cross-check {id}` (every key; a sample never meets them)"),
            Some(run) => format!("cross-check run {run} is not a finished full run of {id} (a sample never meets rows only in new storage): acknowledge one that is, `attrmig cross-check {id}` runs one"),
        }
    )]
    NoRunToAcknowledge {
        /// Migration id.
        id: String,
        /// The run asked for, if one was.
        run: Option<i64>,
    },
    /// `acknowledge-extra` of a run that found no row only in new storage.
    #[error(
        "cross-check run {run} of {id} found no rows only in new storage: nothing to acknowledge, nothing was written"
    )]
    NoExtraRows {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
    },
    /// More rows only in new storage than one acknowledgement records.
    #[error(
        "cross-check run {run} found {extra} rows only in new storage, more than one acknowledgement records (at most {} rows, {} bytes of keys): `attrmig sync {id} --delete-extra` removes them, or fix them by hand and cross-check again",
        crate::extra::MAX_ROWS,
        crate::extra::MAX_EVIDENCE_BYTES
    )]
    TooManyExtraRows {
        /// Migration id.
        id: String,
        /// The run.
        run: i64,
        /// Rows only in new storage it found.
        extra: u64,
    },
    /// `acknowledge-extra` once the guards that count it are behind.
    #[error(
        "{id} is at {at}: an acknowledgement of rows only in new storage serves the guards of 4 sync to 8 delete-tools, which are behind it; nothing was written"
    )]
    AcknowledgeNotNow {
        /// Migration id.
        id: String,
        /// Where it is.
        at: Step,
    },
    /// `sync --delete-extra` on a new table whose rows it may neither delete nor empty.
    #[error(
        "`attrmig sync {id} --delete-extra` can't remove rows only in new storage from `{table}`: deleting a row would take along its other columns ({}), which this migration does not move, and `{table}.{column}` is NOT NULL, so its value can't be emptied instead; remove or fix them by hand, or, if they may stay, `attrmig acknowledge-extra {id} --note \"...\"`",
        others.join(", ")
    )]
    ExtraNotRemovable {
        /// Migration id.
        id: String,
        /// The new table.
        table: String,
        /// The new column.
        column: String,
        /// The table's other columns.
        others: Vec<String>,
    },
}

/// `, 2 of them acknowledged (audit entry 12), not these 1`, or nothing.
fn covered_words(extra: u64, uncovered: u64, entries: &[i64]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let list: Vec<String> = entries.iter().map(ToString::to_string).collect();
    format!(
        " ({} of them acknowledged in audit {} {}; not the {} below: new since, or their value changed)",
        extra - uncovered,
        if entries.len() == 1 {
            "entry"
        } else {
            "entries"
        },
        list.join(", "),
        uncovered
    )
}

/// `key 7`, `keys 7, 9, 12`, `keys 7, 9, … (40 in all)`.
fn key_list(keys: &[String], all: u64) -> String {
    let more = if all > keys.len() as u64 {
        format!(", … ({all} in all)")
    } else {
        String::new()
    };
    format!(
        "{} {}{more}",
        if all == 1 { "key" } else { "keys" },
        keys.join(", ")
    )
}

/// `the table's key is (a, b)`, or that it has none.
/// `users.id`, or `accounts(tenant_id, id)` for a key of several columns.
fn qualified_key(table: &str, key: &str) -> String {
    if key.starts_with('(') {
        format!("{table}{key}")
    } else {
        format!("{table}.{key}")
    }
}

fn real_key_words(real_key: &[String]) -> String {
    if real_key.is_empty() {
        "the table has no primary key".to_owned()
    } else {
        format!("the table's key is ({})", real_key.join(", "))
    }
}

/// What a refusal over text-matched dependents adds: how to vouch for a false match.
fn heuristic_hint(heuristic: bool, what: &str) -> String {
    if heuristic {
        format!(
            "; a text match is a heuristic: if one of them does not in fact use {what}, pass --note naming it and saying why"
        )
    } else {
        String::new()
    }
}

/// ` (ALTER TABLE ...; ALTER TABLE ...)`, or nothing.
fn statements_hint(statements: &[String]) -> String {
    if statements.is_empty() {
        String::new()
    } else {
        format!(" ({})", statements.join("; "))
    }
}

/// How to run a tool that stopped again.
fn again(tool: &str, id: &str) -> String {
    match tool {
        "sync" => {
            format!("`attrmig sync {id}` goes on (an interrupted pass resumes from its checkpoint)")
        }
        "data-issues --retry" => {
            format!("`attrmig data-issues {id} --retry` tries the open issues again")
        }
        _ => format!("`attrmig {tool} {id}` runs it again"),
    }
}

fn tools_running(id: &str, tools: &[RunningTool], ttl: Duration) -> String {
    let each: Vec<String> = tools
        .iter()
        .map(|t| {
            format!(
                "a {} of {id} is running: {} since {} (`kill {}` on {} stops it)",
                t.tool,
                t.holder,
                ts(&t.since),
                t.pid,
                t.host
            )
        })
        .collect();
    format!(
        "{}. The tools retire at 8 delete-tools: let it finish, or stop it; a runner stopped on the machine you advance from is seen gone at once, one stopped elsewhere frees its lease within {} of stopping; then `attrmig advance {id}`",
        each.join("; "),
        human_duration(ttl)
    )
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

fn list(instances: &[InstanceSummary]) -> String {
    instances
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `2026-11-21 17:40:03 UTC`.
/// The refusal of a drop-old that found late writes: how many, which (the first
/// [`crate::facts::LateWrites::NAMED`]), who wrote, and what to do.
fn late_writes_message(id: &str, found: &crate::facts::LateWrites) -> String {
    use std::fmt::Write as _;
    let since = match &found.since {
        Some(at) => format!("since {}", ts(at)),
        None => "since 9 stop-writing-old was reached".to_owned(),
    };
    let mut out = String::new();
    if found.changed > 0 {
        let _ = write!(
            out,
            "{} of old storage written {since}: ",
            counted(found.changed, "key", "keys")
        );
        let named: Vec<String> = found
            .keys
            .iter()
            .map(|k| {
                let mut s = crate::echo::quoted(&k.key);
                match (&k.at, &k.by) {
                    (Some(at), Some(by)) => {
                        let _ = write!(s, " (at {}, by {by})", ts(at));
                    }
                    (Some(at), None) => {
                        let _ = write!(s, " (at {})", ts(at));
                    }
                    (None, Some(by)) => {
                        let _ = write!(s, " (by {by})");
                    }
                    (None, None) => {}
                }
                s
            })
            .collect();
        out.push_str(&named.join(", "));
        if found.changed > found.keys.len() as u64 {
            let _ = write!(out, " and {} more", found.changed - found.keys.len() as u64);
        }
    }
    if found.untraced_ranges > 0 {
        if !out.is_empty() {
            out.push_str("; and ");
        }
        let ranges: Vec<String> = found
            .untraced
            .iter()
            .map(|r| {
                format!(
                    "keys after {} through {}",
                    r.after
                        .as_deref()
                        .map_or("the first".to_owned(), crate::echo::quoted),
                    r.through
                        .as_deref()
                        .map_or("the last".to_owned(), crate::echo::quoted)
                )
            })
            .collect();
        let _ = write!(
            out,
            "{} of old storage changed {since} with no write logged (a writer that bypassed the trigger): {}",
            counted(found.untraced_ranges, "key range", "key ranges"),
            ranges.join(", ")
        );
        if found.untraced_ranges > found.untraced.len() as u64 {
            let _ = write!(
                out,
                " and {} more",
                found.untraced_ranges - found.untraced.len() as u64
            );
        }
    }
    let _ = write!(
        out,
        ". Something still writes old storage, and those values may be missing in new: find and stop that writer, copy each value that must survive into new storage, then run `attrmig ddl {id} drop-old --apply --accept-late-writes {} --note \"...\"` saying what was done (the token stands for exactly these writes; another one changes it)",
        found.token
    );
    out
}

pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A duration for people, in its two largest non-zero units: `6d 23h`, `4m 10s`, `0s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.subsec_millis();
        return if ms > 0 {
            format!("{ms}ms")
        } else {
            "0s".into()
        };
    }
    let components = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    components
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `1 mismatch`, `2 mismatches`: a count and its noun, singular for one.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A time still to wait, for people: [`human_duration`]'s two largest units, rounded up
/// in the smaller one so that it never says less than is left: 1.5 s is `2s`, 0.3 s
/// `1s`, 6d 23h 30m `7d`.
pub fn human_duration_left(d: Duration) -> String {
    const UNITS: [u64; 4] = [86_400, 3_600, 60, 1];
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    // The smaller of the two units shown: the unit after the largest one that fits.
    let largest = UNITS.iter().position(|u| secs >= *u).unwrap_or(3);
    let step = UNITS[(largest + 1).min(3)];
    human_duration(Duration::from_secs(secs.div_ceil(step) * step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(0)), "0s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(42)), "42s");
        assert_eq!(human_duration(Duration::from_secs(250)), "4m 10s");
        assert_eq!(
            human_duration(Duration::from_secs(7 * 86_400 - 1)),
            "6d 23h"
        );
        assert_eq!(human_duration(Duration::from_secs(86_400 + 300)), "1d 5m");
    }

    /// What is left is never said to be less than it is: "1s to go" only when at most a
    /// second is left, and a wait of 6d 23h 30m is not "6d 23h".
    #[test]
    fn time_to_go_is_never_understated() {
        let to_go = |soak: Duration, elapsed: Duration| {
            let text = Refusal::SoakNotElapsed {
                step: Step::DoubleReadOld,
                elapsed,
                soak,
            }
            .to_string();
            let (_, rest) = text.split_once("so far; ").unwrap();
            rest.trim_end_matches(" to go (guards.soak)").to_owned()
        };
        let ms = Duration::from_millis;
        let hour = 3_600_000;
        assert_eq!(to_go(ms(10_000), ms(8_500)), "2s");
        assert_eq!(to_go(ms(10_000), ms(9_000)), "1s");
        assert_eq!(to_go(ms(10_000), ms(9_700)), "1s");
        assert_eq!(to_go(ms(10_000), ms(0)), "10s");
        assert_eq!(to_go(ms(168 * hour), ms(hour / 2)), "7d");
        assert_eq!(to_go(ms(168 * hour), ms(hour)), "6d 23h");
        assert_eq!(to_go(ms(2 * hour), ms(1_500)), "2h");
        assert_eq!(to_go(ms(hour + 90_000), ms(500)), "1h 2m");
    }

    /// A count of one is singular: "1 mismatch", not "1 mismatches".
    #[test]
    fn one_of_a_thing_is_singular() {
        let found = |missing_in_new, differs| {
            Refusal::Mismatches {
                run: 3,
                counts: Counts {
                    matching: 5,
                    missing_in_new,
                    extra_in_new: 0,
                    differs,
                },
                todo: "then".into(),
            }
            .to_string()
        };
        assert_eq!(
            found(0, 1),
            "cross-check run 3 found 1 mismatch (0 missing in new, 0 extra in new, 1 differs); then"
        );
        assert_eq!(
            found(1, 2),
            "cross-check run 3 found 3 mismatches (1 missing in new, 0 extra in new, 2 differ); then"
        );
        let short = Refusal::IncompleteCrossCheck {
            id: "m".into(),
            run: 2,
            compared: 0,
            promised: 1,
        };
        assert!(
            short
                .to_string()
                .starts_with("cross-check run 2 compared 0 of the 1 key its sample promised"),
            "{short}"
        );
        let issues = |count| Refusal::UnresolvedDataIssues {
            id: "m".into(),
            count,
        };
        assert!(
            issues(1)
                .to_string()
                .starts_with("1 data issue unresolved: ")
        );
        assert!(
            issues(2)
                .to_string()
                .starts_with("2 data issues unresolved: ")
        );
        let approvals = |have, need| Refusal::NotEnoughApprovals {
            id: "m".into(),
            actor: "alice".into(),
            have,
            need,
            own_ignored: false,
        };
        assert!(
            approvals(0, 1)
                .to_string()
                .starts_with("0 of 1 approval from people other than alice")
        );
        assert!(
            approvals(1, 2)
                .to_string()
                .starts_with("1 of 2 approvals from people other than alice")
        );
    }

    #[test]
    fn a_fenced_tool_says_where_the_migration_went_and_what_next() {
        let at = |at| Refusal::OutlivedStep {
            tool: "sync",
            id: "m".into(),
            at,
        };
        assert!(
            at(Position::At(Step::StopWritingOld))
                .to_string()
                .starts_with("m reached 9 stop-writing-old while this sync ran: it stopped and wrote nothing more")
        );
        assert!(
            at(Position::Abandoned { at: Step::Sync })
                .to_string()
                .starts_with("m was abandoned at 4 sync while this sync ran")
        );
        let lost = |tool, now_held_by: Option<&str>| {
            Refusal::LeaseLost {
                tool,
                id: "m".into(),
                now_held_by: now_held_by.map(str::to_owned),
            }
            .to_string()
        };
        assert!(lost("sync", Some("bob@h:1")).contains("lost its lease on m to bob@h:1"));
        assert!(lost("sync", Some("bob@h:1")).ends_with("the other runner carries on"));
        assert!(
            lost("data-issues --retry", None)
                .ends_with("`attrmig data-issues m --retry` tries the open issues again")
        );
    }

    #[test]
    fn out_of_order_names_the_next_step() {
        let r = Refusal::OutOfOrder {
            from: Step::DoubleWrite,
            to: Step::DoubleReadOld,
            next: Step::Sync,
        };
        assert_eq!(
            r.to_string(),
            "cannot go from 3 double-write to 5a double-read-old: steps are reached in order; next is 4 sync"
        );
    }
}
