//! `attrmig acknowledge-extra ID --note "..."`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};

/// Record that the rows only in new storage a cross-check found may stay.
///
/// The sync never deletes a new row whose key old storage lacks; the guards of 4 to 8 then
/// wait for `sync --delete-extra` to remove such rows, or for a person who looked at them
/// to say they may stay. This records that, with the note, in the audit log: the full
/// cross-check run, and every row it found only in new storage (its key and its value
/// then). The guards count the rows it names with those values; a row that appears later,
/// or whose value changes, is not covered and needs a look of its own.
#[derive(Debug, Args)]
pub struct AcknowledgeExtraArgs {
    /// Migration id.
    pub id: String,
    /// Why the rows may stay (what they are, who looked): recorded in the audit log.
    #[arg(long)]
    pub note: String,
    /// The full cross-check run whose rows to acknowledge [default: the latest full run].
    #[arg(long, value_name = "N")]
    pub run: Option<i64>,
}

pub fn run(ctx: &Ctx, args: AcknowledgeExtraArgs) -> Result<Code, Failure> {
    if args.note.trim().is_empty() {
        return Err(Failure::Usage(
            "--note must say why the rows only in new storage may stay; it goes into the audit log"
                .into(),
        ));
    }
    let mut engine = ctx.engine()?;
    let moved = engine.acknowledge_extra(&args.id, args.run, &args.note)?;
    if ctx.out.json {
        ctx.out.json(&moved)?;
    } else {
        let evidence = &moved.evidence;
        let keys: Vec<&str> = evidence["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["key"].as_str())
            .collect();
        let shown = if keys.len() > 10 {
            format!("{}, … ({} in all)", keys[..10].join(", "), keys.len())
        } else {
            keys.join(", ")
        };
        ctx.out.text(&format!(
            "{}: {} only in new storage, found by cross-check run {}, acknowledged by {} ({} {shown})\n  the guards of 4 to 8 count these rows with these values; any other needs `attrmig sync {} --delete-extra` or a look of its own\n  audit entry {} (hash {})",
            args.id,
            attrmig_core::refusal::counted(keys.len() as u64, "row", "rows"),
            evidence["cross_check_run"],
            moved.actor,
            if keys.len() == 1 { "key" } else { "keys" },
            args.id,
            moved.version,
            &moved.hash[..12]
        ))?;
    }
    Ok(Code::Ok)
}
