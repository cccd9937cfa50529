//! The cross-check: compares old and new for every key (or a uniform sample of keys),
//! and records the run.
//!
//! A key's old value and new value are compared with absence read as NULL:
//!
//! | old      | new      | counts as        |
//! |----------|----------|------------------|
//! | NULL     | NULL     | `matching`       |
//! | value    | NULL     | `missing_in_new` |
//! | NULL     | value    | `extra_in_new`   |
//! | a        | b ≠ a    | `differs`        |
//!
//! New rows whose key has no old row at all are `extra_in_new` too. Values are equal
//! when they are the same value of their family (`attrmig_core::equality`): numbers by
//! value, text and bytes exactly, timestamps as instants, JSON by structure. An old JSON
//! document that is not JSON has a value nobody can read: its key is reported (as
//! `missing_in_new`, or `differs` when new has a value), never taken for "no value".
//!
//! A run holds a lease of its own while it goes (see [`crate::lease`]): an advance to 8
//! waits until no cross-check holds one. A run that fails, also while recording its
//! end, ends `failed` with its error. Its report is bounded
//! ([`cross_checks::bounded_report`]): what is printed is what is stored.
//!
//! A full run walks the old keys in keyset batches; each batch is counted by the database
//! (a join over the batch's key range) and only mismatches, up to `max_report`, are read
//! back: memory does not depend on the table's size.

use std::time::{Duration, Instant};

use attrmig_core::Step;
use attrmig_core::equality::Side;
use attrmig_core::facts::Counts;
use attrmig_store::cross_checks::{self, Mismatch, MismatchClass, NewRun};
use attrmig_store::{Conns, leases};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use rand::Rng;
use serde::Serialize;

use crate::batch_ends::{connect_ahead, with_batch_ends};
use crate::error::ToolError;
use crate::layout::{KeyType, Layout, Scope};
use crate::lease::Lease;
use crate::runner;
use crate::sql::{Bind, Key, Sql};
use crate::values::{self, Unreadable};
use attrmig_db::{AnyConnection, Backend, DatabaseUrl};

/// Keys per batch unless `--batch-size` says otherwise. The cross-check only reads and
/// counts in the database, so a batch is bounded work, not memory: larger than the
/// sync's batches (which hold locks), to spend less on round trips.
pub const DEFAULT_BATCH: u32 = 100_000;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check this many keys drawn uniformly at random instead of all.
    pub sample: Option<u64>,
    /// Keys per batch.
    pub batch_size: u32,
    /// Mismatches kept in the report.
    pub max_report: usize,
    /// The application database again, for a second connection on which a full run
    /// finds where its next batches end while the current one is compared (server
    /// databases only; see `batch_ends`). `None`: found inline.
    pub lookahead: Option<DatabaseUrl>,
}

/// One run's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Run number.
    pub run: i64,
    /// Every key, or a sample.
    pub full: bool,
    /// Keys drawn, for a sample.
    pub sample_size: Option<u64>,
    /// What was found.
    pub counts: Counts,
    /// Up to `max_report` mismatches, in key order.
    pub mismatches: Vec<Mismatch>,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: DateTime<Utc>,
}

/// Receives progress while a run goes.
pub trait Progress {
    /// After each batch: counts so far.
    fn batch(&mut self, _counts: &Counts) {}
}

/// No progress reporting.
impl Progress for () {}

