//! The `Settings` tree: the defaults built in from `fidoflow.toml`, then the operator's file, then
//! the `FIDOFLOW_*` environment, validated once at start and passed by value from there on (no
//! globals, so two servers can run in one process). Every refusal names the key it is about.
//! Secrets are redacted in `Debug`. Imports nothing of the crate but `domain`.
//!
//! This file holds `Settings`, `ConfigError`, the assembly of the layers and the checks of single
//! values every section uses; `raw` is the file as written, `env` writes the environment into it;
//! each other file reads and validates its sections: `relying_party` (with `client_data_types`,
//! the accepted `clientDataJSON.type` values), `attestation` (with the metadata service and
//! authenticator names), `limits` (session, lockout, rate limits, ceremony timeouts, CORS,
//! proxies), `derived` (the origin derived from `server.bind` when none is listed), `admin`,
//! `tenants` (with their `api_keys`), `audit` (retention of
//! the audit log), `log` (the log's format), `store` (sled or PostgreSQL); `secret` hashes and
//! compares bearer secrets and reads the cookie key (`session.key`). Every public type is
//! re-exported here, as `crate::config::X`.

mod admin;
mod api_keys;
mod attestation;
mod audit;
mod client_data_types;
mod derived;
#[cfg(test)]
mod documented;
mod env;
mod evidence;
mod limits;
mod log;
mod raw;
mod relying_party;
mod secret;
mod store;
mod tenants;
#[cfg(test)]
mod testing;
mod uaf;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use admin::{AdminRole, AdminSettings, AdminToken};
pub use api_keys::ApiKey;
pub use attestation::{
    AttestationPolicyKind, AttestationSettings, AuthenticatorSettings, MdsSettings,
};
pub use audit::{AuditSettings, MAX_AUDIT_RETAIN, MIN_AUDIT_SIZE};
pub use client_data_types::client_data_types;
pub use derived::{derived_origin, DERIVED_ORIGIN_DEFAULT_PORT};
pub use env::ENVIRONMENT;
pub use evidence::EvidenceSettings;
pub use limits::{
    CeremonySettings, CorsSettings, IpRange, LockoutSettings, PasswordSettings, ProxySettings,
    RateLimitSettings, SessionSettings, SignCounterPolicy,
};
pub use log::{LogFormat, LogSettings};
pub use relying_party::RelyingPartySettings;
pub use secret::{SessionKeyBytes, SESSION_KEY_LEN};
pub use store::{StoreBackend, StoreSettings, DEFAULT_POOL_SIZE, MAX_POOL_SIZE};
pub use tenants::{
    tenant_from_json, TenantCeremonyDefaults, TenantSettings, DEFAULT_DOMAIN, DEFAULT_TENANT,
};
pub use uaf::{is_aaid, UafCriteria, UafSettings};

use raw::{DurationText, RawFile};

/// The shipped configuration: the value of every key no file or variable sets.
const DEFAULTS: &str = include_str!("../../fidoflow.toml");
const DEFAULTS_LABEL: &str = "the built-in defaults (fidoflow.toml)";

const DAY: u64 = 24 * 60 * 60;
/// Longest accepted duration; also keeps every duration convertible to chrono without overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * DAY);
/// Longest accepted ceremony timeout (WebAuthn's `timeout` is milliseconds in 32 bits).
const MAX_CEREMONY_TIMEOUT: Duration = Duration::from_secs(DAY);

/// The whole configuration, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerSettings,
    /// `[store]`: sled in `server.data_dir`, or PostgreSQL.
    pub store: StoreSettings,
    pub relying_party: RelyingPartySettings,
    pub attestation: AttestationSettings,
    pub session: SessionSettings,
    pub lockout: LockoutSettings,
    pub rate_limits: RateLimitSettings,
    pub passwords: PasswordSettings,
    pub cors: CorsSettings,
    pub proxy: ProxySettings,
    pub admin: AdminSettings,
    pub ceremony: CeremonySettings,
    pub authenticators: AuthenticatorSettings,
    pub mds: MdsSettings,
    pub audit: AuditSettings,
    pub evidence: EvidenceSettings,
    pub log: LogSettings,
    /// The `[[tenants]]`, in file order: unique ids (never `default`) and unique access paths.
    /// The built-in tenant `default` is `relying_party` and is not in this list.
    pub tenants: Vec<TenantSettings>,
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// The public listener.
    pub bind: SocketAddr,
    /// The sled database (`store.backend = "sled"`), and the cookie-signing key file unless
    /// `session.key` is set.
    pub data_dir: PathBuf,
    /// Flow definitions; `None`: the flows built into the binary.
    pub flows_dir: Option<PathBuf>,
    /// Browser portal and helpdesk page; `None`: the pages built into the binary.
    pub static_dir: Option<PathBuf>,
    /// `relying_party.origins` was not set: the origin was derived from `bind`
    /// ([`derived_origin`]).
    pub origins_derived: bool,
    /// HTTPS on `bind`: the certificate chain and private key (PEM files); both or neither.
    pub tls: Option<TlsFiles>,
    /// How often expired state is purged and audit retention runs. Not a key of the file:
    /// always [`PURGE_INTERVAL`]; tests shorten it to see the purge run.
    pub purge_interval: Duration,
}

