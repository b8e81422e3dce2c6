//! Group commit: callers that need their writes on disk before they answer share one flush.
//!
//! Each caller takes a ticket after its writes. A flush that starts after a ticket was taken
//! covers that caller's writes, so one caller at a time runs the flush for every ticket taken
//! so far while the others wait for it (or, if their ticket came later, for the next one).
//! Under load one `fsync`-class flush thus serves many requests; alone, a caller flushes at
//! once as before. A failed flush acknowledges nobody: its error goes to the caller that ran
//! it, and the waiters try again themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::store::durability::{BoxFuture, Flush};
use crate::store::{StoreError, StoreResult};

/// How much flushing the store did: for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Flushes run.
    pub flushes: u64,
    /// Commits (callers) those flushes acknowledged: divided by `flushes`, the batch size.
    pub commits: u64,
    /// Time spent flushing, in microseconds.
    pub flush_micros: u64,
}

#[derive(Default)]
struct State {
    /// The last ticket taken.
    taken: u64,
    /// Every ticket up to this one is on disk.
    flushed: u64,
    /// A caller is running a flush.
    flushing: bool,
}

/// The tickets one flush covers: those after `from`, through `through`.
struct Batch {
    from: u64,
    through: u64,
}

enum Claim {
    /// The ticket is on disk.
    Done,
    /// Run this flush.
    Lead(Batch),
    /// Another caller's flush runs: wait until it finishes, then ask again.
    Wait,
}

#[derive(Default)]
pub(super) struct GroupCommit {
    state: Mutex<State>,
    /// Blocking waiters: told when a flush finishes.
    done: Condvar,
    /// Async waiters: told when a flush finishes.
    finished: tokio::sync::Notify,
    flushes: AtomicU64,
    commits: AtomicU64,
    flush_micros: AtomicU64,
}

impl GroupCommit {
    /// Returns once a flush that started after this call has succeeded (`flush` run here or
    /// by another caller), or with the error of the flush this caller ran.
    #[cfg(test)]
    pub(super) fn commit<E>(&self, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let ticket = self.ticket();
        self.wait(ticket, flush)
    }

    /// A ticket for the writes made so far: [`wait`](Self::wait) for it returns once they are
    /// on disk. Taken after the writes, so that any flush started later covers them.
    pub(super) fn ticket(&self) -> u64 {
        let mut state = self.lock();
        state.taken += 1;
        state.taken
    }

    /// Whether the writes of `ticket` are on disk already.
    pub(super) fn is_flushed(&self, ticket: u64) -> bool {
        self.lock().flushed >= ticket
    }

    /// Returns once a flush that started after `ticket` was taken has succeeded (`flush` run
    /// here or by another caller), or with the error of the flush this caller ran.
    pub(super) fn wait<E>(&self, ticket: u64, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut state = self.lock();
        loop {
            if state.flushed >= ticket {
                return Ok(());
            }
            if state.flushing {
                state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let batch = Self::lead(&mut state);
            drop(state);
            self.run(batch, &flush)?;
            state = self.lock();
        }
    }

    /// What a caller waiting for `ticket` without blocking does next; `Wait` callers were
    /// registered with [`finished`](Self::finished) before they asked.
    fn claim(&self, ticket: u64) -> Claim {
        let mut state = self.lock();
        if state.flushed >= ticket {
            Claim::Done
        } else if state.flushing {
            Claim::Wait
        } else {
            Claim::Lead(Self::lead(&mut state))
        }
    }

    /// Takes the flush for every ticket taken so far.
    fn lead(state: &mut State) -> Batch {
        state.flushing = true;
        Batch {
            from: state.flushed,
            through: state.taken,
        }
    }

    /// Runs the flush of `batch` and tells every waiter, blocking or not, how it went.
    fn run<E>(&self, batch: Batch, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let started = Instant::now();
        let result = flush();
        self.finish(batch, started, result.is_ok());
        result
    }

    /// Ends the flush of `batch`, begun at `started`, and wakes every waiter.
    fn finish(&self, batch: Batch, started: Instant, succeeded: bool) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut state = self.lock();
        state.flushing = false;
        if succeeded {
            state.flushed = batch.through;
            self.flushes.fetch_add(1, Ordering::Relaxed);
            self.commits
                .fetch_add(batch.through - batch.from, Ordering::Relaxed);
            self.flush_micros.fetch_add(micros, Ordering::Relaxed);
        }
        drop(state);
        self.done.notify_all();
        self.finished.notify_waiters();
    }

