//! The file as written: every key optional, unknown keys refused; the layers overlaid key by
//! key; durations as text until their key is known.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::audit::SizeText;
use super::{AdminRole, AttestationPolicyKind, ConfigError, SignCounterPolicy, DAY};
use crate::domain::{Conveyance, ResidentKey, UserVerification};

pub(super) fn parse_raw(label: &str, text: &str) -> Result<RawFile, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Parse {
        file: label.to_owned(),
        message: error.to_string(),
    })
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) relying_party: RawRelyingParty,
    #[serde(default)]
    pub(super) attestation: RawAttestation,
    #[serde(default)]
    pub(super) session: RawSession,
    #[serde(default)]
    pub(super) lockout: RawLockout,
    #[serde(default)]
    pub(super) rate_limits: RawRateLimits,
    #[serde(default)]
    pub(super) passwords: RawPasswords,
    #[serde(default)]
    pub(super) cors: RawCors,
    #[serde(default)]
    pub(super) proxy: RawProxy,
    #[serde(default)]
    pub(super) admin: RawAdmin,
    #[serde(default)]
    pub(super) ceremony: RawCeremony,
    #[serde(default)]
    pub(super) authenticators: RawAuthenticators,
    #[serde(default)]
    pub(super) mds: RawMds,
    #[serde(default)]
    pub(super) audit: RawAudit,
    #[serde(default)]
    pub(super) evidence: RawEvidence,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) store: RawStore,
    /// A later layer's `[[tenants]]` replace an earlier one's as a whole.
    pub(super) tenants: Option<Vec<RawTenant>>,
}

impl RawFile {
    /// `top`'s keys where set, else `self`'s.
    pub(super) fn overlay(self, top: RawFile) -> RawFile {
        RawFile {
            server: self.server.overlay(top.server),
            relying_party: self.relying_party.overlay(top.relying_party),
            attestation: self.attestation.overlay(top.attestation),
            session: self.session.overlay(top.session),
            lockout: self.lockout.overlay(top.lockout),
            rate_limits: self.rate_limits.overlay(top.rate_limits),
            passwords: self.passwords.overlay(top.passwords),
            cors: self.cors.overlay(top.cors),
            proxy: self.proxy.overlay(top.proxy),
            admin: self.admin.overlay(top.admin),
            ceremony: self.ceremony.overlay(top.ceremony),
            authenticators: self.authenticators.overlay(top.authenticators),
            mds: self.mds.overlay(top.mds),
            audit: self.audit.overlay(top.audit),
            evidence: self.evidence.overlay(top.evidence),
            log: self.log.overlay(top.log),
            store: self.store.overlay(top.store),
            tenants: top.tenants.or(self.tenants),
        }
    }
}

/// Declares a section of optional keys and its overlay.
macro_rules! raw_section {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            $(pub(super) $field: Option<$ty>,)*
        }

        impl $name {
            pub(super) fn overlay(self, top: $name) -> $name {
                $name { $($field: top.$field.or(self.$field),)* }
            }
        }
    };
}

raw_section!(RawServer {
    bind: SocketAddr,
    data_dir: PathBuf,
    flows_dir: PathBuf,
    static_dir: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
});
raw_section!(RawRelyingParty {
    id: String,
    name: String,
    origins: Vec<String>,
    allow_cross_origin: bool,
    top_origins: Vec<String>,
    expected_registration_types: Vec<String>,
    expected_authentication_types: Vec<String>,
});
raw_section!(RawAttestation {
    policy: AttestationPolicyKind,
    trust_anchors_dir: PathBuf,
    aaguid_allow_list: Vec<String>,
    minimum_certification_level: String,
    accept_unknown_formats: bool,
    safetynet_timestamp: bool,
    safetynet_max_age: DurationText,
    safetynet_cts_profile_match: bool,
});
raw_section!(RawSession {
    idle_timeout: DurationText,
    max_lifetime: DurationText,
    insecure_cookies: bool,
    key: String,
});
raw_section!(RawLockout {
    max_failures: u32,
    lock_duration: DurationText,
    failure_window: DurationText,
    table_size: usize,
});
raw_section!(RawRateLimits {
    enabled: bool,
    window: DurationText,
    per_address: u32,
    per_username: u32,
    per_api_key: u32,
    password_hash_concurrency: usize,
});
raw_section!(RawPasswords {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
});
raw_section!(RawCors {
    allowed_origins: Vec<String>,
});
raw_section!(RawProxy {
    trusted_proxies: Vec<String>,
    client_cert_header: String,
});
raw_section!(RawAdmin {
    bind: SocketAddr,
    tokens: Vec<RawToken>,
});
raw_section!(RawCeremony {
    timeout: DurationText,
    conditional_timeout: DurationText,
    sign_counter_policy: SignCounterPolicy,
    max_credentials_per_user: u32,
});
raw_section!(RawAuthenticators {
    names: BTreeMap<String, String>,
});
raw_section!(RawMds {
    roots: Vec<PathBuf>,
    crls: Vec<PathBuf>,
    check_at_login: bool,
});
raw_section!(RawLog { format: String });
raw_section!(RawStore {
    backend: String,
    url: String,
    pool_size: usize,
    connect_timeout: DurationText,
});
raw_section!(RawEvidence {
    signing_key: PathBuf,
});
raw_section!(RawAudit {
    retain: DurationText,
    max_size: SizeText,
});

