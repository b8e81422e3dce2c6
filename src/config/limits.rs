//! How long, how many and from where: `[session]`, `[lockout]`, `[rate_limits]`, `[ceremony]`
//! (challenge lifetimes, the signature-counter policy), `[cors]` and `[proxy]` (with `IpRange`).

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{
    RawCeremony, RawCors, RawLockout, RawPasswords, RawProxy, RawRateLimits, RawSession,
};
use super::relying_party::{is_local, web_origin_url, web_origins, RelyingPartySettings};
use super::secret::SessionKeyBytes;
use super::{
    duration, invalid, positive, required, ConfigError, MAX_CEREMONY_TIMEOUT, MAX_DURATION,
};

#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Never longer than `max_lifetime`.
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// Cookies without `Secure`; true only when every http(s) origin is localhost or loopback.
    pub insecure_cookies: bool,
    /// `session.key`: the cookie key every node of a cluster shares. `None`: the node keeps its
    /// own key in a file of its data directory.
    pub key: Option<SessionKeyBytes>,
}

#[derive(Clone, Debug)]
pub struct LockoutSettings {
    pub max_failures: u32,
    pub lock_duration: Duration,
    /// A username's failure count lapses this long after its last failed attempt.
    pub failure_window: Duration,
    pub table_size: usize,
}

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub window: Duration,
    pub per_address: u32,
    pub per_username: u32,
    /// Requests per window with one tenant API key.
    pub per_api_key: u32,
    pub password_hash_concurrency: usize,
}

/// The argon2id parameters of new password hashes (stored hashes keep their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordSettings {
    /// Memory per hash in KiB (OWASP: 19456, i.e. 19 MiB).
    pub memory_kib: u32,
    /// Passes over the memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

#[derive(Clone, Debug)]
pub struct CorsSettings {
    /// Exact normalised origins (`scheme://host[:port]`); empty: no CORS headers.
    pub allowed_origins: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ProxySettings {
    pub trusted_proxies: Vec<IpRange>,
    /// The header (lowercase) in which a trusted proxy passes the client certificate it
    /// verified (URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`); `None`: not taken.
    pub client_cert_header: Option<String>,
}

impl ProxySettings {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|range| range.contains(ip))
    }
}

/// One address or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or a CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        let range = Self { network, prefix };
        let masked = range.masked(network);
        if masked != network {
            return Err(format!(
                "`{text}` has bits set past its prefix; write `{masked}/{prefix}`"
            ));
        }
        Ok(range)
    }

    /// Whether `ip` is in the range; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
    /// dual-stack listener reports IPv4 peers) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct CeremonySettings {
    pub timeout: Duration,
    pub conditional_timeout: Duration,
    pub sign_counter_policy: SignCounterPolicy,
    /// The most credentials one user of the `default` tenant may have (Loginapp self-service
    /// and sign-up); `[[tenants]]` have their own `max_keys_per_user`.
    pub max_credentials_per_user: u32,
}

/// What to do with an assertion whose signature counter did not grow (either value non-zero):
/// a possibly cloned authenticator. Always audited as `SIGN_COUNTER_REGRESSION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignCounterPolicy {
    /// `"refuse"`: the assertion fails.
    Refuse,
    /// `"audit"`: the assertion passes; the regression is only audited.
    Audit,
    /// `"ignore-when-backup-eligible"`: passes for backup-eligible (synced) credentials, whose
    /// counters need not grow; refused for the others.
    IgnoreWhenBackupEligible,
}

