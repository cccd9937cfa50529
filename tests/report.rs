//! `attrmig report`: one migration walked by the real binary (cross-checks, sync,
//! advances), two more recorded through the store (days of history, data issues, an
//! approval). The HTML page is opened in headless Chromium, which must render every
//! migration and its charts without the page overflowing a phone's width; screenshots
//! are kept under `target/test-artifacts/`. Markdown carries the same content.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use attrmig_core::Step;
use attrmig_core::facts::Counts;
use chrono::Duration;

use crate::recorded::{Store, hours_ago, plan};
use crate::support::*;

const USERS: &str = "users-full-name";
const ACCOUNTS: &str = "accounts-email";
const ORDERS: &str = "orders-status";

fn storage_plan(old_table: &str, column: &str, new_table: &str, key: &str) -> String {
    format!(
        "description = \"Move {column} out of {old_table}\"\nowners = [\"platform-team\"]\n\n\
         [old]\nkind = \"column\"\ntable = \"{old_table}\"\nkey = \"id\"\ncolumn = \"{column}\"\n\n\
         [new]\ntable = \"{new_table}\"\nkey = \"{key}\"\ncolumn = \"{column}\"\n\n\
         [guards]\nsoak = \"1d\"\nmax_check_age = \"24h\"\napprovals = 1\n"
    )
}

/// Three migrations: users-full-name at 5a (driven by the binary), accounts-email at 3
/// with sync passes and open data issues, orders-status at 8 with weeks of history.
fn project(db: &TestDb) -> Project<'_> {
    let accounts = storage_plan("accounts", "email", "accounts_pii", "account_id");
    let orders = storage_plan("orders", "status", "order_states", "order_id");
    let p = Project::new(db)
        .with_users(100)
        .with_plan(USERS, USERS_PLAN)
        .with_plan(ACCOUNTS, &accounts)
        .with_plan(ORDERS, &orders);

    p.attrmig(["ddl", USERS, "prepare-storage", "--apply"])
        .run()
        .ok();
    p.attrmig(["advance", USERS]).run().ok();
    p.attrmig(["cross-check", USERS])
        .run()
        .code(4)
        .stdout_has("missing in new 100");
    p.attrmig(["advance", USERS]).run().ok();
    p.attrmig([
        "advance",
        USERS,
        "--note",
        "double-write shipped in release 42 <b>(api)</b>",
    ])
    .run()
    .ok();
    p.attrmig(["sync", USERS]).run().ok();
    p.attrmig(["cross-check", USERS]).run().ok();
    p.attrmig(["advance", USERS]).run().ok();
    p.attrmig(["cross-check", USERS]).run().ok();
    p.attrmig(["advance", USERS])
        .run()
        .ok()
        .stdout_has("→ 5a double-read-old");

    let mut store = Store::open(db);
    let accounts = plan(ACCOUNTS, &accounts);
    store.advance_to(
        &accounts,
        Step::DoubleWrite,
        hours_ago(24 * 9),
        Duration::hours(30),
    );
    store.cross_check(
        ACCOUNTS,
        Step::CrossCheck,
        Counts {
            matching: 0,
            missing_in_new: 5_000,
            extra_in_new: 0,
            differs: 0,
        },
        hours_ago(24 * 8),
    );
    store.sync_pass(
        ACCOUNTS,
        Step::DoubleWrite,
        2,
        1_000,
        0,
        false,
        hours_ago(24 * 5),
    );
    store.sync_pass(
        ACCOUNTS,
        Step::DoubleWrite,
        5,
        1_000,
        2,
        true,
        hours_ago(24 * 4),
    );
    store.cross_check(
        ACCOUNTS,
        Step::DoubleWrite,
        Counts {
            matching: 4_998,
            missing_in_new: 2,
            extra_in_new: 0,
            differs: 0,
        },
        hours_ago(24 * 3),
    );

    let orders = plan(ORDERS, &orders);
    store.advance_to(
        &orders,
        Step::PrepareOldStop,
        hours_ago(24 * 30),
        Duration::hours(60),
    );
    for (i, differs) in [(0, 800), (1, 40), (2, 3), (3, 0), (4, 0)] {
        store.cross_check(
            ORDERS,
            Step::Sync,
            Counts {
                matching: 10_000 - differs,
                missing_in_new: 0,
                extra_in_new: 0,
                differs,
            },
            hours_ago(24 * (25 - 4 * i)),
        );
    }
    store.advance_to(
        &orders,
        Step::DeleteTools,
        hours_ago(24),
        Duration::hours(1),
    );
    store.approve(&orders, "carol@example.com", hours_ago(2));
    p
}

