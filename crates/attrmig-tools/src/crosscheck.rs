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
//! New rows whose key has no old row at all are `extra_in_new` too. Values of different
//! types are compared as text.
//!
//! A full run walks the old keys in keyset batches; each batch is counted by the database
//! (a join over the batch's key range) and only mismatches, up to `max_report`, are read
//! back: memory does not depend on the table's size.

use std::time::{Duration, Instant};

use attrmig_core::Step;
use attrmig_core::facts::Counts;
use attrmig_store::Conns;
use attrmig_store::cross_checks::{self, Mismatch, MismatchClass, NewRun};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use rand::Rng;
use serde::Serialize;

use crate::error::ToolError;
use crate::layout::{KeyType, Layout, Scope};
use crate::sql::{Bind, Key, Sql};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check this many keys drawn uniformly at random instead of all.
    pub sample: Option<u64>,
    /// Keys per batch.
    pub batch_size: u32,
    /// Mismatches kept in the report.
    pub max_report: usize,
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
    };
    let outcome = match opts.sample {
        None => full(
            conns,
            layout,
            &id,
            run,
            opts.batch_size.max(1),
            &mut found,
            progress,
        ),
        Some(n) => sample(conns.app(), layout, n, &mut found, progress),
    };
    if let Err(e) = outcome {
        cross_checks::fail(
            conns.state(),
            &id,
            run,
            &e.to_string(),
            attrmig_core::audit::now(),
        )?;
        return Err(e);
    }
    let finished_at = attrmig_core::audit::now();
    cross_checks::finish(
        conns.state(),
        &id,
        run,
        found.counts,
        &found.mismatches,
        finished_at,
    )?;
    Ok(Report {
        run,
        full: opts.sample.is_none(),
        sample_size: opts.sample,
        counts: found.counts,
        mismatches: found.mismatches,
        started_at,
        finished_at,
    })
}

struct Found {
    counts: Counts,
    mismatches: Vec<Mismatch>,
    max: usize,
}

impl Found {
    fn room(&self) -> usize {
        self.max.saturating_sub(self.mismatches.len())
    }
}