/// How often a running run proves it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Runs a cross-check and records it. `step` is the migration's step now.
pub fn run(
    conns: &mut Conns<'_>,
    layout: &Layout,
    step: Step,
    actor: &str,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ToolError> {
    layout.require_new()?;
    layout.prepare(conns.app())?;
    // A lease of its own (cross-checks may run side by side): while it is held, the
    // migration can't be advanced to 8, when the tools retire.
    let runner = runner::here(runner::holder_name(actor));
    let purpose = leases::cross_check_purpose(&runner.token);
    Lease::hold(
        conns,
        layout.plan(),
        &purpose,
        "cross-check",
        runner,
        |conns, lease| run_leased(conns, layout, step, actor, opts, progress, lease),
    )
}

fn run_leased(
    conns: &mut Conns<'_>,
    layout: &Layout,
    step: Step,
    actor: &str,
    opts: &Options,
    progress: &mut dyn Progress,
    lease: &mut Lease,
) -> Result<Report, ToolError> {
    let id = layout.plan().id.to_string();
    let started_at = attrmig_core::audit::now();
    let new_run = NewRun {
        migration_id: &id,
        sample: opts.sample,
        step,
        actor,
    };
    let run = cross_checks::start(conns.state(), &new_run, started_at)?;
    let mut found = Found {
        counts: Counts::default(),
        mismatches: Vec::new(),
        max: opts.max_report,
        last_mismatched: false,
    };
    let mut finished_at = started_at;
    let outcome = match opts.sample {
        None => full(conns, layout, &id, run, opts, &mut found, progress, lease),
        Some(n) => sample(conns, layout, n, &mut found, progress, lease),
    }
    .map(|()| cross_checks::bounded_report(std::mem::take(&mut found.mismatches)))
    .and_then(|report| {
        finished_at = attrmig_core::audit::now();
        cross_checks::finish(conns.state(), &id, run, found.counts, &report, finished_at)?;
        Ok(report)
    });
    match outcome {
        Ok(mismatches) => Ok(Report {
            run,
            full: opts.sample.is_none(),
            sample_size: opts.sample,
            counts: found.counts,
            mismatches,
            started_at,
            finished_at,
        }),
        // Also when recording the end failed: the run must not stay `running`.
        Err(e) => {
            let now = attrmig_core::audit::now();
            let _ = cross_checks::fail(conns.state(), &id, run, &e.to_string(), now);
            Err(e)
        }
    }
}

struct Found {
    counts: Counts,
    mismatches: Vec<Mismatch>,
    max: usize,
    /// The last batch had mismatches: the next one likely has too (PostgreSQL counts it
    /// accordingly, see `count_pairs`).
    last_mismatched: bool,
}

impl Found {
    fn room(&self) -> usize {
        self.max.saturating_sub(self.mismatches.len())
    }
}

#[allow(clippy::too_many_arguments)]
fn full(
    conns: &mut Conns<'_>,
    layout: &Layout,
    id: &str,
    run: i64,
    opts: &Options,
    found: &mut Found,
    progress: &mut dyn Progress,
    lease: &mut Lease,
) -> Result<(), ToolError> {
    let mut ahead = connect_ahead(opts.lookahead.as_ref());
    let batch = opts.batch_size.max(1);
    with_batch_ends(layout, ahead.as_mut(), None, batch, |ends| {
        let mut after: Option<Key> = None;
        let mut beat = Instant::now();
        loop {
            // The last batch is open-ended, so new keys beyond the last old key are seen.
            let hi = ends.next(conns.app())?;
            compare(
                conns.app(),
                layout,
                Scope::Range(after.as_ref(), hi.as_ref()),
                found,
            )?;
            progress.batch(&found.counts);
            lease.keep(conns.state())?;
            if beat.elapsed() >= HEARTBEAT {
                cross_checks::heartbeat(
                    conns.state(),
                    id,
                    run,
                    found.counts,
                    attrmig_core::audit::now(),
                )?;
                beat = Instant::now();
            }
            match hi {
                Some(hi) => after = Some(hi),
                None => return Ok(()),
            }
        }
    })
}

#[derive(QueryableByName)]
struct BatchCounts {
    #[diesel(sql_type = BigInt)]
    matching: i64,
    #[diesel(sql_type = BigInt)]
    missing_in_new: i64,
    #[diesel(sql_type = BigInt)]
    extra_in_new: i64,
    #[diesel(sql_type = BigInt)]
    differs: i64,
}

/// A mismatching key, its values read as bytes ([`Layout::shown`]).
type MismatchRow = values::PairRow;

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Pushes a derived table `p(k, ov, nv)`: every key of `scope` with its old and new
/// value, absence read as NULL. New rows whose key has no old row are included when they
/// hold a value (they are `extra_in_new`).
///
/// Both sides are bounded by the scope, so each batch reads two index ranges: a full
/// join where the backend has one (a merge join on PostgreSQL), a left join plus the
/// orphans elsewhere. Without the bound on the new side PostgreSQL can't push the range
/// through the outer join and scans the whole new table for every batch.
fn push_pairs(sql: &mut Sql, layout: &Layout, scope: Scope<'_>) {
    let (ok, ov, nk, nv) = (
        layout.old_key(),
        layout.old_value(),
        layout.new_key(),
        layout.new_value(),
    );
    // SQLite runs a FULL JOIN of two subqueries as nested loops: it gets the left join
    // and the orphans instead, like MySQL, which has no FULL JOIN at all.
    // The key's columns are `k` (`k0, k1, ...` for several) of `p`.
    let k = layout.key_names("p", "k");
    if layout.backend() == Backend::Postgres && !layout.same_table() {
        let (o_ok, n_nk) = (layout.key_names("o", "ok"), layout.key_names("n", "nk"));
        sql.push(&format!(
            "(SELECT {}, o.ov AS ov, n.nv AS nv FROM \
             (SELECT {}, {ov} AS ov FROM {} WHERE ",
            o_ok.coalesce_as(&n_nk, &k),
            ok.aliased(&o_ok),
            layout.old_from()
        ));
        layout.push_old_rows(sql);
        sql.push(" AND ");
        layout.push_scope(sql, &ok, scope);
        sql.push(&format!(
            ") o FULL JOIN (SELECT {}, {nv} AS nv FROM {} WHERE ",
            nk.aliased(&n_nk),
            layout.new_from()
        ));
        layout.push_scope(sql, &nk, scope);
        sql.push(&format!(
            ") n ON {} WHERE {} IS NOT NULL OR n.nv IS NOT NULL) p",
            n_nk.equals(&o_ok),
            o_ok.first()
        ));
        return;
    }
    sql.push(&format!(
        "(SELECT {}, {ov} AS ov, {nv} AS nv",
        ok.aliased(&k)
    ));
    layout.push_old_with_new(sql, scope);
    if !layout.same_table() {
        sql.push(&format!(
            " UNION ALL SELECT {}, NULL, {nv} FROM {} WHERE ",
            nk.order(),
            layout.new_from()
        ));
        layout.push_scope(sql, &nk, scope);
        sql.push(&format!(
            " AND {nv} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} WHERE {} AND ",
            layout.old_from(),
            ok.equals(&nk)
        ));
        layout.push_old_rows(sql);
        sql.push(")");
    }
    sql.push(") p");
}

/// Counts one scope of keys, and reads its mismatches while the report has room.
fn compare(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    found: &mut Found,
) -> Result<(), ToolError> {
    let mut batch = match layout.backend() {
        Backend::Postgres => count_pairs(conn, layout, scope, found.last_mismatched)?,
        Backend::Sqlite | Backend::Mysql => derive(conn, layout, scope)?,
    };
    let unreadable = unreadable(conn, layout, scope)?;
    for u in &unreadable {
        reclassify(&mut batch, u);
    }
    let room = found.room();
    if batch.mismatches() > 0 && room > 0 {
        let mut sql = Sql::new(layout.backend());
        sql.push(&format!(
            "SELECT {} AS k, {} AS old_v, {} AS new_v FROM ",
            layout.key_text(&layout.key_names("p", "k")),
            layout.shown(Side::Old, "p.ov"),
            layout.shown(Side::New, "p.nv")
        ));
        push_pairs(&mut sql, layout, scope);
        sql.push(&format!(
            " WHERE {} ORDER BY {} LIMIT ",
            layout.values_differ("p.ov", "p.nv"),
            layout.key_names("p", "k").order()
        ))
        .bind(Bind::Int(room as i64));
        let rows: Vec<MismatchRow> = sql
            .load(conn)
            .map_err(|e| ToolError::query("read mismatches", e))?;
        let mut mismatches: Vec<Mismatch> = rows.into_iter().map(|r| mismatch(layout, r)).collect();
        merge_unreadable(layout, &mut mismatches, &unreadable, room);
        found.mismatches.extend(mismatches);
    }
    found.last_mismatched = batch.mismatches() > 0;
    found.counts.add(batch);
    Ok(())
}

/// PostgreSQL: counts one scope's pairs by class, the cheaper way for what it likely
/// holds. Mismatches come in runs (a table not yet synced mismatches everywhere, a synced
/// one nowhere), so `expect_mismatches` is whether the previous batch had any.
///
/// - Expected clean: one pass counts the pairs and the mismatching ones, two aggregates
///   with no CASE (about a third faster than classifying every pair, measured at 10M
///   rows); only if some mismatch is the scope classified after all, by `classify`,
///   whose counts (one statement, one snapshot) are the batch's.
/// - Expected mismatches: `classify` straight away.
fn count_pairs(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    expect_mismatches: bool,
) -> Result<Counts, ToolError> {
    #[derive(QueryableByName)]
    struct Pairs {
        #[diesel(sql_type = BigInt)]
        pairs: i64,
        #[diesel(sql_type = BigInt)]
        mismatching: i64,
    }
    if expect_mismatches {
        return classify(conn, layout, scope);
    }
    let mut sql = Sql::new(layout.backend());
    sql.push(&format!(
        "SELECT COUNT(*) AS pairs, COUNT(*) FILTER (WHERE {}) AS mismatching FROM ",
        layout.values_differ("p.ov", "p.nv")
    ));
    push_pairs(&mut sql, layout, scope);
    let row: Pairs = count_row(conn, &sql)?;
    if row.mismatching == 0 {
        return Ok(Counts {
            matching: n(row.pairs),
            ..Counts::default()
        });
    }
    classify(conn, layout, scope)
}

/// The one row of an aggregate query comparing old and new.
fn count_row<T>(conn: &mut AnyConnection, sql: &Sql) -> Result<T, ToolError>
where
    T: QueryableByName<attrmig_db::AnyBackend> + 'static,
{
    sql.load(conn)
        .map_err(|e| ToolError::query("compare old and new", e))?
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::Unexpected("a count query returned no row".into()))
}

