//! The actix-session store of whichever backend the server runs on.

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;

use super::sled_store::SessionState as State;
use super::{PgSessionStore, SledSessionStore};

/// The sessions as actix-session's `SessionStore`, on sled or on PostgreSQL.
#[derive(Clone)]
pub enum Sessions {
    Sled(Box<SledSessionStore>),
    Postgres(PgSessionStore),
}

impl SessionStore for Sessions {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        match self {
            Sessions::Sled(s) => s.load(session_key).await,
            Sessions::Postgres(s) => s.load(session_key).await,
        }
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        match self {
            Sessions::Sled(s) => s.save(state, ttl).await,
            Sessions::Postgres(s) => s.save(state, ttl).await,
        }
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        match self {
            Sessions::Sled(s) => s.update(session_key, state, ttl).await,
            Sessions::Postgres(s) => s.update(session_key, state, ttl).await,
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        match self {
            Sessions::Sled(s) => s.update_ttl(session_key, ttl).await,
            Sessions::Postgres(s) => s.update_ttl(session_key, ttl).await,
        }
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        match self {
            Sessions::Sled(s) => s.delete(session_key).await,
            Sessions::Postgres(s) => s.delete(session_key).await,
        }
    }
}
