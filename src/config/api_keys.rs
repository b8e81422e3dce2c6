//! A tenant's `api_keys`: each a name and the SHA-256 of the key its backend presents; the hash
//! is all that is kept, and `Debug` does not show it.

use std::fmt;

use super::raw::RawApiKey;
use super::secret::{parse_sha256_hex, sha256};
use super::{invalid, ConfigError};

/// A tenant's API key, kept only as the SHA-256 of the key text.
#[derive(Clone)]
pub struct ApiKey {
    pub name: String,
    pub sha256: [u8; 32],
}

impl ApiKey {
    /// A key entry for the given key text (hashes it); handy for tests.
    pub fn from_key(name: &str, key: &str) -> ApiKey {
        ApiKey {
            name: name.to_owned(),
            sha256: sha256(key.as_bytes()),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("sha256", &"<redacted>")
            .finish()
    }
}

/// `tenants[i].api_keys` (`section`): names not empty and unique, hashes of 64 hex characters and
/// unique.
pub(super) fn api_keys(raw: Vec<RawApiKey>, section: &str) -> Result<Vec<ApiKey>, ConfigError> {
    named_hashes(
        raw,
        section,
        "the key, e.g. from `printf %s \"$KEY\" | sha256sum`",
    )
}

/// `tenants[i].client_certificates`: as `api_keys`, each hash the SHA-256 of a client
/// certificate's DER encoding (its fingerprint).
pub(super) fn client_certificates(
    raw: Vec<RawApiKey>,
    section: &str,
) -> Result<Vec<ApiKey>, ConfigError> {
    named_hashes(
        raw,
        section,
        "the certificate's DER encoding, e.g. from \
         `openssl x509 -in client.pem -outform DER | sha256sum`",
    )
}

/// Names and SHA-256 hashes; `of` says what is hashed and how to get the hash.
fn named_hashes(raw: Vec<RawApiKey>, section: &str, of: &str) -> Result<Vec<ApiKey>, ConfigError> {
    let mut keys: Vec<ApiKey> = Vec::with_capacity(raw.len());
    for (k, raw) in raw.into_iter().enumerate() {
        let name_key = format!("{section}[{k}].name");
        let name = raw.name.trim().to_owned();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(invalid(
                name_key,
                "must not be empty or hold control characters; name the key, e.g. \"backend\"",
            ));
        }
        if let Some(j) = keys.iter().position(|key| key.name == name) {
            return Err(invalid(
                name_key,
                format!("`{name}` is already the name of {section}[{j}]"),
            ));
        }
        let hash_key = format!("{section}[{k}].sha256");
        let sha256 = parse_sha256_hex(raw.sha256.trim()).ok_or_else(|| {
            invalid(
                &hash_key,
                format!("must be 64 hexadecimal characters: the SHA-256 of {of}"),
            )
        })?;
        if let Some(j) = keys.iter().position(|key| key.sha256 == sha256) {
            return Err(invalid(
                hash_key,
                format!("is the same as {section}[{j}].sha256; give each key its own"),
            ));
        }
        keys.push(ApiKey { name, sha256 });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn an_api_key_without_a_name_is_refused() {
        let text = demo("").replace("name = \"backend\"", "name = \" \"");
        assert_eq!(refused(&text).0, "tenants[0].api_keys[0].name");
    }

    #[test]
    fn two_api_keys_of_a_tenant_with_the_same_name_are_refused() {
        let text = demo("").replace(
            "api_keys = [",
            &format!("api_keys = [{{ name = \"backend\", sha256 = \"{HASH_A}\" }}, "),
        );
        assert_eq!(refused(&text).0, "tenants[0].api_keys[1].name");
    }

    #[test]
    fn an_api_key_hash_that_is_not_64_hex_characters_is_refused() {
        for bad in ["abc", &HASH_A[..63], &format!("{}g", &HASH_A[..63])] {
            let text = demo("").replace(&sha256_hex(DEMO_KEY), bad);
            assert_eq!(refused(&text).0, "tenants[0].api_keys[0].sha256", "{bad}");
        }
    }

    #[test]
    fn two_api_keys_of_a_tenant_with_the_same_hash_are_refused() {
        let text = demo("").replace(
            "api_keys = [",
            &format!(
                "api_keys = [{{ name = \"old\", sha256 = \"{}\" }}, ",
                sha256_hex(DEMO_KEY)
            ),
        );
        assert_eq!(refused(&text).0, "tenants[0].api_keys[1].sha256");
    }

    #[test]
    fn the_right_api_key_matches_and_a_wrong_one_does_not() {
        let s = parse(&demo("")).unwrap();
        let t = &s.tenants[0];
        assert_eq!(
            t.key_matching(DEMO_KEY).map(|k| k.name.as_str()),
            Some("backend")
        );
        assert!(t.key_matching(NEXT_DEMO_KEY).is_none());
        assert!(t.key_matching(&DEMO_KEY[1..]).is_none());
        assert!(t.key_matching("").is_none());
    }

    #[test]
    fn the_second_of_two_api_keys_matches_too_so_keys_can_be_rotated() {
        let text = demo("").replace(
            " }]",
            &format!(
                " }}, {{ name = \"next\", sha256 = \"{}\" }}]",
                sha256_hex(NEXT_DEMO_KEY)
            ),
        );
        let s = parse(&text).unwrap();
        let t = &s.tenants[0];
        assert_eq!(
            t.key_matching(DEMO_KEY).map(|k| k.name.as_str()),
            Some("backend")
        );
        assert_eq!(
            t.key_matching(NEXT_DEMO_KEY).map(|k| k.name.as_str()),
            Some("next")
        );
        assert_eq!(
            ApiKey::from_key("next", NEXT_DEMO_KEY).sha256,
            t.api_keys[1].sha256
        );
    }

    #[test]
    fn debug_does_not_print_api_key_hashes() {
        let s = parse(&demo("")).unwrap();
        let debug = format!("{:?}", s.tenants[0]);
        assert!(
            debug.contains("backend") && debug.contains("redacted"),
            "{debug}"
        );
        let first_byte = sha256(DEMO_KEY.as_bytes())[0].to_string();
        assert!(!debug.contains(&format!("[{first_byte},")), "{debug}");
    }
}