/// PostgreSQL: every pair classified by one CASE over the merge full join.
fn classify(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Counts, ToolError> {
    let b = layout.backend();
    let differ = layout.values_differ("p.ov", "p.nv");
    let sum = |class: u8| {
        b.cast_bigint(&format!(
            "COALESCE(SUM(CASE WHEN c = {class} THEN 1 ELSE 0 END), 0)"
        ))
    };
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS matching, {} AS missing_in_new, {} AS extra_in_new, {} AS differs FROM (\
         SELECT CASE WHEN p.ov IS NULL AND p.nv IS NULL THEN 0 WHEN p.nv IS NULL THEN 1 \
         WHEN p.ov IS NULL THEN 2 WHEN {differ} THEN 3 ELSE 0 END AS c FROM ",
        sum(0),
        sum(1),
        sum(2),
        sum(3),
    ));
    push_pairs(&mut sql, layout, scope);
    sql.push(") t");
    let row: BatchCounts = count_row(conn, &sql)?;
    Ok(Counts {
        matching: n(row.matching),
        missing_in_new: n(row.missing_in_new),
        extra_in_new: n(row.extra_in_new),
        differs: n(row.differs),
    })
}

#[derive(QueryableByName)]
struct Tallies {
    #[diesel(sql_type = BigInt)]
    old_rows: i64,
    #[diesel(sql_type = BigInt)]
    old_values: i64,
    #[diesel(sql_type = BigInt)]
    joined_new_values: i64,
    #[diesel(sql_type = BigInt)]
    mismatching: i64,
    #[diesel(sql_type = BigInt)]
    missing: i64,
    #[diesel(sql_type = BigInt)]
    new_values: i64,
}

