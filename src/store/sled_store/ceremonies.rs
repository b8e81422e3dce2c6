//! WebAuthn ceremony state.
//!
//! Tree and its key encoding:
//! - `ceremonies`: ceremony id → JSON [`Ceremony`]. The id is 32 random hex characters for a
//!   Loginapp flow's ceremony, and `channel:tenant:purpose:hex(SHA-256(challenge))` for one a
//!   backend API finds by the challenge of its response.
//!
//! A ceremony is taken out exactly once; an expired one is kept for [`CEREMONY_GRACE`] before
//! the purge removes it.

use chrono::{DateTime, Utc};

use super::{decode, encode, SledStore};
use crate::store::{Ceremony, CeremonyStore, StoreError, StoreResult};

/// How long an expired ceremony is kept before the purge removes it.
const CEREMONY_GRACE: chrono::Duration = chrono::Duration::hours(1);

impl CeremonyStore for SledStore {
    fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<String> {
        let mut raw = [0u8; 16];
        crate::domain::random_bytes(&mut raw);
        let id = crate::domain::hex(&raw);
        self.ceremonies.insert(id.as_bytes(), encode(ceremony)?)?;
        Ok(id)
    }

    fn put_ceremony_at(&self, id: &str, ceremony: &Ceremony) -> StoreResult<()> {
        let value = encode(ceremony)?;
        match self
            .ceremonies
            .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(value))?
        {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Corrupt(format!("ceremony id {id} is in use"))),
        }
    }

    fn take_ceremony(&self, id: &str) -> StoreResult<Option<Ceremony>> {
        self.ceremonies
            .remove(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }
}

impl SledStore {
    /// Removes the ceremonies past their expiry and grace; returns how many.
    pub(super) fn purge_ceremonies(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut purged = 0;
        // An expired ceremony is kept a while, so a late answer is told it timed out rather
        // than that its challenge was already used.
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
    use super::*;
    use crate::store::{CeremonyPurpose, Storage};

    #[test]
    fn a_ceremony_is_taken_exactly_once() {
        let s = SledStore::temporary();
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![7; 32],
                purpose: CeremonyPurpose::Registration,
                tenant: None,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: false,
                algorithms: vec![-7],
                allowed_credentials: vec![],
                expires_at: Utc::now(),
                signed: None,
                payment: false,
            })
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_some());
        assert!(s.take_ceremony(&id).unwrap().is_none());
    }

    #[test]
    fn an_expired_ceremony_outlives_the_purge_for_an_hour_so_late_answers_are_told_it_timed_out() {
        let s = SledStore::temporary();
        let expires_at = Utc::now();
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![1; 32],
                purpose: CeremonyPurpose::Authentication,
                tenant: None,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: true,
                algorithms: vec![],
                allowed_credentials: vec![],
                expires_at,
                signed: None,
                payment: false,
            })
            .unwrap();
        s.purge_expired(expires_at + chrono::Duration::minutes(59))
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_some());
        let id = s
            .put_ceremony(&Ceremony {
                challenge: vec![1; 32],
                purpose: CeremonyPurpose::Authentication,
                tenant: None,
                username: None,
                user_handle: None,
                credential_name: None,
                require_user_verification: true,
                algorithms: vec![],
                allowed_credentials: vec![],
                expires_at,
                signed: None,
                payment: false,
            })
            .unwrap();
        s.purge_expired(expires_at + chrono::Duration::minutes(61))
            .unwrap();
        assert!(s.take_ceremony(&id).unwrap().is_none());
    }
}
