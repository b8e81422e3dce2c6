//! Use cases, organised by what they do rather than by who calls them: the ceremony core
//! (`registration.rs`, `assertion.rs`, with `ceremony.rs` for typed refusals and
//! `challenges.rs` for where challenges come from), the Loginapp flows (`flows/`), the
//! relying-party backend APIs (`backend.rs`), tenants (`tenant.rs`), administration (`admin.rs`),
//! FIDO metadata (`metadata.rs`), FIDO UAF (`uaf.rs`), readiness (`health.rs`) and the metrics (`metrics.rs`: every
//! metric's name, counted through the `metrics` facade into the one recorder of the process). Every function is
//! synchronous and is called off the async threads (sled and argon2 block), and answers typed
//! outcomes; the api layer renders them.
//! Imports `flow`, `fido`, `uaf`, `store`, `config`, `clock` and `domain`; never `api`.

mod admin;
mod assertion;
mod backend;
mod ceremony;
mod challenges;
mod cluster;
mod error;
mod flows;
mod health;
mod limits;
mod metadata;
pub mod metrics;
mod models;
mod passwords;
mod registration;
mod session;
mod tenant;
#[cfg(test)]
mod testing;
mod uaf;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};

pub use crate::domain::{Conveyance, ResidentKey, UserVerification};
/// What a transaction-signing request may hold, checked before it is begun.
pub use crate::fido::payment::check_details as check_payment_details;
pub use crate::fido::transaction::{
    check_message, check_transaction, refuse_duplicate_members, ContentError, SignedContent,
};
/// One wait for the disk per answer: engine calls run inside `deferred` and their answer waits
/// for the `Pending` they leave (see `store::durability`).
pub use crate::store::{deferred, Pending};
pub use crate::uaf::{Op as UafOp, StatusCode as UafStatus, UafRefusal};
pub use admin::{
    Actor, AdminUser, AuditEntry, AuditQuery, CredentialChange, ImportRefusal, ImportReport,
    Listed, MetadataInUse, MetadataStatus, NewUser, Page, TenantView, TransactionEntry,
};
pub use backend::{
    BackendAssertion, BackendRegistration, BackendVerified, KeyView, LoggedIn, RequestKind,
    Requested, RequestedAuthentication, RequestedRegistration, UserPage, UserView, Validated, Who,
};
pub use ceremony::{CeremonyError, Channel, Refusal, RefusalKind};
pub use challenges::Challenges;
pub use cluster::FOLLOW_INTERVAL;
pub use error::{EngineError, NextStep};
pub use flows::{
    AccountSession, AccountView, ChallengeIssued, CredentialView, FlowOffer, SecurityEvent,
    SessionView, StepDone,
};
pub use health::{HealthCheck, Readiness};
pub use limits::Limited;
pub use metadata::{metadata_record, trust_anchors, verify_for_import, LoadedMetadata};
pub use models::{aaguid_string, model_name};
pub use registration::Attachment;
pub use session::{Login, SessionData};
pub use tenant::{Tenant, TenantSource, DEFAULT_TENANT};
pub use uaf::{
    Expected as UafExpected, UafDone, UafRequest, UafResult, UafTransaction, SERVER_DATA_KEY_FILE,
};

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::{CredentialId, Username};
pub use crate::fido::evidence::EvidenceKey;
use crate::fido::TrustAnchors;
use crate::flow::Registry;
use crate::store::{AuditEvent, AuditKind, AuditRetention, Outcome, Storage};
use limits::RateLimiter;
use passwords::Passwords;

/// Who sent the request, for rate limits and the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestCtx {
    /// The client's address; for a relying party's backend call, the end user's address the
    /// relying party passed (`X-End-User-IP`), when it did.
    pub remote_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    /// The tenant of a backend API call (`None`: the portal and Loginapp API, tenant `default`).
    pub tenant: Option<String>,
    /// The name of the API key a backend call was made with.
    pub api_key: Option<String>,
}