/// `server.tls_cert` and `server.tls_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How often the server purges expired state and trims the audit log.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

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

    /// Validated defaults for tests: port 0, the given data directory, the built-in flows and
    /// pages, insecure cookies (the origin stays `http://localhost:8080`), rate limits off.
    pub fn for_tests(data_dir: &Path) -> Settings {
        let mut settings =
            assemble(None, &HashMap::new()).expect("the built-in defaults are valid");
        settings.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.server.data_dir = data_dir.to_owned();
        settings.server.origins_derived = false;
        settings.session.insecure_cookies = true;
        settings.rate_limits.enabled = false;
        settings
    }

    /// The configured token whose hash is the SHA-256 of `presented`, if any. Compares against
    /// every token in constant time, without stopping at a match.
    pub fn is_admin_token(&self, presented: &str) -> Option<&AdminToken> {
        secret::find_by_sha256(&self.admin.tokens, presented, |token| &token.sha256)
    }

    /// The `[[tenants]]` entry with this id; `None` for `default` (the built-in tenant, whose
    /// settings are `relying_party`, `attestation` and `ceremony`) and for unknown ids.
    pub fn tenant(&self, id: &str) -> Option<&TenantSettings> {
        self.tenants.iter().find(|tenant| tenant.id == id)
    }

    /// The tenant whose `access_path` is exactly `segment` (the first segment of a request path,
    /// compared case-sensitively, as base64url is).
    pub fn tenant_by_access_path(&self, segment: &str) -> Option<&TenantSettings> {
        self.tenants
            .iter()
            .find(|tenant| tenant.access_path == segment)
    }
}

fn assemble(
    file: Option<(&str, &str)>,
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let mut raw = raw::parse_raw(DEFAULTS_LABEL, DEFAULTS)?;
    if let Some((label, text)) = file {
        raw = raw.overlay(raw::parse_raw(label, text)?);
    }
    let bootstrap = env::apply_env(&mut raw, env)?;
    resolve(raw, bootstrap.as_deref())
}

/// Validation: from what was written to `Settings`, section by section.
fn resolve(raw: RawFile, bootstrap: Option<&str>) -> Result<Settings, ConfigError> {
    let server =
        ServerSettings {
            bind: required(raw.server.bind, "server.bind")?,
            data_dir: directory_path(raw.server.data_dir, "server.data_dir")?,
            flows_dir: optional_directory(raw.server.flows_dir, "server.flows_dir")?,
            static_dir: optional_directory(raw.server.static_dir, "server.static_dir")?,
            origins_derived: raw.relying_party.origins.is_none(),
            tls: match (raw.server.tls_cert, raw.server.tls_key) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (Some(_), None) => return Err(invalid(
                    "server.tls_key",
                    "is needed with server.tls_cert: the PEM file of the certificate's private key",
                )),
                (None, Some(_)) => {
                    return Err(invalid(
                        "server.tls_cert",
                        "is needed with server.tls_key: the PEM file of the certificate chain",
                    ))
                }
            },
            purge_interval: PURGE_INTERVAL,
        };
    let store = store::store(raw.store)?;
    let mut raw_rp = raw.relying_party;
    if raw_rp.origins.is_none() {
        raw_rp.origins = raw_rp
            .id
            .as_deref()
            .and_then(|id| derived_origin(id, server.bind.port(), server.tls.is_some()))
            .map(|origin| vec![origin]);
    }
    let relying_party = relying_party::relying_party(raw_rp, &relying_party::RpKeys::global())?;
    let attestation = attestation::attestation(raw.attestation.clone(), "attestation")?;
    let session = limits::session(raw.session, &relying_party)?;
    let lockout = limits::lockout(raw.lockout)?;
    let rate_limits = limits::rate_limits(raw.rate_limits)?;
    let passwords = limits::passwords(raw.passwords)?;
    let cors = limits::cors(raw.cors)?;
    let proxy = limits::proxy(raw.proxy)?;
    let tenants = tenants::tenants(raw.tenants.unwrap_or_default(), &raw.attestation)?;
    let tenant_ids: Vec<&str> = tenants.iter().map(|tenant| tenant.id.as_str()).collect();
    let admin = admin::admin(raw.admin, server.bind, bootstrap, &tenant_ids)?;
    let ceremony = limits::ceremony(raw.ceremony)?;
    let authenticators = attestation::authenticators(raw.authenticators)?;
    let mds = attestation::mds(raw.mds)?;
    let audit = audit::audit(raw.audit)?;
    let evidence = evidence::evidence(raw.evidence)?;
    let log = log::log(raw.log)?;

    Ok(Settings {
        server,
        store,
        relying_party,
        attestation,
        session,
        lockout,
        rate_limits,
        passwords,
        cors,
        proxy,
        admin,
        ceremony,
        authenticators,
        mds,
        audit,
        evidence,
        log,
        tenants,
    })
}

