//! Public authentication: the password step, application access, the session view, ending a
//! flow and logout.

use chrono::{DateTime, Utc};

use super::{SessionView, StepDone};
use crate::domain::Username;
use crate::engine::metrics::Busy;
use crate::engine::{
    random_id, AuditDraft, Engine, EngineError, EngineResult, Limited, Login, NextStep, RequestCtx,
    SessionData,
};
use crate::flow::machine::{self, Advance, Call, Facts, RunningFlow};
use crate::flow::registry::DEFAULT_APPLICATION;
use crate::flow::{Application, Step};
use crate::store::{AuditKind, LockPolicy, Outcome, Reservation};

const WRONG: &str = "the username or the password is wrong";

impl Engine {
    fn application_of(&self, flow: &RunningFlow) -> Option<&Application> {
        self.inner.registry.application(flow.id.as_str())
    }

    pub(in crate::engine) fn lock_policy(&self) -> LockPolicy {
        let l = &self.inner.settings.lockout;
        LockPolicy {
            max_failures: l.max_failures,
            lock_duration: chrono::Duration::from_std(l.lock_duration)
                .unwrap_or(chrono::Duration::minutes(5)),
            failure_window: chrono::Duration::from_std(l.failure_window)
                .unwrap_or(chrono::Duration::hours(1)),
            table_size: l.table_size,
        }
    }

    fn start_application(&self, app: &Application, user: Option<Username>) -> RunningFlow {
        machine::start(app.id.clone(), &app.steps, random_id(), user)
    }

    /// The application `/password/check` starts (the registry guarantees it exists).
    fn default_application(&self) -> EngineResult<&Application> {
        self.inner
            .registry
            .application(DEFAULT_APPLICATION)
            .ok_or_else(|| EngineError::Internal("no default application".into()))
    }

    /// Starts the `default` application in the session (replacing an unfinished flow).
    pub(in crate::engine) fn start_default(&self, s: &mut SessionData) -> EngineResult<()> {
        let default = self.default_application()?;
        if let Some(previous) = s.auth_flow.take() {
            self.spend_ceremony_of(&previous)?;
        }
        s.auth_flow = Some(self.start_application(default, None));
        Ok(())
    }

    /// Runs `call`, which may start an authentication flow in a session without one; if it is
    /// refused, the flow it started is dropped (its ceremony spent), so a refused start leaves
    /// nothing to store and the session gets no cookie.
    pub(in crate::engine) fn unless_refused<T>(
        &self,
        s: &mut SessionData,
        call: impl FnOnce(&mut SessionData) -> EngineResult<T>,
    ) -> EngineResult<T> {
        let had_flow = s.auth_flow.is_some();
        let result = call(s);
        if result.is_err() && !had_flow {
            if let Some(flow) = s.auth_flow.take() {
                self.spend_ceremony_of(&flow)?;
            }
        }
        result
    }

    /// `POST /password/check`. A refused check (wrong, locked, rate-limited) of a session
    /// without a flow leaves none behind, so a refusal stores no session.
    pub fn password_check(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        username: &str,
        password: &str,
    ) -> EngineResult<StepDone> {
        self.unless_refused(s, |s| self.check_password(s, cx, username, password))
    }

