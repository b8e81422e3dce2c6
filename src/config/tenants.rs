//! `[[tenants]]`: relying parties that call fidoflow's REST APIs from their backend, each under
//! its own first path segment (`access_path`), with its own RP ID and origins, ceremony defaults,
//! optionally its own attestation policy, and the API keys it calls with (`api_keys`). The
//! built-in tenant `default` is `[relying_party]` and is not listed here.

use std::time::Duration;

use super::api_keys::{api_keys, client_certificates, ApiKey};
use super::attestation::{attestation, AttestationSettings};
use super::client_data_types::{WEBAUTHN_CREATE, WEBAUTHN_GET};
use super::raw::{RawAttestation, RawRelyingParty, RawTenant};
use super::relying_party::{relying_party, RelyingPartySettings, RpKeys};
use super::secret::find_by_sha256;
use super::uaf::UafSettings;
use super::{duration, invalid, positive, required, ConfigError, MAX_CEREMONY_TIMEOUT};
use crate::domain::{Conveyance, ResidentKey, UserVerification, VERIFIABLE_ALGORITHMS};

/// The id of the built-in tenant, whose relying party is `[relying_party]`.
pub use crate::domain::DEFAULT_TENANT;

/// First path segments the server already serves; no `access_path` may be one of them (compared
/// ignoring case).
const RESERVED_PATH_SEGMENTS: [&str; 15] = [
    "rest",
    "helpdesk",
    "css",
    "js",
    "img",
    "favicon.svg",
    "openapi.json",
    "health",
    "metrics",
    ".well-known",
    "index.html",
    "helpdesk.html",
    "static",
    "api",
    "uaf",
];

const DEFAULT_MAX_KEYS_PER_USER: u32 = 10;
/// The user domain of a tenant that lists none (OneSpan's default domain).
pub const DEFAULT_DOMAIN: &str = "master";

/// One configured tenant, validated.
#[derive(Clone, Debug)]
pub struct TenantSettings {
    /// 1–32 characters of `a-z 0-9 - _`; never `default`.
    pub id: String,
    /// 1–128 characters of `A-Z a-z 0-9 - _`: the first path segment of the tenant's API. Never
    /// a segment the server uses itself.
    pub access_path: String,
    /// Checked exactly like `[relying_party]`.
    pub relying_party: RelyingPartySettings,
    pub defaults: TenantCeremonyDefaults,
    /// The tenant's `[tenants.attestation]`, over `[attestation]` for the keys it does not set;
    /// `None`: the tenant uses `Settings::attestation`.
    pub attestation: Option<AttestationSettings>,
    /// Unique names and unique hashes; empty only when `conformance` or with client
    /// certificates.
    pub api_keys: Vec<ApiKey>,
    /// The client certificates (SHA-256 of their DER) the tenant's backends may present over
    /// TLS instead of an API key; the name stands for the caller as a key's does.
    pub client_certificates: Vec<ApiKey>,
    /// The FIDO conformance-tool test API, which takes no key.
    pub conformance: bool,
    /// At least 1.
    pub max_keys_per_user: u32,
    /// The user domains of the OneSpan-shaped API (`{userID@domain}`): 1 to 16 unique names of
    /// 1 to 64 characters of `A-Z a-z 0-9 . - _`; `["master"]` when not set.
    pub domains: Vec<String>,
    /// `[tenants.uaf]`: the tenant's FIDO UAF server.
    pub uaf: UafSettings,
}

/// What a tenant's ceremonies use when a request does not say; `None`: not configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantCeremonyDefaults {
    pub user_verification: Option<UserVerification>,
    pub resident_key: Option<ResidentKey>,
    /// The attestation conveyance preference (`attestation_conveyance` in the file).
    pub attestation: Option<Conveyance>,
    /// At most a day, like `ceremony.timeout`.
    pub timeout: Option<Duration>,
    /// COSE algorithms in order of preference: not empty, each one the server can verify.
    pub algorithms: Option<Vec<i64>>,
}

