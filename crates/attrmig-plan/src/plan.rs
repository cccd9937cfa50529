//! `plans/<id>.toml`: the raw serde shape, then validation into [`attrmig_core::Plan`].

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use attrmig_core::echo::quoted;
use attrmig_core::ident::{Ident, JsonPath, MigrationId, NameError, TableName};
use attrmig_core::key::KeyColumns;
use attrmig_core::plan::{
    CodeRef, CodeRules, FleetSettings, GuardSettings, NewStorage, OldStorage, Plan, SyncSettings,
    ToolSettings,
};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Collector, FileErrors};

// --- the file's shape -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    description: Option<Spanned<String>>,
    owners: Option<Vec<Spanned<String>>>,
    old: Option<Spanned<RawOld>>,
    new: Option<Spanned<RawNew>>,
    sync: Option<RawSync>,
    guards: Option<RawGuards>,
    tools: Option<RawTools>,
    code: Option<RawCode>,
    fleet: Option<RawFleet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOld {
    kind: Option<Spanned<String>>,
    table: Option<Spanned<String>>,
    key: Option<Spanned<RawKey>>,
    column: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    name_column: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    value_column: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNew {
    table: Option<Spanned<String>>,
    key: Option<Spanned<RawKey>>,
    column: Option<Spanned<String>>,
}

/// `key = "id"` or `key = ["tenant_id", "id"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawKey {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    batch_size: Option<Spanned<i64>>,
    max_rows_per_second: Option<Spanned<i64>>,
    lease_ttl: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    soak: Option<Spanned<String>>,
    max_check_age: Option<Spanned<String>>,
    approvals: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    observed: Option<Spanned<bool>>,
    instance_ttl: Option<Spanned<String>>,
    min_compared_reads: Option<Spanned<i64>>,
    max_mismatch_rate: Option<Spanned<RawNumber>>,
}

/// TOML keeps `0` and `0.0` apart; a rate may be written either way.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum RawNumber {
    Integer(i64),
    Float(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTools {
    paths: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    old_refs: Option<Vec<Spanned<RawCodeRef>>>,
    paths: Option<Vec<Spanned<String>>>,
    schema_paths: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCodeRef {
    Literal(String),
    Regex { regex: String },
}

// --- validation -----------------------------------------------------------------------

/// Parses and validates a plan. `id` is the file's stem; `file` is only used in messages.
pub fn parse_plan(id: &str, file: &Path, text: &str) -> Result<Plan, FileErrors> {
    let raw: RawPlan = toml::from_str(text).map_err(|e| Collector::from_toml(file, text, &e))?;
    let mut c = Collector::new(file, text);
    let id = match MigrationId::new(id) {
        Ok(id) => Some(id),
        Err(e) => {
            c.at(
                0..0,
                "",
                format!("the file name `{id}` is not a valid migration id: it {e}"),
            );
            None
        }
    };
    let whole = 0..text.len().min(1);
    let old = match &raw.old {
        Some(old) => validate_old(&mut c, old),
        None => {
            c.at(
                whole.clone(),
                "old",
                "missing [old] table: where the attribute lives now",
            );
            None
        }
    };
    let new = match &raw.new {
        Some(new) => validate_new(&mut c, new),
        None => {
            c.at(
                whole,
                "new",
                "missing [new] table: where the attribute moves to",
            );
            None
        }
    };
    if let (Some(old), Some(new), Some(raw_new)) = (&old, &new, &raw.new) {
        check_old_vs_new(&mut c, old, new, raw_new.span());
    }
    let sync = validate_sync(&mut c, raw.sync.as_ref());
    let guards = validate_guards(&mut c, raw.guards.as_ref());
    let tools = ToolSettings {
        paths: validate_paths(
            &mut c,
            "tools.paths",
            raw.tools.as_ref().and_then(|t| t.paths.as_ref()),
        ),
    };
    let code = validate_code(&mut c, raw.code.as_ref());
    let fleet = validate_fleet(&mut c, raw.fleet.as_ref());
    let owners = raw
        .owners
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| {
            if o.get_ref().trim().is_empty() {
                c.at(o.span(), "owners", "an owner can't be empty");
                None
            } else {
                Some(o.into_inner())
            }
        })
        .collect();
    let plan = match (id, old, new) {
        (Some(id), Some(old), Some(new)) => Some(Plan {
            id,
            description: raw.description.map(Spanned::into_inner).unwrap_or_default(),
            owners,
            old,
            new,
            sync,
            guards,
            tools,
            code,
            fleet,
            written: None,
        }),
        _ => None,
    };
    c.finish(plan)
}

/// The value of a key that must be present, or a "missing key" error at its table.
fn required<'v>(
    c: &mut Collector<'_>,
    key: &str,
    value: Option<&'v Spanned<String>>,
    table_span: Range<usize>,
) -> Option<&'v Spanned<String>> {
    if value.is_none() {
        c.at(
            table_span,
            key,
            format!("missing key `{}`", key.rsplit('.').next().unwrap_or(key)),
        );
    }
    value
}

