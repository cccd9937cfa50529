//! The application in the loop, through the real binary: instances of the application
//! (attrmig-app, in this process) report; the guards of an observed migration read the
//! reports and name the instances that hold a step back; `fleet`, `status` and `show`
//! show the fleet; a plan that is not observed says what is taken on trust.

use std::time::Duration;

use attrmig_app::{Instance, Step};
use chrono::Duration as Hours;

use crate::recorded::{Store, hours_ago, plan};
use crate::support::*;

const ID: &str = "users-full-name";

pub(crate) fn observed_plan() -> String {
    format!(
        "{USERS_PLAN}\n[fleet]\nobserved = true\ninstance_ttl = \"2s\"\nmin_compared_reads = 5\n"
    )
}

pub(crate) fn instance(
    db: &TestDb,
    id: &str,
    host: &str,
    version: &str,
) -> attrmig_app::InstanceBuilder {
    Instance::builder()
        .state_url(db.url())
        .migration(ID)
        .instance_id(id)
        .host(host)
        .app_version(version)
        .refresh_every(Duration::from_millis(50))
        .report_every(Duration::from_millis(100))
}

pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not within 10 s: {what}");
}

/// A project at 3 double-write, recorded, with new storage made by attrmig.
fn at_double_write<'a>(db: &'a TestDb, plan_text: &str) -> Project<'a> {
    let p = Project::new(db).with_users(30).with_plan(ID, plan_text);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    let mut store = Store::open(db);
    store.advance_to(
        &plan(ID, plan_text),
        attrmig_core::Step::DoubleWrite,
        hours_ago(5),
        Hours::hours(1),
    );
    p
}

