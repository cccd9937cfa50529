//! Gathering the facts the guards of one step read ([`attrmig_core::guards::needs`]):
//! introspection (the tables, and the database objects that depend on old storage), the
//! state store's runs and approvals, the repository's files.

use attrmig_core::audit::{AuditEntry, counted_approvals};
use attrmig_core::extra::ExtraAcknowledgement;
use attrmig_core::facts::{
    DuplicatesFact, Facts, LateWritesFact, OldStorageFact, PlanFingerprint, RunningTool, TableFact,
};
use attrmig_core::fleet::FleetFact;
use attrmig_core::guards::{FLEET_OBSERVATION, needs};
use attrmig_core::{EntryKind, Plan, Step};
use attrmig_db::AnyConnection;
use attrmig_db::{dependents, introspect};
use attrmig_store::leases::{self, Held};
use attrmig_store::{
    MigrationRecord, approvals, audit, cross_checks, data_issues, fleet, sync_runs,
};
use attrmig_tools::{Layout, duplicates, fingerprint, runner};
use chrono::{DateTime, Utc};

use crate::Engine;
use crate::error::EngineError;

/// A runner whose heartbeat is older than this is dead: its run is `interrupted`.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(120);

/// What the user asked along with the transition.
#[derive(Debug, Clone, Default)]
pub struct Intent {
    /// `--note`.
    pub note: Option<String>,
    /// `--confirm-point-of-no-return`.
    pub confirm_point_of_no_return: bool,
}

/// How much observing may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// For a transition: every fact, even one that reads all of old storage (the
    /// late-write comparison when entering 10).
    Thorough,
    /// For read-only views (`status`, `show`): nothing that scans old storage.
    View,
}

/// `[fleet] observed` as the latest advance recorded it (its guard's evidence); `None`
/// before the first advance. An advance recorded before the guard existed was not
/// observed: the application's steps were taken on trust then.
pub(crate) fn recorded_observation(log: &[(AuditEntry, String)]) -> Option<bool> {
    let (latest, _) = log
        .iter()
        .rev()
        .find(|(e, _)| e.kind == EntryKind::Advance)?;
    let evidence: serde_json::Value = serde_json::from_str(&latest.evidence).unwrap_or_default();
    let guards = evidence["guards"].as_array().cloned().unwrap_or_default();
    Some(
        guards
            .iter()
            .find(|g| g["name"] == FLEET_OBSERVATION)
            .and_then(|g| g["evidence"]["observed"].as_bool())
            .unwrap_or(false),
    )
}

