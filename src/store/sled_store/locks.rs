//! Lock state of usernames (failed password and FIDO attempts).
//!
//! Tree and its key encoding:
//! - `locks`: username → JSON `LockState`.
//!
//! Expiry: an entry counts toward a lock until its expiry, and not after. A locked name expires
//! when its lock does; a name with failures expires `LockPolicy::failure_window` after its last
//! counted attempt (its count then lapses: the next attempt counts from one again).
//!
//! The table is kept at `LockPolicy::table_size` entries without walking it: each tree has a
//! [`LockTable`] (shared by every view of that tree) holding the number of its entries and their
//! expiries in order, built by one walk of the tree the first time the process uses it. A new
//! name's attempt when the table is full evicts entries that have expired, soonest first; an
//! entry still counting is never evicted, so when none has expired the attempt is refused
//! ([`Reservation::TableFull`]) rather than forget somebody's failures.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{decode, encode, SledStore};
use crate::domain::Username;
use crate::store::{LockPolicy, LockStore, Reservation, StoreResult};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LockState {
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl LockState {
    /// When the entry stops counting toward a lock (see the module documentation).
    fn expiry(&self, policy: &LockPolicy) -> DateTime<Utc> {
        match self.locked_until {
            Some(until) => until,
            None => self
                .updated_at
                .map_or(DateTime::<Utc>::MIN_UTC, |t| t + policy.failure_window),
        }
    }

    /// The state as it counts at `now`: an expired entry counts nothing.
    fn at(self, now: DateTime<Utc>, policy: &LockPolicy) -> LockState {
        if self.expiry(policy) <= now {
            LockState::default()
        } else {
            self
        }
    }
}

/// The in-memory companion of one `locks` tree: its entry count and the entries by expiry.
/// Every change of the tree goes through it, under its mutex, so both stay exact.
#[derive(Default)]
pub(super) struct LockTable {
    /// How many entries the tree holds (read without the mutex).
    len: AtomicUsize,
    /// `None` until the process first needs expiries (they depend on the policy).
    index: Mutex<Option<ExpiryIndex>>,
}

#[derive(Default)]
struct ExpiryIndex {
    by_expiry: BTreeSet<(DateTime<Utc>, Vec<u8>)>,
    expiry_of: HashMap<Vec<u8>, DateTime<Utc>>,
}

impl ExpiryIndex {
    fn set(&mut self, key: &[u8], expiry: DateTime<Utc>) {
        if let Some(old) = self.expiry_of.insert(key.to_vec(), expiry) {
            self.by_expiry.remove(&(old, key.to_vec()));
        }
        self.by_expiry.insert((expiry, key.to_vec()));
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.expiry_of.remove(key) {
            self.by_expiry.remove(&(old, key.to_vec()));
        }
    }
}

impl LockTable {
    /// Counts the entries of `tree` (the one walk of the tree this process makes).
    pub(super) fn counted(tree: &sled::Tree) -> LockTable {
        let table = LockTable::default();
        table.len.store(tree.len(), Ordering::SeqCst);
        table
    }

    fn guard(&self) -> MutexGuard<'_, Option<ExpiryIndex>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SledStore {
    fn lock_state(&self, username: &Username) -> StoreResult<LockState> {
        Ok(match self.locks.get(username.as_str())? {
            Some(v) => decode(&v)?,
            None => LockState::default(),
        })
    }

    /// How many entries this store's `locks` tree holds, kept without walking the tree.
    pub fn lock_entries(&self) -> usize {
        self.lock_table.len.load(Ordering::SeqCst)
    }

    /// The expiry index, built from the tree on first use.
    fn expiry_index<'a>(
        &self,
        guard: &'a mut Option<ExpiryIndex>,
        policy: &LockPolicy,
    ) -> StoreResult<&'a mut ExpiryIndex> {
        if guard.is_none() {
            let mut index = ExpiryIndex::default();
            for item in self.locks.iter() {
                let (k, v) = item?;
                let state: LockState = decode(&v)?;
                index.set(&k, state.expiry(policy));
            }
            self.lock_table
                .len
                .store(index.expiry_of.len(), Ordering::SeqCst);
            *guard = Some(index);
        }
        Ok(guard.as_mut().expect("just built"))
    }

    /// Makes room for one new entry: drops expired entries, soonest first, until the table has
    /// room. False when it is full of entries still counting.
    fn make_room(
        &self,
        index: &mut ExpiryIndex,
        now: DateTime<Utc>,
        table_size: usize,
    ) -> StoreResult<bool> {
        while index.expiry_of.len() >= table_size {
            let Some((expiry, key)) = index.by_expiry.first().cloned() else {
                return Ok(false);
            };
            if expiry > now {
                return Ok(false);
            }
            self.locks.remove(&key)?;
            index.remove(&key);
            self.lock_table.len.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(true)
    }

    /// Removes `username`'s entry (a success or an unlock); whether there was one.
    fn remove_lock_entry(&self, username: &Username) -> StoreResult<bool> {
        let mut guard = self.lock_table.guard();
        let key = username.as_str().as_bytes();
        let was = self.locks.remove(key)?.is_some();
        if was {
            self.lock_table.len.fetch_sub(1, Ordering::SeqCst);
            if let Some(index) = guard.as_mut() {
                index.remove(key);
            }
        }
        Ok(was)
    }
}

