//! `[attestation]` (also a tenant's `[tenants.attestation]`): which authenticators may register,
//! what their attestation must show and how strictly an android-safetynet statement is read; `[mds]`, the FIDO Metadata Service's roots and CRLs;
//! and `[authenticators]`, the operator's model names by AAGUID.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{DurationText, RawAttestation, RawAuthenticators, RawMds};
use super::{duration, invalid, required, ConfigError, DAY};

#[derive(Clone, Debug)]
pub struct AttestationSettings {
    pub policy: AttestationPolicyKind,
    /// An existing directory when set.
    pub trust_anchors_dir: Option<PathBuf>,
    /// Lowercase hyphenated AAGUIDs; when not empty, only these authenticators register, and
    /// only with an attestation that chained to a trust anchor.
    pub aaguid_allow_list: Vec<String>,
    /// `"L1"`, `"L1+"`, `"L2"`, `"L2+"`, `"L3"` or `"L3+"`: the lowest FIDO certification level
    /// (from the FIDO metadata) a trusted attestation must show.
    pub minimum_certification_level: Option<String>,
    /// Register a response whose attestation format fidoflow does not know, unverified and
    /// untrusted (only when no policy demands trust).
    pub accept_unknown_formats: bool,
    /// android-safetynet: the statement's `timestampMs` must be within `safetynet_max_age` of
    /// the registration; false: it is not checked.
    pub safetynet_timestamp: bool,
    /// How far `timestampMs` may be from the registration, either way: 1 s to 1 day.
    pub safetynet_max_age: Duration,
    /// android-safetynet: the statement must say `ctsProfileMatch: true`; false: it need not
    /// (`basicIntegrity: true` is required either way).
    pub safetynet_cts_profile_match: bool,
}

impl AttestationSettings {
    /// Whether a policy demands attestation that chains to a trust anchor.
    pub fn demands_trust(&self) -> bool {
        self.policy == AttestationPolicyKind::RequireTrusted
            || !self.aaguid_allow_list.is_empty()
            || self.minimum_certification_level.is_some()
    }
}

