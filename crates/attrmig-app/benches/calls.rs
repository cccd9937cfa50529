//! The library's own cost per call, beside the application's closures.
//!
//! ```sh
//! cargo bench -p attrmig-app --bench calls
//! ```
//!
//! Each case runs batches of calls whose closures do nothing but return a value, and
//! the same closures called directly; the library's cost is the difference of the
//! medians of the per-call times. Target (docs/benchmarks.md): at most 1 µs median for
//! a call that is not compared. Report writing runs on its own thread meanwhile, as in
//! an application.

#![allow(clippy::print_stdout)] // a bench prints its results

use std::hint::black_box;
use std::time::{Duration, Instant};

use attrmig_app::{Instance, Migration, Step};

const BATCH: u32 = 10_000;
const BATCHES: usize = 300;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median nanoseconds per call of `f` over batches.
fn per_call(mut f: impl FnMut()) -> f64 {
    for _ in 0..BATCH {
        f();
    }
    let samples = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    median(samples)
}

fn old() -> Result<u64, ()> {
    Ok(black_box(7))
}

fn new() -> Result<u64, ()> {
    Ok(black_box(7))
}

fn write_old() -> Result<(), ()> {
    black_box(());
    Ok(())
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut conn = attrmig_db::create_sqlite(&path).unwrap();
    attrmig_store::setup::ensure_schema(&mut conn).unwrap();
    let instance = Instance::builder()
        .state_url(&format!("sqlite://{}", path.display()))
        .migration("bench")
        .report_every(Duration::from_secs(1))
        .open()
        .unwrap();
    let at = |step: Step, ratio: f64| -> Migration {
        let m = instance.migration("bench").unwrap();
        m.pin(step);
        m.set_compare_ratio(ratio);
        m
    };

    let direct_one = per_call(|| {
        black_box(old().unwrap());
    });
    let direct_both = per_call(|| {
        black_box(old().unwrap());
        black_box(new().unwrap());
    });
    let direct_write = per_call(|| {
        write_old().unwrap();
        write_old().unwrap();
    });

    let mut rows = Vec::new();
    let mut case = |name: &str, compared: bool, direct: f64, lib: f64| {
        rows.push((name.to_owned(), compared, direct, lib));
    };
    let m = at(Step::DoubleWrite, 1.0);
    let lib = per_call(|| m.write(write_old, write_old).unwrap());
    case(
        "write, 3 double-write (old then new)",
        false,
        direct_write,
        lib,
    );
    let m = at(Step::Sync, 1.0);
    let lib = per_call(|| {
        black_box(m.read(&1u64, old, new).unwrap());
    });
    case("read, 4 sync (old only)", false, direct_one, lib);
    let m = at(Step::DoubleReadOld, 0.0);
    let lib = per_call(|| {
        black_box(m.read(&1u64, old, new).unwrap());
    });
    case(
        "read, 5a, not sampled (compare_ratio 0)",
        false,
        direct_one,
        lib,
    );
    let m = at(Step::StopReadingOld, 1.0);
    let lib = per_call(|| {
        black_box(m.read(&1u64, old, new).unwrap());
    });
    case(
        "read, 6 stop-reading-old (new only)",
        false,
        direct_one,
        lib,
    );
    let lib = per_call(|| {
        black_box(instance.read("bench", &1u64, old, new).unwrap());
    });
    case("read by id (Instance::read), 6", false, direct_one, lib);
    // Two threads counting into the same migration's counters at once (this machine
    // has two cores): the contended case.
    let m = at(Step::Sync, 1.0);
    let lib = std::thread::scope(|s| {
        let other = s.spawn(|| {
            per_call(|| {
                black_box(m.read(&1u64, old, new).unwrap());
            })
        });
        let mine = per_call(|| {
            black_box(m.read(&1u64, old, new).unwrap());
        });
        mine.max(other.join().unwrap())
    });
    case("read, 4 sync, two threads at once", false, direct_one, lib);
    let m = at(Step::DoubleReadOld, 1.0);
    let lib = per_call(|| {
        black_box(m.read(&1u64, old, new).unwrap());
    });
    case("read, 5a, compared (equal)", true, direct_both, lib);

    println!("| call | compared | closures alone | through attrmig-app | library's own cost |");
    println!("|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, compared, direct, lib) in &rows {
        let own = lib - direct;
        if !compared {
            worst = worst.max(own);
        }
        println!(
            "| {name} | {} | {direct:.1} ns | {lib:.1} ns | {own:.1} ns |",
            if *compared { "yes" } else { "no" }
        );
    }
    println!(
        "\nlargest own cost of a call that is not compared: {worst:.1} ns (target: at most 1000 ns): {}",
        if worst <= 1000.0 { "met" } else { "NOT met" }
    );
}