/// One `[[tenants]]` entry; `attestation` is its `[tenants.attestation]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    pub(super) id: Option<String>,
    pub(super) access_path: Option<String>,
    pub(super) rp_id: Option<String>,
    pub(super) rp_name: Option<String>,
    pub(super) origins: Option<Vec<String>>,
    pub(super) allow_cross_origin: Option<bool>,
    pub(super) top_origins: Option<Vec<String>>,
    pub(super) expected_registration_types: Option<Vec<String>>,
    pub(super) expected_authentication_types: Option<Vec<String>>,
    pub(super) api_keys: Option<Vec<RawApiKey>>,
    pub(super) client_certificates: Option<Vec<RawApiKey>>,
    pub(super) user_verification: Option<UserVerification>,
    pub(super) resident_key: Option<ResidentKey>,
    pub(super) attestation_conveyance: Option<Conveyance>,
    pub(super) timeout: Option<DurationText>,
    pub(super) algorithms: Option<Vec<i64>>,
    pub(super) conformance: Option<bool>,
    pub(super) max_keys_per_user: Option<u32>,
    pub(super) domains: Option<Vec<String>>,
    pub(super) attestation: Option<RawAttestation>,
    pub(super) uaf: Option<super::uaf::RawUaf>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) name: String,
    pub(super) role: AdminRole,
    pub(super) sha256: String,
    pub(super) tenants: Option<Vec<String>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApiKey {
    pub(super) name: String,
    pub(super) sha256: String,
}

/// A duration as written: `"15m"`, `"300s"`, `"300"` or `300`; parsed when its key is known.
#[derive(Clone)]
pub(super) struct DurationText(pub(super) String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15m\" or an integer number of seconds")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// An integer followed by `s`, `m`, `h` or `d`, or an integer of seconds.
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.as_bytes().last()? {
        b'0'..=b'9' => (text, 1),
        b's' => (&text[..text.len() - 1], 1),
        b'm' => (&text[..text.len() - 1], 60),
        b'h' => (&text[..text.len() - 1], 60 * 60),
        b'd' => (&text[..text.len() - 1], DAY),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u64 = digits.parse().ok()?;
    count.checked_mul(unit).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{DEFAULTS, DEFAULTS_LABEL};
    use super::*;

    #[test]
    fn the_built_in_defaults_set_every_key_but_the_optional_ones() {
        let raw = parse_raw(DEFAULTS_LABEL, DEFAULTS).unwrap();
        assert!(raw.server.bind.is_some());
        // Not set: the flows and pages built into the binary, the origin derived from the bind.
        assert!(raw.server.flows_dir.is_none() && raw.server.static_dir.is_none());
        assert!(raw.relying_party.origins.is_none());
        assert!(raw.relying_party.top_origins.is_some());
        assert!(raw.attestation.trust_anchors_dir.is_none());
        assert!(raw.admin.bind.is_none() && raw.admin.tokens.is_none());
        assert!(raw.rate_limits.per_api_key.is_some());
        assert!(raw.tenants.is_none());
        // `[store]` has its defaults in code: a `url` with no `backend` from any layer selects
        // postgres, which a `backend` in the built-in defaults would prevent.
        assert!(raw.store.backend.is_none() && raw.store.url.is_none());
        assert!(raw.session.key.is_none());
    }

    #[test]
    fn the_shipped_file_with_its_examples_uncommented_still_parses() {
        let uncommented: String = DEFAULTS
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(key, _)| {
                            key.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        }) =>
                {
                    rest.replace("<64 hex characters>", HASH_A)
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw = parse_raw("uncommented", &uncommented).unwrap();
        assert!(raw.attestation.trust_anchors_dir.is_some());
        assert!(raw.admin.bind.is_some());
        let tokens = raw.admin.tokens.expect("the admin token example");
        assert_eq!(tokens.len(), 1);
        assert!(tokens[0].tenants.is_some());
        let tenants = raw.tenants.expect("the tenant example");
        assert_eq!(tenants.len(), 1);
        assert!(tenants[0].attestation.is_some() && tenants[0].timeout.is_some());
        assert!(parse(DEFAULTS).is_ok());
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it() {
        let error = refusal("[server]\nbnd = \"127.0.0.1:1\"\n");
        assert!(matches!(error, ConfigError::Parse { .. }));
        assert!(error.to_string().contains("bnd"), "{error}");
        assert!(refusal("[sever]\n").to_string().contains("sever"));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_showing_the_line() {
        let error = refusal("[lockout]\nmax_failures = -1\n");
        assert!(error.to_string().contains("max_failures = -1"), "{error}");
    }

    #[test]
    fn durations_are_read_from_humane_strings() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("8h"), Some(Duration::from_secs(28_800)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
        for bad in [
            "",
            "s",
            "1h30m",
            "-5s",
            "+5s",
            "1.5h",
            "5 m",
            "15ms",
            "5w",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let s = parse("[session]\nidle_timeout = 120\n").unwrap();
        assert_eq!(s.session.idle_timeout, Duration::from_secs(120));
    }
}
