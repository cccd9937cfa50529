//! The procedure's steps as the operator takes them, with the fleet under load: each
//! application step is followed by the fleet applying it, and by writes made in it.

use attrmig_core::Step;

use super::{Load, Operator};

/// Writes made at each step before the walk goes on.
const WRITES_PER_STEP: u64 = 20;

/// 0 → 3: new storage by attrmig's DDL, a cross-check (its mismatches are expected),
/// double-write; the fleet applies it.
pub fn to_double_write(op: &mut Operator, load: &Load, live: usize) {
    op.ddl(Step::PrepareStorage);
    assert_eq!(op.advance(), Step::PrepareStorage);
    load.wait_for_writes(WRITES_PER_STEP);
    assert!(!op.cross_check(), "nothing is copied yet");
    assert_eq!(op.advance(), Step::CrossCheck);
    load.wait_for_writes(WRITES_PER_STEP);
    let note = "the service writes both through attrmig-app: the step is the flag";
    assert_eq!(op.advance_with(Some(note), false), Step::DoubleWrite);
    op.wait_converged(live);
    load.wait_for_writes(WRITES_PER_STEP);
}

/// 3 → 4: a sync pass started after the whole fleet wrote both, throttled so that the
/// fleet's writes land among its batches, then a full cross-check that is clean although
/// the fleet writes throughout.
pub fn to_sync(op: &mut Operator, load: &Load) {
    op.sync(Some(1_000));
    load.wait_for_writes(WRITES_PER_STEP);
    assert!(
        op.cross_check(),
        "old and new agree after the sync, under load"
    );
    assert_eq!(op.advance(), Step::Sync);
    load.wait_for_writes(WRITES_PER_STEP);
}

/// 4 → 5a: the fleet reads both, serves old.
pub fn to_double_read_old(op: &mut Operator, load: &Load, live: usize) {
    assert_eq!(op.advance(), Step::DoubleReadOld);
    op.wait_converged(live);
    load.wait_for_writes(WRITES_PER_STEP);
}

/// 5a → 5b → 6: each after the soak, with enough compared reads and none that
/// disagreed, and a fresh clean cross-check.
pub fn through_double_read(op: &mut Operator, load: &Load, live: usize) {
    for next in [Step::DoubleReadNew, Step::StopReadingOld] {
        assert!(op.cross_check(), "old and new agree at {}", op.step());
        assert_eq!(op.advance_when_ready(), next);
        op.wait_converged(live);
        load.wait_for_writes(WRITES_PER_STEP);
    }
}

/// 6 → 7 → 8: old storage accepts rows without the attribute; the tools retire.
pub fn to_delete_tools(op: &mut Operator, load: &Load) {
    op.ddl(Step::PrepareOldStop);
    assert_eq!(op.advance(), Step::PrepareOldStop);
    load.wait_for_writes(WRITES_PER_STEP);
    assert_eq!(op.advance(), Step::DeleteTools);
    load.wait_for_writes(WRITES_PER_STEP);
}
