//! The `Settings` tree: the defaults built in from `fidoflow.toml`, then the operator's file, then
//! the `FIDOFLOW_*` environment, validated once at start and passed by value from there on (no
//! globals, so two servers can run in one process). Every refusal names the key it is about.
//! Secrets are redacted in `Debug`. Imports nothing of the crate but `domain`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use url::{Host, Url};

/// The shipped configuration: the value of every key no file or variable sets.
const DEFAULTS: &str = include_str!("../fidoflow.toml");
const DEFAULTS_LABEL: &str = "the built-in defaults (fidoflow.toml)";

const ANDROID_ORIGIN_PREFIX: &str = "android:apk-key-hash:";
const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap";
const MIN_ADMIN_TOKEN_CHARS: usize = 32;
const DAY: u64 = 24 * 60 * 60;
/// Longest accepted duration; also keeps every duration convertible to chrono without overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * DAY);
/// Longest accepted ceremony timeout (WebAuthn's `timeout` is milliseconds in 32 bits).
const MAX_CEREMONY_TIMEOUT: Duration = Duration::from_secs(DAY);

/// The environment variables fidoflow reads. Any other `FIDOFLOW_*` variable stops the start, so a
/// misspelt one is not silently ignored. `FIDOFLOW_CONFIG` is read by `main` to pick the file.
pub const ENVIRONMENT: &[&str] = &[
    "FIDOFLOW_CONFIG",
    "FIDOFLOW_BIND",
    "FIDOFLOW_DATA_DIR",
    "FIDOFLOW_FLOWS_DIR",
    "FIDOFLOW_STATIC_DIR",
    "FIDOFLOW_RP_ID",
    "FIDOFLOW_RP_NAME",
    "FIDOFLOW_ORIGINS",
    "FIDOFLOW_ATTESTATION_POLICY",
    "FIDOFLOW_TRUST_ANCHORS_DIR",
    "FIDOFLOW_INSECURE_COOKIES",
    "FIDOFLOW_RATE_LIMITS",
    "FIDOFLOW_ADMIN_BIND",
    "FIDOFLOW_ADMIN_TOKEN",
    "FIDOFLOW_MDS_ROOTS",
];

/// The whole configuration, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub relying_party: RelyingPartySettings,
    pub attestation: AttestationSettings,
    pub session: SessionSettings,
    pub lockout: LockoutSettings,
    pub rate_limits: RateLimitSettings,
    pub cors: CorsSettings,
    pub proxy: ProxySettings,
    pub admin: AdminSettings,
    pub ceremony: CeremonySettings,
    pub authenticators: AuthenticatorSettings,
    pub mds: MdsSettings,
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// The public listener.
    pub bind: SocketAddr,
    /// Database and cookie-signing key.
    pub data_dir: PathBuf,
    /// Flow definitions.
    pub flows_dir: PathBuf,
    /// Browser portal and helpdesk page.
    pub static_dir: PathBuf,
}

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
}

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

#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Never longer than `max_lifetime`.
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// Cookies without `Secure`; true only when every http(s) origin is localhost or loopback.
    pub insecure_cookies: bool,
}

#[derive(Clone, Debug)]
pub struct LockoutSettings {
    pub max_failures: u32,
    pub lock_duration: Duration,
    pub table_size: usize,
}

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub window: Duration,
    pub per_address: u32,
    pub per_username: u32,
    pub password_hash_concurrency: usize,
}

