//! Read-only views: `status` (every migration), `show` (one migration's ladder and the
//! guards of its next step), `mode` (what the application must do now).

use std::collections::BTreeSet;

use attrmig_core::audit::{AuditEntry, counted_approvals};
use attrmig_core::dependents::Dependent;
use attrmig_core::facts::{ApprovalFact, Counts};
use attrmig_core::guards::{self, GuardCheck};
use attrmig_core::{EntryKind, Mode, Plan, Position, Read, Step};
use attrmig_store::cross_checks::{self, CheckStatus};
use attrmig_store::{MigrationRecord, approvals, audit, migration};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::EngineError;
use crate::fleet::FleetSummary;
use crate::observe::{Depth, Intent, STALE_AFTER};
use crate::{Engine, Verification};

/// One line of `attrmig status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// Migration id.
    pub id: String,
    /// Where it stands.
    pub position: Position,
    /// The step `advance` would reach.
    pub next: Option<Step>,
    /// Failing guards of the next step (name and why).
    pub blocked_by: Vec<Blocker>,
    /// The latest cross-check, whatever its status.
    pub last_cross_check: Option<LastCheck>,
    /// Owners from the plan.
    pub owners: Vec<String>,
    /// Plan missing or invalid.
    pub problem: Option<String>,
    /// Whether the audit chain verifies: a broken one blocks every change.
    pub audit_log: Verification,
    /// The application's instances: observed or not, converged, who lags.
    pub fleet: Option<FleetSummary>,
}

/// A failing guard.
#[derive(Debug, Clone, Serialize)]
pub struct Blocker {
    /// Guard name.
    pub guard: &'static str,
    /// Why, and what to do.
    pub why: String,
}

/// The latest cross-check of a migration.
#[derive(Debug, Clone, Serialize)]
pub struct LastCheck {
    /// Run number.
    pub run: i64,
    /// Full or sample.
    pub full: bool,
    /// Status.
    pub status: CheckStatus,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Counts.
    pub counts: Counts,
}

/// Where one rung of the ladder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RungState {
    /// Reached before the current step.
    Reached,
    /// The current step.
    Current,
    /// The step `advance` would reach.
    Next,
    /// Not reached yet.
    Later,
}

/// One step of `show`'s ladder.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    /// The step.
    pub step: Step,
    /// Its number (`5a`).
    pub number: &'static str,
    /// What reaching it means.
    pub meaning: &'static str,
    /// Its state.
    pub state: RungState,
    /// When it was last reached by an advance.
    pub reached_at: Option<DateTime<Utc>>,
    /// By whom.
    pub by: Option<String>,
}

/// `attrmig show ID`.
#[derive(Debug, Clone, Serialize)]
pub struct Show {
    /// Migration id.
    pub id: String,
    /// The plan's description.
    pub description: String,
    /// Owners.
    pub owners: Vec<String>,
    /// `users.full_name`.
    pub old: String,
    /// `users_pii.full_name`.
    pub new: String,
    /// Where it stands.
    pub position: Position,
    /// Its version (number of audit entries).
    pub version: i64,
    /// What the application must do now.
    pub mode: ModeView,
    /// Every step.
    pub ladder: Vec<Rung>,
    /// The next step.
    pub next: Option<Step>,
    /// The guards of the next step.
    pub guards: Vec<GuardCheck>,
    /// Approvals of the point of no return that count: before 9, those given since the
    /// latest rollback; from 9 on, those the advance to 9 counted.
    pub approvals: Vec<ApprovalFact>,
    /// From 9 on, the approvals the advance to 9 did not count (the own approval of
    /// whoever advanced), each with why.
    pub approvals_not_counted: Vec<UncountedApproval>,
    /// Whether the audit chain verifies: a broken one blocks every change.
    pub audit_log: Verification,
    /// What the database itself does with old storage (views, triggers, indexes...),
    /// observed now.
    pub dependents: Vec<Dependent>,
    /// The application's instances: observed or not (and then what is taken on trust),
    /// converged, who lags.
    pub fleet: FleetSummary,
}

/// An approval that did not count, and why.
#[derive(Debug, Clone, Serialize)]
pub struct UncountedApproval {
    /// Who approved.
    pub approver: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why it did not count.
    pub why: String,
}

