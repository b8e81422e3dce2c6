//! Validated newtypes shared by every layer: usernames, display names, credential ids, user
//! handles, tags and flow ids. Each has private fields and a `parse` that is the only way in.
//! The WebAuthn ceremony options that flows and configuration share are in `ceremony`.
//! Imports nothing from the rest of the crate.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

mod ceremony;
pub mod registry;
pub use ceremony::{
    cose_algorithm_name, verifiable_algorithms_text, Conveyance, ResidentKey, UserVerification,
    VERIFIABLE_ALGORITHMS,
};

/// The id of the built-in tenant: the portal and the Loginapp API (today's `[relying_party]`).
pub const DEFAULT_TENANT: &str = "default";

/// Why a value was refused; the text is written for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Base64url without padding, the encoding of every WebAuthn byte string in the contract.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Fills `buf` with random bytes for challenges, ids and keys: the thread's CSPRNG
/// (`rand::thread_rng`, ChaCha seeded and reseeded from the operating system), so that a
/// request does not make a system call per random value.
pub fn random_bytes(buf: &mut [u8]) {
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), buf);
}

/// Lowercase hex, two digits a byte: ids, hashes and AAGUIDs as the store and logs write them.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes base64url without padding (padding and the standard alphabet are refused).
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, Invalid> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Invalid("is not base64url without padding".into()))
}

/// A username normalised once, the same way everywhere: NFKC, lowercase, 3–64 characters of
/// `a-z 0-9 . _ @ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        let len = normalised.chars().count();
        if !(3..=64).contains(&len) {
            return Err(Invalid("a username has 3 to 64 characters".into()));
        }
        if !normalised
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c))
        {
            return Err(Invalid(
                "a username may contain only letters a-z, digits and . _ @ -".into(),
            ));
        }
        Ok(Self(normalised))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The start of a username, normalised the same way (for searches): up to 64 characters
    /// of `a-z 0-9 . _ @ -`, possibly none.
    pub fn parse_prefix(raw: &str) -> Result<String, Invalid> {
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalised.chars().count() > 64
            || !normalised
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c))
        {
            return Err(Invalid(
                "the start of a username: at most 64 letters a-z, digits and . _ @ -".into(),
            ));
        }
        Ok(normalised)
    }
}

impl TryFrom<String> for Username {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::parse(&value)
    }
}
impl From<Username> for String {
    fn from(value: Username) -> String {
        value.0
    }
}
impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name for a person or a credential: NFC, trimmed, 1–64 characters, no control,
/// format or bidi characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value: String = raw.nfc().collect::<String>().trim().to_string();
        let len = value.chars().count();
        if !(1..=64).contains(&len) {
            return Err(Invalid("a display name has 1 to 64 characters".into()));
        }
        if let Some(c) = value.chars().find(|c| is_forbidden_in_names(*c)) {
            return Err(Invalid(format!(
                "a display name may not contain control, format or bidi characters (found U+{:04X})",
                c as u32
            )));
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Control (Cc), format (Cf, which holds every bidi control and zero-width character), line and
/// paragraph separators, and noncharacters.
fn is_forbidden_in_names(c: char) -> bool {
    let cp = c as u32;
    c.is_control()
        || matches!(cp,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
            | 0xFDD0..=0xFDEF)
        || (cp & 0xFFFE) == 0xFFFE
}

impl TryFrom<String> for DisplayName {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::parse(&value)
    }
}
impl From<DisplayName> for String {
    fn from(value: DisplayName) -> String {
        value.0
    }
}
impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WebAuthn credential id: 1 to 1023 bytes. Serialised as base64url.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    pub const MAX_LEN: usize = 1023;
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Invalid> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(Invalid("a credential id has 1 to 1023 bytes".into()));
        }
        Ok(Self(bytes))
    }
    pub fn parse(b64: &str) -> Result<Self, Invalid> {
        Self::from_bytes(b64url_decode(b64)?)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn to_b64url(&self) -> String {
        b64url(&self.0)
    }
    /// A short, non-identifying form for logs (never log the whole id).
    pub fn short(&self) -> String {
        let full = self.to_b64url();
        format!("{}…", &full[..full.len().min(6)])
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.short())
    }
}
impl TryFrom<String> for CredentialId {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::parse(&value)
    }
}
impl From<CredentialId> for String {
    fn from(value: CredentialId) -> String {
        value.to_b64url()
    }
}

