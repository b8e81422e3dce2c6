//! Server-side sessions for actix-session.
//!
//! A session nobody is signed in to (a flow's progress before its sign-in) is kept in memory
//! ([`Volatile`], see `volatile.rs`): a crash may lose it, and the user starts the flow again.
//! A session holding a login is in the tree and on disk before the answer goes out. A session
//! that signs in moves from memory to the tree; one written to the tree stays there (signed
//! out, it is still read and written there). When memory is full, and at a graceful shutdown,
//! sessions nobody is signed in to go to the tree too.
//!
//! Trees and their key encodings:
//! - `sessions`: the session key (43 characters of base64url from 32 random bytes) → JSON
//!   `{"state": {...}, "expires_at": RFC 3339, "seen_at": RFC 3339}` (`seen_at`: the last write
//!   or extension, that is the last request; absent in sessions stored before it was kept).
//! - `sessions_by_user`: username ‖ 0x00 ‖ session key (UTF-8) → empty; one entry per session
//!   whose state holds a login (the `login` state key, JSON with `username`).
//!
//! Expired sessions are ignored on load and purged by `Storage::purge_expired`. A state that
//! holds an authenticated login is flushed before the answer goes out, so a crash right after a
//! login loses nothing. Updating a session that is gone (ended, expired, purged) never writes it
//! back, nor does `update_ttl` extend it.
//!
//! No sled transactions (each one writes the log out twice, synchronously, whatever the flush
//! policy): every change is single-key, ordered so that a session holding a login always has
//! its index entry — the entry is written before the session takes the login, and removed only
//! after the session lost it or is gone. An entry may thus outlive its session or name a user the
//! session no longer holds (after a crash between the two writes); `end_sessions_of` checks the
//! session itself and removes such entries, so it still ends every session of a user and only
//! those.
//!
//! The time comes from the `now` function `SledSessionStore::new` is given (the server's clock).

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::volatile::{Only, Put, Volatile};
use super::{user_key, SledStore};
use crate::domain::Username;
use crate::store::{SignedInSession, StoreResult};

pub(in crate::store) type State = HashMap<String, String>;

/// The state key of the engine's own session id.
pub const SID_KEY: &str = "sid";

/// The session key whose presence in the state marks a session as authenticated.
pub const AUTHENTICATED_KEY: &str = "login";

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Stored {
    state: State,
    expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen_at: Option<DateTime<Utc>>,
}

/// The bounds of the in-memory sessions: 100,000 of them, 64 MiB.
pub(super) fn table() -> Volatile<Stored> {
    Volatile::new(100_000, 64 << 20)
}

/// About the memory a session takes.
fn footprint(key: &str, stored: &Stored) -> usize {
    let state: usize = stored
        .state
        .iter()
        .map(|(k, v)| k.len() + v.len() + 48)
        .sum();
    128 + key.len() + state
}

/// The part of the `login` state value the index needs.
#[derive(Deserialize)]
struct LoginName {
    username: Username,
}

/// The user a session state is signed in as, if any (a login that does not decode counts as
/// none, as it does when the session is loaded).
pub(in crate::store) fn signed_in_as(state: &State) -> Option<Username> {
    let login = state.get(AUTHENTICATED_KEY)?;
    serde_json::from_str::<LoginName>(login)
        .ok()
        .map(|l| l.username)
}

fn index_key(username: &Username, session_key: &str) -> Vec<u8> {
    user_key(username, session_key.as_bytes())
}

/// The user of a stored session value, if it holds a login.
fn stored_user(raw: &[u8]) -> Option<Username> {
    serde_json::from_slice::<Stored>(raw)
        .ok()
        .and_then(|s| signed_in_as(&s.state))
}

/// Where a session store reads the time.
type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The sessions of [`SledStore`] as actix-session's `SessionStore`.
#[derive(Clone)]
pub struct SledSessionStore {
    store: SledStore,
    now: Now,
}

