//! `[store]`: where a node keeps its data, the embedded sled database in its data directory or a
//! PostgreSQL server (that the nodes of a cluster share). Its defaults are here rather than in
//! `fidoflow.toml`: a `url` selects PostgreSQL unless some layer writes `backend`, which a
//! built-in `backend` would always do. `Debug` and the logs never show the url's password.

use std::fmt;
use std::time::Duration;

use super::raw::{DurationText, RawStore};
use super::{duration, invalid, ConfigError, MAX_DURATION};

/// `store.pool_size` when no layer sets it.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// The largest accepted `store.pool_size`.
pub const MAX_POOL_SIZE: usize = 1024;
/// `store.connect_timeout` when no layer sets it.
const DEFAULT_CONNECT_TIMEOUT: &str = "5s";

/// `[store]`, validated.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// The most connections to PostgreSQL a node keeps open (1 to 1024); unused with sled.
    pub pool_size: usize,
    /// How long opening a connection to PostgreSQL may take; unused with sled.
    pub connect_timeout: Duration,
}

/// `store.backend`, with `store.url` for PostgreSQL. `Debug` shows the url without its password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// The embedded database in `<server.data_dir>/db`.
    Sled,
    /// `url` starts with `postgres://` or `postgresql://`, in tokio-postgres's URL form (a Unix
    /// socket as a percent-encoded host or a `host=/path` parameter).
    Postgres { url: String },
}

impl fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreBackend::Sled => f.write_str("Sled"),
            StoreBackend::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .finish(),
        }
    }
}

impl StoreSettings {
    /// The PostgreSQL url with its password replaced by `***`; `None` with sled.
    pub fn url_for_logs(&self) -> Option<String> {
        match &self.backend {
            StoreBackend::Sled => None,
            StoreBackend::Postgres { url } => Some(redact_url(url)),
        }
    }
}

pub(super) fn store(raw: RawStore) -> Result<StoreSettings, ConfigError> {
    let url = raw
        .url
        .map(|url| postgres_url(url, "store.url"))
        .transpose()?;
    let backend =
        match (raw.backend.as_deref(), url) {
            (None | Some("sled"), None) => StoreBackend::Sled,
            (None | Some("postgres"), Some(url)) => StoreBackend::Postgres { url },
            (Some("postgres"), None) => {
                return Err(invalid(
                    "store.url",
                    "is needed with store.backend = \"postgres\": the server's URL, such as \
                 postgres://user:password@host:5432/database (or FIDOFLOW_STORE_URL)",
                ))
            }
            (Some("sled"), Some(_)) => return Err(invalid(
                "store.backend",
                "is \"sled\" while store.url (or FIDOFLOW_STORE_URL) is set; remove the url to \
                 keep the data in sled, or set store.backend = \"postgres\"",
            )),
            (Some(other), _) => {
                return Err(invalid(
                    "store.backend",
                    format!("`{other}` is neither \"sled\" nor \"postgres\""),
                ))
            }
        };
    let pool_size = pool_size(
        raw.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
        "store.pool_size",
    )?;
    let connect_timeout = duration(
        Some(
            raw.connect_timeout
                .unwrap_or_else(|| DurationText(DEFAULT_CONNECT_TIMEOUT.to_owned())),
        ),
        "store.connect_timeout",
        MAX_DURATION,
    )?;
    Ok(StoreSettings {
        backend,
        pool_size,
        connect_timeout,
    })
}

/// 1 to [`MAX_POOL_SIZE`]; a refusal names `key` (a key of the file or a variable).
pub(super) fn pool_size(value: usize, key: &str) -> Result<usize, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be greater than zero"));
    }
    if value > MAX_POOL_SIZE {
        return Err(invalid(
            key,
            format!("{value} is more than the most allowed, {MAX_POOL_SIZE}"),
        ));
    }
    Ok(value)
}

