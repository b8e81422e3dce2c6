//! Server-side sessions for actix-session, kept in the `sessions` tree of sled.
//!
//! Key: the session key (43 characters of base64url from 32 random bytes). Value: JSON
//! `{"state": {...}, "expires_at": RFC 3339}`. Expired sessions are ignored on load and purged
//! by `Storage::purge_expired`. A state that holds an authenticated login is flushed before the
//! answer goes out, so a crash right after a login loses nothing.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{SledStore, StoreResult};
use crate::clock::Clock;

type State = HashMap<String, String>;

/// The session key whose presence in the state marks a session as authenticated.
pub const AUTHENTICATED_KEY: &str = "login";

#[derive(Serialize, Deserialize)]
struct Stored {
    state: State,
    expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct SledSessionStore {
    store: SledStore,
    clock: Clock,
}

impl SledSessionStore {
    pub fn new(store: SledStore, clock: Clock) -> Self {
        Self { store, clock }
    }

    fn expiry(&self, ttl: &CookieDuration) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::seconds(ttl.whole_seconds().max(1))
    }

    fn write(&self, key: &str, state: State, ttl: &CookieDuration) -> anyhow::Result<()> {
        let must_flush = state.contains_key(AUTHENTICATED_KEY);
        let stored = Stored {
            state,
            expires_at: self.expiry(ttl),
        };
        self.store
            .sessions
            .insert(key.as_bytes(), serde_json::to_vec(&stored)?)?;
        if must_flush {
            self.store.flush()?;
        }
        Ok(())
    }

    fn new_key() -> SessionKey {
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        SessionKey::try_from(crate::domain::b64url(&raw)).expect("43 characters is a valid key")
    }
}

impl SledStore {
    pub(super) fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut purged = 0;
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let expired =
                serde_json::from_slice::<Stored>(&v).map_or(true, |s| s.expires_at <= now);
            if expired {
                self.sessions.remove(k)?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}

impl SessionStore for SledSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let raw = self
            .store
            .sessions
            .get(session_key.as_ref().as_bytes())
            .map_err(|e| LoadError::Other(e.into()))?;
        let Some(raw) = raw else { return Ok(None) };
        let stored: Stored =
            serde_json::from_slice(&raw).map_err(|e| LoadError::Deserialization(e.into()))?;
        if stored.expires_at <= self.clock.now() {
            return Ok(None);
        }
        Ok(Some(stored.state))
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let key = Self::new_key();
        self.write(key.as_ref(), state, ttl)
            .map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let exists = self
            .store
            .sessions
            .contains_key(session_key.as_ref().as_bytes())
            .map_err(|e| UpdateError::Other(e.into()))?;
        if !exists {
            // Expired, purged or ended (logout elsewhere, user deleted) meanwhile: start a new
            // anonymous session rather than revive the old key or its login.
            let mut state = state;
            state.remove(AUTHENTICATED_KEY);
            let key = Self::new_key();
            self.write(key.as_ref(), state, ttl)
                .map_err(UpdateError::Other)?;
            return Ok(key);
        }
        self.write(session_key.as_ref(), state, ttl)
            .map_err(UpdateError::Other)?;
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let key = session_key.as_ref().as_bytes();
        if let Some(raw) = self.store.sessions.get(key)? {
            let mut stored: Stored = serde_json::from_slice(&raw)?;
            stored.expires_at = self.expiry(ttl);
            self.store
                .sessions
                .insert(key, serde_json::to_vec(&stored)?)?;
        }
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        self.store
            .sessions
            .remove(session_key.as_ref().as_bytes())?;
        self.store.flush()?;
        Ok(())
    }
}
