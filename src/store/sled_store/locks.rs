//! Lock state of usernames (failed password and FIDO attempts).
//!
//! Tree and its key encoding:
//! - `locks`: username → JSON `LockState`.
//!
//! The table is kept bounded by `LockPolicy::table_size`: the entries least recently touched
//! that hold no active lock are dropped first.

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

impl SledStore {
    fn lock_state(&self, username: &Username) -> StoreResult<LockState> {
        Ok(match self.locks.get(username.as_str())? {
            Some(v) => decode(&v)?,
            None => LockState::default(),
        })
    }

    /// Keeps the lock table bounded: drops the entries least recently touched that hold no
    /// active lock.
    fn trim_locks(&self, now: DateTime<Utc>, table_size: usize) -> StoreResult<()> {
        if self.locks.len() < table_size {
            return Ok(());
        }
        let mut idle: Vec<(DateTime<Utc>, sled::IVec)> = Vec::new();
        for item in self.locks.iter() {
            let (k, v) = item?;
            let state: LockState = decode(&v)?;
            if state.locked_until.is_none_or(|t| t <= now) {
                idle.push((state.updated_at.unwrap_or(DateTime::<Utc>::MIN_UTC), k));
            }
        }
        idle.sort();
        let excess = self.locks.len() + 1 - table_size;
        for (_, k) in idle.into_iter().take(excess) {
            self.locks.remove(k)?;
        }
        Ok(())
    }
}

impl LockStore for SledStore {
    fn reserve_attempt(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Reservation> {
        self.trim_locks(now, policy.table_size)?;
        let key = username.as_str();
        loop {
            let current = self.locks.get(key)?;
            let mut state: LockState = match &current {
                Some(v) => decode(v)?,
                None => LockState::default(),
            };
            match state.locked_until {
                Some(until) if until > now => return Ok(Reservation::Locked(until)),
                Some(_) => state = LockState::default(),
                None => {}
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
            if self
                .locks
                .compare_and_swap(key, current, Some(encode(&state)?))?
                .is_ok()
            {
                self.flush()?;
                return Ok(reservation);
            }
        }
    }

    fn attempt_failed(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let key = username.as_str();
        loop {
            let current = self.locks.get(key)?;
            let mut state: LockState = match &current {
                Some(v) => decode(v)?,
                None => return Ok(None),
            };
            if let Some(until) = state.locked_until.filter(|t| *t > now) {
                return Ok(Some(until));
            }
            if state.failures < policy.max_failures {
                return Ok(None);
            }
            let until = now + policy.lock_duration;
            state.locked_until = Some(until);
            state.failures = 0;
            state.updated_at = Some(now);
            if self
                .locks
                .compare_and_swap(key, current, Some(encode(&state)?))?
                .is_ok()
            {
                self.flush()?;
                return Ok(Some(until));
            }
        }
    }

    fn attempt_succeeded(&self, username: &Username) -> StoreResult<()> {
        if self.locks.remove(username.as_str())?.is_some() {
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
        let was = self.locks.remove(username.as_str())?.is_some();
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
}
