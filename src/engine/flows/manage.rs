//! Credential management flows: select a credential, rename it, approve with a FIDO assertion,
//! and apply the change (rename, delete, disable, enable) under the last-credential rules,
//! checked again while the change is applied.

use serde_json::Value;

use crate::engine::Channel;

use super::fido_steps::flow_error;
use super::{ChallengeIssued, StepDone};
use crate::domain::{CredentialId, DisplayName};
use crate::engine::assertion::{AssertionOptions, Purpose};
use crate::engine::{AuditDraft, Engine, EngineError, EngineResult, RequestCtx, SessionData};
use crate::flow::definitions::{Action, Step};
use crate::flow::machine::{self, Call, Progress, RunningFlow};
use crate::flow::FlowKind;
use crate::store::{AuditKind, CredentialRecord, DisabledBy, Outcome, Refusal, StoreError};

/// Whether `action` may be applied to `target`, given all of the user's credentials.
pub fn change_allowed(
    action: Action,
    target: &CredentialRecord,
    all: &[CredentialRecord],
    user_has_password: bool,
    allow_last_credential: bool,
) -> Result<(), Refusal> {
    match action {
        // Account actions change no credential.
        Action::Rename
        | Action::SetUserDisplayName
        | Action::SetPassword
        | Action::RemovePassword
        | Action::DeleteAccount
        | Action::EndSession
        | Action::EndOtherSessions => Ok(()),
        Action::Enable if target.enabled => Err(Refusal::AlreadyEnabled),
        Action::Enable if target.disabled_by == Some(DisabledBy::Helpdesk) => {
            Err(Refusal::DisabledByHelpdesk)
        }
        Action::Enable => Ok(()),
        Action::Disable if !target.enabled => Err(Refusal::AlreadyDisabled),
        Action::Disable | Action::Delete => {
            let last = target.enabled && !all.iter().any(|c| c.id != target.id && c.enabled);
            if last && !user_has_password {
                Err(Refusal::LastCredentialWithoutPassword)
            } else if last && !allow_last_credential {
                Err(Refusal::LastCredential)
            } else {
                Ok(())
            }
        }
    }
}

/// The code of a refused credential change, as the self-service list names it
/// (`changeRefusals`).
pub fn refusal_code(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::LastCredentialWithoutPassword => "LAST_CREDENTIAL_WITHOUT_PASSWORD",
        Refusal::LastCredential => "LAST_CREDENTIAL",
        Refusal::DisabledByHelpdesk => "DISABLED_BY_HELPDESK",
        Refusal::AlreadyEnabled => "ALREADY_ENABLED",
        Refusal::AlreadyDisabled => "ALREADY_DISABLED",
        _ => "NOT_ALLOWED",
    }
}

impl Engine {
    /// The changes of `target` that every self-service flow applying them would refuse now, by
    /// action (`delete`, `disable`, `enable`), with the refusal's code: what a page should not
    /// offer. The state's own no-ops (enabling an enabled credential) are not listed.
    pub(in crate::engine) fn change_refusals(
        &self,
        target: &CredentialRecord,
        all: &[CredentialRecord],
        user_has_password: bool,
    ) -> Vec<(&'static str, &'static str)> {
        let actions: &[Action] = if target.enabled {
            &[Action::Delete, Action::Disable]
        } else {
            &[Action::Delete, Action::Enable]
        };
        let mut refusals = Vec::new();
        for action in actions {
            let allow_last: Vec<bool> = self
                .inner
                .registry
                .flows()
                .filter(|f| f.kind == FlowKind::SelfService)
                .flat_map(|f| f.steps.iter())
                .filter_map(|s| match s {
                    Step::Apply {
                        action: a,
                        allow_last_credential,
                    } if a == action => Some(*allow_last_credential),
                    _ => None,
                })
                .collect();
            let mut results = allow_last
                .iter()
                .map(|allow| change_allowed(*action, target, all, user_has_password, *allow));
            if let Some(Err(first)) = results.next() {
                if results.all(|r| r.is_err()) {
                    refusals.push((action.as_str(), refusal_code(&first)));
                }
            }
        }
        refusals
    }
}

impl Engine {
    fn apply_step_of(&self, flow: &RunningFlow) -> Option<(Action, bool)> {
        let def = self.inner.registry.flow(flow.id.as_str())?;
        def.steps.iter().find_map(|s| match s {
            Step::Apply {
                action,
                allow_last_credential,
            } => Some((*action, *allow_last_credential)),
            _ => None,
        })
    }

    /// `POST /rest/protected/self-service/fido/credential/select`.
    pub fn credential_select(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential_id: &str,
    ) -> EngineResult<StepDone> {
        let user = self.signed_in(s)?;
        let (mut flow, def, _) =
            self.running_step(s, Call::CredentialSelect, FlowKind::SelfService)?;
        let id =
            CredentialId::parse(credential_id).map_err(|_| EngineError::FidoCredentialNotFound)?;
        let all = self.store().credentials_of(&user.username)?;
        let target = all
            .iter()
            .find(|c| c.id == id)
            .ok_or(EngineError::FidoCredentialNotFound)?;
        if let Some((action, allow_last)) = self.apply_step_of(&flow) {
            change_allowed(
                action,
                target,
                &all,
                user.password_hash.is_some(),
                allow_last,
            )
            .map_err(EngineError::FidoCredentialChangeNotAllowed)?;
        }
        flow.selected = Some(id);
        self.advance_flow(s, cx, def, flow)
    }