impl SledSessionStore {
    /// Sessions kept in `store`; `now` says what time it is (expiry is measured with it).
    pub fn new(store: SledStore, now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Self {
        Self { store, now }
    }

    fn expiry(&self, ttl: &CookieDuration) -> DateTime<Utc> {
        (self.now)() + chrono::Duration::seconds(ttl.whole_seconds().max(1))
    }

    /// Writes a session: in memory when nobody is signed in to it, else in the tree with its
    /// index entry. With `must_exist`, writes nothing and answers `false` when the session is
    /// gone. A signed-in session is on disk before it returns (the wait for the group flush is
    /// async).
    async fn write(
        &self,
        key: &str,
        state: State,
        ttl: &CookieDuration,
        must_exist: bool,
    ) -> anyhow::Result<bool> {
        let must_flush = state.contains_key(AUTHENTICATED_KEY);
        let written = self.write_unflushed(key, state, ttl, must_exist)?;
        if written && must_flush {
            self.store.pending().wait_async().await?;
        }
        Ok(written)
    }

    /// [`write`](Self::write) without the flush.
    fn write_unflushed(
        &self,
        key: &str,
        state: State,
        ttl: &CookieDuration,
        must_exist: bool,
    ) -> anyhow::Result<bool> {
        // An expired session not yet purged is gone too: never written back.
        if must_exist && self.expired(key)? {
            return Ok(false);
        }
        let user = signed_in_as(&state);
        let stored = Stored {
            state,
            expires_at: self.expiry(ttl),
            seen_at: Some((self.now)()),
        };
        let table = &self.store.session_table;
        if user.is_some() {
            // Signing in: from now on the session is in the tree (then out of memory, so a
            // load never misses it).
            let in_memory = table.contains(key);
            let written = self.write_to_tree(key, &stored, user, must_exist && !in_memory)?;
            table.take(key);
            return Ok(written);
        }
        let (size, expires_at) = (footprint(key, &stored), stored.expires_at);
        match table.put(key, stored, size, expires_at, Only::Existing) {
            Put::Kept => Ok(true),
            Put::Full(stored) => {
                // Grown past what memory may hold: into the tree.
                let written = self.write_to_tree(key, &stored, None, false)?;
                table.take(key);
                Ok(written)
            }
            // Not in memory: in the tree already, gone, or new.
            Put::Refused(stored) if must_exist => self.write_to_tree(key, &stored, None, true),
            Put::Refused(stored) => match table.put(key, stored, size, expires_at, Only::Any) {
                Put::Kept => Ok(true),
                Put::Full(stored) | Put::Refused(stored) => {
                    self.write_to_tree(key, &stored, None, false)
                }
            },
        }
    }

    /// Writes a session (signed in as `user`) and its index entry to the tree, over whatever
    /// the tree holds. With `must_exist`, writes nothing and answers `false` when the tree does
    /// not hold it.
    fn write_to_tree(
        &self,
        key: &str,
        stored: &Stored,
        user: Option<Username>,
        must_exist: bool,
    ) -> anyhow::Result<bool> {
        let value = serde_json::to_vec(stored)?;
        let sessions = &self.store.sessions;
        // A new session's key is fresh: first try it as absent, without a read.
        let mut guess = (!must_exist).then_some(None);
        loop {
            let previous = match guess.take() {
                Some(absent) => absent,
                None => sessions.get(key.as_bytes())?,
            };
            if must_exist && previous.is_none() {
                return Ok(false);
            }
            let old_user = previous.as_deref().and_then(stored_user);
            if old_user != user {
                if let Some(new) = &user {
                    self.store
                        .sessions_by_user
                        .insert(index_key(new, key), &[])?;
                }
            }
            // Only over the value read: a session ended (or purged) meanwhile is not brought
            // back, and one changed meanwhile is read again.
            if sessions
                .compare_and_swap(key.as_bytes(), previous, Some(value.as_slice()))?
                .is_err()
            {
                continue;
            }
            if let Some(old) = old_user.filter(|old| Some(old) != user.as_ref()) {
                self.store.sessions_by_user.remove(index_key(&old, key))?;
            }
            return Ok(true);
        }
    }

    /// Whether the stored session `key` has expired (`false` when it is not stored at all).
    fn expired(&self, key: &str) -> anyhow::Result<bool> {
        let now = (self.now)();
        if let Some(stored) = self.store.session_table.get(key) {
            return Ok(stored.expires_at <= now);
        }
        Ok(match self.store.sessions.get(key.as_bytes())? {
            Some(raw) => {
                serde_json::from_slice::<Stored>(&raw).map_or(true, |s| s.expires_at <= now)
            }
            None => false,
        })
    }
}

/// A new session key: 43 characters of base64url from 32 random bytes (both backends).
pub(in crate::store) fn new_key() -> SessionKey {
    let mut raw = [0u8; 32];
    crate::domain::random_bytes(&mut raw);
    SessionKey::try_from(crate::domain::b64url(&raw)).expect("43 characters is a valid key")
}

impl SledStore {
    pub(super) fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut purged = self.session_table.purge(now);
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let expired =
                serde_json::from_slice::<Stored>(&v).map_or(true, |s| s.expires_at <= now);
            if expired && self.remove_session(&k)? {
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// Removes a session, then its index entry; `false` when it was gone already.
    fn remove_session(&self, key: &[u8]) -> StoreResult<bool> {
        let Some(raw) = self.sessions.remove(key)? else {
            return Ok(false);
        };
        if let Some(user) = stored_user(&raw) {
            self.sessions_by_user.remove(user_key(&user, key))?;
        }
        Ok(true)
    }

    /// Removes the session `key` if it is signed in as `user`; `false` (and nothing removed)
    /// when it is gone or holds another login.
    fn remove_session_of(&self, key: &[u8], user: &Username) -> StoreResult<bool> {
        loop {
            let Some(raw) = self.sessions.get(key)? else {
                return Ok(false);
            };
            if stored_user(&raw).as_ref() != Some(user) {
                return Ok(false);
            }
            if self
                .sessions
                .compare_and_swap(key, Some(raw), None::<&[u8]>)?
                .is_ok()
            {
                self.sessions_by_user.remove(user_key(user, key))?;
                return Ok(true);
            }
        }
    }

    /// Builds `sessions_by_user` from `sessions` when it is empty (a data directory from before
    /// the index, or one without signed-in sessions, where this finds nothing to do).
    pub(super) fn index_sessions(&self) -> StoreResult<()> {
        if !self.sessions_by_user.is_empty() {
            return Ok(());
        }
        for item in self.sessions.iter() {
            let (k, v) = item?;
            if let Some(user) = stored_user(&v) {
                self.sessions_by_user.insert(user_key(&user, &k), &[])?;
            }
        }
        Ok(())
    }
}

impl SledStore {
    /// How many sessions are stored, in memory and in the tree (expired ones not yet purged
    /// included).
    pub fn session_count(&self) -> usize {
        self.session_table.len() + self.sessions.len()
    }

