//! The `FIDOFLOW_*` environment: the variables fidoflow reads, written into the file as read
//! (the top layer); any other `FIDOFLOW_*` variable is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::raw::RawFile;
use super::{invalid, AttestationPolicyKind, ConfigError};

/// The environment variables fidoflow reads. Any other `FIDOFLOW_*` variable stops the start, so a
/// misspelt one is not silently ignored. `FIDOFLOW_CONFIG` is read by `main` to pick the file.
pub const ENVIRONMENT: &[&str] = &[
    "FIDOFLOW_CONFIG",
    "FIDOFLOW_BIND",
    "FIDOFLOW_DATA_DIR",
    "FIDOFLOW_FLOWS_DIR",
    "FIDOFLOW_STATIC_DIR",
    "FIDOFLOW_TLS_CERT",
    "FIDOFLOW_TLS_KEY",
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
    "FIDOFLOW_LOG_FORMAT",
    "FIDOFLOW_STORE_URL",
    "FIDOFLOW_STORE_POOL_SIZE",
    "FIDOFLOW_SESSION_KEY",
];

/// Writes the `FIDOFLOW_*` overrides into `raw`; returns the bootstrap admin token, if any.
pub(super) fn apply_env(
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
            "FIDOFLOW_TLS_CERT" => raw.server.tls_cert = Some(PathBuf::from(trimmed)),
            "FIDOFLOW_TLS_KEY" => raw.server.tls_key = Some(PathBuf::from(trimmed)),
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
            "FIDOFLOW_LOG_FORMAT" => {
                // Checked here, so the refusal names the variable rather than `log.format`.
                super::LogFormat::parse(trimmed, name)?;
                raw.log.format = Some(trimmed.to_owned())
            }
            "FIDOFLOW_STORE_URL" => {
                // Alone, it selects `store.backend = "postgres"`. Empty is refused rather than
                // read as unset: an unfilled `${DATABASE_URL}` must not leave the data in sled.
                if trimmed.is_empty() {
                    return Err(invalid(
                        name,
                        "is empty; give a postgres:// URL, or leave the variable unset to keep \
                         the data in sled",
                    ));
                }
                raw.store.url = Some(trimmed.to_owned())
            }
            "FIDOFLOW_STORE_POOL_SIZE" => {
                let size = trimmed.parse().map_err(|_| {
                    invalid(
                        name,
                        format!("`{trimmed}` is not a whole number (1 to 1024)"),
                    )
                })?;
                raw.store.pool_size = Some(super::store::pool_size(size, name)?)
            }
            "FIDOFLOW_SESSION_KEY" => {
                // Checked here, so the refusal names the variable rather than `session.key`.
                super::secret::session_key(value, name)?;
                raw.session.key = Some(value.to_owned())
            }
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::testing::*;
    use super::super::{AttestationPolicyKind, Settings};

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
        assert_eq!(
            s.server.flows_dir,
            Some(PathBuf::from("/etc/fidoflow/flows"))
        );
        assert_eq!(
            s.server.static_dir,
            Some(PathBuf::from("/usr/share/fidoflow"))
        );
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
}