/// Every instance's report on `id`, as of `now`.
pub(crate) fn fleet_fact(
    state: &mut attrmig_db::AnyConnection,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<FleetFact, EngineError> {
    Ok(FleetFact {
        now,
        instance_ttl: plan.fleet.instance_ttl,
        instances: fleet::reports(state, plan.id.as_str())?,
    })
}

/// How long after an instance applied 9 a write of 8's mode may still land: a request
/// that read the mode just before the switch writes old storage just after it.
pub const IN_FLIGHT_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// For an observed fleet: when the whole fleet stopped writing old storage (applied 9),
/// gone instances counting until their last report, plus [`IN_FLIGHT_GRACE`]; writes to
/// old storage before it are expected traffic. `None` when the fleet is not observed, or
/// has not converged (its own guard refuses then).
pub(crate) fn fleet_stopped_writing_old_at(
    plan: &Plan,
    fleet: Option<&FleetFact>,
) -> Option<DateTime<Utc>> {
    if !plan.fleet.observed {
        return None;
    }
    fleet
        .and_then(|f| f.holds_since(|m| !m.write_old))
        .map(|(at, _)| at + IN_FLIGHT_GRACE)
}

/// When 9 stop-writing-old was last reached.
pub(crate) fn reached_9_at(log: &[(AuditEntry, String)]) -> Option<DateTime<Utc>> {
    log.iter()
        .rev()
        .find(|(e, _)| e.kind == EntryKind::Advance && e.to_step == Step::StopWritingOld)
        .map(|(e, _)| e.at)
}

/// Whether a drop of old storage was done by `attrmig ddl drop-old --apply`, which checks
/// the fingerprint first.
pub(crate) fn dropped_by_attrmig(log: &[(AuditEntry, String)]) -> bool {
    log.iter().any(|(e, _)| {
        e.kind == EntryKind::Ddl
            && serde_json::from_str::<serde_json::Value>(&e.evidence)
                .is_ok_and(|v| v["ddl"] == "drop-old" && v["applied"] == true)
    })
}

fn running_tool(held: Held) -> RunningTool {
    RunningTool {
        tool: held.tool,
        holder: held.runner.holder,
        host: held.runner.host,
        pid: held.runner.pid,
        since: held.acquired_at,
        expires_at: held.expires_at,
    }
}

/// The tools that hold a live lease on `id`. A holder provably dead as seen from here
/// (this machine, its PID namespace: `attrmig_tools::runner::is_dead`) is left out and
/// its lease freed, so that stopping a runner on this machine unblocks at once.
pub(crate) fn running_tools(
    state: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<RunningTool>, EngineError> {
    let mut running = Vec::new();
    for held in leases::live(state, id, now, false)? {
        if runner::is_dead(&held.runner) {
            leases::release(state, id, &held.purpose, &held.runner.token)?;
        } else {
            running.push(running_tool(held));
        }
    }
    Ok(running)
}

/// Inside the transaction of an advance to 8 or later, after its compare-and-swap: no
/// tool may hold a lease. Read under a share lock, so that a tool taking its lease now
/// either committed before (and is seen) or waits for this advance (and then refuses to
/// start: the tools are retired). The guard saw the same before; this closes the gap
/// between the guard and the commit.
pub(crate) fn refuse_running_tools(
    state: &mut AnyConnection,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let id = plan.id.as_str();
    let tools: Vec<RunningTool> = leases::live(state, id, now, true)?
        .into_iter()
        .map(running_tool)
        .collect();
    if tools.is_empty() {
        return Ok(());
    }
    Err(attrmig_core::Refusal::ToolsRunning {
        id: id.to_owned(),
        tools,
        lease_ttl: plan.sync.lease_ttl,
    }
    .into())
}

impl Engine {
    /// The facts for entering `entering`, observed now, as deep as `depth` allows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe(
        &mut self,
        plan: &Plan,
        record: &MigrationRecord,
        log: &[(AuditEntry, String)],
        entering: Step,
        intent: &Intent,
        now: DateTime<Utc>,
        depth: Depth,
    ) -> Result<Facts, EngineError> {
        let id = plan.id.as_str();
        let need = needs(entering);
        let mut facts = Facts::new(
            now,
            self.actor.clone(),
            PlanFingerprint {
                recorded: record.storage_fingerprint.clone(),
                current: plan.storage_fingerprint(),
            },
        );
        facts.note = intent.note.clone();
        facts.confirmed_point_of_no_return = intent.confirm_point_of_no_return;
        facts.history = audit::history(log);
        facts.fleet_observed_recorded = recorded_observation(log);
        if need.fleet && plan.fleet.observed {
            facts.fleet = Some(fleet_fact(self.session.state(), plan, now)?);
        }

        if need.new_storage {
            facts.new_storage = Some(introspect::table(self.session.app(), &plan.new.table)?);
        }
        // Resolved at most once, for the facts of entering 10 that read old values.
        let mut layout = None;
        if need.old_storage {
            let table = introspect::table(self.session.app(), plan.old.table())?;
            let attribute_rows_present = if need.old_attribute_rows && table.exists() {
                let resolved = layout.insert(Layout::resolve(self.session.app(), plan)?);
                Some(resolved.old_attribute_present(self.session.app())?)
            } else if need.old_attribute_rows {
                Some(false)
            } else {
                None
            };
            let duplicates = if need.attribute_duplicates {
                self.duplicates(plan, &table, &mut layout, depth)?
            } else {
                None
            };
            facts.old_storage = Some(OldStorageFact {
                table,
                attribute_rows_present,
                duplicates,
            });
        }
        let stale_before = now - STALE_AFTER;
        if need.cross_checks {
            cross_checks::reconcile(self.session.state(), id, stale_before)?;
            facts.cross_checks = Some(cross_checks::finished(self.session.state(), id)?);
            facts.extra_acknowledgements = Some(ExtraAcknowledgement::all(log));
        }
        if need.sync_passes {
            sync_runs::reconcile(self.session.state(), id, stale_before)?;
            facts.sync_passes = Some(sync_runs::facts(self.session.state(), id)?);
        }
        if need.data_issues {
            facts.unresolved_data_issues = Some(data_issues::unresolved(self.session.state(), id)?);
        }
        if need.tool_paths {
            let root = &self.project.root;
            facts.tool_paths_present = Some(
                plan.tools
                    .paths
                    .iter()
                    .filter(|p| root.join(p).exists())
                    .cloned()
                    .collect(),
            );
        }
        if need.approvals {
            // A row counts only with its audit entry: anyone can insert a row.
            let rows = approvals::rows(self.session.state(), id)?;
            facts.approvals = Some(counted_approvals(log, &rows));
        }
        if need.dependents {
            facts.dependents = Some(dependents::of(self.session.app(), &plan.old)?);
        }
        if need.running_tools {
            facts.running_tools = Some(running_tools(self.session.state(), id, now)?);
        }
        if need.late_writes {
            let after = fleet_stopped_writing_old_at(plan, facts.fleet.as_ref());
            facts.late_writes = Some(self.late_writes(
                plan,
                log,
                facts.old_storage.as_ref(),
                layout,
                depth,
                after,
            )?);
        }
        Ok(facts)
    }

    /// For EAV old storage: whether an entity has more than one row of the attribute.
    /// A unique key on (key, name column) rules it out without reading anything; else the
    /// rows are counted, which read-only views don't do. `None` when there is nothing to
    /// count (another kind, or the table or its columns are missing).
    fn duplicates(
        &mut self,
        plan: &Plan,
        table: &TableFact,
        layout: &mut Option<Layout>,
        depth: Depth,
    ) -> Result<Option<DuplicatesFact>, EngineError> {
        let attrmig_core::plan::OldStorage::Eav {
            key, name_column, ..
        } = &plan.old
        else {
            return Ok(None);
        };
        let mut columns = key.names();
        columns.push(name_column.as_str());
        if columns.iter().any(|c| table.column(c).is_none()) {
            return Ok(None);
        }
        if let Some(unique) = table.key_within(&columns) {
            return Ok(Some(DuplicatesFact::RuledOutBy {
                key: unique.to_vec(),
            }));
        }
        if depth == Depth::View {
            return Ok(Some(DuplicatesFact::NotCounted));
        }
        let layout = match layout {
            Some(layout) => layout,
            None => layout.insert(Layout::resolve(self.session.app(), plan)?),
        };
        let (keys, first) = duplicates::attribute_rows(self.session.app(), layout)?;
        Ok(Some(DuplicatesFact::Counted { keys, first }))
    }

    fn late_writes(
        &mut self,
        plan: &Plan,
        log: &[(AuditEntry, String)],
        old: Option<&OldStorageFact>,
        layout: Option<Layout>,
        depth: Depth,
        after: Option<DateTime<Utc>>,
    ) -> Result<LateWritesFact, EngineError> {
        let still_there = match old {
            Some(OldStorageFact {
                table: TableFact::Missing { .. },
                ..
            })
            | None => false,
            Some(OldStorageFact {
                attribute_rows_present: Some(present),
                ..
            }) => *present,
            Some(OldStorageFact {
                table,
                attribute_rows_present: None,
                ..
            }) => match &plan.old {
                attrmig_core::plan::OldStorage::Column { column, .. } => {
                    table.column(column.as_str()).is_some()
                }
                _ => true,
            },
        };
        if still_there && depth == Depth::View {
            return Ok(LateWritesFact::NotCompared);
        }
        if still_there {
            let layout = match layout {
                Some(layout) => layout,
                None => Layout::resolve(self.session.app(), plan)?,
            };
            let mut found = fingerprint::check(&mut self.session.conns(), &layout, after)?;
            found.since = found.since.or_else(|| reached_9_at(log));
            return Ok(LateWritesFact::Compared(found));
        }
        Ok(if dropped_by_attrmig(log) {
            LateWritesFact::VerifiedByDrop
        } else {
            LateWritesFact::Unverified
        })
    }
}