/// Only the scheme is checked; the server checks the rest when it connects. A refusal shows at
/// most the scheme, never the text (which may hold a password).
fn postgres_url(url: String, key: &str) -> Result<String, ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url);
    }
    let shown = match url.split_once("://") {
        Some((scheme, _)) if scheme.len() <= 16 && scheme.bytes().all(|b| b.is_ascii_graphic()) => {
            format!("`{scheme}://…` is not a PostgreSQL URL")
        }
        _ => "is not a PostgreSQL URL".to_owned(),
    };
    Err(invalid(
        key,
        format!(
            "{shown}; write postgres://user:password@host:5432/database (or postgresql://…; \
             a Unix socket as postgresql://user@%2Frun%2Fpostgresql/database or \
             postgresql:///database?host=/run/postgresql); key=value connection strings are not \
             accepted"
        ),
    ))
}

/// `url` with the password replaced by `***`: the text between the first `:` of the user part and
/// the last `@` (more than the password when an `@` follows it, never less), and the value of a
/// `password` parameter. Text that is not a URL is all `***`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let rest = match rest.rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &rest[at..]),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let rest = match rest.split_once('?') {
        Some((head, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if percent_decoded(name).eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{head}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// `%XX` escapes decoded (as tokio-postgres decodes parameter names); others left as they are.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;
    use super::*;

    const URL: &str = "postgres://fido:s3cr3t-pw@db.example.org:5432/fidoflow";

    fn with_env(text: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_toml_str(text, &env(vars))
    }

    #[test]
    fn by_default_the_data_stays_in_sled() {
        let s = parse("").unwrap();
        assert_eq!(s.store.backend, StoreBackend::Sled);
        assert_eq!(s.store.pool_size, 16);
        assert_eq!(s.store.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.store.url_for_logs(), None);
    }

    #[test]
    fn the_url_variable_alone_selects_postgres() {
        let s = with_env("", &[("FIDOFLOW_STORE_URL", URL)]).unwrap();
        assert_eq!(
            s.store.backend,
            StoreBackend::Postgres {
                url: URL.to_owned()
            }
        );
        let s = parse(&format!("[store]\nurl = \"{URL}\"\n")).unwrap();
        assert!(matches!(s.store.backend, StoreBackend::Postgres { .. }));
        let s = with_env(
            "[store]\nbackend = \"postgres\"\n",
            &[
                ("FIDOFLOW_STORE_URL", URL),
                ("FIDOFLOW_STORE_POOL_SIZE", "64"),
            ],
        )
        .unwrap();
        assert!(matches!(s.store.backend, StoreBackend::Postgres { .. }));
        assert_eq!(s.store.pool_size, 64);
    }

    #[test]
    fn the_file_sets_every_key() {
        let s = parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql:///fidoflow?host=/run/postgresql\"\n\
             pool_size = 1024\nconnect_timeout = \"1m\"\n",
        )
        .unwrap();
        assert_eq!(
            s.store.url_for_logs().as_deref(),
            Some("postgresql:///fidoflow?host=/run/postgresql")
        );
        assert_eq!(s.store.pool_size, 1024);
        assert_eq!(s.store.connect_timeout, Duration::from_secs(60));
        let s = parse("[store]\nbackend = \"sled\"\n").unwrap();
        assert_eq!(s.store.backend, StoreBackend::Sled);
    }

    #[test]
    fn postgres_without_a_url_is_refused_naming_the_url() {
        let (key, message) = refused("[store]\nbackend = \"postgres\"\n");
        assert_eq!(key, "store.url");
        assert!(message.contains("FIDOFLOW_STORE_URL"), "{message}");
        // An empty variable (an unfilled `${DATABASE_URL}`) is refused, not read as unset.
        let error = with_env("", &[("FIDOFLOW_STORE_URL", " ")]).unwrap_err();
        assert_eq!(error.key(), Some("FIDOFLOW_STORE_URL"));
    }

    #[test]
    fn sled_with_a_url_is_a_contradiction_naming_the_backend() {
        assert_eq!(
            refusal_key(&format!("[store]\nbackend = \"sled\"\nurl = \"{URL}\"\n")),
            "store.backend"
        );
        let error = with_env(
            "[store]\nbackend = \"sled\"\n",
            &[("FIDOFLOW_STORE_URL", URL)],
        )
        .unwrap_err();
        assert_eq!(error.key(), Some("store.backend"));
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }

    #[test]
    fn an_unknown_backend_is_refused() {
        assert_eq!(
            refusal_key("[store]\nbackend = \"mysql\"\n"),
            "store.backend"
        );
        assert!(refusal("[store]\nbackends = \"sled\"\n")
            .to_string()
            .contains("backends"));
    }

    #[test]
    fn a_url_of_another_scheme_is_refused_without_showing_it() {
        for url in [
            "mysql://fido:s3cr3t@db/fidoflow",
            "host=/run/postgresql user=fido password=s3cr3t",
            "Postgres://fido:s3cr3t@db/fidoflow",
            "postgres:/fido:s3cr3t@db/fidoflow",
            "",
        ] {
            let (key, message) = refused(&format!("[store]\nurl = \"{url}\"\n"));
            assert_eq!(key, "store.url", "{url}");
            assert!(message.contains("postgres://"), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
            if !url.is_empty() {
                let error = with_env("", &[("FIDOFLOW_STORE_URL", url)]).unwrap_err();
                assert_eq!(error.key(), Some("store.url"), "{url}");
            }
        }
    }

    #[test]
    fn a_pool_size_of_zero_or_over_1024_is_refused() {
        assert_eq!(refusal_key("[store]\npool_size = 0\n"), "store.pool_size");
        assert_eq!(
            refusal_key("[store]\npool_size = 1025\n"),
            "store.pool_size"
        );
        for value in ["0", "2000", "sixteen", "-1"] {
            let error = with_env("", &[("FIDOFLOW_STORE_POOL_SIZE", value)]).unwrap_err();
            assert_eq!(error.key(), Some("FIDOFLOW_STORE_POOL_SIZE"), "{value}");
        }
    }

    #[test]
    fn a_connect_timeout_is_a_duration() {
        assert_eq!(
            refusal_key("[store]\nconnect_timeout = \"0s\"\n"),
            "store.connect_timeout"
        );
        assert_eq!(
            refusal_key("[store]\nconnect_timeout = \"soon\"\n"),
            "store.connect_timeout"
        );
        let s = parse("[store]\nconnect_timeout = 30\n").unwrap();
        assert_eq!(s.store.connect_timeout, Duration::from_secs(30));
    }

    #[test]
    fn debug_and_the_logs_never_show_the_password() {
        let s = with_env("", &[("FIDOFLOW_STORE_URL", URL)]).unwrap();
        let shown = format!("{:?} {:?} {s:?}", s.store, s.store.backend);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("postgres://fido:***@db.example.org:5432/fidoflow"));
        assert_eq!(
            s.store.url_for_logs().as_deref(),
            Some("postgres://fido:***@db.example.org:5432/fidoflow")
        );
    }

    #[test]
    fn every_form_of_password_is_redacted() {
        for (url, shown) in [
            (URL, "postgres://fido:***@db.example.org:5432/fidoflow"),
            ("postgres://fido@db/f", "postgres://fido@db/f"),
            ("postgres://db:5432/f", "postgres://db:5432/f"),
            ("postgres://:s3cr3t@db/f", "postgres://:***@db/f"),
            ("postgres://fido:s3/cr@3t@db/f", "postgres://fido:***@db/f"),
            (
                "postgresql://fido:s3cr3t@%2Frun%2Fpostgresql/f",
                "postgresql://fido:***@%2Frun%2Fpostgresql/f",
            ),
            (
                "postgresql:///f?host=/run/postgresql&password=s3cr3t&user=fido",
                "postgresql:///f?host=/run/postgresql&password=***&user=fido",
            ),
            (
                "postgresql://db/f?PassWord=s3cr3t",
                "postgresql://db/f?PassWord=***",
            ),
            (
                "postgresql://db/f?pass%77ord=s3cr3t",
                "postgresql://db/f?pass%77ord=***",
            ),
            ("not a url s3cr3t", "***"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("s3cr3t"));
        }
    }
}