/// `attrmig mode ID`: what the application must do at the current step.
#[derive(Debug, Clone, Serialize)]
pub struct ModeView {
    /// Migration id.
    pub id: String,
    /// The current step.
    pub step: Step,
    /// Abandoned migrations go back to old-only.
    pub abandoned: bool,
    /// Write old storage.
    pub write_old: bool,
    /// Write new storage.
    pub write_new: bool,
    /// What to read.
    pub read: Read,
    /// Read both and compare.
    pub compare: bool,
    /// `old` or `new`: whose value callers get.
    pub serve: &'static str,
    /// One line for people.
    pub summary: String,
}

impl ModeView {
    fn new(id: &str, position: Position) -> ModeView {
        // An abandoned migration is back to how it started: old only.
        let (step, abandoned) = match position {
            Position::At(step) => (step, false),
            Position::Abandoned { at } => (at, true),
        };
        let mode = if abandoned {
            Mode::at(Step::Planned)
        } else {
            Mode::at(step)
        };
        ModeView {
            id: id.to_owned(),
            step,
            abandoned,
            write_old: mode.write_old,
            write_new: mode.write_new,
            read: mode.read,
            compare: mode.reads_old() && mode.reads_new(),
            serve: mode.serves(),
            summary: mode.describe(),
        }
    }
}

fn planned(id: &str) -> MigrationRecord {
    migration::unregistered(id, attrmig_core::audit::now())
}

impl Engine {
    /// Every migration: those with a plan and those recorded in the store.
    pub fn status(&mut self) -> Result<Vec<StatusRow>, EngineError> {
        let mut ids: BTreeSet<String> = self.project.plan_ids()?.into_iter().collect();
        ids.extend(
            migration::all(self.session.state())?
                .into_iter()
                .map(|m| m.id),
        );
        ids.into_iter().map(|id| self.status_row(&id)).collect()
    }

    fn status_row(&mut self, id: &str) -> Result<StatusRow, EngineError> {
        let record = migration::get(self.session.state(), id)?.unwrap_or_else(|| planned(id));
        let last_cross_check = self.last_check(id)?;
        let audit_log = self.verify_log(id)?;
        let mut row = StatusRow {
            id: id.to_owned(),
            position: record.position,
            next: record.position.next(),
            blocked_by: Vec::new(),
            last_cross_check,
            owners: Vec::new(),
            problem: None,
            audit_log,
            fleet: None,
        };
        let plan = match self.project.load_plan(id) {
            Ok(Some(plan)) => match self.spelled(plan) {
                Ok(plan) => plan,
                Err(e) => {
                    row.problem = Some(e.to_string());
                    return Ok(row);
                }
            },
            Ok(None) => {
                row.problem = Some(format!(
                    "plan missing: {}",
                    self.project.display_path(&self.project.plan_path(id))
                ));
                return Ok(row);
            }
            Err(e) => {
                row.problem = Some(format!("plan invalid: {e}"));
                return Ok(row);
            }
        };
        row.owners = plan.owners.clone();
        row.fleet = Some(self.fleet_summary(Some(&plan), id, record.position)?);
        if let Some(next) = row.next {
            row.blocked_by = self
                .next_guards(&plan, &record, next)?
                .into_iter()
                .filter_map(|c| {
                    c.verdict.err().map(|r| Blocker {
                        guard: c.name,
                        why: r.to_string(),
                    })
                })
                .collect();
        }
        Ok(row)
    }

    fn last_check(&mut self, id: &str) -> Result<Option<LastCheck>, EngineError> {
        cross_checks::reconcile(
            self.session.state(),
            id,
            attrmig_core::audit::now() - STALE_AFTER,
        )?;
        Ok(cross_checks::recent(self.session.state(), id, 1)?
            .into_iter()
            .next()
            .map(|r| LastCheck {
                run: r.run,
                full: r.full,
                status: r.status,
                started_at: r.started_at,
                finished_at: r.finished_at,
                counts: r.counts,
            }))
    }

    fn next_guards(
        &mut self,
        plan: &Plan,
        record: &MigrationRecord,
        next: Step,
    ) -> Result<Vec<GuardCheck>, EngineError> {
        // A view shows what can be read; `audit_log` says when something can't.
        let (log, _) = audit::readable_log(self.session.state(), &record.id)?;
        let facts = self.observe(
            plan,
            record,
            &log,
            next,
            &Intent::default(),
            attrmig_core::audit::now(),
            Depth::View,
        )?;
        Ok(guards::evaluate(next, plan, &facts))
    }