backend_tests! {
    fn an_observed_sync_waits_for_the_whole_fleet_to_double_write(db: &TestDb) {
        let plan_text = observed_plan();
        let p = at_double_write(db, &plan_text);
        // Switching to observed mid-migration must be said in the audit log.
        p.attrmig(["advance", ID]).run().code(3).stderr_has(
            "switched [fleet] observed from false to true since the last advance; pass --note",
        );
        let note = ["--note", "the API reports through attrmig-app from release 8"];

        let web1 = instance(db, "web-1", "host-a", "8.0.0").open().unwrap();
        let old = instance(db, "web-2", "host-b", "7.9.1").pin(ID, Step::CrossCheck).open().unwrap();
        wait_for("both report", || p.attrmig(["--json", "fleet", ID]).run().ok().json()["migrations"][0]["instances"].as_array().is_some_and(|a| a.len() == 2));

        let fleet = p.attrmig(["--json", "fleet", ID]).run().ok().json();
        let m = &fleet["migrations"][0];
        assert_eq!(m["summary"]["converged"], false, "{fleet:#}");
        let lagging = &m["summary"]["lagging"][0];
        assert_eq!((lagging["id"].as_str(), lagging["host"].as_str(), lagging["app_version"].as_str(), lagging["step"].as_str(), lagging["pinned"].as_bool()),
            (Some("web-2"), Some("host-b"), Some("7.9.1"), Some("cross-check"), Some(true)));
        p.attrmig(["fleet", ID]).run().ok().stdout_has("2 live, 1 lagging: web-2 on host-b at 2").stdout_has("live, pinned");
        p.attrmig(["status"]).run().ok().stdout_has("1 lagging: web-2 on host-b at 2");
        p.attrmig(["show", ID]).run().ok().stdout_has("lagging: web-2 (").stdout_has("version 7.9.1) at 2 cross-check");

        p.attrmig(["sync", ID]).run().ok();
        p.attrmig(["cross-check", ID]).run().ok();
        let mut args = vec!["advance", ID];
        args.extend(note);
        p.attrmig(&args).run().code(3)
            .stderr_has("✗ fleet-wrote-both-before-sync: 1 live instance(s) still write old storage only, so 4 sync can't be entered: web-2 (")
            .stderr_has("on host-b, version 7.9.1) at 2 cross-check: writes old, reads old, pinned, ")
            .stderr_has("last seen");

        // The old release is replaced; the pass ran before it was, so it doesn't count.
        drop(old);
        let _new = instance(db, "web-3", "host-b", "8.0.0").open().unwrap();
        wait_for("web-2 is gone and web-3 reports", || {
            let live = p.attrmig(["--json", "fleet", ID, "--live"]).run().ok().json();
            let ids: Vec<_> = live["migrations"][0]["instances"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
            ids.len() == 2 && !ids.contains(&"web-2".to_owned())
        });
        p.attrmig(["fleet", ID]).run().ok().stdout_has("(1 gone)");
        p.attrmig(&args).run().code(3).stderr_has("before the whole fleet wrote both storages").stderr_has("run `attrmig sync users-full-name` for a new pass");

        // What the refusal says to do works.
        p.attrmig(["sync", ID]).run().ok();
        p.attrmig(["cross-check", ID]).run().ok();
        let out = p.attrmig(&args).run().ok().stdout;
        assert!(out.contains("3 double-write → 4 sync"), "{out}");
        let log = p.attrmig(["--json", "log", ID]).run().ok().json();
        let last = log["entries"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["note"], "the API reports through attrmig-app from release 8");
        let guards = last["evidence"]["guards"].as_array().unwrap();
        let observation = guards.iter().find(|g| g["name"] == "fleet-observation-unchanged").unwrap();
        assert_eq!(observation["evidence"]["switched_from"], false, "{last:#}");
        drop(web1);
    }
}

#[test]
fn a_plan_that_is_not_observed_says_what_is_taken_on_trust() {
    let db = TestDb::sqlite();
    let p = Project::new(&db).with_users(5).with_plan(ID, USERS_PLAN);
    p.attrmig(["show", ID])
        .run()
        .ok()
        .stdout_has("fleet: not observed")
        .stdout_has("taken on trust (the application is not observed: [fleet] observed = false):")
        .stdout_has("· 7 prepare-old-stop: that nothing reads old storage any more");
    let show = p.attrmig(["--json", "show", ID]).run().ok().json();
    assert_eq!(show["fleet"]["observed"], false);
    assert_eq!(show["fleet"]["on_trust"].as_array().unwrap().len(), 5);
    p.attrmig(["fleet"])
        .run()
        .ok()
        .stdout_has("no instance has reported");
}

#[test]
fn an_observed_migration_with_no_instance_is_refused_and_shown() {
    let db = TestDb::sqlite();
    let plan_text = observed_plan();
    let p = at_double_write(&db, &plan_text);
    p.attrmig(["show", ID])
        .run()
        .ok()
        .stdout_has("fleet: no live instance");
    p.attrmig(["advance", ID, "--note", "observed from now on"]).run().code(3)
        .stderr_has("no instance of the application reported in the last 2s (0 instance(s) reported before and are gone)");
}

#[test]
fn drop_old_is_refused_while_an_observed_instance_still_writes_old() {
    let db = TestDb::sqlite();
    let plan_text = observed_plan();
    let p = Project::new(&db).with_users(5).with_plan(ID, &plan_text);
    p.attrmig(["ddl", ID, "prepare-storage", "--apply"])
        .run()
        .ok();
    let mut store = Store::open(&db);
    store.advance_to(
        &plan(ID, &plan_text),
        attrmig_core::Step::StopWritingOld,
        hours_ago(12),
        Hours::hours(1),
    );
    let _stuck = instance(&db, "batch-1", "worker-7", "6.2.0")
        .pin(ID, Step::DeleteTools)
        .open()
        .unwrap();
    let _ok = instance(&db, "web-1", "host-a", "8.0.0").open().unwrap();
    wait_for("both report", || {
        p.attrmig(["--json", "fleet", ID, "--live"])
            .run()
            .ok()
            .json()["migrations"][0]["instances"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().code(3)
        .stderr_has("1 live instance(s) still write old storage, so 10 drop-old can't be entered: batch-1 (")
        .stderr_has("on worker-7, version 6.2.0) at 8 delete-tools: writes both, reads new, pinned");
    assert_eq!(
        p.count("SELECT COUNT(*) AS n FROM users WHERE full_name IS NOT NULL"),
        5,
        "nothing was dropped"
    );
}
