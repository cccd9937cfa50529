//! The fleet as people see it: `attrmig fleet [ID]` (every instance, its mode, since
//! when, pinned, last seen, live or gone, its counts at its current step), and the
//! summary `status` and `show` print (converged, who lags, or which steps are taken on
//! trust when the application is not observed).

use std::collections::BTreeSet;

use attrmig_core::fleet::{Counters, FleetFact, InstanceReport, InstanceSummary, MismatchSample};
use attrmig_core::{Mode, Plan, Position, Step};
use attrmig_store::{fleet, migration};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Engine;
use crate::error::EngineError;

/// `attrmig fleet [ID]`.
#[derive(Debug, Clone, Serialize)]
pub struct FleetView {
    /// One entry per migration with reports (or the one asked for).
    pub migrations: Vec<MigrationFleet>,
}

/// One migration's fleet.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationFleet {
    /// Migration id.
    pub id: String,
    /// Where the migration stands.
    pub position: Position,
    /// The summary `status` and `show` print.
    pub summary: FleetSummary,
    /// Every instance that reported, live first, newest report first.
    pub instances: Vec<InstanceView>,
}

/// One instance's latest report.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    /// Who, where, which step, pinned, last seen, live.
    #[serde(flatten)]
    pub summary: InstanceSummary,
    /// The mode it applies, in words.
    pub mode: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// The migration's step as it last read it.
    pub seen_step: Option<Step>,
    /// The migration's version as it last read it.
    pub seen_version: Option<i64>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its counts at the step it applies now.
    pub counters: Counters,
    /// Its recent persistent mismatches.
    pub mismatches: Vec<MismatchSample>,
}

/// Whether the application is observed, and if so whether its live instances all apply
/// the current step's mode.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    /// `[fleet] observed` (`None`: no valid plan to say).
    pub observed: Option<bool>,
    /// Instances that reported within `instance_ttl`.
    pub live: usize,
    /// Instances whose last report is older.
    pub gone: usize,
    /// Every live instance applies the current step's mode (and at least one is live).
    pub converged: bool,
    /// Live instances that apply another mode.
    pub lagging: Vec<InstanceSummary>,
    /// For an application that is not observed: the steps whose application part is
    /// taken on trust, and what is trusted.
    pub on_trust: Vec<String>,
}

impl FleetSummary {
    /// A migration whose application is not observed and has no reports.
    pub fn not_observed() -> FleetSummary {
        FleetSummary {
            observed: Some(false),
            live: 0,
            gone: 0,
            converged: false,
            lagging: Vec::new(),
            on_trust: ON_TRUST.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// What is taken on trust for a migration whose application is not observed.
pub const ON_TRUST: [&str; 5] = [
    "3 double-write: that every writer writes both storages (a note says where it shipped)",
    "4 sync: that the sync pass started after every writer wrote both",
    "5b, 6: that the double read agrees (only the soak and cross-checks are checked)",
    "7 prepare-old-stop: that nothing reads old storage any more",
    "10 drop-old: that nothing writes old storage (the step-9 fingerprint still catches late writes)",
];

/// The mode the fleet must apply at `position`.
fn mode_at(position: Position) -> Mode {
    match position {
        Position::At(step) => Mode::at(step),
        Position::Abandoned { .. } => Mode::at(Step::Planned),
    }
}

/// The summary of `reports` at `position`, as of `now`.
pub(crate) fn summarize(
    plan: Option<&Plan>,
    position: Position,
    reports: Vec<InstanceReport>,
    now: DateTime<Utc>,
) -> (FleetSummary, FleetFact) {
    let ttl = plan.map_or(
        attrmig_core::plan::FleetSettings::default().instance_ttl,
        |p| p.fleet.instance_ttl,
    );
    let fact = FleetFact {
        now,
        instance_ttl: ttl,
        instances: reports,
    };
    let mode = mode_at(position);
    let live = fact.live().count();
    let lagging = fact.holding_back(|m| m == mode);
    let observed = plan.map(|p| p.fleet.observed);
    let summary = FleetSummary {
        observed,
        live,
        gone: fact.instances.len() - live,
        converged: live > 0 && lagging.is_empty(),
        lagging,
        on_trust: if observed == Some(false) {
            ON_TRUST.iter().map(|s| (*s).to_owned()).collect()
        } else {
            Vec::new()
        },
    };
    (summary, fact)
}

fn instance_view(fact: &FleetFact, r: &InstanceReport) -> InstanceView {
    InstanceView {
        summary: fact.summary(r),
        mode: r.mode().describe(),
        since: r.since,
        seen_step: r.seen_step,
        seen_version: r.seen_version,
        started_at: r.started_at,
        counters: r.current_counters(),
        mismatches: r.mismatches.clone(),
    }
}

impl MigrationFleet {
    /// The view of one migration's `reports` at `position`, as of `now`: every instance,
    /// live first, newest report first. `plan` says how long an instance counts as live
    /// and whether the application is observed (`None`: the defaults, and unknown).
    pub fn of(
        id: String,
        plan: Option<&Plan>,
        position: Position,
        reports: Vec<InstanceReport>,
        now: DateTime<Utc>,
    ) -> MigrationFleet {
        let (summary, fact) = summarize(plan, position, reports, now);
        let mut instances: Vec<InstanceView> = fact
            .instances
            .iter()
            .map(|r| instance_view(&fact, r))
            .collect();
        instances.sort_by(|a, b| {
            (
                !a.summary.live,
                std::cmp::Reverse(a.summary.last_seen),
                &a.summary.id,
            )
                .cmp(&(
                    !b.summary.live,
                    std::cmp::Reverse(b.summary.last_seen),
                    &b.summary.id,
                ))
        });
        MigrationFleet {
            id,
            position,
            summary,
            instances,
        }
    }
}

impl Engine {
    /// The fleet summary of one migration, for `status` and `show`.
    pub(crate) fn fleet_summary(
        &mut self,
        plan: Option<&Plan>,
        id: &str,
        position: Position,
    ) -> Result<FleetSummary, EngineError> {
        let reports = fleet::reports(self.session.state(), id)?;
        Ok(summarize(plan, position, reports, attrmig_core::audit::now()).0)
    }

    /// `attrmig fleet [ID]`: every instance of every migration that has reports, or of
    /// the one asked for.
    pub fn fleet(&mut self, id: Option<&str>) -> Result<FleetView, EngineError> {
        let ids: Vec<String> = match id {
            Some(id) => {
                self.record(id)?;
                vec![id.to_owned()]
            }
            None => fleet::all_reports(self.session.state())?
                .into_iter()
                .map(|r| r.migration_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        let now = attrmig_core::audit::now();
        let mut migrations = Vec::new();
        for id in ids {
            let position = migration::get(self.session.state(), &id)?
                .map_or(Position::At(Step::Planned), |r| r.position);
            let plan = self.project.load_plan(&id).ok().flatten();
            let reports = fleet::reports(self.session.state(), &id)?;
            migrations.push(MigrationFleet::of(
                id,
                plan.as_ref(),
                position,
                reports,
                now,
            ));
        }
        Ok(FleetView { migrations })
    }
}
