//! Bounded in-memory tables for what a crash may lose: the ceremonies not yet answered and the
//! sessions nobody is signed in to (a flow's progress before its sign-in). Keeping them out of
//! sled spares every ceremony several tree writes (each a copy of a leaf and a log entry) that
//! nothing needs on disk: a lost one costs the user a new challenge or a new start of the flow.
//!
//! A table holds at most `max_entries` entries and `max_bytes` of their estimated size; when it
//! is full the caller keeps the value in sled instead, as before this table existed, so a flood
//! of new sessions or challenges fills the disk, never the memory. What expired leaves at the
//! store's periodic purge (`server.purge_interval`, on the engine's clock). A graceful shutdown writes the tables into sled ([`SledStore::keep_volatile`]), so a
//! restart loses nothing either.
//!
//! [`SledStore::keep_volatile`]: super::SledStore::keep_volatile

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

/// Which keys [`Volatile::put`] may write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Only {
    /// Any key: a new one is added.
    Any,
    /// Only a key that is here already.
    Existing,
    /// Only a key that is not here yet.
    New,
}

/// What [`Volatile::put`] did.
pub(super) enum Put<V> {
    Kept,
    /// The key was not as [`Only`] asked (absent for `Existing`, present for `New`): the value
    /// back.
    Refused(V),
    /// Keeping it would take the table over its bounds: the value back.
    Full(V),
}

impl<V> Put<V> {
    #[cfg(test)]
    fn kept(&self) -> bool {
        matches!(self, Put::Kept)
    }
}

/// One bounded table; keys are the sled keys the values would have had.
pub(super) struct Volatile<V> {
    inner: Mutex<Inner<V>>,
    max_entries: usize,
    max_bytes: usize,
}

struct Inner<V> {
    map: HashMap<String, Entry<V>>,
    bytes: usize,
}

struct Entry<V> {
    value: V,
    size: usize,
    /// When the purge may drop it.
    drop_after: DateTime<Utc>,
}

impl<V: Clone> Volatile<V> {
    pub(super) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `value` under `key`, replacing what was there. With [`Only::Existing`], only when
    /// `key` is here already; with [`Only::New`], only when it is not. Gives the value back when
    /// `key` is not as `only` asked, or keeping it would take the table over its bounds;
    /// nothing changed then. What expired
    /// leaves at the next [`purge`](Self::purge) (the store's periodic one, on the engine's
    /// clock).
    pub(super) fn put(
        &self,
        key: &str,
        value: V,
        size: usize,
        drop_after: DateTime<Utc>,
        only: Only,
    ) -> Put<V> {
        let mut inner = self.lock();
        let (entries, bytes) = match inner.map.get(key) {
            Some(_) if only == Only::New => return Put::Refused(value),
            Some(old) => (inner.map.len(), inner.bytes - old.size + size),
            None if only == Only::Existing => return Put::Refused(value),
            None => (inner.map.len() + 1, inner.bytes + size),
        };
        if entries > self.max_entries || bytes > self.max_bytes {
            return Put::Full(value);
        }
        let entry = Entry {
            value,
            size,
            drop_after,
        };
        if let Some(old) = inner.map.insert(key.to_string(), entry) {
            inner.bytes -= old.size;
        }
        inner.bytes += size;
        Put::Kept
    }

    /// A copy of the value under `key`.
    pub(super) fn get(&self, key: &str) -> Option<V> {
        self.lock().map.get(key).map(|e| e.value.clone())
    }

    /// Whether `key` is here.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.lock().map.contains_key(key)
    }

    /// Takes the value under `key` out.
    pub(super) fn take(&self, key: &str) -> Option<V> {
        let mut inner = self.lock();
        let entry = inner.map.remove(key)?;
        inner.bytes -= entry.size;
        Some(entry.value)
    }

    /// Drops what expired by `now`; returns how many.
    pub(super) fn purge(&self, now: DateTime<Utc>) -> usize {
        self.lock().purge(now)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Takes everything out (a graceful shutdown writes it to sled).
    pub(super) fn drain(&self) -> Vec<(String, V)> {
        let mut inner = self.lock();
        inner.bytes = 0;
        inner.map.drain().map(|(k, e)| (k, e.value)).collect()
    }
}

impl<V> Inner<V> {
    fn purge(&mut self, now: DateTime<Utc>) -> usize {
        let before = self.map.len();
        let mut freed = 0;
        self.map.retain(|_, e| {
            let keep = e.drop_after > now;
            if !keep {
                freed += e.size;
            }
            keep
        });
        self.bytes -= freed;
        before - self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(seconds)
    }

    #[test]
    fn a_full_table_takes_nothing_until_the_purge_dropped_what_expired() {
        let t = Volatile::<u8>::new(2, 1000);
        assert!(t.put("a", 1, 10, at(100), Only::Any).kept());
        assert!(t.put("b", 2, 10, at(200), Only::Any).kept());
        assert!(
            matches!(t.put("c", 3, 10, at(300), Only::Any), Put::Full(3)),
            "full"
        );
        assert_eq!(t.get("c"), None);
        assert!(
            t.put("a", 9, 10, at(100), Only::Any).kept(),
            "replacing needs no room"
        );
        assert_eq!(t.get("a"), Some(9));
        assert_eq!(t.purge(at(99)), 0, "nothing expired yet");
        assert_eq!(t.purge(at(100)), 1, "a expired");
        assert!(t.put("c", 3, 10, at(300), Only::Any).kept());
        assert_eq!(t.get("a"), None);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn the_byte_budget_counts_what_is_kept_and_frees_what_leaves() {
        let t = Volatile::<u8>::new(100, 25);
        assert!(t.put("a", 1, 10, at(100), Only::Any).kept());
        assert!(t.put("b", 2, 10, at(100), Only::Any).kept());
        assert!(
            !t.put("c", 3, 10, at(100), Only::Any).kept(),
            "30 bytes > 25"
        );
        assert!(
            t.put("b", 2, 15, at(100), Only::Any).kept(),
            "b grows to 15: 25 bytes"
        );
        assert_eq!(t.take("a"), Some(1));
        assert!(
            t.put("c", 3, 10, at(100), Only::Any).kept(),
            "a's bytes were freed"
        );
        assert_eq!(t.purge(at(100)), 2);
        assert!(t.put("d", 4, 25, at(200), Only::Any).kept());
    }

    #[test]
    fn only_existing_or_new_keys_take_and_drain() {
        let t = Volatile::<u8>::new(10, 1000);
        assert!(t.put("a", 1, 1, at(100), Only::Any).kept());
        assert!(t.put("a", 5, 1, at(100), Only::Existing).kept());
        assert!(matches!(
            t.put("b", 5, 1, at(100), Only::Existing),
            Put::Refused(5)
        ));
        assert!(matches!(
            t.put("a", 6, 1, at(100), Only::New),
            Put::Refused(6)
        ));
        assert_eq!(t.get("a"), Some(5), "only a new key");
        assert!(t.put("c", 6, 1, at(100), Only::New).kept());
        assert_eq!(t.take("c"), Some(6));
        assert!(!t.contains("b"));
        assert!(t.contains("a"));
        assert_eq!(t.take("a"), Some(5));
        assert_eq!(t.take("a"), None, "taken exactly once");
        assert!(t.put("x", 7, 1, at(100), Only::Any).kept());
        assert_eq!(t.drain(), vec![("x".to_string(), 7)]);
        assert_eq!(t.len(), 0);
    }
}
