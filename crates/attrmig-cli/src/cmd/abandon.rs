//! `attrmig abandon ID --reason`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// Give the migration up, before 9 only.
///
/// An abandoned migration can't move again; the application goes back to old storage only
/// (see `attrmig mode`).
#[derive(Debug, Args)]
pub struct AbandonArgs {
    /// Migration id.
    pub id: String,
    /// Why; recorded in the audit log.
    #[arg(long)]
    pub reason: String,
}

pub fn run(ctx: &Ctx, args: AbandonArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let moved = engine.abandon(&args.id, &args.reason)?;
    if ctx.out.json {
        ctx.out.json(&moved)?;
    } else {
        ctx.out.text(&render::moved(&args.id, &moved))?;
    }
    Ok(Code::Ok)
}
