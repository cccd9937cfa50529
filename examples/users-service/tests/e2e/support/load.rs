//! The load generator: worker threads that write and read through the instances for as
//! long as the test runs, and remember every write an instance acknowledged.
//!
//! Each worker owns the keys `k` with `k % workers == w`, so the last acknowledged value
//! of every key is known exactly. A worker sends each request to the next instance in
//! turn: one key's writes go through every instance, whatever mode each applies. After
//! each acknowledged write it reads the key back through another instance, which must
//! serve that value (read-your-writes across the fleet, at every step). A request an
//! instance could not answer (it was killed) is sent again to the next one: a `PUT` is
//! idempotent, and the transaction of the one that died either committed whole or not
//! at all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;

use super::service::Client;

/// What one worker saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// The last acknowledged value per key.
    pub acked: HashMap<i64, String>,
    /// Acknowledged writes.
    pub writes: u64,
    /// Reads that returned a value.
    pub reads: u64,
    /// Requests sent again after an instance did not answer.
    pub resent: u64,
    /// Acknowledged writes per instance.
    pub acked_by: HashMap<String, u64>,
    /// Everything that went wrong: an `ERR`, a read that did not return the value just
    /// written, a key with no value.
    pub failures: Vec<String>,
}

/// Where the workers send requests: the live instances, changed by the test as it
/// starts and kills them.
#[derive(Clone, Default)]
pub struct Targets(Arc<RwLock<Vec<(String, SocketAddr)>>>);

impl Targets {
    pub fn set(&self, targets: Vec<(String, SocketAddr)>) {
        *self.0.write().unwrap() = targets;
    }

    pub fn add(&self, id: &str, addr: SocketAddr) {
        self.0.write().unwrap().push((id.to_owned(), addr));
    }

    pub fn remove(&self, id: &str) {
        self.0.write().unwrap().retain(|(i, _)| i != id);
    }

    fn list(&self) -> Vec<(String, SocketAddr)> {
        self.0.read().unwrap().clone()
    }
}

/// A running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    workers: Vec<JoinHandle<Tally>>,
    pub targets: Targets,
}

/// What the test watches while the load runs.
#[derive(Default)]
struct Counts {
    acked_writes: AtomicU64,
    resent: AtomicU64,
}

/// The value a worker writes: capitals, so that the planted bug (lower-casing) shows.
fn value(key: i64, seq: u64, worker: usize) -> String {
    format!("User {key} v{seq} w{worker}")
}

impl Load {
    /// `workers` threads over keys `1..=keys`.
    pub fn start(targets: Targets, workers: usize, keys: i64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let workers = (0..workers)
            .map(|w| {
                let worker = Worker {
                    w,
                    of: workers,
                    keys,
                    targets: targets.clone(),
                    stop: Arc::clone(&stop),
                    counts: Arc::clone(&counts),
                    clients: HashMap::new(),
                    turn: w,
                    tally: Tally::default(),
                };
                std::thread::spawn(move || worker.run())
            })
            .collect();
        Load {
            stop,
            counts,
            workers,
            targets,
        }
    }

    /// Writes acknowledged so far, by every worker.
    pub fn acked_writes(&self) -> u64 {
        self.counts.acked_writes.load(Ordering::SeqCst)
    }

    /// Requests sent again so far, after an instance did not answer.
    pub fn resent(&self) -> u64 {
        self.counts.resent.load(Ordering::SeqCst)
    }

    /// Waits until `n` more writes are acknowledged.
    pub fn wait_for_writes(&self, n: u64) {
        let target = self.acked_writes() + n;
        let start = Instant::now();
        while self.acked_writes() < target {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the load made no progress: {} of {target} writes acknowledged",
                self.acked_writes()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the workers and merges what they saw.
    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Tally::default();
        for w in self.workers {
            let t = w.join().expect("a load worker panicked");
            all.acked.extend(t.acked);
            all.writes += t.writes;
            all.reads += t.reads;
            all.resent += t.resent;
            for (id, n) in t.acked_by {
                *all.acked_by.entry(id).or_default() += n;
            }
            all.failures.extend(t.failures);
        }
        all
    }
}

struct Worker {
    w: usize,
    of: usize,
    keys: i64,
    targets: Targets,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    clients: HashMap<SocketAddr, Client>,
    turn: usize,
    tally: Tally,
}

impl Worker {
    fn run(mut self) -> Tally {
        let mut rng = rand::rng();
        let mut seq = 0u64;
        let owned = (self.keys - self.w as i64 - 1) / self.of as i64 + 1;
        while !self.stop.load(Ordering::SeqCst) {
            {
                let key = self.w as i64 + 1 + self.of as i64 * rng.random_range(0..owned);
                seq += 1;
                let v = value(key, seq, self.w);
                if let Some((by, reply)) = self.send(&format!("PUT {key} {v}")) {
                    if reply == "OK" {
                        self.tally.acked.insert(key, v.clone());
                        self.tally.writes += 1;
                        *self.tally.acked_by.entry(by).or_default() += 1;
                        self.counts.acked_writes.fetch_add(1, Ordering::SeqCst);
                        self.read_back(key, &v);
                    } else {
                        self.tally.failures.push(format!("PUT {key}: {reply}"));
                    }
                }
            }
            // A read of any key, for the double read's volume.
            let key = rng.random_range(1..=self.keys);
            if let Some((_, reply)) = self.send(&format!("GET {key}")) {
                match reply.strip_prefix("VALUE ") {
                    Some(_) => self.tally.reads += 1,
                    None => self.tally.failures.push(format!("GET {key}: {reply}")),
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.tally
    }

    /// The key just written, read through the next instance: it must be the value.
    fn read_back(&mut self, key: i64, v: &str) {
        if let Some((by, reply)) = self.send(&format!("GET {key}")) {
            if reply.strip_prefix("VALUE ") == Some(v) {
                self.tally.reads += 1;
            } else {
                self.tally
                    .failures
                    .push(format!("GET {key} from {by} after PUT {key} {v}: {reply}"));
            }
        }
    }

    /// Sends to the next instance; on a connection that failed, to the one after, until
    /// one answers: which one, and its answer (`None` only if none answers for 30 s,
    /// counted as a failure).
    fn send(&mut self, line: &str) -> Option<(String, String)> {
        let start = Instant::now();
        loop {
            let targets = self.targets.list();
            if targets.is_empty() || start.elapsed() > Duration::from_secs(30) {
                if start.elapsed() > Duration::from_secs(30) {
                    self.tally
                        .failures
                        .push(format!("{line}: no instance answered for 30 s"));
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            self.turn = self.turn.wrapping_add(1);
            let (id, addr) = targets[self.turn % targets.len()].clone();
            let reply = match self.clients.get_mut(&addr) {
                Some(c) => c.request(line),
                None => Client::connect(addr).and_then(|mut c| {
                    let r = c.request(line);
                    self.clients.insert(addr, c);
                    r
                }),
            };
            match reply {
                Ok(reply) => return Some((id, reply)),
                Err(_) => {
                    self.clients.remove(&addr);
                    self.tally.resent += 1;
                    self.counts.resent.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}
