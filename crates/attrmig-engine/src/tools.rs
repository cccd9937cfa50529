//! Running the tools for a migration: `cross-check`, `sync`, `data-issues --retry`.
//!
//! The engine decides whether a tool may run at the migration's step; the tools crate
//! does the work. Both tools are "deleted" at step 8: from there on they refuse, because
//! after step 9 a sync would copy stale old values over new ones. The tools check again
//! themselves: taking their lease, and in every batch behind their lease's fence
//! (`attrmig_tools::lease`), so that a tool that started at 7 stops at 8.

use attrmig_core::{Plan, Position, Refusal, Step};
use attrmig_store::data_issues::{self, DataIssue};
use attrmig_tools::sync::{self, Event, Summary};
use attrmig_tools::{Layout, crosscheck};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Engine;
use crate::error::EngineError;

/// `attrmig cross-check`.
#[derive(Debug, Clone)]
pub struct CrossCheckRequest {
    /// Migration id.
    pub id: String,
    /// `--sample N`.
    pub sample: Option<u64>,
    /// `--batch-size`; [`crosscheck::DEFAULT_BATCH`] otherwise.
    pub batch_size: Option<u32>,
    /// `--max-report`.
    pub max_report: usize,
}

/// `attrmig sync`.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Migration id.
    pub id: String,
    /// `--batch-size`; the plan's otherwise.
    pub batch_size: Option<u32>,
    /// `--max-rows-per-second`; the plan's otherwise (0 is unthrottled).
    pub max_rows_per_second: Option<u32>,
    /// `--restart`.
    pub restart: bool,
    /// `--delete-extra`: after the copy, remove the rows only in new storage.
    pub delete_extra: bool,
}

/// A finished sync pass, with when double-write went live for comparison.
#[derive(Debug, Clone, Serialize)]
pub struct SyncOutcome {
    /// Migration id.
    pub id: String,
    /// What the pass did.
    #[serde(flatten)]
    pub summary: Summary,
    /// When 3 double-write was last reached.
    pub double_write_at: Option<DateTime<Utc>>,
}

/// `attrmig data-issues --retry`.
#[derive(Debug, Clone, Serialize)]
pub struct RetryOutcome {
    /// Migration id.
    pub id: String,
    /// Keys now in new storage.
    pub fixed: Vec<String>,
    /// Issues still open, with their latest error.
    pub open: Vec<DataIssue>,
}

impl Engine {
    /// A plan and the step it is at, for a tool; refused when abandoned or retired, or
    /// when the audit log is broken (then the step the tool is allowed at is no evidence:
    /// a step set back by hand from 9 would re-arm the sync over newer values).
    fn for_tool(&mut self, id: &str, tool: &'static str) -> Result<(Plan, Step), EngineError> {
        let (plan, record) = self.lookup(id)?;
        self.refuse_broken_log(id)?;
        let position = record.map_or(Position::At(Step::Planned), |r| r.position);
        let plan = plan.ok_or_else(|| Refusal::PlanMissing {
            id: id.to_owned(),
            at: position,
        })?;
        match position {
            Position::Abandoned { at } => Err(Refusal::Abandoned { at }.into()),
            Position::At(at) if at.tools_retired() => Err(Refusal::ToolRetired {
                tool,
                id: id.to_owned(),
                at,
            }
            .into()),
            Position::At(at) => Ok((plan, at)),
        }
    }

    /// Compares old and new, and records the run.
    pub fn cross_check(
        &mut self,
        req: &CrossCheckRequest,
        progress: &mut dyn crosscheck::Progress,
    ) -> Result<crosscheck::Report, EngineError> {
        if req.sample == Some(0) {
            return Err(EngineError::EmptySample);
        }
        let (plan, step) = self.for_tool(&req.id, "cross-check")?;
        let layout = Layout::resolve(self.session.app(), &plan)?;
        let opts = crosscheck::Options {
            sample: req.sample,
            batch_size: req.batch_size.unwrap_or(crosscheck::DEFAULT_BATCH),
            max_report: req.max_report,
            lookahead: Some(self.session.app_url().clone()),
        };
        let actor = self.actor.clone();
        Ok(crosscheck::run(
            &mut self.session.conns(),
            &layout,
            step,
            &actor,
            &opts,
            progress,
        )?)
    }

    fn for_sync(&mut self, id: &str) -> Result<(Plan, Step), EngineError> {
        let (plan, step) = self.for_tool(id, "sync")?;
        if step < Step::DoubleWrite {
            return Err(Refusal::SyncBeforeDoubleWrite {
                id: id.to_owned(),
                at: step,
            }
            .into());
        }
        Ok((plan, step))
    }

    /// Runs or resumes a sync pass to the end.
    pub fn sync(
        &mut self,
        req: &SyncRequest,
        on: &mut dyn FnMut(&Event),
    ) -> Result<SyncOutcome, EngineError> {
        let (plan, step) = self.for_sync(&req.id)?;
        let layout = Layout::resolve(self.session.app(), &plan)?;
        let opts = sync::Options {
            batch_size: req.batch_size.unwrap_or(plan.sync.batch_size),
            max_rows_per_second: match req.max_rows_per_second {
                Some(0) => None,
                Some(n) => Some(n),
                None => plan.sync.max_rows_per_second,
            },
            restart: req.restart,
            holder: sync::holder_name(&self.actor),
            lookahead: Some(self.session.app_url().clone()),
            delete_extra: req.delete_extra,
        };
        let summary = sync::run(&mut self.session.conns(), &layout, step, &opts, on)?;
        let log = attrmig_store::audit::log(self.session.state(), &req.id)?;
        let double_write_at = attrmig_store::audit::history(&log)
            .reached
            .get(&Step::DoubleWrite)
            .copied();
        Ok(SyncOutcome {
            id: req.id.clone(),
            summary,
            double_write_at,
        })
    }

    /// The migration's data issues (unresolved first).
    pub fn data_issues(
        &mut self,
        id: &str,
        include_resolved: bool,
    ) -> Result<Vec<DataIssue>, EngineError> {
        let (plan, _) = self.lookup(id)?;
        let mut issues = data_issues::list(self.session.state(), id, include_resolved)?;
        // In key order where the keys' type is known (the store orders them as text);
        // after old storage is gone, as stored.
        if let Some(layout) = plan.and_then(|p| Layout::resolve(self.session.app(), &p).ok()) {
            in_key_order(&layout, &mut issues);
        }
        Ok(issues)
    }

    /// Re-drives every open data issue, holding the sync lease meanwhile; each key is
    /// fenced as a sync batch is (`attrmig_tools::sync::retry`).
    pub fn retry_data_issues(&mut self, id: &str) -> Result<RetryOutcome, EngineError> {
        let (plan, _) = self.for_sync(id)?;
        let layout = Layout::resolve(self.session.app(), &plan)?;
        let holder = sync::holder_name(&self.actor);
        let retried = sync::retry(&mut self.session.conns(), &layout, holder)?;
        let mut open = data_issues::list(self.session.state(), id, false)?;
        in_key_order(&layout, &mut open);
        Ok(RetryOutcome {
            id: id.to_owned(),
            fixed: retried.fixed,
            open,
        })
    }
}

/// Issues in key order (unresolved first), as the tools walk keys: `2` before `10`.
fn in_key_order(layout: &Layout, issues: &mut [DataIssue]) {
    issues.sort_by_cached_key(|i| (i.resolved_at.is_some(), layout.parse_key(&i.key).ok()));
}
