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
mod tests {
    use super::super::testing::*;
    use super::super::{ConfigError, Settings};
    use super::*;

    #[test]
    fn the_documented_form_parses_with_the_defaults_of_every_optional_key() {
        let s = parse(&demo("")).unwrap();
        assert_eq!(s.tenants.len(), 1);
        let t = &s.tenants[0];
        assert_eq!(t.id, "demo");
        assert_eq!(t.access_path, "ZGVtby5leGFtcGxl");
        assert_eq!(t.relying_party.id, "localhost");
        assert_eq!(t.relying_party.name, "Demo RP");
        assert_eq!(t.relying_party.origins, vec!["http://localhost"]);
        assert!(!t.relying_party.allow_cross_origin && t.relying_party.top_origins.is_empty());
        assert_eq!(t.defaults, TenantCeremonyDefaults::default());
        assert!(t.attestation.is_none());
        assert_eq!(t.api_keys.len(), 1);
        assert_eq!(t.api_keys[0].name, "backend");
        assert!(!t.conformance);
        assert_eq!(t.max_keys_per_user, 10);
        assert_eq!(t.domains, ["master"]);
        assert_eq!(s.tenant("demo").map(|t| t.id.as_str()), Some("demo"));
        assert!(s.tenant("default").is_none() && s.tenant("other").is_none());
        let by_path = s.tenant_by_access_path("ZGVtby5leGFtcGxl");
        assert_eq!(by_path.map(|t| t.id.as_str()), Some("demo"));
        assert!(s.tenant_by_access_path("zgvtby5leGFtcGxl").is_none());
    }

    #[test]
    fn user_domains_are_checked_and_kept_in_order() {
        let s = parse(&demo(
            "domains = [\"master\", \"retail.eu\", \"corp-2_b\"]\n",
        ))
        .unwrap();
        assert_eq!(s.tenants[0].domains, ["master", "retail.eu", "corp-2_b"]);
        let long = format!("domains = [\"{}\"]\n", "d".repeat(64));
        assert!(parse(&demo(&long)).is_ok());
        let many: Vec<String> = (0..16).map(|i| format!("\"d{i}\"")).collect();
        assert!(parse(&demo(&format!("domains = [{}]\n", many.join(",")))).is_ok());
        let too_many: Vec<String> = (0..17).map(|i| format!("\"d{i}\"")).collect();
        for (bad, said) in [
            ("domains = []\n".to_string(), "1 to 16"),
            (format!("domains = [{}]\n", too_many.join(",")), "1 to 16"),
            ("domains = [\"\"]\n".to_string(), "1 to 64"),
            (format!("domains = [\"{}\"]\n", "d".repeat(65)), "1 to 64"),
            ("domains = [\"a@b\"]\n".to_string(), "1 to 64"),
            ("domains = [\"a b\"]\n".to_string(), "1 to 64"),
            ("domains = [\"m\", \"m\"]\n".to_string(), "listed twice"),
        ] {
            let err = parse(&demo(&bad)).unwrap_err();
            assert_eq!(err.key(), Some("tenants[0].domains"), "{bad}: {err}");
            assert!(err.to_string().contains(said), "{bad}: {err}");
        }
    }

    #[test]
    fn every_optional_tenant_key_is_read() {
        let text = demo(
            "allow_cross_origin = true\ntop_origins = [\"https://portal.example.com/\"]\n\
             user_verification = \"required\"\nresident_key = \"discouraged\"\n\
             attestation_conveyance = \"direct\"\ntimeout = \"2m\"\nalgorithms = [-7, -257]\n\
             conformance = true\nmax_keys_per_user = 3\n\
             [tenants.attestation]\npolicy = \"require-trusted\"\n",
        );
        let vars = env(&[("FIDOFLOW_TRUST_ANCHORS_DIR", env!("CARGO_MANIFEST_DIR"))]);
        let s = Settings::from_toml_str(&text, &vars).unwrap();
        let t = &s.tenants[0];
        assert!(t.relying_party.allow_cross_origin);
        assert_eq!(
            t.relying_party.top_origins,
            vec!["https://portal.example.com"]
        );
        assert_eq!(
            t.defaults,
            TenantCeremonyDefaults {
                user_verification: Some(UserVerification::Required),
                resident_key: Some(ResidentKey::Discouraged),
                attestation: Some(Conveyance::Direct),
                timeout: Some(Duration::from_secs(120)),
                algorithms: Some(vec![-7, -257]),
            }
        );
        assert!(t.conformance);
        assert_eq!(t.max_keys_per_user, 3);
        let own = t
            .attestation
            .as_ref()
            .expect("the tenant's attestation table");
        assert!(own.demands_trust());
        // Keys the tenant's table leaves out come from [attestation] (and its variables).
        assert_eq!(own.trust_anchors_dir, s.attestation.trust_anchors_dir);
        assert!(own.trust_anchors_dir.is_some());
        assert!(!s.attestation.demands_trust());
    }

