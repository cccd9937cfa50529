//! Runs attrmig's commands against a project.
//!
//! An [`Engine`] is a located [`Project`], an open [`Session`] and the acting person. Its
//! methods are the commands: each loads what it needs, observes the database, asks the
//! pure core (`attrmig_core`) for a decision, and writes the outcome through the store.
//! Nothing here prints: results are `Serialize` values the CLI renders.

mod acknowledge;
pub mod actor;
mod ddl;
mod error;
mod fleet;
mod log;
mod observe;
mod overview;
pub mod project;
mod session;
mod tools;
mod transition;

pub use ddl::DdlOutcome;
pub use error::EngineError;
pub use fleet::{FleetSummary, FleetView, InstanceView, MigrationFleet, ON_TRUST};
pub use log::{EntryView, LogView, Verification};
pub use observe::{Intent, STALE_AFTER};
pub use overview::{
    Blocker, LastCheck, ModeView, Rung, RungState, Show, StatusRow, UncountedApproval,
};
pub use project::{Project, ProjectOptions};
pub use session::Session;
pub use tools::{CrossCheckRequest, RetryOutcome, SyncOutcome, SyncRequest};
pub use transition::{AdvanceRequest, Advanced, Moved};

use attrmig_core::Plan;
use attrmig_store::{MigrationRecord, intents, migration};

/// A project, its open connections, and who acts.
pub struct Engine {
    /// The project.
    pub project: Project,
    /// Who acts: recorded in the audit log.
    pub actor: String,
    session: Session,
}

impl Engine {
    /// Connects to the project's database (creating the state tables on first use).
    pub fn open(project: Project, actor: String) -> Result<Engine, EngineError> {
        let (app, state) = project.urls()?;
        let session = Session::open(&app, state.as_ref())?;
        Ok(Engine {
            project,
            actor,
            session,
        })
    }

    /// The open connections.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// A migration's plan and record. Unknown when neither exists.
    pub(crate) fn lookup(
        &mut self,
        id: &str,
    ) -> Result<(Option<Plan>, Option<MigrationRecord>), EngineError> {
        let plan = project::require_valid(self.project.load_plan(id))?;
        // The names as the database spells them, for the guards, their evidence and
        // every tool alike (docs/plan-format.md, "Names").
        let plan = plan.map(|p| self.spelled(p)).transpose()?;
        let record = migration::get(self.session.state(), id)?;
        if plan.is_none() && record.is_none() {
            return Err(EngineError::UnknownMigration {
                id: id.to_owned(),
                plan: self.project.plan_path(id),
            });
        }
        Ok((plan, record))
    }

    /// `plan` with its names as the database spells them, for the guards, their
    /// evidence and every tool alike (docs/plan-format.md, "Names"); on SQLite a schema
    /// other than `main` is refused first.
    pub(crate) fn spelled(&mut self, plan: Plan) -> Result<Plan, EngineError> {
        if self.session.app().backend() == attrmig_db::Backend::Sqlite {
            attrmig_core::names::sqlite_schemas(&plan)?;
        }
        Ok(attrmig_db::names::resolve_plan(self.session.app(), &plan)?)
    }

    /// A migration's record, for views that don't need its plan: a missing or invalid
    /// plan must not hide a migration's history. Unknown when there is neither a record
    /// nor a plan file.
    pub(crate) fn record(&mut self, id: &str) -> Result<Option<MigrationRecord>, EngineError> {
        let record = migration::get(self.session.state(), id)?;
        if record.is_none() && !self.project.plan_path(id).is_file() {
            return Err(EngineError::UnknownMigration {
                id: id.to_owned(),
                plan: self.project.plan_path(id),
            });
        }
        Ok(record)
    }

    /// A migration that is about to change: its valid plan, and its record (registered
    /// now if it was only planned).
    pub(crate) fn for_change(&mut self, id: &str) -> Result<(Plan, MigrationRecord), EngineError> {
        let (plan, record) = self.lookup(id)?;
        let Some(plan) = plan else {
            let at = record
                .map(|r| r.position)
                .unwrap_or(attrmig_core::Position::At(attrmig_core::Step::Planned));
            return Err(attrmig_core::Refusal::PlanMissing {
                id: id.to_owned(),
                at,
            }
            .into());
        };
        // Not registered yet: the first audit entry registers it, in its own transaction.
        let record =
            record.unwrap_or_else(|| migration::unregistered(id, attrmig_core::audit::now()));
        self.refuse_broken_log(id)?;
        self.refuse_open_intent(id)?;
        Ok((plan, record))
    }

    /// Refuses while a side effect announced earlier was never closed.
    fn refuse_open_intent(&mut self, id: &str) -> Result<(), EngineError> {
        if let Some(open) = intents::unfinished(self.session.state(), id)? {
            if open.what == crate::ddl::BATCHED_DROP {
                return Err(attrmig_core::Refusal::BatchedDropUnfinished {
                    id: id.to_owned(),
                    actor: open.actor,
                    started_at: open.started_at,
                }
                .into());
            }
            return Err(attrmig_core::Refusal::UnfinishedIntent {
                id: id.to_owned(),
                intent: open.intent,
                what: open.what,
                actor: open.actor,
                started_at: open.started_at,
            }
            .into());
        }
        Ok(())
    }
}
