//! What the database itself does with old storage, as guards of 6, 7 and 9 (see
//! [`crate::dependents`]): readers no application deploy switches to new storage,
//! constraints that refuse writes without the attribute, triggers and routines that keep
//! writing it, and whatever stands in the way of dropping it.
//!
//! A dependent found by a text match only (a heuristic) may be vouched for with a
//! `--note` that names it; one the catalogue records may not.

use serde_json::json;

use super::GuardCheck;
use crate::Refusal;
use crate::dependents::{Access, Dependent, DependentKind, FoundBy, OnDrop};
use crate::facts::Facts;
use crate::plan::{OldStorage, Plan};

fn observed(facts: &Facts) -> Result<&[Dependent], Refusal> {
    facts.dependents.as_deref().ok_or(Refusal::NotObserved {
        what: "the database objects that depend on old storage",
    })
}

/// The offenders, less the text matches `--note` vouches for (returned second).
fn unexcused<'a>(
    offenders: Vec<&'a Dependent>,
    facts: &Facts,
) -> (Vec<&'a Dependent>, Vec<&'a Dependent>) {
    offenders
        .into_iter()
        .partition(|d| !(d.found_by == FoundBy::TextMatch && d.named_in(facts.note.as_deref())))
}

fn described(ds: &[&Dependent]) -> Vec<String> {
    ds.iter().map(|d| d.describe_with_evidence()).collect()
}

fn heuristic(ds: &[&Dependent]) -> bool {
    ds.iter().any(|d| d.found_by == FoundBy::TextMatch)
}

fn evidence(
    name: &str,
    all: &[Dependent],
    excused: &[&Dependent],
    note: Option<&str>,
) -> serde_json::Value {
    json!({
        "guard": name,
        "dependents": all,
        "vouched_for_by_note": excused.iter().map(|d| d.describe()).collect::<Vec<_>>(),
        "note": if excused.is_empty() { None } else { note },
    })
}