impl RequestCtx {
    /// The audit actor of a backend call: `key:NAME`, else `anonymous`.
    pub fn actor(&self) -> String {
        match &self.api_key {
            Some(name) => format!("key:{name}"),
            None => "anonymous".into(),
        }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;

/// Everything a use case needs; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    registry: Registry,
    store: Arc<dyn Storage>,
    clock: Clock,
    /// The built-in tenant: the portal and the Loginapp API.
    default_tenant: Arc<Tenant>,
    /// Every other tenant, by id (from the configuration and the admin API).
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// Held while the admin API makes, changes or deletes a tenant: one change at a time.
    tenant_changes: Mutex<()>,
    /// Where challenges come from: random, or scripted in tests that replay recorded responses.
    challenges: Challenges,
    /// The imported FIDO metadata BLOB: read at start, replaced by `PUT /rest/admin/mds`.
    metadata: RwLock<Option<Arc<LoadedMetadata>>>,
    /// The stored tenants as this server last took them up (see `cluster.rs`).
    seen_tenants: Mutex<cluster::SeenTenants>,
    passwords: Passwords,
    limits: RateLimiter,
    in_progress: Mutex<HashSet<String>>,
    /// The process's metrics recorder (shared by every engine of the process).
    metrics: metrics::Metrics,
    /// The key that signs transaction evidence, set once at start (`set_evidence_key`).
    evidence_key: std::sync::OnceLock<Arc<EvidenceKey>>,
    /// The key that MACs UAF `serverData`, set once at start (`set_uaf_server_data_key`).
    uaf_key: std::sync::OnceLock<ring::hmac::Key>,
    /// What the last readiness check found, so only a change is logged (see `health.rs`).
    ready: std::sync::atomic::AtomicBool,
}

/// Held while a request of a session runs, from before its state is loaded until after it is
/// saved; a second request of the same session meanwhile is refused.
pub struct SessionGuard {
    engine: Engine,
    key: String,
    /// The token of the claim in a store several servers share (see [`SessionGuard::claim`]).
    claim: Option<String>,
}

/// How long a claim of a session in a shared store holds at most, should its server die
/// before it ends the request.
const SESSION_CLAIM: chrono::Duration = chrono::Duration::minutes(2);

impl SessionGuard {
    /// Whether the claim must also be taken in the store (several servers share it); then
    /// [`claim`](Self::claim) must run, off the async threads (it waits for the database).
    pub fn needs_claim(&self) -> bool {
        self.engine.store().shared_state().is_some()
    }

    /// Claims the session in the store several servers share: `CONCURRENT_ACCESS` while a
    /// request of it runs on another server.
    pub fn claim(mut self) -> EngineResult<SessionGuard> {
        let Some(shared) = self.engine.store().shared_state() else {
            return Ok(self);
        };
        let now = self.engine.now();
        match shared.claim_session(&self.key, now, now + SESSION_CLAIM)? {
            Some(token) => {
                self.claim = Some(token);
                Ok(self)
            }
            None => Err(EngineError::ConcurrentAccess),
        }
    }

