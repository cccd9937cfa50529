//! `attrmig acknowledge-extra`: a person who looked at the rows only in new storage a full
//! cross-check found records, with a note, that they may stay. One audit entry (kind
//! `acknowledge`), whose evidence names the run and every row it acknowledges, each by its
//! key and a digest of its value ([`attrmig_core::extra`]); the guards of 4 to 8 count it
//! for exactly those rows.

use attrmig_core::audit::now;
use attrmig_core::extra::{self, ExtraRow};
use attrmig_core::facts::CrossCheckFact;
use attrmig_core::{EntryKind, Position, Refusal};
use attrmig_store::audit::NewEntry;
use attrmig_store::{FingerprintChange, cross_checks};

use crate::Engine;
use crate::error::EngineError;
use crate::transition::Moved;

impl Engine {
    /// Records that the rows only in new storage found by cross-check run `run` (the
    /// latest full one if `None`) may stay, because `note`.
    pub fn acknowledge_extra(
        &mut self,
        id: &str,
        run: Option<i64>,
        note: &str,
    ) -> Result<Moved, EngineError> {
        let (_, record) = self.for_change(id)?;
        match record.position {
            Position::Abandoned { at } => return Err(Refusal::Abandoned { at }.into()),
            Position::At(at) if at.tools_retired() => {
                return Err(Refusal::AcknowledgeNotNow {
                    id: id.to_owned(),
                    at,
                }
                .into());
            }
            Position::At(_) => {}
        }
        let runs = cross_checks::finished(self.session.state(), id)?;
        let chosen = match run {
            Some(n) => runs.iter().find(|r| r.run == n && r.full),
            None => runs.iter().find(|r| r.full),
        }
        .ok_or_else(|| Refusal::NoRunToAcknowledge {
            id: id.to_owned(),
            run,
        })?;
        let rows = acknowledgeable(id, chosen)?;
        let evidence = extra::evidence(chosen.run, chosen.finished_at, rows);
        if evidence.to_string().len() > extra::MAX_EVIDENCE_BYTES {
            return Err(too_many(id, chosen).into());
        }
        let entry = NewEntry {
            kind: EntryKind::Acknowledge,
            to: record.position,
            actor: self.actor.clone(),
            note: Some(note.to_owned()),
            evidence,
            fingerprint: FingerprintChange::Keep,
        };
        let written = self.append(&record, entry, now(), |_, _| Ok(()))?;
        Ok(Moved::new(&written, record.position))
    }
}

/// The rows of `run` an acknowledgement records: every row only in new storage it found,
/// each named by its report.
fn acknowledgeable<'r>(id: &str, run: &'r CrossCheckFact) -> Result<&'r [ExtraRow], Refusal> {
    let extra = run.counts.extra_in_new;
    if extra == 0 {
        return Err(Refusal::NoExtraRows {
            id: id.to_owned(),
            run: run.run,
        });
    }
    if extra > extra::MAX_ROWS as u64 {
        return Err(too_many(id, run));
    }
    if (run.extra_rows.len() as u64) < extra {
        return Err(Refusal::ExtraRowsUnnamed {
            id: id.to_owned(),
            run: run.run,
            extra,
            named: run.extra_rows.len() as u64,
            report_needs: run.counts.mismatches(),
        });
    }
    Ok(&run.extra_rows)
}

fn too_many(id: &str, run: &CrossCheckFact) -> Refusal {
    Refusal::TooManyExtraRows {
        id: id.to_owned(),
        run: run.run,
        extra: run.counts.extra_in_new,
    }
}