backend_tests! {
    fn markdown_carries_the_same_content(db: &TestDb) {
        let p = project(db);
        let out = p.attrmig(["report", "--format", "markdown"]).run().ok();
        let md = &out.stdout;
        for heading in [
            "# attrmig report: project",
            "## users-full-name: at 5a double-read-old; next 5b double-read-new",
            "## accounts-email: at 3 double-write; next 4 sync",
            "## orders-status: at 8 delete-tools; next 9 stop-writing-old",
            "### Guards of 5b double-read-new (3 of 3 pass)",
            "### Guards of 4 sync",
        ] {
            assert!(md.contains(heading), "lacks {heading:?}\n{md}");
        }
        assert!(md.contains("| ● | 5a | **double-read-old** |"), "{md}");
        assert!(md.contains("- ✗ **no-unresolved-data-issues**"), "{md}");
        assert!(md.contains("**2** row(s) the new storage rejected; `attrmig data-issues accounts-email --retry` re-drives them."), "{md}");
        assert!(md.contains("`█▁▁` over 3 finished run(s)"), "users-full-name: 100 missing, then clean twice\n{md}");
        assert!(md.contains("`█▅▂▁▁` over 5 finished run(s)"), "orders-status converging\n{md}");
        assert!(md.contains("| 2 | completed |"), "{md}");
        assert!(md.contains("double-write shipped in release 42 &lt;b&gt;(api)&lt;/b&gt;"), "{md}");
        assert_eq!(md.matches("✓ **hash chain intact").count(), 3, "{md}");
        assert!(md.contains("Approvals of 9 stop-writing-old: carol@example.com"), "{md}");
    }
}

#[test]
fn a_broken_chain_is_reported_and_exits_4() {
    let db = TestDb::sqlite();
    let p = project(&db);
    p.sql("UPDATE attrmig_transitions SET actor = 'mallory@example.com' WHERE migration_id = 'orders-status' AND version = 3");
    let out = p.attrmig(["report", "--out", "report.html"]).run().code(4);
    assert!(out.stdout.starts_with("wrote "), "{}", out.stdout);
    let page = std::fs::read_to_string(p.path("report.html")).unwrap();
    assert!(page.contains("hash chain BROKEN: entry 3 was altered"));
    let doc = p.attrmig(["--json", "report"]).run().code(4).json();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["migrations"].as_array().map(Vec::len), Some(3));
    let verdicts: Vec<(&str, &str)> = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["status"]["id"].as_str().unwrap(),
                m["log"]["verification"]["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [(ACCOUNTS, "intact"), (ORDERS, "broken"), (USERS, "intact")]
    );
}

#[test]
fn a_missing_or_invalid_plan_still_shows_its_history() {
    let db = TestDb::sqlite();
    let p = project(&db);
    std::fs::remove_file(p.path(&format!("plans/{ORDERS}.toml"))).unwrap();
    p.write(
        &format!("plans/{ACCOUNTS}.toml"),
        "[old]\nkind = \"column\"\ntabel = \"accounts\"\n",
    );
    let md = p
        .attrmig(["report", "--format", "markdown"])
        .run()
        .ok()
        .stdout;
    assert!(
        md.contains("> **plan missing: plans/orders-status.toml**"),
        "{md}"
    );
    assert!(md.contains("> **plan invalid: "), "{md}");
    assert!(
        md.contains(r"plans/accounts-email.toml:3:1: old.tabel: unknown key \`tabel\`"),
        "{md}"
    );
    // Without a valid plan there is no ladder or guards, but the runs, the issues and
    // the verified audit log are all there.
    assert_eq!(
        md.matches("### Steps").count(),
        1,
        "only users-full-name has a valid plan\n{md}"
    );
    assert_eq!(md.matches("✓ **hash chain intact").count(), 3, "{md}");
    assert!(
        md.contains("hash chain intact: 3 entries, ending at 3 double-write"),
        "{md}"
    );
    assert!(md.contains("**2** row(s) the new storage rejected"), "{md}");
}