impl TenantSettings {
    /// The key whose hash is the SHA-256 of `presented`, if any. Compares against every key in
    /// constant time, without stopping at a match (as `Settings::is_admin_token` does).
    pub fn key_matching(&self, presented: &str) -> Option<&ApiKey> {
        find_by_sha256(&self.api_keys, presented, |key| &key.sha256)
    }

    /// The client certificate entry whose hash is the SHA-256 of `der`, if any.
    pub fn client_certificate_matching(&self, der: &[u8]) -> Option<&ApiKey> {
        find_by_sha256(&self.client_certificates, der, |key| &key.sha256)
    }
}

/// `[[tenants]]`; `global_attestation` is `[attestation]` as written, under each tenant's own.
pub(super) fn tenants(
    raw: Vec<RawTenant>,
    global_attestation: &RawAttestation,
) -> Result<Vec<TenantSettings>, ConfigError> {
    let mut tenants: Vec<TenantSettings> = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
        let tenant = tenant(raw, i, &tenants, global_attestation)?;
        tenants.push(tenant);
    }
    Ok(tenants)
}

/// A tenant written as JSON with the keys of one `[[tenants]]` entry (the admin API), checked as
/// the configuration's are and against `others` (ids and access paths must differ). Keys its
/// `attestation` object leaves out take the built-in defaults. Errors name the key as
/// `tenants[N].…`, N being the number of `others`.
pub fn tenant_from_json(
    value: &serde_json::Value,
    others: &[TenantSettings],
) -> Result<TenantSettings, ConfigError> {
    let raw: RawTenant = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("tenants[{}]", others.len()), e.to_string()))?;
    let built_in = super::raw::parse_raw(super::DEFAULTS_LABEL, super::DEFAULTS)?.attestation;
    tenant(raw, others.len(), others, &built_in)
}

/// The tenant at `index`, checked against the ones before it.
fn tenant(
    raw: RawTenant,
    index: usize,
    before: &[TenantSettings],
    global_attestation: &RawAttestation,
) -> Result<TenantSettings, ConfigError> {
    let key = |leaf: &str| format!("tenants[{index}].{leaf}");

    let id = required(raw.id, &key("id"))?;
    check_id(&id, &key("id"))?;
    if let Some(j) = before.iter().position(|t| t.id == id) {
        return Err(invalid(
            key("id"),
            format!("`{id}` is already the id of tenants[{j}]"),
        ));
    }

    let access_path = required(raw.access_path, &key("access_path"))?;
    check_access_path(&access_path, &key("access_path"))?;
    if let Some(j) = before
        .iter()
        .position(|t| t.access_path.eq_ignore_ascii_case(&access_path))
    {
        return Err(invalid(
            key("access_path"),
            format!("`{access_path}` is already the access_path of tenants[{j}] (ignoring case)"),
        ));
    }

    let relying_party = relying_party(
        RawRelyingParty {
            id: raw.rp_id,
            name: raw.rp_name,
            origins: raw.origins,
            allow_cross_origin: Some(raw.allow_cross_origin.unwrap_or(false)),
            top_origins: Some(raw.top_origins.unwrap_or_default()),
            expected_registration_types: Some(
                raw.expected_registration_types
                    .unwrap_or_else(|| vec![WEBAUTHN_CREATE.to_owned()]),
            ),
            expected_authentication_types: Some(
                raw.expected_authentication_types
                    .unwrap_or_else(|| vec![WEBAUTHN_GET.to_owned()]),
            ),
        },
        &RpKeys::tenant(index),
    )?;

    let defaults = TenantCeremonyDefaults {
        user_verification: raw.user_verification,
        resident_key: raw.resident_key,
        attestation: raw.attestation_conveyance,
        timeout: match raw.timeout {
            Some(text) => Some(duration(Some(text), &key("timeout"), MAX_CEREMONY_TIMEOUT)?),
            None => None,
        },
        algorithms: match raw.algorithms {
            Some(algorithms) => Some(check_algorithms(algorithms, &key("algorithms"))?),
            None => None,
        },
    };

    let attestation = match raw.attestation {
        Some(own) => Some(attestation(
            global_attestation.clone().overlay(own),
            &key("attestation"),
        )?),
        None => None,
    };

    let conformance = raw.conformance.unwrap_or(false);
    let api_keys = api_keys(raw.api_keys.unwrap_or_default(), &key("api_keys"))?;
    let client_certificates = client_certificates(
        raw.client_certificates.unwrap_or_default(),
        &key("client_certificates"),
    )?;
    if api_keys.is_empty() && client_certificates.is_empty() && !conformance {
        return Err(invalid(
            key("api_keys"),
            "is empty; list at least one key, e.g. api_keys = [{ name = \"backend\", sha256 = \
             \"<64 hex characters>\" }] (only a tenant with conformance = true or with \
             client_certificates may have none)",
        ));
    }

    let max_keys_per_user = positive(
        Some(raw.max_keys_per_user.unwrap_or(DEFAULT_MAX_KEYS_PER_USER)),
        &key("max_keys_per_user"),
    )?;

    let domains = domains(raw.domains, &key("domains"))?;
    let uaf = super::uaf::uaf(raw.uaf, &key("uaf"))?;

    Ok(TenantSettings {
        id,
        access_path,
        relying_party,
        defaults,
        attestation,
        api_keys,
        client_certificates,
        conformance,
        max_keys_per_user,
        domains,
        uaf,
    })
}