impl LockStore for SledStore {
    fn reserve_attempt(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Reservation> {
        let key = username.as_str().as_bytes();
        let reservation = {
            let mut guard = self.lock_table.guard();
            let index = self.expiry_index(&mut guard, policy)?;
            let current = self.locks.get(key)?;
            let mut state = match &current {
                Some(v) => decode::<LockState>(v)?.at(now, policy),
                None => LockState::default(),
            };
            if let Some(until) = state.locked_until {
                return Ok(Reservation::Locked(until));
            }
            if current.is_none() && !self.make_room(index, now, policy.table_size)? {
                return Ok(Reservation::TableFull);
            }
            let reservation = if state.failures >= policy.max_failures {
                let until = now + policy.lock_duration;
                state.locked_until = Some(until);
                state.failures = 0;
                Reservation::Locked(until)
            } else {
                state.failures += 1;
                Reservation::Granted
            };
            state.updated_at = Some(now);
            if self.locks.insert(key, encode(&state)?)?.is_none() {
                self.lock_table.len.fetch_add(1, Ordering::SeqCst);
            }
            index.set(key, state.expiry(policy));
            reservation
        };
        self.flush()?;
        Ok(reservation)
    }

    fn attempt_failed(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let key = username.as_str().as_bytes();
        let until = {
            let mut guard = self.lock_table.guard();
            let index = self.expiry_index(&mut guard, policy)?;
            let mut state = match self.locks.get(key)? {
                Some(v) => decode::<LockState>(&v)?.at(now, policy),
                None => return Ok(None),
            };
            if let Some(until) = state.locked_until {
                return Ok(Some(until));
            }
            if state.failures < policy.max_failures {
                return Ok(None);
            }
            let until = now + policy.lock_duration;
            state.locked_until = Some(until);
            state.failures = 0;
            state.updated_at = Some(now);
            if self.locks.insert(key, encode(&state)?)?.is_none() {
                self.lock_table.len.fetch_add(1, Ordering::SeqCst);
            }
            index.set(key, state.expiry(policy));
            until
        };
        self.flush()?;
        Ok(Some(until))
    }

    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()> {
        if self.remove_lock_entry(username)? {
            self.flush()?;
        }
        Ok(())
    }

    fn locked_until(
        &self,
        username: &Username,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.lock_state(username)?.locked_until.filter(|t| *t > now))
    }

