//! Commands that move a migration or record an act: advance, rollback, abandon, approve.
//! Each is one compare-and-swap plus one audit entry (`attrmig_store::audit::append`).

use attrmig_core::audit::{AuditEntry, now};
use attrmig_core::guards::{self, GuardCheck};
use attrmig_core::{Command, EntryKind, Position, Refusal, Step, decide};
use attrmig_store::audit::{self, NewEntry};
use attrmig_store::{Conns, FingerprintChange, MigrationRecord, approvals};
use attrmig_tools::{Layout, fingerprint, late_log};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::Engine;
use crate::error::EngineError;
use crate::observe::{Depth, Intent, refuse_running_tools};

/// `attrmig advance`.
#[derive(Debug, Clone)]
pub struct AdvanceRequest {
    /// Migration id.
    pub id: String,
    /// `--to`: must be the next step; `None` means the next step.
    pub to: Option<Step>,
    /// Note and confirmation.
    pub intent: Intent,
    /// Evaluate the guards, write nothing.
    pub dry_run: bool,
}

/// The outcome of an advance that passed its guards.
#[derive(Debug, Clone, Serialize)]
pub struct Advanced {
    /// Migration id.
    pub id: String,
    /// From.
    pub from: Step,
    /// To.
    pub to: Step,
    /// Every guard of `to`.
    pub guards: Vec<GuardCheck>,
    /// Nothing was written.
    pub dry_run: bool,
    /// The audit entry written (not on a dry run).
    pub entry: Option<Moved>,
}

/// An audit entry as reported after a command.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    /// The migration's version after it.
    pub version: i64,
    /// Kind.
    pub kind: EntryKind,
    /// From.
    pub from: Step,
    /// Position after it.
    pub position: Position,
    /// Who.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Its hash.
    pub hash: String,
    /// Evidence recorded.
    pub evidence: serde_json::Value,
}

impl Moved {
    pub(crate) fn new(entry: &AuditEntry, position: Position) -> Moved {
        Moved {
            version: entry.version,
            kind: entry.kind,
            from: entry.from_step,
            position,
            actor: entry.actor.clone(),
            at: entry.at,
            hash: entry.compute_hash(),
            evidence: serde_json::from_str(&entry.evidence).unwrap_or(serde_json::Value::Null),
        }
    }
}

fn evidence_of(checks: &[GuardCheck]) -> serde_json::Value {
    let guards: Vec<_> = checks
        .iter()
        .filter_map(|c| {
            c.verdict
                .as_ref()
                .ok()
                .map(|p| json!({ "name": c.name, "detail": p.detail, "evidence": p.evidence }))
        })
        .collect();
    json!({ "guards": guards })
}

