//! `attrmig demo`: a sandbox SQLite project walked through all ten steps, as a user would.
//!
//! Every `$ attrmig ...` line runs the real command in the sandbox (in this process, with
//! the sandbox as working directory) and shows its real output, refusals included. The
//! application is three instances reading and writing through attrmig-app ([`fleet`]):
//! they follow the migration's step and report, and the plan is observed, so the guards
//! read their reports; one runs an old release and holds step 4 back until it is
//! redeployed. What else happens between commands (a buggy write, a forgotten cron job
//! writing old storage after step 9) is done in SQL and said so.

mod fleet;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use attrmig_app::Step;
use attrmig_core::fleet::InstanceReport;
use attrmig_db::{AnyConnection, create_sqlite};
use clap::{Args, Parser};
use diesel::connection::SimpleConnection;

use self::fleet::Fleet;
use super::Ctx;
use crate::cli::Cli;
use crate::exit::{Code, Failure};
use crate::render;

/// Walk a sandbox SQLite project through all ten steps.
///
/// Creates DIR with an application database (users with full_name), attrmig.toml and a
/// plan, starts three instances of an application that reads and writes through
/// attrmig-app and reports to attrmig (threads of the demo), then runs each command with
/// its real output, refusals included. The sandbox stays: `cd DIR && attrmig status`
/// works there afterwards.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The sandbox folder (recreated if it holds an earlier demo).
    #[arg(long, default_value = "attrmig-demo")]
    pub dir: PathBuf,
    /// Users in the application database.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1000..))]
    pub rows: u32,
}

const ID: &str = "users-full-name";
const MARKER: &str = ".attrmig-demo";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const SOAK: u64 = 2;
/// Compared reads each instance makes in 5a and 5b before the demo goes on: the three
/// together pass the plan's min_compared_reads.
const COMPARED_EACH: u64 = 70;

const PLAN: &str = r#"description = "Move full_name out of users into users_pii (PII gets its own table)"
owners = ["identity-team"]

[old]
kind = "column"
table = "users"
key = "id"
column = "full_name"

[new]
table = "users_pii"
key = "user_id"
column = "full_name"

[sync]
batch_size = 10000
max_rows_per_second = 0

[guards]
soak = "2s"              # a real plan says "7d"; the demo can't wait a week
max_check_age = "1h"
approvals = 1

[tools]                  # the hand-written backfill the team used before attrmig
paths = ["scripts/backfill_full_name.py"]

[fleet]                  # the application reports through attrmig-app: the guards read it
observed = true
instance_ttl = "10s"     # a real plan keeps the default, 2m
min_compared_reads = 200
"#;

struct Demo<'a> {
    ctx: &'a Ctx,
    dir: PathBuf,
    db: PathBuf,
    /// The token of the last late-write refusal, for the command that accepts them.
    late_token: std::cell::RefCell<Option<String>>,
}

