//! `[tenants.uaf]`: how a tenant's FIDO UAF 1.1 server behaves — its AppID (`app_id`, by default
//! `https://<rp_id>/<access_path>/uaf/facets`), the facets its apps may run as
//! (`trusted_facets`, by default the tenant's `https://` origins), the AAIDs it accepts
//! (`accepted_aaids`, empty: any whose registration verifies), the characteristics it accepts
//! or refuses (`[[tenants.uaf.accepted]]`, `[[tenants.uaf.disallowed]]`: UAF MatchCriteria by
//! AAID, vendor, user verification, key protection, matcher protection, attachment hint and
//! transaction confirmation display, each named as metadata statements name them), whether
//! it requires basic full attestation (`require_basic_full`), and the TLS server certificates
//! its apps' channel bindings must name (`tls_server_certificates`, PEM files read at load;
//! `require_channel_binding`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::domain::registry::{
    Flags, ATTACHMENT_HINT, KEY_PROTECTION, MATCHER_PROTECTION, TC_DISPLAY, USER_VERIFICATION,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UafSettings {
    /// `None`: `https://<rp_id>/<access_path>/uaf/facets`.
    pub app_id: Option<String>,
    /// `None`: the tenant's `https://` origins.
    pub trusted_facets: Option<Vec<String>>,
    /// AAIDs (`VVVV#MMMM`, hex, any case as written; compared ignoring case); empty: any.
    pub accepted_aaids: Vec<String>,
    /// Each one a set of criteria an authenticator may meet (besides `accepted_aaids`).
    pub accepted: Vec<UafCriteria>,
    /// Criteria no registering authenticator may meet.
    pub disallowed: Vec<UafCriteria>,
    pub require_basic_full: bool,
    /// DER certificates of the relying party's TLS server (from `tls_server_certificates`).
    pub tls_server_certificates: Vec<Vec<u8>>,
    pub require_channel_binding: bool,
}

/// One UAF MatchCriteria as configured: lists empty and bits 0 where not set. Bits are those
/// of `domain::registry`; an authenticator meets a set of bits if it has any of them (user
/// verification with `all`: every named method in one of its alternatives).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UafCriteria {
    pub aaid: Vec<String>,
    /// The first four hex digits of AAIDs.
    pub vendor_id: Vec<String>,
    pub user_verification: u32,
    pub key_protection: u32,
    pub matcher_protection: u32,
    pub attachment_hint: u32,
    pub tc_display: u32,
}

/// `[tenants.uaf]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUaf {
    app_id: Option<String>,
    trusted_facets: Option<Vec<String>>,
    accepted_aaids: Option<Vec<String>>,
    #[serde(default)]
    accepted: Vec<RawCriteria>,
    #[serde(default)]
    disallowed: Vec<RawCriteria>,
    require_basic_full: Option<bool>,
    #[serde(default)]
    tls_server_certificates: Vec<PathBuf>,
    require_channel_binding: Option<bool>,
}

/// `[[tenants.uaf.accepted]]` / `[[tenants.uaf.disallowed]]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriteria {
    #[serde(default)]
    aaid: Vec<String>,
    #[serde(default)]
    vendor_id: Vec<String>,
    #[serde(default)]
    user_verification: Vec<String>,
    #[serde(default)]
    key_protection: Vec<String>,
    #[serde(default)]
    matcher_protection: Vec<String>,
    #[serde(default)]
    attachment_hint: Vec<String>,
    #[serde(default)]
    tc_display: Vec<String>,
}

