//! A synchronous application taking part in migration `users-full-name`.
//!
//! ```sh
//! cargo run -p attrmig-app --example sync_app                     # a scratch SQLite state database
//! ATTRMIG_STATE_URL=postgres://app@localhost/app cargo run -p attrmig-app --example sync_app
//! ```
//!
//! Its storage is two maps (old: `users.full_name`, new: `users_pii.full_name`); a real
//! application's closures run its queries. It writes and reads through the library at
//! the migration's step, then pins 5a to show a compared read and a planted bug: one key
//! whose new value is written wrong, reported as a persistent mismatch.

#![allow(clippy::print_stdout)] // an example talks to whoever runs it

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use attrmig_app::{Instance, Step};

#[derive(Default)]
struct Storage {
    old: Mutex<HashMap<u64, String>>,
    new: Mutex<HashMap<u64, String>>,
}

impl Storage {
    fn put(map: &Mutex<HashMap<u64, String>>, id: u64, name: &str) -> Result<(), String> {
        map.lock()
            .map_err(|e| e.to_string())?
            .insert(id, name.to_owned());
        Ok(())
    }

    fn get(map: &Mutex<HashMap<u64, String>>, id: u64) -> Result<Option<String>, String> {
        Ok(map.lock().map_err(|e| e.to_string())?.get(&id).cloned())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let (url, _scratch) = state_url()?;
    let instance = Instance::builder()
        .state_url(&url)
        .migration("users-full-name")
        .app_version(env!("CARGO_PKG_VERSION"))
        .refresh_every(Duration::from_millis(500))
        .report_every(Duration::from_secs(1))
        .open()?;
    let names = instance
        .migration("users-full-name")
        .expect("declared above");
    let db = Storage::default();
    println!("at {}: {}", names.status().step, names.mode().describe());

    for (id, name) in [
        (1, "Ada Lovelace"),
        (2, "Grace Hopper"),
        (3, "Edsger Dijkstra"),
    ] {
        names.write(
            || Storage::put(&db.old, id, name),
            || Storage::put(&db.new, id, name),
        )?;
    }

    // As if the migration were at 5a, with a bug in the new write path for key 3.
    names.pin(Step::DoubleReadOld);
    for (id, name) in [(1, "Ada King"), (3, "Edsger W. Dijkstra")] {
        let wrong = if id == 3 { "Edsger W." } else { name };
        names.write(
            || Storage::put(&db.old, id, name),
            || Storage::put(&db.new, id, wrong),
        )?;
    }
    // User 2 was written at 0 planned (old only) and never synced: the double read finds
    // it missing in new, as it finds the planted bug in user 3.
    for id in 1..=3 {
        let served = names.read(
            &id,
            || Storage::get(&db.old, id),
            || Storage::get(&db.new, id),
        )?;
        println!("user {id}: {served:?} (served from old; both compared)");
    }
    let status = names.status();
    println!(
        "at {}{}: {} (state database stale: {})",
        status.step,
        if status.pinned { ", pinned" } else { "" },
        status.mode.describe(),
        status.stale
    );
    // Dropping the instance writes a last report: `attrmig fleet` shows it.
    drop(names);
    drop(instance);
    println!("reported to {url}; `attrmig fleet users-full-name` lists this instance");
    Ok(())
}

/// `$ATTRMIG_STATE_URL`, or a scratch SQLite file with attrmig's state tables (what the
/// first `attrmig` command creates in a real project).
fn state_url() -> Result<(String, Option<tempfile::TempDir>), Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("ATTRMIG_STATE_URL") {
        return Ok((url, None));
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.db");
    let mut conn = attrmig_db::create_sqlite(&path)?;
    attrmig_store::setup::ensure_schema(&mut conn)?;
    Ok((format!("sqlite://{}", path.display()), Some(dir)))
}