    pub(super) fn stats(&self) -> FlushStats {
        FlushStats {
            flushes: self.flushes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            flush_micros: self.flush_micros.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The store's flushes: its database and the group that shares them.
pub(super) struct Flusher {
    group: GroupCommit,
    db: sled::Db,
}

impl Flusher {
    pub(super) fn new(db: sled::Db) -> Arc<Self> {
        Arc::new(Self {
            group: GroupCommit::default(),
            db,
        })
    }

    /// A ticket for everything written so far (see [`GroupCommit::ticket`]).
    pub(super) fn ticket(&self) -> u64 {
        self.group.ticket()
    }

    pub(super) fn stats(&self) -> FlushStats {
        self.group.stats()
    }
}

impl Flush for Flusher {
    fn is_flushed(&self, ticket: u64) -> bool {
        self.group.is_flushed(ticket)
    }

    fn wait(&self, ticket: u64) -> StoreResult<()> {
        self.group.wait(ticket, || self.db.flush().map(drop))?;
        Ok(())
    }

    /// Waits without holding a thread: the caller that leads a flush hands it to sled's I/O
    /// threads from a task of its own (so it completes even if this caller goes away); the
    /// others sleep until a flush finishes and ask again.
    fn wait_async(self: Arc<Self>, ticket: u64) -> BoxFuture<StoreResult<()>> {
        Box::pin(async move {
            loop {
                let finished = self.group.finished.notified();
                tokio::pin!(finished);
                finished.as_mut().enable();
                match self.group.claim(ticket) {
                    Claim::Done => return Ok(()),
                    Claim::Wait => finished.await,
                    Claim::Lead(batch) => {
                        // sled runs the flush on its own I/O threads; a task of its own (not
                        // this request, which may go away) ends the batch and wakes everyone.
                        let flusher = self.clone();
                        let (tell, told) = tokio::sync::oneshot::channel();
                        tokio::spawn(async move {
                            let started = Instant::now();
                            let result = flusher.db.flush_async().await;
                            flusher.group.finish(batch, started, result.is_ok());
                            let _ = tell.send(result);
                        });
                        told.await
                            .map_err(|e| StoreError::Flush(format!("the flush task failed: {e}")))?
                            .map_err(StoreError::Sled)?;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_lone_caller_flushes_at_once_each_time() {
        let group = GroupCommit::default();
        let runs = AtomicU64::new(0);
        for _ in 0..3 {
            group
                .commit(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(())
                })
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let stats = group.stats();
        assert_eq!((stats.flushes, stats.commits), (3, 3));
    }

    /// While one flush runs, every caller that arrives waits and the next single flush
    /// acknowledges all of them.
    #[test]
    fn callers_arriving_during_a_flush_share_the_next_one() {
        let group = Arc::new(GroupCommit::default());
        let runs = Arc::new(AtomicU64::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let flush = {
            let (runs, release) = (runs.clone(), release.clone());
            move || {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                // The first flush holds until every other caller is waiting.
                while n == 0 && !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok::<_, ()>(())
            }
        };
        let first = {
            let (group, flush) = (group.clone(), flush.clone());
            std::thread::spawn(move || group.commit(flush))
        };
        while runs.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let arrived = Arc::new(Barrier::new(9));
        let others: Vec<_> = (0..8)
            .map(|_| {
                let (group, flush, arrived) = (group.clone(), flush.clone(), arrived.clone());
                std::thread::spawn(move || {
                    arrived.wait();
                    group.commit(flush)
                })
            })
            .collect();
        arrived.wait();
        // Let the eight reach their wait before the first flush ends.
        while group.lock().taken < 9 {
            std::thread::yield_now();
        }
        release.store(true, Ordering::SeqCst);
        first.join().unwrap().unwrap();
        for t in others {
            t.join().unwrap().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one flush for the eight");
        let stats = group.stats();
        assert_eq!((stats.flushes, stats.commits), (2, 9));
    }

    #[test]
    fn a_failed_flush_acknowledges_nobody_and_the_next_caller_flushes_again() {
        let group = GroupCommit::default();
        assert_eq!(group.commit(|| Err("disk full")), Err("disk full"));
        assert_eq!(group.stats(), FlushStats::default());
        let runs = AtomicU64::new(0);
        group
            .commit(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, &str>(())
            })
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // The failed caller's ticket is covered by the later flush.
        assert_eq!(group.stats().commits, 2);
    }

    /// A waiter whose flusher failed runs the flush itself rather than being acknowledged.
    #[test]
    fn waiters_of_a_failed_flush_flush_themselves() {
        let group = Arc::new(GroupCommit::default());
        let runs = Arc::new(AtomicU64::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let flush = {
            let (runs, release) = (runs.clone(), release.clone());
            move || {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    return Err("io error");
                }
                Ok(())
            }
        };
        let first = {
            let (group, flush) = (group.clone(), flush.clone());
            std::thread::spawn(move || group.commit(flush))
        };
        while runs.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let second = {
            let (group, flush) = (group.clone(), flush.clone());
            std::thread::spawn(move || group.commit(flush))
        };
        while group.lock().taken < 2 {
            std::thread::yield_now();
        }
        release.store(true, Ordering::SeqCst);
        assert_eq!(first.join().unwrap(), Err("io error"));
        assert_eq!(second.join().unwrap(), Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