pub(super) fn uaf(raw: Option<RawUaf>, key: &str) -> Result<UafSettings, ConfigError> {
    let Some(raw) = raw else {
        return Ok(UafSettings::default());
    };
    if let Some(app_id) = &raw.app_id {
        if !is_https_url(app_id) {
            return Err(invalid(
                format!("{key}.app_id"),
                format!("`{app_id}` must be an https:// URL (the URL of the trusted facets list)"),
            ));
        }
    }
    if let Some(facets) = &raw.trusted_facets {
        for facet in facets {
            if !is_facet(facet) {
                return Err(invalid(
                    format!("{key}.trusted_facets"),
                    format!(
                        "`{facet}` is not a facet: write an https:// origin, \
                         android:apk-key-hash:<base64 SHA-1 of the signing certificate> or \
                         ios:bundle-id:<bundle id>"
                    ),
                ));
            }
        }
    }
    let accepted_aaids = raw.accepted_aaids.unwrap_or_default();
    if let Some(bad) = accepted_aaids.iter().find(|a| !is_aaid(a)) {
        return Err(invalid(
            format!("{key}.accepted_aaids"),
            format!(
                "`{bad}` is not an AAID: write four hex digits, #, four hex digits (\"4e4e#4005\")"
            ),
        ));
    }
    let criteria = |list: Vec<RawCriteria>, name: &str| {
        list.into_iter()
            .enumerate()
            .map(|(i, raw)| criteria(raw, &format!("{key}.{name}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut tls_server_certificates = Vec::new();
    for path in &raw.tls_server_certificates {
        let certificates = certificates(path)
            .map_err(|why| invalid(format!("{key}.tls_server_certificates"), why))?;
        tls_server_certificates.extend(certificates);
    }
    let require_channel_binding = raw.require_channel_binding.unwrap_or(false);
    if require_channel_binding && tls_server_certificates.is_empty() {
        return Err(invalid(
            format!("{key}.require_channel_binding"),
            "needs tls_server_certificates: the certificates the apps' channel bindings must name",
        ));
    }
    Ok(UafSettings {
        app_id: raw.app_id,
        trusted_facets: raw.trusted_facets,
        accepted_aaids,
        accepted: criteria(raw.accepted, "accepted")?,
        disallowed: criteria(raw.disallowed, "disallowed")?,
        require_basic_full: raw.require_basic_full.unwrap_or(false),
        tls_server_certificates,
        require_channel_binding,
    })
}

/// The DER certificates of a PEM file (one or more `CERTIFICATE` blocks; other blocks are
/// skipped), each checked to parse as X.509.
fn certificates(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    use der::Decode as _;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::CertificateDer;
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut out = Vec::new();
    for block in CertificateDer::pem_slice_iter(&pem) {
        let der = block.map_err(|e| format!("{shown}: not PEM certificates ({e})"))?;
        x509_cert::Certificate::from_der(&der)
            .map_err(|e| format!("{shown}: certificate {} is not X.509 ({e})", out.len() + 1))?;
        out.push(der.to_vec());
    }
    if out.is_empty() {
        return Err(format!("{shown}: holds no certificate"));
    }
    Ok(out)
}

fn criteria(raw: RawCriteria, key: &str) -> Result<UafCriteria, ConfigError> {
    if let Some(bad) = raw.aaid.iter().find(|a| !is_aaid(a)) {
        return Err(invalid(
            format!("{key}.aaid"),
            format!(
                "`{bad}` is not an AAID: write four hex digits, #, four hex digits (\"4e4e#4005\")"
            ),
        ));
    }
    if let Some(bad) = raw
        .vendor_id
        .iter()
        .find(|v| v.len() != 4 || !v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(invalid(
            format!("{key}.vendor_id"),
            format!("`{bad}` is not a vendor id: write the four hex digits before an AAID's #"),
        ));
    }
    let bits = |names: &[String], flags: Flags, member: &str| {
        flags
            .parse(names)
            .map_err(|why| invalid(format!("{key}.{member}"), why))
    };
    let c = UafCriteria {
        user_verification: bits(
            &raw.user_verification,
            USER_VERIFICATION,
            "user_verification",
        )?,
        key_protection: bits(&raw.key_protection, KEY_PROTECTION, "key_protection")?,
        matcher_protection: bits(
            &raw.matcher_protection,
            MATCHER_PROTECTION,
            "matcher_protection",
        )?,
        attachment_hint: bits(&raw.attachment_hint, ATTACHMENT_HINT, "attachment_hint")?,
        tc_display: bits(&raw.tc_display, TC_DISPLAY, "tc_display")?,
        aaid: raw.aaid,
        vendor_id: raw.vendor_id,
    };
    if c == UafCriteria::default() {
        return Err(invalid(
            key.to_string(),
            "names nothing to match: set aaid, vendor_id, user_verification, key_protection, \
             matcher_protection, attachment_hint or tc_display",
        ));
    }
    Ok(c)
}

fn is_https_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
}

fn is_facet(text: &str) -> bool {
    if let Some(hash) = text.strip_prefix("android:apk-key-hash:") {
        // Standard base64 (with padding) of a 20-byte SHA-1: 28 characters.
        use base64::Engine;
        return base64::engine::general_purpose::STANDARD
            .decode(hash)
            .is_ok_and(|h| h.len() == 20);
    }
    if let Some(bundle) = text.strip_prefix("ios:bundle-id:") {
        return !bundle.is_empty()
            && bundle
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    }
    url::Url::parse(text).is_ok_and(|u| {
        u.scheme() == "https" && u.origin().ascii_serialization() == text.trim_end_matches('/')
    })
}

/// `VVVV#MMMM`: four hex digits, `#`, four hex digits.
pub fn is_aaid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 9
        && b[4] == b'#'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Option<RawUaf> {
        Some(toml::from_str(text).unwrap())
    }

    #[test]
    fn each_key_is_checked_and_absent_ones_default() {
        assert_eq!(uaf(None, "t").unwrap(), UafSettings::default());
        let s = uaf(
            raw("app_id = \"https://bank.example/uaf/facets\"\ntrusted_facets = [\"https://bank.example\", \"android:apk-key-hash:2jmj7l5rSw0yVb/vlWAYkK/YBwk=\", \"ios:bundle-id:com.bank.app\"]\naccepted_aaids = [\"4e4e#4005\"]\nrequire_basic_full = true\n"),
            "t",
        )
        .unwrap();
        assert_eq!(s.app_id.as_deref(), Some("https://bank.example/uaf/facets"));
        assert_eq!(s.trusted_facets.unwrap().len(), 3);
        assert_eq!(s.accepted_aaids, ["4e4e#4005"]);
        assert!(s.require_basic_full);
        for (bad, key) in [
            ("app_id = \"http://bank.example/f\"", "t.app_id"),
            (
                "trusted_facets = [\"http://bank.example\"]",
                "t.trusted_facets",
            ),
            (
                "trusted_facets = [\"https://bank.example/path\"]",
                "t.trusted_facets",
            ),
            (
                "trusted_facets = [\"android:apk-key-hash:AAAA\"]",
                "t.trusted_facets",
            ),
            ("trusted_facets = [\"ios:bundle-id:\"]", "t.trusted_facets"),
            ("accepted_aaids = [\"4e4e-4005\"]", "t.accepted_aaids"),
            ("accepted_aaids = [\"4e4e#400\"]", "t.accepted_aaids"),
        ] {
            let err = uaf(raw(bad), "t").unwrap_err();
            assert_eq!(err.key(), Some(key), "{bad}");
        }
    }

    #[test]
    fn accepted_and_disallowed_criteria_are_read_as_registry_bits() {
        let s = uaf(
            raw("[[accepted]]\nkey_protection = [\"hardware\", \"secure_element\"]\nuser_verification = [\"fingerprint\", \"all\", \"passcode\"]\nattachment_hint = [\"internal\"]\n\
                 [[accepted]]\naaid = [\"4E4E#4005\"]\nvendor_id = [\"ABCD\"]\nmatcher_protection = [\"on_chip\"]\ntc_display = [\"hardware\"]\n\
                 [[disallowed]]\nkey_protection = [\"software\"]\n"),
            "t",
        )
        .unwrap();
        assert_eq!(
            s.accepted,
            [
                UafCriteria {
                    key_protection: 0xa,
                    user_verification: 0x406,
                    attachment_hint: 0x1,
                    ..UafCriteria::default()
                },
                UafCriteria {
                    aaid: vec!["4E4E#4005".into()],
                    vendor_id: vec!["ABCD".into()],
                    matcher_protection: 0x4,
                    tc_display: 0x8,
                    ..UafCriteria::default()
                }
            ]
        );
        assert_eq!(
            s.disallowed,
            [UafCriteria {
                key_protection: 0x1,
                ..UafCriteria::default()
            }]
        );
        for (bad, key) in [
            ("[[accepted]]\naaid = [\"4e4e\"]", "t.accepted[0].aaid"),
            ("[[accepted]]\nvendor_id = [\"4e4e#\"]", "t.accepted[0].vendor_id"),
            ("[[accepted]]\nvendor_id = [\"4e4g\"]", "t.accepted[0].vendor_id"),
            ("[[accepted]]\nvendor_id = [\"4e4\"]", "t.accepted[0].vendor_id"),
            ("[[accepted]]\nkey_protection = [\"hardware\"]\n[[accepted]]\nkey_protection = [\"steel\"]", "t.accepted[1].key_protection"),
            ("[[disallowed]]\nuser_verification = [\"dna\"]", "t.disallowed[0].user_verification"),
            ("[[disallowed]]\nmatcher_protection = [\"hardware\"]", "t.disallowed[0].matcher_protection"),
            ("[[disallowed]]\nattachment_hint = [\"usb\"]", "t.disallowed[0].attachment_hint"),
            ("[[disallowed]]\ntc_display = [\"screen\"]", "t.disallowed[0].tc_display"),
            ("[[accepted]]\nkey_protection = []", "t.accepted[0]"),
        ] {
            let err = uaf(raw(bad), "t").unwrap_err();
            assert_eq!(err.key(), Some(key), "{bad}");
        }
        assert!(toml::from_str::<RawUaf>("[[accepted]]\nkeyProtection = [\"tee\"]").is_err());
    }

    #[test]
    fn tls_server_certificates_are_read_from_pem_files_and_required_binding_needs_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let make = |name: &str| {
            rcgen::CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap()
        };
        let (a, b) = (make("bank.example"), make("www.bank.example"));
        let both = dir.path().join("both.pem");
        std::fs::write(&both, format!("{}{}", a.pem(), b.pem())).unwrap();
        let s = uaf(
            raw(&format!(
                "tls_server_certificates = [{:?}]\nrequire_channel_binding = true\n",
                both.display().to_string()
            )),
            "t",
        )
        .unwrap();
        assert_eq!(
            s.tls_server_certificates,
            [a.der().to_vec(), b.der().to_vec()]
        );
        assert!(s.require_channel_binding);

        let text = dir.path().join("text.pem");
        std::fs::write(&text, "not a certificate").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("missing.pem");
        for (file, says) in [
            (&text, "holds no certificate"),
            (&garbage, "certificate 1 is not X.509"),
            (&broken, "not PEM certificates"),
            (&empty, "holds no certificate"),
            (&missing, "missing.pem: "),
        ] {
            let err = uaf(
                raw(&format!(
                    "tls_server_certificates = [{:?}]",
                    file.display().to_string()
                )),
                "t",
            )
            .unwrap_err();
            assert_eq!(err.key(), Some("t.tls_server_certificates"));
            assert!(err.to_string().contains(says), "{err}");
        }
        let err = uaf(raw("require_channel_binding = true"), "t").unwrap_err();
        assert_eq!(err.key(), Some("t.require_channel_binding"));
    }
}
