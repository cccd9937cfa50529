//! Who runs a tool, and when a lease's holder is provably gone.
//!
//! A run of a tool is identified by a random token (its lease's fencing token), never by
//! host name and pid: two containers, or two PID namespaces of one machine, can have the
//! same of both. The "holder is dead" shortcut, which takes a lease over before it
//! lapses, is used only where this process can really tell: the same boot of the same
//! kernel (boot id), the same PID namespace, a `/proc` that shows that namespace, and
//! there the holder's pid is gone, or now belongs to a process that started at another
//! time. Anywhere else the lease is waited out.

use attrmig_store::leases::Runner;

/// `actor@host:pid`, the name a runner is shown by.
pub fn holder_name(actor: &str) -> String {
    format!("{actor}@{}:{}", hostname(), std::process::id())
}

/// This process, as the runner of one tool run, shown as `holder` ([`holder_name`]): a
/// fresh token every call.
pub fn here(holder: String) -> Runner {
    let host = hostname();
    let pid = std::process::id();
    let probe = Probe::of_this_process();
    Runner {
        holder,
        token: format!("{:032x}", rand::random::<u128>()),
        host,
        pid,
        boot_id: probe.boot_id,
        pid_ns: probe.pid_ns,
        proc_start: probe.proc_visible.then(|| start_time(pid)).flatten(),
    }
}

/// Whether `holder`'s process is provably gone, seen from this process.
pub fn is_dead(holder: &Runner) -> bool {
    dead(holder, &Probe::of_this_process(), &|pid| {
        std::path::Path::new(&format!("/proc/{pid}"))
            .exists()
            .then(|| start_time(pid))
    })
}

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// What this process can see of where it runs.
#[derive(Debug, Clone, Default)]
struct Probe {
    boot_id: Option<String>,
    pid_ns: Option<String>,
    /// `/proc` numbers processes as this process's PID namespace does (it may be a
    /// `/proc` mounted for another namespace: `unshare --pid` without `--mount-proc`).
    proc_visible: bool,
}

impl Probe {
    fn of_this_process() -> Probe {
        let text = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let link = |path: &str| {
            std::fs::read_link(path)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        };
        Probe {
            boot_id: text("/proc/sys/kernel/random/boot_id"),
            pid_ns: link("/proc/self/ns/pid"),
            proc_visible: link("/proc/self").as_deref()
                == Some(std::process::id().to_string().as_str()),
        }
    }
}

/// When process `pid` started, in clock ticks after boot: field 22 of `/proc/PID/stat`,
/// counted after the command name (which may hold spaces and parentheses).
fn start_time(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The decision, over what was probed. `process(pid)`: `None` if no such process,
/// `Some(start time)` if there is one (`Some(None)`: its start time can't be read).
fn dead(holder: &Runner, here: &Probe, process: &dyn Fn(u32) -> Option<Option<i64>>) -> bool {
    let same_place = holder.boot_id.is_some()
        && holder.boot_id == here.boot_id
        && holder.pid_ns.is_some()
        && holder.pid_ns == here.pid_ns
        && here.proc_visible;
    if !same_place {
        return false;
    }
    match process(holder.pid) {
        None => true,
        Some(Some(started)) => holder.proc_start.is_some_and(|s| s != started),
        Some(None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Runner {
        Runner {
            holder: "ada@box:4242".into(),
            token: "t".into(),
            host: "box".into(),
            pid: 4242,
            boot_id: Some("boot-1".into()),
            pid_ns: Some("pid:[1]".into()),
            proc_start: Some(1000),
        }
    }

    fn here() -> Probe {
        Probe {
            boot_id: Some("boot-1".into()),
            pid_ns: Some("pid:[1]".into()),
            proc_visible: true,
        }
    }

    #[test]
    fn gone_or_replaced_in_the_same_namespace_is_dead() {
        assert!(dead(&holder(), &here(), &|_| None), "no such process");
        assert!(
            dead(&holder(), &here(), &|_| Some(Some(2000))),
            "another process has its pid"
        );
        assert!(!dead(&holder(), &here(), &|_| Some(Some(1000))), "alive");
        assert!(
            !dead(&holder(), &here(), &|_| Some(None)),
            "can't read its start"
        );
    }

    #[test]
    fn anywhere_else_nothing_can_be_told() {
        let gone = |_: u32| None;
        let other_ns = Probe {
            pid_ns: Some("pid:[2]".into()),
            ..here()
        };
        assert!(!dead(&holder(), &other_ns, &gone), "another PID namespace");
        let other_boot = Probe {
            boot_id: Some("boot-2".into()),
            ..here()
        };
        assert!(
            !dead(&holder(), &other_boot, &gone),
            "another machine or boot"
        );
        let foreign_proc = Probe {
            proc_visible: false,
            ..here()
        };
        assert!(
            !dead(&holder(), &foreign_proc, &gone),
            "a /proc of another namespace"
        );
        let unknown = Runner {
            boot_id: None,
            pid_ns: None,
            ..holder()
        };
        assert!(
            !dead(&unknown, &here(), &gone),
            "a lease that says nothing of where"
        );
    }

    #[test]
    fn this_process_is_alive_and_its_tokens_differ() {
        let me = super::here(holder_name("alice"));
        assert!(me.holder.starts_with("alice@"));
        assert_ne!(me.token, super::here(holder_name("alice")).token);
        if cfg!(target_os = "linux") {
            assert!(me.boot_id.is_some() && me.pid_ns.is_some() && me.proc_start.is_some());
        }
        assert!(!is_dead(&me));
    }
}