fn excused_detail(excused: &[&Dependent]) -> String {
    if excused.is_empty() {
        String::new()
    } else {
        format!(
            "; vouched for by --note: {}",
            excused
                .iter()
                .map(|d| d.describe())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The refusal of a guard over some dependents, built from the offenders that are left.
type Refuse = fn(&Plan, &[&Dependent]) -> Refusal;

/// A guard that refuses while any dependent `offends`, less the text matches the note
/// vouches for; passes with `none` (which names what it looked for).
fn no_offenders(
    name: &'static str,
    plan: &Plan,
    facts: &Facts,
    offends: fn(&Dependent) -> bool,
    refuse: Refuse,
    none: &str,
) -> GuardCheck {
    let all = match observed(facts) {
        Ok(all) => all,
        Err(r) => return GuardCheck::fail(name, r),
    };
    let (left, excused) = unexcused(all.iter().filter(|d| offends(d)).collect(), facts);
    if !left.is_empty() {
        return GuardCheck::fail(name, refuse(plan, &left));
    }
    GuardCheck::pass(
        name,
        format!("{none} {}{}", plan.old.describe(), excused_detail(&excused)),
        evidence(name, all, &excused, facts.note.as_deref()),
    )
}

/// Entering 6: no view, materialized view, rule, policy or function reads old storage.
pub(super) fn no_readers(plan: &Plan, facts: &Facts) -> GuardCheck {
    no_offenders(
        "no-database-readers-of-old",
        plan,
        facts,
        |d| d.kind.serves_reads() && d.access.reads(),
        |plan, left| Refusal::DatabaseReadsOld {
            what: plan.old.describe(),
            new: plan.new.describe(),
            objects: described(left),
            heuristic: heuristic(left),
        },
        "no view, rule, policy or function in the database reads",
    )
}

/// Entering 9: no trigger, routine or event reads or writes old storage.
pub(super) fn no_writers(plan: &Plan, facts: &Facts) -> GuardCheck {
    no_offenders(
        "no-database-writers-of-old",
        plan,
        facts,
        |d| d.kind.is_code() && d.access.touches_attribute(),
        |plan, left| Refusal::DatabaseWritesOld {
            what: plan.old.describe(),
            new: plan.new.describe(),
            objects: described(left),
            heuristic: heuristic(left),
        },
        "no trigger, routine or event in the database reads or writes",
    )
}

/// How to drop each constraint or index of `ds`, for a refusal's advice (views,
/// triggers and routines are redefined or dropped by their own statements).
fn drop_statements(ds: &[&Dependent]) -> Vec<String> {
    let mut rebuilt = false;
    let mut statements: Vec<String> = ds
        .iter()
        .filter(|d| d.kind.is_constraint())
        .map(|d| match &d.drop_statement {
            Some(statement) => statement.clone(),
            None => {
                rebuilt = true;
                format!(
                    "rebuild {} without {}",
                    d.table.as_deref().unwrap_or("its table"),
                    d.name
                )
            }
        })
        .collect();
    if rebuilt {
        statements.push(
            "SQLite can't drop a constraint in place: https://www.sqlite.org/lang_altertable.html#otheralter".into(),
        );
    }
    statements
}

/// Entering 9: no foreign key from or to the old column. drop-old would either be
/// refused by the database or take the constraint along, after the point of no return.
pub(super) fn no_foreign_keys(plan: &Plan, facts: &Facts) -> GuardCheck {
    no_offenders(
        "no-foreign-keys-on-old",
        plan,
        facts,
        |d| d.kind.is_foreign_key() && d.on_drop != OnDrop::Unaffected,
        |plan, keys| Refusal::ForeignKeysOnOld {
            what: plan.old.describe(),
            new: plan.new.describe(),
            keys: keys.iter().map(|d| d.describe()).collect(),
            statements: drop_statements(keys),
        },
        "no foreign key from or to",
    )
}

/// What the drop would do to an obstacle, in words.
fn obstacle(d: &Dependent) -> String {
    let effect = match d.on_drop {
        OnDrop::Blocks => "the database refuses the drop while it exists",
        OnDrop::Breaks => "the drop succeeds and it fails afterwards",
        _ => "",
    };
    format!("{} ({effect})", d.describe_with_evidence())
}

/// Entering 9: nothing else stands in the way of drop-old (a view created after 6, a
/// generated column, a CHECK naming other columns too, a publication); names what the
/// drop takes along.
pub(super) fn drop_unblocked(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "drop-old-unblocked";
    let all = match observed(facts) {
        Ok(all) => all,
        Err(r) => return GuardCheck::fail(name, r),
    };
    // Triggers, routines and foreign keys have guards of their own at 9.
    let others = all
        .iter()
        .filter(|d| !(d.kind.is_code() || d.kind.is_foreign_key()));
    match drop_obstacles(plan, others, facts.note.as_deref(), "advance again") {
        Err(refusal) => GuardCheck::fail(name, refusal),
        Ok(excused) => GuardCheck::pass(
            name,
            format!("{}{}", takes_along(plan, all), excused_detail(&excused)),
            evidence(name, all, &excused, facts.note.as_deref()),
        ),
    }
}

/// Refuses while one of `candidates` stands in the way of dropping old storage (the
/// database refuses the drop, or the object breaks after it), naming each and what to do,
/// then `then`. The guard of 9 and `ddl drop-old` both ask. Returns the text matches
/// `note` vouches for.
pub fn drop_obstacles<'a>(
    plan: &Plan,
    candidates: impl IntoIterator<Item = &'a Dependent>,
    note: Option<&str>,
    then: &str,
) -> Result<Vec<&'a Dependent>, Refusal> {
    let obstacles: Vec<&Dependent> = candidates
        .into_iter()
        .filter(|d| d.stands_in_the_way())
        .collect();
    let (left, excused): (Vec<&Dependent>, Vec<&Dependent>) = obstacles
        .into_iter()
        .partition(|d| !(d.found_by == FoundBy::TextMatch && d.named_in(note)));
    if left.is_empty() {
        return Ok(excused);
    }
    Err(Refusal::DropOldBlocked {
        what: plan.old.describe(),
        objects: left.iter().map(|d| obstacle(d)).collect(),
        statements: drop_statements(&left),
        heuristic: heuristic(&left),
        then: then.to_owned(),
    })
}

/// What dropping the old column takes along: each dependent the database drops with it
/// (or, on SQLite, `ddl drop-old` drops first), or keeps without it.
pub fn taken_along(all: &[Dependent]) -> Vec<String> {
    all.iter()
        .filter(|d| matches!(d.on_drop, OnDrop::DroppedWith | OnDrop::Altered))
        .map(|d| match d.on_drop {
            OnDrop::Altered => format!("{} (keeps its other columns)", d.describe()),
            _ => d.describe(),
        })
        .collect()
}

/// What drop-old takes along, in one line.
pub fn takes_along(plan: &Plan, all: &[Dependent]) -> String {
    if !matches!(plan.old, OldStorage::Column { .. }) {
        return format!(
            "drop-old removes the values of {} and leaves every table and column standing",
            plan.old.describe()
        );
    }
    let along = taken_along(all);
    if along.is_empty() {
        format!("drop-old takes nothing along with {}", plan.old.describe())
    } else {
        format!("drop-old takes along: {}", along.join(", "))
    }
}

/// The value a write that leaves the column out stores.
fn absent_value(plan: &Plan, facts: &Facts) -> Option<Option<String>> {
    let OldStorage::Column { column, .. } = &plan.old else {
        return None;
    };
    let old = facts.old_storage.as_ref()?;
    Some(old.table.column(column.as_str())?.default.clone())
}

/// What a constraint does with a write that leaves the column out: `Ok(why it accepts)`,
/// `Err(Some(why it refuses))`, or `Err(None)` when attrmig can't tell.
fn judge(d: &Dependent, default: Option<&str>) -> Option<Result<String, Option<String>>> {
    let value = default.unwrap_or("NULL");
    let judged = match d.kind {
        DependentKind::Check => match d.accepts_absent {
            Some(true) => Ok(format!("true or unknown for {value}")),
            Some(false) => Err(Some(format!("false for {value}"))),
            None => Err(None),
        },
        DependentKind::PrimaryKey => Err(Some("a primary key column can't be left out".into())),
        DependentKind::Unique | DependentKind::Index
            if d.unique || d.kind == DependentKind::Unique =>
        {
            match default {
                Some(v) => Err(Some(format!(
                    "every write without it stores the default {v}, and the second one collides"
                ))),
                None => Ok("NULLs never collide".into()),
            }
        }
        DependentKind::Exclusion => Err(None),
        DependentKind::ForeignKey => match default {
            Some(_) => Err(None),
            None => Ok("a NULL reference is not checked".into()),
        },
        DependentKind::GeneratedColumn => {
            Ok(format!("computed from {value} once writers leave it out"))
        }
        _ => return None,
    };
    Some(judged)
}

/// How the constraints and generated columns on the old column judge a write that leaves
/// it out.
#[derive(Debug)]
pub struct AbsenceVerdicts<'a> {
    /// Those that accept it, each with why.
    pub accepted: Vec<String>,
    /// Those that refuse it, each with why.
    pub refused: Vec<(&'a Dependent, String)>,
    /// Those attrmig can't judge (a CHECK over other columns too, an exclusion
    /// constraint), and no note vouches for.
    pub unjudged: Vec<&'a Dependent>,
}

/// Judges each dependent on the value a write leaving the column out stores (`default`,
/// or NULL); a dependent `note` names counts as accepted when attrmig can't judge it.
pub fn absence_verdicts<'a>(
    all: &'a [Dependent],
    default: Option<&str>,
    note: Option<&str>,
) -> AbsenceVerdicts<'a> {
    let mut verdicts = AbsenceVerdicts {
        accepted: Vec::new(),
        refused: Vec::new(),
        unjudged: Vec::new(),
    };
    for d in all.iter().filter(|d| d.access != Access::NamesStorage) {
        match judge(d, default) {
            None => {}
            Some(Ok(why)) => verdicts.accepted.push(format!("{}: {why}", d.describe())),
            Some(Err(Some(why))) => verdicts.refused.push((d, why)),
            Some(Err(None)) if d.named_in(note) => verdicts
                .accepted
                .push(format!("{}: vouched for by --note", d.describe())),
            Some(Err(None)) => verdicts.unjudged.push(d),
        }
    }
    verdicts
}

