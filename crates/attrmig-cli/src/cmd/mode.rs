//! `attrmig mode ID`.

use clap::Args;

use super::Ctx;
use crate::exit::{Code, Failure};

/// What the application must do now.
///
/// Write old and/or new, read old, both or new, and which value wins.
/// Use `--json` from any language; Rust applications can call `attrmig_core::Mode::at`.
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// Migration id.
    pub id: String,
}

pub fn run(ctx: &Ctx, args: ModeArgs) -> Result<Code, Failure> {
    let mut engine = ctx.engine()?;
    let mode = engine.mode(&args.id)?;
    if ctx.out.json {
        ctx.out.json(&mode)?;
    } else {
        ctx.out.text(&format!(
            "{} at {}{}: {}",
            mode.id,
            mode.step,
            if mode.abandoned { " (abandoned)" } else { "" },
            mode.summary
        ))?;
    }
    Ok(Code::Ok)
}
