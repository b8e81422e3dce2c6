//! The account's active sessions: the list (device, address, last seen), the
//! `session-selection` step, and the `apply` actions that sign one session out (`end-session`)
//! or every other one (`end-other-sessions`).
//!
//! A session is named to the client by [`public_id`], a digest of the engine's session id: the
//! list never shows a session key nor the id the in-progress guard uses.

use chrono::{DateTime, Utc};

use super::{AccountSession, StepDone};
use crate::domain::Username;
use crate::engine::session::Login;
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx, SessionData};
use crate::flow::definitions::Action;
use crate::flow::machine::{Call, RunningFlow};
use crate::flow::FlowKind;
use crate::store::{AuditKind, Outcome, SignedInSession};

/// How many of an account's sessions are read for its list and for a selection. A user with
/// more live sessions sees the current one and 500 others; `end-other-sessions` ends them all.
const READ_AT_MOST: usize = 500;

/// The id the account's session list gives the session whose engine session id is `sid`: the
/// first 16 bytes of SHA-256 over a label and the id, base64url.
pub fn public_id(sid: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("fidoflow account session\0{sid}").as_bytes(),
    );
    crate::domain::b64url(&digest.as_ref()[..16])
}

/// "Chrome on Linux", "Safari on iOS", "Firefox", "Android": the browser and the operating
/// system a `User-Agent` names, as far as it names the common ones; `None` when it names none.
pub fn device_of(user_agent: &str) -> Option<String> {
    let has = |s: &str| user_agent.contains(s);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") || has("iPod") {
        Some("iOS")
    } else if has("iPad") {
        Some("iPadOS")
    } else if has("Android") {
        Some("Android")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Macintosh") || has("Mac OS X") {
        Some("macOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => Some(format!("{b} on {s}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

/// A listed session as the account sees it.
fn view(login: &Login, sid: &str, current: bool, last_seen: DateTime<Utc>) -> AccountSession {
    AccountSession {
        id: public_id(sid),
        current,
        device: login.user_agent.as_deref().and_then(device_of),
        user_agent: login.user_agent.clone(),
        remote_address: login.remote_address.clone(),
        signed_in_at: login.signed_in_at.unwrap_or(login.authenticated_at),
        last_seen_at: last_seen,
    }
}

impl Engine {
    /// The account's live sessions with their engine session ids, as stored (the current one
    /// included when it is stored).
    fn stored_sessions(&self, login: &Login) -> EngineResult<Vec<(SignedInSession, Login)>> {
        let listed = self
            .store()
            .sessions_of(&login.username, self.now(), READ_AT_MOST)?;
        Ok(listed
            .into_iter()
            .filter_map(|l| {
                let stored: Login = serde_json::from_str(&l.login).ok()?;
                (stored.username == login.username).then_some((l, stored))
            })
            .collect())
    }

    /// `GET /rest/protected/self-service/sessions`: the sessions signed in to the account, this
    /// one first, then the most recently seen.
    pub fn my_sessions(&self, s: &SessionData) -> EngineResult<Vec<AccountSession>> {
        self.signed_in(s)?;
        let login = s
            .login
            .as_ref()
            .ok_or_else(|| EngineError::Internal("a signed-in session without a login".into()))?;
        let now = self.now();
        let mut others: Vec<AccountSession> = self
            .stored_sessions(login)?
            .into_iter()
            .filter_map(|(l, stored)| {
                let sid = l.sid?;
                (Some(&sid) != s.sid.as_ref()).then(|| {
                    let seen = l.seen_at.unwrap_or(stored.authenticated_at).min(now);
                    view(&stored, &sid, false, seen)
                })
            })
            .collect();
        others.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
        let mut all = Vec::with_capacity(others.len() + 1);
        if let Some(sid) = &s.sid {
            all.push(view(login, sid, true, now));
        }
        all.extend(others);
        Ok(all)
    }

    /// `POST /rest/protected/self-service/session/select`: the session a `session-selection`
    /// step picks, by the id the list gave it.
    pub fn session_select(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        session_id: &str,
    ) -> EngineResult<StepDone> {
        self.signed_in(s)?;
        let (mut flow, def, _) =
            self.running_step(s, Call::SessionSelect, FlowKind::SelfService)?;
        let login = s.login.as_ref().ok_or(EngineError::SessionNotFound)?;
        let current = s.sid.iter().cloned();
        let stored = self
            .stored_sessions(login)?
            .into_iter()
            .filter_map(|(l, _)| l.sid);
        let sid = current
            .chain(stored)
            .find(|sid| public_id(sid) == session_id)
            .ok_or(EngineError::SessionNotFound)?;
        flow.selected_session = Some(sid);
        self.advance_flow(s, cx, def, flow)
    }

    /// Runs an `end-session` or `end-other-sessions` step, audited `SESSIONS_ENDED`. Ending
    /// this session destroys it with the answer; ending the others renews this one's key.
    pub(in crate::engine) fn apply_session_change(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow: &RunningFlow,
        action: Action,
    ) -> EngineResult<()> {
        let name = self.signed_in(s)?.username;
        let detail = self.end_selected_sessions(s, &name, flow, action)?;
        self.audit(AuditDraft {
            kind: AuditKind::SessionsEnded,
            actor: format!("user:{name}"),
            username: Some(&name),
            credential_id: None,
            outcome: Outcome::Success,
            detail,
            cx,
        })
    }

    /// Ends what `action` ends; returns the audit detail.
    fn end_selected_sessions(
        &self,
        s: &mut SessionData,
        name: &Username,
        flow: &RunningFlow,
        action: Action,
    ) -> EngineResult<String> {
        match action {
            Action::EndSession => {
                let sid = flow
                    .selected_session
                    .clone()
                    .ok_or_else(|| EngineError::Internal("no session selected".into()))?;
                if s.sid.as_deref() == Some(sid.as_str()) {
                    self.store().end_session_of(name, &sid)?;
                    self.destroy_session(s)?;
                    return Ok("signed out this session".into());
                }
                let ended = self.store().end_session_of(name, &sid)?;
                Ok(format!(
                    "signed out session {}{}",
                    public_id(&sid),
                    if ended { "" } else { " (it had ended already)" }
                ))
            }
            Action::EndOtherSessions => {
                let ended = self.store().end_sessions_of(name, s.sid.as_deref())?;
                s.renew = true;
                Ok(format!("signed out {ended} other session(s)"))
            }
            other => Err(EngineError::Internal(format!(
                "`{}` is not a session action",
                other.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{cx, TestEngine, PASSWORD};
    use crate::store::SledSessionStore;
    use actix_session::storage::SessionStore as _;
    use actix_web::cookie::time::Duration as CookieDuration;

    /// A session of `name` with the engine session id `sid`, as the HTTP layer holds it.
    fn signed_in(t: &TestEngine, name: &str, sid: &str, agent: &str) -> SessionData {
        let now = t.now();
        SessionData {
            sid: Some(sid.into()),
            login: Some(Login {
                username: Username::parse(name).unwrap(),
                authenticated_at: now,
                tags: Vec::new(),
                applications: Vec::new(),
                signed_in_at: Some(now),
                user_agent: Some(agent.into()),
                remote_address: Some("192.0.2.7".into()),
            }),
            ..SessionData::default()
        }
    }

    /// Stores `s` as the session store does (the state keys of `SessionData`).
    fn store(t: &TestEngine, s: &SessionData) {
        let sessions = SledSessionStore::new(t.sled.clone(), {
            let clock = t.clock.clone();
            std::sync::Arc::new(move || clock.now())
        });
        let mut state = std::collections::HashMap::new();
        state.insert(
            SessionData::KEY_SID.to_string(),
            serde_json::to_string(&s.sid).unwrap(),
        );
        state.insert(
            SessionData::KEY_LOGIN.to_string(),
            serde_json::to_string(&s.login).unwrap(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(sessions.save(state, &CookieDuration::minutes(30)))
            .unwrap();
    }

    const LINUX_CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36";
    const IPHONE: &str =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Safari/604.1";

    #[test]
    fn the_list_puts_this_session_first_and_names_the_others_by_digest() {
        let t = TestEngine::new();
        t.add_user("alice", Some(PASSWORD));
        t.add_user("bob", Some(PASSWORD));
        let mine = signed_in(&t, "alice", "mine", LINUX_CHROME);
        t.clock.advance(chrono::Duration::minutes(2));
        let phone = signed_in(&t, "alice", "phone", IPHONE);
        store(&t, &phone);
        store(&t, &signed_in(&t, "bob", "bobs", IPHONE));
        // This session is listed even before it is stored.
        t.clock.advance(chrono::Duration::minutes(1));
        let list = t.my_sessions(&mine).unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        assert!(list[0].current);
        assert_eq!(list[0].id, public_id("mine"));
        assert_eq!(list[0].device.as_deref(), Some("Chrome on Linux"));
        assert_eq!(list[0].last_seen_at, t.now());
        assert_eq!(list[1].id, public_id("phone"));
        assert_eq!(list[1].device.as_deref(), Some("Safari on iOS"));
        assert_eq!(list[1].remote_address.as_deref(), Some("192.0.2.7"));
        assert_eq!(t.now() - list[1].last_seen_at, chrono::Duration::minutes(1));
        // Stored too, it is listed once.
        store(&t, &mine);
        assert_eq!(t.my_sessions(&mine).unwrap().len(), 2);
        // Not signed in: no list.
        assert!(matches!(
            t.my_sessions(&SessionData::default()),
            Err(EngineError::NotAuthorized { .. })
        ));
    }

    #[test]
    fn one_session_ends_by_its_list_id_and_this_one_like_a_logout() {
        let t = TestEngine::new();
        t.add_user("alice", Some(PASSWORD));
        t.add_user("bob", Some(PASSWORD));
        let mut mine = signed_in(&t, "alice", "mine", LINUX_CHROME);
        store(&t, &mine);
        store(&t, &signed_in(&t, "alice", "phone", IPHONE));
        store(&t, &signed_in(&t, "bob", "bobs", IPHONE));
        let alice = Username::parse("alice").unwrap();

        let started = t.select_flow(&mut mine, &cx(), "session-sign-out").unwrap();
        assert_eq!(
            started.next,
            Some(crate::engine::NextStep::Step("SESSION_SELECTION_REQUIRED"))
        );
        for wrong in [public_id("bobs"), "phone".into(), String::new()] {
            assert!(
                matches!(
                    t.session_select(&mut mine, &cx(), &wrong),
                    Err(EngineError::SessionNotFound)
                ),
                "{wrong}"
            );
        }
        let done = t
            .session_select(&mut mine, &cx(), &public_id("phone"))
            .unwrap();
        assert_eq!(done.next, None);
        assert!(!mine.purge && !mine.renew);
        let left = t.store().sessions_of(&alice, t.now(), 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].sid.as_deref(), Some("mine"));

        t.select_flow(&mut mine, &cx(), "session-sign-out").unwrap();
        t.session_select(&mut mine, &cx(), &public_id("mine"))
            .unwrap();
        assert!(mine.purge, "this session is destroyed with the answer");
        assert!(mine.login.is_none());
        assert!(t
            .store()
            .sessions_of(&alice, t.now(), 10)
            .unwrap()
            .is_empty());
        let bob = Username::parse("bob").unwrap();
        assert_eq!(t.store().sessions_of(&bob, t.now(), 10).unwrap().len(), 1);
    }

    #[test]
    fn signing_out_everywhere_else_is_applied_at_selection_and_renews_this_session() {
        let t = TestEngine::new();
        t.add_user("alice", Some(PASSWORD));
        let mut mine = signed_in(&t, "alice", "mine", LINUX_CHROME);
        store(&t, &mine);
        store(&t, &signed_in(&t, "alice", "phone", IPHONE));
        store(&t, &signed_in(&t, "alice", "tablet", IPHONE));
        let done = t
            .select_flow(&mut mine, &cx(), "sessions-sign-out-others")
            .unwrap();
        assert_eq!(done.next, None);
        assert!(mine.self_service.is_none(), "the flow is over");
        assert!(mine.renew && !mine.purge);
        let alice = Username::parse("alice").unwrap();
        let left = t.store().sessions_of(&alice, t.now(), 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].sid.as_deref(), Some("mine"));
    }

    /// An account action is not a session action: the display name changes through the flow.
    #[test]
    fn an_account_flow_is_applied_to_the_account() {
        let t = TestEngine::new();
        t.add_user("alice", Some(PASSWORD));
        let mut mine = signed_in(&t, "alice", "mine", LINUX_CHROME);
        t.select_flow(&mut mine, &cx(), "account-display-name")
            .unwrap();
        let done = t
            .user_display_name_change(&mut mine, &cx(), "Alice A.")
            .unwrap();
        assert_eq!(done.next, None);
        let alice = Username::parse("alice").unwrap();
        let user = t.store().user(&alice).unwrap().unwrap();
        assert_eq!(user.display_name.unwrap().to_string(), "Alice A.");
    }

    #[test]
    fn common_browsers_and_systems_are_named() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", Some("Chrome on Linux")),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Some("Chrome on Linux")),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", Some("Edge on Windows")),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", Some("Safari on iOS")),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", Some("Safari on macOS")),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", Some("Chrome on Android")),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", Some("Firefox on Linux")),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Some("Chrome on ChromeOS")),
            ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1", Some("Chrome on iPadOS")),
            ("curl/8.5.0", None),
            ("", None),
        ];
        for (agent, expected) in cases {
            assert_eq!(device_of(agent).as_deref(), expected, "{agent}");
        }
    }

    #[test]
    fn the_public_id_is_stable_distinct_and_not_the_session_id() {
        let a = public_id("session-a");
        assert_eq!(a, public_id("session-a"));
        assert_ne!(a, public_id("session-b"));
        assert_eq!(a.len(), 22);
        assert!(!a.contains("session"));
    }
}
