//! WebAuthn ceremony state.
//!
//! Kept in memory ([`Volatile`], see `volatile.rs`): an issued challenge not yet answered is
//! the one thing a crash may lose (the user retrieves a new one). Only when that table is full,
//! and at a graceful shutdown, ceremonies go to the tree:
//! - `ceremonies`: ceremony id → JSON [`Ceremony`]. The id is 32 random hex characters for a
//!   Loginapp flow's ceremony, and `channel:tenant:purpose:hex(SHA-256(challenge))` for one a
//!   backend API finds by the challenge of its response.
//!
//! A ceremony is taken out exactly once (from the table, else from the tree); an expired one is
//! kept for [`CEREMONY_GRACE`] before the purge removes it.

use chrono::{DateTime, Utc};

use super::volatile::{Only, Put, Volatile};
use super::{decode, encode, SledStore};
use crate::store::{Ceremony, CeremonyStore, StoreError, StoreResult};

/// How long an expired ceremony is kept before the purge removes it.
const CEREMONY_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// The bounds of the in-memory ceremonies: 100,000 of them, 64 MiB.
pub(super) fn table() -> Volatile<Ceremony> {
    Volatile::new(100_000, 64 << 20)
}

/// About the memory a ceremony takes (its fixed part, the byte strings and any signed content).
fn footprint(c: &Ceremony) -> usize {
    let signed = c.signed.as_ref().map_or(0, |s| {
        s.content.to_string().len()
            + s.nonce.len()
            + s.merchant_origin.as_ref().map_or(0, String::len)
    });
    256 + c.challenge.len()
        + c.allowed_credentials
            .iter()
            .map(|id| id.as_bytes().len() + 24)
            .sum::<usize>()
        + c.algorithms.len() * 8
        + signed
}

impl SledStore {
    /// Keeps a ceremony under `id`: in memory, or in the tree when memory is full. With `fresh`,
    /// refuses an id in use in either (in memory in the same step as the insert).
    fn keep_ceremony(&self, id: &str, ceremony: &Ceremony, fresh: bool) -> StoreResult<()> {
        let in_use = || StoreError::Corrupt(format!("ceremony id {id} is in use"));
        if fresh && self.ceremonies.contains_key(id)? {
            return Err(in_use());
        }
        let drop_after = ceremony.expires_at + CEREMONY_GRACE;
        let size = footprint(ceremony);
        let only = if fresh { Only::New } else { Only::Any };
        match self
            .ceremony_table
            .put(id, ceremony.clone(), size, drop_after, only)
        {
            Put::Kept => return Ok(()),
            Put::Refused(_) => return Err(in_use()),
            // Too big for memory while the id is there: in use all the same.
            Put::Full(_) if fresh && self.ceremony_table.contains(id) => return Err(in_use()),
            Put::Full(_) => {}
        }
        let value = encode(ceremony)?;
        match self
            .ceremonies
            .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(value))?
        {
            Ok(()) => Ok(()),
            Err(_) => Err(in_use()),
        }
    }
}

impl CeremonyStore for SledStore {
    fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<String> {
        let id = crate::store::new_ceremony_id();
        self.keep_ceremony(&id, ceremony, false)?;
        Ok(id)
    }

    fn put_ceremony_at(&self, id: &str, ceremony: &Ceremony) -> StoreResult<()> {
        self.keep_ceremony(id, ceremony, true)
    }

    fn take_ceremony(&self, id: &str) -> StoreResult<Option<Ceremony>> {
        if let Some(ceremony) = self.ceremony_table.take(id) {
            return Ok(Some(ceremony));
        }
        self.ceremonies
            .remove(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }
}

impl SledStore {
    /// Removes the ceremonies past their expiry and grace; returns how many.
    pub(super) fn purge_ceremonies(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        // An expired ceremony is kept a while, so a late answer is told it timed out rather
        // than that its challenge was already used.
        let mut purged = self.ceremony_table.purge(now);
        let keep_until = |c: Ceremony| c.expires_at + CEREMONY_GRACE;
        for item in self.ceremonies.iter() {
            let (k, v) = item?;
            let expired = decode::<Ceremony>(&v).map_or(true, |c| keep_until(c) <= now);
            if expired {
                self.ceremonies.remove(k)?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::suite::fixtures::ceremony;
    use crate::store::Storage;

    #[test]
    fn ceremonies_stay_in_memory_and_spill_into_the_tree_when_it_is_full() {
        let s = SledStore {
            ceremony_table: Arc::new(Volatile::new(2, 1 << 20)),
            ..SledStore::temporary()
        };
        let ids: Vec<String> = (0..4)
            .map(|_| s.put_ceremony(&ceremony()).unwrap())
            .collect();
        assert_eq!(s.ceremony_table.len(), 2);
        assert_eq!(s.ceremonies.len(), 2, "the two that did not fit");
        for id in &ids {
            assert!(s.take_ceremony(id).unwrap().is_some(), "{id}");
            assert!(
                s.take_ceremony(id).unwrap().is_none(),
                "taken exactly once: {id}"
            );
        }
        // An id in use is refused wherever it is kept.
        s.put_ceremony_at("a", &ceremony()).unwrap();
        s.put_ceremony_at("b", &ceremony()).unwrap();
        s.put_ceremony_at("c", &ceremony()).unwrap();
        assert!(s.ceremonies.contains_key("c").unwrap());
        for id in ["a", "c"] {
            assert!(
                matches!(
                    s.put_ceremony_at(id, &ceremony()),
                    Err(StoreError::Corrupt(_))
                ),
                "{id}"
            );
        }
    }

    #[test]
    fn a_graceful_shutdown_keeps_the_ceremonies_in_memory_for_the_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let s = SledStore::open(dir.path()).unwrap();
            let id = s.put_ceremony(&ceremony()).unwrap();
            assert!(s.ceremonies.is_empty(), "in memory only");
            Storage::flush(&s).unwrap();
            id
        };
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.take_ceremony(&id).unwrap().unwrap().challenge,
            vec![7; 32]
        );
    }

    /// The guarantees of `store/suite/ceremonies.rs` (run there on the default store, whose
    /// ceremonies are kept in memory) on a store whose ceremonies all go to the tree.
    #[test]
    fn ceremonies_in_the_tree_keep_the_guarantees_of_those_in_memory() {
        use crate::store::suite::ceremonies as suite;
        let tree_only = || SledStore {
            ceremony_table: Arc::new(Volatile::new(0, 0)),
            ..SledStore::temporary()
        };
        suite::taken_exactly_once(&tree_only());
        suite::taken_once_under_racing_takes(&tree_only());
        suite::expired_outlives_the_purge_for_an_hour(&tree_only());
        suite::the_purge_goes_by_the_time_it_is_given(&tree_only());
        let s = tree_only();
        s.put_ceremony(&ceremony()).unwrap();
        assert_eq!(s.ceremonies.len(), 1, "in the tree");
    }
}
