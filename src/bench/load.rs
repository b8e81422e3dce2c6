//! The load loop: the setup phase (one user per slot), then either a closed loop (`concurrency`
//! workers back to back) or an open loop (`--rate`: ceremonies started on a fixed schedule,
//! latency counted from the scheduled start, at most `concurrency` in flight), with a warm-up,
//! a progress line a second and the server's CPU time over the measured phase.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::cpu;
use super::http::Failure;
use super::scenarios::{Target, User};
use super::stats::Stats;

/// How many users are set up at once.
const SETUP_PARALLELISM: usize = 32;

pub struct LoadOptions {
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub rate: Option<f64>,
    pub server_pid: Option<u32>,
    pub progress: bool,
    /// How long in-flight ceremonies may take to finish after the measured phase.
    pub drain_timeout: Duration,
}

pub struct Outcome {
    pub stats: Stats,
    /// The measured phase as it ran.
    pub measured: Duration,
    /// The server's CPU time over the measured phase.
    pub server_cpu: Option<Result<Duration, String>>,
    /// This process's CPU time over the measured phase (the load generator's own cost).
    pub client_cpu: Option<Duration>,
    /// Open loop: ceremonies scheduled in the measured phase that had not finished in time.
    pub unfinished: u64,
}

/// Sets up one user per slot; the first failure stops the run.
pub async fn setup(target: &Arc<Target>, slots: usize) -> Result<Vec<User>, Failure> {
    let gate = Arc::new(Semaphore::new(SETUP_PARALLELISM));
    let mut set = JoinSet::new();
    for slot in 0..slots {
        let (target, gate) = (target.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (slot, target.setup(slot).await)
        });
    }
    let mut users: Vec<Option<User>> = (0..slots).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((slot, Ok(user))) => users[slot] = Some(user),
            Ok((_, Err(f))) => return Err(f),
            Err(e) => return Err(Failure::new("setup", format!("a setup task failed: {e}"))),
        }
    }
    Ok(users.into_iter().flatten().collect())
}

struct Shared {
    stats: Mutex<Stats>,
    done: AtomicU64,
    failed: AtomicU64,
    measure_start: Instant,
    measure_end: Instant,
    /// Open loop: ceremonies scheduled inside the measured phase, and how many of them finished.
    scheduled: AtomicU64,
    finished: AtomicU64,
}

