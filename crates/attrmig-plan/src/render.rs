//! Writing a plan file, for `attrmig init`: every section present with its defaults, and
//! comments that say what each key does, so the file is its own documentation.

use attrmig_core::human_duration;
use attrmig_core::plan::{CodeRef, OldStorage, Plan};

/// A TOML string literal (basic string with escapes).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"id"`, or `["tenant_id", "id"]` for a key of several columns.
fn key_value(key: &attrmig_core::key::KeyColumns) -> String {
    match key.columns() {
        [one] => quote(one.as_str()),
        many => format!(
            "[{}]",
            many.iter()
                .map(|c| quote(c.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Renders `plan` as a plan file that [`crate::parse_plan`] reads back unchanged.
pub fn render_plan(plan: &Plan) -> String {
    let mut s = String::new();
    s.push_str(&format!("description = {}\n", quote(&plan.description)));
    s.push_str(&format!("owners = {}\n\n", list(&plan.owners)));

    s.push_str("[old]                 # kind = \"column\" | \"json\" | \"eav\"\n");
    s.push_str(&format!("kind = {}\n", quote(plan.old.kind())));
    match &plan.old {
        OldStorage::Column { table, key, column } => {
            s.push_str(&format!(
                "table = {}\nkey = {}\ncolumn = {}\n",
                quote(&table.to_string()),
                key_value(key),
                quote(column.as_str())
            ));
        }
        OldStorage::Json {
            table,
            key,
            column,
            path,
        } => {
            s.push_str(&format!(
                "table = {}\nkey = {}\ncolumn = {}\npath = {}\n",
                quote(&table.to_string()),
                key_value(key),
                quote(column.as_str()),
                quote(path.as_str())
            ));
        }
        OldStorage::Eav {
            table,
            key,
            name_column,
            name,
            value_column,
        } => {
            s.push_str(&format!(
                "table = {}\nkey = {}\nname_column = {}\nname = {}\nvalue_column = {}\n",
                quote(&table.to_string()),
                key_value(key),
                quote(name_column.as_str()),
                quote(name),
                quote(value_column.as_str())
            ));
        }
    }
    s.push_str(&format!(
        "\n[new]\ntable = {}\nkey = {}\ncolumn = {}\n",
        quote(&plan.new.table.to_string()),
        key_value(&plan.new.key),
        quote(plan.new.column.as_str())
    ));
    s.push_str(&format!(
        "\n[sync]\nbatch_size = {}\nmax_rows_per_second = {}      # 0: unthrottled\n",
        plan.sync.batch_size,
        plan.sync.max_rows_per_second.unwrap_or(0)
    ));
    s.push_str(&format!(
        "\n[guards]\nsoak = {}                  # time in 5a before 5b, and in 5b before 6\nmax_check_age = {}        # oldest clean cross-check accepted by 5a, 5b, 6\napprovals = {}              # approvals by others than the actor to pass 9\n",
        quote(&human_duration(plan.guards.soak).replace(' ', "")),
        quote(&human_duration(plan.guards.max_check_age).replace(' ', "")),
        plan.guards.approvals
    ));
    s.push_str(&format!(
        "\n[tools]                      # hand-written tools that step 8 requires to be deleted\npaths = {}\n",
        list(&plan.tools.paths)
    ));
    s.push_str(&format!(
        "\n[fleet]                      # the application's instances report what they do (attrmig-app, docs/app.md)\nobserved = {}             # true: steps 4, 5b, 6, 7 and 10 are gated on their reports\ninstance_ttl = {}           # an instance is live this long after its last report\nmin_compared_reads = {}     # compared reads needed in 5a before 5b, and in 5b before 6\nmax_mismatch_rate = {}      # share of compared reads allowed a persistent mismatch\n",
        plan.fleet.observed,
        quote(&human_duration(plan.fleet.instance_ttl).replace(' ', "")),
        plan.fleet.min_compared_reads,
        plan.fleet.max_mismatch_rate
    ));
    let refs: Vec<String> = plan
        .code
        .old_refs
        .iter()
        .map(|r| match r {
            CodeRef::Literal(l) => quote(l),
            CodeRef::Regex(re) => format!("{{ regex = {} }}", quote(re)),
        })
        .collect();
    s.push_str(&format!(
        "\n[code]                       # rules `attrmig check` enforces\nold_refs = [{}]   # strings, or {{ regex = \"...\" }}, naming the old attribute\npaths = {}        # source to scan for old_refs after step 9\nschema_paths = {} # SQL migrations that must not drop old storage early\n",
        refs.join(", "),
        list(&plan.code.paths),
        list(&plan.code.schema_paths)
    ));
    s
}
