//! Writes and reads per the mode, from a synchronous and from an async (tokio) caller:
//! which closures run, in which order, what is served, what is counted, what is logged.
//! Modes are set by pinning, on a real SQLite state database.

mod common;

use std::cell::RefCell;
use std::sync::Mutex;

use attrmig_app::diff::Fields;
use attrmig_app::{Instance, Migration, ReadError, Side, Step, WriteError};
use attrmig_core::fleet::Counter;
use common::*;

fn pinned(state: &State, step: Step) -> (Instance, Migration) {
    let instance = state.instance().pin(ID, step).open().expect("open");
    let m = instance.migration(ID).expect("declared");
    (instance, m)
}

/// Which closures a write runs, in order.
fn writes(m: &Migration) -> Vec<&'static str> {
    let order = RefCell::new(Vec::new());
    m.write(
        || {
            order.borrow_mut().push("old");
            Ok::<(), ()>(())
        },
        || {
            order.borrow_mut().push("new");
            Ok(())
        },
    )
    .unwrap();
    order.into_inner()
}

#[test]
fn writes_follow_the_mode_old_first() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let expected = [
        (Step::Planned, vec!["old"]),
        (Step::CrossCheck, vec!["old"]),
        (Step::DoubleWrite, vec!["old", "new"]),
        (Step::DoubleReadNew, vec!["old", "new"]),
        (Step::DeleteTools, vec!["old", "new"]),
        (Step::StopWritingOld, vec!["new"]),
        (Step::DropOld, vec!["new"]),
    ];
    for (step, order) in expected {
        let (_i, m) = pinned(&state, step);
        assert_eq!(writes(&m), order, "{step}");
    }
}

#[test]
fn a_failed_old_write_skips_new_and_each_side_is_surfaced() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let (_i, m) = pinned(&state, Step::DoubleWrite);
    let new_ran = RefCell::new(false);
    let err = m
        .write(
            || Err("old is down"),
            || {
                *new_ran.borrow_mut() = true;
                Ok(())
            },
        )
        .unwrap_err();
    assert_eq!(err, WriteError::Old("old is down"));
    assert_eq!(err.side(), Side::Old);
    assert!(
        !*new_ran.borrow(),
        "new must not be written when old failed"
    );
    let err = m.write(|| Ok(()), || Err("new is down")).unwrap_err();
    assert_eq!(err.side(), Side::New);
    assert_eq!(err.into_inner(), "new is down");
}

/// Reads with closures that count their calls; returns (value, old calls, new calls).
fn read_counting(
    m: &Migration,
    old: impl Fn(u32) -> Result<&'static str, &'static str>,
    new: impl Fn(u32) -> Result<&'static str, &'static str>,
) -> (Result<&'static str, ReadError<&'static str>>, u32, u32) {
    let (o, n) = (RefCell::new(0), RefCell::new(0));
    let value = m.read(
        &42,
        || {
            *o.borrow_mut() += 1;
            old(*o.borrow())
        },
        || {
            *n.borrow_mut() += 1;
            new(*n.borrow())
        },
    );
    (value, o.into_inner(), n.into_inner())
}

#[test]
fn reads_follow_the_mode() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let old = |_| Ok("Ada");
    let new = |_| Ok("Ada");
    for (step, calls) in [
        (Step::Sync, (1, 0)),
        (Step::DoubleReadOld, (1, 1)),
        (Step::DoubleReadNew, (1, 1)),
        (Step::StopReadingOld, (0, 1)),
        (Step::DropOld, (0, 1)),
    ] {
        let (_i, m) = pinned(&state, step);
        let (value, o, n) = read_counting(&m, old, new);
        assert_eq!((value.unwrap(), (o, n)), ("Ada", calls), "{step}");
    }
    // 5a serves old, 5b serves new, when they disagree.
    let (_i, m) = pinned(&state, Step::DoubleReadOld);
    let (value, o, n) = read_counting(&m, |_| Ok("old"), |_| Ok("new"));
    assert_eq!((value.unwrap(), o, n), ("old", 2, 2), "read again once");
    let (_i, m) = pinned(&state, Step::DoubleReadNew);
    assert_eq!(
        read_counting(&m, |_| Ok("old"), |_| Ok("new")).0.unwrap(),
        "new"
    );
}