/// The FIDO Metadata Service: what `fidoflow mds import` trusts, and how the server uses the
/// imported BLOB.
#[derive(Clone, Debug)]
pub struct MdsSettings {
    /// PEM files of the roots a metadata BLOB's signer must chain to (several for a rollover).
    pub roots: Vec<PathBuf>,
    /// PEM or DER CRLs of the MDS PKI, checked against the BLOB's signer chain.
    pub crls: Vec<PathBuf>,
    /// Refuse a sign-in with an authenticator whose metadata now has a refusing status.
    pub check_at_login: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationPolicyKind {
    /// `"accept-any"`
    AcceptAny,
    /// `"require-trusted"`
    RequireTrusted,
}

/// Operator-supplied authenticator model names, consulted before the built-in table.
#[derive(Clone, Debug, Default)]
pub struct AuthenticatorSettings {
    /// Lowercase hyphenated AAGUID → model name (a valid display name).
    pub names: BTreeMap<String, String>,
}

/// The SafetyNet policies' defaults: what a stored tenant made before these keys existed, whose
/// `attestation` object lacks them, gets (`fidoflow.toml` writes the same for `[attestation]`).
const SAFETYNET_TIMESTAMP: bool = true;
const SAFETYNET_MAX_AGE: &str = "60s";
const SAFETYNET_CTS_PROFILE_MATCH: bool = true;
/// The longest `safetynet_max_age`: no registration ceremony lives longer.
const MAX_SAFETYNET_AGE: Duration = Duration::from_secs(DAY);

/// The FIDO certification levels, lowest first.
const CERTIFICATION_LEVELS: [&str; 6] = ["L1", "L1+", "L2", "L2+", "L3", "L3+"];

/// An attestation section; `section` is its path in the file (`attestation`, or
/// `tenants[0].attestation`), which the refusals name.
pub(super) fn attestation(
    raw: RawAttestation,
    section: &str,
) -> Result<AttestationSettings, ConfigError> {
    let key = |leaf: &str| format!("{section}.{leaf}");
    let trust_anchors_dir = raw.trust_anchors_dir;
    if let Some(dir) = &trust_anchors_dir {
        if !dir.is_dir() {
            return Err(invalid(
                key("trust_anchors_dir"),
                format!("`{}` is not an existing directory", dir.display()),
            ));
        }
    }
    Ok(AttestationSettings {
        policy: required(raw.policy, &key("policy"))?,
        trust_anchors_dir,
        aaguid_allow_list: aaguid_allow_list(
            required(raw.aaguid_allow_list, &key("aaguid_allow_list"))?,
            &key("aaguid_allow_list"),
        )?,
        minimum_certification_level: match raw.minimum_certification_level {
            Some(level) if CERTIFICATION_LEVELS.contains(&level.as_str()) => Some(level),
            Some(level) => {
                return Err(invalid(
                    key("minimum_certification_level"),
                    format!("`{level}` is none of {}", CERTIFICATION_LEVELS.join(", ")),
                ))
            }
            None => None,
        },
        accept_unknown_formats: required(
            raw.accept_unknown_formats,
            &key("accept_unknown_formats"),
        )?,
        safetynet_timestamp: raw.safetynet_timestamp.unwrap_or(SAFETYNET_TIMESTAMP),
        safetynet_max_age: duration(
            Some(
                raw.safetynet_max_age
                    .unwrap_or_else(|| DurationText(SAFETYNET_MAX_AGE.to_owned())),
            ),
            &key("safetynet_max_age"),
            MAX_SAFETYNET_AGE,
        )?,
        safetynet_cts_profile_match: raw
            .safetynet_cts_profile_match
            .unwrap_or(SAFETYNET_CTS_PROFILE_MATCH),
    })
}

pub(super) fn mds(raw: RawMds) -> Result<MdsSettings, ConfigError> {
    Ok(MdsSettings {
        roots: existing_files(required(raw.roots, "mds.roots")?, "mds.roots")?,
        crls: existing_files(required(raw.crls, "mds.crls")?, "mds.crls")?,
        check_at_login: required(raw.check_at_login, "mds.check_at_login")?,
    })
}

pub(super) fn authenticators(raw: RawAuthenticators) -> Result<AuthenticatorSettings, ConfigError> {
    Ok(AuthenticatorSettings {
        names: authenticator_names(raw.names.unwrap_or_default())?,
    })
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `aaguid_allow_list`: UUIDs (any case), kept lowercase, no duplicates.
fn aaguid_allow_list(raw: Vec<String>, key: &str) -> Result<Vec<String>, ConfigError> {
    let mut list: Vec<String> = Vec::with_capacity(raw.len());
    for aaguid in raw {
        let normalised = aaguid.trim().to_ascii_lowercase();
        if !is_uuid(&normalised) {
            return Err(invalid(
                key,
                format!("`{aaguid}` is not an AAGUID; write it as a UUID"),
            ));
        }
        if !list.contains(&normalised) {
            list.push(normalised);
        }
    }
    Ok(list)
}

/// Paths that must name existing files.
fn existing_files(paths: Vec<PathBuf>, key: &str) -> Result<Vec<PathBuf>, ConfigError> {
    for path in &paths {
        if !path.is_file() {
            return Err(invalid(
                key,
                format!("`{}` is not an existing file", path.display()),
            ));
        }
    }
    Ok(paths)
}

/// `authenticators.names`: keys are AAGUIDs (UUIDs, any case, kept lowercase), values are model
/// names of 1–64 characters that a display name may hold.
fn authenticator_names(
    raw: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut names = BTreeMap::new();
    for (aaguid, name) in raw {
        let key = format!("authenticators.names.\"{aaguid}\"");
        let normalised = aaguid.to_ascii_lowercase();
        if !is_uuid(&normalised) {
            return Err(invalid(
                key,
                "is not an AAGUID; write it as a UUID, e.g. \"cb69481e-8ff7-4039-93ec-0a2729a154a8\"",
            ));
        }
        let name = crate::domain::DisplayName::parse(&name)
            .map_err(|e| invalid(key.clone(), format!("the model name is refused: {}", e.0)))?;
        if names.insert(normalised, name.as_str().to_owned()).is_some() {
            return Err(invalid(
                key,
                "names an AAGUID that is already named (keys ignore case)",
            ));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::super::testing::*;
    use super::super::Settings;

    #[test]
    fn a_trust_anchors_dir_that_does_not_exist_is_refused() {
        let text = "[attestation]\ntrust_anchors_dir = \"/nonexistent/anchors\"\n";
        assert_eq!(refusal_key(text), "attestation.trust_anchors_dir");
        let existing = env!("CARGO_MANIFEST_DIR");
        let vars = env(&[("FIDOFLOW_TRUST_ANCHORS_DIR", existing)]);
        let s = Settings::from_toml_str("", &vars).unwrap();
        assert_eq!(
            s.attestation.trust_anchors_dir,
            Some(PathBuf::from(existing))
        );
    }

    #[test]
    fn attestation_allow_lists_and_levels_are_read_and_checked() {
        let s = parse(
            "[attestation]\naaguid_allow_list = [\"CB69481E-8FF7-4039-93EC-0A2729A154A8\"]\nminimum_certification_level = \"L1+\"\n",
        )
        .unwrap();
        assert_eq!(
            s.attestation.aaguid_allow_list,
            vec!["cb69481e-8ff7-4039-93ec-0a2729a154a8"]
        );
        assert_eq!(
            s.attestation.minimum_certification_level.as_deref(),
            Some("L1+")
        );
        assert!(s.attestation.demands_trust());
        assert!(!parse("").unwrap().attestation.demands_trust());
        assert_eq!(
            refusal_key("[attestation]\naaguid_allow_list = [\"yubikey\"]\n"),
            "attestation.aaguid_allow_list"
        );
        assert_eq!(
            refusal_key("[attestation]\nminimum_certification_level = \"L4\"\n"),
            "attestation.minimum_certification_level"
        );
    }

    #[test]
    fn the_safetynet_policies_are_read_with_their_defaults_and_checked() {
        let s = parse("").unwrap();
        assert!(s.attestation.safetynet_timestamp && s.attestation.safetynet_cts_profile_match);
        assert_eq!(s.attestation.safetynet_max_age, Duration::from_secs(60));
        let s = parse(
            "[attestation]\nsafetynet_timestamp = false\nsafetynet_max_age = 3600\n\
             safetynet_cts_profile_match = false\n",
        )
        .unwrap();
        assert!(!s.attestation.safetynet_timestamp && !s.attestation.safetynet_cts_profile_match);
        assert_eq!(s.attestation.safetynet_max_age, Duration::from_secs(3600));
        assert_eq!(
            parse("[attestation]\nsafetynet_max_age = \"1d\"\n")
                .unwrap()
                .attestation
                .safetynet_max_age,
            Duration::from_secs(86_400)
        );
        for bad in ["0", "\"0s\"", "86401", "\"2d\"", "\"a minute\"", "-5"] {
            let error = refusal(&format!("[attestation]\nsafetynet_max_age = {bad}\n"));
            assert_eq!(
                error.key(),
                Some("attestation.safetynet_max_age"),
                "{bad}: {error}"
            );
        }
        let error = refusal("[attestation]\nsafetynet_timestamp = \"no\"\n");
        assert!(error.to_string().contains("safetynet_timestamp"), "{error}");
    }

    #[test]
    fn a_tenant_takes_the_safetynet_policies_in_its_attestation_table() {
        let text = format!(
            "[attestation]\nsafetynet_max_age = \"5m\"\n{}",
            demo("[tenants.attestation]\nsafetynet_cts_profile_match = false\n")
        );
        let s = parse(&text).unwrap();
        let own = s.tenants[0].attestation.as_ref().expect("its table");
        assert!(!own.safetynet_cts_profile_match && own.safetynet_timestamp);
        assert_eq!(own.safetynet_max_age, Duration::from_secs(300));
        let (key, _) = refused(&demo("[tenants.attestation]\nsafetynet_max_age = 0\n"));
        assert_eq!(key, "tenants[0].attestation.safetynet_max_age");
        // A tenant of the admin API stored before these keys existed gets their defaults.
        let json = serde_json::json!({
            "id": "api", "access_path": "YXBp", "rp_id": "localhost", "rp_name": "API",
            "origins": ["http://localhost"], "conformance": true,
            "attestation": {"policy": "accept-any", "aaguid_allow_list": [],
                            "accept_unknown_formats": false}
        });
        let t = crate::config::tenant_from_json(&json, &[]).unwrap();
        let own = t.attestation.expect("its attestation");
        assert!(own.safetynet_timestamp && own.safetynet_cts_profile_match);
        assert_eq!(own.safetynet_max_age, Duration::from_secs(60));
        assert_eq!(
            t.relying_party.expected_registration_types,
            ["webauthn.create"]
        );
    }

    #[test]
    fn mds_roots_and_crls_must_be_existing_files() {
        let s = parse("").unwrap();
        assert!(s.mds.roots.is_empty() && s.mds.crls.is_empty() && s.mds.check_at_login);
        assert_eq!(
            refusal_key("[mds]\nroots = [\"/nonexistent/mds-root.pem\"]\n"),
            "mds.roots"
        );
        assert_eq!(
            refusal_key("[mds]\ncrls = [\"/nonexistent/mds.crl\"]\n"),
            "mds.crls"
        );
        let manifest = env!("CARGO_MANIFEST_DIR");
        let root = format!("{manifest}/tests/vectors/mds/mds-root.pem");
        let other = format!("{manifest}/tests/vectors/mds/mds-ca-1.pem");
        let s = Settings::from_toml_str(
            "",
            &env(&[("FIDOFLOW_MDS_ROOTS", &format!("{root}, {other}"))]),
        )
        .unwrap();
        assert_eq!(s.mds.roots, vec![PathBuf::from(root), PathBuf::from(other)]);
    }

    #[test]
    fn authenticator_names_are_read_with_their_aaguids_lowercased() {
        let s = parse(
            "[authenticators.names]\n\"CB69481E-8FF7-4039-93EC-0A2729A154A8\" = \" Company key \"\n",
        )
        .unwrap();
        assert_eq!(
            s.authenticators
                .names
                .get("cb69481e-8ff7-4039-93ec-0a2729a154a8"),
            Some(&"Company key".to_string())
        );
        assert!(parse("").unwrap().authenticators.names.is_empty());
    }

    #[test]
    fn an_authenticator_name_refusal_names_its_key() {
        for (aaguid, name) in [
            ("not-a-uuid", "Key"),
            ("cb69481e8ff7403993ec0a2729a154a8", "Key"),
            ("cb69481e-8ff7-4039-93ec-0a2729a154ag", "Key"),
            ("cb69481e-8ff7-4039-93ec-0a2729a154a8", ""),
            ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "   "),
        ] {
            let text = format!("[authenticators.names]\n\"{aaguid}\" = \"{name}\"\n");
            assert_eq!(
                refusal_key(&text),
                format!("authenticators.names.\"{aaguid}\""),
                "{aaguid} = {name:?}"
            );
        }
        let long = "x".repeat(65);
        let text = format!(
            "[authenticators.names]\n\"cb69481e-8ff7-4039-93ec-0a2729a154a8\" = \"{long}\"\n"
        );
        assert!(refusal(&text).to_string().contains("cb69481e"));
        let text = "[authenticators.names]\n\"cb69481e-8ff7-4039-93ec-0a2729a154a8\" = \"A\"\n\
                    \"CB69481E-8FF7-4039-93EC-0A2729A154A8\" = \"B\"\n";
        assert!(refusal_key(text).starts_with("authenticators.names."));
    }
}