fn full(
    conns: &mut Conns<'_>,
    layout: &Layout,
    id: &str,
    run: i64,
    batch: u32,
    found: &mut Found,
    progress: &mut dyn Progress,
) -> Result<(), ToolError> {
    let mut after: Option<Key> = None;
    let mut beat = Instant::now();
    loop {
        // The last batch is open-ended, so new keys beyond the last old key are seen.
        let hi = layout.key_at_offset(conns.app(), after.as_ref(), batch)?;
        compare(
            conns.app(),
            layout,
            Scope::Range(after.as_ref(), hi.as_ref()),
            found,
        )?;
        progress.batch(&found.counts);
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

#[derive(QueryableByName)]
struct MismatchRow {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Nullable<Text>)]
    old_v: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    new_v: Option<String>,
}

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Counts one scope of keys, and reads its mismatches while the report has room.
fn compare(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    found: &mut Found,
) -> Result<(), ToolError> {
    let b = layout.backend();
    let (ok, ov, nv) = (layout.old_key(), layout.old_value(), layout.new_value());
    let differ = layout.values_differ(&ov, &nv);
    let join = if layout.same_table() {
        String::new()
    } else {
        format!(
            " LEFT JOIN {} ON {} = {ok}",
            layout.new_from(),
            layout.new_key()
        )
    };
    let sum = |class: u8| {
        b.cast_bigint(&format!(
            "COALESCE(SUM(CASE WHEN c = {class} THEN 1 ELSE 0 END), 0)"
        ))
    };
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS matching, {} AS missing_in_new, {} AS extra_in_new, {} AS differs FROM (\
         SELECT CASE WHEN {ov} IS NULL AND {nv} IS NULL THEN 0 WHEN {nv} IS NULL THEN 1 \
         WHEN {ov} IS NULL THEN 2 WHEN {differ} THEN 3 ELSE 0 END AS c \
         FROM {}{join} WHERE ",
        sum(0),
        sum(1),
        sum(2),
        sum(3),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(" AND ");
    layout.push_scope(&mut sql, &ok, scope);
    sql.push(") t");
    let rows: Vec<BatchCounts> = sql
        .load(conn)
        .map_err(|e| ToolError::query("compare old and new", e))?;
    let row = rows
        .first()
        .ok_or_else(|| ToolError::Unexpected("a count query returned no row".into()))?;
    let mut batch = Counts {
        matching: n(row.matching),
        missing_in_new: n(row.missing_in_new),
        extra_in_new: n(row.extra_in_new),
        differs: n(row.differs),
    };
    if batch.mismatches() > 0 && found.room() > 0 {
        let mut sql = Sql::new(b);
        sql.push(&format!(
            "SELECT {} AS k, {} AS old_v, {} AS new_v FROM {}{join} WHERE ",
            layout.text(&ok),
            layout.text(&ov),
            layout.text(&nv),
            layout.old_from()
        ));
        layout.push_old_rows(&mut sql);
        sql.push(" AND ");
        layout.push_scope(&mut sql, &ok, scope);
        sql.push(&format!(" AND {differ} ORDER BY {ok} LIMIT "))
            .bind(Bind::Int(found.room() as i64));
        let rows: Vec<MismatchRow> = sql
            .load(conn)
            .map_err(|e| ToolError::query("read mismatches", e))?;
        found
            .mismatches
            .extend(rows.into_iter().map(|r| mismatch(layout, r)));
    }
    if !layout.same_table() {
        batch.extra_in_new += orphans(conn, layout, scope, found)?;
    }
    found.counts.add(batch);
    Ok(())
}

fn mismatch(layout: &Layout, r: MismatchRow) -> Mismatch {
    let class = match (&r.old_v, &r.new_v) {
        (Some(_), None) => MismatchClass::MissingInNew,
        (None, Some(_)) => MismatchClass::ExtraInNew,
        _ => MismatchClass::Differs,
    };
    Mismatch {
        key: r.k,
        field: layout.plan().new.column.to_string(),
        class,
        old: r.old_v,
        new: r.new_v,
    }
}

/// New rows with a value whose key has no old row: counted, and reported while there is
/// room.
fn orphans(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    scope: Scope<'_>,
    found: &mut Found,
) -> Result<u64, ToolError> {
    let b = layout.backend();
    let (nk, nv) = (layout.new_key(), layout.new_value());
    let push_where = |sql: &mut Sql| {
        sql.push(" WHERE ");
        layout.push_scope(sql, &nk, scope);
        sql.push(&format!(
            " AND {nv} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} WHERE {} = {nk} AND ",
            layout.old_from(),
            layout.old_key()
        ));
        layout.push_old_rows(sql);
        sql.push(")");
    };
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS n FROM {}",
        b.cast_bigint("COUNT(*)"),
        layout.new_from()
    ));
    push_where(&mut sql);
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Vec<Count> = sql
        .load(conn)
        .map_err(|e| ToolError::query("count new rows without old rows", e))?;
    let count = count.first().map_or(0, |c| n(c.n));
    if count > 0 && found.room() > 0 {
        let mut sql = Sql::new(b);
        sql.push(&format!(
            "SELECT {} AS k, {} AS old_v, {} AS new_v FROM {}",
            layout.text(&nk),
            layout.text("NULL"),
            layout.text(&nv),
            layout.new_from()
        ));
        push_where(&mut sql);
        sql.push(&format!(" ORDER BY {nk} LIMIT "))
            .bind(Bind::Int(found.room() as i64));
        let rows: Vec<MismatchRow> = sql
            .load(conn)
            .map_err(|e| ToolError::query("read new rows without old rows", e))?;
        found
            .mismatches
            .extend(rows.into_iter().map(|r| mismatch(layout, r)));
    }
    Ok(count)
}

// --- sampling -------------------------------------------------------------------------

/// Keys compared per statement when checking a sample.
const SAMPLE_CHUNK: usize = 500;

/// Checks `n` keys drawn uniformly from the keys of old and new.
///
/// Integer keys: draw integers uniformly between the smallest and largest key and keep
/// those that exist (rejection sampling). Every existing key is equally likely, and only
/// index lookups are made: no scan, whatever the table's size. Page sampling
/// (`TABLESAMPLE SYSTEM`) would return clusters of neighbouring keys instead.
///
/// Text keys have no such space to draw from: they are drawn by one ordered-by-random
/// read of the key column, which scans it.
fn sample(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    n: u64,
    found: &mut Found,
    progress: &mut dyn Progress,
) -> Result<(), ToolError> {
    let keys = match layout.key_type() {
        KeyType::Int => draw_int_keys(conn, layout, n)?,
        KeyType::Text { .. } => draw_by_scan(conn, layout, n)?,
    };
    for chunk in keys.chunks(SAMPLE_CHUNK) {
        compare(conn, layout, Scope::Keys(chunk), found)?;
        progress.batch(&found.counts);
    }
    found.mismatches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(())
}

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = Nullable<BigInt>)]
    lo: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    hi: Option<i64>,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    k: String,
}