impl Engine {
    /// Reaches the next step if every guard passes.
    pub fn advance(&mut self, req: &AdvanceRequest) -> Result<Advanced, EngineError> {
        let (plan, record) = self.for_change(&req.id)?;
        let at = now();
        let to = match req.to {
            Some(to) => to,
            None => match record.position {
                Position::Abandoned { at } => return Err(Refusal::Abandoned { at }.into()),
                Position::At(step) => step.next().ok_or(Refusal::Complete)?,
            },
        };
        let log = audit::log(self.session.state(), &req.id)?;
        if record.position == Position::At(to) {
            // Asked for where it already is: most likely someone else got there first.
            let by = log
                .iter()
                .rev()
                .find(|(e, _)| e.kind == EntryKind::Advance && e.to_step == to);
            return Err(Refusal::AlreadyAt {
                id: req.id.clone(),
                at: to,
                by: by.map(|(e, _)| e.actor.clone()),
            }
            .into());
        }
        let transition = decide(record.position, &Command::Advance { to })?;
        let facts = self.observe(&plan, &record, &log, to, &req.intent, at, Depth::Thorough)?;
        let checks = guards::evaluate(to, &plan, &facts);
        if checks.iter().any(|c| !c.passed()) {
            return Err(EngineError::Blocked {
                id: req.id.clone(),
                to,
                checks,
            });
        }
        if req.dry_run {
            return Ok(Advanced {
                id: req.id.clone(),
                from: transition.from,
                to,
                guards: checks,
                dry_run: true,
                entry: None,
            });
        }
        let entry = NewEntry {
            kind: EntryKind::Advance,
            to: transition.to,
            actor: self.actor.clone(),
            note: req.intent.note.clone(),
            evidence: evidence_of(&checks),
            fingerprint: if to == Step::PrepareStorage {
                FingerprintChange::Set(plan.storage_fingerprint())
            } else {
                FingerprintChange::Keep
            },
        };
        // The point of no return: the late-write trigger goes on old storage first (DDL,
        // which MySQL commits at once, so outside the transaction), then old storage is
        // fingerprinted in the transaction, so that any later write to it is both logged
        // and seen before old storage is dropped.
        if to == Step::DropOld {
            // Old storage is gone (the guards saw to it); a late-write trigger left on its
            // table by a drop outside attrmig would fail every write that fires it.
            if let Ok(layout) = Layout::resolve(self.session.app(), &plan) {
                late_log::remove(self.session.app(), &layout)?;
            }
        }
        let layout = match to {
            Step::StopWritingOld => {
                let layout = Layout::resolve(self.session.app(), &plan)?;
                late_log::install(self.session.app(), &layout)?;
                Some(layout)
            }
            _ => None,
        };
        let written = self.append(&record, entry, at, |conns, entry| {
            if to.tools_retired() {
                refuse_running_tools(conns.state(), &plan, at)?;
            }
            if let Some(layout) = &layout {
                let summary = fingerprint::take(conns, layout)?;
                entry.evidence["old_fingerprint"] = json!(summary);
                entry.evidence["late_write_log"] = json!(late_log::names(layout).table.as_str());
            }
            Ok(())
        });
        let written = match (written, &layout) {
            (Ok(written), _) => written,
            (Err(e), Some(layout)) => {
                // Not at 9 after all (someone else moved it, a guard of the transaction
                // refused): the trigger would log the double-write for nothing. Unless
                // another advance got there first, which needs it.
                let at_9 = attrmig_store::migration::get(self.session.state(), &req.id)?
                    .is_some_and(|r| r.position == Position::At(Step::StopWritingOld));
                if !at_9 {
                    late_log::remove(self.session.app(), layout)?;
                }
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        };
        Ok(Advanced {
            id: req.id.clone(),
            from: transition.from,
            to,
            guards: checks,
            dry_run: false,
            entry: Some(Moved::new(&written, transition.to)),
        })
    }

    /// Returns one step, with a reason.
    pub fn rollback(&mut self, id: &str, reason: &str) -> Result<Moved, EngineError> {
        let (_, record) = self.for_change(id)?;
        let transition = decide(record.position, &Command::Rollback { reason })?;
        let entry = NewEntry {
            kind: EntryKind::Rollback,
            to: transition.to,
            actor: self.actor.clone(),
            note: Some(reason.to_owned()),
            evidence: json!({ "tools_rearmed": transition.from == Step::DeleteTools }),
            // Back at 0 the plan may change again; step 1 records it anew.
            fingerprint: if transition.to == Position::At(Step::Planned) {
                FingerprintChange::Clear
            } else {
                FingerprintChange::Keep
            },
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        Ok(Moved::new(&written, transition.to))
    }

    /// Gives the migration up, with a reason.
    pub fn abandon(&mut self, id: &str, reason: &str) -> Result<Moved, EngineError> {
        let (_, record) = self.for_change(id)?;
        let transition = decide(record.position, &Command::Abandon { reason })?;
        let entry = NewEntry {
            kind: EntryKind::Abandon,
            to: transition.to,
            actor: self.actor.clone(),
            note: Some(reason.to_owned()),
            evidence: json!({}),
            fingerprint: FingerprintChange::Keep,
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        Ok(Moved::new(&written, transition.to))
    }

    /// Records the actor's approval of the point of no return.
    pub fn approve(&mut self, id: &str, note: Option<String>) -> Result<Moved, EngineError> {
        let (_, record) = self.for_change(id)?;
        match record.position {
            Position::Abandoned { at } => return Err(Refusal::Abandoned { at }.into()),
            Position::At(step) if step.past_point_of_no_return() => {
                return Err(Refusal::PastPointOfNoReturn {
                    action: "approve",
                    at: step,
                }
                .into());
            }
            Position::At(_) => {}
        }
        let at = now();
        let entry = NewEntry {
            kind: EntryKind::Approve,
            to: record.position,
            actor: self.actor.clone(),
            note,
            evidence: json!({ "approves": Step::StopWritingOld.id() }),
            fingerprint: FingerprintChange::Keep,
        };
        let version = record.version + 1;
        let written = self.append(&record, entry, at, |conns, entry| {
            approvals::record(conns.state(), id, version, &entry.actor, at)?;
            Ok(())
        })?;
        Ok(Moved::new(&written, record.position))
    }

    /// Appends an audit entry on the state connection; `hook` sees both databases.
    pub(crate) fn append(
        &mut self,
        record: &MigrationRecord,
        entry: NewEntry,
        at: DateTime<Utc>,
        hook: impl FnOnce(&mut Conns<'_>, &mut NewEntry) -> Result<(), EngineError>,
    ) -> Result<AuditEntry, EngineError> {
        match self.session.conns() {
            Conns::Shared(conn) => audit::append(conn, record, entry, at, |c, e| {
                hook(&mut Conns::Shared(c), e)
            }),
            Conns::Split { app, state } => audit::append(state, record, entry, at, |c, e| {
                hook(&mut Conns::Split { app, state: c }, e)
            }),
        }
    }
}
