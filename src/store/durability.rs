//! Deferred durability: one wait for the disk per request instead of one per write.
//!
//! A store write that must be on disk before its answer normally waits for a (group) flush
//! before it returns. Inside [`deferred`], it takes a ticket instead and returns at once; the
//! scope hands back a [`Pending`] for the highest ticket, and whoever answers waits for it once
//! ([`Pending::wait`] on a blocking thread, [`Pending::wait_async`] on an async one) before the
//! answer goes out. A sign-in that bumps a counter, appends an audit record and writes its session
//! thus waits for the disk once, and its writes share that flush with every other request's.
//!
//! A `Pending` dropped without a wait flushes there and then, so a forgotten wait costs time,
//! never durability. Writes outside any scope (the command-line tools, start-up, background
//! tasks) flush before they return, as they always did.

use std::cell::RefCell;
use std::sync::Arc;

use super::StoreResult;

/// What a backend gives a deferred write: a way to wait until the writes a ticket covers are
/// on disk.
pub(super) trait Flush: Send + Sync {
    /// Whether the writes of `ticket` are on disk already.
    fn is_flushed(&self, ticket: u64) -> bool;
    /// Returns once the writes of `ticket` are on disk.
    fn wait(&self, ticket: u64) -> StoreResult<()>;
    /// [`wait`](Self::wait) for an async caller, holding no thread while it waits.
    fn wait_async(self: Arc<Self>, ticket: u64) -> BoxFuture<StoreResult<()>>;
}

/// A boxed future that can move between threads.
pub(super) type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

struct Ticket {
    flush: Arc<dyn Flush>,
    ticket: u64,
}

thread_local! {
    /// `Some` inside [`deferred`]: the highest ticket taken there so far, if any.
    static SCOPE: RefCell<Option<Option<Ticket>>> = const { RefCell::new(None) };
}

/// Writes whose answer must wait until they are on disk; empty when there were none.
#[must_use = "wait for the writes to be on disk before answering"]
#[derive(Default)]
pub struct Pending(Option<Ticket>);

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pending")
            .field(&self.0.as_ref().map(|t| t.ticket))
            .finish()
    }
}

/// Runs `f` with the durable writes it makes (on this thread) deferred: they return without
/// waiting for the disk, and the answer must [`wait`](Pending::wait) for the `Pending`.
pub fn deferred<R>(f: impl FnOnce() -> R) -> (R, Pending) {
    /// Puts the enclosing scope back, also when `f` panics.
    struct Restore(Option<Option<Ticket>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            let inner = SCOPE.with(|s| s.replace(outer));
            // A panic unwinding out of `f`: its writes still reach the disk.
            drop(Pending(inner.flatten()));
        }
    }
    let mut restore = Restore(SCOPE.with(|s| s.replace(Some(None))));
    let result = f();
    let inner = SCOPE.with(|s| s.replace(restore.0.take()));
    std::mem::forget(restore);
    (result, Pending(inner.flatten()))
}

/// Called by a backend after a durable write, with the wait for it: inside [`deferred`] the
/// scope keeps it (the later of its waits) and this returns at once; outside, it waits here.
pub(super) fn defer_or_wait(pending: Pending) -> StoreResult<()> {
    let unscoped = SCOPE.with(|s| match s.borrow_mut().as_mut() {
        Some(kept) => {
            let mut later = Pending(kept.take()).and(pending);
            *kept = later.0.take();
            None
        }
        None => Some(pending),
    });
    unscoped.map_or(Ok(()), Pending::wait)
}

impl Pending {
    /// A wait for `ticket` of `flush`.
    pub(super) fn of(flush: Arc<dyn Flush>, ticket: u64) -> Pending {
        Pending(Some(Ticket { flush, ticket }))
    }

    /// Whether there is nothing to wait for.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Returns once the writes are on disk. Blocks: call it on a blocking thread.
    pub fn wait(mut self) -> StoreResult<()> {
        match self.0.take() {
            Some(t) => t.flush.wait(t.ticket),
            None => Ok(()),
        }
    }

    /// Returns once the writes are on disk, holding no thread meanwhile (one flush serves every
    /// request waiting then).
    pub async fn wait_async(mut self) -> StoreResult<()> {
        match self.0.take() {
            Some(t) if !t.flush.is_flushed(t.ticket) => t.flush.wait_async(t.ticket).await,
            _ => Ok(()),
        }
    }

    /// The later of two: waiting for it covers both.
    pub fn and(self, other: Pending) -> Pending {
        let (mut a, mut b) = (self, other);
        match (a.0.take(), b.0.take()) {
            (Some(x), Some(y)) => Pending(Some(if x.ticket >= y.ticket { x } else { y })),
            (x, y) => Pending(x.or(y)),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            if let Err(e) = t.flush.wait(t.ticket) {
                tracing::error!(error = %e, "a deferred flush failed after its answer was built");
            }
        }
    }
}
