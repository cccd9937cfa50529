//! `attrmig log ID`.

use attrmig_engine::Verification;
use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// The audit log of a migration, oldest first.
///
/// `--verify` recomputes the hash chain and exits 4 if any entry was altered, removed or
/// reordered.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Migration id.
    pub id: String,
    /// Recompute and check the hash chain.
    #[arg(long)]
    pub verify: bool,
}

pub fn run(ctx: &Ctx, args: LogArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let view = engine.log(&args.id, args.verify)?;
    if ctx.out.json {
        ctx.out.json(&view)?;
    } else {
        ctx.out.text(&render::log(&view))?;
    }
    Ok(match view.verification {
        Some(Verification::Broken { .. }) => Code::Found,
        _ => Code::Ok,
    })
}