/// SQLite and MySQL: plain aggregates over the left join, from which the classes follow,
/// and a count of the new values in the scope for the rows with no old row. Classifying
/// every row with a CASE costs SQLite more than the join itself.
///
/// With `a` equal pairs, `d` differing, `m` missing in new and `e` extra among old rows:
/// old values = a + d + m, joined new values = a + d + e, mismatching = d + m + e; so
/// e = joined − old values + m and d = mismatching − m − e. New values with no old row
/// are the new values of the scope not met by the join.
fn derive(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Counts, ToolError> {
    let b = layout.backend();
    let (ov, nv) = (layout.old_value(), layout.new_value());
    let big = |e: &str| b.cast_bigint(&format!("COALESCE({e}, 0)"));
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS old_rows, {} AS old_values, {} AS joined_new_values, {} AS mismatching, {} AS missing, ",
        big("COUNT(*)"),
        big(&format!("COUNT({ov})")),
        big(&format!("COUNT({nv})")),
        big(&format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", layout.values_differ(&ov, &nv))),
        big(&format!("SUM(CASE WHEN {ov} IS NOT NULL AND {nv} IS NULL THEN 1 ELSE 0 END)")),
    ));
    if layout.same_table() {
        sql.push("0 AS new_values");
    } else {
        // COUNT is a 64-bit integer everywhere; only SUM needs the casts above. The
        // subquery's alias is its own so it does not see the join's `n`.
        let new = &layout.plan().new;
        let (nk2, nv2) = (
            layout.new_key_as("n2"),
            format!("n2.{}", b.quote(&new.column)),
        );
        sql.push(&format!(
            "COALESCE((SELECT COUNT({nv2}) FROM {} n2 WHERE ",
            b.quote(&new.table)
        ));
        layout.push_scope(&mut sql, &nk2, scope);
        sql.push("), 0) AS new_values");
    }
    layout.push_old_with_new(&mut sql, scope);
    let t: Tallies = count_row(conn, &sql)?;
    let missing = t.missing;
    let extra_old = t.joined_new_values - t.old_values + missing;
    let differs = t.mismatching - missing - extra_old;
    let orphans = if layout.same_table() {
        0
    } else {
        t.new_values - t.joined_new_values
    };
    Ok(Counts {
        matching: n(t.old_rows - t.mismatching),
        missing_in_new: n(missing),
        extra_in_new: n(extra_old + orphans),
        differs: n(differs),
    })
}