    /// Ends the claim in the shared store and waits for it (the request is done); the local
    /// mark goes with the guard.
    pub fn end(mut self) -> EngineResult<()> {
        if let (Some(token), Some(shared)) = (self.claim.take(), self.engine.store().shared_state())
        {
            shared.end_claim(&self.key, &token)?;
        }
        Ok(())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let (Some(token), Some(shared)) = (&self.claim, self.engine.store().shared_state()) {
            shared.release_session(&self.key, token);
        }
        self.engine
            .inner
            .in_progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

impl Engine {
    pub fn new(
        settings: Settings,
        registry: Registry,
        store: Arc<dyn Storage>,
        clock: Clock,
        trust: TrustAnchors,
        challenges: Challenges,
    ) -> EngineResult<Self> {
        let passwords = Passwords::new(
            settings.rate_limits.password_hash_concurrency,
            settings.passwords,
        )?;
        let limits = RateLimiter::new(&settings.rate_limits, Some(store.clone()));
        let metadata = metadata::load(store.as_ref(), clock.now())?;
        let default_tenant = Arc::new(Tenant::builtin(&settings, trust, store.clone()));
        let engine = Self {
            inner: Arc::new(Inner {
                settings,
                registry,
                store,
                clock,
                default_tenant,
                tenants: RwLock::new(HashMap::new()),
                tenant_changes: Mutex::new(()),
                challenges,
                metadata: RwLock::new(metadata.map(Arc::new)),
                seen_tenants: Mutex::new(Default::default()),
                passwords,
                limits,
                in_progress: Mutex::new(HashSet::new()),
                metrics: metrics::Metrics::global(),
                evidence_key: std::sync::OnceLock::new(),
                uaf_key: std::sync::OnceLock::new(),
                ready: std::sync::atomic::AtomicBool::new(true),
            }),
        };
        engine.load_tenants()?;
        Ok(engine)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// A step's ceremony timeout, or the configured default.
    fn ceremony_timeout(&self, step: Option<crate::flow::Age>) -> chrono::Duration {
        let std = step.map_or(self.inner.settings.ceremony.timeout, |a| a.0);
        chrono::Duration::from_std(std).unwrap_or(chrono::Duration::minutes(5))
    }

    fn store(&self) -> &dyn Storage {
        self.inner.store.as_ref()
    }

    /// The built-in tenant (`default`): the portal and the Loginapp API.
    fn default_tenant(&self) -> Arc<Tenant> {
        self.inner.default_tenant.clone()
    }

    /// Marks a request of the session with session key `key` (what its cookie decrypts to, not
    /// the cookie's text, which differs with every encryption) as running; `CONCURRENT_ACCESS`
    /// while another request of that session runs.
    pub fn guard_session(&self, key: &str) -> EngineResult<SessionGuard> {
        let mut busy = self
            .inner
            .in_progress
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !busy.insert(key.to_string()) {
            return Err(EngineError::ConcurrentAccess);
        }
        Ok(SessionGuard {
            engine: self.clone(),
            key: key.to_string(),
            claim: None,
        })
    }

    /// Starts a request of a session: gives a new session its id and creation time, and ends
    /// one past its absolute lifetime. (A new session is stored only if the request leaves
    /// something in it; see [`SessionData::holds_state`].)
    pub fn begin(&self, session: &mut SessionData) {
        let now = self.now();
        let max = chrono::Duration::from_std(self.inner.settings.session.max_lifetime)
            .unwrap_or(chrono::Duration::MAX);
        if session.created_at.is_some_and(|c| now - c >= max) {
            *session = SessionData {
                purge: true,
                ..SessionData::default()
            };
        }
        if session.sid.is_none() {
            session.sid = Some(random_id());
            session.created_at = Some(now);
        }
    }

    /// Removes expired ceremonies and sessions and the audit records past retention
    /// (`[audit]`), and does the metrics recorder's housekeeping; run periodically. Returns how
    /// many records of all these went. Expired state goes first, so a retention that refuses to
    /// run (a broken chain stops it, and must be looked at) does not keep it.
    pub fn purge_expired(&self) -> EngineResult<usize> {
        self.inner.metrics.upkeep();
        let now = self.now();
        let purged = self.store().purge_expired(now)?;
        let audit = &self.inner.settings.audit;
        let retention = AuditRetention {
            max_age: audit
                .retain
                .and_then(|retain| chrono::Duration::from_std(retain).ok()),
            max_bytes: audit.max_size,
        };
        let trimmed = self.store().trim(now, &retention)?;
        if trimmed.removed() > 0 {
            tracing::info!(
                by_age = trimmed.by_age,
                by_size = trimmed.by_size,
                up_to = trimmed.up_to,
                "audit records past retention removed"
            );
        }
        Ok(purged + trimmed.removed() as usize)
    }

    /// `GET /metrics`: every metric of the process in the Prometheus text format
    /// ([`metrics::CONTENT_TYPE`]). Who may read it is the api layer's listener and token check.
    pub fn render_metrics(&self) -> String {
        let imported = self.metadata().map(|m| m.imported_at);
        self.inner.metrics.render(
            self.now(),
            imported,
            self.store().flush_stats(),
            self.store().session_count(),
        )
    }

    /// A new WebAuthn challenge.
    /// Sets the key that signs transaction evidence (once, at start).
    pub fn set_evidence_key(&self, key: EvidenceKey) {
        let _ = self.inner.evidence_key.set(Arc::new(key));
    }

    /// The evidence signing key; its public half as PEM is served to auditors.
    pub fn evidence_key(&self) -> EngineResult<Arc<EvidenceKey>> {
        self.inner
            .evidence_key
            .get()
            .cloned()
            .ok_or_else(|| EngineError::Internal("no evidence signing key was set at start".into()))
    }

    fn new_challenge(&self) -> Vec<u8> {
        self.inner.challenges.next()
    }

    /// Appends to the audit log, in the per-user index of the request's tenant.
    fn audit(&self, event: AuditDraft<'_>) -> EngineResult<()> {
        self.audit_sealed(event).map(drop)
    }

    /// `audit`, returning the SHA-256 (hex) of the record as sealed into the hash chain.
    fn audit_sealed(&self, event: AuditDraft<'_>) -> EngineResult<String> {
        let tenant = match event.cx.tenant.as_deref() {
            Some(id) if id != DEFAULT_TENANT => self.tenant(id),
            _ => None,
        };
        let store = tenant.as_ref().map_or(self.store(), |t| t.store());
        let (_, hash) = store.append_sealed(AuditEvent {
            username: event.username.cloned(),
            credential_id: event.credential_id.cloned(),
            remote_address: event.cx.remote_address.clone(),
            user_agent: event.cx.user_agent.clone(),
            request_id: Some(event.cx.request_id.clone()),
            tenant: event.cx.tenant.clone(),
            api_key: event.cx.api_key.clone(),
            ..AuditEvent::new(
                self.now(),
                event.kind,
                event.actor,
                event.outcome,
                event.detail,
            )
        })?;
        Ok(hash)
    }
}

/// An audit event before the log stamps it.
struct AuditDraft<'a> {
    kind: AuditKind,
    actor: String,
    username: Option<&'a Username>,
    credential_id: Option<&'a CredentialId>,
    outcome: Outcome,
    detail: String,
    cx: &'a RequestCtx,
}

/// 16 random bytes as 32 hex characters: flow instance ids and session ids.
pub fn random_id() -> String {
    let mut raw = [0u8; 16];
    crate::domain::random_bytes(&mut raw);
    crate::domain::hex(&raw)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}