#[derive(Clone, Debug)]
pub struct CorsSettings {
    /// Exact normalised origins (`scheme://host[:port]`); empty: no CORS headers.
    pub allowed_origins: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ProxySettings {
    pub trusted_proxies: Vec<IpRange>,
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
pub struct AdminSettings {
    /// When set, `/rest/admin` is served on this listener instead of `server.bind`.
    pub bind: Option<SocketAddr>,
    /// Unique names and unique hashes.
    pub tokens: Vec<AdminToken>,
}

#[derive(Clone, Debug)]
pub struct CeremonySettings {
    pub timeout: Duration,
    pub conditional_timeout: Duration,
    pub sign_counter_policy: SignCounterPolicy,
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

/// Operator-supplied authenticator model names, consulted before the built-in table.
#[derive(Clone, Debug, Default)]
pub struct AuthenticatorSettings {
    /// Lowercase hyphenated AAGUID → model name (a valid display name).
    pub names: BTreeMap<String, String>,
}

/// A bearer token for `/rest/admin`, kept only as the SHA-256 of the token text.
#[derive(Clone)]
pub struct AdminToken {
    pub name: String,
    pub role: AdminRole,
    pub sha256: [u8; 32],
}

impl AdminToken {
    /// A token entry for the given token text (hashes it); handy for tests.
    pub fn from_token(name: &str, role: AdminRole, token: &str) -> AdminToken {
        AdminToken {
            name: name.to_owned(),
            role,
            sha256: sha256(token.as_bytes()),
        }
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("sha256", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Read, disable, enable and delete credentials, unlock users.
    Helpdesk,
    /// Everything the helpdesk may, and create and delete users.
    Admin,
}

impl AdminRole {
    /// Whether a token with this role may do what `required` may.
    pub fn allows(self, required: AdminRole) -> bool {
        match required {
            AdminRole::Helpdesk => true,
            AdminRole::Admin => self == AdminRole::Admin,
        }
    }
}

/// Why the configuration was refused; the start stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not TOML or has an unknown key or a value of the wrong type.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// A value was refused; `key` is its TOML path or environment variable.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// The key or environment variable a refusal is about.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } | ConfigError::Parse { .. } => None,
        }
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Settings {
    /// Embedded defaults (`fidoflow.toml`), then the file at `path` if any, then environment
    /// overrides from `env`, then validation.
    pub fn load(
        path: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Some((path.display().to_string(), text))
            }
            None => None,
        };
        assemble(
            file.as_ref()
                .map(|(label, text)| (label.as_str(), text.as_str())),
            env,
        )
    }

    /// The defaults overlaid by `text` (a configuration file's content) and then by `env`,
    /// validated.
    pub fn from_toml_str(
        text: &str,
        env: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        assemble(Some(("configuration", text)), env)
    }

    /// Validated defaults for tests: port 0, the given data directory, this crate's `flows/` and
    /// `static/`, insecure cookies (the origin stays `http://localhost:8080`), rate limits off.
    pub fn for_tests(data_dir: &Path) -> Settings {
        let mut settings =
            assemble(None, &HashMap::new()).expect("the built-in defaults are valid");
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        settings.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.server.data_dir = data_dir.to_owned();
        settings.server.flows_dir = manifest_dir.join("flows");
        settings.server.static_dir = manifest_dir.join("static");
        settings.session.insecure_cookies = true;
        settings.rate_limits.enabled = false;
        settings
    }

    /// The configured token whose hash is the SHA-256 of `presented`, if any. Compares against
    /// every token in constant time, without stopping at a match.
    pub fn is_admin_token(&self, presented: &str) -> Option<&AdminToken> {
        let digest = sha256(presented.as_bytes());
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, token) in self.admin.tokens.iter().enumerate() {
            let equal = token.sha256.ct_eq(&digest);
            index = u64::conditional_select(&index, &(i as u64), equal);
            found |= equal;
        }
        if bool::from(found) {
            self.admin.tokens.get(index as usize)
        } else {
            None
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn assemble(
    file: Option<(&str, &str)>,
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let mut raw = parse_raw(DEFAULTS_LABEL, DEFAULTS)?;
    if let Some((label, text)) = file {
        raw = raw.overlay(parse_raw(label, text)?);
    }
    let bootstrap = apply_env(&mut raw, env)?;
    resolve(raw, bootstrap.as_deref())
}

// ---------------------------------------------------------------------------------------------
// The file as written: every key optional, unknown keys refused.

fn parse_raw(label: &str, text: &str) -> Result<RawFile, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Parse {
        file: label.to_owned(),
        message: error.to_string(),
    })
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    relying_party: RawRelyingParty,
    #[serde(default)]
    attestation: RawAttestation,
    #[serde(default)]
    session: RawSession,
    #[serde(default)]
    lockout: RawLockout,
    #[serde(default)]
    rate_limits: RawRateLimits,
    #[serde(default)]
    cors: RawCors,
    #[serde(default)]
    proxy: RawProxy,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    ceremony: RawCeremony,
    #[serde(default)]
    authenticators: RawAuthenticators,
    #[serde(default)]
    mds: RawMds,
}

impl RawFile {
    /// `top`'s keys where set, else `self`'s.
    fn overlay(self, top: RawFile) -> RawFile {
        RawFile {
            server: self.server.overlay(top.server),
            relying_party: self.relying_party.overlay(top.relying_party),
            attestation: self.attestation.overlay(top.attestation),
            session: self.session.overlay(top.session),
            lockout: self.lockout.overlay(top.lockout),
            rate_limits: self.rate_limits.overlay(top.rate_limits),
            cors: self.cors.overlay(top.cors),
            proxy: self.proxy.overlay(top.proxy),
            admin: self.admin.overlay(top.admin),
            ceremony: self.ceremony.overlay(top.ceremony),
            authenticators: self.authenticators.overlay(top.authenticators),
            mds: self.mds.overlay(top.mds),
        }
    }
}

/// Declares a section of optional keys and its overlay.
macro_rules! raw_section {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($field: Option<$ty>,)*
        }

        impl $name {
            fn overlay(self, top: $name) -> $name {
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
});
raw_section!(RawRelyingParty {
    id: String,
    name: String,
    origins: Vec<String>,
    allow_cross_origin: bool,
    top_origins: Vec<String>,
});
raw_section!(RawAttestation {
    policy: AttestationPolicyKind,
    trust_anchors_dir: PathBuf,
    aaguid_allow_list: Vec<String>,
    minimum_certification_level: String,
    accept_unknown_formats: bool,
});
raw_section!(RawSession {
    idle_timeout: DurationText,
    max_lifetime: DurationText,
    insecure_cookies: bool,
});
raw_section!(RawLockout {
    max_failures: u32,
    lock_duration: DurationText,
    table_size: usize,
});
raw_section!(RawRateLimits {
    enabled: bool,
    window: DurationText,
    per_address: u32,
    per_username: u32,
    password_hash_concurrency: usize,
});
raw_section!(RawCors {
    allowed_origins: Vec<String>,
});
raw_section!(RawProxy {
    trusted_proxies: Vec<String>,
});
raw_section!(RawAdmin {
    bind: SocketAddr,
    tokens: Vec<RawToken>,
});
raw_section!(RawCeremony {
    timeout: DurationText,
    conditional_timeout: DurationText,
    sign_counter_policy: SignCounterPolicy,
});
raw_section!(RawAuthenticators {
    names: BTreeMap<String, String>,
});
raw_section!(RawMds {
    roots: Vec<PathBuf>,
    crls: Vec<PathBuf>,
    check_at_login: bool,
});

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    role: AdminRole,
    sha256: String,
}

/// A duration as written: `"15m"`, `"300s"`, `"300"` or `300`; parsed when its key is known.
struct DurationText(String);

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
fn parse_duration(text: &str) -> Option<Duration> {
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

// ---------------------------------------------------------------------------------------------
// The environment.

/// Writes the `FIDOFLOW_*` overrides into `raw`; returns the bootstrap admin token, if any.
fn apply_env(
    raw: &mut RawFile,
    env: &HashMap<String, String>,
) -> Result<Option<String>, ConfigError> {
    let mut names: Vec<&String> = env.keys().filter(|k| k.starts_with("FIDOFLOW_")).collect();
    names.sort();
    let mut bootstrap = None;
    for name in names {
        let value = env[name].as_str();
        let trimmed = value.trim();
        match name.as_str() {
            "FIDOFLOW_CONFIG" => {}
            "FIDOFLOW_BIND" => raw.server.bind = Some(env_socket_addr(name, trimmed)?),
            "FIDOFLOW_DATA_DIR" => raw.server.data_dir = Some(PathBuf::from(trimmed)),
            "FIDOFLOW_FLOWS_DIR" => raw.server.flows_dir = Some(PathBuf::from(trimmed)),
            "FIDOFLOW_STATIC_DIR" => raw.server.static_dir = Some(PathBuf::from(trimmed)),
            "FIDOFLOW_RP_ID" => raw.relying_party.id = Some(trimmed.to_owned()),
            "FIDOFLOW_RP_NAME" => raw.relying_party.name = Some(trimmed.to_owned()),
            "FIDOFLOW_ORIGINS" => {
                raw.relying_party.origins = Some(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|origin| !origin.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "FIDOFLOW_ATTESTATION_POLICY" => {
                raw.attestation.policy = Some(match trimmed {
                    "accept-any" => AttestationPolicyKind::AcceptAny,
                    "require-trusted" => AttestationPolicyKind::RequireTrusted,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{trimmed}` is neither `accept-any` nor `require-trusted`"),
                        ))
                    }
                })
            }
            "FIDOFLOW_TRUST_ANCHORS_DIR" => {
                raw.attestation.trust_anchors_dir =
                    (!trimmed.is_empty()).then(|| PathBuf::from(trimmed))
            }
            "FIDOFLOW_INSECURE_COOKIES" => {
                raw.session.insecure_cookies = Some(match trimmed {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{trimmed}` is neither `true` nor `false`"),
                        ))
                    }
                })
            }
            "FIDOFLOW_RATE_LIMITS" => {
                raw.rate_limits.enabled = Some(match trimmed {
                    "on" => true,
                    "off" => false,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{trimmed}` is neither `on` nor `off`"),
                        ))
                    }
                })
            }
            "FIDOFLOW_ADMIN_BIND" => {
                raw.admin.bind = if trimmed.is_empty() {
                    None
                } else {
                    Some(env_socket_addr(name, trimmed)?)
                }
            }
            "FIDOFLOW_ADMIN_TOKEN" => bootstrap = Some(value.to_owned()),
            "FIDOFLOW_MDS_ROOTS" => {
                raw.mds.roots = Some(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|path| !path.is_empty())
                        .map(PathBuf::from)
                        .collect(),
                )
            }
            _ => {
                return Err(invalid(
                    name.as_str(),
                    format!(
                        "unknown environment variable; fidoflow reads only {}",
                        ENVIRONMENT.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(bootstrap)
}

fn env_socket_addr(name: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        invalid(
            name,
            format!("`{value}` is not an address and port such as 127.0.0.1:8080"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Validation: from what was written to `Settings`.

fn resolve(raw: RawFile, bootstrap: Option<&str>) -> Result<Settings, ConfigError> {
    let server = ServerSettings {
        bind: required(raw.server.bind, "server.bind")?,
        data_dir: directory_path(raw.server.data_dir, "server.data_dir")?,
        flows_dir: directory_path(raw.server.flows_dir, "server.flows_dir")?,
        static_dir: directory_path(raw.server.static_dir, "server.static_dir")?,
    };
    let relying_party = relying_party(raw.relying_party)?;

    let trust_anchors_dir = raw.attestation.trust_anchors_dir;
    if let Some(dir) = &trust_anchors_dir {
        if !dir.is_dir() {
            return Err(invalid(
                "attestation.trust_anchors_dir",
                format!("`{}` is not an existing directory", dir.display()),
            ));
        }
    }
    let attestation = AttestationSettings {
        policy: required(raw.attestation.policy, "attestation.policy")?,
        trust_anchors_dir,
        aaguid_allow_list: aaguid_allow_list(required(
            raw.attestation.aaguid_allow_list,
            "attestation.aaguid_allow_list",
        )?)?,
        minimum_certification_level: match raw.attestation.minimum_certification_level {
            Some(level) if CERTIFICATION_LEVELS.contains(&level.as_str()) => Some(level),
            Some(level) => {
                return Err(invalid(
                    "attestation.minimum_certification_level",
                    format!("`{level}` is none of {}", CERTIFICATION_LEVELS.join(", ")),
                ))
            }
            None => None,
        },
        accept_unknown_formats: required(
            raw.attestation.accept_unknown_formats,
            "attestation.accept_unknown_formats",
        )?,
    };

    let session = SessionSettings {
        idle_timeout: duration(
            raw.session.idle_timeout,
            "session.idle_timeout",
            MAX_DURATION,
        )?,
        max_lifetime: duration(
            raw.session.max_lifetime,
            "session.max_lifetime",
            MAX_DURATION,
        )?,
        insecure_cookies: required(raw.session.insecure_cookies, "session.insecure_cookies")?,
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

    let lockout = LockoutSettings {
        max_failures: positive(raw.lockout.max_failures, "lockout.max_failures")?,
        lock_duration: duration(
            raw.lockout.lock_duration,
            "lockout.lock_duration",
            MAX_DURATION,
        )?,
        table_size: positive(raw.lockout.table_size, "lockout.table_size")?,
    };

    let rate_limits = RateLimitSettings {
        enabled: required(raw.rate_limits.enabled, "rate_limits.enabled")?,
        window: duration(raw.rate_limits.window, "rate_limits.window", MAX_DURATION)?,
        per_address: positive(raw.rate_limits.per_address, "rate_limits.per_address")?,
        per_username: positive(raw.rate_limits.per_username, "rate_limits.per_username")?,
        password_hash_concurrency: positive(
            raw.rate_limits.password_hash_concurrency,
            "rate_limits.password_hash_concurrency",
        )?,
    };

    let cors = CorsSettings {
        allowed_origins: web_origins(
            required(raw.cors.allowed_origins, "cors.allowed_origins")?,
            "cors.allowed_origins",
        )?,
    };

    let proxy = ProxySettings {
        trusted_proxies: required(raw.proxy.trusted_proxies, "proxy.trusted_proxies")?
            .iter()
            .map(|text| IpRange::parse(text).map_err(|why| invalid("proxy.trusted_proxies", why)))
            .collect::<Result<_, _>>()?,
    };

    let admin_bind = raw.admin.bind;
    if let Some(bind) = admin_bind {
        if bind == server.bind && bind.port() != 0 {
            return Err(invalid(
                "admin.bind",
                format!(
                    "`{bind}` is server.bind too; give the admin listener its own address or port"
                ),
            ));
        }
    }
    let admin = AdminSettings {
        bind: admin_bind,
        tokens: admin_tokens(raw.admin.tokens.unwrap_or_default(), bootstrap)?,
    };

    let ceremony = CeremonySettings {
        timeout: duration(
            raw.ceremony.timeout,
            "ceremony.timeout",
            MAX_CEREMONY_TIMEOUT,
        )?,
        conditional_timeout: duration(
            raw.ceremony.conditional_timeout,
            "ceremony.conditional_timeout",
            MAX_CEREMONY_TIMEOUT,
        )?,
        sign_counter_policy: required(
            raw.ceremony.sign_counter_policy,
            "ceremony.sign_counter_policy",
        )?,
    };

    let authenticators = AuthenticatorSettings {
        names: authenticator_names(raw.authenticators.names.unwrap_or_default())?,
    };

    let mds = MdsSettings {
        roots: existing_files(required(raw.mds.roots, "mds.roots")?, "mds.roots")?,
        crls: existing_files(required(raw.mds.crls, "mds.crls")?, "mds.crls")?,
        check_at_login: required(raw.mds.check_at_login, "mds.check_at_login")?,
    };

    Ok(Settings {
        server,
        relying_party,
        attestation,
        session,
        lockout,
        rate_limits,
        cors,
        proxy,
        admin,
        ceremony,
        authenticators,
        mds,
    })
}

/// The FIDO certification levels, lowest first.
const CERTIFICATION_LEVELS: [&str; 6] = ["L1", "L1+", "L2", "L2+", "L3", "L3+"];

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `attestation.aaguid_allow_list`: UUIDs (any case), kept lowercase, no duplicates.
fn aaguid_allow_list(raw: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut list: Vec<String> = Vec::with_capacity(raw.len());
    for aaguid in raw {
        let normalised = aaguid.trim().to_ascii_lowercase();
        if !is_uuid(&normalised) {
            return Err(invalid(
                "attestation.aaguid_allow_list",
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
        let is_uuid = normalised.len() == 36
            && normalised.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        if !is_uuid {
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

fn required<T>(value: Option<T>, key: &str) -> Result<T, ConfigError> {
    value.ok_or_else(|| invalid(key, "is missing"))
}

fn directory_path(value: Option<PathBuf>, key: &str) -> Result<PathBuf, ConfigError> {
    let path = required(value, key)?;
    if path.as_os_str().is_empty() {
        return Err(invalid(
            key,
            "is empty; give a directory (\".\" for the current one)",
        ));
    }
    Ok(path)
}

fn positive<T: Default + PartialEq>(value: Option<T>, key: &str) -> Result<T, ConfigError> {
    let value = required(value, key)?;
    if value == T::default() {
        return Err(invalid(key, "must be greater than zero"));
    }
    Ok(value)
}

fn duration(
    value: Option<DurationText>,
    key: &str,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let DurationText(text) = required(value, key)?;
    let duration = parse_duration(&text).ok_or_else(|| {
        invalid(
            key,
            format!(
                "`{text}` is not a duration; write an integer followed by s, m, h or d \
                 (\"90s\", \"15m\", \"8h\", \"1d\") or an integer number of seconds"
            ),
        )
    })?;
    if duration.is_zero() {
        return Err(invalid(key, "a zero duration is refused"));
    }
    if duration > max {
        return Err(invalid(
            key,
            format!(
                "`{text}` is longer than the most allowed, {}s",
                max.as_secs()
            ),
        ));
    }
    Ok(duration)
}

fn relying_party(raw: RawRelyingParty) -> Result<RelyingPartySettings, ConfigError> {
    let id = required(raw.id, "relying_party.id")?;
    check_rp_id(&id)?;

    let name = required(raw.name, "relying_party.name")?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(invalid(
            "relying_party.name",
            "must be 1 to 64 characters without control characters",
        ));
    }

    let mut origins = Vec::new();
    for origin in required(raw.origins, "relying_party.origins")? {
        let origin = origin.trim();
        let normalised = if let Some(hash) = origin.strip_prefix(ANDROID_ORIGIN_PREFIX) {
            if hash.is_empty() {
                return Err(invalid(
                    "relying_party.origins",
                    format!("`{origin}` lacks the hash of the app's signing certificate"),
                ));
            }
            origin.to_owned()
        } else {
            let url = parse_web_origin(origin, "relying_party.origins")?;
            check_origin_on_rp_id(&url, &id)?;
            url.origin().ascii_serialization()
        };
        if !origins.contains(&normalised) {
            origins.push(normalised);
        }
    }
    if origins.is_empty() {
        return Err(invalid(
            "relying_party.origins",
            "is empty; list the origin the pages are served from, e.g. https://example.com",
        ));
    }

    let allow_cross_origin = required(raw.allow_cross_origin, "relying_party.allow_cross_origin")?;
    let top_origins = web_origins(
        required(raw.top_origins, "relying_party.top_origins")?,
        "relying_party.top_origins",
    )?;
    if !allow_cross_origin && !top_origins.is_empty() {
        return Err(invalid(
            "relying_party.top_origins",
            "is set but relying_party.allow_cross_origin is false",
        ));
    }

    Ok(RelyingPartySettings {
        id,
        name,
        origins,
        allow_cross_origin,
        top_origins,
    })
}

fn check_rp_id(id: &str) -> Result<(), ConfigError> {
    const KEY: &str = "relying_party.id";
    if id.is_empty() {
        return Err(invalid(
            KEY,
            "is empty; set it to the domain of the origins, e.g. example.com",
        ));
    }
    let unbracketed = id.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok()
        || matches!(Host::parse(id), Ok(Host::Ipv4(_) | Host::Ipv6(_)))
    {
        return Err(invalid(
            KEY,
            format!("`{id}` is an IP address; an RP ID must be a domain"),
        ));
    }
    if id.contains("://") {
        return Err(invalid(
            KEY,
            format!("`{id}` is an origin; an RP ID is only the domain, such as example.com"),
        ));
    }
    if !id.is_ascii() {
        let hint = match Host::parse(id) {
            Ok(Host::Domain(ascii)) => format!("; write it as `{ascii}`"),
            _ => String::new(),
        };
        return Err(invalid(
            KEY,
            format!("`{id}` is not an ASCII domain name{hint}"),
        ));
    }
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            KEY,
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
            KEY,
            format!("`{id}` is not a domain name (dot-separated labels of a-z, 0-9 and -)"),
        ));
    }
    if id != "localhost" && psl::suffix_str(id) == Some(id) {
        return Err(invalid(
            KEY,
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
fn parse_web_origin(text: &str, key: &str) -> Result<Url, ConfigError> {
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
fn web_origins(texts: Vec<String>, key: &str) -> Result<Vec<String>, ConfigError> {
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
fn web_origin_url(origin: &str) -> Option<Url> {
    if origin.starts_with(ANDROID_ORIGIN_PREFIX) {
        return None;
    }
    Url::parse(origin).ok()
}

/// `localhost` or a loopback address (127.0.0.0/8, ::1).
fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_origin_on_rp_id(url: &Url, rp_id: &str) -> Result<(), ConfigError> {
    const KEY: &str = "relying_party.origins";
    let origin = url.origin().ascii_serialization();
    match url.host() {
        Some(Host::Domain(host)) if host == rp_id || host.ends_with(&format!(".{rp_id}")) => Ok(()),
        Some(Host::Domain(host)) => Err(invalid(
            KEY,
            format!(
                "`{origin}`: its host `{host}` is neither relying_party.id `{rp_id}` nor a \
                 subdomain of it"
            ),
        )),
        _ => Err(invalid(
            KEY,
            format!(
                "`{origin}` has an IP address as host; WebAuthn needs a domain, such as \
                 http://localhost:8080"
            ),
        )),
    }
}

fn admin_tokens(
    raw: Vec<RawToken>,
    bootstrap: Option<&str>,
) -> Result<Vec<AdminToken>, ConfigError> {
    let mut tokens = Vec::with_capacity(raw.len() + 1);
    for (i, token) in raw.into_iter().enumerate() {
        let name_ok = (1..=64).contains(&token.name.len())
            && token
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(invalid(
                format!("admin.tokens[{i}].name"),
                format!(
                    "`{}` must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
                    token.name
                ),
            ));
        }
        let sha256 = parse_sha256_hex(token.sha256.trim()).ok_or_else(|| {
            invalid(
                format!("admin.tokens[{i}].sha256"),
                "must be 64 hexadecimal characters: the SHA-256 of the token, e.g. from \
                 `printf %s \"$TOKEN\" | sha256sum`",
            )
        })?;
        tokens.push(AdminToken {
            name: token.name,
            role: token.role,
            sha256,
        });
    }
    if let Some(token) = bootstrap {
        if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(invalid(
                "FIDOFLOW_ADMIN_TOKEN",
                format!("is shorter than {MIN_ADMIN_TOKEN_CHARS} characters; use at least 32 random characters"),
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "FIDOFLOW_ADMIN_TOKEN",
                "must be printable ASCII without spaces (it travels in an Authorization header)",
            ));
        }
        tokens.push(AdminToken::from_token(
            BOOTSTRAP_TOKEN_NAME,
            AdminRole::Admin,
            token,
        ));
    }
    let mut names = HashSet::new();
    let mut hashes = HashSet::new();
    for token in &tokens {
        if !names.insert(token.name.as_str()) {
            let also = if token.name == BOOTSTRAP_TOKEN_NAME && bootstrap.is_some() {
                " (FIDOFLOW_ADMIN_TOKEN adds a token of that name)"
            } else {
                ""
            };
            return Err(invalid(
                "admin.tokens",
                format!("two tokens are named `{}`{also}", token.name),
            ));
        }
        if !hashes.insert(token.sha256) {
            return Err(invalid(
                "admin.tokens",
                format!(
                    "token `{}` has the same sha256 as another token",
                    token.name
                ),
            ));
        }
    }
    Ok(tokens)
}

fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_A: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const HASH_B: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