fn mismatch(layout: &Layout, r: MismatchRow) -> Mismatch {
    let class = match (&r.old_v, &r.new_v) {
        (Some(_), None) => MismatchClass::MissingInNew,
        (None, Some(_)) => MismatchClass::ExtraInNew,
        _ => MismatchClass::Differs,
    };
    Mismatch {
        // As recorded: a key of several columns in one spelling, whatever the backend's
        // JSON spacing (a key that does not parse is shown as read).
        key: layout.parse_key(&r.k).map_or(r.k, |k| k.to_string()),
        field: layout.plan().new.column.to_string(),
        class,
        old: layout.show(Side::Old, r.old_v),
        new: layout.show(Side::New, r.new_v),
    }
}

// --- old documents that are not JSON ---------------------------------------------------

/// The old rows of `scope` whose document is not JSON.
fn unreadable(
    conn: &mut AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
) -> Result<Vec<Unreadable>, ToolError> {
    values::unreadable(conn, layout, scope)
        .map_err(|e| ToolError::query("look for old documents that are not JSON", e))
}

/// A malformed document reads as NULL in the comparison, so its key was counted as
/// matching (no new value) or as extra in new; it has a value, one nobody can read.
fn reclassify(counts: &mut Counts, u: &Unreadable) {
    if u.new.is_none() {
        counts.matching = counts.matching.saturating_sub(1);
        counts.missing_in_new += 1;
    } else {
        counts.extra_in_new = counts.extra_in_new.saturating_sub(1);
        counts.differs += 1;
    }
}

/// The report entry of an old row whose document is not JSON.
fn unreadable_mismatch(layout: &Layout, u: &Unreadable) -> Mismatch {
    Mismatch {
        key: u.key.to_string(),
        field: layout.plan().new.column.to_string(),
        class: if u.new.is_none() {
            MismatchClass::MissingInNew
        } else {
            MismatchClass::Differs
        },
        old: Some(u.shown()),
        new: u.new.clone(),
    }
}

/// Puts a batch's malformed documents into its mismatches (read in key order, at most
/// `room`): one read as extra in new becomes what it is, one that read as matching is
/// added (unless the read was cut at `room` before its key), and the batch stays in key
/// order.
fn merge_unreadable(
    layout: &Layout,
    found: &mut Vec<Mismatch>,
    unreadable: &[Unreadable],
    room: usize,
) {
    if unreadable.is_empty() {
        return;
    }
    let key = |m: &Mismatch| layout.parse_key(&m.key).ok();
    let cut_at = (found.len() == room)
        .then(|| found.last().and_then(key))
        .flatten();
    for u in unreadable {
        let entry = unreadable_mismatch(layout, u);
        match found.iter_mut().find(|m| m.key == entry.key) {
            Some(m) => *m = entry,
            None if cut_at.as_ref().is_none_or(|cut| u.key < *cut) => found.push(entry),
            None => {}
        }
    }
    found.sort_by_key(|m| key(m));
    found.truncate(room);
}

