//! The schema rule of 6 stop-reading-old: from 6 on, no schema migration may leave a
//! database object reading old storage (a view, a materialized view, a rule, a policy, a
//! function or procedure, a trigger).
//!
//! The files of `[code] schema_paths` are read in path order, as migration tools apply
//! them, and each object's last definition counts: a view created over old storage in an
//! early migration and redefined over new storage in a later one is fine, one that a
//! later migration drops is gone, and one (re)defined over old storage is a finding at
//! the statement that defines it. Whether a definition reads old storage is the text
//! match of [`attrmig_core::dependents`] (a heuristic: qualify an ambiguous column with
//! its table's alias). A trigger that runs a function (PostgreSQL's `EXECUTE FUNCTION`)
//! is judged by that function's body, as a trigger of its table.

use std::collections::BTreeMap;

use attrmig_core::dependents::{Attribute, DependentKind, Scope, mention_in};
use attrmig_core::sql_text::statements as split;
use attrmig_core::{Plan, Position, Step};

use crate::sql::{Statement, Token, statements};
use crate::{Finding, Rule};

/// One definition of a database object in a schema file.
struct Definition {
    kind: DependentKind,
    name: String,
    path: String,
    line: usize,
    /// The statements its text is made of (a body in a string is split out).
    body: Vec<Statement>,
    scope: Scope,
    /// For a trigger: the table it is on and the function it runs.
    on_table: Option<String>,
    runs: Option<String>,
}

const KINDS: &[(&str, DependentKind)] = &[
    ("view", DependentKind::View),
    ("rule", DependentKind::Rule),
    ("policy", DependentKind::Policy),
    ("function", DependentKind::Function),
    ("procedure", DependentKind::Procedure),
    ("trigger", DependentKind::Trigger),
];

/// The kind word of `CREATE [OR REPLACE] ... <kind>` or `DROP <kind>`, and where it is.
fn kind_of(tokens: &[Token]) -> Option<(DependentKind, usize)> {
    for (i, t) in tokens.iter().enumerate().take(12).skip(1) {
        if t.is("table") || t.is("index") || t.is("as") || t.is("on") {
            return None;
        }
        if t.is("materialized") && tokens.get(i + 1).is_some_and(|n| n.is("view")) {
            return Some((DependentKind::MaterializedView, i + 1));
        }
        if let Some((_, kind)) = KINDS.iter().find(|(w, _)| t.is(w)) {
            return Some((*kind, i));
        }
    }
    None
}

/// The last part of a possibly schema-qualified name at `i` (after `IF [NOT] EXISTS`).
fn name_at(tokens: &[Token], mut i: usize) -> Option<String> {
    while tokens
        .get(i)
        .is_some_and(|t| t.is("if") || t.is("not") || t.is("exists"))
    {
        i += 1;
    }
    let mut name = tokens.get(i).filter(|t| t.is_name())?;
    while tokens.get(i + 1).is_some_and(|t| t.is_punct(".")) {
        name = tokens.get(i + 2).filter(|t| t.is_name())?;
        i += 2;
    }
    Some(name.text().to_ascii_lowercase())
}

/// The name after the first `word` (`ON t`, `TO t`, `FUNCTION f`) past position `from`.
fn after(tokens: &[Token], from: usize, word: &str) -> Option<String> {
    let at = tokens.iter().skip(from).position(|t| t.is(word))? + from;
    name_at(tokens, at + 1)
}

/// Does statement `s` close a `BEGIN ... END` block (`END`, not `END IF`, `END LOOP`)?
fn closes_block(s: &Statement) -> bool {
    let ends = s.tokens.first().is_some_and(|t| t.is("end"));
    let inner = s.tokens.get(1).is_some_and(|t| {
        ["if", "loop", "case", "while", "repeat", "for"]
            .iter()
            .any(|w| t.is(w))
    });
    ends && !inner
}

/// The statements of a file, with a `BEGIN ... END` body (SQLite and MySQL triggers and
/// routines, SQL-standard function bodies) kept with the statement that opens it.
fn with_bodies(text: &str) -> Vec<(Statement, Vec<Statement>)> {
    let all = statements(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let head = all[i].clone();
        let mut body = vec![head.clone()];
        i += 1;
        let opens = head.tokens.first().is_some_and(|t| t.is("create"))
            && head.tokens.iter().any(|t| t.is("begin"));
        if opens {
            while i < all.len() {
                let s = all[i].clone();
                i += 1;
                let done = closes_block(&s);
                body.push(s);
                if done {
                    break;
                }
            }
        }
        out.push((head, body));
    }
    out
}