    /// The engine's session id (`sid` in the state) of a stored session.
    fn session_sid(&self, session_key: &[u8]) -> Option<String> {
        let raw = self.sessions.get(session_key).ok()??;
        let stored: Stored = serde_json::from_slice(&raw).ok()?;
        serde_json::from_str(stored.state.get(SID_KEY)?).ok()
    }
}

impl crate::store::SessionStore for SledStore {
    fn end_sessions_of(&self, username: &Username, except_sid: Option<&str>) -> StoreResult<usize> {
        let prefix = user_key(username, b"");
        let mut ended = 0;
        for key in self.sessions_by_user.scan_prefix(&prefix).keys() {
            let key = key?;
            let session_key = &key[prefix.len()..];
            if except_sid.is_some_and(|sid| self.session_sid(session_key).as_deref() == Some(sid)) {
                continue;
            }
            if self.remove_session_of(session_key, username)? {
                ended += 1;
            } else {
                // An index entry whose session is gone or holds another login now.
                self.sessions_by_user.remove(&key)?;
            }
        }
        self.flush()?;
        Ok(ended)
    }

    fn sessions_of(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SignedInSession>> {
        let prefix = user_key(username, b"");
        let mut found = Vec::new();
        for key in self.sessions_by_user.scan_prefix(&prefix).keys() {
            if found.len() >= limit {
                break;
            }
            let key = key?;
            // An entry may outlive its session or name a user it no longer holds.
            let Some(raw) = self.sessions.get(&key[prefix.len()..])? else {
                continue;
            };
            let Ok(stored) = serde_json::from_slice::<Stored>(&raw) else {
                continue;
            };
            if stored.expires_at <= now || signed_in_as(&stored.state).as_ref() != Some(username) {
                continue;
            }
            let Some(login) = stored.state.get(AUTHENTICATED_KEY) else {
                continue;
            };
            found.push(SignedInSession {
                sid: stored
                    .state
                    .get(SID_KEY)
                    .and_then(|s| serde_json::from_str(s).ok()),
                login: login.clone(),
                seen_at: stored.seen_at,
                expires_at: stored.expires_at,
            });
        }
        Ok(found)
    }

    fn end_session_of(&self, username: &Username, sid: &str) -> StoreResult<bool> {
        let prefix = user_key(username, b"");
        for key in self.sessions_by_user.scan_prefix(&prefix).keys() {
            let key = key?;
            let session_key = &key[prefix.len()..];
            if self.session_sid(session_key).as_deref() == Some(sid)
                && self.remove_session_of(session_key, username)?
            {
                self.flush()?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl SessionStore for SledSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        if let Some(stored) = self.store.session_table.get(session_key.as_ref()) {
            return Ok((stored.expires_at > (self.now)()).then_some(stored.state));
        }
        let raw = self
            .store
            .sessions
            .get(session_key.as_ref().as_bytes())
            .map_err(|e| LoadError::Other(e.into()))?;
        let Some(raw) = raw else { return Ok(None) };
        let stored: Stored =
            serde_json::from_slice(&raw).map_err(|e| LoadError::Deserialization(e.into()))?;
        if stored.expires_at <= (self.now)() {
            return Ok(None);
        }
        Ok(Some(stored.state))
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let key = new_key();
        self.write(key.as_ref(), state, ttl, false)
            .await
            .map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        // The existence check and the write are one transaction, so a session ended meanwhile
        // (logout elsewhere, user deleted, credential disabled) is never written back.
        let written = self
            .write(session_key.as_ref(), state.clone(), ttl, true)
            .await
            .map_err(UpdateError::Other)?;
        if written {
            return Ok(session_key);
        }
        // Expired, purged or ended meanwhile: start a new anonymous session rather than revive
        // the old key or its login.
        let mut state = state;
        state.remove(AUTHENTICATED_KEY);
        let key = new_key();
        self.write(key.as_ref(), state, ttl, false)
            .await
            .map_err(UpdateError::Other)?;
        Ok(key)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let table = &self.store.session_table;
        if let Some(mut stored) = table.get(session_key.as_ref()) {
            if stored.expires_at <= (self.now)() {
                // Expired: never extended, it waits for the purge.
                return Ok(());
            }
            stored.expires_at = self.expiry(ttl);
            stored.seen_at = Some((self.now)());
            let (size, expires_at) = (footprint(session_key.as_ref(), &stored), stored.expires_at);
            // Only if still there: an ended session is never written back.
            if let Put::Kept = table.put(
                session_key.as_ref(),
                stored,
                size,
                expires_at,
                Only::Existing,
            ) {
                return Ok(());
            }
        }
        let key = session_key.as_ref().as_bytes();
        if let Some(raw) = self.store.sessions.get(key)? {
            let mut stored: Stored = serde_json::from_slice(&raw)?;
            if stored.expires_at <= (self.now)() {
                return Ok(());
            }
            stored.expires_at = self.expiry(ttl);
            stored.seen_at = Some((self.now)());
            // Only if unchanged meanwhile: an ended session is never written back.
            let _ = self.store.sessions.compare_and_swap(
                key,
                Some(raw),
                Some(serde_json::to_vec(&stored)?),
            )?;
        }
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let key = session_key.as_ref();
        // Out of memory, then out of the tree (where it may be too, for a moment, while it
        // signs in).
        if self.store.session_table.take(key).is_some()
            && !self.store.sessions.contains_key(key.as_bytes())?
        {
            return Ok(());
        }
        self.store.remove_session(key.as_bytes())?;
        self.store.pending().wait_async().await?;
        Ok(())
    }
}

/// The sled internals of the sessions: the index, the in-memory table, spill. Their behaviour
/// is tested on both backends in `store/suite/sessions.rs`.
#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
