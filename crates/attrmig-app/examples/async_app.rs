//! An async (tokio) application taking part in migration `users-full-name`.
//!
//! ```sh
//! cargo run -p attrmig-app --example async_app
//! ATTRMIG_STATE_URL=postgres://app@localhost/app cargo run -p attrmig-app --example async_app
//! ```
//!
//! The same as `sync_app`, with storage calls that await (here a sleep standing in for a
//! query): a compared read awaits both sides at once. The library needs no runtime of
//! its own: its refresh and reports run on two plain threads, and `open` blocks for one
//! round trip, so it runs in `spawn_blocking`.

#![allow(clippy::print_stdout)] // an example talks to whoever runs it

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attrmig_app::{Instance, Step};

type Table = Arc<Mutex<HashMap<u64, String>>>;

async fn put(table: &Table, id: u64, name: &str) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    table
        .lock()
        .map_err(|e| e.to_string())?
        .insert(id, name.to_owned());
    Ok(())
}

async fn get(table: &Table, id: u64) -> Result<Option<String>, String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(table.lock().map_err(|e| e.to_string())?.get(&id).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let (url, _scratch) = state_url()?;
    let instance = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Instance::builder()
                .state_url(&url)
                .migration("users-full-name")
                .app_version(env!("CARGO_PKG_VERSION"))
                .report_every(Duration::from_secs(1))
                .open()
        })
        .await??
    };
    let names = instance
        .migration("users-full-name")
        .expect("declared above");
    let (old, new): (Table, Table) = Default::default();
    names.pin(Step::DoubleReadNew);
    println!(
        "pinned at {}: {}",
        names.status().step,
        names.mode().describe()
    );

    // Requests run concurrently, each through the library.
    let mut tasks = Vec::new();
    for id in 1..=20u64 {
        let (names, old, new) = (names.clone(), old.clone(), new.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("user {id}");
            names
                .write_async(|| put(&old, id, &name), || put(&new, id, &name))
                .await
                .map_err(|e| e.to_string())?;
            names
                .read_async(&id, || get(&old, id), || get(&new, id))
                .await
                .map_err(|e| e.to_string())
        }));
    }
    for task in tasks {
        let served = task.await??;
        println!("served {served:?} (from new; both compared)");
    }
    tokio::task::spawn_blocking(move || {
        drop(names);
        instance.shutdown();
    })
    .await?;
    println!("reported to {url}; `attrmig fleet users-full-name` lists this instance");
    Ok(())
}

/// `$ATTRMIG_STATE_URL`, or a scratch SQLite file with attrmig's state tables.
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
