//! Account self-service: the signed-in user's account view, the account's display name, the
//! current and the new password, and the `apply` steps that change the account (display name,
//! password set or removed, the account deleted).

use super::{AccountView, StepDone};
use crate::engine::metrics::Busy;
use crate::engine::passwords::check_password_rule;
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, Limited, RequestCtx};
use crate::engine::{NextStep, SessionData};
use crate::flow::definitions::Action;
use crate::flow::machine::{Call, NewPasswordHash, Progress, RunningFlow};
use crate::flow::FlowKind;
use crate::store::{AuditKind, Outcome, Refusal, Reservation, StoreError};

const CURRENT_PASSWORD: NextStep = NextStep::Step("CURRENT_PASSWORD_REQUIRED");

impl Engine {
    /// `GET /rest/protected/self-service/user`.
    pub fn my_account(&self, s: &SessionData) -> EngineResult<AccountView> {
        let user = self.signed_in(s)?;
        let credentials = self.store().credentials_of(&user.username)?;
        Ok(AccountView {
            username: user.username.to_string(),
            display_name: user.display_name.as_ref().map(|n| n.to_string()),
            has_password: user.password_hash.is_some(),
            has_enabled_credential: credentials.iter().any(|c| c.enabled),
            created_at: user.created_at,
        })
    }

    /// `POST /rest/protected/self-service/user/display-name/change`.
    pub fn user_display_name_change(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        display_name: &str,
    ) -> EngineResult<StepDone> {
        self.new_display_name(s, cx, Call::UserDisplayNameChange, display_name)
    }

    /// `POST /rest/protected/self-service/password/current/check`: counted against the
    /// account's lockout like a sign-in; a wrong password answers `PASSWORD_WRONG`.
    pub fn current_password_check(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        password: &str,
    ) -> EngineResult<StepDone> {
        let user = self.signed_in(s)?;
        let (flow, def, _) = self.running_step(s, Call::CurrentPassword, FlowKind::SelfService)?;
        let name = user.username.clone();
        let now = self.now();
        self.inner.limits.check(
            Limited::Attempt,
            cx.remote_address.as_deref(),
            Some(name.as_str()),
            now,
        )?;
        let permit = self.inner.passwords.reserve()?;
        let policy = self.lock_policy();
        match self.store().reserve_attempt(&name, now, &policy)? {
            Reservation::TableFull => return Err(EngineError::ServerBusy(Busy::LockTableFull)),
            Reservation::Locked(until) => {
                self.inner.passwords.verify(None, password);
                self.drop_self_service(s)?;
                return Err(EngineError::UserLocked { until });
            }
            _ => {}
        }
        let verified = self
            .inner
            .passwords
            .verify(user.password_hash.as_deref(), password);
        drop(permit);
        let audit = |outcome, detail: &str| {
            self.audit(AuditDraft {
                kind: AuditKind::PasswordCheck,
                actor: s.actor(),
                username: Some(&name),
                credential_id: None,
                outcome,
                detail: detail.into(),
                cx,
            })
        };
        if !verified {
            audit(
                Outcome::Failure,
                "self-service: the current password is wrong",
            )?;
            if let Some(until) = self.store().attempt_failed(&name, now, &policy)? {
                self.drop_self_service(s)?;
                self.lock_engaged(&self.default_tenant(), cx, &name, until)?;
                return Err(EngineError::UserLocked { until });
            }
            return Err(EngineError::CurrentPasswordWrong {
                next: CURRENT_PASSWORD,
            });
        }
        audit(Outcome::Success, "self-service: the current password")?;
        self.store().attempt_succeeded(&name)?;
        // A FIDO approval started instead is no longer needed.
        self.spend_ceremony_of(&flow)?;
        let mut flow = flow;
        flow.progress = Progress::PasswordRequired;
        self.advance_flow(s, cx, def, flow)
    }

