//! `attrmig approve ID`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};

/// Approve passing the point of no return (9 stop-writing-old).
///
/// Counts toward `guards.approvals` when someone else advances; a rollback withdraws
/// approvals.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Migration id.
    pub id: String,
    /// Recorded with the approval.
    #[arg(long)]
    pub note: Option<String>,
}

pub fn run(ctx: &Ctx, args: ApproveArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let moved = engine.approve(&args.id, args.note)?;
    if ctx.out.json {
        ctx.out.json(&moved)?;
    } else {
        ctx.out.text(&format!(
            "{}: approved by {} (it counts when someone else advances to 9)\n  audit entry {} (hash {})",
            args.id,
            moved.actor,
            moved.version,
            &moved.hash[..12]
        ))?;
    }
    Ok(Code::Ok)
}