// --- sampling -------------------------------------------------------------------------

/// Keys looked up per statement when checking a sample.
const SAMPLE_CHUNK: usize = 500;

/// Checks `n` old keys drawn uniformly at random.
///
/// Integer keys: draw integers uniformly between the smallest and largest old key and
/// keep those that exist (rejection sampling). Every existing key is equally likely, and
/// each candidate costs one index lookup in old and one in new, read together with its
/// values in one statement per chunk: no scan, whatever the table's size. Page sampling
/// (`TABLESAMPLE SYSTEM`) would return clusters of neighbouring keys instead.
///
/// Text keys and keys of several columns have no such space to draw from: they are
/// drawn by one ordered-by-random read of the key columns, which scans them. A sample is drawn from old keys, the ones
/// being migrated: new rows without an old row are found by a full cross-check.
fn sample(
    conns: &mut Conns<'_>,
    layout: &Layout,
    n: u64,
    found: &mut Found,
    progress: &mut dyn Progress,
    lease: &mut Lease,
) -> Result<(), ToolError> {
    let mut taken = 0u64;
    match layout.key_type() {
        KeyType::Int => {
            let Some((lo, hi)) = int_bounds(conns.app(), layout)? else {
                return Ok(());
            };
            let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX);
            let mut drawn: std::collections::HashSet<i64> = std::collections::HashSet::new();
            let mut rng = rand::rng();
            let mut hits = 0u64;
            while taken < n && (drawn.len() as u64) < span {
                let density = if drawn.is_empty() {
                    1.0
                } else {
                    hits.max(1) as f64 / drawn.len() as f64
                };
                // Fewer than 1 in 1000 integers is a key: rejection would need too many
                // lookups; draw by scan instead.
                if drawn.len() >= 10_000 && density < 0.001 {
                    let keys = draw_by_scan(conns.app(), layout, n - taken, &drawn)?;
                    return take(conns, layout, &keys, n, &mut taken, found, progress, lease)
                        .map(|_| ());
                }
                let want = ((n - taken) as f64 / density * 1.2)
                    .ceil()
                    .clamp(1.0, 20_000.0) as u64;
                let left = span - drawn.len() as u64;
                let mut candidates = Vec::new();
                while (candidates.len() as u64) < want.min(left) {
                    let k = rng.random_range(lo..=hi);
                    if drawn.insert(k) {
                        candidates.push(Key::Int(k));
                    }
                }
                hits += take(
                    conns,
                    layout,
                    &candidates,
                    n,
                    &mut taken,
                    found,
                    progress,
                    lease,
                )?;
            }
        }
        // A key of several columns has no dense space to draw from either (the tenants
        // of `(tenant_id, id)` hold different id ranges): drawn by scan, every row as
        // likely as any other.
        KeyType::Text { .. } | KeyType::Tuple(_) => {
            let keys = draw_by_scan(conns.app(), layout, n, &Default::default())?;
            take(conns, layout, &keys, n, &mut taken, found, progress, lease)?;
        }
    }
    found.mismatches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(())
}

#[derive(QueryableByName)]
struct SampleRow {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Nullable<Binary>)]
    old_v: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    new_v: Option<Vec<u8>>,
    #[diesel(sql_type = BigInt)]
    d: i64,
}