    #[test]
    fn a_tenant_without_an_id_is_refused_naming_the_key() {
        let text = demo("").replace("id = \"demo\"\n", "");
        assert_eq!(refused(&text).0, "tenants[0].id");
    }

    #[test]
    fn a_tenant_id_outside_its_alphabet_or_length_is_refused() {
        for id in ["", "Demo", "de mo", "démo", "demo.example", &"a".repeat(33)] {
            let text = demo("").replace("id = \"demo\"", &format!("id = \"{id}\""));
            assert_eq!(refused(&text).0, "tenants[0].id", "{id}");
        }
        let longest = "a-b_0".repeat(6) + "zz";
        let text = demo("").replace("id = \"demo\"", &format!("id = \"{longest}\""));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_tenant_called_default_is_refused_because_relying_party_is_that_tenant() {
        let text = demo("").replace("id = \"demo\"", "id = \"default\"");
        let (key, message) = refused(&text);
        assert_eq!(key, "tenants[0].id");
        assert!(
            message.contains("built-in") && message.contains("[relying_party]"),
            "{message}"
        );
    }

    #[test]
    fn two_tenants_with_the_same_id_are_refused() {
        let (key, message) = refused(&second("demo", "b3RoZXI"));
        assert_eq!(key, "tenants[1].id");
        assert!(message.contains("tenants[0]"), "{message}");
    }

    #[test]
    fn an_access_path_outside_base64url_or_its_length_is_refused() {
        for path in ["", "a/b", "a+b", "ab==", "a.b", &"A".repeat(129)] {
            let text = demo("").replace("ZGVtby5leGFtcGxl", path);
            assert_eq!(refused(&text).0, "tenants[0].access_path", "{path}");
        }
        let text = demo("").replace("ZGVtby5leGFtcGxl", &"A-_9".repeat(32));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn an_access_path_the_server_already_serves_is_refused_ignoring_case() {
        for (path, clash) in [
            ("rest", "/rest"),
            ("HelpDesk", "/helpdesk"),
            ("API", "/api"),
        ] {
            let text = demo("").replace("ZGVtby5leGFtcGxl", path);
            let (key, message) = refused(&text);
            assert_eq!(key, "tenants[0].access_path", "{path}");
            assert!(message.contains(clash), "{message}");
        }
    }

    #[test]
    fn two_tenants_with_the_same_access_path_are_refused_ignoring_case() {
        let (key, message) = refused(&second("other", "zgvtby5leGFtcGxl"));
        assert_eq!(key, "tenants[1].access_path");
        assert!(message.contains("tenants[0]"), "{message}");
        assert_eq!(parse(&second("other", "b3RoZXI")).unwrap().tenants.len(), 2);
    }

    #[test]
    fn a_tenant_rp_id_is_checked_like_the_relying_party_id() {
        for rp_id in ["com", "127.0.0.1", "Example.org", ""] {
            let text = demo("").replace("rp_id = \"localhost\"", &format!("rp_id = \"{rp_id}\""));
            assert_eq!(refused(&text).0, "tenants[0].rp_id", "{rp_id}");
        }
        let text = demo("").replace("rp_name = \"Demo RP\"", "rp_name = \" \"");
        assert_eq!(refused(&text).0, "tenants[0].rp_name");
    }

    #[test]
    fn a_tenant_origin_off_its_rp_id_is_refused_naming_the_tenant_keys() {
        let text = demo("").replace("http://localhost", "https://example.org");
        let (key, message) = refused(&text);
        assert_eq!(key, "tenants[0].origins");
        assert!(
            message.contains("tenants[0].rp_id `localhost`"),
            "{message}"
        );
        let text = demo("").replace("http://localhost", "http://example.localhost.org");
        assert_eq!(refused(&text).0, "tenants[0].origins");
    }

    #[test]
    fn a_tenant_takes_android_app_origins_and_needs_at_least_one_origin() {
        let app = "android:apk-key-hash:Abc-_123XYZ";
        let text = demo("").replace("[\"http://localhost\"]", &format!("[\"{app}\"]"));
        assert_eq!(
            parse(&text).unwrap().tenants[0].relying_party.origins,
            vec![app]
        );
        let text = demo("").replace("[\"http://localhost\"]", "[]");
        assert_eq!(refused(&text).0, "tenants[0].origins");
        let text = demo("").replace("origins = [\"http://localhost\"]\n", "");
        assert_eq!(refused(&text).0, "tenants[0].origins");
    }

    #[test]
    fn tenant_top_origins_need_cross_origin_to_be_allowed() {
        let (key, message) = refused(&demo("top_origins = [\"https://portal.example.com\"]\n"));
        assert_eq!(key, "tenants[0].top_origins");
        assert!(
            message.contains("tenants[0].allow_cross_origin"),
            "{message}"
        );
    }

    #[test]
    fn a_tenant_without_api_keys_is_refused_unless_it_serves_conformance_tests() {
        let without = demo("").replace(
            &format!(
                "api_keys = [{{ name = \"backend\", sha256 = \"{}\" }}]\n",
                sha256_hex(DEMO_KEY)
            ),
            "",
        );
        assert_eq!(refused(&without).0, "tenants[0].api_keys");
        let empty = format!("{without}api_keys = []\n");
        assert_eq!(refused(&empty).0, "tenants[0].api_keys");
        let conformance = format!("{without}conformance = true\n");
        let s = parse(&conformance).unwrap();
        assert!(s.tenants[0].conformance && s.tenants[0].api_keys.is_empty());
    }

    #[test]
    fn zero_keys_per_user_is_refused() {
        assert_eq!(
            refused(&demo("max_keys_per_user = 0\n")).0,
            "tenants[0].max_keys_per_user"
        );
    }

    #[test]
    fn a_tenant_timeout_is_a_duration_of_at_most_a_day() {
        for bad in ["\"0s\"", "\"2d\"", "\"soon\""] {
            let text = demo(&format!("timeout = {bad}\n"));
            assert_eq!(refused(&text).0, "tenants[0].timeout", "{bad}");
        }
    }

    #[test]
    fn tenant_algorithms_must_be_ones_the_server_verifies() {
        for bad in ["[]", "[-7, 1]"] {
            let text = demo(&format!("algorithms = {bad}\n"));
            assert_eq!(refused(&text).0, "tenants[0].algorithms", "{bad}");
        }
        let error = refusal(&demo("user_verification = \"always\"\n"));
        assert!(matches!(error, ConfigError::Parse { .. }), "{error}");
    }

    #[test]
    fn a_tenant_attestation_table_is_checked_under_its_own_key() {
        let text = demo("[tenants.attestation]\naaguid_allow_list = [\"yubikey\"]\n");
        assert_eq!(refused(&text).0, "tenants[0].attestation.aaguid_allow_list");
        let text = demo("[tenants.attestation]\ntrust_anchors_dir = \"/nonexistent/anchors\"\n");
        assert_eq!(refused(&text).0, "tenants[0].attestation.trust_anchors_dir");
        let error = refusal(&demo("[tenants.attestation]\npolicy = \"trust-me\"\n"));
        assert!(error.to_string().contains("trust-me"), "{error}");
    }

    #[test]
    fn an_unknown_tenant_key_is_refused_naming_it() {
        let error = refusal(&demo("rp_origin = \"http://localhost\"\n"));
        assert!(matches!(error, ConfigError::Parse { .. }));
        assert!(error.to_string().contains("rp_origin"), "{error}");
    }
}