    /// `POST /rest/protected/self-service/fido/display-name/change`.
    pub fn display_name_change(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        display_name: &str,
    ) -> EngineResult<StepDone> {
        self.new_display_name(s, cx, Call::DisplayNameChange, display_name)
    }

    /// The display-name step of a self-service flow (`call`: a credential's or the user's):
    /// the name checked and kept for the flow's `apply` step.
    pub(in crate::engine) fn new_display_name(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        call: Call,
        display_name: &str,
    ) -> EngineResult<StepDone> {
        self.signed_in(s)?;
        let (mut flow, def, _) = self.running_step(s, call, FlowKind::SelfService)?;
        let name =
            DisplayName::parse(display_name).map_err(|e| EngineError::InvalidDisplayName(e.0))?;
        flow.new_display_name = Some(name);
        self.advance_flow(s, cx, def, flow)
    }

    /// `POST /rest/protected/self-service/fido/approval/challenge/retrieve`.
    pub fn approval_challenge(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
    ) -> EngineResult<ChallengeIssued> {
        let user = self.signed_in(s)?;
        let (mut flow, _, step) =
            self.running_step(s, Call::ApprovalChallenge, FlowKind::SelfService)?;
        let (Step::FidoApproval {
            user_verification,
            timeout,
        }
        | Step::CurrentPassword {
            user_verification,
            timeout,
            ..
        }) = step
        else {
            return Err(EngineError::Internal("not an approval step".into()));
        };
        self.inner.limits.check(
            crate::engine::Limited::Challenge,
            cx.remote_address.as_deref(),
            Some(user.username.as_str()),
            self.now(),
        )?;
        self.spend_ceremony_of(&flow)?;
        let lifetime = self.ceremony_timeout(timeout);
        let tenant = self.default_tenant();
        let issued = self.begin_assertion(
            Channel::Flow,
            &tenant,
            Some(&user.username),
            &AssertionOptions {
                user_verification,
                timeout: lifetime,
                purpose: Purpose::Approval,
                signed: None,
            },
            None,
        );
        let (options, ceremony) = match issued {
            Ok(c) => (c.options, c.ceremony_id),
            Err(e) => {
                s.self_service = None;
                return Err(e);
            }
        };
        flow.progress = Progress::ResponseRequired { ceremony };
        let id = flow.instance.clone();
        s.self_service = Some(flow);
        Ok(ChallengeIssued {
            instance: id,
            options,
        })
    }