/// The WebAuthn `user.id`: 1 to 64 bytes, never derived from the username. fidoflow makes 64
/// random bytes when it creates a user; a user imported from another server keeps the handle it
/// had there, which may be shorter. Serialised as base64url (as it always was).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserHandle(Vec<u8>);

impl UserHandle {
    /// The most bytes a user handle may have (WebAuthn's `user.id`).
    pub const MAX_LEN: usize = 64;
    /// 64 random bytes: the handle of a user fidoflow creates.
    pub fn random() -> Self {
        let mut bytes = vec![0u8; Self::MAX_LEN];
        random_bytes(&mut bytes);
        Self(bytes)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Invalid> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(Invalid("a user handle has 1 to 64 bytes".into()));
        }
        Ok(Self(bytes.to_vec()))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn to_b64url(&self) -> String {
        b64url(&self.0)
    }
}
impl fmt::Debug for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserHandle(…)")
    }
}
impl TryFrom<String> for UserHandle {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::from_bytes(&b64url_decode(&value)?)
    }
}
impl From<UserHandle> for String {
    fn from(value: UserHandle) -> String {
        value.to_b64url()
    }
}

/// An identifier from `flows/`: a flow, an application or a tag. `a-z 0-9 -` and `A-Z _`,
/// 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FlowId(String);

impl FlowId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty()
            || raw.len() > 64
            || !raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Invalid(format!(
                "`{raw}` is not an id (1-64 characters of letters, digits, - and _)"
            )));
        }
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for FlowId {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::parse(&value)
    }
}
impl From<FlowId> for String {
    fn from(value: FlowId) -> String {
        value.0
    }
}
impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag granted by an authentication step, such as `PASSWORD_VERIFIED`.
pub type Tag = FlowId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0a, 0xff, 0x5c]), "000aff5c");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn usernames_are_normalised_with_nfkc_and_lowercase() {
        assert_eq!(
            Username::parse(" Ａlice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn usernames_outside_the_alphabet_or_length_are_refused() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("alice bob").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
        assert!(Username::parse("bob<script>").is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_refuse_bidi_and_controls() {
        assert_eq!(
            DisplayName::parse("  YubiKey  ").unwrap().as_str(),
            "YubiKey"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("evil\u{202E}txt").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert!(DisplayName::parse("zero\u{200B}width").is_err());
        assert!(DisplayName::parse(&"x".repeat(65)).is_err());
        assert!(DisplayName::parse("<img src=x onerror=alert(1)>").is_ok());
    }

    #[test]
    fn credential_ids_are_bounded() {
        assert!(CredentialId::from_bytes(vec![]).is_err());
        assert!(CredentialId::from_bytes(vec![0; 1024]).is_err());
        assert!(CredentialId::from_bytes(vec![0; 1023]).is_ok());
        assert!(CredentialId::parse("AA==").is_err());
    }

    #[test]
    fn user_handles_have_1_to_64_bytes_and_fidoflow_makes_64() {
        assert_eq!(UserHandle::random().as_bytes().len(), 64);
        assert!(UserHandle::from_bytes(&[]).is_err());
        assert!(UserHandle::from_bytes(&[7; 65]).is_err());
        assert_eq!(UserHandle::from_bytes(&[7]).unwrap().as_bytes(), [7]);
        // The serialised form is base64url, as stored by every earlier version.
        let handle = UserHandle::from_bytes(&[0xfb; 64]).unwrap();
        let text = serde_json::to_string(&handle).unwrap();
        assert_eq!(text, format!("\"{}\"", b64url(&[0xfb; 64])));
        assert_eq!(serde_json::from_str::<UserHandle>(&text).unwrap(), handle);
        assert!(serde_json::from_str::<UserHandle>("\"\"").is_err());
    }
}
