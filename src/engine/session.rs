//! What a session holds on the server. The cookie carries only the session key; this state lives
//! in the sled session store, one session-state entry per field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{FlowId, Tag, Username};
use crate::flow::RunningFlow;

/// A completed login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Login {
    pub username: Username,
    pub authenticated_at: DateTime<Utc>,
    /// Tags of completed flows, with when each was granted.
    pub tags: Vec<(Tag, DateTime<Utc>)>,
    /// Applications whose flow completed in this session, with when.
    pub applications: Vec<(FlowId, DateTime<Utc>)>,
    /// When this user signed in to the session (a step-up keeps it; `None` in sessions from
    /// before it was kept).
    #[serde(default)]
    pub signed_in_at: Option<DateTime<Utc>>,
    /// The browser (`User-Agent`, at most [`Login::USER_AGENT_KEPT`] characters) and the
    /// address the last sign-in or step-up came from.
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub remote_address: Option<String>,
}

impl Login {
    /// How much of a `User-Agent` a session keeps.
    pub const USER_AGENT_KEPT: usize = 256;

    /// The part of a `User-Agent` a session keeps.
    pub fn user_agent_kept(agent: &str) -> String {
        agent.chars().take(Self::USER_AGENT_KEPT).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionData {
    /// A random id of this session for the in-progress guard; not the session key.
    pub sid: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub login: Option<Login>,
    pub auth_flow: Option<RunningFlow>,
    pub self_service: Option<RunningFlow>,
    /// Set by the engine when the authentication level changed: the session key is renewed.
    pub renew: bool,
    /// Set by the engine on logout: the session is destroyed.
    pub purge: bool,
}

impl SessionData {
    /// The name the session state keys are stored under (`login` marks an authenticated
    /// session for the store's flush rule).
    pub const KEY_SID: &'static str = crate::store::SID_KEY;
    pub const KEY_CREATED: &'static str = "created";
    pub const KEY_LOGIN: &'static str = crate::store::AUTHENTICATED_KEY;
    pub const KEY_AUTH_FLOW: &'static str = "auth_flow";
    pub const KEY_SELF_SERVICE: &'static str = "self_service";

    /// Whether the session holds anything worth storing: a login or a running flow. A session
    /// without (an anonymous read, a refused call) is not stored and gets no cookie; a stored
    /// one that no longer holds anything is destroyed.
    pub fn holds_state(&self) -> bool {
        self.login.is_some() || self.auth_flow.is_some() || self.self_service.is_some()
    }

    pub fn username(&self) -> Option<&Username> {
        self.login.as_ref().map(|l| &l.username)
    }

    /// `user:NAME` or `anonymous`, for the audit log.
    pub fn actor(&self) -> String {
        match self.username() {
            Some(u) => format!("user:{u}"),
            None => "anonymous".into(),
        }
    }
}