fn domains(raw: Option<Vec<String>>, key: &str) -> Result<Vec<String>, ConfigError> {
    let Some(domains) = raw else {
        return Ok(vec![DEFAULT_DOMAIN.to_string()]);
    };
    if !(1..=16).contains(&domains.len()) {
        return Err(invalid(
            key,
            "list 1 to 16 user domains, e.g. [\"master\"], or leave it out",
        ));
    }
    for (i, domain) in domains.iter().enumerate() {
        let well_formed = (1..=64).contains(&domain.len())
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !well_formed {
            return Err(invalid(
                key,
                format!("`{domain}` must be 1 to 64 characters of A-Z a-z 0-9 . - _"),
            ));
        }
        if domains[..i].contains(domain) {
            return Err(invalid(key, format!("`{domain}` is listed twice")));
        }
    }
    Ok(domains)
}

fn check_id(id: &str, key: &str) -> Result<(), ConfigError> {
    let well_formed = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if !well_formed {
        return Err(invalid(
            key,
            format!("`{id}` must be 1 to 32 characters of a-z 0-9 - _"),
        ));
    }
    if id == DEFAULT_TENANT {
        return Err(invalid(
            key,
            format!(
                "`{DEFAULT_TENANT}` is the built-in tenant, configured by [relying_party]; \
                 choose another id"
            ),
        ));
    }
    Ok(())
}

fn check_access_path(path: &str, key: &str) -> Result<(), ConfigError> {
    let well_formed = (1..=128).contains(&path.len())
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !well_formed {
        return Err(invalid(
            key,
            format!(
                "`{path}` must be 1 to 128 characters of the base64url alphabet A-Z a-z 0-9 - _"
            ),
        ));
    }
    if let Some(segment) = RESERVED_PATH_SEGMENTS
        .iter()
        .find(|segment| segment.eq_ignore_ascii_case(path))
    {
        return Err(invalid(
            key,
            format!(
                "`{path}` clashes with the server's own path /{segment} (compared ignoring \
                 case); choose another"
            ),
        ));
    }
    Ok(())
}

fn check_algorithms(algorithms: Vec<i64>, key: &str) -> Result<Vec<i64>, ConfigError> {
    if algorithms.is_empty() {
        return Err(invalid(
            key,
            "is empty; list at least one COSE algorithm, or leave it out",
        ));
    }
    if let Some(alg) = algorithms
        .iter()
        .find(|alg| !VERIFIABLE_ALGORITHMS.contains(alg))
    {
        return Err(invalid(
            key,
            format!(
                "algorithm {alg} cannot be verified (use {})",
                crate::domain::verifiable_algorithms_text()
            ),
        ));
    }
    Ok(algorithms)
}

#[cfg(test)]
#[path = "tenants_tests.rs"]
mod tests;
