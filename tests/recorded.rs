//! State written through attrmig's own store, for stories that need a migration further
//! along than a test can walk it (the later steps' guards want soaks, sync passes, clean
//! cross-checks against a live double-write).
//!
//! Every write goes through `attrmig_store`, the functions the engine itself uses: an
//! advance is one compare-and-swap plus one hash-chained audit entry (the fingerprint is
//! recorded at step 1, as `advance` records it), so `log --verify` finds the chain intact.
//! What is skipped is only the guards, which is the point: "a migration recorded at 9".

use attrmig_core::facts::{Counts, SyncStatus};
use attrmig_core::{EntryKind, Plan, Position, Step};
use attrmig_db::AnyConnection;
use attrmig_store::audit::NewEntry;
use attrmig_store::migration::FingerprintChange;
use attrmig_store::{
    StoreError, approvals, audit, cross_checks, data_issues, migration, setup, sync_runs,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::support::TestDb;

/// A connection to a test database's state tables.
pub struct Store {
    conn: AnyConnection,
}

/// A time `hours` before now, at the microsecond precision every backend stores.
pub fn hours_ago(hours: i64) -> DateTime<Utc> {
    attrmig_core::audit::now() - Duration::hours(hours)
}

/// A plan as `attrmig` would read it from `text`.
pub fn plan(id: &str, text: &str) -> Plan {
    attrmig_plan::parse_plan(id, std::path::Path::new("plans/x.toml"), text).expect("a valid plan")
}

impl Store {
    /// Opens the state tables (creating them, as any command would).
    pub fn open(db: &TestDb) -> Store {
        let mut conn = db.connect();
        setup::ensure_schema(&mut conn).expect("create the state tables");
        Store { conn }
    }

    fn record(&mut self, id: &str) -> attrmig_store::MigrationRecord {
        migration::get(&mut self.conn, id)
            .expect("read the migration")
            .unwrap_or_else(|| migration::unregistered(id, attrmig_core::audit::now()))
    }

    /// One audit entry moving `id` to `to`.
    pub fn entry(
        &mut self,
        plan: &Plan,
        kind: EntryKind,
        to: Position,
        actor: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let id = plan.id.as_str();
        let record = self.record(id);
        let fingerprint = match (kind, to) {
            (EntryKind::Advance, Position::At(Step::PrepareStorage)) => {
                FingerprintChange::Set(plan.storage_fingerprint())
            }
            (EntryKind::Rollback, Position::At(Step::Planned)) => FingerprintChange::Clear,
            _ => FingerprintChange::Keep,
        };
        let entry = NewEntry {
            kind,
            to,
            actor: actor.to_owned(),
            note: note.map(str::to_owned),
            evidence: json!({ "written_by": "tests/recorded.rs" }),
            fingerprint,
        };
        audit::append(&mut self.conn, &record, entry, at, |_, _| {
            Ok::<(), StoreError>(())
        })
        .expect("append an audit entry");
    }

    /// Advances `id` one step at a time up to `to`: the first advance at `start`, each next
    /// one `gap` later, alternating between two people.
    pub fn advance_to(&mut self, plan: &Plan, to: Step, start: DateTime<Utc>, gap: Duration) {
        let mut at = start;
        while let Some(next) = self
            .record(plan.id.as_str())
            .position
            .next()
            .filter(|n| *n <= to)
        {
            let actor = if next.index() % 2 == 0 {
                "alice@example.com"
            } else {
                "bob@example.com"
            };
            let note = (next == Step::DoubleWrite).then_some("double-write shipped in release 42");
            self.entry(
                plan,
                EntryKind::Advance,
                Position::At(next),
                actor,
                note,
                at,
            );
            at += gap;
        }
    }

    /// An approval of the point of no return, with its audit entry.
    pub fn approve(&mut self, plan: &Plan, approver: &str, at: DateTime<Utc>) {
        let record = self.record(plan.id.as_str());
        self.entry(
            plan,
            EntryKind::Approve,
            record.position,
            approver,
            None,
            at,
        );
        approvals::record(
            &mut self.conn,
            plan.id.as_str(),
            record.version + 1,
            approver,
            at,
        )
        .expect("record an approval");
    }

    /// What an attrmig that did not check its chain appended after someone edited the
    /// migrations table: an entry from wherever the table says the migration is, hashed and
    /// linked to the last entry, and the table moved to `to`. Written with plain SQL,
    /// because the store's own append now refuses to extend a broken chain.
    pub fn append_unchecked(&mut self, id: &str, kind: EntryKind, to: Position, at: DateTime<Utc>) {
        use diesel::RunQueryDsl;
        use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
        let record = self.record(id);
        let log = audit::log(&mut self.conn, id).expect("read the log");
        let entry = attrmig_core::audit::AuditEntry {
            migration_id: id.to_owned(),
            version: record.version + 1,
            kind,
            from_step: record.position.step(),
            to_step: to.step(),
            actor: "alice@example.com".into(),
            db_user: None,
            at,
            note: Some("walked on by an older attrmig".into()),
            evidence: "{}".into(),
            prev_hash: log
                .last()
                .map_or(attrmig_core::audit::GENESIS.to_owned(), |(_, h)| h.clone()),
        };
        let b = self.conn.backend();
        let p = |n| b.placeholder(n);
        let insert = format!(
            "INSERT INTO attrmig_transitions (migration_id, version, kind, from_step, to_step, actor, at, note, evidence, prev_hash, hash) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(11)
        );
        diesel::sql_query(insert)
            .bind::<Text, _>(id)
            .bind::<BigInt, _>(entry.version)
            .bind::<Text, _>(kind.as_str())
            .bind::<Text, _>(entry.from_step.id())
            .bind::<Text, _>(entry.to_step.id())
            .bind::<Text, _>(&entry.actor)
            .bind::<Timestamp, _>(at.naive_utc())
            .bind::<diesel::sql_types::Nullable<Text>, _>(entry.note.clone())
            .bind::<Text, _>(&entry.evidence)
            .bind::<Text, _>(&entry.prev_hash)
            .bind::<Text, _>(entry.compute_hash())
            .execute(&mut self.conn)
            .expect("insert an audit entry");
        let update = format!(
            "UPDATE attrmig_migrations SET step = {}, abandoned = {}, version = {} WHERE id = {}",
            p(1),
            p(2),
            p(3),
            p(4)
        );
        diesel::sql_query(update)
            .bind::<Text, _>(to.step().id())
            .bind::<Bool, _>(matches!(to, Position::Abandoned { .. }))
            .bind::<BigInt, _>(entry.version)
            .bind::<Text, _>(id)
            .execute(&mut self.conn)
            .expect("move the migration");
    }

    /// A finished cross-check run with these counts.
    pub fn cross_check(&mut self, id: &str, step: Step, counts: Counts, started: DateTime<Utc>) {
        self.cross_check_of(id, step, None, counts, started);
    }

    /// A finished cross-check run, full (`sample` None) or of a sample of that size.
    pub fn cross_check_of(
        &mut self,
        id: &str,
        step: Step,
        sample: Option<u64>,
        counts: Counts,
        started: DateTime<Utc>,
    ) {
        let new = cross_checks::NewRun {
            migration_id: id,
            sample,
            step,
            actor: "ci@example.com",
        };
        let run = cross_checks::start(&mut self.conn, &new, started).expect("start a cross-check");
        cross_checks::finish(
            &mut self.conn,
            id,
            run,
            counts,
            &[],
            started + Duration::minutes(3),
        )
        .expect("finish it");
    }

    /// A sync pass: `batches` batches of `batch` keys; the first `rejected` keys of the
    /// first batch are rejected (data issues); it ends completed or interrupted.
    #[allow(clippy::too_many_arguments)]
    pub fn sync_pass(
        &mut self,
        id: &str,
        step: Step,
        batches: i64,
        batch: i64,
        rejected: i64,
        completed: bool,
        started: DateTime<Utc>,
    ) {
        let token = "recorded";
        let pass = sync_runs::start(&mut self.conn, id, step, "sync@example.com", token, started)
            .expect("start a pass")
            .pass;
        let too_long = "x".repeat(300);
        for b in 1..=batches {
            let at = started + Duration::minutes(b);
            let rejected_here = if b == 1 { rejected.min(batch) } else { 0 };
            for k in 1..=rejected_here {
                let key = k.to_string();
                let issue = data_issues::Rejected {
                    key: &key,
                    old_value: Some(&too_long),
                    error: "value too long for type character varying(255)",
                    pass,
                };
                data_issues::record(&mut self.conn, id, issue, at).expect("record a data issue");
            }
            let progress = sync_runs::BatchProgress {
                scanned: batch,
                written: batch - rejected_here,
                rejected: rejected_here,
            };
            sync_runs::checkpoint(
                &mut self.conn,
                id,
                pass,
                token,
                &(b * batch).to_string(),
                progress,
                at,
            )
            .expect("checkpoint");
        }
        let status = if completed {
            SyncStatus::Completed
        } else {
            SyncStatus::Interrupted
        };
        sync_runs::end(
            &mut self.conn,
            id,
            pass,
            token,
            status,
            started + Duration::minutes(batches + 1),
        )
        .expect("end the pass");
    }
}
