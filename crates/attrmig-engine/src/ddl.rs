//! `attrmig ddl ID STEP [--apply]`: print the DDL of steps 1, 7 and 10, or apply it.
//!
//! Applying is announced as an intent in the store first and closed after, because DDL is
//! not transactional everywhere (MySQL commits it implicitly): a process killed in between
//! leaves an open intent, and attrmig refuses to go on until a person has looked.
//! `drop-old` first refuses while something in the database stands in the way of the
//! drop (a view, a trigger, a foreign key: named, before anything runs, never dropped
//! with CASCADE), then compares old storage with the fingerprint taken at step 9;
//! `prepare-old-stop` refuses a column of the primary key.

use attrmig_core::audit::now;
use attrmig_core::dependents::DependentKind;
use attrmig_core::guards;
use attrmig_core::plan::OldStorage;
use attrmig_core::{EntryKind, Position, Refusal, Step};
use attrmig_store::audit::NewEntry;
use attrmig_store::{FingerprintChange, intents, migration};
use attrmig_tools::ddl::{self, DdlReport};
use attrmig_tools::drop_batches::{self, Progress};
use attrmig_tools::{Layout, fingerprint, late_log};
use serde::Serialize;
use serde_json::json;

use crate::Engine;
use crate::error::EngineError;
use crate::transition::Moved;

/// What `ddl` did.
#[derive(Debug, Clone, Serialize)]
pub struct DdlOutcome {
    /// Migration id.
    pub id: String,
    /// The statements.
    pub ddl: DdlReport,
    /// They were executed.
    pub applied: bool,
    /// For drop-old: what the comparison with the step-9 fingerprint found (clean when
    /// applied).
    pub late_writes: Option<attrmig_core::facts::LateWrites>,
    /// The audit entry recording the application.
    pub entry: Option<Moved>,
}

/// What a batched drop-old's intent says: a run that died with it open goes on from its
/// checkpoint when `ddl drop-old --apply` runs again.
pub(crate) const BATCHED_DROP: &str = "ddl drop-old in batches";

/// When `--apply` is allowed, by step.
fn allowed(step: Step, position: Position) -> Result<(), &'static str> {
    let Position::At(at) = position else {
        return Err("for an abandoned migration");
    };
    match step {
        Step::PrepareStorage if at == Step::Planned => Ok(()),
        Step::PrepareStorage => Err("once 1 prepare-storage is reached (the new storage exists)"),
        Step::PrepareOldStop if at < Step::DropOld => Ok(()),
        Step::PrepareOldStop => Err("once old storage is dropped"),
        Step::DropOld if at == Step::StopWritingOld => Ok(()),
        Step::DropOld if at < Step::StopWritingOld => Err("until 9 stop-writing-old is reached"),
        Step::DropOld => Err("once 10 drop-old is reached (old storage is gone)"),
        _ => Err("for this step"),
    }
}

impl Engine {
    /// Prints, or with `apply` runs and records, the DDL of `step`. `note` (recorded with
    /// the statements) may vouch for dependents found by a text match only, by naming
    /// them.
    pub fn ddl(
        &mut self,
        id: &str,
        step: Step,
        apply: bool,
        note: Option<&str>,
    ) -> Result<DdlOutcome, EngineError> {
        self.ddl_accepting(id, step, apply, note, None)
    }

    /// [`Engine::ddl`], where drop-old may go on despite late writes: exactly those the
    /// token of its refusal stands for (`--accept-late-writes`), with a note saying what
    /// was done with them.
    pub fn ddl_accepting(
        &mut self,
        id: &str,
        step: Step,
        apply: bool,
        note: Option<&str>,
        accept_late_writes: Option<&str>,
    ) -> Result<DdlOutcome, EngineError> {
        self.ddl_with(id, step, apply, note, accept_late_writes, &mut |_| {})
    }