fn ident(
    c: &mut Collector<'_>,
    key: &str,
    value: Option<&Spanned<String>>,
    table_span: Range<usize>,
) -> Option<Ident> {
    let value = required(c, key, value, table_span)?;
    Ident::new(value.get_ref())
        .map_err(|e| {
            c.at(
                value.span(),
                key,
                format!(
                    "{} is not a valid identifier: it {e}",
                    quoted(value.get_ref())
                ),
            )
        })
        .ok()
}

/// `table` or `schema.table` (PostgreSQL schema, MySQL/MariaDB database), each part
/// written as the database spells it, without quotes.
fn table_name(
    c: &mut Collector<'_>,
    key: &str,
    value: Option<&Spanned<String>>,
    table_span: Range<usize>,
) -> Option<TableName> {
    let value = required(c, key, value, table_span)?;
    let text = value.get_ref();
    // `"Customer"` as SQL would quote it: the plan takes the name itself.
    let unquoted: String = text.chars().filter(|ch| !matches!(ch, '"' | '`')).collect();
    if unquoted != *text && TableName::parse(&unquoted).is_ok() {
        c.at(
            value.span(),
            key,
            format!(
                "{} is quoted; write the name without quotes, as the database spells it: `{} = \"{unquoted}\"` (attrmig quotes every name itself)",
                quoted(text),
                key.rsplit('.').next().unwrap_or(key)
            ),
        );
        return None;
    }
    TableName::parse(text)
        .map_err(|e| {
            c.at(
                value.span(),
                key,
                format!(
                    "{} is not a valid identifier: it {e} (a table is `table` or `schema.table`)",
                    quoted(text)
                ),
            )
        })
        .ok()
}

/// A key: one identifier, or a non-empty list of them with none twice.
fn key_columns(
    c: &mut Collector<'_>,
    key: &str,
    value: Option<&Spanned<RawKey>>,
    table_span: Range<usize>,
) -> Option<KeyColumns> {
    let Some(value) = value else {
        c.at(table_span, key, "missing key `key`");
        return None;
    };
    let names: Vec<&str> = match value.get_ref() {
        RawKey::One(one) => vec![one.as_str()],
        RawKey::Many(many) => many.iter().map(String::as_str).collect(),
    };
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        match Ident::new(name) {
            Ok(ident) => columns.push(ident),
            Err(e) => {
                c.at(
                    value.span(),
                    key,
                    format!("{} is not a valid identifier: it {e}", quoted(name)),
                );
                return None;
            }
        }
    }
    KeyColumns::new(columns)
        .map_err(|e| {
            c.at(
                value.span(),
                key,
                format!("the key {e} (`key = \"id\"` or `key = [\"tenant_id\", \"id\"]`)"),
            )
        })
        .ok()
}

fn forbid(c: &mut Collector<'_>, key: &str, value: Option<&Spanned<String>>, kind: &str) {
    if let Some(v) = value {
        c.at(
            v.span(),
            key,
            format!(
                "`{}` does not apply to kind = \"{kind}\"; remove it",
                key.rsplit('.').next().unwrap_or(key)
            ),
        );
    }
}

