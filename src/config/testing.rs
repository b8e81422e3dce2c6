//! What the tests of every section share: parsing a file over the defaults, and the refusal and
//! the key it names.

use std::collections::HashMap;

use super::{ConfigError, Settings};

pub const HASH_A: &str = "0000000000000000000000000000000000000000000000000000000000000001";
pub const HASH_B: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

pub fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn parse(text: &str) -> Result<Settings, ConfigError> {
    Settings::from_toml_str(text, &no_env())
}

pub fn refusal(text: &str) -> ConfigError {
    parse(text).expect_err("the configuration should be refused")
}

pub fn refusal_key(text: &str) -> String {
    refusal(text)
        .key()
        .expect("a refusal names its key")
        .to_owned()
}

/// A public deployment: https origin on a real domain, secure cookies.
pub fn public(extra: &str) -> String {
    format!(
        "[relying_party]\nid = \"example.org\"\norigins = [\"https://login.example.org\"]\n\
         [session]\ninsecure_cookies = false\n{extra}"
    )
}

pub fn rp(id: &str, origins: &str) -> String {
    format!(
        "[relying_party]\nid = \"{id}\"\norigins = {origins}\n[session]\ninsecure_cookies = false\n"
    )
}

/// The hex SHA-256 of `text`, as an operator writes it in the file.
pub fn sha256_hex(text: &str) -> String {
    super::secret::sha256(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub const DEMO_KEY: &str = "demo-backend-key-0123456789abcdefghij";
pub const NEXT_DEMO_KEY: &str = "demo-backend-key-next-0123456789abcdef";

/// The documented `[[tenants]]` form (key `backend` is `DEMO_KEY`), with `extra` lines in the
/// tenant's table.
pub fn demo(extra: &str) -> String {
    format!(
        "[[tenants]]\nid = \"demo\"\naccess_path = \"ZGVtby5leGFtcGxl\"\n\
         rp_id = \"localhost\"\nrp_name = \"Demo RP\"\norigins = [\"http://localhost\"]\n\
         api_keys = [{{ name = \"backend\", sha256 = \"{}\" }}]\n{extra}",
        sha256_hex(DEMO_KEY)
    )
}

/// `demo` and a second tenant with this id and access path.
pub fn second(id: &str, access_path: &str) -> String {
    format!(
        "{}[[tenants]]\nid = \"{id}\"\naccess_path = \"{access_path}\"\n\
         rp_id = \"example.org\"\nrp_name = \"Other\"\norigins = [\"https://example.org\"]\n\
         api_keys = [{{ name = \"backend\", sha256 = \"{HASH_B}\" }}]\n",
        demo("")
    )
}

/// The key a refusal names, and its whole message.
pub fn refused(text: &str) -> (String, String) {
    let error = refusal(text);
    let key = error.key().expect("a refusal names its key").to_owned();
    (key, error.to_string())
}
