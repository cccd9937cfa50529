//! `attrmig demo` walks its sandbox through all ten steps with an application of three
//! instances reporting through attrmig-app: the transcript shows the fleet, the refusal
//! that names the instance on an old release, and the fleet converged at the end; the
//! sandbox stays usable.

#[test]
fn the_demo_shows_its_fleet_and_a_refusal_naming_the_lagging_instance() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attrmig"))
        .args(["demo", "--dir", "sandbox", "--rows", "1000"])
        .current_dir(dir.path())
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "users-full-name at 3 double-write: 3 live, 1 lagging: web-3 on host-c at 2",
        "✗ fleet-wrote-both-before-sync: 1 live instance(s) still write old storage only, so 4 sync can't be entered: web-3 (",
        "on host-c, version 2026.11.2) at 2 cross-check: writes old, reads old, pinned, last seen",
        "users-full-name at 3 double-write: 3 live, converged",
        "✓ fleet-wrote-both-before-sync: sync pass 2 started",
        "✓ fleet-compared-reads: the fleet compared",
        "0 persistent and 0 transient mismatch(es)",
        "✓ fleet-stopped-reading-old: no live instance reads old storage",
        "✓ fleet-stopped-writing-old: the whole fleet writes new only since",
        "late write(s) accepted (token ",
        "refused: 1 key of old storage written since ",
        "users-full-name at 10 drop-old: 3 live, converged",
        "hash chain intact: 15 entries, ending at 10 drop-old",
    ] {
        assert!(
            text.contains(expected),
            "the transcript lacks {expected:?}:\n{text}"
        );
    }
    // The sandbox keeps the instances' last reports.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attrmig"))
        .args(["--json", "fleet", "users-full-name"])
        .current_dir(dir.path().join("sandbox"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let fleet: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let instances = fleet["migrations"][0]["instances"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(instances.len(), 3, "{fleet:#}");
    assert!(
        instances
            .iter()
            .all(|i| i["step"] == "drop-old" && i["app_version"] == "2026.11.3"),
        "{fleet:#}"
    );
}
