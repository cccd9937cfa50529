//! One migration's fleet on the page: whether it converged and who lags, every instance
//! with its counts at its current step, the double read's mismatch rate over time, and
//! the latest persistent mismatches with their keys.

use std::fmt::Write;

use attrmig_core::fleet::Counter;
use chrono::{DateTime, Utc};

use super::{nowrap, table};
use crate::charts;
use crate::escape::html as esc;
use crate::fleet::latest_mismatches;
use crate::model::{FleetReport, MigrationReport};
use crate::words::{count, fleet_standing, instance_state, percent, time};

/// The fleet part of a migration's section.
pub(super) fn section(m: &MigrationReport, now: DateTime<Utc>) -> String {
    let mut s = String::from("<h3>Fleet</h3>\n");
    let Some(f) = &m.fleet else {
        let trusted = m.show.as_ref().map_or(&[][..], |s| &s.fleet.on_trust[..]);
        if trusted.is_empty() {
            return String::new();
        }
        let _ = write!(
            s,
            "<p class=\"muted\">Not observed (<code>[fleet] observed = false</code>): no instance reports, and these are taken on trust:</p>\n<ul class=\"trust\">\n{}</ul>\n",
            trusted
                .iter()
                .map(|t| format!("<li>{}</li>\n", esc(t)))
                .collect::<String>()
        );
        return s;
    };
    let (good, standing) = fleet_standing(&f.fleet);
    let _ = writeln!(
        s,
        "<p class=\"{}\">{}.</p>",
        if good { "ok" } else { "bad" },
        esc(&standing)
    );
    if !f.fleet.instances.is_empty() {
        let rows: Vec<Vec<String>> = f
            .fleet
            .instances
            .iter()
            .map(|i| {
                let c = &i.counters;
                vec![
                    format!(
                        "<code title=\"{}\">{}</code>",
                        esc(&i.summary.process),
                        esc(&i.summary.id)
                    ),
                    esc(&i.summary.host),
                    esc(&i.summary.app_version),
                    nowrap(&i.summary.step.to_string()),
                    nowrap(&time(&i.since)),
                    nowrap(&time(&i.summary.last_seen)),
                    esc(&instance_state(i)),
                    count(c[Counter::Compared]),
                    count(c[Counter::Mismatches]),
                    count(c[Counter::TransientMismatches]),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "Instance",
                "Host",
                "Version",
                "Applies",
                "Since",
                "Last seen",
                "State",
                "Compared",
                "Persistent",
                "Transient",
            ],
            &[7, 8, 9],
            &rows,
        ));
        s.push_str("<p class=\"legend\">Counts at the step each instance applies now.</p>\n");
    }
    s.push_str("<h4>The double read: persistent-mismatch rate</h4>\n<figure>");
    s.push_str(&charts::mismatch_rate(
        &f.double_read,
        f.max_mismatch_rate,
        now,
    ));
    s.push_str(
        "</figure>\n<p class=\"legend\"><span><i class=\"dot pass\"></i>no read disagreed</span><span><i class=\"dot fail\"></i>persistent mismatches</span>\
         <span><i class=\"dot dash\"></i>[fleet] max_mismatch_rate</span></p>\n",
    );
    let (compared, persistent, transient) = f.double_read.iter().fold((0, 0, 0), |t, p| {
        (t.0 + p.compared, t.1 + p.mismatches, t.2 + p.transient)
    });
    if compared > 0 {
        let _ = writeln!(
            s,
            "<p>Over the buckets the instances keep: {} compared read(s), {} persistent mismatch(es) ({}), {} transient (a write landed between the two reads).</p>",
            count(compared),
            count(persistent),
            percent(persistent as f64 / compared as f64),
            count(transient)
        );
    }
    s.push_str(&samples(f));
    s
}

/// The newest persistent mismatches across the fleet.
fn samples(f: &FleetReport) -> String {
    let latest = latest_mismatches(f);
    if latest.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = latest
        .iter()
        .flat_map(|(id, s)| {
            s.fields.iter().map(move |d| {
                vec![
                    format!("<code>{}</code>", esc(&s.key)),
                    esc(&d.field),
                    format!("<code>{}</code>", esc(&d.old)),
                    format!("<code>{}</code>", esc(&d.new)),
                    esc(id),
                    nowrap(&time(&s.at)),
                    nowrap(&s.step.to_string()),
                ]
            })
        })
        .collect();
    format!(
        "<details open><summary>Latest {} persistent mismatch(es)</summary>\n{}</details>\n",
        latest.len(),
        table(
            &[
                "Key",
                "Field",
                "Old",
                "New",
                "Reported by",
                "When",
                "At step"
            ],
            &[],
            &rows
        )
    )
}
