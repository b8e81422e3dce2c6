//! Relying parties (tenants): what a ceremony of one of them needs — RP ID, name and origins,
//! ceremony defaults, the attestation policy and anchors, the per-user credential limit — its API
//! keys, and the store its users and credentials live in. The built-in tenant `default` is
//! today's `[relying_party]` / `[ceremony]` / `[attestation]` settings and serves the portal and
//! the Loginapp API; the others come from `[[tenants]]` in the configuration (read-only) and from
//! the admin API (kept in the store).

use std::sync::Arc;

use crate::config::{
    AttestationSettings, RelyingPartySettings, Settings, TenantCeremonyDefaults, TenantSettings,
};
use crate::fido::{FormatPolicy, TrustAnchors};
use crate::store::Storage;

use super::{Engine, EngineError, EngineResult};

pub use crate::domain::DEFAULT_TENANT;

static DEFAULT_DOMAINS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::config::DEFAULT_DOMAIN.to_string());

/// Where a tenant's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSource {
    /// The built-in `default` tenant.
    Builtin,
    /// `[[tenants]]` in the configuration file: read-only in the admin API.
    Config,
    /// Made through the admin API, kept in the store.
    Store,
}

/// One relying party as the engine sees it.
pub struct Tenant {
    pub id: String,
    /// The first path segment of its backend APIs (`None` for `default`).
    pub access_path: Option<String>,
    pub relying_party: RelyingPartySettings,
    pub defaults: TenantCeremonyDefaults,
    pub attestation: AttestationSettings,
    /// The configured attestation anchors (the FIDO metadata roots are added per authenticator).
    pub trust: TrustAnchors,
    /// At most this many credentials per user (`None`: no limit): `max_keys_per_user` of a
    /// tenant, `ceremony.max_credentials_per_user` of `default`.
    pub max_keys_per_user: Option<u32>,
    /// Serves the FIDO conformance-tool API (no key) instead of the AuthFi shape.
    pub conformance: bool,
    pub source: TenantSource,
    /// The settings it was made from (`None` for `default`).
    pub settings: Option<TenantSettings>,
    pub(super) store: Arc<dyn Storage>,
}

impl TenantSource {
    /// `builtin`, `config` or `store`, as the admin API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Config => "config",
            Self::Store => "store",
        }
    }
}

impl Tenant {
    /// The built-in tenant from the global settings.
    pub(super) fn builtin(
        settings: &Settings,
        trust: TrustAnchors,
        store: Arc<dyn Storage>,
    ) -> Self {
        Self {
            id: DEFAULT_TENANT.into(),
            access_path: None,
            relying_party: settings.relying_party.clone(),
            defaults: TenantCeremonyDefaults::default(),
            attestation: settings.attestation.clone(),
            trust,
            max_keys_per_user: Some(settings.ceremony.max_credentials_per_user),
            conformance: false,
            source: TenantSource::Builtin,
            settings: None,
            store,
        }
    }

    /// A configured or stored tenant; its attestation anchors are read now.
    fn from_settings(
        global: &Settings,
        t: &TenantSettings,
        source: TenantSource,
        global_trust: &TrustAnchors,
        store: Arc<dyn Storage>,
    ) -> EngineResult<Self> {
        let attestation = t
            .attestation
            .clone()
            .unwrap_or_else(|| global.attestation.clone());
        let trust = match (&t.attestation, &attestation.trust_anchors_dir) {
            (Some(_), Some(dir)) => TrustAnchors::from_dir(dir).map_err(|e| {
                EngineError::InvalidRequest(format!(
                    "tenants `{}`: attestation.trust_anchors_dir {}: {e}",
                    t.id,
                    dir.display()
                ))
            })?,
            (Some(_), None) => TrustAnchors::empty(),
            (None, _) => global_trust.clone(),
        };
        Ok(Self {
            id: t.id.clone(),
            access_path: Some(t.access_path.clone()),
            relying_party: t.relying_party.clone(),
            defaults: t.defaults.clone(),
            attestation,
            trust,
            max_keys_per_user: Some(t.max_keys_per_user),
            conformance: t.conformance,
            source,
            settings: Some(t.clone()),
            store,
        })
    }

    /// The attestation format choices of the tenant's attestation settings (the SafetyNet
    /// policies), as registration verifies with them.
    pub(super) fn format_policy(&self) -> FormatPolicy {
        format_policy(&self.attestation)
    }

    pub fn is_default(&self) -> bool {
        self.id == DEFAULT_TENANT
    }

    /// The user domains of the OneSpan-shaped API: the tenant's `domains`, `["master"]` for
    /// `default`.
    pub fn domains(&self) -> &[String] {
        match &self.settings {
            Some(s) => &s.domains,
            None => std::slice::from_ref(&*DEFAULT_DOMAINS),
        }
    }

    pub(super) fn store(&self) -> &dyn Storage {
        self.store.as_ref()
    }

    /// The name of the API key `presented` is, compared in constant time with every key.
    pub fn key_named(&self, presented: &str) -> Option<String> {
        self.settings
            .as_ref()?
            .key_matching(presented)
            .map(|k| k.name.clone())
    }