/// Entering 7: the constraints and generated columns on the old column accept a write
/// that leaves it out (it then holds its default, or NULL once `ddl prepare-old-stop`
/// made it nullable).
pub(super) fn constraints_accept_absence(plan: &Plan, facts: &Facts) -> GuardCheck {
    let name = "old-constraints-accept-absence";
    let OldStorage::Column { column, .. } = &plan.old else {
        return GuardCheck::pass(
            name,
            format!(
                "{} storage: no constraint holds one attribute",
                plan.old.kind()
            ),
            json!({ "kind": plan.old.kind() }),
        );
    };
    let all = match observed(facts) {
        Ok(all) => all,
        Err(r) => return GuardCheck::fail(name, r),
    };
    // A missing column is the other guard of 7's refusal; here there is nothing to judge.
    let default = absent_value(plan, facts).flatten();
    let AbsenceVerdicts {
        accepted,
        refused,
        unjudged,
    } = absence_verdicts(all, default.as_deref(), facts.note.as_deref());
    let what = plan.old.describe();
    if !refused.is_empty() || !unjudged.is_empty() {
        let to_drop: Vec<&Dependent> = refused.iter().map(|(d, _)| *d).collect();
        return GuardCheck::fail(
            name,
            Refusal::AbsenceRefused {
                what,
                refused_by: refused
                    .iter()
                    .map(|(d, why)| format!("{} ({why})", d.describe()))
                    .collect(),
                unjudged: unjudged.iter().map(|d| d.describe()).collect(),
                statements: drop_statements(&to_drop),
            },
        );
    }
    GuardCheck::pass(
        name,
        if accepted.is_empty() {
            format!("no constraint or generated column depends on {what}")
        } else {
            format!("writes without {column} pass {}", accepted.join("; "))
        },
        json!({ "guard": name, "accepted": accepted, "note": facts.note }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::dependents::FoundBy::{Catalogue, TextMatch};
    use crate::facts::{ColumnFact, OldStorageFact, TableFact};

    fn dep(
        kind: DependentKind,
        name: &str,
        access: Access,
        found: FoundBy,
        on_drop: OnDrop,
    ) -> Dependent {
        Dependent::new(kind, name, access, found, on_drop).on("users")
    }

    fn with(deps: Vec<Dependent>) -> Facts {
        let mut f = facts(0);
        f.dependents = Some(deps);
        f
    }

    fn refusal(check: GuardCheck) -> String {
        check.verdict.unwrap_err().to_string()
    }

    #[test]
    fn readers_refuse_six_each_named_and_text_matches_can_be_vouched_for() {
        let view = dep(
            DependentKind::View,
            "user_list",
            Access::Reads,
            Catalogue,
            OnDrop::Blocks,
        );
        let func = dep(
            DependentKind::Function,
            "user_name(bigint)",
            Access::Reads,
            TextMatch,
            OnDrop::Breaks,
        );
        let index = dep(
            DependentKind::Index,
            "users_full_name",
            Access::Constrains,
            Catalogue,
            OnDrop::DroppedWith,
        );
        let trigger = dep(
            DependentKind::Trigger,
            "users_audit",
            Access::Reads,
            TextMatch,
            OnDrop::Breaks,
        );
        let mut f = with(vec![view.clone(), func.clone(), index.clone(), trigger]);
        let err = refusal(no_readers(&plan(), &f));
        assert!(
            err.contains(
                "view user_list on users, function user_name(bigint) on users (a text match)"
            ),
            "{err}"
        );
        assert!(
            err.contains("redefine each over users_pii.full_name"),
            "{err}"
        );
        assert!(err.contains("pass --note naming it"), "{err}");
        assert!(
            !err.contains("users_full_name") && !err.contains("users_audit"),
            "indexes and triggers are not readers: {err}"
        );

        // A note vouches for the text match, never for the catalogue's view.
        f.note = Some("user_name(bigint) reads accounts.full_name, not users".into());
        let err = refusal(no_readers(&plan(), &f));
        assert!(
            err.contains("view user_list") && !err.contains("user_name"),
            "{err}"
        );
        f.dependents = Some(vec![func, index]);
        let check = no_readers(&plan(), &f);
        assert!(check.passed(), "{check:?}");
        assert!(
            check
                .verdict
                .unwrap()
                .detail
                .contains("vouched for by --note: function user_name(bigint)")
        );
        assert!(no_readers(&plan(), &with(vec![])).passed());
        assert!(matches!(
            no_readers(&plan(), &facts(0)).verdict,
            Err(Refusal::NotObserved { .. })
        ));
    }

    #[test]
    fn triggers_and_routines_refuse_nine() {
        let trigger = dep(
            DependentKind::Trigger,
            "ins_film",
            Access::Reads,
            TextMatch,
            OnDrop::Breaks,
        )
        .via("film_text_ins()");
        let view = dep(
            DependentKind::View,
            "film_list",
            Access::Reads,
            Catalogue,
            OnDrop::Blocks,
        );
        let f = with(vec![trigger, view]);
        let err = refusal(no_writers(&plan(), &f));
        assert!(
            err.contains("trigger ins_film on users, running film_text_ins() (a text match)"),
            "{err}"
        );
        assert!(!err.contains("film_list"), "{err}");
        // JSON and EAV: a trigger on the EAV table that does not name the attribute.
        let storage = dep(
            DependentKind::Trigger,
            "attrs_audit",
            Access::NamesStorage,
            TextMatch,
            OnDrop::Unaffected,
        );
        assert!(no_writers(&plan(), &with(vec![storage])).passed());
    }

    #[test]
    fn foreign_keys_refuse_nine_with_how_to_drop_them() {
        let mut fk = dep(
            DependentKind::ForeignKey,
            "fk_store_address",
            Access::Constrains,
            Catalogue,
            OnDrop::Blocks,
        )
        .via("address (address_id)");
        fk.drop_statement = Some("ALTER TABLE `store` DROP FOREIGN KEY `fk_store_address`".into());
        let err = refusal(no_foreign_keys(&plan(), &with(vec![fk.clone()])));
        assert!(err.starts_with("foreign key fk_store_address on users to address (address_id) ties users.full_name to another table"), "{err}");
        assert!(
            err.contains("(ALTER TABLE `store` DROP FOREIGN KEY `fk_store_address`)"),
            "{err}"
        );
        fk.drop_statement = None;
        let err = refusal(no_foreign_keys(&plan(), &with(vec![fk])));
        assert!(
            err.contains("(rebuild users without fk_store_address; SQLite can't drop a constraint in place: https://"),
            "{err}"
        );
    }

    #[test]
    fn drop_obstacles_refuse_nine_and_what_goes_along_is_named() {
        let index = dep(
            DependentKind::Index,
            "users_full_name",
            Access::Constrains,
            Catalogue,
            OnDrop::DroppedWith,
        )
        .columns(vec!["full_name".into()]);
        let multi = dep(
            DependentKind::Index,
            "users_fn_email",
            Access::Constrains,
            Catalogue,
            OnDrop::Altered,
        );
        let check = drop_unblocked(&plan(), &with(vec![index.clone(), multi]));
        let detail = check.verdict.unwrap().detail;
        assert_eq!(
            detail,
            "drop-old takes along: index users_full_name on users (full_name), index users_fn_email on users (keeps its other columns)"
        );
        let generated = dep(
            DependentKind::GeneratedColumn,
            "initials",
            Access::Reads,
            TextMatch,
            OnDrop::Blocks,
        );
        let trigger = dep(
            DependentKind::Trigger,
            "t",
            Access::Reads,
            TextMatch,
            OnDrop::Breaks,
        );
        let err = refusal(drop_unblocked(
            &plan(),
            &with(vec![index, generated, trigger.clone()]),
        ));
        assert!(err.contains("generated column initials on users (a text match) (the database refuses the drop while it exists)"), "{err}");
        assert!(
            !err.contains("trigger t"),
            "the writers' guard names triggers: {err}"
        );
        // ddl drop-old asks about every kind.
        let all = [trigger];
        let err = drop_obstacles(
            &plan(),
            &all,
            None,
            "run `attrmig ddl users-full-name drop-old --apply` again",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "trigger t on users (a text match) (the drop succeeds and it fails afterwards)"
            ),
            "{err}"
        );
        assert!(drop_obstacles(&plan(), &all, Some("t only logs"), "again").is_ok());
    }

    fn column(nullable: bool, default: Option<&str>) -> OldStorageFact {
        OldStorageFact {
            table: TableFact::present(
                "users",
                vec![ColumnFact {
                    name: "full_name".into(),
                    data_type: "text".into(),
                    nullable,
                    default: default.map(Into::into),
                    unique: false,
                    collation: None,
                }],
            ),
            attribute_rows_present: None,
            duplicates: None,
        }
    }

    #[test]
    fn constraints_are_judged_on_the_value_a_write_without_the_attribute_stores() {
        let mut check = dep(
            DependentKind::Check,
            "users_full_name_check",
            Access::Reads,
            TextMatch,
            OnDrop::DroppedWith,
        );
        check.accepts_absent = Some(false);
        check.drop_statement =
            Some("ALTER TABLE \"users\" DROP CONSTRAINT \"users_full_name_check\"".into());
        let mut unique = dep(
            DependentKind::Index,
            "users_full_name_key",
            Access::Constrains,
            Catalogue,
            OnDrop::DroppedWith,
        );
        unique.unique = true;
        let mut f = with(vec![check.clone(), unique.clone()]);
        f.old_storage = Some(column(false, None));
        let err = refusal(constraints_accept_absence(&plan(), &f));
        assert!(err.contains("refused by: CHECK constraint users_full_name_check on users (false for NULL); drop or relax each (ALTER TABLE \"users\" DROP CONSTRAINT \"users_full_name_check\")"), "{err}");

        // With a default, every write without the attribute stores it: a unique index collides.
        f.dependents = Some(vec![unique.clone()]);
        f.old_storage = Some(column(false, Some("''")));
        let err = refusal(constraints_accept_absence(&plan(), &f));
        assert!(
            err.contains("stores the default '', and the second one collides"),
            "{err}"
        );
        f.old_storage = Some(column(true, None));
        let pass = constraints_accept_absence(&plan(), &f);
        assert!(pass.verdict.unwrap().detail.contains("NULLs never collide"));

        // A CHECK over other columns too can't be judged from the value; a note vouches.
        check.accepts_absent = None;
        f.dependents = Some(vec![check]);
        let err = refusal(constraints_accept_absence(&plan(), &f));
        assert!(err.starts_with("attrmig can't tell whether CHECK constraint users_full_name_check on users accepts a row without users.full_name"), "{err}");
        f.note =
            Some("users_full_name_check is `full_name IS NULL OR length(full_name) < 300`".into());
        assert!(constraints_accept_absence(&plan(), &f).passed());
    }
}