fn validate_old(c: &mut Collector<'_>, old: &Spanned<RawOld>) -> Option<OldStorage> {
    let span = old.span();
    let raw = old.get_ref();
    let Some(kind) = &raw.kind else {
        c.at(
            span,
            "old.kind",
            "missing key `kind`: one of \"column\", \"json\", \"eav\"",
        );
        return None;
    };
    let table = table_name(c, "old.table", raw.table.as_ref(), span.clone());
    let key = key_columns(c, "old.key", raw.key.as_ref(), span.clone());
    match kind.get_ref().as_str() {
        "column" => {
            let column = ident(c, "old.column", raw.column.as_ref(), span);
            forbid(c, "old.path", raw.path.as_ref(), "column");
            forbid(c, "old.name_column", raw.name_column.as_ref(), "column");
            forbid(c, "old.name", raw.name.as_ref(), "column");
            forbid(c, "old.value_column", raw.value_column.as_ref(), "column");
            Some(OldStorage::Column {
                table: table?,
                key: key?,
                column: column?,
            })
        }
        "json" => {
            let column = ident(c, "old.column", raw.column.as_ref(), span.clone());
            let path = match &raw.path {
                None => {
                    c.at(
                        span,
                        "old.path",
                        "missing key `path`: the key inside the JSON document, e.g. \"full_name\"",
                    );
                    None
                }
                Some(p) => JsonPath::new(p.get_ref())
                    .map_err(|e: NameError| {
                        c.at(
                            p.span(),
                            "old.path",
                            format!("{} is not a valid JSON path: it {e}", quoted(p.get_ref())),
                        )
                    })
                    .ok(),
            };
            forbid(c, "old.name_column", raw.name_column.as_ref(), "json");
            forbid(c, "old.name", raw.name.as_ref(), "json");
            forbid(c, "old.value_column", raw.value_column.as_ref(), "json");
            Some(OldStorage::Json {
                table: table?,
                key: key?,
                column: column?,
                path: path?,
            })
        }
        "eav" => {
            let name_column = ident(c, "old.name_column", raw.name_column.as_ref(), span.clone());
            let value_column = ident(
                c,
                "old.value_column",
                raw.value_column.as_ref(),
                span.clone(),
            );
            let name = match &raw.name {
                None => {
                    c.at(
                        span,
                        "old.name",
                        "missing key `name`: the attribute's name in the EAV table",
                    );
                    None
                }
                Some(n) if n.get_ref().is_empty() || n.get_ref().len() > 255 => {
                    c.at(
                        n.span(),
                        "old.name",
                        "the attribute name must be 1 to 255 bytes",
                    );
                    None
                }
                Some(n) => Some(n.get_ref().clone()),
            };
            forbid(c, "old.column", raw.column.as_ref(), "eav");
            forbid(c, "old.path", raw.path.as_ref(), "eav");
            Some(OldStorage::Eav {
                table: table?,
                key: key?,
                name_column: name_column?,
                name: name?,
                value_column: value_column?,
            })
        }
        other => {
            c.at(
                kind.span(),
                "old.kind",
                format!("unknown kind {other:?}: one of \"column\", \"json\", \"eav\""),
            );
            None
        }
    }
}

fn validate_new(c: &mut Collector<'_>, new: &Spanned<RawNew>) -> Option<NewStorage> {
    let span = new.span();
    let raw = new.get_ref();
    let table = table_name(c, "new.table", raw.table.as_ref(), span.clone());
    let key = key_columns(c, "new.key", raw.key.as_ref(), span.clone());
    let column = ident(c, "new.column", raw.column.as_ref(), span);
    Some(NewStorage {
        table: table?,
        key: key?,
        column: column?,
    })
}

