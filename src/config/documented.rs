//! The keys of the file are all in the shipped `fidoflow.toml` (commented out where they have no
//! default) and in the README's Configuration section; those whose defaults are in the code are
//! in the README.

use super::{DEFAULTS, ENVIRONMENT};

/// Every key, as written in the file and in the README.
const KEYS: &[&str] = &[
    "server.bind",
    "server.data_dir",
    "server.flows_dir",
    "server.static_dir",
    "server.tls_cert",
    "server.tls_key",
    "relying_party.id",
    "relying_party.name",
    "relying_party.origins",
    "relying_party.allow_cross_origin",
    "relying_party.top_origins",
    "relying_party.expected_registration_types",
    "relying_party.expected_authentication_types",
    "attestation.policy",
    "attestation.trust_anchors_dir",
    "attestation.aaguid_allow_list",
    "attestation.minimum_certification_level",
    "attestation.accept_unknown_formats",
    "attestation.safetynet_timestamp",
    "attestation.safetynet_max_age",
    "attestation.safetynet_cts_profile_match",
    "mds.roots",
    "mds.crls",
    "mds.check_at_login",
    "session.idle_timeout",
    "session.max_lifetime",
    "session.insecure_cookies",
    "lockout.max_failures",
    "lockout.lock_duration",
    "lockout.failure_window",
    "lockout.table_size",
    "rate_limits.enabled",
    "rate_limits.window",
    "rate_limits.per_address",
    "rate_limits.per_username",
    "rate_limits.per_api_key",
    "rate_limits.password_hash_concurrency",
    "cors.allowed_origins",
    "proxy.trusted_proxies",
    "proxy.client_cert_header",
    "admin.bind",
    "admin.tokens",
    "ceremony.timeout",
    "ceremony.conditional_timeout",
    "ceremony.sign_counter_policy",
    "ceremony.max_credentials_per_user",
    "authenticators.names",
    "audit.retain",
    "audit.max_size",
    "evidence.signing_key",
    "log.format",
];

/// Keys whose defaults are in the code, not in `fidoflow.toml` (see `store.rs`: a `store.backend`
/// there would stop a lone `store.url` from selecting PostgreSQL); in the README only.
const CODE_DEFAULT_KEYS: &[&str] = &[
    "store.backend",
    "store.url",
    "store.pool_size",
    "store.connect_timeout",
    "session.key",
];

/// Every key of a `[[tenants]]` entry, all commented out in the file (it has no tenant).
const TENANT_KEYS: &[&str] = &[
    "id",
    "access_path",
    "rp_id",
    "rp_name",
    "origins",
    "allow_cross_origin",
    "top_origins",
    "expected_registration_types",
    "expected_authentication_types",
    "api_keys",
    "client_certificates",
    "user_verification",
    "resident_key",
    "attestation_conveyance",
    "timeout",
    "algorithms",
    "conformance",
    "max_keys_per_user",
    "domains",
    "attestation",
    "uaf",
];

#[test]
fn every_key_and_variable_is_in_the_default_file_and_the_documentation() {
    let docs = include_str!("../../README.md");
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
    for key in CODE_DEFAULT_KEYS {
        assert!(
            docs.contains(&format!("| `{key}` |")),
            "README.md's table of keys lacks `{key}`"
        );
    }
    for leaf in TENANT_KEYS {
        assert!(
            docs.contains(&format!("`tenants.{leaf}`")),
            "README.md lacks `tenants.{leaf}`"
        );
        assert!(
            DEFAULTS.contains(&format!("# {leaf} ="))
                || DEFAULTS.contains(&format!("# [tenants.{leaf}]")),
            "fidoflow.toml lacks a commented tenants.{leaf}"
        );
    }
    assert!(docs.contains("`admin.tokens[].tenants`"));
    for name in ENVIRONMENT {
        assert!(docs.contains(&format!("`{name}")), "README.md lacks {name}");
    }
}
