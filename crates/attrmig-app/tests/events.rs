//! The events the background threads log, captured by a process-wide subscriber (this
//! file is its own test binary, so installing one is safe): the state database becoming
//! unreadable is said once, with the modes kept, and its recovery too.

mod common;

use attrmig_app::Step;
use attrmig_core::Position;
use common::*;

#[test]
fn staleness_and_recovery_are_logged_once_each() {
    let buf = Buf::default();
    tracing::subscriber::set_global_default(buf.subscriber()).expect("the only subscriber");
    let log = || buf.text();

    let db = TestDb::sqlite();
    let mut state = State::new(&db);
    for step in [Step::PrepareStorage, Step::CrossCheck, Step::DoubleWrite] {
        state.set(ID, Position::At(step));
    }
    let instance = state.instance().open().unwrap();
    db.execute("ALTER TABLE attrmig_migrations RENAME TO attrmig_migrations_away");
    eventually("the outage is logged", || {
        log().contains("cannot read the migrations' steps")
    });
    // Several failed refreshes later, still one event.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = log();
    assert_eq!(
        text.matches("cannot read the migrations' steps").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("WARN")
            && text.contains("keeping the modes applied (users-full-name at 3 double-write)"),
        "{text}"
    );
    assert!(instance.is_stale());
    db.execute("ALTER TABLE attrmig_migrations_away RENAME TO attrmig_migrations");
    eventually("the recovery is logged", || {
        log().contains("the state database is readable again")
    });
    assert!(!instance.is_stale());
}