fn check_old_vs_new(c: &mut Collector<'_>, old: &OldStorage, new: &NewStorage, span: Range<usize>) {
    // Old and new key columns pair up in order, so there must be as many of each.
    if new.key.len() != old.key().len() {
        c.at(
            span.clone(),
            "new.key",
            format!(
                "[new] key {} has {} column(s) but [old] key {} has {}: they pair up in order (the first with the first...), so list as many in each",
                new.key,
                new.key.len(),
                old.key(),
                old.key().len()
            ),
        );
    }
    if new.table != *old.table() {
        return;
    }
    if new.key != *old.key() {
        c.at(
            span.clone(),
            "new.key",
            format!(
                "[new] is in the old table `{}`, so its key must be the old key `{}`",
                new.table,
                old.key()
            ),
        );
    }
    let clash = match old {
        OldStorage::Column { column, .. } | OldStorage::Json { column, .. } => {
            *column == new.column
        }
        OldStorage::Eav {
            key,
            name_column,
            value_column,
            ..
        } => key.contains(&new.column) || [name_column, value_column].contains(&&new.column),
    };
    if clash {
        c.at(
            span,
            "new.column",
            format!(
                "`{}.{}` is old storage; the new column must be another one",
                new.table, new.column
            ),
        );
    }
}