    fn check_password(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        username: &str,
        password: &str,
    ) -> EngineResult<StepDone> {
        let now = self.now();
        let default = self.default_application()?;
        // Continue the running flow if it waits for a password; otherwise start `default`.
        let flow = match s.auth_flow.take() {
            Some(f)
                if self.application_of(&f).is_some_and(|app| {
                    machine::accept(&app.steps, &f, Call::PasswordCheck).is_ok()
                }) =>
            {
                f
            }
            _ => self.start_application(default, None),
        };
        let app = self.application_of(&flow).unwrap_or(default);
        s.auth_flow = Some(flow.clone());
        let wrong = || EngineError::UsernamePasswordWrong {
            detail: WRONG.into(),
            next_auth_step: Some("PASSWORD_REQUIRED"),
        };

        let name = Username::parse(username).ok();
        self.inner.limits.check(
            Limited::Attempt,
            cx.remote_address.as_deref(),
            Some(name.as_ref().map_or(username, |n| n.as_str())),
            now,
        )?;
        let permit = self.inner.passwords.reserve()?;
        let Some(name) = name else {
            // Not a possible username: nobody can have it, but it costs the same.
            self.inner.passwords.verify(None, password);
            return Err(wrong());
        };
        let policy = self.lock_policy();
        let reservation = self.store().reserve_attempt(&name, now, &policy)?;
        if reservation == Reservation::TableFull {
            return Err(EngineError::ServerBusy(Busy::LockTableFull));
        }
        if let Reservation::Locked(until) = reservation {
            self.inner.passwords.verify(None, password);
            s.auth_flow = None;
            self.audit_password(
                cx,
                &name,
                Outcome::Failure,
                "refused: the username is locked",
            )?;
            return Err(EngineError::UserLocked { until });
        }
        let user = self.store().user(&name)?;
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = self.inner.passwords.verify(hash, password);
        drop(permit);

        if !verified {
            self.audit_password(cx, &name, Outcome::Failure, WRONG)?;
            if let Some(until) = self.store().attempt_failed(&name, now, &policy)? {
                s.auth_flow = None;
                self.lock_engaged(&self.default_tenant(), cx, &name, until)?;
                return Err(EngineError::UserLocked { until });
            }
            return Err(wrong());
        }
        self.store().attempt_succeeded(&name)?;
        if s.username().is_some_and(|u| *u != name) {
            self.audit_password(cx, &name, Outcome::Failure, "a different user is signed in")?;
            return Err(EngineError::UsernamePasswordWrong {
                detail: "a different user is signed in; sign out first".into(),
                next_auth_step: Some("PASSWORD_REQUIRED"),
            });
        }
        self.audit_password(cx, &name, Outcome::Success, "password verified")?;
        let mut flow = flow;
        flow.user = Some(name.clone());
        let facts = self.facts(&name)?;
        self.after_step(s, cx, app, flow, facts, now)
    }

    fn audit_password(
        &self,
        cx: &RequestCtx,
        name: &Username,
        outcome: Outcome,
        detail: &str,
    ) -> EngineResult<()> {
        self.audit(AuditDraft {
            kind: AuditKind::PasswordCheck,
            // The user is the actor once the password proved who they are.
            actor: match outcome {
                Outcome::Success => format!("user:{name}"),
                Outcome::Failure => "anonymous".into(),
            },
            username: Some(name),
            credential_id: None,
            outcome,
            detail: detail.into(),
            cx,
        })
    }

    pub(in crate::engine) fn facts(&self, name: &Username) -> EngineResult<Facts> {
        let credentials = self.store().credentials_of(name)?;
        Ok(Facts {
            has_credentials: !credentials.is_empty(),
            has_enabled_credentials: credentials.iter().any(|c| c.enabled),
        })
    }

    /// Moves an authentication flow on after a successful step, completing the login when it
    /// was the last one.
    pub(in crate::engine) fn after_step(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        app: &Application,
        flow: RunningFlow,
        facts: Facts,
        now: DateTime<Utc>,
    ) -> EngineResult<StepDone> {
        match machine::advance(&app.steps, flow, facts, now) {
            Advance::Next(next) => {
                let step = machine::next_step_name(&app.steps, &next);
                let instance = next.instance.clone();
                // The flow now belongs to a user (the password or a first factor identified
                // them): a new session key, so a cookie planted before sees nothing of it.
                if next.user.is_some() {
                    s.renew = true;
                }
                s.auth_flow = Some(next);
                Ok(StepDone {
                    instance,
                    next: step.map(NextStep::AuthStep),
                })
            }
            Advance::Completed(done) => {
                let instance = done.instance.clone();
                self.complete_login(s, cx, done, now)?;
                Ok(StepDone {
                    instance,
                    next: None,
                })
            }
            Advance::NoValidToken => {
                s.auth_flow = None;
                Err(EngineError::NoValidToken)
            }
        }
    }