/// Where artifacts of a test run are kept (CI uploads the folder).
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// The Chromium to drive: `ATTRMIG_TEST_CHROMIUM`, else Debian's `/usr/bin/chromium`.
/// Missing, it skips, unless `ATTRMIG_TEST_REQUIRE` names `chromium`.
#[allow(clippy::print_stderr)] // saying why a check did not run is the point
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("ATTRMIG_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} does not exist (Debian: `apt-get install chromium`)",
        path.display()
    );
    let required = std::env::var("ATTRMIG_TEST_REQUIRE").is_ok_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("chromium"))
    });
    if required {
        panic!("ATTRMIG_TEST_REQUIRE contains `chromium` but {why}");
    }
    eprintln!("skipping the Chromium checks: {why}");
    None
}

/// Runs headless Chromium on `page` in a fresh profile, with everything that could
/// reach the network switched off; returns stdout. Killed after a minute.
fn headless(chromium: &Path, page: &Path, width: u32, height: u32, action: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if started.elapsed() > StdDuration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium {action} did not finish within a minute");
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium {action}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The page's scroll width and client width on a 390px phone: a copy of the page
/// measures itself (the report has no script of its own).
fn width_on_a_phone(chromium: &Path, page: &Path, html: &str) -> (u32, u32) {
    let probe = page.with_extension("probe.html");
    let measure = "<script>document.body.dataset.scrollWidth = document.documentElement.scrollWidth;\
                   document.body.dataset.clientWidth = document.documentElement.clientWidth;</script></body>";
    std::fs::write(&probe, html.replace("</body>", measure)).unwrap();
    let measured = headless(chromium, &probe, 390, 844, "--dump-dom");
    let attr = |name: &str| -> u32 {
        let start = measured
            .find(&format!("{name}=\""))
            .unwrap_or_else(|| panic!("no {name} in\n{measured}"))
            + name.len()
            + 2;
        measured[start..]
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    std::fs::remove_file(&probe).unwrap();
    (attr("data-scroll-width"), attr("data-client-width"))
}

#[test]
fn the_page_renders_in_chromium() {
    let db = TestDb::sqlite();
    let p = project(&db);
    let dir = artifacts();
    let page = dir.join("report.html");
    p.attrmig(["report", "--out", page.to_str().unwrap()])
        .run()
        .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in ["<script", "<link", " src=", "url(", "https:"] {
        assert!(
            !html.contains(outside),
            "the report refers outside itself: {outside}"
        );
    }
    let Some(chromium) = chromium() else { return };

    let dom = headless(&chromium, &page, 1280, 2400, "--dump-dom");
    for id in [USERS, ACCOUNTS, ORDERS] {
        assert!(
            dom.contains(&format!(r#"<section class="migration" id="m-{id}">"#)),
            "{id} not rendered"
        );
    }
    for chart in ["timeline", "mismatches", "sync"] {
        assert_eq!(
            dom.matches(&format!(r#"<svg class="chart {chart}""#))
                .count(),
            3,
            "{chart} charts"
        );
    }
    assert_eq!(dom.matches("hash chain intact").count(), 3);
    assert!(dom.contains("no-unresolved-data-issues"));

    // On a phone the page itself must not scroll sideways: wide tables scroll in their
    // own box.
    let (scroll, client) = width_on_a_phone(&chromium, &page, &html);
    assert!(
        scroll <= client,
        "on a 390px phone the page is {scroll}px wide"
    );

    for (name, width, height) in [
        ("report-phone.png", 390, 844),
        ("report-desktop.png", 1280, 2400),
    ] {
        let shot = dir.join(name);
        let _ = std::fs::remove_file(&shot);
        headless(
            &chromium,
            &page,
            width,
            height,
            &format!("--screenshot={}", shot.display()),
        );
        assert_eq!(png_size(&shot), (width, height), "{name}");
    }
}

/// An observed migration at 5a whose instances report through attrmig-app: two compare
/// reads (one finds two keys that disagree), one of an old release is pinned at 2.
fn observed_at_5a(db: &TestDb) -> (Project<'_>, Vec<attrmig_app::Instance>) {
    let plan_text = crate::fleet::observed_plan();
    let p = Project::new(db).with_users(10).with_plan(USERS, &plan_text);
    p.attrmig(["ddl", USERS, "prepare-storage", "--apply"])
        .run()
        .ok();
    Store::open(db).advance_to(
        &plan(USERS, &plan_text),
        Step::DoubleReadOld,
        hours_ago(5),
        Duration::hours(1),
    );
    // Reading the steps every 500 ms, an instance says it is stale only after 1.5 s
    // without a read: a busy machine's SQLite can hold a refresh longer than 150 ms.
    let instance = |id, host, version| {
        crate::fleet::instance(db, id, host, version).refresh_every(StdDuration::from_millis(500))
    };
    let web1 = instance("web-1", "host-a", "2.0.0").open().unwrap();
    let web2 = instance("web-2", "host-b", "2.0.0").open().unwrap();
    let old = instance("web-3", "host-c", "1.9.0")
        .pin(USERS, attrmig_app::Step::CrossCheck)
        .open()
        .unwrap();
    for (instance, planted) in [(&web1, true), (&web2, false)] {
        let m = instance.migration(USERS).unwrap();
        for key in 1..=40u32 {
            let new = if planted && key <= 2 {
                format!("<b>user {key}</b>")
            } else {
                format!("name {key}")
            };
            m.read(
                &key,
                || Ok::<_, ()>(format!("name {key}")),
                || Ok(new.clone()),
            )
            .unwrap();
        }
    }
    crate::fleet::wait_for("the compared reads are reported", || {
        let fleet = p.attrmig(["--json", "fleet", USERS]).run().ok().json();
        let instances = fleet["migrations"][0]["instances"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        instances.len() == 3
            && instances
                .iter()
                .filter(|i| i["counters"]["compared"] == 40)
                .count()
                == 2
    });
    (p, vec![web1, web2, old])
}

backend_tests! {
    fn the_fleet_section_shows_who_lags_and_the_double_read(db: &TestDb) {
        let (p, _instances) = observed_at_5a(db);
        let md = p.attrmig(["report", "--format", "markdown"]).run().ok().stdout;
        assert!(md.contains("### Fleet\n\n✗ 1 of 3 live instance(s) lag: web-3 on host-c, version 1.9.0, at 2 cross-check, pinned."), "{md}");
        let web1 = md.lines().find(|l| l.starts_with("| web-1 ")).unwrap_or_default();
        assert!(web1.starts_with("| web-1 | host-a | 2.0.0 | 5a double-read-old | "), "{md}");
        assert!(web1.ends_with(" | live | 40 | 2 | 0 |"), "web-1 found two persistent mismatches\n{md}");
        assert!(md.contains("| web-3 | host-c | 1.9.0 | 2 cross-check | "), "{md}");
        assert!(md.contains("80 compared read(s), 2 persistent (2.5%), 0 transient"), "{md}");
        assert!(md.contains(r#"| 2 | value | "name 2" | "&lt;b&gt;user 2&lt;/b&gt;" | web-1 | "#), "{md}");
        let doc = p.attrmig(["--json", "report"]).run().ok().json();
        let fleet = &doc["migrations"][0]["fleet"];
        assert_eq!(fleet["fleet"]["summary"]["lagging"][0]["id"], "web-3");
        assert_eq!(fleet["double_read"].as_array().map(|a| a.iter().map(|p| p["compared"].as_u64().unwrap()).sum::<u64>()), Some(80));
        assert_eq!(fleet["max_mismatch_rate"], 0.0);
    }
}

#[test]
fn the_fleet_section_renders_in_chromium() {
    let db = TestDb::sqlite();
    let (p, _instances) = observed_at_5a(&db);
    let dir = artifacts();
    let page = dir.join("report-fleet.html");
    p.attrmig(["report", "--out", page.to_str().unwrap()])
        .run()
        .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    let Some(chromium) = chromium() else { return };
    let dom = headless(&chromium, &page, 1280, 2400, "--dump-dom");
    assert!(dom.contains("<h3>Fleet</h3>"), "{dom}");
    assert_eq!(dom.matches(r#"<svg class="chart rate""#).count(), 1);
    assert!(
        dom.contains(r#"class="mark dirty""#),
        "the minute with the mismatches is marked"
    );
    let (scroll, client) = width_on_a_phone(&chromium, &page, &html);
    assert!(
        scroll <= client,
        "on a 390px phone the page is {scroll}px wide"
    );
    let shot = dir.join("report-fleet-phone.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &chromium,
        &page,
        390,
        1600,
        &format!("--screenshot={}", shot.display()),
    );
    assert_eq!(png_size(&shot), (390, 1600));
}