impl Demo<'_> {
    fn say(&self, text: &str) -> Result<(), Failure> {
        let lines: Vec<String> = text.lines().map(|l| format!("# {l}")).collect();
        self.ctx.out.text(&format!("\n{}", lines.join("\n")))
    }

    /// Runs `attrmig <args>` in the sandbox as `actor`, printing what a user would see.
    fn attrmig(&self, actor: &str, args: &[&str]) -> Result<Code, Failure> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("{a:?}")
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let who = if actor == ALICE {
            String::new()
        } else {
            format!("ATTRMIG_ACTOR={actor} ")
        };
        self.ctx
            .out
            .text(&format!("\n$ {who}attrmig {}", shown.join(" ")))?;
        let mut cli = Cli::try_parse_from(std::iter::once("attrmig").chain(args.iter().copied()))
            .map_err(|e| Failure::Other(anyhow::anyhow!("demo command {args:?}: {e}")))?;
        cli.global.actor = Some(actor.to_owned());
        let code = match super::run_in(cli, self.dir.clone()) {
            Ok(code) => code,
            Err(Failure::BrokenPipe) => return Err(Failure::BrokenPipe),
            Err(err) => {
                if let Failure::Engine(attrmig_engine::EngineError::Refused(refusal)) = &err
                    && let attrmig_core::Refusal::LateWrites { found, .. } = refusal.as_ref()
                {
                    *self.late_token.borrow_mut() = Some(found.token.clone());
                }
                let message = match &err {
                    Failure::Engine(e) => e.to_string(),
                    Failure::Other(e) => format!("{e:#}"),
                    Failure::Usage(m) => m.clone(),
                    Failure::BrokenPipe => String::new(),
                };
                self.ctx.out.text(&render::failure(&message, &err))?;
                crate::exit::code(&err)
            }
        };
        if code != Code::Ok {
            self.ctx.out.text(&format!("(exit {})", code as u8))?;
        }
        Ok(code)
    }

    fn alice(&self, args: &[&str]) -> Result<Code, Failure> {
        self.attrmig(ALICE, args)
    }

    /// What the application (or a person with a SQL prompt) does, shown and executed.
    fn app(&self, what: &str, sql: &str) -> Result<(), Failure> {
        self.say(what)?;
        self.ctx.out.text(&format!("sqlite> {}", sql.trim()))?;
        self.conn()?
            .batch_execute(sql)
            .with_context(|| format!("demo SQL failed: {sql}"))?;
        Ok(())
    }

    fn conn(&self) -> Result<AnyConnection, Failure> {
        let url =
            attrmig_db::DatabaseUrl::parse(&format!("sqlite://{}", self.db.display()), &self.dir)
                .map_err(|e| anyhow::anyhow!(e))?;
        Ok(attrmig_db::connect(&url)?)
    }

    /// Every instance's last report (none while the state can't be read).
    fn reports(&self) -> Vec<InstanceReport> {
        self.conn()
            .ok()
            .and_then(|mut c| attrmig_store::fleet::reports(&mut c, ID).ok())
            .unwrap_or_default()
    }

    /// Each instance's compared reads at the step it applies, from its last report.
    fn compared(&self) -> Vec<u64> {
        self.reports()
            .iter()
            .map(|r| r.current_counters()[attrmig_core::fleet::Counter::Compared])
            .collect()
    }

    /// Waits until the fleet applied `step` and reported it.
    fn applied(&self, fleet: &Fleet, step: Step) -> Result<(), Failure> {
        fleet.wait_applied(step, &|| self.reports())
    }

    /// Waits out the soak while the fleet compares reads.
    fn soak_and_compare(&self, fleet: &Fleet, step: &str) -> Result<(), Failure> {
        self.say(&format!(
            "Waiting out the {SOAK}s soak in {step} while the fleet compares reads..."
        ))?;
        let start = std::time::Instant::now();
        fleet.wait_compared(COMPARED_EACH, &|| self.compared())?;
        if let Some(left) = Duration::from_secs(SOAK).checked_sub(start.elapsed()) {
            std::thread::sleep(left + Duration::from_millis(200));
        }
        Ok(())
    }
}

