//! Hand-written tools (`[tools] paths`) that exist again after step 8 delete-tools: the
//! guard of 8 saw them gone, and something brought them back. A sync tool run after 9
//! copies stale old values over the new ones that are now the only ones written.

use std::path::Path;

use attrmig_core::{Position, Step};

use crate::plans::PlanFile;
use crate::{Finding, Recorded, Rule};

/// Tool paths present under `root` for migrations at 8 delete-tools or later.
pub(crate) fn returned(root: &Path, plans: &[PlanFile], recorded: &[Recorded]) -> Vec<Finding> {
    let mut out = Vec::new();
    for file in plans {
        let Some(plan) = &file.plan else { continue };
        let Some(Position::At(step)) = recorded
            .iter()
            .find(|r| r.id == file.id)
            .map(|r| r.position)
        else {
            continue;
        };
        if step < Step::DeleteTools {
            continue;
        }
        // The same test as the guard of 8 uses, so check and advance agree on "gone".
        for tool in plan.tools.paths.iter().filter(|p| root.join(p).exists()) {
            let danger = if step >= Step::StopWritingOld {
                "running it now would clobber new data with stale old values"
            } else {
                "after step 9 it would clobber new data"
            };
            out.push(Finding {
                rule: Rule::ToolReturned,
                migration: Some(file.id.clone()),
                path: tool.clone(),
                line: None,
                message: format!(
                    "the hand-written sync or cross-check tool {tool} of {} came back after its deletion (the migration is at {}); {danger}: delete it again",
                    file.id,
                    Position::At(step)
                ),
            });
        }
    }
    out
}
