//! `[relying_party]` and a tenant's relying party: the RP ID (a registrable domain), its name,
//! the origins a ceremony may come from (http(s) origins on the RP ID, Android app origins) and
//! the client data types it accepts (`client_data_types`);
//! also the parsing of web origins that `[cors]` and the session's cookie check use.

use std::net::IpAddr;

use url::{Host, Url};

use super::client_data_types::{client_data_types, WEBAUTHN_CREATE, WEBAUTHN_GET};
use super::raw::RawRelyingParty;
use super::{invalid, required, ConfigError};

const ANDROID_ORIGIN_PREFIX: &str = "android:apk-key-hash:";

#[derive(Clone, Debug)]
pub struct RelyingPartySettings {
    /// A lowercase domain that is not a public suffix; every http(s) origin is on it.
    pub id: String,
    pub name: String,
    /// Normalised: `scheme://host[:port]` without a trailing slash, or `android:apk-key-hash:…`
    /// verbatim. Never empty, no duplicates.
    pub origins: Vec<String>,
    pub allow_cross_origin: bool,
    /// Normalised like `origins`; empty unless `allow_cross_origin`.
    pub top_origins: Vec<String>,
    /// The `clientDataJSON.type` values a registration may carry: `["webauthn.create"]` unless
    /// the operator lists others. Never empty, never `webauthn.get`.
    pub expected_registration_types: Vec<String>,
    /// The `clientDataJSON.type` values a sign-in or approval may carry: `["webauthn.get"]`
    /// unless the operator lists others. Never empty, never `webauthn.create`. A transaction's
    /// approval keeps `webauthn.get` (a Secure Payment Confirmation `payment.get`) whatever this
    /// says: its evidence names the type.
    pub expected_authentication_types: Vec<String>,
}

/// The keys a relying party is read from, as refusals name them: `[relying_party]`'s, or a
/// `[[tenants]]` entry's.
pub(super) struct RpKeys {
    id: String,
    name: String,
    origins: String,
    allow_cross_origin: String,
    top_origins: String,
    expected_registration_types: String,
    expected_authentication_types: String,
}

impl RpKeys {
    pub(super) fn global() -> RpKeys {
        RpKeys {
            id: "relying_party.id".into(),
            name: "relying_party.name".into(),
            origins: "relying_party.origins".into(),
            allow_cross_origin: "relying_party.allow_cross_origin".into(),
            top_origins: "relying_party.top_origins".into(),
            expected_registration_types: "relying_party.expected_registration_types".into(),
            expected_authentication_types: "relying_party.expected_authentication_types".into(),
        }
    }

    /// `tenants[index].rp_id`, `….rp_name`, `….origins`, `….allow_cross_origin`, `….top_origins`,
    /// `….expected_registration_types`, `….expected_authentication_types`.
    pub(super) fn tenant(index: usize) -> RpKeys {
        let key = |leaf: &str| format!("tenants[{index}].{leaf}");
        RpKeys {
            id: key("rp_id"),
            name: key("rp_name"),
            origins: key("origins"),
            allow_cross_origin: key("allow_cross_origin"),
            top_origins: key("top_origins"),
            expected_registration_types: key("expected_registration_types"),
            expected_authentication_types: key("expected_authentication_types"),
        }
    }
}

