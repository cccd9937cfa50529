//! Who is acting: `--actor`, else `ATTRMIG_ACTOR`, else `git config user.email`, else the
//! OS user. Recorded in every audit entry; approvals by the actor themselves don't count.

use std::path::Path;
use std::process::Command;

/// Resolves the actor in the documented order.
pub fn resolve(flag: Option<&str>, cwd: &Path) -> String {
    let non_empty = |s: String| {
        let t = s.trim().to_owned();
        (!t.is_empty()).then_some(t)
    };
    flag.map(str::to_owned)
        .and_then(non_empty)
        .or_else(|| std::env::var("ATTRMIG_ACTOR").ok().and_then(non_empty))
        .or_else(|| git_email(cwd))
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().and_then(non_empty))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_email(cwd: &Path) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(["config", "user.email"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let email = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!email.is_empty()).then_some(email)
}