    fn no_env() -> HashMap<String, String> {
        HashMap::new()
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml_str(text, &no_env())
    }

    fn refusal(text: &str) -> ConfigError {
        parse(text).expect_err("the configuration should be refused")
    }

    fn refusal_key(text: &str) -> String {
        refusal(text)
            .key()
            .expect("a refusal names its key")
            .to_owned()
    }

    /// A public deployment: https origin on a real domain, secure cookies.
    fn public(extra: &str) -> String {
        format!(
            "[relying_party]\nid = \"example.org\"\norigins = [\"https://login.example.org\"]\n\
             [session]\ninsecure_cookies = false\n{extra}"
        )
    }

    fn rp(id: &str, origins: &str) -> String {
        format!(
            "[relying_party]\nid = \"{id}\"\norigins = {origins}\n[session]\ninsecure_cookies = false\n"
        )
    }

    #[test]
    fn the_built_in_defaults_serve_plain_http_on_localhost() {
        let s = parse("").unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.server.data_dir, PathBuf::from("./data"));
        assert_eq!(s.server.flows_dir, PathBuf::from("./flows"));
        assert_eq!(s.server.static_dir, PathBuf::from("./static"));
        assert_eq!(s.relying_party.id, "localhost");
        assert_eq!(s.relying_party.name, "fidoflow");
        assert_eq!(s.relying_party.origins, vec!["http://localhost:8080"]);
        assert!(!s.relying_party.allow_cross_origin);
        assert!(s.relying_party.top_origins.is_empty());
        assert_eq!(s.attestation.policy, AttestationPolicyKind::AcceptAny);
        assert_eq!(s.attestation.trust_anchors_dir, None);
        assert_eq!(s.session.idle_timeout, Duration::from_secs(15 * 60));
        assert_eq!(s.session.max_lifetime, Duration::from_secs(8 * 3600));
        assert!(s.session.insecure_cookies);
        assert_eq!(s.lockout.max_failures, 5);
        assert_eq!(s.lockout.lock_duration, Duration::from_secs(300));
        assert_eq!(s.lockout.table_size, 100_000);
        assert!(s.rate_limits.enabled);
        assert_eq!(s.rate_limits.window, Duration::from_secs(60));
        assert_eq!(s.rate_limits.per_address, 120);
        assert_eq!(s.rate_limits.per_username, 30);
        assert_eq!(s.rate_limits.password_hash_concurrency, 4);
        assert!(s.cors.allowed_origins.is_empty());
        assert!(s.proxy.trusted_proxies.is_empty());
        assert_eq!(s.admin.bind, None);
        assert!(s.admin.tokens.is_empty());
        assert_eq!(s.ceremony.timeout, Duration::from_secs(300));
        assert_eq!(s.ceremony.conditional_timeout, Duration::from_secs(600));
    }

    #[test]
    fn the_built_in_defaults_set_every_key_but_the_optional_ones() {
        let raw = parse_raw(DEFAULTS_LABEL, DEFAULTS).unwrap();
        assert!(raw.server.bind.is_some() && raw.server.static_dir.is_some());
        assert!(raw.relying_party.top_origins.is_some());
        assert!(raw.attestation.trust_anchors_dir.is_none());
        assert!(raw.admin.bind.is_none() && raw.admin.tokens.is_none());
    }

    #[test]
    fn the_shipped_file_with_its_examples_uncommented_still_parses() {
        let uncommented: String = DEFAULTS
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with("[[")
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
        assert_eq!(raw.admin.tokens.map(|tokens| tokens.len()), Some(1));
        assert!(parse(DEFAULTS).is_ok());
    }

    #[test]
    fn load_without_a_file_gives_the_defaults() {
        let s = Settings::load(None, &no_env()).unwrap();
        assert_eq!(s.relying_party.id, "localhost");
    }

    #[test]
    fn load_reads_the_file_on_top_of_the_defaults() {
        let path =
            std::env::temp_dir().join(format!("fidoflow-config-test-{}.toml", std::process::id()));
        std::fs::write(&path, "[lockout]\nmax_failures = 9\n").unwrap();
        let s = Settings::load(Some(&path), &no_env());
        std::fs::remove_file(&path).unwrap();
        let s = s.unwrap();
        assert_eq!(s.lockout.max_failures, 9);
        assert_eq!(s.lockout.table_size, 100_000);
    }

    #[test]
    fn a_missing_file_is_refused_naming_it() {
        let path = Path::new("/nonexistent/fidoflow.toml");
        let error = Settings::load(Some(path), &no_env()).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }));
        assert!(error.to_string().contains("/nonexistent/fidoflow.toml"));
    }

    #[test]
    fn a_file_overrides_only_the_keys_it_sets() {
        let s = parse("[rate_limits]\nper_address = 7\n").unwrap();
        assert_eq!(s.rate_limits.per_address, 7);
        assert_eq!(s.rate_limits.per_username, 30);
        assert!(s.rate_limits.enabled);
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
    fn the_environment_overrides_the_file() {
        let vars = env(&[
            ("FIDOFLOW_BIND", "0.0.0.0:9000"),
            ("FIDOFLOW_DATA_DIR", "/var/lib/fidoflow"),
            ("FIDOFLOW_FLOWS_DIR", "/etc/fidoflow/flows"),
            ("FIDOFLOW_STATIC_DIR", "/usr/share/fidoflow"),
            ("FIDOFLOW_RP_ID", "example.org"),
            ("FIDOFLOW_RP_NAME", "Example"),
            (
                "FIDOFLOW_ORIGINS",
                "https://example.org, https://login.example.org/",
            ),
            ("FIDOFLOW_INSECURE_COOKIES", "false"),
            ("FIDOFLOW_RATE_LIMITS", "off"),
            ("FIDOFLOW_ATTESTATION_POLICY", "require-trusted"),
            ("FIDOFLOW_ADMIN_BIND", "127.0.0.1:9001"),
            ("FIDOFLOW_CONFIG", "/etc/fidoflow/fidoflow.toml"),
        ]);
        let s = Settings::from_toml_str("[server]\nbind = \"127.0.0.1:1234\"\n", &vars).unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(s.server.data_dir, PathBuf::from("/var/lib/fidoflow"));
        assert_eq!(s.server.flows_dir, PathBuf::from("/etc/fidoflow/flows"));
        assert_eq!(s.server.static_dir, PathBuf::from("/usr/share/fidoflow"));
        assert_eq!(s.relying_party.id, "example.org");
        assert_eq!(s.relying_party.name, "Example");
        assert_eq!(
            s.relying_party.origins,
            vec!["https://example.org", "https://login.example.org"]
        );
        assert!(!s.session.insecure_cookies);
        assert!(!s.rate_limits.enabled);
        assert_eq!(s.attestation.policy, AttestationPolicyKind::RequireTrusted);
        assert_eq!(s.admin.bind, Some("127.0.0.1:9001".parse().unwrap()));
    }

    #[test]
    fn an_empty_admin_bind_variable_clears_the_file_setting() {
        let vars = env(&[("FIDOFLOW_ADMIN_BIND", "")]);
        let s = Settings::from_toml_str("[admin]\nbind = \"127.0.0.1:9001\"\n", &vars).unwrap();
        assert_eq!(s.admin.bind, None);
    }

    #[test]
    fn an_unknown_environment_variable_is_refused() {
        let error =
            Settings::from_toml_str("", &env(&[("FIDOFLOW_RATE_LIMIT", "off")])).unwrap_err();
        assert_eq!(error.key(), Some("FIDOFLOW_RATE_LIMIT"));
        let unrelated = env(&[("PATH", "/bin"), ("RUST_LOG", "debug")]);
        assert!(Settings::from_toml_str("", &unrelated).is_ok());
    }

    #[test]
    fn an_unreadable_environment_value_is_refused_naming_the_variable() {
        for (name, value) in [
            ("FIDOFLOW_BIND", "localhost"),
            ("FIDOFLOW_ADMIN_BIND", "8081"),
            ("FIDOFLOW_INSECURE_COOKIES", "yes"),
            ("FIDOFLOW_RATE_LIMITS", "false"),
            ("FIDOFLOW_ATTESTATION_POLICY", "strict"),
        ] {
            let error = Settings::from_toml_str("", &env(&[(name, value)])).unwrap_err();
            assert_eq!(error.key(), Some(name), "{error}");
        }
    }

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
    fn a_zero_duration_is_refused() {
        for (section, key) in [
            ("session", "idle_timeout"),
            ("session", "max_lifetime"),
            ("lockout", "lock_duration"),
            ("rate_limits", "window"),
            ("ceremony", "timeout"),
            ("ceremony", "conditional_timeout"),
        ] {
            for zero in ["\"0s\"", "0", "\"0\""] {
                let error = refusal(&format!("[{section}]\n{key} = {zero}\n"));
                assert_eq!(error.key(), Some(format!("{section}.{key}").as_str()));
                assert!(error.to_string().contains("zero"), "{error}");
            }
        }
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

    #[test]
    fn an_unreadable_duration_is_refused_naming_the_key() {
        let error = refusal("[lockout]\nlock_duration = \"5 minutes\"\n");
        assert_eq!(error.key(), Some("lockout.lock_duration"));
        assert_eq!(
            refusal_key("[lockout]\nlock_duration = -5\n"),
            "lockout.lock_duration"
        );
    }

    #[test]
    fn an_absurdly_long_duration_is_refused() {
        assert_eq!(
            refusal_key("[session]\nmax_lifetime = \"1000d\"\n"),
            "session.max_lifetime"
        );
        assert_eq!(
            refusal_key("[ceremony]\ntimeout = \"2d\"\n"),
            "ceremony.timeout"
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
    fn zero_counts_and_sizes_are_refused() {
        for (section, key) in [
            ("lockout", "max_failures"),
            ("lockout", "table_size"),
            ("rate_limits", "per_address"),
            ("rate_limits", "per_username"),
            ("rate_limits", "password_hash_concurrency"),
        ] {
            let error = refusal(&format!("[{section}]\n{key} = 0\n"));
            assert_eq!(error.key(), Some(format!("{section}.{key}").as_str()));
        }
    }

    #[test]
    fn admin_tokens_from_the_file_are_recognised_by_their_hash() {
        let token = "correct horse battery staple correct horse";
        let hash: String = sha256(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let text = format!(
            "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             [[admin.tokens]]\nname = \"ops\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
            hash.to_uppercase()
        );
        let s = parse(&text).unwrap();
        let found = s.is_admin_token(token).expect("the token is recognised");
        assert_eq!(found.name, "ops");
        assert_eq!(found.role, AdminRole::Admin);
        assert!(s
            .is_admin_token("correct horse battery staple correct hors")
            .is_none());
        assert!(s.is_admin_token("").is_none());
    }

    #[test]
    fn an_admin_token_hash_that_is_not_64_hex_characters_is_refused() {
        for bad in [
            "abc",
            &HASH_A[..63],
            &format!("{}g", &HASH_A[..63]),
            &format!("+{}", &HASH_A[..63]),
        ] {
            let text = format!(
                "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{bad}\"\n"
            );
            assert_eq!(refusal_key(&text), "admin.tokens[0].sha256", "{bad}");
        }
    }

    #[test]
    fn admin_tokens_with_the_same_name_are_refused() {
        let text = format!(
            "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             [[admin.tokens]]\nname = \"desk\"\nrole = \"admin\"\nsha256 = \"{HASH_B}\"\n"
        );
        assert_eq!(refusal_key(&text), "admin.tokens");
    }

    #[test]
    fn admin_tokens_with_the_same_hash_are_refused() {
        let text = format!(
            "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             [[admin.tokens]]\nname = \"ops\"\nrole = \"admin\"\nsha256 = \"{HASH_A}\"\n"
        );
        assert_eq!(refusal_key(&text), "admin.tokens");
    }

    #[test]
    fn an_admin_token_with_an_unknown_role_or_a_bad_name_is_refused() {
        let text =
            format!("[[admin.tokens]]\nname = \"desk\"\nrole = \"root\"\nsha256 = \"{HASH_A}\"\n");
        assert!(refusal(&text).to_string().contains("root"));
        let text = format!(
            "[[admin.tokens]]\nname = \"a desk\"\nrole = \"admin\"\nsha256 = \"{HASH_A}\"\n"
        );
        assert_eq!(refusal_key(&text), "admin.tokens[0].name");
    }

    #[test]
    fn the_bootstrap_token_is_an_admin_kept_only_as_its_hash() {
        let token = "0123456789abcdefghijklmnopqrstuvwxyz";
        let s = Settings::from_toml_str("", &env(&[("FIDOFLOW_ADMIN_TOKEN", token)])).unwrap();
        assert_eq!(s.admin.tokens.len(), 1);
        let found = s.is_admin_token(token).unwrap();
        assert_eq!(found.name, "bootstrap");
        assert_eq!(found.role, AdminRole::Admin);
        assert_eq!(found.sha256, sha256(token.as_bytes()));
        assert!(!format!("{s:?}").contains(token));
    }

    #[test]
    fn a_short_bootstrap_token_stops_the_start() {
        let short = "0123456789abcdefghijklmnopqrstu"; // 31 characters
        let error =
            Settings::from_toml_str("", &env(&[("FIDOFLOW_ADMIN_TOKEN", short)])).unwrap_err();
        assert_eq!(error.key(), Some("FIDOFLOW_ADMIN_TOKEN"));
        assert!(!error.to_string().contains(short));
        let spaced = "0123456789 abcdefghijklmnopqrstuvwxyz";
        let error =
            Settings::from_toml_str("", &env(&[("FIDOFLOW_ADMIN_TOKEN", spaced)])).unwrap_err();
        assert_eq!(error.key(), Some("FIDOFLOW_ADMIN_TOKEN"));
    }

    #[test]
    fn a_file_token_named_bootstrap_clashes_with_the_bootstrap_token() {
        let text = format!(
            "[[admin.tokens]]\nname = \"bootstrap\"\nrole = \"admin\"\nsha256 = \"{HASH_A}\"\n"
        );
        let vars = env(&[(
            "FIDOFLOW_ADMIN_TOKEN",
            "0123456789abcdefghijklmnopqrstuvwxyz",
        )]);
        assert_eq!(
            Settings::from_toml_str(&text, &vars).unwrap_err().key(),
            Some("admin.tokens")
        );
    }

    #[test]
    fn debug_does_not_print_token_hashes() {
        let text = format!(
            "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_B}\"\n"
        );
        let s = parse(&text).unwrap();
        let debug = format!("{s:?}");
        assert!(debug.contains("desk") && debug.contains("redacted"));
        assert!(
            !debug.contains("255") && !debug.contains("[0, 0"),
            "{debug}"
        );
    }

    #[test]
    fn admin_roles_allow_what_they_should() {
        assert!(AdminRole::Admin.allows(AdminRole::Admin));
        assert!(AdminRole::Admin.allows(AdminRole::Helpdesk));
        assert!(AdminRole::Helpdesk.allows(AdminRole::Helpdesk));
        assert!(!AdminRole::Helpdesk.allows(AdminRole::Admin));
    }

    #[test]
    fn an_admin_listener_on_the_public_address_is_refused() {
        assert_eq!(
            refusal_key("[admin]\nbind = \"127.0.0.1:8080\"\n"),
            "admin.bind"
        );
        assert!(parse("[admin]\nbind = \"127.0.0.1:8081\"\n").is_ok());
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
    fn an_empty_directory_setting_is_refused() {
        let error = Settings::from_toml_str("", &env(&[("FIDOFLOW_DATA_DIR", "")])).unwrap_err();
        assert_eq!(error.key(), Some("server.data_dir"));
    }

    #[test]
    fn an_empty_rp_name_is_refused() {
        assert_eq!(
            refusal_key("[relying_party]\nname = \"  \"\n"),
            "relying_party.name"
        );
    }

    #[test]
    fn test_settings_are_valid_local_and_unlimited() {
        let s = Settings::for_tests(Path::new("/tmp/somewhere"));
        assert_eq!(s.server.bind.port(), 0);
        assert_eq!(s.server.data_dir, PathBuf::from("/tmp/somewhere"));
        assert!(s.server.flows_dir.ends_with("flows") && s.server.flows_dir.is_absolute());
        assert!(s.server.static_dir.ends_with("static") && s.server.static_dir.is_absolute());
        assert!(s.session.insecure_cookies);
        assert!(!s.rate_limits.enabled);
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

    #[test]
    fn from_token_hashes_the_token() {
        let token = AdminToken::from_token("t", AdminRole::Helpdesk, "secret");
        assert_eq!(token.sha256, sha256(b"secret"));
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

    /// Every key, as written in the file and in the README.
    const KEYS: &[&str] = &[
        "server.bind",
        "server.data_dir",
        "server.flows_dir",
        "server.static_dir",
        "relying_party.id",
        "relying_party.name",
        "relying_party.origins",
        "relying_party.allow_cross_origin",
        "relying_party.top_origins",
        "attestation.policy",
        "attestation.trust_anchors_dir",
        "attestation.aaguid_allow_list",
        "attestation.minimum_certification_level",
        "attestation.accept_unknown_formats",
        "mds.roots",
        "mds.crls",
        "mds.check_at_login",
        "session.idle_timeout",
        "session.max_lifetime",
        "session.insecure_cookies",
        "lockout.max_failures",
        "lockout.lock_duration",
        "lockout.table_size",
        "rate_limits.enabled",
        "rate_limits.window",
        "rate_limits.per_address",
        "rate_limits.per_username",
        "rate_limits.password_hash_concurrency",
        "cors.allowed_origins",
        "proxy.trusted_proxies",
        "admin.bind",
        "admin.tokens",
        "ceremony.timeout",
        "ceremony.conditional_timeout",
        "ceremony.sign_counter_policy",
        "authenticators.names",
    ];

    #[test]
    fn every_key_and_variable_is_in_the_default_file_and_the_documentation() {
        let docs = include_str!("../README.md");
        for key in KEYS {
            assert!(
                docs.contains(&format!("`{key}`")),
                "README.md lacks `{key}`"
            );
            let (section, leaf) = key.split_once('.').unwrap();
            assert!(
                DEFAULTS.contains(&format!("[{section}]")),
                "fidoflow.toml lacks [{section}]"
            );
            assert!(
                DEFAULTS.contains(&format!("{leaf} =")) || DEFAULTS.contains(&format!("[[{key}]]")),
                "fidoflow.toml lacks {key}"
            );
        }
        for name in ENVIRONMENT {
            assert!(docs.contains(&format!("`{name}")), "README.md lacks {name}");
        }
    }
}