    /// The flow completed: the session becomes (or stays) authenticated for its user, the
    /// flow's tags start to count, and the session key is renewed. The browser and address it
    /// completed from are kept for the account's list of its sessions.
    pub(in crate::engine) fn complete_login(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow: RunningFlow,
        now: DateTime<Utc>,
    ) -> EngineResult<()> {
        let Some(user) = flow.user.clone() else {
            return Err(EngineError::Internal(
                "a completed flow without a user".into(),
            ));
        };
        let mut login = match s.login.take() {
            Some(l) if l.username == user => l,
            _ => Login {
                username: user,
                authenticated_at: now,
                tags: Vec::new(),
                applications: Vec::new(),
                signed_in_at: Some(now),
                user_agent: None,
                remote_address: None,
            },
        };
        login.authenticated_at = now;
        login.user_agent = cx.user_agent.as_deref().map(Login::user_agent_kept);
        login.remote_address = cx.remote_address.clone();
        for (tag, at) in flow.granted {
            login.tags.retain(|(t, _)| *t != tag);
            login.tags.push((tag, at));
        }
        login.applications.retain(|(a, _)| *a != flow.id);
        login.applications.push((flow.id, now));
        s.login = Some(login);
        s.auth_flow = None;
        s.renew = true;
        Ok(())
    }

    /// Whether the session satisfies `app`: its flow completed within `max_age`, or the
    /// session holds every tag the flow grants, each within `max_age`.
    fn satisfies(&self, s: &SessionData, app: &Application, now: DateTime<Utc>) -> bool {
        let Some(login) = &s.login else { return false };
        let max_age = app.max_age.chrono();
        let fresh = |at: &DateTime<Utc>| now - *at <= max_age;
        if login
            .applications
            .iter()
            .any(|(id, at)| *id == app.id && fresh(at))
        {
            return true;
        }
        app.steps
            .iter()
            .flat_map(Step::grants)
            .all(|tag| login.tags.iter().any(|(t, at)| t == tag && fresh(at)))
    }

    /// `POST /applications/{id}/access`.
    pub fn application_access(&self, s: &mut SessionData, id: &str) -> EngineResult<StepDone> {
        let now = self.now();
        let app = self
            .inner
            .registry
            .application(id)
            .ok_or_else(|| EngineError::ApplicationNotFound(id.to_string()))?;
        if self.satisfies(s, app, now) {
            let instance = s
                .auth_flow
                .as_ref()
                .map_or_else(random_id, |f| f.instance.clone());
            return Ok(StepDone {
                instance,
                next: None,
            });
        }
        if let Some(previous) = s.auth_flow.take() {
            self.spend_ceremony_of(&previous)?;
        }
        let flow = self.start_application(app, None);
        let next = machine::next_step_name(&app.steps, &flow);
        s.auth_flow = Some(flow);
        Err(EngineError::NotAuthorized {
            detail: format!("the session is not authenticated for `{id}`; follow nextAuthStep"),
            next_auth_step: next,
        })
    }

    /// `GET /session`.
    pub fn session_info(&self, s: &SessionData) -> EngineResult<SessionView> {
        let instance = s
            .auth_flow
            .as_ref()
            .map_or_else(random_id, |f| f.instance.clone());
        let next_auth_step = s.auth_flow.as_ref().and_then(|flow| {
            self.application_of(flow)
                .map(|app| machine::next_step_name(&app.steps, flow))
        });
        Ok(SessionView {
            instance,
            username: s.login.as_ref().map(|l| l.username.clone()),
            authenticated_at: s.login.as_ref().map(|l| l.authenticated_at),
            tags: s.login.as_ref().map_or_else(Vec::new, |l| l.tags.clone()),
            next_auth_step,
        })
    }

    /// `DELETE /rest/public/authentication/flow`: ends an unfinished authentication flow.
    pub fn end_authentication_flow(&self, s: &mut SessionData) -> EngineResult<StepDone> {
        if let Some(flow) = s.auth_flow.take() {
            self.spend_ceremony_of(&flow)?;
        }
        Ok(StepDone {
            instance: random_id(),
            next: None,
        })
    }

