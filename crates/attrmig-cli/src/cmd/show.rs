//! `attrmig show ID`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// One migration: the ladder of steps (reached, current, next, later) and every guard of
/// the next step with pass/fail and why.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Migration id.
    pub id: String,
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let show = engine.show(&args.id)?;
    if ctx.out.json {
        ctx.out.json(&show)?;
    } else {
        ctx.out.text(&render::show(&show))?;
    }
    Ok(Code::Ok)
}
