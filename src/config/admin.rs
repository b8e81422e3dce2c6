//! `[admin]`: the admin listener and the bearer tokens of `/rest/admin`, each with a role and
//! optionally the tenants it may act on; only the tokens' SHA-256 hashes are kept.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

use super::raw::{RawAdmin, RawToken};
use super::secret::{parse_sha256_hex, sha256};
use super::tenants::DEFAULT_TENANT;
use super::{invalid, ConfigError};

const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap";
const MIN_ADMIN_TOKEN_CHARS: usize = 32;

#[derive(Clone, Debug)]
pub struct AdminSettings {
    /// When set, `/rest/admin` is served on this listener instead of `server.bind`.
    pub bind: Option<SocketAddr>,
    /// Unique names and unique hashes.
    pub tokens: Vec<AdminToken>,
}

/// A bearer token for `/rest/admin`, kept only as the SHA-256 of the token text.
#[derive(Clone)]
pub struct AdminToken {
    pub name: String,
    pub role: AdminRole,
    pub sha256: [u8; 32],
    /// The tenants the token may act on (`default` or ids of `[[tenants]]`, no duplicates);
    /// `None`: every tenant.
    pub tenants: Option<Vec<String>>,
}

impl AdminToken {
    /// A token entry for the given token text (hashes it), for every tenant; handy for tests.
    pub fn from_token(name: &str, role: AdminRole, token: &str) -> AdminToken {
        AdminToken {
            name: name.to_owned(),
            role,
            sha256: sha256(token.as_bytes()),
            tenants: None,
        }
    }

    /// Whether the token may act on the tenant with this id (`default` for the built-in one).
    pub fn may_act_on(&self, tenant: &str) -> bool {
        match &self.tenants {
            None => true,
            Some(tenants) => tenants.iter().any(|t| t == tenant),
        }
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("sha256", &"<redacted>")
            .field("tenants", &self.tenants)
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
    /// Read `GET /metrics` and nothing else (every role may read it).
    Metrics,
}

impl AdminRole {
    /// Whether a token with this role may do what `required` may.
    pub fn allows(self, required: AdminRole) -> bool {
        match required {
            AdminRole::Metrics => true,
            AdminRole::Helpdesk => matches!(self, AdminRole::Helpdesk | AdminRole::Admin),
            AdminRole::Admin => self == AdminRole::Admin,
        }
    }
}

/// `[admin]`; `tenant_ids` are the ids of the configured `[[tenants]]`.
pub(super) fn admin(
    raw: RawAdmin,
    server_bind: SocketAddr,
    bootstrap: Option<&str>,
    tenant_ids: &[&str],
) -> Result<AdminSettings, ConfigError> {
    if let Some(bind) = raw.bind {
        if bind == server_bind && bind.port() != 0 {
            return Err(invalid(
                "admin.bind",
                format!(
                    "`{bind}` is server.bind too; give the admin listener its own address or port"
                ),
            ));
        }
    }
    Ok(AdminSettings {
        bind: raw.bind,
        tokens: admin_tokens(raw.tokens.unwrap_or_default(), bootstrap, tenant_ids)?,
    })
}

fn admin_tokens(
    raw: Vec<RawToken>,
    bootstrap: Option<&str>,
    tenant_ids: &[&str],
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
        let tenants = match token.tenants {
            None => None,
            Some(names) => Some(token_tenants(names, i, tenant_ids)?),
        };
        tokens.push(AdminToken {
            name: token.name,
            role: token.role,
            sha256,
            tenants,
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

/// `admin.tokens[index].tenants`: `default` or configured tenant ids, at least one.
fn token_tenants(
    names: Vec<String>,
    index: usize,
    tenant_ids: &[&str],
) -> Result<Vec<String>, ConfigError> {
    let key = format!("admin.tokens[{index}].tenants");
    if names.is_empty() {
        return Err(invalid(
            key,
            "is empty; leave it out to let the token act on every tenant",
        ));
    }
    let mut tenants: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if name != DEFAULT_TENANT && !tenant_ids.contains(&name.as_str()) {
            return Err(invalid(
                key,
                format!(
                    "`{name}` is neither `{DEFAULT_TENANT}` (the built-in tenant) nor the id of \
                     a tenant in [[tenants]]"
                ),
            ));
        }
        if !tenants.contains(&name) {
            tenants.push(name);
        }
    }
    Ok(tenants)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;
    use super::*;

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
    fn a_metrics_token_allows_reading_the_metrics_and_nothing_else() {
        let s = parse(&format!(
            "[[admin.tokens]]\nname = \"scraper\"\nrole = \"metrics\"\nsha256 = \"{HASH_A}\"\n"
        ))
        .unwrap();
        let role = s.admin.tokens[0].role;
        assert_eq!(role, AdminRole::Metrics);
        assert!(role.allows(AdminRole::Metrics));
        assert!(!role.allows(AdminRole::Helpdesk));
        assert!(!role.allows(AdminRole::Admin));
        assert!(AdminRole::Helpdesk.allows(AdminRole::Metrics));
        assert!(AdminRole::Admin.allows(AdminRole::Helpdesk));
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
    fn from_token_hashes_the_token() {
        let token = AdminToken::from_token("t", AdminRole::Helpdesk, "secret");
        assert_eq!(token.sha256, sha256(b"secret"));
    }

    #[test]
    fn an_admin_token_may_act_only_on_the_tenants_it_names() {
        let text = format!(
            "{}[[admin.tokens]]\nname = \"demo-desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             tenants = [\"demo\", \"default\", \"demo\"]\n\
             [[admin.tokens]]\nname = \"ops\"\nrole = \"admin\"\nsha256 = \"{HASH_B}\"\n",
            second("other", "b3RoZXI")
        );
        let s = parse(&text).unwrap();
        let desk = &s.admin.tokens[0];
        assert_eq!(
            desk.tenants,
            Some(vec!["demo".to_string(), "default".to_string()])
        );
        assert!(desk.may_act_on("demo") && desk.may_act_on("default"));
        assert!(!desk.may_act_on("other") && !desk.may_act_on("unknown"));
        let ops = &s.admin.tokens[1];
        assert_eq!(ops.tenants, None);
        assert!(ops.may_act_on("demo") && ops.may_act_on("other") && ops.may_act_on("default"));
        let bootstrap = AdminToken::from_token("t", AdminRole::Admin, "secret");
        assert!(bootstrap.tenants.is_none() && bootstrap.may_act_on("demo"));
    }

    #[test]
    fn an_admin_token_naming_a_tenant_that_is_not_configured_is_refused() {
        let text = format!(
            "{}[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             tenants = [\"default\", \"dmeo\"]\n",
            demo("")
        );
        let (key, message) = refused(&text);
        assert_eq!(key, "admin.tokens[0].tenants");
        assert!(message.contains("`dmeo`"), "{message}");
        let text = format!(
            "[[admin.tokens]]\nname = \"desk\"\nrole = \"helpdesk\"\nsha256 = \"{HASH_A}\"\n\
             tenants = []\n"
        );
        assert_eq!(refused(&text).0, "admin.tokens[0].tenants");
    }
}
