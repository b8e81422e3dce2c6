//! Server-side sessions for actix-session, shared by every node, and the claims that refuse a
//! second request of one session while one runs (`CONCURRENT_ACCESS`) on any node.
//!
//! Table `sessions`: the session key (43 characters of base64url) → the JSON state, with
//! `username` (the user it is signed in to, for `end_sessions_of`), `sid` (the engine's session
//! id), `expires_at` and `seen_at` (the last write or extension, that is the last request). Every write is committed before the answer goes out. Updating a session
//! that is gone (ended, expired, purged) never writes it back: an update is an `UPDATE`, which
//! finds no row.
//!
//! Table `session_claims`: the session key of a request in progress → until when the claim
//! holds (a node that dies mid-request leaves a claim that expires).

use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Utc};

use super::{decode, encode, params, PgStore};
use crate::domain::Username;
use crate::store::sled_store::{new_session_key as new_key, signed_in_as, SessionState as State};
use crate::store::{SignedInSession, StoreResult, AUTHENTICATED_KEY, SID_KEY};

/// Where a session store reads the time.
type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The sessions of [`PgStore`] as actix-session's `SessionStore`.
#[derive(Clone)]
pub struct PgSessionStore {
    store: PgStore,
    now: Now,
}

/// The columns of a session row besides its key.
fn columns(state: &State) -> StoreResult<(Option<String>, Option<String>, Vec<u8>)> {
    let user = signed_in_as(state).map(|u| u.as_str().to_string());
    let sid = state
        .get(SID_KEY)
        .and_then(|s| serde_json::from_str::<String>(s).ok());
    Ok((user, sid, encode(state)?))
}

impl PgSessionStore {
    /// Sessions kept in `store`; `now` says what time it is (expiry is measured with it).
    pub fn new(store: PgStore, now: Now) -> Self {
        Self { store, now }
    }

    fn expiry(&self, ttl: &CookieDuration) -> DateTime<Utc> {
        (self.now)() + chrono::Duration::seconds(ttl.whole_seconds().max(1))
    }

    async fn insert(&self, state: &State, ttl: &CookieDuration) -> anyhow::Result<SessionKey> {
        let (user, sid, value) = columns(state)?;
        let (expires, now) = (self.expiry(ttl), (self.now)());
        loop {
            let key = new_key();
            let params = params![
                key.as_ref().to_string(),
                user.clone(),
                sid.clone(),
                expires,
                value.clone(),
                now
            ];
            let inserted = self
                .blocking(move |s| {
                    s.insert(
                        "INSERT INTO sessions (key, username, sid, expires_at, state, seen_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        params,
                    )
                })
                .await?;
            if inserted {
                return Ok(key);
            }
        }
    }

    /// Runs a store call off the async thread.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(PgStore) -> StoreResult<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || call(store)).await??)
    }
}

impl SessionStore for PgSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let key = session_key.as_ref().to_string();
        let now = (self.now)();
        let rows = self
            .blocking(move |s| {
                s.rows(
                    "SELECT state FROM sessions WHERE key = $1 AND expires_at > $2",
                    params![key, now],
                )
            })
            .await
            .map_err(LoadError::Other)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let state: State =
            decode(&row.get::<_, Vec<u8>>(0)).map_err(|e| LoadError::Deserialization(e.into()))?;
        Ok(Some(state))
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        self.insert(&state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let (user, sid, value) = columns(&state).map_err(|e| UpdateError::Other(e.into()))?;
        let (key, expires, now) = (
            session_key.as_ref().to_string(),
            self.expiry(ttl),
            (self.now)(),
        );
        let written = self
            .blocking(move |s| {
                s.execute(
                    "UPDATE sessions SET username = $2, sid = $3, expires_at = $4, state = $5, \
                     seen_at = $6 WHERE key = $1 AND expires_at > $6",
                    params![key, user, sid, expires, value, now],
                )
            })
            .await
            .map_err(UpdateError::Other)?;
        if written == 1 {
            return Ok(session_key);
        }
        // Expired, purged or ended meanwhile: a new anonymous session rather than revive the
        // old key or its login.
        let mut state = state;
        state.remove(AUTHENTICATED_KEY);
        self.insert(&state, ttl).await.map_err(UpdateError::Other)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let (key, expires, now) = (
            session_key.as_ref().to_string(),
            self.expiry(ttl),
            (self.now)(),
        );
        self.blocking(move |s| {
            s.execute(
                "UPDATE sessions SET expires_at = $2, seen_at = $3 \
                 WHERE key = $1 AND expires_at > $3",
                params![key, expires, now],
            )
        })
        .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let key = session_key.as_ref().to_string();
        self.blocking(move |s| s.execute("DELETE FROM sessions WHERE key = $1", params![key]))
            .await?;
        Ok(())
    }
}

impl crate::store::SessionStore for PgStore {
    fn end_sessions_of(&self, username: &Username, except_sid: Option<&str>) -> StoreResult<usize> {
        let n = self.execute(
            "DELETE FROM sessions WHERE username = $1 \
             AND ($2::TEXT IS NULL OR sid IS NULL OR sid <> $2)",
            params![
                username.as_str().to_string(),
                except_sid.map(str::to_string)
            ],
        )?;
        Ok(n as usize)
    }

    fn sessions_of(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<SignedInSession>> {
        let rows = self.rows(
            "SELECT sid, state, seen_at, expires_at FROM sessions \
             WHERE username = $1 AND expires_at > $2 LIMIT $3",
            params![
                username.as_str().to_string(),
                now,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let state: State = decode(&row.get::<_, Vec<u8>>(1))?;
            let Some(login) = state.get(AUTHENTICATED_KEY) else {
                continue;
            };
            found.push(SignedInSession {
                sid: row.get(0),
                login: login.clone(),
                seen_at: row.get(2),
                expires_at: row.get(3),
            });
        }
        Ok(found)
    }

    fn end_session_of(&self, username: &Username, sid: &str) -> StoreResult<bool> {
        let n = self.execute(
            "DELETE FROM sessions WHERE username = $1 AND sid = $2",
            params![username.as_str().to_string(), sid.to_string()],
        )?;
        Ok(n > 0)
    }
}