fn definition(
    path: &str,
    head: &Statement,
    body: Vec<Statement>,
    old_table: &str,
) -> Option<Definition> {
    let t = &head.tokens;
    let (kind, at) = kind_of(t)?;
    let name = name_at(t, at + 1)?;
    let mut def = Definition {
        kind,
        name,
        path: path.to_owned(),
        line: head.line,
        body,
        scope: Scope::Elsewhere,
        on_table: None,
        runs: None,
    };
    let is_old = |table: &Option<String>| {
        table
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(old_table))
    };
    match kind {
        DependentKind::Rule if is_old(&after(t, at, "to")) => def.scope = Scope::TriggerOnTable,
        DependentKind::Policy if is_old(&after(t, at, "on")) => def.scope = Scope::Row,
        DependentKind::Trigger => {
            def.on_table = after(t, at, "on");
            if is_old(&def.on_table) {
                def.scope = Scope::TriggerOnTable;
            }
            def.runs = after(t, at, "function").or_else(|| after(t, at, "procedure"));
        }
        DependentKind::Function | DependentKind::Procedure => {
            // A body in a string (PostgreSQL's `AS $$ ... $$`) is SQL of its own.
            let strings: Vec<Statement> = t
                .iter()
                .filter_map(|x| match x {
                    Token::Str(s) => Some(split(s)),
                    _ => None,
                })
                .flatten()
                .collect();
            def.body.extend(strings);
        }
        _ => {}
    }
    Some(def)
}

/// The objects a set of schema files leaves defined, by kind and name: each one's last
/// definition, those dropped later left out.
fn surviving(files: &[(String, String)], old_table: &str) -> Vec<Definition> {
    let mut defs: BTreeMap<(DependentKind, String), Definition> = BTreeMap::new();
    for (path, text) in files {
        for (head, body) in with_bodies(text) {
            let Some(first) = head.tokens.first() else {
                continue;
            };
            if first.is("create") || (first.is("alter") && head.tokens.iter().any(|t| t.is("as"))) {
                if let Some(def) = definition(path, &head, body, old_table) {
                    defs.insert((def.kind, def.name.clone()), def);
                }
            } else if first.is("drop")
                && let Some((kind, at)) = kind_of(&head.tokens)
                && let Some(name) = name_at(&head.tokens, at + 1)
            {
                defs.remove(&(kind, name));
            }
        }
    }
    defs.into_values().collect()
}