    fn unlock(&self, username: &Username) -> StoreResult<bool> {
        let was = self.remove_lock_entry(username)?;
        self.flush()?;
        Ok(was)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_engages_after_the_limit_and_expires() {
        let s = SledStore::temporary();
        let name = Username::parse("nobody").unwrap();
        let policy = LockPolicy {
            max_failures: 3,
            lock_duration: chrono::Duration::minutes(5),
            failure_window: chrono::Duration::hours(1),
            table_size: 100,
        };
        let now = Utc::now();
        for _ in 0..3 {
            assert_eq!(
                s.reserve_attempt(&name, now, &policy).unwrap(),
                Reservation::Granted
            );
        }
        let until = now + policy.lock_duration;
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(until)
        );
        assert_eq!(s.locked_until(&name, now).unwrap(), Some(until));
        let later = until + chrono::Duration::seconds(1);
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted
        );
    }

    #[test]
    fn parallel_reservations_cannot_exceed_the_limit() {
        let s = SledStore::temporary();
        let name = Username::parse("bob").unwrap();
        let policy = LockPolicy {
            max_failures: 2,
            lock_duration: chrono::Duration::minutes(5),
            failure_window: chrono::Duration::hours(1),
            table_size: 100,
        };
        let now = Utc::now();
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(_)
        ));
    }

    #[test]
    fn a_success_resets_the_count() {
        let s = SledStore::temporary();
        let name = Username::parse("alice").unwrap();
        let policy = LockPolicy {
            max_failures: 2,
            lock_duration: chrono::Duration::minutes(5),
            failure_window: chrono::Duration::hours(1),
            table_size: 100,
        };
        let now = Utc::now();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.attempt_succeeded(&name).unwrap();
        assert_eq!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Granted
        );
    }

    fn small_table(max_failures: u32, table_size: usize) -> LockPolicy {
        LockPolicy {
            max_failures,
            lock_duration: chrono::Duration::minutes(5),
            failure_window: chrono::Duration::hours(1),
            table_size,
        }
    }

    #[test]
    fn filling_the_table_with_other_names_never_resets_a_counting_entry() {
        let s = SledStore::temporary();
        let policy = small_table(3, 4);
        let victim = Username::parse("victim").unwrap();
        let now = Utc::now();
        for _ in 0..2 {
            assert_eq!(
                s.reserve_attempt(&victim, now, &policy).unwrap(),
                Reservation::Granted
            );
            assert_eq!(s.attempt_failed(&victim, now, &policy).unwrap(), None);
        }
        for i in 0..50 {
            let other = Username::parse(&format!("filler{i}")).unwrap();
            let later = now + chrono::Duration::seconds(i + 1);
            let _ = s.reserve_attempt(&other, later, &policy).unwrap();
        }
        let later = now + chrono::Duration::seconds(60);
        assert_eq!(
            s.reserve_attempt(&victim, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            s.attempt_failed(&victim, later, &policy).unwrap(),
            Some(later + policy.lock_duration),
            "the victim's third failure locks the name"
        );
    }

    #[test]
    fn the_entry_count_is_kept_without_walking_the_table_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let policy = small_table(3, 100);
        let now = Utc::now();
        let name = |i: usize| Username::parse(&format!("user{i}")).unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            assert_eq!(s.lock_entries(), 0);
            for i in 0..10 {
                s.reserve_attempt(&name(i), now, &policy).unwrap();
                s.reserve_attempt(&name(i), now, &policy).unwrap();
            }
            assert_eq!(s.lock_entries(), 10, "a second attempt adds no entry");
            s.attempt_succeeded(&name(0)).unwrap();
            s.attempt_succeeded(&name(0)).unwrap();
            assert!(s.unlock(&name(1)).unwrap());
            assert!(!s.unlock(&name(1)).unwrap());
            assert_eq!(s.lock_entries(), 8);
            assert_eq!(s.lock_entries(), s.locks.len());
            // A tenant's table is its own, and every view of it shares one count.
            let t = s.tenant_view("shop").unwrap();
            t.reserve_attempt(&name(0), now, &policy).unwrap();
            assert_eq!(s.tenant_view("shop").unwrap().lock_entries(), 1);
            assert_eq!(s.lock_entries(), 8);
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.lock_entries(), 8, "counted once when the store opens");
        assert_eq!(s.tenant_view("shop").unwrap().lock_entries(), 1);
        s.reserve_attempt(&name(2), now, &policy).unwrap();
        s.reserve_attempt(&name(50), now, &policy).unwrap();
        assert_eq!(s.lock_entries(), 9);
        assert_eq!(s.lock_entries(), s.locks.len());
    }

    #[test]
    fn a_full_table_drops_expired_entries_and_refuses_new_names_while_all_still_count() {
        let s = SledStore::temporary();
        let policy = small_table(3, 2);
        let now = Utc::now();
        let a = Username::parse("aaa").unwrap();
        let b = Username::parse("bbb").unwrap();
        let c = Username::parse("ccc").unwrap();
        s.reserve_attempt(&a, now, &policy).unwrap();
        s.reserve_attempt(&b, now + chrono::Duration::minutes(10), &policy)
            .unwrap();
        assert_eq!(
            s.reserve_attempt(&c, now + chrono::Duration::minutes(30), &policy)
                .unwrap(),
            Reservation::TableFull
        );
        // Names already in the table go on counting.
        assert_eq!(
            s.reserve_attempt(&a, now + chrono::Duration::minutes(30), &policy)
                .unwrap(),
            Reservation::Granted
        );
        // b's count lapses an hour after its last attempt: its entry makes room for c.
        let later = now + chrono::Duration::minutes(71);
        assert_eq!(
            s.reserve_attempt(&c, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert_eq!(s.lock_entries(), 2);
        assert!(s.locks.get("bbb").unwrap().is_none());
        assert!(s.locks.get("aaa").unwrap().is_some(), "a still counts");
    }

    #[test]
    fn a_failure_count_lapses_after_the_failure_window() {
        let s = SledStore::temporary();
        let policy = small_table(2, 100);
        let name = Username::parse("carol").unwrap();
        let now = Utc::now();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.reserve_attempt(&name, now, &policy).unwrap();
        let later = now + policy.failure_window;
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted,
            "the two failures lapsed: this is the first of a new count"
        );
        assert_eq!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Granted
        );
        assert!(matches!(
            s.reserve_attempt(&name, later, &policy).unwrap(),
            Reservation::Locked(_)
        ));
    }
}
