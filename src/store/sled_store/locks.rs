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
    /// Attempts in flight that are counted in memory only (see [`LockStore::reserve_attempt`]
    /// below): name → how many. Each holds a place in the table.
    pending: HashMap<Vec<u8>, u32>,
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

    fn pending(&self, key: &[u8]) -> u32 {
        self.pending.get(key).copied().unwrap_or(0)
    }

    /// Ends one attempt counted in memory for `key`; whether there was one.
    fn release(&mut self, key: &[u8]) -> bool {
        match self.pending.get_mut(key) {
            Some(1) => {
                self.pending.remove(key);
                true
            }
            Some(n) => {
                *n -= 1;
                true
            }
            None => false,
        }
    }

    /// Entries and in-memory attempts: what the table's size bounds.
    fn places(&self) -> usize {
        self.expiry_of.len() + self.pending.len()
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
        while index.places() >= table_size {
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
        self.remove_entry(guard.as_mut(), username.as_str().as_bytes())
    }

    /// Removes the entry `key` from the tree and, when built, the index.
    fn remove_entry(&self, index: Option<&mut ExpiryIndex>, key: &[u8]) -> StoreResult<bool> {
        let was = self.locks.remove(key)?.is_some();
        if was {
            self.lock_table.len.fetch_sub(1, Ordering::SeqCst);
            if let Some(index) = index {
                index.remove(key);
            }
        }
        Ok(was)
    }
}

