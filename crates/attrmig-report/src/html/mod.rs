//! The report as one self-contained HTML page: inline CSS and inline SVG, no script and
//! no external resource of any kind, so it opens offline (a CI artifact, an attachment)
//! and reads on a phone: viewport meta, a fluid layout, tables that scroll sideways.

mod fleet;
mod migration;

use std::fmt::Write;

use crate::escape::html as esc;
use crate::model::Report;
use crate::words::{blockers, count, state_class, time};

const CSS: &str = include_str!("report.css");

/// The whole page.
pub fn render(report: &Report) -> String {
    let title = format!("attrmig report: {}", report.project);
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="attrmig {version}">
<title>{title}</title>
<style>
{CSS}</style>
</head>
<body>
<header class="page">
<h1>{title}</h1>
<p class="muted">Environment <strong>{env}</strong> · generated {generated} · {n} migration(s)</p>
</header>
<main>
"#,
        version = env!("CARGO_PKG_VERSION"),
        title = esc(&title),
        env = esc(&report.env),
        generated = esc(&time(&report.generated_at)),
        n = report.migrations.len(),
    );
    page.push_str(&summary(report));
    for m in &report.migrations {
        page.push_str(&migration::section(m, report.generated_at));
    }
    page.push_str(
        "</main>\n<footer>Made by <code>attrmig report</code>. Every age is relative to the time above; \
         run it again for a fresh view.</footer>\n</body>\n</html>\n",
    );
    page
}

/// Every migration in one table, each linking to its section.
fn summary(report: &Report) -> String {
    if report.migrations.is_empty() {
        return "<p>No migrations: no plans and nothing recorded. <code>attrmig init</code> writes a plan.</p>\n".into();
    }
    let rows: Vec<Vec<String>> = report
        .migrations
        .iter()
        .map(|m| {
            let chain = if m.chain_intact() {
                format!(
                    r#"<span class="ok">intact ({})</span>"#,
                    count(m.log.entries.len() as u64)
                )
            } else {
                r#"<span class="bad">BROKEN</span>"#.to_owned()
            };
            vec![
                format!(
                    r##"<a class="nowrap" href="#m-{id}">{id}</a>"##,
                    id = esc(m.id())
                ),
                format!(
                    r#"<span class="badge {}">{}</span>"#,
                    state_class(m),
                    esc(&m.status.position.to_string())
                ),
                m.status.next.map_or("-".into(), |s| nowrap(&s.to_string())),
                // Wide enough to read on a phone; the table scrolls sideways instead.
                format!(r#"<span class="wide">{}</span>"#, esc(&blockers(m))),
                chain,
            ]
        })
        .collect();
    format!(
        "<h2>Migrations</h2>\n{}",
        table(
            &["Migration", "Step", "Next", "Blocked by", "Audit chain"],
            &[],
            &rows
        )
    )
}

/// Text that should not wrap (times, hashes), escaped.
pub(crate) fn nowrap(text: &str) -> String {
    format!(r#"<span class="nowrap">{}</span>"#, esc(text))
}

/// A table of already-escaped cells; columns in `numeric` are right-aligned. Wrapped so
/// that a wide table scrolls on its own instead of widening the page.
pub(crate) fn table(head: &[&str], numeric: &[usize], rows: &[Vec<String>]) -> String {
    let class = |i: usize| {
        if numeric.contains(&i) {
            r#" class="num""#
        } else {
            ""
        }
    };
    let mut out = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(out, "<td{}>{cell}</td>", class(i));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_page_needs_nothing_but_itself() {
        let page = render(&fixture::report());
        assert!(
            page.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        for outside in [
            "<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "https:",
        ] {
            assert!(
                !page.contains(outside),
                "the page refers outside itself: {outside}"
            );
        }
        // The only URL is the SVG namespace, an identifier that is never fetched.
        assert_eq!(
            page.matches("http:").count(),
            page.matches(r#"xmlns="http://www.w3.org/2000/svg""#)
                .count()
        );
    }

    #[test]
    fn every_free_text_is_escaped() {
        let page = render(&fixture::report());
        assert!(
            page.contains(
                "shipped in &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; | release *42*"
            )
        );
        // The last finished run's mismatches are listed, values escaped.
        let mut dirty = fixture::report();
        dirty.migrations[0].cross_checks.truncate(2);
        let page = render(&dirty);
        assert!(page.contains("<td><code>0</code></td><td>differs</td><td><code>&lt;b&gt;old&lt;/b&gt;</code></td>"), "{page}");
    }

    #[test]
    fn an_observed_fleet_has_its_section() {
        let page = render(&fixture::report());
        assert_eq!(
            page.matches("<h3>Fleet</h3>").count(),
            1,
            "none for a migration with nothing to say"
        );
        assert!(page.contains(r#"<p class="bad">1 of 3 live instance(s) lag (1 gone): web-3 on host-c, version 1.9.0, at 2 cross-check, pinned.</p>"#), "{page}");
        assert_eq!(page.matches(r#"<svg class="chart rate""#).count(), 1);
        assert!(page.contains("<td>live, pinned</td>"));
        assert!(
            page.contains(r#"<code title="api[4005]">web-1</code>"#),
            "{page}"
        );
        assert!(
            page.contains("<td><code>&quot;&lt;b&gt;Ada&lt;/b&gt;&quot;</code></td>"),
            "mismatched values are escaped"
        );
        assert!(
            page.contains("210 compared read(s), 4 persistent mismatch(es) (1.9%), 1 transient")
        );
        // Not observed and no reports: what is taken on trust.
        let mut trusting = fixture::report();
        trusting.migrations[0].fleet = None;
        trusting.migrations[0].show.as_mut().unwrap().fleet =
            attrmig_engine::FleetSummary::not_observed();
        let page = render(&trusting);
        assert!(page.contains("Not observed (<code>[fleet] observed = false</code>)"));
        assert_eq!(page.matches("<ul class=\"trust\">").count(), 1);
        assert!(!page.contains(r#"<svg class="chart rate""#));
    }

    #[test]
    fn each_migration_has_its_section_and_charts() {
        let page = render(&fixture::report());
        for id in ["users-full-name", "orders-status"] {
            assert!(
                page.contains(&format!(r#"<section class="migration" id="m-{id}">"#)),
                "{id}"
            );
            assert!(
                page.contains(&format!(r##"href="#m-{id}""##)),
                "{id} is linked from the summary"
            );
        }
        for chart in ["timeline", "mismatches", "sync"] {
            assert_eq!(
                page.matches(&format!(r#"<svg class="chart {chart}""#))
                    .count(),
                2,
                "{chart}"
            );
        }
        assert!(page.contains("hash chain intact: 5 entries, ending at 5a double-read-old"));
        assert!(page.contains("hash chain BROKEN: the migration is at version 2"));
        assert!(page.contains("✗</span> <strong>fresh-clean-cross-check</strong>"));
        assert!(page.contains("1 row(s) the new storage rejected (1 resolved)"));
    }
}
