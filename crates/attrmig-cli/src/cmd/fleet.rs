//! `attrmig fleet [ID]`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};
use crate::render;

/// The application's instances, from their reports (attrmig-app, docs/app.md).
///
/// For each migration (or the one named): every instance that reported, with the step
/// whose mode it applies and since when, whether it is pinned, when it was last seen,
/// whether it is live (reported within the plan's [fleet] instance_ttl) or gone, and its
/// counts at its current step; whether the live fleet has converged on the migration's
/// step, and who lags.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Migration id (default: every migration with reports).
    pub id: Option<String>,
    /// Only live instances.
    #[arg(long)]
    pub live: bool,
}

pub fn run(ctx: &Ctx, args: FleetArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let mut view = engine.fleet(args.id.as_deref())?;
    if args.live {
        for m in &mut view.migrations {
            m.instances.retain(|i| i.summary.live);
        }
    }
    if ctx.out.json {
        ctx.out.json(&view)?;
    } else {
        ctx.out.text(&render::fleet(&view))?;
    }
    Ok(Code::Ok)
}