/// Counting attempts: an attempt is counted before it is verified, so concurrent attempts
/// cannot together try more than the limit allows. For a name with nothing counted (the common
/// case: somebody signing in) the count is kept in memory only, and written to the tree only if
/// the attempt fails; a success then writes nothing. A crash forgets only the attempts in
/// flight. A name with failures on record, or with another attempt in flight, has each attempt
/// written before it is verified.
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
            let pending = index.pending(key);
            let mut state = match &current {
                Some(v) => decode::<LockState>(v)?.at(now, policy),
                None => LockState::default(),
            };
            if let Some(until) = state.locked_until {
                return Ok(Reservation::Locked(until));
            }
            let new_place = current.is_none() && pending == 0;
            if new_place && !self.make_room(index, now, policy.table_size)? {
                return Ok(Reservation::TableFull);
            }
            if new_place && state.failures < policy.max_failures {
                *index.pending.entry(key.to_vec()).or_default() += 1;
                return Ok(Reservation::Granted);
            }
            let reservation = if state.failures + pending >= policy.max_failures {
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
            // An attempt counted in memory is written now.
            let counted_in_memory = index.release(key);
            let mut state = match self.locks.get(key)? {
                Some(v) => decode::<LockState>(&v)?.at(now, policy),
                None if counted_in_memory => LockState::default(),
                None => return Ok(None),
            };
            if let Some(until) = state.locked_until {
                return Ok(Some(until));
            }
            if counted_in_memory {
                state.failures += 1;
            }
            let until = (state.failures >= policy.max_failures).then(|| now + policy.lock_duration);
            if !counted_in_memory && until.is_none() {
                return Ok(None);
            }
            if let Some(until) = until {
                state.locked_until = Some(until);
                state.failures = 0;
            }
            state.updated_at = Some(now);
            if self.locks.insert(key, encode(&state)?)?.is_none() {
                self.lock_table.len.fetch_add(1, Ordering::SeqCst);
            }
            index.set(key, state.expiry(policy));
            until
        };
        self.flush()?;
        Ok(until)
    }

    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()> {
        let key = username.as_str().as_bytes();
        let mut guard = self.lock_table.guard();
        if let Some(index) = guard.as_mut() {
            index.release(key);
            // The index knows every entry of the tree: nothing to remove, nothing to touch.
            if !index.expiry_of.contains_key(key) {
                return Ok(());
            }
        }
        if self.remove_entry(guard.as_mut(), key)? {
            drop(guard);
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

/// The lock table's sled internals: attempts counted in memory, the entry count. The lockout's
/// behaviour is tested on both backends in `store/suite/locks.rs`.
#[cfg(test)]
mod tests {
    use super::*;

    /// One attempt that fails.
    fn fail(s: &SledStore, name: &Username, now: DateTime<Utc>, policy: &LockPolicy) {
        assert_eq!(
            s.reserve_attempt(name, now, policy).unwrap(),
            Reservation::Granted
        );
        s.attempt_failed(name, now, policy).unwrap();
    }

    #[test]
    fn a_clean_names_attempt_is_written_only_if_it_fails() {
        let s = SledStore::temporary();
        let policy = small_table(2, 100);
        let name = Username::parse("dora").unwrap();
        let now = Utc::now();
        s.reserve_attempt(&name, now, &policy).unwrap();
        assert!(s.locks.is_empty(), "counted in memory");
        s.attempt_succeeded(&name).unwrap();
        assert!(s.locks.is_empty(), "a success writes nothing");
        s.reserve_attempt(&name, now, &policy).unwrap();
        assert_eq!(s.attempt_failed(&name, now, &policy).unwrap(), None);
        let stored: LockState = decode(&s.locks.get("dora").unwrap().unwrap()).unwrap();
        assert_eq!(stored.failures, 1, "the failure is written");
        // The next attempt is written before it is verified, and its failure locks the name.
        s.reserve_attempt(&name, now, &policy).unwrap();
        let stored: LockState = decode(&s.locks.get("dora").unwrap().unwrap()).unwrap();
        assert_eq!(stored.failures, 2);
        let until = s.attempt_failed(&name, now, &policy).unwrap();
        assert_eq!(until, Some(now + policy.lock_duration));
        assert_eq!(s.locked_until(&name, now).unwrap(), until);
    }

    #[test]
    fn attempts_counted_in_memory_and_on_record_add_up() {
        let s = SledStore::temporary();
        let policy = small_table(3, 100);
        let name = Username::parse("erin").unwrap();
        let now = Utc::now();
        let granted = Reservation::Granted;
        // Three in flight at once: the first in memory, the next two written.
        assert_eq!(s.reserve_attempt(&name, now, &policy).unwrap(), granted);
        assert_eq!(s.reserve_attempt(&name, now, &policy).unwrap(), granted);
        assert_eq!(s.reserve_attempt(&name, now, &policy).unwrap(), granted);
        assert!(matches!(
            s.reserve_attempt(&name, now, &policy).unwrap(),
            Reservation::Locked(_)
        ));
        // Attempts in flight count as failures until they succeed, wherever they are counted:
        // with two in flight, one failure reaches the limit of three.
        let s = SledStore::temporary();
        for _ in 0..3 {
            s.reserve_attempt(&name, now, &policy).unwrap();
        }
        let until = s.attempt_failed(&name, now, &policy).unwrap();
        assert_eq!(until, Some(now + policy.lock_duration));
        assert_eq!(s.locked_until(&name, now).unwrap(), until);
        // Two in flight (one in memory), both succeed: nothing is left counting.
        let s = SledStore::temporary();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.reserve_attempt(&name, now, &policy).unwrap();
        s.attempt_succeeded(&name).unwrap();
        s.attempt_succeeded(&name).unwrap();
        assert!(s.locks.is_empty());
        s.reserve_attempt(&name, now, &policy).unwrap();
        assert!(s.locks.is_empty(), "the in-memory count was released");
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
    fn the_entry_count_is_kept_without_walking_the_table_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let policy = small_table(3, 100);
        let now = Utc::now();
        let name = |i: usize| Username::parse(&format!("user{i}")).unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            assert_eq!(s.lock_entries(), 0);
            for i in 0..10 {
                fail(&s, &name(i), now, &policy);
                fail(&s, &name(i), now, &policy);
            }
            assert_eq!(s.lock_entries(), 10, "a second failure adds no entry");
            s.reserve_attempt(&name(0), now, &policy).unwrap();
            s.attempt_succeeded(&name(0)).unwrap();
            s.attempt_succeeded(&name(0)).unwrap();
            assert!(s.unlock(&name(1)).unwrap());
            assert!(!s.unlock(&name(1)).unwrap());
            assert_eq!(s.lock_entries(), 8);
            assert_eq!(s.lock_entries(), s.locks.len());
            // A tenant's table is its own, and every view of it shares one count.
            let t = s.tenant_view("shop").unwrap();
            fail(&t, &name(0), now, &policy);
            assert_eq!(s.tenant_view("shop").unwrap().lock_entries(), 1);
            assert_eq!(s.lock_entries(), 8);
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.lock_entries(), 8, "counted once when the store opens");
        assert_eq!(s.tenant_view("shop").unwrap().lock_entries(), 1);
        fail(&s, &name(2), now, &policy);
        fail(&s, &name(50), now, &policy);
        assert_eq!(s.lock_entries(), 9);
        assert_eq!(s.lock_entries(), s.locks.len());
    }
}