    /// `POST /logout`.
    pub fn logout(&self, s: &mut SessionData, cx: &RequestCtx) -> EngineResult<StepDone> {
        if let Some(login) = &s.login {
            self.audit(AuditDraft {
                kind: AuditKind::Logout,
                actor: s.actor(),
                username: Some(&login.username),
                credential_id: None,
                outcome: Outcome::Success,
                detail: "signed out".into(),
                cx,
            })?;
        }
        self.destroy_session(s)?;
        Ok(StepDone {
            instance: random_id(),
            next: None,
        })
    }

    /// Empties the session and marks it to be destroyed with the answer (its cookie cleared):
    /// the ceremonies of its flows are spent, its login is gone. Logout, account deletion and
    /// signing this session out from the session list.
    pub(in crate::engine) fn destroy_session(&self, s: &mut SessionData) -> EngineResult<()> {
        for flow in [s.auth_flow.take(), s.self_service.take()]
            .into_iter()
            .flatten()
        {
            self.spend_ceremony_of(&flow)?;
        }
        *s = SessionData {
            purge: true,
            ..SessionData::default()
        };
        Ok(())
    }

    /// A flow that ends takes its pending ceremony with it.
    pub(in crate::engine) fn spend_ceremony_of(&self, flow: &RunningFlow) -> EngineResult<()> {
        if let machine::Progress::ResponseRequired { ceremony } = &flow.progress {
            self.store().take_ceremony(ceremony)?;
        }
        Ok(())
    }

