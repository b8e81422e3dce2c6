//! `[tenants.uaf]`: how a tenant's FIDO UAF 1.1 server behaves — its AppID (`app_id`, by default
//! `https://<rp_id>/<access_path>/uaf/facets`), the facets its apps may run as
//! (`trusted_facets`, by default the tenant's `https://` origins), the AAIDs it accepts
//! (`accepted_aaids`, empty: any whose registration verifies) and whether it requires basic full
//! attestation (`require_basic_full`).

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UafSettings {
    /// `None`: `https://<rp_id>/<access_path>/uaf/facets`.
    pub app_id: Option<String>,
    /// `None`: the tenant's `https://` origins.
    pub trusted_facets: Option<Vec<String>>,
    /// AAIDs (`VVVV#MMMM`, hex, any case as written; compared ignoring case); empty: any.
    pub accepted_aaids: Vec<String>,
    pub require_basic_full: bool,
}

/// `[tenants.uaf]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUaf {
    app_id: Option<String>,
    trusted_facets: Option<Vec<String>>,
    accepted_aaids: Option<Vec<String>>,
    require_basic_full: Option<bool>,
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
    Ok(UafSettings {
        app_id: raw.app_id,
        trusted_facets: raw.trusted_facets,
        accepted_aaids,
        require_basic_full: raw.require_basic_full.unwrap_or(false),
    })
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
}
