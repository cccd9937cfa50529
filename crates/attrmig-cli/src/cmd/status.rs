//! `attrmig status`: every migration at a glance.

use clap::Args;
use serde_json::json;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// Every migration at a glance.
///
/// Its step, its next step, what blocks it, its last cross-check, its owners.
/// Migrations with a plan but no record yet show as 0 planned.
#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(ctx: &Ctx, _args: StatusArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let rows = engine.status()?;
    if ctx.out.json {
        ctx.out.json(&json!({ "migrations": rows }))?;
    } else {
        ctx.out.text(&render::status(&rows))?;
    }
    Ok(Code::Ok)
}