    /// The error for a call that does not fit the running authentication flow.
    pub(in crate::engine) fn unexpected_auth(&self, s: &SessionData) -> EngineError {
        let next = s.auth_flow.as_ref().and_then(|f| {
            self.application_of(f)
                .and_then(|app| machine::next_step_name(&app.steps, f))
        });
        EngineError::UnexpectedCall {
            detail: match next {
                Some(step) => format!("this call does not fit the current step ({step})"),
                None => "no authentication flow is running; start one first".into(),
            },
            next: next.map(NextStep::AuthStep),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FlowId;
    use crate::engine::testing::{cx, TestEngine, PASSWORD};

    /// An application besides `default` that starts with a password step.
    const PASSWORD_AGAIN: &str = r#"
[[application]]
id = "password-again"
max_age = "8h"

[[application.steps]]
type = "password"
grants = ["PASSWORD_AGAIN"]
"#;

    fn engine() -> TestEngine {
        TestEngine::with_flows(&[("password-again.toml", PASSWORD_AGAIN)])
    }

    fn login(s: &SessionData) -> &Login {
        s.login.as_ref().expect("a signed-in session")
    }

    fn tags(s: &SessionData) -> Vec<(&str, DateTime<Utc>)> {
        login(s)
            .tags
            .iter()
            .map(|(t, at)| (t.as_str(), *at))
            .collect()
    }

    fn applications(s: &SessionData) -> Vec<(&str, DateTime<Utc>)> {
        login(s)
            .applications
            .iter()
            .map(|(a, at)| (a.as_str(), *at))
            .collect()
    }

    #[test]
    fn a_password_check_continues_the_application_an_access_started_instead_of_default() {
        let t = engine();
        t.add_user("alice", Some(PASSWORD));
        let mut s = SessionData::default();
        let refused = t.application_access(&mut s, "password-again").unwrap_err();
        assert!(
            matches!(
                refused,
                EngineError::NotAuthorized {
                    next_auth_step: Some("PASSWORD_REQUIRED"),
                    ..
                }
            ),
            "{refused:?}"
        );
        let started = s
            .auth_flow
            .as_ref()
            .expect("a running flow")
            .instance
            .clone();
        // The session shows the running application's step.
        let view = t.session_info(&s).unwrap();
        assert_eq!(view.instance, started);
        assert_eq!(view.next_auth_step, Some(Some("PASSWORD_REQUIRED")));

        let done = t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        assert_eq!(done.instance, started, "the same flow instance went on");
        assert_eq!(done.next, None);
        let now = t.now();
        assert_eq!(applications(&s), [("password-again", now)]);
        assert_eq!(tags(&s), [("PASSWORD_AGAIN", now)]);
        assert!(s.auth_flow.is_none());
        // A user without credentials is not asked for `default`'s FIDO step, but `default` did
        // not run, so it is not satisfied: its grants include the missing PASSWORD_VERIFIED.
        assert!(t.application_access(&mut s, "default").is_err());
    }

    #[test]
    fn a_second_sign_in_of_the_same_user_keeps_the_first_ones_tags_and_applications_once_each() {
        let t = engine();
        t.add_user("alice", Some(PASSWORD));
        let mut s = SessionData::default();
        let first = t.now();
        t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        assert_eq!(applications(&s), [("default", first)]);
        assert_eq!(tags(&s), [("PASSWORD_VERIFIED", first)]);

        t.clock.advance(chrono::Duration::minutes(1));
        let second = t.now();
        assert!(t.application_access(&mut s, "password-again").is_err());
        t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        assert_eq!(login(&s).username.as_str(), "alice");
        assert_eq!(login(&s).authenticated_at, second);
        assert_eq!(
            applications(&s),
            [("default", first), ("password-again", second)]
        );
        assert_eq!(
            tags(&s),
            [("PASSWORD_VERIFIED", first), ("PASSWORD_AGAIN", second)]
        );
        // `default` still counts through its completion: alice has no credential, so the
        // FIDO_VERIFIED its second step grants was never granted.
        assert!(t.application_access(&mut s, "default").is_ok());

        // `default` again: its entry and its tag move to the new time, each still once.
        t.clock.advance(chrono::Duration::minutes(1));
        let third = t.now();
        t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        assert_eq!(
            applications(&s),
            [("password-again", second), ("default", third)]
        );
        assert_eq!(
            tags(&s),
            [("PASSWORD_AGAIN", second), ("PASSWORD_VERIFIED", third)]
        );
    }

    /// Every caller refuses a flow of another user while one is signed in; `complete_login`
    /// itself never carries one user's factors over to another.
    #[test]
    fn a_completed_flow_of_another_user_inherits_nothing_of_the_signed_in_one() {
        let t = engine();
        let earlier = t.now();
        let mut s = SessionData {
            login: Some(Login {
                username: Username::parse("bob").unwrap(),
                authenticated_at: earlier,
                tags: vec![(FlowId::parse("PASSWORD_VERIFIED").unwrap(), earlier)],
                applications: vec![(FlowId::parse("default").unwrap(), earlier)],
                signed_in_at: Some(earlier),
                user_agent: Some("bob's browser".into()),
                remote_address: Some("192.0.2.1".into()),
            }),
            ..SessionData::default()
        };
        t.clock.advance(chrono::Duration::minutes(1));
        let now = t.now();
        let app = t.inner.registry.application("fido-step-up").unwrap();
        let alice = Username::parse("alice").unwrap();
        let mut flow = machine::start(app.id.clone(), &app.steps, random_id(), Some(alice));
        flow.granted
            .push((FlowId::parse("FIDO_VERIFIED").unwrap(), now));
        t.complete_login(&mut s, &RequestCtx::default(), flow, now)
            .unwrap();
        assert_eq!(
            s.login,
            Some(Login {
                username: Username::parse("alice").unwrap(),
                authenticated_at: now,
                tags: vec![(FlowId::parse("FIDO_VERIFIED").unwrap(), now)],
                applications: vec![(FlowId::parse("fido-step-up").unwrap(), now)],
                signed_in_at: Some(now),
                user_agent: None,
                remote_address: None,
            })
        );
        assert!(s.renew);
    }

    #[test]
    fn logout_empties_the_session_and_marks_it_to_be_destroyed() {
        let t = engine();
        t.add_user("alice", Some(PASSWORD));
        let mut s = SessionData::default();
        t.password_check(&mut s, &cx(), "alice", PASSWORD).unwrap();
        assert!(t.application_access(&mut s, "fido-passwordless").is_err());
        assert!(s.login.is_some() && s.auth_flow.is_some());
        t.logout(&mut s, &cx()).unwrap();
        assert_eq!(
            s,
            SessionData {
                purge: true,
                ..SessionData::default()
            }
        );
    }
}