    /// [`Engine::ddl_accepting`], telling `progress` after each batch of a batched
    /// drop-old (JSON and EAV old storage).
    pub fn ddl_with(
        &mut self,
        id: &str,
        step: Step,
        apply: bool,
        note: Option<&str>,
        accept_late_writes: Option<&str>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DdlOutcome, EngineError> {
        if apply
            && step == Step::DropOld
            && let Some(open) = intents::unfinished(self.session.state(), id)?
            && open.what == BATCHED_DROP
        {
            return self.resume_batched_drop(id, open.intent, note, progress);
        }
        let (plan, record) = if apply {
            let (plan, record) = self.for_change(id)?;
            (plan, Some(record))
        } else {
            let (plan, record) = self.lookup(id)?;
            let plan = plan.ok_or_else(|| Refusal::PlanMissing {
                id: id.to_owned(),
                at: record
                    .as_ref()
                    .map_or(Position::At(Step::Planned), |r| r.position),
            })?;
            (plan, record)
        };
        let layout = Layout::resolve(self.session.app(), &plan)?;
        let dependents = attrmig_db::dependents::of(self.session.app(), &plan.old)?;
        let ddl = ddl::plan(&layout, step, &dependents)?;
        let mut outcome = DdlOutcome {
            id: id.to_owned(),
            ddl: ddl.report(),
            applied: false,
            late_writes: None,
            entry: None,
        };
        let Some(record) = record.filter(|_| apply) else {
            return Ok(outcome);
        };
        if let Err(when) = allowed(step, record.position) {
            return Err(Refusal::DdlNotNow {
                statement: step.id(),
                when,
                id: id.to_owned(),
                at: record.position,
            }
            .into());
        }
        // A database's own error is never the first a user hears of a dependent.
        match step {
            Step::DropOld => {
                guards::drop_obstacles(
                    &plan,
                    &dependents,
                    note,
                    &format!("run `attrmig ddl {id} drop-old --apply` again"),
                )?;
            }
            Step::PrepareOldStop if !ddl.statements.is_empty() => {
                if let Some(key) = dependents
                    .iter()
                    .find(|d| d.kind == DependentKind::PrimaryKey)
                {
                    return Err(Refusal::OldColumnInPrimaryKey {
                        what: plan.old.describe(),
                        key: key.describe(),
                    }
                    .into());
                }
            }
            _ => {}
        }
        if step == Step::DropOld {
            // With an observed fleet, writes before the whole fleet applied 9 are
            // expected traffic; and dropping old storage while an instance still writes
            // it breaks its writes.
            let mut after = None;
            if plan.fleet.observed {
                let fleet = crate::observe::fleet_fact(self.session.state(), &plan, now())?;
                let facts = attrmig_core::Facts {
                    fleet: Some(fleet.clone()),
                    ..attrmig_core::Facts::new(
                        now(),
                        self.actor.clone(),
                        attrmig_core::facts::PlanFingerprint {
                            recorded: None,
                            current: String::new(),
                        },
                    )
                };
                let check = attrmig_core::guards::fleet_stopped_writing_old(&plan, &facts);
                if let Err(refusal) = check.verdict {
                    return Err(refusal.into());
                }
                after = crate::observe::fleet_stopped_writing_old_at(&plan, Some(&fleet));
            }
            let mut found = fingerprint::check(&mut self.session.conns(), &layout, after)?;
            if found.since.is_none() {
                let log = attrmig_store::audit::log(self.session.state(), id)?;
                found.since = crate::observe::reached_9_at(&log);
            }
            outcome.late_writes = Some(found.clone());
            let noted = note.is_some_and(|n| !n.trim().is_empty());
            let accepted = accept_late_writes.is_some_and(|t| t == found.token) && noted;
            if !found.is_clean() && !accepted {
                if accept_late_writes.is_some_and(|t| t == found.token) {
                    return Err(Refusal::LateWritesAcceptedWithoutNote {
                        id: id.to_owned(),
                        token: found.token,
                    }
                    .into());
                }
                return Err(Refusal::LateWrites {
                    id: id.to_owned(),
                    found: Box::new(found),
                }
                .into());
            }
        }
        if ddl.statements.is_empty() {
            return Ok(outcome);
        }
        if step == Step::DropOld && !matches!(plan.old, OldStorage::Column { .. }) {
            let intent = intents::begin(
                self.session.state(),
                id,
                BATCHED_DROP,
                &outcome.ddl.statements.join(";\n"),
                &self.actor,
                now(),
            )?;
            // The trigger first: it would log the drop's own writes.
            if let Err(e) = late_log::remove(self.session.app(), &layout) {
                intents::finish(self.session.state(), id, intent, "failed", now())?;
                return Err(e.into());
            }
            return self.batched_drop(
                id,
                intent,
                &plan,
                &layout,
                None,
                outcome,
                &dependents,
                note,
                progress,
            );
        }
        let statements = outcome.ddl.statements.join(";\n");
        let at = now();
        let intent = intents::begin(
            self.session.state(),
            id,
            &format!("ddl {}", step.id()),
            &statements,
            &self.actor,
            at,
        )?;
        if let Err(e) = ddl::apply(self.session.app(), &ddl) {
            intents::finish(self.session.state(), id, intent, "failed", now())?;
            return Err(e.into());
        }
        // The statements ran; record them. The intent closes only after the audit entry,
        // so a crash in between leaves it open for a person to check.
        let record = migration::get(self.session.state(), id)?.unwrap_or(record);
        let entry = NewEntry {
            kind: EntryKind::Ddl,
            to: record.position,
            actor: self.actor.clone(),
            note: note.map(str::to_owned),
            evidence: json!({
                "ddl": step.id(),
                "applied": true,
                "statements": outcome.ddl.statements,
                "took_along": outcome.ddl.takes_along,
                "dependents": dependents,
                "late_writes": outcome.late_writes,
                "intent": intent,
            }),
            fingerprint: FingerprintChange::Keep,
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        intents::finish(self.session.state(), id, intent, "done", now())?;
        outcome.applied = true;
        outcome.entry = Some(Moved::new(&written, record.position));
        Ok(outcome)
    }

    /// A batched drop-old whose run was killed: it goes on from its checkpoint. Its
    /// late-write check passed when it began (and its trigger is gone); each batch is
    /// idempotent, so the one in flight when it died is simply done again.
    fn resume_batched_drop(
        &mut self,
        id: &str,
        intent: i64,
        note: Option<&str>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DdlOutcome, EngineError> {
        let (plan, record) = self.lookup(id)?;
        let plan = plan.ok_or_else(|| Refusal::PlanMissing {
            id: id.to_owned(),
            at: record
                .as_ref()
                .map_or(Position::At(Step::Planned), |r| r.position),
        })?;
        let layout = Layout::resolve(self.session.app(), &plan)?;
        let dependents = attrmig_db::dependents::of(self.session.app(), &plan.old)?;
        let ddl = ddl::plan(&layout, Step::DropOld, &dependents)?;
        let outcome = DdlOutcome {
            id: id.to_owned(),
            ddl: ddl.report(),
            applied: false,
            late_writes: None,
            entry: None,
        };
        let start = match intents::checkpoint_of(self.session.state(), id, intent)? {
            Some((Some(key), _)) => Some(layout.parse_key(&key)?),
            _ => None,
        };
        self.batched_drop(
            id,
            intent,
            &plan,
            &layout,
            start,
            outcome,
            &dependents,
            note,
            progress,
        )
    }

    /// Runs the batches of a JSON or EAV drop-old after `start`, checkpointing each with
    /// `intent`, then records the drop and closes the intent.
    #[allow(clippy::too_many_arguments)]
    fn batched_drop(
        &mut self,
        id: &str,
        intent: i64,
        plan: &attrmig_core::Plan,
        layout: &Layout,
        start: Option<attrmig_tools::sql::Key>,
        mut outcome: DdlOutcome,
        dependents: &[attrmig_core::dependents::Dependent],
        note: Option<&str>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DdlOutcome, EngineError> {
        let resumed = start.is_some();
        let previous =
            intents::checkpoint_of(self.session.state(), id, intent)?.map_or(0, |(_, rows)| rows);
        let done = drop_batches::run(
            &mut self.session.conns(),
            layout,
            start,
            plan.sync.batch_size,
            plan.sync.max_rows_per_second,
            &mut |conns, p| {
                let rows = previous + i64::try_from(p.rows).unwrap_or(i64::MAX);
                intents::checkpoint(conns.state(), id, intent, p.through.as_deref(), rows)?;
                progress(p);
                Ok(())
            },
        )?;
        let record = migration::get(self.session.state(), id)?.ok_or_else(|| {
            EngineError::UnknownMigration {
                id: id.to_owned(),
                plan: self.project.plan_path(id),
            }
        })?;
        let entry = NewEntry {
            kind: EntryKind::Ddl,
            to: record.position,
            actor: self.actor.clone(),
            note: note.map(str::to_owned),
            evidence: json!({
                "ddl": Step::DropOld.id(),
                "applied": true,
                "statements": outcome.ddl.statements,
                "in_batches": { "batch_size": plan.sync.batch_size, "resumed": resumed, "rows_this_run": done.rows },
                "dependents": dependents,
                "late_writes": outcome.late_writes,
                "intent": intent,
            }),
            fingerprint: FingerprintChange::Keep,
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        intents::finish(self.session.state(), id, intent, "done", now())?;
        outcome.applied = true;
        outcome.entry = Some(Moved::new(&written, record.position));
        Ok(outcome)
    }

    /// Closes an intent left open by a process that died mid-DDL, after a person checked
    /// the database by hand; recorded in the audit log.
    pub fn resolve_intent(
        &mut self,
        id: &str,
        intent: i64,
        note: &str,
    ) -> Result<Moved, EngineError> {
        let (_, record) = self.lookup(id)?;
        let record = record.ok_or_else(|| EngineError::UnknownMigration {
            id: id.to_owned(),
            plan: self.project.plan_path(id),
        })?;
        let open = intents::unfinished(self.session.state(), id)?;
        if open.as_ref().map(|o| o.intent) != Some(intent) {
            return Err(EngineError::NoSuchIntent {
                id: id.to_owned(),
                intent,
                open: open.map(|o| o.intent),
            });
        }
        let entry = NewEntry {
            kind: EntryKind::Ddl,
            to: record.position,
            actor: self.actor.clone(),
            note: Some(note.to_owned()),
            evidence: json!({ "resolved_intent": intent }),
            fingerprint: FingerprintChange::Keep,
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        intents::finish(self.session.state(), id, intent, "resolved", now())?;
        Ok(Moved::new(&written, record.position))
    }
}