pub(super) fn relying_party(
    raw: RawRelyingParty,
    keys: &RpKeys,
) -> Result<RelyingPartySettings, ConfigError> {
    let id = required(raw.id, &keys.id)?;
    check_rp_id(&id, &keys.id)?;

    let name = required(raw.name, &keys.name)?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(invalid(
            &keys.name,
            "must be 1 to 64 characters without control characters",
        ));
    }

    let mut origins = Vec::new();
    let listed = raw.origins.ok_or_else(|| {
        invalid(
            &keys.origins,
            format!(
                "is not set; list the origins the pages are served from, e.g. https://{id} (one \
                 is derived from server.bind only for the RP ID localhost)"
            ),
        )
    })?;
    for origin in listed {
        let origin = origin.trim();
        let normalised = if let Some(hash) = origin.strip_prefix(ANDROID_ORIGIN_PREFIX) {
            if hash.is_empty() {
                return Err(invalid(
                    &keys.origins,
                    format!("`{origin}` lacks the hash of the app's signing certificate"),
                ));
            }
            origin.to_owned()
        } else {
            let url = parse_web_origin(origin, &keys.origins)?;
            check_origin_on_rp_id(&url, &id, keys)?;
            url.origin().ascii_serialization()
        };
        if !origins.contains(&normalised) {
            origins.push(normalised);
        }
    }
    if origins.is_empty() {
        return Err(invalid(
            &keys.origins,
            "is empty; list the origin the pages are served from, e.g. https://example.com",
        ));
    }

    let allow_cross_origin = required(raw.allow_cross_origin, &keys.allow_cross_origin)?;
    let top_origins = web_origins(
        required(raw.top_origins, &keys.top_origins)?,
        &keys.top_origins,
    )?;
    if !allow_cross_origin && !top_origins.is_empty() {
        return Err(invalid(
            &keys.top_origins,
            format!("is set but {} is false", keys.allow_cross_origin),
        ));
    }

    let types = |list: Option<Vec<String>>, key: &str, own: &str, other: &str| {
        client_data_types(required(list, key)?, own, other).map_err(|message| invalid(key, message))
    };
    Ok(RelyingPartySettings {
        id,
        name,
        origins,
        allow_cross_origin,
        top_origins,
        expected_registration_types: types(
            raw.expected_registration_types,
            &keys.expected_registration_types,
            WEBAUTHN_CREATE,
            WEBAUTHN_GET,
        )?,
        expected_authentication_types: types(
            raw.expected_authentication_types,
            &keys.expected_authentication_types,
            WEBAUTHN_GET,
            WEBAUTHN_CREATE,
        )?,
    })
}

fn check_rp_id(id: &str, key: &str) -> Result<(), ConfigError> {
    if id.is_empty() {
        return Err(invalid(
            key,
            "is empty; set it to the domain of the origins, e.g. example.com",
        ));
    }
    let unbracketed = id.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok()
        || matches!(Host::parse(id), Ok(Host::Ipv4(_) | Host::Ipv6(_)))
    {
        return Err(invalid(
            key,
            format!("`{id}` is an IP address; an RP ID must be a domain"),
        ));
    }
    if id.contains("://") {
        return Err(invalid(
            key,
            format!("`{id}` is an origin; an RP ID is only the domain, such as example.com"),
        ));
    }
    if !id.is_ascii() {
        let hint = match Host::parse(id) {
            Ok(Host::Domain(ascii)) => format!("; write it as `{ascii}`"),
            _ => String::new(),
        };
        return Err(invalid(
            key,
            format!("`{id}` is not an ASCII domain name{hint}"),
        ));
    }
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            key,
            format!("`{id}` must be lowercase: `{}`", id.to_ascii_lowercase()),
        ));
    }
    let well_formed = id.len() <= 253
        && id.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !well_formed {
        return Err(invalid(
            key,
            format!("`{id}` is not a domain name (dot-separated labels of a-z, 0-9 and -)"),
        ));
    }
    if id != "localhost" && psl::suffix_str(id) == Some(id) {
        return Err(invalid(
            key,
            format!(
                "`{id}` is a public suffix; an RP ID must be a domain registered under it, \
                 such as example.{id}"
            ),
        ));
    }
    Ok(())
}

