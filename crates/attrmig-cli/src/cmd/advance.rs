//! `attrmig advance ID`.

use attrmig_core::Step;
use attrmig_engine::{AdvanceRequest, Intent};
use clap::Args;

use super::{Ctx, parse_step};
use crate::exit::{Code, Failure};
use crate::render;

/// Reach the next step, if every guard passes.
///
/// Refused (exit 3) with every guard's verdict otherwise; nothing is written then.
#[derive(Debug, Args)]
pub struct AdvanceArgs {
    /// Migration id.
    pub id: String,
    /// The step to reach (id or number); must be the next one.
    #[arg(long, value_parser = parse_step)]
    pub to: Option<Step>,
    /// Recorded in the audit entry; entering 3 needs one saying where double-write
    /// shipped.
    #[arg(long)]
    pub note: Option<String>,
    /// Evaluate the guards and print the verdict; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Required to reach 9 stop-writing-old, the point of no return.
    #[arg(long)]
    pub confirm_point_of_no_return: bool,
}

pub fn run(ctx: &Ctx, args: AdvanceArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let req = AdvanceRequest {
        id: args.id.clone(),
        to: args.to,
        intent: Intent {
            note: args.note,
            confirm_point_of_no_return: args.confirm_point_of_no_return,
        },
        dry_run: args.dry_run,
    };
    let done = engine.advance(&req)?;
    if ctx.out.json {
        ctx.out.json(&done)?;
        return Ok(Code::Ok);
    }
    match &done.entry {
        Some(entry) => ctx.out.text(&format!(
            "{}\n{}",
            render::moved(&args.id, entry),
            render::guards(&done.guards)
        ))?,
        None => ctx.out.text(&format!(
            "dry run: {} can go from {} to {}; every guard passes:\n{}",
            args.id,
            done.from,
            done.to,
            render::guards(&done.guards)
        ))?,
    }
    Ok(Code::Ok)
}
