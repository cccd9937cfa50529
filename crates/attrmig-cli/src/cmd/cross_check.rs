//! `attrmig cross-check ID`.

use attrmig_core::facts::Counts;
use attrmig_engine::CrossCheckRequest;
use attrmig_tools::crosscheck::{Progress, Report};
use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::output::table;
use crate::render;
use attrmig_core::refusal::counted;

/// Compare old and new storage, key by key, and record the run.
///
/// Every key, or a uniform random sample. Reports the counts and the mismatches as (key,
/// field, old value, new value).
/// Exit 4 when anything mismatches. Refused once the migration reached step 8: the tool is
/// deleted then.
#[derive(Debug, Args)]
pub struct CrossCheckArgs {
    /// Migration id.
    pub id: String,
    /// Check N keys (at least 1) drawn uniformly at random instead of every key.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Keys per batch [default: 100000; a cross-check only reads, so its batches are larger
    /// than the sync's].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Mismatches to list in the report.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_report: usize,
}

struct Quiet;
impl Progress for Quiet {}

pub fn run(ctx: &Ctx, args: CrossCheckArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let req = CrossCheckRequest {
        id: args.id.clone(),
        sample: args.sample,
        batch_size: args.batch_size,
        max_report: args.max_report,
    };
    let report = engine.cross_check(&req, &mut Quiet)?;
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({ "id": args.id, "report": report }))?;
    } else {
        ctx.out.text(&describe(&args.id, &report))?;
    }
    Ok(if report.counts.clean() {
        Code::Ok
    } else {
        Code::Found
    })
}

/// The report for people: the counts, then the mismatches.
pub fn describe(id: &str, r: &Report) -> String {
    let Counts {
        matching,
        missing_in_new,
        extra_in_new,
        differs,
    } = r.counts;
    let compared = r.counts.compared();
    let what = match r.sample_size {
        Some(n) => format!(
            "sample: {compared} of {} compared",
            counted(n, "key", "keys")
        ),
        None => format!("every key: {} compared", counted(compared, "key", "keys")),
    };
    let mut out = format!(
        "{id}: cross-check run {} ({what}), {} → {}\n  matching {matching} · missing in new {missing_in_new} · extra in new {extra_in_new} · differs {differs}",
        r.run,
        render::time(&r.started_at),
        render::time(&r.finished_at)
    );
    if let Some(n) = r.sample_size.filter(|n| compared < *n) {
        out.push_str(&format!(
            "\n  old storage has only {}, fewer than the {n} asked for: this run is no evidence for any guard; run `attrmig cross-check {id}` (every key)",
            counted(compared, "key", "keys")
        ));
    }
    if r.counts.clean() {
        out.push_str("\n  old and new agree");
        return out;
    }
    let mut t = table(&["KEY", "MISMATCH", "FIELD", "OLD", "NEW"]);
    for m in &r.mismatches {
        t.add_row(vec![
            m.key.clone(),
            m.class.as_str().to_owned(),
            m.field.clone(),
            render::value(m.old.as_deref()),
            render::value(m.new.as_deref()),
        ]);
    }
    let shown = r.mismatches.len() as u64;
    out.push('\n');
    out.push_str(&t.to_string());
    if r.counts.mismatches() > shown {
        out.push_str(&format!(
            "\n  … {} more (--max-report raises the limit)",
            r.counts.mismatches() - shown
        ));
    }
    out
}
