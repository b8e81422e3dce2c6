//! The signed-in user's own recent security events, read from the audit log by the user's
//! index: sign-ins, passkeys added, renamed, disabled, enabled or removed, password and account
//! changes, locks. Newest first, a bounded page at a time.

use super::SecurityEvent;
use crate::engine::{Engine, EngineError, EngineResult, SessionData};
use crate::store::{AuditEvent, AuditKind, Outcome};

/// The page size when none is asked for, and the largest one.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 50;
/// Records read in one go, and at most per call, while looking for security events.
const CHUNK: usize = 100;
const SCAN_LIMIT: usize = 2_000;

/// The audit events a user sees as their security events.
fn is_security_event(kind: AuditKind) -> bool {
    use AuditKind as K;
    matches!(
        kind,
        K::PasswordCheck
            | K::FidoAuthentication
            | K::FidoRegistration
            | K::SignUp
            | K::UserLocked
            | K::UserUnlocked
            | K::CredentialRenamed
            | K::CredentialDisabled
            | K::CredentialEnabled
            | K::CredentialDeleted
            | K::SignCounterRegression
            | K::UserDisplayNameChanged
            | K::PasswordChanged
            | K::PasswordRemoved
            | K::SessionsEnded
    )
}

impl Engine {
    /// `GET /rest/protected/self-service/security-events?page[size]=…&page[after]=…`.
    pub fn my_security_events(
        &self,
        s: &SessionData,
        size: Option<&str>,
        after: Option<&str>,
    ) -> EngineResult<(Vec<SecurityEvent>, Option<String>)> {
        let user = self.signed_in(s)?;
        let size = match size {
            None => DEFAULT_PAGE,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    EngineError::InvalidRequest(format!(
                        "`page[size]` must be a number from 1 to {MAX_PAGE}"
                    ))
                })?,
        };
        let mut before = after
            .map(|t| {
                t.parse::<u64>().map_err(|_| {
                    EngineError::InvalidRequest(
                        "`page[after]` must be the `meta.page.next` of the previous page".into(),
                    )
                })
            })
            .transpose()?;
        let mut kept: Vec<AuditEvent> = Vec::new();
        let mut read = 0;
        let next = loop {
            let chunk = self.store().events(Some(&user.username), before, CHUNK)?;
            let exhausted = chunk.len() < CHUNK;
            let mut full = None;
            for event in chunk {
                read += 1;
                before = Some(event.seq);
                if is_security_event(event.event) {
                    if kept.len() == size {
                        full = kept.last().map(|e| e.seq);
                        break;
                    }
                    kept.push(event);
                }
            }
            if full.is_some() {
                break full;
            }
            if exhausted {
                break None;
            }
            if read >= SCAN_LIMIT {
                break before;
            }
        };
        let me = format!("user:{}", user.username);
        let events = kept
            .iter()
            .map(|e| SecurityEvent {
                seq: e.seq,
                time: e.time,
                event: serde_json::to_value(e.event)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                success: e.outcome == Outcome::Success,
                by: if e.actor == me {
                    "you"
                } else if e.actor.starts_with("token:") {
                    "helpdesk"
                } else if e.actor == "anonymous" {
                    "someone"
                } else {
                    "system"
                },
                credential_id: e.credential_id.as_ref().map(|id| id.to_b64url()),
                detail: e.detail.clone(),
                remote_address: e.remote_address.clone(),
                user_agent: e.user_agent.clone(),
            })
            .collect();
        Ok((events, next.map(|seq| seq.to_string())))
    }
}