/// The findings of one plan over the schema files `files` (path, text), in path order.
pub(crate) fn findings(
    files: &[(String, String)],
    plan: &Plan,
    position: Option<Position>,
) -> Vec<Finding> {
    let Some(Position::At(step)) = position else {
        return Vec::new();
    };
    if step < Step::StopReadingOld {
        return Vec::new();
    }
    let attribute = Attribute::of(&plan.old);
    let defs = surviving(files, plan.old.table().name.as_str());
    let reads = |def: &Definition, scope: Scope| {
        mention_in(&def.body, attribute, scope).is_some_and(|a| a.touches_attribute())
    };
    let id = plan.id.as_str();
    let what = plan.old.describe();
    let mut out = Vec::new();
    for def in &defs {
        // A trigger function is judged as the trigger that runs it, on that trigger's table.
        let run_by = defs.iter().find(|t| {
            t.kind == DependentKind::Trigger && t.runs.as_deref() == Some(def.name.as_str())
        });
        let scope = match (def.kind, run_by) {
            (DependentKind::Function | DependentKind::Procedure, Some(trigger)) => trigger.scope,
            _ => def.scope,
        };
        if !reads(def, scope) {
            continue;
        }
        out.push(Finding {
            rule: Rule::NewReaderOfOld,
            migration: Some(id.to_owned()),
            path: def.path.clone(),
            line: Some(def.line),
            message: format!(
                "defines {} {}, which uses {what}, the old storage of {id} (at {}): from 6 stop-reading-old on nothing may read it (it would serve old values, and break when old storage is dropped); define it over {}, or drop it",
                def.kind.noun(),
                def.name,
                Position::At(step),
                plan.new.describe()
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plans::{eav_plan, users_plan};

    fn found(files: &[(&str, &str)], plan: &Plan, step: Step) -> Vec<(String, usize)> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        findings(&files, plan, Some(Position::At(step)))
            .into_iter()
            .map(|f| (f.path, f.line.unwrap()))
            .collect()
    }

    const VIEW: &str = "CREATE VIEW user_list AS\n  SELECT u.id, u.full_name FROM users u;\n";

    #[test]
    fn the_last_definition_counts_from_six_on() {
        let plan = users_plan();
        let files = [("db/001.sql", VIEW)];
        assert_eq!(found(&files, &plan, Step::DoubleReadNew), []);
        assert_eq!(
            found(&files, &plan, Step::StopReadingOld),
            [("db/001.sql".into(), 1)]
        );
        let redefined = [
            ("db/001.sql", VIEW),
            (
                "db/050.sql",
                "-- over new storage\nCREATE OR REPLACE VIEW user_list AS SELECT u.id, p.full_name FROM users u JOIN users_pii p ON p.user_id = u.id;",
            ),
        ];
        assert_eq!(found(&redefined, &plan, Step::DeleteTools), []);
        let dropped = [
            ("db/001.sql", VIEW),
            ("db/060.sql", "DROP VIEW IF EXISTS public.user_list;"),
        ];
        assert_eq!(found(&dropped, &plan, Step::DropOld), []);
        let back = [
            ("db/001.sql", VIEW),
            ("db/060.sql", "DROP VIEW user_list;"),
            ("db/070.sql", VIEW),
        ];
        assert_eq!(
            found(&back, &plan, Step::StopReadingOld),
            [("db/070.sql".into(), 1)]
        );
    }

    #[test]
    fn triggers_routines_rules_and_policies() {
        let plan = users_plan();
        let sqlite_trigger = "CREATE TRIGGER copy_name AFTER INSERT ON users BEGIN\n  INSERT INTO names (id, name) VALUES (new.id, new.full_name);\nEND;\nCREATE TRIGGER other AFTER INSERT ON users BEGIN\n  INSERT INTO names (id) VALUES (new.id);\nEND;";
        assert_eq!(
            found(&[("db/1.sql", sqlite_trigger)], &plan, Step::StopReadingOld),
            [("db/1.sql".into(), 1)]
        );
        let pg = "CREATE FUNCTION copy_name() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO names VALUES (NEW.id, NEW.full_name);\n  RETURN NEW;\nEND $$;\n\nCREATE TRIGGER copy_name AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION copy_name();";
        assert_eq!(
            found(&[("db/1.sql", pg)], &plan, Step::StopReadingOld),
            [("db/1.sql".into(), 1)]
        );
        let routine = "CREATE FUNCTION name_of(i bigint) RETURNS text LANGUAGE sql AS 'SELECT full_name FROM users WHERE id = i';";
        assert_eq!(
            found(&[("db/1.sql", routine)], &plan, Step::StopReadingOld).len(),
            1
        );
        let rule = "CREATE RULE log_name AS ON UPDATE TO users DO ALSO INSERT INTO log VALUES (NEW.full_name);";
        assert_eq!(
            found(&[("db/1.sql", rule)], &plan, Step::StopReadingOld).len(),
            1
        );
        let policy = "CREATE POLICY named ON users USING (full_name IS NOT NULL);\nCREATE POLICY mine ON users USING (owner = current_user);";
        assert_eq!(
            found(&[("db/1.sql", policy)], &plan, Step::StopReadingOld),
            [("db/1.sql".into(), 1)]
        );
        assert_eq!(
            found(
                &[(
                    "db/1.sql",
                    "CREATE INDEX users_full_name ON users (full_name);"
                )],
                &plan,
                Step::StopReadingOld
            ),
            [],
            "an index is no reader"
        );
    }

    #[test]
    fn eav_readers_name_the_attribute() {
        let plan = eav_plan();
        let views = "CREATE VIEW names AS SELECT user_id, value FROM user_attributes WHERE name = 'full_name';\nCREATE VIEW emails AS SELECT user_id, value FROM user_attributes WHERE name = 'email';";
        assert_eq!(
            found(&[("db/1.sql", views)], &plan, Step::StopReadingOld),
            [("db/1.sql".into(), 1)]
        );
    }
}