    /// `POST /rest/protected/self-service/password/new/set`: the new password, checked against
    /// the password rule; kept hashed in the flow for its `apply` step.
    pub fn new_password(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        password: &str,
    ) -> EngineResult<StepDone> {
        self.signed_in(s)?;
        let (mut flow, def, _) = self.running_step(s, Call::NewPassword, FlowKind::SelfService)?;
        check_password_rule(password)?;
        flow.new_password = Some(NewPasswordHash(self.inner.passwords.hash(password)?));
        self.advance_flow(s, cx, def, flow)
    }

    fn drop_self_service(&self, s: &mut SessionData) -> EngineResult<()> {
        if let Some(flow) = s.self_service.take() {
            self.spend_ceremony_of(&flow)?;
        }
        Ok(())
    }

    /// Runs an `apply` step that changes the account. A password removal is refused while the
    /// user has no enabled credential, checked while no credential change runs.
    pub(in crate::engine) fn apply_account_change(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow: &RunningFlow,
        action: Action,
    ) -> EngineResult<()> {
        let user = self.signed_in(s)?;
        let name = user.username.clone();
        let actor = s.actor();
        let (kind, detail) = match action {
            Action::SetUserDisplayName => {
                let new = flow
                    .new_display_name
                    .clone()
                    .ok_or_else(|| EngineError::Internal("no display name".into()))?;
                let detail = format!("display name changed to \"{new}\"");
                self.store().update_user(&name, &mut |u| {
                    u.display_name = Some(new.clone());
                    Ok(())
                })?;
                (AuditKind::UserDisplayNameChanged, detail)
            }
            Action::SetPassword => {
                let hash = flow
                    .new_password
                    .clone()
                    .ok_or_else(|| EngineError::Internal("no new password".into()))?;
                let mut had = false;
                self.store().update_user(&name, &mut |u| {
                    had = u.password_hash.is_some();
                    u.password_hash = Some(hash.0.clone());
                    Ok(())
                })?;
                let detail = if had {
                    "password changed"
                } else {
                    "password added"
                };
                (AuditKind::PasswordChanged, detail.to_string())
            }
            Action::RemovePassword => {
                let store = self.store();
                let result = store.modify_user_credentials(&name, &mut |creds| {
                    if !creds.iter().any(|c| c.enabled) {
                        return Err(StoreError::Refused(Refusal::NoOtherWayToSignIn));
                    }
                    store.update_user(&name, &mut |u| {
                        u.password_hash = None;
                        Ok(())
                    })?;
                    Ok(())
                });
                match result {
                    Ok(()) => {}
                    Err(StoreError::Refused(why)) => {
                        return Err(EngineError::PasswordRemovalNotAllowed(why))
                    }
                    Err(StoreError::NotFound) => {
                        return Err(EngineError::PasswordRemovalNotAllowed(
                            Refusal::NoOtherWayToSignIn,
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
                (AuditKind::PasswordRemoved, "password removed".to_string())
            }
            Action::DeleteAccount => {
                let credentials = match self.store().delete_user(&name) {
                    Ok(ids) => ids.len(),
                    Err(StoreError::NotFound) => 0,
                    Err(e) => return Err(e.into()),
                };
                // Its lockout entry goes too; every other session of it ends, and this one
                // is destroyed with the answer.
                self.store().unlock(&name)?;
                let sessions = self.store().end_sessions_of(&name, s.sid.as_deref())?;
                self.destroy_session(s)?;
                let detail = format!(
                    "account deleted by its user with {credentials} credential(s); this \
                     session and {sessions} other session(s) ended"
                );
                (AuditKind::UserDeleted, detail)
            }
            other => {
                return Err(EngineError::Internal(format!(
                    "`{}` is not an account action",
                    other.as_str()
                )))
            }
        };
        self.audit(AuditDraft {
            kind,
            actor,
            username: Some(&name),
            credential_id: None,
            outcome: Outcome::Success,
            detail,
            cx,
        })?;
        if matches!(action, Action::SetPassword | Action::RemovePassword) {
            // Whoever knew the old password is signed out everywhere else; this session's key
            // is renewed.
            self.end_other_sessions(&name, s.sid.as_deref())?;
            s.renew = true;
        }
        Ok(())
    }
}