    /// One migration: its ladder, and the guards of its next step as they stand now.
    pub fn show(&mut self, id: &str) -> Result<Show, EngineError> {
        let (plan, record) = self.lookup(id)?;
        let Some(plan) = plan else {
            let at = record
                .map(|r| r.position)
                .unwrap_or(Position::At(Step::Planned));
            return Err(attrmig_core::Refusal::PlanMissing {
                id: id.to_owned(),
                at,
            }
            .into());
        };
        let record = record.unwrap_or_else(|| planned(id));
        let (log, _) = audit::readable_log(self.session.state(), id)?;
        let current = record.position.step();
        let next = record.position.next();
        let ladder = Step::ALL
            .into_iter()
            .map(|step| {
                let reached = log
                    .iter()
                    .rev()
                    .map(|(e, _)| e)
                    .find(|e| e.kind == EntryKind::Advance && e.to_step == step);
                let state = if step == current {
                    RungState::Current
                } else if step < current {
                    RungState::Reached
                } else if Some(step) == next {
                    RungState::Next
                } else {
                    RungState::Later
                };
                let (reached_at, by) = match (state, reached) {
                    (RungState::Reached | RungState::Current, Some(e)) => {
                        (Some(e.at), Some(e.actor.clone()))
                    }
                    (RungState::Current, None) if step == Step::Planned => {
                        (Some(record.created_at), None)
                    }
                    _ => (None, None),
                };
                Rung {
                    step,
                    number: step.number(),
                    meaning: step.meaning(),
                    state,
                    reached_at,
                    by,
                }
            })
            .collect();
        let guards = match next {
            Some(next) => self.next_guards(&plan, &record, next)?,
            None => Vec::new(),
        };
        let dependents = attrmig_db::dependents::of(self.session.app(), &plan.old)?;
        let history = audit::history(&log);
        let rows = approvals::rows(self.session.state(), id)?;
        let current: Vec<ApprovalFact> = counted_approvals(&log, &rows)
            .into_iter()
            .filter(|a| history.last_rollback.is_none_or(|r| a.at > r))
            .collect();
        let (approvals, approvals_not_counted) = as_counted_at_nine(&log, current);
        let audit_log = self.verify_log(id)?;
        let fleet = self.fleet_summary(Some(&plan), id, record.position)?;
        Ok(Show {
            fleet,
            id: id.to_owned(),
            description: plan.description.clone(),
            owners: plan.owners.clone(),
            old: plan.old.describe(),
            new: plan.new.describe(),
            position: record.position,
            version: record.version,
            mode: ModeView::new(id, record.position),
            ladder,
            next,
            guards,
            approvals,
            approvals_not_counted,
            audit_log,
            dependents,
        })
    }

    /// What the application must do now.
    pub fn mode(&mut self, id: &str) -> Result<ModeView, EngineError> {
        let record = self.record(id)?;
        let position = record.map_or(Position::At(Step::Planned), |r| r.position);
        Ok(ModeView::new(id, position))
    }
}

/// The approvals as the advance to 9 counted them, once 9 is reached: the approvers its
/// guard's evidence names count, any other (the own approval of whoever advanced) did
/// not. Before 9, every approval since the latest rollback is listed as counting: who
/// advances, and so whose own approval is left out, is not known yet.
fn as_counted_at_nine(
    log: &[(AuditEntry, String)],
    approvals: Vec<ApprovalFact>,
) -> (Vec<ApprovalFact>, Vec<UncountedApproval>) {
    let Some((nine, _)) = log
        .iter()
        .rev()
        .find(|(e, _)| e.kind == EntryKind::Advance && e.to_step == Step::StopWritingOld)
    else {
        return (approvals, Vec::new());
    };
    let evidence: serde_json::Value = serde_json::from_str(&nine.evidence).unwrap_or_default();
    let approvers: Vec<&str> = evidence["guards"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["name"] == "approvals")
        .and_then(|g| g["evidence"]["approvers"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .collect();
    let (counted, not): (Vec<_>, Vec<_>) = approvals
        .into_iter()
        .filter(|a| a.at <= nine.at)
        .partition(|a| approvers.contains(&a.approver.as_str()));
    let not = not
        .into_iter()
        .map(|a| UncountedApproval {
            why: if a.approver == nine.actor {
                "who advanced to 9: one's own approval does not count".to_owned()
            } else {
                "not counted by the advance to 9".to_owned()
            },
            approver: a.approver,
            at: a.at,
        })
        .collect();
    (counted, not)
}