fn prepare_sandbox(dir: &Path) -> Result<(), Failure> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).is_file();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_demo && !empty {
            return Err(Failure::Usage(format!(
                "{} exists and is not an attrmig demo sandbox; choose another with --dir",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot remove the old sandbox {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("plans"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("scripts"))?;
    std::fs::write(
        dir.join(MARKER),
        "attrmig demo sandbox: `attrmig demo` recreates it\n",
    )?;
    std::fs::write(
        dir.join("attrmig.toml"),
        "plans = \"plans\"\n\n[environments.dev]\ndatabase_url = \"sqlite://app.db\"\n",
    )?;
    std::fs::write(dir.join("plans").join(format!("{ID}.toml")), PLAN)?;
    std::fs::write(
        dir.join("scripts/backfill_full_name.py"),
        "# The hand-written backfill the team wrote before attrmig. Step 8 requires it gone:\n\
         # run after step 9, it would copy stale old values over new ones.\n\
         import sqlite3\n\
         db = sqlite3.connect('app.db')\n\
         db.execute('INSERT OR REPLACE INTO users_pii (user_id, full_name) SELECT id, full_name FROM users')\n\
         db.commit()\n",
    )?;
    Ok(())
}

/// The application's database: users with 400 distinct names, one of them too long for
/// the new table's CHECK constraint.
fn application_sql(rows: u32) -> String {
    let first = [
        "Ada",
        "Alan",
        "Grace",
        "Edsger",
        "Barbara",
        "Donald",
        "Margaret",
        "Dennis",
        "Frances",
        "Ken",
        "Radia",
        "John",
        "Sophie",
        "Tim",
        "Hedy",
        "Linus",
        "Katherine",
        "Niklaus",
        "Shafi",
        "Leslie",
    ];
    let last = [
        "Lovelace",
        "Turing",
        "Hopper",
        "Dijkstra",
        "Liskov",
        "Knuth",
        "Hamilton",
        "Ritchie",
        "Allen",
        "Thompson",
        "Perlman",
        "McCarthy",
        "Wilson",
        "Berners-Lee",
        "Lamarr",
        "Torvalds",
        "Johnson",
        "Wirth",
        "Goldwasser",
        "Lamport",
    ];
    let values = |names: &[&str]| {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("({i}, '{n}')"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name VARCHAR(255) NOT NULL);
         WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}),
              f(i, name) AS (VALUES {}),
              l(i, name) AS (VALUES {})
         INSERT INTO users (id, email, full_name)
         SELECT s.n, 'user' || s.n || '@example.com', f.name || ' ' || l.name
         FROM s JOIN f ON f.i = s.n % 20 JOIN l ON l.i = (s.n / 20) % 20;
         UPDATE users SET full_name = 'Maximiliana Wolfeschlegelsteinhausenbergerdorff-Anderson de la Vega' WHERE id = 4242;",
        values(&first),
        values(&last)
    )
}

pub fn run(ctx: &Ctx, args: DemoArgs) -> Result<Code, Failure> {
    if ctx.out.json {
        return Err(Failure::Usage(
            "the demo prints a transcript for people; run it without --json".into(),
        ));
    }
    let dir = ctx.cwd.join(&args.dir);
    prepare_sandbox(&dir)?;
    let db = dir.join("app.db");
    // WAL, as a server's SQLite would run: readers don't wait for the writers.
    create_sqlite(&db)?
        .batch_execute(&format!(
            "PRAGMA journal_mode = WAL; {}",
            application_sql(args.rows)
        ))
        .context("cannot fill the demo database")?;
    // The state tables, before the application's instances read them.
    attrmig_store::setup::ensure_schema(&mut create_sqlite(&db)?)
        .context("cannot create the state tables in the demo database")?;
    let d = Demo {
        ctx,
        dir: dir.clone(),
        db: db.clone(),
        late_token: std::cell::RefCell::new(None),
    };
    d.say(&format!(
        "attrmig demo: a sandbox in {}\n\
         app.db holds {} users with a full_name; the plan moves full_name to its own table,\n\
         users_pii, one verified step at a time. Lines with $ are real attrmig commands.",
        dir.display(),
        args.rows
    ))?;
    let mut fleet = Fleet::new(&db, args.rows);
    walk(&d, &mut fleet)?;
    fleet.stop_all();
    d.say(&format!(
        "Done. The sandbox stays: cd {} && attrmig status (or show, log, mode)",
        args.dir.display()
    ))?;
    Ok(Code::Ok)
}

fn walk(d: &Demo<'_>, fleet: &mut Fleet) -> Result<(), Failure> {
    d.say(
        "The application runs three instances, threads of this demo. web-1 and web-2 run release\n\
         2026.11.3, which reads and writes full_name through attrmig-app: each reads the migration's\n\
         step, acts on its mode and reports what it does. web-3 still runs 2026.11.2, whose code has\n\
         the old path pinned: it writes old, reads old, whatever the step. The plan says\n\
         [fleet] observed = true, so the guards read the reports.",
    )?;
    fleet.start("web-1", "host-a", "2026.11.3", None)?;
    fleet.start("web-2", "host-b", "2026.11.3", None)?;
    fleet.start("web-3", "host-c", "2026.11.2", Some(Step::CrossCheck))?;
    d.alice(&["status"])?;
    d.alice(&["advance", ID])?;
    d.say("Refused: the new table does not exist. attrmig proposes its DDL:")?;
    d.alice(&["ddl", ID, "prepare-storage"])?;
    d.app(
        "The team adds a CHECK constraint to it and ships it as their own schema migration:",
        "CREATE TABLE users_pii (user_id INTEGER NOT NULL PRIMARY KEY, full_name VARCHAR(255) CHECK (length(full_name) <= 60));",
    )?;
    d.alice(&["advance", ID])?;

    d.say("Step 2 needs evidence that the cross-check works against this database.")?;
    d.alice(&["advance", ID])?;
    d.alice(&["cross-check", ID, "--max-report", "3"])?;
    d.say("Mismatches are expected: nothing is copied yet. The run is the evidence.")?;
    d.alice(&["advance", ID])?;

    d.say("The sync refuses to run before double-write is live: rows written after it would be missed.")?;
    d.alice(&["sync", ID])?;
    d.alice(&["advance", ID])?;
    d.say(
        "Release 2026.11.3 writes both tables, old then new in one transaction, once the step says so:\n\
         reaching 3 is what switches web-1 and web-2.",
    )?;
    d.alice(&[
        "advance",
        ID,
        "--note",
        "double-write: release 2026.11.3 (commit a1b2c3d) follows the step through attrmig-app",
    ])?;
    d.applied(fleet, Step::DoubleWrite)?;
    d.alice(&["fleet", ID])?;

    d.alice(&["sync", ID])?;
    d.alice(&["advance", ID])?;
    d.say(
        "web-3 is redeployed on release 2026.11.3: it follows the step now. The pass above ran while it\n\
         still wrote old only, so what it wrote since can be missing in new: a later pass counts.",
    )?;
    fleet.stop("web-3");
    fleet.start("web-3", "host-c", "2026.11.3", None)?;
    d.applied(fleet, Step::DoubleWrite)?;
    d.alice(&["fleet", ID])?;
    d.say("The sync also set the rejected row aside instead of failing the pass:")?;
    d.alice(&["data-issues", ID])?;
    d.app(
        "The data is fixed at the source:",
        "UPDATE users SET full_name = 'Maximiliana W. de la Vega' WHERE id = 4242;",
    )?;
    d.alice(&["data-issues", ID, "--retry"])?;
    d.app(
        "Meanwhile a bug in the double-write path wrote three wrong values and lost one row:",
        "UPDATE users_pii SET full_name = upper(full_name) WHERE user_id IN (10, 20, 30); DELETE FROM users_pii WHERE user_id = 40;",
    )?;
    d.alice(&["cross-check", ID])?;
    d.say(
        "The bug is fixed. A second pass, started after the whole fleet wrote both, writes only the rows\n\
         that differ: the bug's, and any that web-3 wrote to old only before its redeploy.",
    )?;
    d.alice(&["sync", ID])?;
    d.alice(&["cross-check", ID])?;
    d.alice(&["advance", ID])?;

    d.say("From 5a the application reads both and compares; a sampled cross-check keeps watch.")?;
    d.alice(&["cross-check", ID, "--sample", "1000"])?;
    d.alice(&["advance", ID])?;
    d.applied(fleet, Step::DoubleReadOld)?;
    d.alice(&["advance", ID])?;
    d.soak_and_compare(fleet, "5a")?;
    d.alice(&["fleet", ID])?;
    d.alice(&["advance", ID])?;
    d.applied(fleet, Step::DoubleReadNew)?;
    d.soak_and_compare(fleet, "5b")?;
    d.alice(&["advance", ID])?;
    d.applied(fleet, Step::StopReadingOld)?;
    d.alice(&["mode", ID])?;

    d.say("Step 7: old storage must accept writes without full_name.")?;
    d.alice(&["advance", ID])?;
    d.alice(&["ddl", ID, "prepare-old-stop", "--apply"])?;
    d.alice(&["advance", ID])?;

    d.say("Step 8 retires the tools: the hand-written backfill must be deleted first.")?;
    d.alice(&["advance", ID])?;
    std::fs::remove_file(d.dir.join("scripts/backfill_full_name.py"))
        .context("cannot delete the demo's backfill script")?;
    d.say("$ git rm scripts/backfill_full_name.py")?;
    d.alice(&["advance", ID])?;
    d.alice(&["sync", ID])?;

    d.say("Step 9 is the point of no return.")?;
    d.alice(&["advance", ID])?;
    d.alice(&["approve", ID])?;
    d.alice(&["advance", ID, "--confirm-point-of-no-return"])?;
    d.attrmig(
        BOB,
        &["approve", ID, "--note", "reviewed the cross-check history"],
    )?;
    d.say(
        "The demo's application writes on: what an instance still at 8 writes to old storage before it\n\
         applies 9 is expected traffic. A trigger now logs every write to old storage (docs/tools.md).",
    )?;
    d.alice(&["advance", ID, "--confirm-point-of-no-return"])?;
    d.applied(fleet, Step::StopWritingOld)?;

    // Past the grace for writes still in flight when an instance applied 9.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    d.app(
        "A forgotten cron job still writes old storage after the point of no return:",
        "UPDATE users SET full_name = 'Written Too Late' WHERE id = 77;",
    )?;
    d.alice(&["ddl", ID, "drop-old", "--apply"])?;
    d.app(
        "The cron job is found and stopped. Its write is replayed into new storage:",
        "UPDATE users_pii SET full_name = 'Written Too Late' WHERE user_id = 77;",
    )?;
    let token = d
        .late_token
        .borrow()
        .clone()
        .context("the demo expected drop-old to refuse the cron job's write")?;
    d.say("Then exactly that late write is accepted, with a note for the audit log:")?;
    d.alice(&[
        "ddl",
        ID,
        "drop-old",
        "--apply",
        "--accept-late-writes",
        &token,
        "--note",
        "cron job stopped; its write replayed into users_pii",
    ])?;
    d.alice(&["advance", ID])?;
    d.applied(fleet, Step::DropOld)?;
    d.alice(&["fleet", ID])?;
    d.alice(&["status"])?;
    d.alice(&["log", ID, "--verify"])?;
    Ok(())
}