fn int_bounds(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
) -> Result<Option<(i64, i64)>, ToolError> {
    let b = layout.backend();
    let mut sql = Sql::new(b);
    let ok = layout.old_key();
    sql.push(&format!(
        "SELECT {} AS lo, {} AS hi FROM {} WHERE ",
        b.cast_bigint(&format!("MIN({ok})")),
        b.cast_bigint(&format!("MAX({ok})")),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    let old: Vec<Bounds> = sql
        .load(conn)
        .map_err(|e| ToolError::query("read the key range", e))?;
    let nk = layout.new_key();
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS lo, {} AS hi FROM {}",
        b.cast_bigint(&format!("MIN({nk})")),
        b.cast_bigint(&format!("MAX({nk})")),
        layout.new_from()
    ));
    let new: Vec<Bounds> = sql
        .load(conn)
        .map_err(|e| ToolError::query("read the key range", e))?;
    let los = old.iter().chain(&new).filter_map(|b| b.lo);
    let his = old.iter().chain(&new).filter_map(|b| b.hi);
    Ok(los.min().zip(his.max()))
}

/// Which of `candidates` exist as old or new keys.
fn existing(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    candidates: &[Key],
) -> Result<Vec<Key>, ToolError> {
    let mut out = Vec::new();
    for chunk in candidates.chunks(SAMPLE_CHUNK) {
        let ok = layout.old_key();
        let mut sql = Sql::new(layout.backend());
        sql.push(&format!(
            "SELECT {} AS k FROM {} WHERE ",
            layout.text(&ok),
            layout.old_from()
        ));
        layout.push_old_rows(&mut sql);
        sql.push(" AND ");
        layout.push_in(&mut sql, &ok, chunk);
        if !layout.same_table() {
            let nk = layout.new_key();
            sql.push(&format!(
                " UNION SELECT {} AS k FROM {} WHERE ",
                layout.text(&nk),
                layout.new_from()
            ));
            layout.push_in(&mut sql, &nk, chunk);
        }
        let rows: Vec<KeyRow> = sql
            .load(conn)
            .map_err(|e| ToolError::query("look up sampled keys", e))?;
        for r in rows {
            out.push(layout.parse_key(&r.k)?);
        }
    }
    Ok(out)
}

fn draw_int_keys(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    n: u64,
) -> Result<Vec<Key>, ToolError> {
    let Some((lo, hi)) = int_bounds(conn, layout)? else {
        return Ok(Vec::new());
    };
    let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX);
    let mut chosen = std::collections::BTreeSet::new();
    let mut rng = rand::rng();
    let (mut drawn, mut hits) = (0u64, 0u64);
    // Enough rounds for sparse key spaces; a space where fewer than 1 in 1000 numbers is
    // a key would need too many lookups, and is sampled by scan instead.
    for _ in 0..64 {
        let want = n.saturating_sub(chosen.len() as u64);
        if want == 0 || chosen.len() as u64 >= span {
            break;
        }
        let density = if drawn == 0 {
            1.0
        } else {
            (hits.max(1) as f64) / (drawn as f64)
        };
        if drawn >= 10_000 && density < 0.001 {
            return draw_by_scan(conn, layout, n);
        }
        let batch = ((want as f64 / density) * 1.2).ceil().clamp(1.0, 20_000.0) as u64;
        let candidates: Vec<Key> = (0..batch.min(span))
            .map(|_| Key::Int(rng.random_range(lo..=hi)))
            .filter(|k| !chosen.contains(k))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        drawn += candidates.len() as u64;
        let present = existing(conn, layout, &candidates)?;
        hits += present.len() as u64;
        for k in present {
            if (chosen.len() as u64) < n {
                chosen.insert(k);
            }
        }
        if hits == 0 && drawn >= span {
            break;
        }
    }
    Ok(chosen.into_iter().collect())
}

fn draw_by_scan(
    conn: &mut attrmig_db::AnyConnection,
    layout: &Layout,
    n: u64,
) -> Result<Vec<Key>, ToolError> {
    let b = layout.backend();
    let random = match b {
        attrmig_db::Backend::Mysql => "RAND()",
        attrmig_db::Backend::Sqlite | attrmig_db::Backend::Postgres => "random()",
    };
    let ok = layout.old_key();
    let mut sql = Sql::new(b);
    sql.push(&format!(
        "SELECT {} AS k FROM {} WHERE ",
        layout.text(&ok),
        layout.old_from()
    ));
    layout.push_old_rows(&mut sql);
    sql.push(&format!(" ORDER BY {random} LIMIT "))
        .bind(Bind::Int(i64::try_from(n).unwrap_or(i64::MAX)));
    let rows: Vec<KeyRow> = sql
        .load(conn)
        .map_err(|e| ToolError::query("draw a sample of keys", e))?;
    let mut keys: Vec<Key> = rows
        .iter()
        .map(|r| layout.parse_key(&r.k))
        .collect::<Result<_, _>>()?;
    keys.sort();
    Ok(keys)
}
