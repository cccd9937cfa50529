//! `attrmig rollback ID --reason`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// Return one step, from 1 to 8 only; 9 and 10 are past the point of no return.
///
/// Rolling back from 8 re-arms the cross-check and sync tools.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Migration id.
    pub id: String,
    /// Why; recorded in the audit log.
    #[arg(long)]
    pub reason: String,
}

pub fn run(ctx: &Ctx, args: RollbackArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let moved = engine.rollback(&args.id, &args.reason)?;
    if ctx.out.json {
        ctx.out.json(&moved)?;
    } else {
        ctx.out.text(&render::moved(&args.id, &moved))?;
    }
    Ok(Code::Ok)
}