/// Parses an http(s) origin: https for any host, http only for localhost and loopback; nothing
/// after the host and port but an optional "/".
pub(super) fn parse_web_origin(text: &str, key: &str) -> Result<Url, ConfigError> {
    let shape = "write scheme://host[:port], e.g. https://example.com";
    if text.contains('*') {
        return Err(invalid(
            key,
            format!("`{text}`: wildcards are refused; list every origin exactly"),
        ));
    }
    if !text.contains("://") {
        return Err(invalid(key, format!("`{text}` is not an origin; {shape}")));
    }
    let url = Url::parse(text)
        .map_err(|e| invalid(key, format!("`{text}` is not an origin ({e}); {shape}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            key,
            format!(
                "`{text}` has scheme `{}`; an origin is https (or http on localhost)",
                url.scheme()
            ),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            format!("`{text}` carries a user name or password; {shape}"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            key,
            format!("`{text}` has a path, query or fragment; {shape}"),
        ));
    }
    if url.host().is_none() {
        return Err(invalid(key, format!("`{text}` has no host; {shape}")));
    }
    if url.scheme() == "http" && !is_local(&url) {
        return Err(invalid(
            key,
            format!("`{text}`: plain http is allowed only for localhost and loopback addresses; use https"),
        ));
    }
    Ok(url)
}

/// A list of exact http(s) origins, normalised and without duplicates.
pub(super) fn web_origins(texts: Vec<String>, key: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for text in texts {
        let normalised = parse_web_origin(text.trim(), key)?
            .origin()
            .ascii_serialization();
        if !origins.contains(&normalised) {
            origins.push(normalised);
        }
    }
    Ok(origins)
}

/// The URL of a normalised http(s) origin; `None` for an app origin.
pub(super) fn web_origin_url(origin: &str) -> Option<Url> {
    if origin.starts_with(ANDROID_ORIGIN_PREFIX) {
        return None;
    }
    Url::parse(origin).ok()
}

/// `localhost` or a loopback address (127.0.0.0/8, ::1).
pub(super) fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_origin_on_rp_id(url: &Url, rp_id: &str, keys: &RpKeys) -> Result<(), ConfigError> {
    let origin = url.origin().ascii_serialization();
    match url.host() {
        Some(Host::Domain(host)) if host == rp_id || host.ends_with(&format!(".{rp_id}")) => Ok(()),
        Some(Host::Domain(host)) => Err(invalid(
            &keys.origins,
            format!(
                "`{origin}`: its host `{host}` is neither {} `{rp_id}` nor a subdomain of it",
                keys.id
            ),
        )),
        _ => Err(invalid(
            &keys.origins,
            format!(
                "`{origin}` has an IP address as host; WebAuthn needs a domain, such as \
                 http://localhost:8080"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;

    #[test]
    fn an_rp_id_that_is_an_ip_address_is_refused() {
        let error = refusal(&rp("1.2.3.4", "[\"https://1.2.3.4\"]"));
        assert_eq!(
            error.to_string(),
            "relying_party.id: `1.2.3.4` is an IP address; an RP ID must be a domain"
        );
        for id in ["::1", "[::1]", "127.1"] {
            assert_eq!(
                refusal_key(&rp(id, "[\"https://example.org\"]")),
                "relying_party.id",
                "{id}"
            );
        }
    }

    #[test]
    fn an_empty_rp_id_is_refused() {
        assert_eq!(
            refusal_key(&rp("", "[\"https://example.org\"]")),
            "relying_party.id"
        );
    }

    #[test]
    fn an_rp_id_that_is_not_a_lowercase_domain_is_refused() {
        for id in [
            "Example.org",
            "example.org.",
            "-a.example.org",
            "exa mple.org",
            "https://example.org",
            "bücher.ch",
        ] {
            assert_eq!(
                refusal_key(&rp(id, "[\"https://example.org\"]")),
                "relying_party.id",
                "{id}"
            );
        }
        let error = refusal(&rp("bücher.ch", "[\"https://xn--bcher-kva.ch\"]"));
        assert!(error.to_string().contains("xn--bcher-kva.ch"), "{error}");
    }

    #[test]
    fn an_rp_id_that_is_a_public_suffix_is_refused() {
        for id in ["com", "co.uk", "github.io", "intranet"] {
            let error = refusal(&rp(id, &format!("[\"https://a.{id}\"]")));
            assert_eq!(error.key(), Some("relying_party.id"), "{id}");
            assert!(error.to_string().contains("public suffix"), "{error}");
        }
    }

    #[test]
    fn localhost_and_registrable_domains_are_acceptable_rp_ids() {
        assert!(parse(&rp("localhost", "[\"https://localhost:8443\"]")).is_ok());
        assert!(parse(&rp("example.co.uk", "[\"https://example.co.uk\"]")).is_ok());
        assert!(parse(&rp("me.github.io", "[\"https://me.github.io\"]")).is_ok());
    }

    #[test]
    fn an_origin_outside_the_rp_id_is_refused() {
        let error = refusal(&rp("example.org", "[\"https://badexample.org\"]"));
        assert_eq!(error.key(), Some("relying_party.origins"));
        assert!(error.to_string().contains("badexample.org"), "{error}");
        assert_eq!(
            refusal_key(&rp("login.example.org", "[\"https://example.org\"]")),
            "relying_party.origins"
        );
    }

    #[test]
    fn an_origin_on_the_rp_id_or_a_subdomain_of_it_is_accepted() {
        let s = parse(&rp(
            "example.org",
            "[\"https://example.org\", \"https://a.b.example.org:8443\"]",
        ))
        .unwrap();
        assert_eq!(
            s.relying_party.origins,
            vec!["https://example.org", "https://a.b.example.org:8443"]
        );
    }

    #[test]
    fn a_plain_http_origin_other_than_localhost_is_refused() {
        let error = refusal(&rp("example.org", "[\"http://example.org\"]"));
        assert_eq!(error.key(), Some("relying_party.origins"));
        assert!(error.to_string().contains("http"), "{error}");
    }

    #[test]
    fn a_loopback_address_origin_is_refused_because_webauthn_needs_a_domain() {
        let error = refusal(&rp("localhost", "[\"http://127.0.0.1:8080\"]"));
        assert_eq!(error.key(), Some("relying_party.origins"));
        assert!(error.to_string().contains("IP address"), "{error}");
    }

    #[test]
    fn origins_are_normalised_to_scheme_host_and_port() {
        let s = parse(&rp(
            "example.org",
            "[\"HTTPS://Login.Example.ORG:443/\", \"https://example.org:8443\", \"https://login.example.org\"]",
        ))
        .unwrap();
        assert_eq!(
            s.relying_party.origins,
            vec!["https://login.example.org", "https://example.org:8443"]
        );
        let local = parse("[relying_party]\norigins = [\"http://localhost:8080/\"]\n").unwrap();
        assert_eq!(local.relying_party.origins, vec!["http://localhost:8080"]);
    }

    #[test]
    fn an_origin_with_a_path_query_fragment_or_user_is_refused() {
        for origin in [
            "https://example.org/login",
            "https://example.org/?a=b",
            "https://example.org/#top",
            "https://example.org?",
            "https://user@example.org",
        ] {
            let key = refusal_key(&rp("example.org", &format!("[\"{origin}\"]")));
            assert_eq!(key, "relying_party.origins", "{origin}");
        }
    }

    #[test]
    fn an_origin_without_an_http_scheme_is_refused() {
        for origin in [
            "example.org",
            "example.org:443",
            "ftp://example.org",
            "null",
        ] {
            let key = refusal_key(&rp("example.org", &format!("[\"{origin}\"]")));
            assert_eq!(key, "relying_party.origins", "{origin}");
        }
    }

    #[test]
    fn an_android_app_origin_is_accepted_verbatim() {
        let app = "android:apk-key-hash:Abc-_123XYZ";
        let s = parse(&rp(
            "example.org",
            &format!("[\"https://example.org\", \"{app}\"]"),
        ))
        .unwrap();
        assert_eq!(s.relying_party.origins, vec!["https://example.org", app]);
        assert_eq!(
            refusal_key(&rp("example.org", "[\"android:apk-key-hash:\"]")),
            "relying_party.origins"
        );
    }

    #[test]
    fn no_origin_at_all_is_refused() {
        assert_eq!(
            refusal_key(&rp("example.org", "[]")),
            "relying_party.origins"
        );
        let vars = env(&[("FIDOFLOW_ORIGINS", " , ")]);
        assert_eq!(
            Settings::from_toml_str("", &vars).unwrap_err().key(),
            Some("relying_party.origins")
        );
    }

    #[test]
    fn top_origins_need_cross_origin_to_be_allowed() {
        let refused = public("").replace(
            "origins = [\"https://login.example.org\"]",
            "origins = [\"https://login.example.org\"]\ntop_origins = [\"https://portal.example.com\"]",
        );
        assert_eq!(refusal_key(&refused), "relying_party.top_origins");
        let accepted = refused.replace("top_origins", "allow_cross_origin = true\ntop_origins");
        let s = parse(&accepted).unwrap();
        assert_eq!(
            s.relying_party.top_origins,
            vec!["https://portal.example.com"]
        );
    }

    #[test]
    fn an_empty_rp_name_is_refused() {
        assert_eq!(
            refusal_key("[relying_party]\nname = \"  \"\n"),
            "relying_party.name"
        );
    }
}