impl Shared {
    fn record(
        &self,
        counted: bool,
        latency: Duration,
        steps: &[(&'static str, Duration)],
        result: Result<(), Failure>,
    ) {
        match result {
            Ok(()) => {
                self.done.fetch_add(1, Ordering::Relaxed);
                if counted {
                    if let Ok(mut s) = self.stats.lock() {
                        s.success(latency, steps);
                    }
                }
            }
            Err(f) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if counted {
                    if let Ok(mut s) = self.stats.lock() {
                        s.failure(f.kind, f.message);
                    }
                }
            }
        }
    }

    fn in_window(&self, t: Instant) -> bool {
        t >= self.measure_start && t < self.measure_end
    }
}

pub async fn run(target: Arc<Target>, users: Vec<User>, o: &LoadOptions) -> Outcome {
    let start = Instant::now();
    let shared = Arc::new(Shared {
        stats: Mutex::new(Stats::default()),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        measure_start: start + o.warmup,
        measure_end: start + o.warmup + o.duration,
        scheduled: AtomicU64::new(0),
        finished: AtomicU64::new(0),
    });
    let progress = o
        .progress
        .then(|| tokio::spawn(progress(shared.clone(), start, o.warmup)));

    let load = match o.rate {
        None => tokio::spawn(closed_loop(target, users, shared.clone())),
        Some(rate) => tokio::spawn(open_loop(
            target,
            users,
            shared.clone(),
            rate,
            o.concurrency,
        )),
    };

    // The measured phase, with the CPU clocks read at its two ends.
    tokio::time::sleep_until(shared.measure_start).await;
    let cpu_before = o.server_pid.map(cpu::process_cpu);
    let own_before = cpu::own_cpu().ok();
    let began = Instant::now();
    tokio::time::sleep_until(shared.measure_end).await;
    let cpu_after = o.server_pid.map(cpu::process_cpu);
    let own_after = cpu::own_cpu().ok();
    let measured = began.elapsed();

    // In-flight ceremonies may finish; what is still running after the drain timeout is
    // stopped (open loop: counted as unfinished), so nothing competes with what comes next.
    let abort = load.abort_handle();
    if tokio::time::timeout(o.drain_timeout, load).await.is_err() {
        abort.abort();
    }
    let unfinished = shared
        .scheduled
        .load(Ordering::Relaxed)
        .saturating_sub(shared.finished.load(Ordering::Relaxed));
    if let Some(p) = progress {
        p.abort();
    }
    let server_cpu = match (cpu_before, cpu_after) {
        (Some(Ok(a)), Some(Ok(b))) => Some(Ok(b.saturating_sub(a))),
        (Some(Err(e)), _) | (_, Some(Err(e))) => Some(Err(e)),
        _ => None,
    };
    let client_cpu = match (own_before, own_after) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let stats = std::mem::take(&mut *shared.stats.lock().unwrap_or_else(|p| p.into_inner()));
    Outcome {
        stats,
        measured,
        server_cpu,
        client_cpu,
        unfinished,
    }
}

/// `concurrency` workers, each with its own user, back to back until the measured phase ends.
/// A ceremony counts when it finishes inside the measured phase.
async fn closed_loop(target: Arc<Target>, users: Vec<User>, shared: Arc<Shared>) {
    let mut set = JoinSet::new();
    for (slot, mut user) in users.into_iter().enumerate() {
        let (target, shared) = (target.clone(), shared.clone());
        set.spawn(async move {
            let mut steps = Vec::with_capacity(8);
            loop {
                let begun = Instant::now();
                if begun >= shared.measure_end {
                    return;
                }
                steps.clear();
                let result = target.ceremony(slot, &mut user, &mut steps).await;
                let ended = Instant::now();
                shared.record(shared.in_window(ended), ended - begun, &steps, result);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// Ceremonies started `rate` times a second on a fixed schedule from the start of the warm-up.
/// A ceremony that cannot start on time (every slot busy) waits for a slot, and its latency
/// still counts from its scheduled start. A ceremony counts when it was scheduled inside the
/// measured phase.
async fn open_loop(
    target: Arc<Target>,
    users: Vec<User>,
    shared: Arc<Shared>,
    rate: f64,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let pool = Arc::new(Mutex::new(
        users.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let origin = Instant::now();
    let mut set = JoinSet::new();
    for n in 0u64.. {
        let scheduled = origin + interval.mul_f64(n as f64);
        if scheduled >= shared.measure_end {
            break;
        }
        tokio::time::sleep_until(scheduled).await;
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let counted = shared.in_window(scheduled);
        if counted {
            shared.scheduled.fetch_add(1, Ordering::Relaxed);
        }
        let taken = pool.lock().ok().and_then(|mut p| p.pop());
        let Some((slot, mut user)) = taken else {
            // Cannot happen: as many users as permits.
            continue;
        };
        let (target, shared, pool) = (target.clone(), shared.clone(), pool.clone());
        set.spawn(async move {
            let mut steps = Vec::with_capacity(8);
            let result = target.ceremony(slot, &mut user, &mut steps).await;
            let latency = Instant::now() - scheduled;
            shared.record(counted, latency, &steps, result);
            if counted {
                shared.finished.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut p) = pool.lock() {
                p.push((slot, user));
            }
            drop(permit);
        });
        // Reap finished tasks so the set stays as small as the ceremonies in flight.
        while set.try_join_next().is_some() {}
    }
    while set.join_next().await.is_some() {}
}

/// One line a second on stderr: the phase, ceremonies and errors in the last second.
async fn progress(shared: Arc<Shared>, start: Instant, warmup: Duration) {
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let (mut last_done, mut last_failed) = (0, 0);
    loop {
        let now = tick.tick().await;
        let done = shared.done.load(Ordering::Relaxed);
        let failed = shared.failed.load(Ordering::Relaxed);
        let phase = if now <= start + warmup {
            "warmup "
        } else if now <= shared.measure_end {
            "measure"
        } else {
            "drain  "
        };
        eprintln!(
            "[{:>4}s] {phase} {:>7} ceremonies/s  {:>5} errors/s  (total {done} ok, {failed} errors)",
            (now - start).as_secs(),
            done - last_done,
            failed - last_failed,
        );
        (last_done, last_failed) = (done, failed);
    }
}