    /// `POST /rest/protected/self-service/fido/approval/assertion-response/check`.
    pub fn approval_response(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        credential: &Value,
    ) -> EngineResult<StepDone> {
        self.signed_in(s)?;
        let (flow, def, _) = self.running_step(s, Call::ApprovalResponse, FlowKind::SelfService)?;
        let Progress::ResponseRequired { ceremony } = &flow.progress else {
            return Err(EngineError::Internal("no ceremony".into()));
        };
        let ceremony = self.store().take_ceremony(ceremony)?;
        let flow = machine::back_to_challenge(flow);
        s.self_service = Some(flow.clone());
        let tenant = self.default_tenant();
        let verified = self.finish_assertion(
            Channel::Flow,
            &tenant,
            cx,
            ceremony,
            credential,
            Purpose::Approval,
        );
        match verified.map_err(|e| flow_error(Purpose::Approval, e)) {
            Ok(_) => {}
            Err(e @ EngineError::UserLocked { .. }) => {
                s.self_service = None;
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        self.advance_flow(s, cx, def, flow)
    }

    /// Runs an `apply` step: changes the selected credential, checking the rules again while
    /// no other credential change runs.
    pub(in crate::engine) fn apply_change(
        &self,
        s: &mut SessionData,
        cx: &RequestCtx,
        flow: &RunningFlow,
        action: Action,
        allow_last: bool,
    ) -> EngineResult<()> {
        let user = self.signed_in(s)?;
        let id = flow
            .selected
            .clone()
            .ok_or_else(|| EngineError::Internal("no credential selected".into()))?;
        let new_name = flow.new_display_name.clone();
        let store = self.store();
        let result = store.modify_user_credentials(&user.username, &mut |creds| {
            // Read again while no other credential change (a password removal included)
            // runs.
            let has_password = store
                .user(&user.username)?
                .is_some_and(|u| u.password_hash.is_some());
            let pos = creds
                .iter()
                .position(|c| c.id == id)
                .ok_or(StoreError::NotFound)?;
            change_allowed(action, &creds[pos], creds, has_password, allow_last)
                .map_err(StoreError::Refused)?;
            match action {
                Action::Rename => {
                    if let Some(name) = &new_name {
                        creds[pos].display_name = name.clone();
                    }
                }
                Action::Delete => {
                    creds.remove(pos);
                }
                Action::Disable => {
                    creds[pos].enabled = false;
                    creds[pos].disabled_by = Some(DisabledBy::User);
                }
                Action::Enable => {
                    creds[pos].enabled = true;
                    creds[pos].disabled_by = None;
                }
                Action::SetUserDisplayName
                | Action::SetPassword
                | Action::RemovePassword
                | Action::DeleteAccount
                | Action::EndSession
                | Action::EndOtherSessions => {}
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(EngineError::FidoCredentialNotFound),
            Err(StoreError::Refused(why)) => {
                return Err(EngineError::FidoCredentialChangeNotAllowed(why))
            }
            Err(e) => return Err(e.into()),
        }
        let (kind, detail) = match action {
            Action::Rename => (
                AuditKind::CredentialRenamed,
                format!(
                    "renamed to \"{}\"",
                    new_name.as_ref().map_or("", |n| n.as_str())
                ),
            ),
            Action::Delete => (
                AuditKind::CredentialDeleted,
                "deleted by the user".to_string(),
            ),
            Action::Disable => (
                AuditKind::CredentialDisabled,
                "disabled by the user".to_string(),
            ),
            Action::Enable => (
                AuditKind::CredentialEnabled,
                "enabled by the user".to_string(),
            ),
            other => {
                return Err(EngineError::Internal(format!(
                    "`{}` is not a credential action",
                    other.as_str()
                )))
            }
        };
        self.audit(AuditDraft {
            kind,
            actor: s.actor(),
            username: Some(&user.username),
            credential_id: Some(&id),
            outcome: Outcome::Success,
            detail,
            cx,
        })?;
        if matches!(action, Action::Delete | Action::Disable) {
            self.end_other_sessions(&user.username, s.sid.as_deref())?;
        }
        Ok(())
    }

    /// Ends every session of `username` but the one with session id `keep`.
    pub(in crate::engine) fn end_other_sessions(
        &self,
        username: &crate::domain::Username,
        keep: Option<&str>,
    ) -> EngineResult<()> {
        self.store().end_sessions_of(username, keep)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{UserHandle, Username};
    use chrono::Utc;

    fn cred(id: &[u8], enabled: bool, by: Option<DisabledBy>) -> CredentialRecord {
        CredentialRecord {
            id: CredentialId::from_bytes(id.to_vec()).unwrap(),
            username: Username::parse("alice").unwrap(),
            user_handle: UserHandle::random(),
            public_key: vec![],
            algorithm: -7,
            sign_count: 0,
            aaguid: String::new(),
            authenticator_name: None,
            attestation_format: "none".into(),
            attestation_trusted: false,
            attestation_object: vec![],
            client_data_json: vec![],
            transports: vec![],
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            discoverable: None,
            display_name: DisplayName::parse("k").unwrap(),
            created_at: Utc::now(),
            last_used_at: None,
            enabled,
            disabled_by: by,
            payment: false,
            uaf: None,
        }
    }

    #[test]
    fn the_last_enabled_credential_of_a_passwordless_user_can_never_go() {
        let only = cred(b"a", true, None);
        let all = [only.clone(), cred(b"b", false, Some(DisabledBy::User))];
        for action in [Action::Delete, Action::Disable] {
            assert!(change_allowed(action, &only, &all, false, true).is_err());
            assert!(change_allowed(action, &only, &all, true, false).is_err());
            assert!(change_allowed(action, &only, &all, true, true).is_ok());
        }
    }

    #[test]
    fn a_credential_with_an_enabled_sibling_may_go() {
        let a = cred(b"a", true, None);
        let all = [a.clone(), cred(b"b", true, None)];
        assert!(change_allowed(Action::Delete, &a, &all, false, false).is_ok());
        assert!(change_allowed(Action::Disable, &a, &all, false, false).is_ok());
    }

    #[test]
    fn a_helpdesk_disabled_credential_cannot_be_enabled_by_its_user() {
        let a = cred(b"a", false, Some(DisabledBy::Helpdesk));
        assert!(change_allowed(Action::Enable, &a, std::slice::from_ref(&a), true, false).is_err());
        let b = cred(b"b", false, Some(DisabledBy::User));
        assert!(change_allowed(Action::Enable, &b, std::slice::from_ref(&b), true, false).is_ok());
    }

    #[test]
    fn enabling_an_enabled_or_disabling_a_disabled_credential_is_refused_by_name() {
        let on = cred(b"a", true, None);
        let off = cred(b"b", false, Some(DisabledBy::User));
        let all = [on.clone(), off.clone()];
        for allow_last in [false, true] {
            assert!(matches!(
                change_allowed(Action::Enable, &on, &all, true, allow_last),
                Err(Refusal::AlreadyEnabled)
            ));
            assert!(matches!(
                change_allowed(Action::Disable, &off, &all, true, allow_last),
                Err(Refusal::AlreadyDisabled)
            ));
        }
        // A disabled credential may still be deleted, and renaming is always allowed.
        assert!(change_allowed(Action::Delete, &off, &all, false, false).is_ok());
        assert!(change_allowed(Action::Rename, &off, &all, false, false).is_ok());
    }
}