fn validate_sync(c: &mut Collector<'_>, raw: Option<&RawSync>) -> SyncSettings {
    let mut sync = SyncSettings::default();
    let Some(raw) = raw else { return sync };
    if let Some(b) = &raw.batch_size {
        match u32::try_from(*b.get_ref()) {
            Ok(n) if (1..=SyncSettings::MAX_BATCH_SIZE).contains(&n) => sync.batch_size = n,
            _ => c.at(
                b.span(),
                "sync.batch_size",
                format!(
                    "must be between 1 and {} (keys per batch and per transaction)",
                    SyncSettings::MAX_BATCH_SIZE
                ),
            ),
        }
    }
    if let Some(r) = &raw.max_rows_per_second {
        match u32::try_from(*r.get_ref()) {
            Ok(0) => sync.max_rows_per_second = None,
            Ok(n) => sync.max_rows_per_second = Some(n),
            Err(_) => c.at(
                r.span(),
                "sync.max_rows_per_second",
                "must be 0 (unthrottled) or a positive number of rows",
            ),
        }
    }
    if let Some(raw_ttl) = &raw.lease_ttl {
        let ttl = duration(c, "sync.lease_ttl", Some(raw_ttl), sync.lease_ttl);
        let (min, max) = (SyncSettings::MIN_LEASE_TTL, SyncSettings::MAX_LEASE_TTL);
        if (min..=max).contains(&ttl) {
            sync.lease_ttl = ttl;
        } else if humantime::parse_duration(raw_ttl.get_ref()).is_ok() {
            c.at(
                raw_ttl.span(),
                "sync.lease_ttl",
                format!(
                    "must be between {} and {} (how long a vanished runner blocks the next)",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            );
        }
    }
    sync
}

fn duration(
    c: &mut Collector<'_>,
    key: &str,
    raw: Option<&Spanned<String>>,
    default: Duration,
) -> Duration {
    let Some(raw) = raw else { return default };
    match humantime::parse_duration(raw.get_ref()) {
        Ok(d) => d,
        Err(e) => {
            c.at(
                raw.span(),
                key,
                format!(
                    "{} is not a duration ({e}); write e.g. \"7d\", \"24h\", \"90m\"",
                    quoted(raw.get_ref())
                ),
            );
            default
        }
    }
}

fn validate_guards(c: &mut Collector<'_>, raw: Option<&RawGuards>) -> GuardSettings {
    let defaults = GuardSettings::default();
    let Some(raw) = raw else { return defaults };
    let approvals = match &raw.approvals {
        None => defaults.approvals,
        Some(a) => match u32::try_from(*a.get_ref()) {
            Ok(n) if n <= 100 => n,
            _ => {
                c.at(a.span(), "guards.approvals", "must be between 0 and 100");
                defaults.approvals
            }
        },
    };
    GuardSettings {
        soak: duration(c, "guards.soak", raw.soak.as_ref(), defaults.soak),
        max_check_age: duration(
            c,
            "guards.max_check_age",
            raw.max_check_age.as_ref(),
            defaults.max_check_age,
        ),
        approvals,
    }
}

fn validate_fleet(c: &mut Collector<'_>, raw: Option<&RawFleet>) -> FleetSettings {
    let defaults = FleetSettings::default();
    let Some(raw) = raw else { return defaults };
    let mut ttl = duration(
        c,
        "fleet.instance_ttl",
        raw.instance_ttl.as_ref(),
        defaults.instance_ttl,
    );
    if let Some(span) = raw.instance_ttl.as_ref().map(Spanned::span)
        && (ttl.is_zero() || ttl > FleetSettings::MAX_INSTANCE_TTL)
    {
        c.at(
            span,
            "fleet.instance_ttl",
            "must be more than 0s and at most 7d; write it longer than the instances' report interval (10s by default), e.g. \"2m\"",
        );
        ttl = defaults.instance_ttl;
    }
    let min_compared_reads = match &raw.min_compared_reads {
        None => defaults.min_compared_reads,
        Some(n) => u64::try_from(*n.get_ref()).unwrap_or_else(|_| {
            c.at(
                n.span(),
                "fleet.min_compared_reads",
                "must be 0 or a positive number of compared reads",
            );
            defaults.min_compared_reads
        }),
    };
    let max_mismatch_rate = match &raw.max_mismatch_rate {
        None => defaults.max_mismatch_rate,
        Some(r) => {
            let value = match *r.get_ref() {
                RawNumber::Integer(i) => i as f64,
                RawNumber::Float(f) => f,
            };
            if (0.0..=1.0).contains(&value) {
                value
            } else {
                c.at(
                    r.span(),
                    "fleet.max_mismatch_rate",
                    "must be a share between 0 and 1 (0.001 is one persistent mismatch in 1,000 compared reads)",
                );
                defaults.max_mismatch_rate
            }
        }
    };
    FleetSettings {
        observed: raw.observed.as_ref().is_some_and(|o| *o.get_ref()),
        instance_ttl: ttl,
        min_compared_reads,
        max_mismatch_rate,
    }
}

/// Repository-relative paths: no absolute paths, no `..`, so a plan can't point outside
/// its repository.
fn validate_paths(
    c: &mut Collector<'_>,
    key: &str,
    raw: Option<&Vec<Spanned<String>>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for p in raw.into_iter().flatten() {
        let path = Path::new(p.get_ref());
        let escapes = path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
        if p.get_ref().is_empty() || path.is_absolute() || escapes {
            c.at(
                p.span(),
                key,
                format!(
                    "{} must be a path relative to the project root, without `..`",
                    quoted(p.get_ref())
                ),
            );
        } else {
            out.push(p.get_ref().clone());
        }
    }
    out
}

fn validate_globs(
    c: &mut Collector<'_>,
    key: &str,
    raw: Option<&Vec<Spanned<String>>>,
) -> Vec<String> {
    let paths = validate_paths(c, key, raw);
    for (glob, raw) in paths.iter().zip(raw.into_iter().flatten()) {
        if let Err(e) = globset::Glob::new(glob) {
            c.at(
                raw.span(),
                key,
                format!("{} is not a valid glob: {e}", quoted(glob)),
            );
        }
    }
    paths
}

fn validate_code(c: &mut Collector<'_>, raw: Option<&RawCode>) -> CodeRules {
    let Some(raw) = raw else {
        return CodeRules::default();
    };
    let mut old_refs = Vec::new();
    for r in raw.old_refs.iter().flatten() {
        match r.get_ref() {
            RawCodeRef::Literal(s) if s.is_empty() => c.at(
                r.span(),
                "code.old_refs",
                "an empty string would match everything",
            ),
            RawCodeRef::Literal(s) => old_refs.push(CodeRef::Literal(s.clone())),
            RawCodeRef::Regex { regex } => match regex::Regex::new(regex) {
                Ok(_) => old_refs.push(CodeRef::Regex(regex.clone())),
                Err(e) => {
                    // regex's message draws a caret over several lines; keep its last line.
                    let text = e.to_string();
                    let reason = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches("error: ")
                        .to_owned();
                    c.at(
                        r.span(),
                        "code.old_refs",
                        format!("regex {regex:?} does not compile: {reason}"),
                    );
                }
            },
        }
    }
    CodeRules {
        old_refs,
        paths: validate_globs(c, "code.paths", raw.paths.as_ref()),
        schema_paths: validate_globs(c, "code.schema_paths", raw.schema_paths.as_ref()),
    }
}