#[test]
fn the_compared_sides_error_is_counted_and_the_served_value_returned() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let (_i, m) = pinned(&state, Step::DoubleReadOld);
    let ((value, _, _), log) = logged(|| read_counting(&m, |_| Ok("Ada"), |_| Err("new is down")));
    assert_eq!(value.unwrap(), "Ada");
    assert!(
        log.contains("the compared side of a double read failed"),
        "{log}"
    );
    // The served side's error is the caller's.
    let (value, _, n) = read_counting(&m, |_| Err("old is down"), |_| Ok("Ada"));
    assert_eq!(value.unwrap_err(), ReadError::Old("old is down"));
    assert_eq!(
        n, 0,
        "no point reading new when old, the served side, failed"
    );
    let (_i, m) = pinned(&state, Step::StopReadingOld);
    let (value, _, _) = read_counting(&m, |_| Ok("x"), |_| Err("new is down"));
    assert_eq!(value.unwrap_err().side(), Side::New);
}

#[test]
fn a_mismatch_that_vanishes_when_read_again_is_transient() {
    let db = TestDb::sqlite();
    let mut state = State::new(&db);
    let (instance, m) = pinned(&state, Step::DoubleReadOld);
    // A write lands between the first two reads: new is behind once, then equal.
    let ((value, o, n), log) = logged(|| {
        read_counting(
            &m,
            |_| Ok("Ada B."),
            |call| Ok(if call == 1 { "Ada" } else { "Ada B." }),
        )
    });
    assert_eq!((value.unwrap(), o, n), ("Ada B.", 2, 2));
    assert!(log.contains("persistent=false"), "{log}");
    assert!(!log.contains("WARN"), "a race is not a bug: {log}");
    // A planted bug: new always drops the initial.
    let ((value, _, _), log) = logged(|| read_counting(&m, |_| Ok("Ada B."), |_| Ok("Ada")));
    assert_eq!(value.unwrap(), "Ada B.");
    assert!(
        log.contains("WARN") && log.contains("persistent=true") && log.contains("key=42"),
        "{log}"
    );
    assert!(
        log.contains(r#"fields=value: old "Ada B." new "Ada""#),
        "{log}"
    );
    instance.shutdown();
    let report = state.reports(ID).pop().expect("a report");
    let c = report.current_counters();
    assert_eq!(c[Counter::Compared], 2);
    assert_eq!(c[Counter::TransientMismatches], 1);
    assert_eq!(c[Counter::Mismatches], 1);
    assert_eq!(c[Counter::ReadsOld], 4);
    assert_eq!(report.mismatches.len(), 1);
    assert_eq!(report.mismatches[0].key, "42");
    assert_eq!(report.mismatches[0].fields[0].old, "\"Ada B.\"");
}

#[derive(Debug, PartialEq, Clone)]
struct User {
    first: String,
    last: String,
    loaded_at: u64,
}

#[test]
fn a_struct_is_compared_by_the_fields_the_application_names() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let (_i, m) = pinned(&state, Step::DoubleReadNew);
    let diff = |a: &User, b: &User| {
        Fields::new(a, b)
            .field("first", |u| &u.first)
            .field("last", |u| &u.last)
            .finish()
    };
    let user = |last: &str, loaded_at| User {
        first: "Ada".into(),
        last: last.into(),
        loaded_at,
    };
    // loaded_at differs on every read: not a mismatch, since it isn't compared.
    let (got, log) = logged(|| {
        m.read_with(
            &7,
            diff,
            || Ok::<_, ()>(user("Lovelace", 1)),
            || Ok(user("Lovelace", 2)),
        )
    });
    assert_eq!(got.unwrap(), user("Lovelace", 2));
    assert!(!log.contains("disagree"), "{log}");
    let (_, log) = logged(|| {
        m.read_with(
            &7,
            diff,
            || Ok::<_, ()>(user("Lovelace", 1)),
            || Ok(user("King", 1)),
        )
    });
    assert!(
        log.contains(r#"fields=last: old "Lovelace" new "King""#) && !log.contains("first:"),
        "{log}"
    );
}

#[test]
fn compare_ratio_samples_which_reads_compare() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let instance = state
        .instance()
        .pin(ID, Step::DoubleReadOld)
        .compare_ratio(0.0)
        .open()
        .unwrap();
    let m = instance.migration(ID).unwrap();
    let (value, o, n) = read_counting(&m, |_| Ok("old"), |_| Ok("new"));
    assert_eq!(
        (value.unwrap(), o, n),
        ("old", 1, 0),
        "not compared: old only"
    );
    m.set_compare_ratio(0.5);
    let compared: u32 = (0..400)
        .map(|_| read_counting(&m, |_| Ok("x"), |_| Ok("x")).2)
        .sum();
    assert!((120..280).contains(&compared), "{compared} of 400");
}