// ---------------------------------------------------------------------------------------------
// Single values, as every section reads them.

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

/// An optional directory: not set is `None`, empty is refused.
fn optional_directory(value: Option<PathBuf>, key: &str) -> Result<Option<PathBuf>, ConfigError> {
    value
        .map(|path| directory_path(Some(path), key))
        .transpose()
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
    let duration = raw::parse_duration(&text).ok_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn the_built_in_defaults_serve_plain_http_on_localhost() {
        let s = parse("").unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.server.data_dir, PathBuf::from("./data"));
        assert_eq!(s.server.flows_dir, None, "the built-in flows");
        assert_eq!(s.server.static_dir, None, "the built-in pages");
        assert!(s.server.origins_derived);
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
        assert_eq!(s.lockout.failure_window, Duration::from_secs(3600));
        assert_eq!(s.lockout.table_size, 100_000);
        assert!(s.rate_limits.enabled);
        assert_eq!(s.rate_limits.window, Duration::from_secs(60));
        assert_eq!(s.rate_limits.per_address, 120);
        assert_eq!(s.rate_limits.per_username, 30);
        assert_eq!(s.rate_limits.per_api_key, 600);
        assert_eq!(s.rate_limits.password_hash_concurrency, 4);
        assert!(s.cors.allowed_origins.is_empty());
        assert!(s.proxy.trusted_proxies.is_empty());
        assert_eq!(s.admin.bind, None);
        assert!(s.admin.tokens.is_empty());
        assert_eq!(s.ceremony.timeout, Duration::from_secs(300));
        assert_eq!(s.ceremony.conditional_timeout, Duration::from_secs(600));
        assert!(s.tenants.is_empty());
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
    fn zero_counts_and_sizes_are_refused() {
        for (section, key) in [
            ("lockout", "max_failures"),
            ("lockout", "table_size"),
            ("rate_limits", "per_address"),
            ("rate_limits", "per_username"),
            ("rate_limits", "per_api_key"),
            ("rate_limits", "password_hash_concurrency"),
        ] {
            let error = refusal(&format!("[{section}]\n{key} = 0\n"));
            assert_eq!(error.key(), Some(format!("{section}.{key}").as_str()));
        }
    }

    #[test]
    fn an_empty_directory_setting_is_refused() {
        let error = Settings::from_toml_str("", &env(&[("FIDOFLOW_DATA_DIR", "")])).unwrap_err();
        assert_eq!(error.key(), Some("server.data_dir"));
    }

    #[test]
    fn test_settings_are_valid_local_and_unlimited() {
        let s = Settings::for_tests(Path::new("/tmp/somewhere"));
        assert_eq!(s.server.bind.port(), 0);
        assert_eq!(s.server.data_dir, PathBuf::from("/tmp/somewhere"));
        assert_eq!(s.server.flows_dir, None);
        assert_eq!(s.server.static_dir, None);
        assert_eq!(s.relying_party.origins, vec!["http://localhost:8080"]);
        assert!(!s.server.origins_derived);
        assert!(s.session.insecure_cookies);
        assert!(!s.rate_limits.enabled);
    }
}