    /// The name of the tenant's client certificate entry for this certificate (DER), if any.
    pub fn client_certificate_named(&self, der: &[u8]) -> Option<String> {
        self.settings
            .as_ref()?
            .client_certificate_matching(der)
            .map(|k| k.name.clone())
    }
}

/// The android-key and android-safetynet choices of attestation settings, as `fido` takes them.
fn format_policy(a: &AttestationSettings) -> FormatPolicy {
    FormatPolicy {
        safetynet_check_timestamp: a.safetynet_timestamp,
        safetynet_max_age: a.safetynet_max_age,
        safetynet_require_cts_profile_match: a.safetynet_cts_profile_match,
        ..FormatPolicy::default()
    }
}

impl Engine {
    /// Builds the configured tenants and those made through the admin API.
    pub(super) fn load_tenants(&self) -> EngineResult<()> {
        let settings = &self.inner.settings;
        for t in &settings.tenants {
            let tenant = self.build_tenant(t, TenantSource::Config)?;
            if tenant.conformance {
                tracing::warn!(
                    tenant = %t.id,
                    access_path = %t.access_path,
                    "tenant `{}` serves the FIDO conformance-tool API without a key: for testing only",
                    t.id
                );
            }
            self.use_tenant(Arc::new(tenant));
        }
        let records = self.store().tenants()?;
        self.note_stored_tenants(&records);
        for record in records {
            if self.tenant(&record.id).is_some() {
                tracing::warn!(tenant = %record.id, "a stored tenant has the id of a configured one; the configured one is used");
                continue;
            }
            self.use_tenant(self.tenant_of_record(&record)?);
        }
        Ok(())
    }

    /// A tenant of the store (made through the admin API), from its record.
    pub(super) fn tenant_of_record(
        &self,
        record: &crate::store::TenantRecord,
    ) -> EngineResult<Arc<Tenant>> {
        let t = crate::config::tenant_from_json(&record.settings, &self.tenant_settings(None))
            .map_err(|e| {
                EngineError::Internal(format!(
                    "the stored tenant `{}` cannot be used: {e}",
                    record.id
                ))
            })?;
        Ok(Arc::new(self.build_tenant(&t, TenantSource::Store)?))
    }

    /// A tenant of the configuration or the store, with its own view of the store; its
    /// attestation anchors are read now.
    pub(super) fn build_tenant(
        &self,
        t: &TenantSettings,
        source: TenantSource,
    ) -> EngineResult<Tenant> {
        let store = self.inner.store.for_tenant(&t.id)?;
        Tenant::from_settings(
            &self.inner.settings,
            t,
            source,
            &self.inner.default_tenant.trust,
            store,
        )
    }

    /// Serves `tenant` from now on (in place of one with its id).
    pub(super) fn use_tenant(&self, tenant: Arc<Tenant>) {
        self.inner
            .tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.id.clone(), tenant);
    }

    /// Stops serving tenant `id`; calls already running finish with it.
    pub(super) fn forget_tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        self.inner
            .tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    /// The settings of every tenant but `default` and `except`: what a new or changed tenant is
    /// checked against.
    pub(super) fn tenant_settings(&self, except: Option<&str>) -> Vec<TenantSettings> {
        self.inner
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|t| Some(t.id.as_str()) != except)
            .filter_map(|t| t.settings.clone())
            .collect()
    }

    /// The tenant `id` (`default` included).
    pub fn tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        if id == DEFAULT_TENANT {
            return Some(self.default_tenant());
        }
        self.inner
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The tenant whose backend APIs live under `/{access_path}/` (compared exactly).
    pub fn tenant_by_access_path(&self, access_path: &str) -> Option<Arc<Tenant>> {
        self.inner
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|t| t.access_path.as_deref() == Some(access_path))
            .cloned()
    }

    /// Every tenant, `default` first, then by id.
    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        let mut others: Vec<Arc<Tenant>> = self
            .inner
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        others.sort_by(|a, b| a.id.cmp(&b.id));
        let mut all = vec![self.default_tenant()];
        all.extend(others);
        all
    }

    /// Counts one call with API key `key` of `tenant` against `rate_limits.per_api_key`.
    pub fn count_api_call(&self, tenant: &Tenant, key: &str) -> EngineResult<()> {
        self.inner.limits.check_api_key(
            &tenant.id,
            key,
            self.inner.settings.rate_limits.per_api_key,
            self.now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_safetynet_policies_of_the_settings_are_the_ones_fido_verifies_with() {
        let settings = Settings::from_toml_str(
            "[attestation]\nsafetynet_timestamp = false\nsafetynet_max_age = \"2h\"\n\
             safetynet_cts_profile_match = false\n",
            &HashMap::new(),
        )
        .unwrap();
        let policy = format_policy(&settings.attestation);
        assert!(!policy.safetynet_check_timestamp && !policy.safetynet_require_cts_profile_match);
        assert_eq!(policy.safetynet_max_age, Duration::from_secs(7200));
        assert!(policy.android_key_allow_software_enforced);
        let defaults = Settings::from_toml_str("", &HashMap::new()).unwrap();
        assert_eq!(
            format_policy(&defaults.attestation),
            FormatPolicy::default()
        );
    }
}