/// Looks `candidates` up, in chunks, and counts the ones that exist until `n` are taken.
/// Returns how many of them exist.
#[allow(clippy::too_many_arguments)]
fn take(
    conns: &mut Conns<'_>,
    layout: &Layout,
    candidates: &[Key],
    n: u64,
    taken: &mut u64,
    found: &mut Found,
    progress: &mut dyn Progress,
    lease: &mut Lease,
) -> Result<u64, ToolError> {
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let mut existing = 0;
    for chunk in candidates.chunks(SAMPLE_CHUNK) {
        let mut sql = Sql::new(layout.backend());
        sql.push(&format!(
            "SELECT {} AS k, {} AS old_v, {} AS new_v, {} AS d",
            layout.key_text(&ok),
            layout.shown(Side::Old, &ov),
            layout.shown(Side::New, &nv),
            layout.backend().cast_bigint(&format!(
                "CASE WHEN {} THEN 1 ELSE 0 END",
                layout.values_differ(&ov, &nv)
            )),
        ));
        layout.push_old_with_new(&mut sql, Scope::Keys(chunk));
        let rows: Vec<SampleRow> = sql
            .load(conns.app())
            .map_err(|e| ToolError::query("check sampled keys", e))?;
        existing += rows.len() as u64;
        let unreadable = unreadable(conns.app(), layout, Scope::Keys(chunk))?;
        for row in rows {
            if *taken == n {
                break;
            }
            *taken += 1;
            let read = layout.parse_key(&row.k).ok();
            if let Some(u) = unreadable.iter().find(|u| Some(&u.key) == read.as_ref()) {
                let m = unreadable_mismatch(layout, u);
                match m.class {
                    MismatchClass::MissingInNew => found.counts.missing_in_new += 1,
                    _ => found.counts.differs += 1,
                }
                if found.room() > 0 {
                    found.mismatches.push(m);
                }
                continue;
            }
            let counts = &mut found.counts;
            match (&row.old_v, &row.new_v, row.d) {
                (None, None, _) | (Some(_), Some(_), 0) => counts.matching += 1,
                (Some(_), None, _) => counts.missing_in_new += 1,
                (None, Some(_), _) => counts.extra_in_new += 1,
                (Some(_), Some(_), _) => counts.differs += 1,
            }
            if row.d == 1 && found.room() > 0 {
                let m = mismatch(
                    layout,
                    MismatchRow {
                        k: row.k,
                        old_v: row.old_v,
                        new_v: row.new_v,
                    },
                );
                found.mismatches.push(m);
            }
        }
        progress.batch(&found.counts);
        // A sample of many chunks may outlast the lease: renewed like a full run's, so
        // the advance to 8 keeps waiting for it.
        lease.keep(conns.state())?;
    }
    Ok(existing)
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    k: String,
}

/// The smallest and largest integer old key. Each end is one ordered index read: `MIN`
/// and `MAX` together, or behind a WHERE, make SQLite scan the table.
fn int_bounds(conn: &mut AnyConnection, layout: &Layout) -> Result<Option<(i64, i64)>, ToolError> {
    let key = layout.old_key();
    let mut ends = Vec::new();
    for order in ["ASC", "DESC"] {
        let mut sql = layout.select_old_keys();
        sql.push(&format!(" ORDER BY {} {order} LIMIT 1", key.order()));
        let rows: Vec<KeyRow> = sql
            .load(conn)
            .map_err(|e| ToolError::query("read the key range", e))?;
        for row in rows {
            if let Key::Int(k) = layout.parse_key(&row.k)? {
                ends.push(k);
            }
        }
    }
    Ok(ends.iter().min().copied().zip(ends.iter().max().copied()))
}

/// `n` old keys in random order, by one ordered-by-random read of the key column, leaving
/// out keys already drawn.
fn draw_by_scan(
    conn: &mut AnyConnection,
    layout: &Layout,
    n: u64,
    drawn: &std::collections::HashSet<i64>,
) -> Result<Vec<Key>, ToolError> {
    let b = layout.backend();
    let random = match b {
        Backend::Mysql => "RAND()",
        Backend::Sqlite | Backend::Postgres => "random()",
    };
    let mut sql = layout.select_old_keys();
    let limit = i64::try_from(n)
        .unwrap_or(i64::MAX)
        .saturating_add(drawn.len() as i64);
    sql.push(&format!(" ORDER BY {random} LIMIT "))
        .bind(Bind::Int(limit));
    let rows: Vec<KeyRow> = sql
        .load(conn)
        .map_err(|e| ToolError::query("draw a sample of keys", e))?;
    let mut keys = Vec::new();
    for row in rows {
        let key = layout.parse_key(&row.k)?;
        if !matches!(key, Key::Int(k) if drawn.contains(&k)) && (keys.len() as u64) < n {
            keys.push(key);
        }
    }
    Ok(keys)
}