#[test]
fn redacted_values_stay_out_of_logs_and_reports() {
    let db = TestDb::sqlite();
    let mut state = State::new(&db);
    let instance = state
        .instance()
        .pin(ID, Step::DoubleReadOld)
        .redact_values(true)
        .open()
        .unwrap();
    let m = instance.migration(ID).unwrap();
    let (_, log) = logged(|| read_counting(&m, |_| Ok("secret-a"), |_| Ok("secret-b")));
    assert!(!log.contains("secret"), "{log}");
    instance.shutdown();
    let report = state.reports(ID).pop().unwrap();
    assert_eq!(report.mismatches[0].fields[0].old, "[redacted]");
}

#[test]
fn undeclared_and_bad_options_are_refused_at_open() {
    let db = TestDb::sqlite();
    let state = State::new(&db);
    let err = Instance::builder()
        .state_url(db.url())
        .open()
        .err()
        .unwrap();
    assert!(err.to_string().contains("no migration declared"), "{err}");
    let err = state.instance().compare_ratio(2.0).open().err().unwrap();
    assert!(
        err.to_string()
            .contains("compare_ratio must be between 0 and 1"),
        "{err}"
    );
    let err = state
        .instance()
        .pin("other", Step::Sync)
        .open()
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("`other` is pinned but not declared"),
        "{err}"
    );
    let err = state.instance().migration("Bad Id").open().err().unwrap();
    assert!(
        err.to_string()
            .contains("\"Bad Id\" is not a valid migration id"),
        "{err}"
    );
    let instance = state.instance().open().unwrap();
    assert!(instance.migration("other").is_none());
}

// --- async -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_writes_and_reads_follow_the_mode() {
    let db = TestDb::sqlite();
    let mut state = State::new(&db);
    let instance = state
        .instance()
        .pin(ID, Step::DoubleReadNew)
        .open()
        .unwrap();
    let m = instance.migration(ID).unwrap();
    let order = Mutex::new(Vec::new());
    m.write_async(
        || async {
            order.lock().unwrap().push("old");
            Ok::<(), ()>(())
        },
        || async {
            tokio::task::yield_now().await;
            order.lock().unwrap().push("new");
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(*order.lock().unwrap(), ["old", "new"]);

    // Both sides are awaited at once; new is served at 5b.
    let served = m
        .read_async(
            &"k1",
            || async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok::<_, ()>(Some("Ada"))
            },
            || async { Ok(Some("Ada")) },
        )
        .await
        .unwrap();
    assert_eq!(served, Some("Ada"));
    // A persistent mismatch, read again once.
    let calls = Mutex::new(0);
    let served = m
        .read_async(
            &"k2",
            || async {
                *calls.lock().unwrap() += 1;
                Ok::<_, ()>("old")
            },
            || async { Ok("new") },
        )
        .await
        .unwrap();
    assert_eq!((served, *calls.lock().unwrap()), ("new", 2));
    let err = m
        .read_async(
            &"k3",
            || async { Ok("old") },
            || async { Err("new is down") },
        )
        .await
        .unwrap_err();
    assert_eq!(err, ReadError::New("new is down"));

    let m2 = m.clone();
    tokio::task::spawn_blocking(move || drop(m2)).await.unwrap();
    tokio::task::spawn_blocking(move || instance.shutdown())
        .await
        .unwrap();
    let report = state.reports(ID).pop().unwrap();
    let c = report.current_counters();
    assert_eq!(
        (
            c[Counter::WritesOld],
            c[Counter::WritesNew],
            c[Counter::Compared],
            c[Counter::Mismatches]
        ),
        (1, 1, 2, 1)
    );
    assert_eq!(c[Counter::ReadErrorsNew], 1);
    assert_eq!(report.mismatches[0].key, "k2");
}