pub(super) fn session(
    raw: RawSession,
    relying_party: &RelyingPartySettings,
) -> Result<SessionSettings, ConfigError> {
    let session = SessionSettings {
        idle_timeout: duration(raw.idle_timeout, "session.idle_timeout", MAX_DURATION)?,
        max_lifetime: duration(raw.max_lifetime, "session.max_lifetime", MAX_DURATION)?,
        insecure_cookies: required(raw.insecure_cookies, "session.insecure_cookies")?,
        key: raw
            .key
            .map(|text| super::secret::session_key(&text, "session.key"))
            .transpose()?,
    };
    if session.idle_timeout > session.max_lifetime {
        return Err(invalid(
            "session.idle_timeout",
            "is longer than session.max_lifetime; a session cannot be idle longer than it lives",
        ));
    }
    if session.insecure_cookies {
        for origin in &relying_party.origins {
            if let Some(url) = web_origin_url(origin) {
                if !is_local(&url) {
                    return Err(invalid(
                        "session.insecure_cookies",
                        format!(
                            "true is allowed only when every origin is http(s)://localhost or a \
                             loopback address, and `{origin}` is not; set \
                             session.insecure_cookies = false (or FIDOFLOW_INSECURE_COOKIES=false)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(session)
}

pub(super) fn lockout(raw: RawLockout) -> Result<LockoutSettings, ConfigError> {
    Ok(LockoutSettings {
        max_failures: positive(raw.max_failures, "lockout.max_failures")?,
        lock_duration: duration(raw.lock_duration, "lockout.lock_duration", MAX_DURATION)?,
        failure_window: duration(raw.failure_window, "lockout.failure_window", MAX_DURATION)?,
        table_size: positive(raw.table_size, "lockout.table_size")?,
    })
}

pub(super) fn rate_limits(raw: RawRateLimits) -> Result<RateLimitSettings, ConfigError> {
    Ok(RateLimitSettings {
        enabled: required(raw.enabled, "rate_limits.enabled")?,
        window: duration(raw.window, "rate_limits.window", MAX_DURATION)?,
        per_address: positive(raw.per_address, "rate_limits.per_address")?,
        per_username: positive(raw.per_username, "rate_limits.per_username")?,
        per_api_key: positive(raw.per_api_key, "rate_limits.per_api_key")?,
        password_hash_concurrency: positive(
            raw.password_hash_concurrency,
            "rate_limits.password_hash_concurrency",
        )?,
    })
}

/// At most 1 GiB per hash: each of `rate_limits.password_hash_concurrency` hashing threads keeps
/// that much.
const MAX_PASSWORD_MEMORY_KIB: u32 = 1024 * 1024;

pub(super) fn passwords(raw: RawPasswords) -> Result<PasswordSettings, ConfigError> {
    let memory_kib = positive(raw.memory_kib, "passwords.memory_kib")?;
    let parallelism = positive(raw.parallelism, "passwords.parallelism")?;
    if !(8 * parallelism..=MAX_PASSWORD_MEMORY_KIB).contains(&memory_kib) {
        return Err(invalid(
            "passwords.memory_kib",
            format!(
                "must be from 8 × parallelism ({}) to {MAX_PASSWORD_MEMORY_KIB} KiB",
                8 * parallelism
            ),
        ));
    }
    if parallelism > 64 {
        return Err(invalid("passwords.parallelism", "must be from 1 to 64"));
    }
    Ok(PasswordSettings {
        memory_kib,
        iterations: positive(raw.iterations, "passwords.iterations")?,
        parallelism,
    })
}

pub(super) fn cors(raw: RawCors) -> Result<CorsSettings, ConfigError> {
    Ok(CorsSettings {
        allowed_origins: web_origins(
            required(raw.allowed_origins, "cors.allowed_origins")?,
            "cors.allowed_origins",
        )?,
    })
}

pub(super) fn proxy(raw: RawProxy) -> Result<ProxySettings, ConfigError> {
    Ok(ProxySettings {
        trusted_proxies: required(raw.trusted_proxies, "proxy.trusted_proxies")?
            .iter()
            .map(|text| IpRange::parse(text).map_err(|why| invalid("proxy.trusted_proxies", why)))
            .collect::<Result<_, _>>()?,
        client_cert_header: match raw
            .client_cert_header
            .map(|h| h.trim().to_ascii_lowercase())
        {
            None => None,
            Some(h) if h.is_empty() => None,
            Some(h) if actix_web::http::header::HeaderName::from_bytes(h.as_bytes()).is_err() => {
                return Err(invalid(
                    "proxy.client_cert_header",
                    format!("`{h}` is not an HTTP header name"),
                ))
            }
            Some(h) => Some(h),
        },
    })
}

pub(super) fn ceremony(raw: RawCeremony) -> Result<CeremonySettings, ConfigError> {
    Ok(CeremonySettings {
        timeout: duration(raw.timeout, "ceremony.timeout", MAX_CEREMONY_TIMEOUT)?,
        conditional_timeout: duration(
            raw.conditional_timeout,
            "ceremony.conditional_timeout",
            MAX_CEREMONY_TIMEOUT,
        )?,
        sign_counter_policy: required(raw.sign_counter_policy, "ceremony.sign_counter_policy")?,
        max_credentials_per_user: positive(
            raw.max_credentials_per_user,
            "ceremony.max_credentials_per_user",
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;
    use super::*;

    /// Base64 of 64 bytes, as `openssl rand -base64 64` prints it (wrapped after 64 characters).
    fn session_key_text(bytes: &[u8]) -> String {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        format!("{}\n{}", &text[..64], &text[64..])
    }

    #[test]
    fn without_a_session_key_the_node_keeps_its_own() {
        assert!(parse("").unwrap().session.key.is_none());
    }

    #[test]
    fn a_session_key_of_64_bytes_is_read_from_the_file_or_the_environment() {
        let bytes = [0xa5u8; 64];
        let text = session_key_text(&bytes);
        let s = parse(&format!("[session]\nkey = \"\"\"\n{text}\n\"\"\"\n")).unwrap();
        assert_eq!(s.session.key.unwrap().as_bytes(), &bytes[..]);
        let s = Settings::from_toml_str("", &env(&[("FIDOFLOW_SESSION_KEY", &text)])).unwrap();
        assert_eq!(s.session.key.unwrap().as_bytes(), &bytes[..]);
        let url_safe = text.replace('\n', "").replace('+', "-").replace('/', "_");
        let s = parse(&format!(
            "[session]\nkey = \"{}\"\n",
            url_safe.trim_end_matches('=')
        ))
        .unwrap();
        assert_eq!(s.session.key.unwrap().as_bytes(), &bytes[..]);
    }

    #[test]
    fn a_session_key_not_of_64_bytes_or_not_base64_is_refused_saying_how_to_make_one() {
        use base64::Engine;
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let long = base64::engine::general_purpose::STANDARD.encode([7u8; 65]);
        for text in [
            short.as_str(),
            long.as_str(),
            "not base64!",
            "",
            "s3cr3t-but-not-base64==",
        ] {
            let (key, message) = refused(&format!("[session]\nkey = \"{text}\"\n"));
            assert_eq!(key, "session.key", "{text}");
            assert!(message.contains("openssl rand -base64 64"), "{message}");
            if !text.is_empty() {
                assert!(!message.contains(text), "{message}");
            }
            let error =
                Settings::from_toml_str("", &env(&[("FIDOFLOW_SESSION_KEY", text)])).unwrap_err();
            assert_eq!(error.key(), Some("FIDOFLOW_SESSION_KEY"), "{text}");
        }
    }

    #[test]
    fn debug_never_shows_the_session_key() {
        let bytes: Vec<u8> = (0..64).collect();
        let text = session_key_text(&bytes);
        let s = parse(&format!(
            "[session]\nkey = \"{}\"\n",
            text.replace('\n', "")
        ))
        .unwrap();
        let key = s.session.key.clone().unwrap();
        assert_eq!(format!("{key:?}"), "SessionKeyBytes(***)");
        let shown = format!("{s:?}");
        assert!(shown.contains("SessionKeyBytes(***)"), "{shown}");
        assert!(
            !shown.contains(&text[..16]) && !shown.contains("[0, 1, 2"),
            "{shown}"
        );
    }

    #[test]
    fn an_idle_timeout_longer_than_the_session_lifetime_is_refused() {
        assert_eq!(
            refusal_key("[session]\nidle_timeout = \"9h\"\nmax_lifetime = \"8h\"\n"),
            "session.idle_timeout"
        );
    }

    #[test]
    fn insecure_cookies_with_a_public_origin_are_refused() {
        let text = "[relying_party]\nid = \"example.org\"\norigins = [\"https://example.org\"]\n\
                    [session]\ninsecure_cookies = true\n";
        assert_eq!(refusal_key(text), "session.insecure_cookies");
        // The shipped default is true, so a public deployment must say false.
        let vars = env(&[
            ("FIDOFLOW_RP_ID", "example.org"),
            ("FIDOFLOW_ORIGINS", "https://example.org"),
        ]);
        let error = Settings::from_toml_str("", &vars).unwrap_err();
        assert_eq!(error.key(), Some("session.insecure_cookies"));
        assert!(
            error
                .to_string()
                .contains("FIDOFLOW_INSECURE_COOKIES=false"),
            "{error}"
        );
    }

    #[test]
    fn insecure_cookies_on_localhost_are_accepted() {
        let text =
            "[relying_party]\norigins = [\"https://localhost:8443\", \"http://localhost:8080\", \
                    \"android:apk-key-hash:abc\"]\n";
        assert!(parse(text).unwrap().session.insecure_cookies);
    }

    #[test]
    fn cors_origins_are_exact_and_wildcards_are_refused() {
        for bad in [
            "*",
            "https://*.example.org",
            "https://example.org/app",
            "http://example.org",
        ] {
            let text = public(&format!("[cors]\nallowed_origins = [\"{bad}\"]\n"));
            assert_eq!(refusal_key(&text), "cors.allowed_origins", "{bad}");
        }
        let text = public("[cors]\nallowed_origins = [\"https://App.Example.com/\"]\n");
        assert_eq!(
            parse(&text).unwrap().cors.allowed_origins,
            vec!["https://app.example.com"]
        );
    }

    #[test]
    fn the_credential_limit_is_32_by_default_and_must_be_positive() {
        assert_eq!(parse("").unwrap().ceremony.max_credentials_per_user, 32);
        let text = "[ceremony]\nmax_credentials_per_user = 5\n";
        assert_eq!(parse(text).unwrap().ceremony.max_credentials_per_user, 5);
        assert_eq!(
            refusal_key("[ceremony]\nmax_credentials_per_user = 0\n"),
            "ceremony.max_credentials_per_user"
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_ranges() {
        let s = parse(
            "[proxy]\ntrusted_proxies = [\"10.0.0.1\", \"::1\", \"172.16.0.0/12\", \"fd00::/8\"]\n",
        )
        .unwrap();
        let p = &s.proxy;
        assert_eq!(p.trusted_proxies.len(), 4);
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(p.is_trusted(ip("10.0.0.1")));
        assert!(!p.is_trusted(ip("10.0.0.2")));
        assert!(p.is_trusted(ip("172.31.255.254")));
        assert!(!p.is_trusted(ip("172.32.0.1")));
        assert!(p.is_trusted(ip("::ffff:172.16.0.9")), "IPv4-mapped");
        assert!(p.is_trusted(ip("fd12::1")));
        assert!(!p.is_trusted(ip("fe80::1")));
        assert!(p.is_trusted(ip("::1")));
        let everything = IpRange::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(ip("203.0.113.7")));
        assert!(!everything.contains(ip("2001:db8::1")));
        for (bad, why) in [
            ("10.0.0.1/8", "write `10.0.0.0/8`"),
            ("10.0.0.0/33", "0 to 32"),
            ("fd00::/129", "0 to 128"),
            ("proxy.example", "not an IP address"),
        ] {
            let text = format!("[proxy]\ntrusted_proxies = [\"{bad}\"]\n");
            assert_eq!(refusal_key(&text), "proxy.trusted_proxies");
            assert!(refusal(&text).to_string().contains(why), "{bad}");
        }
    }
}
