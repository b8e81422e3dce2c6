//! Bearer secrets (admin tokens, tenant API keys) are configured only as the SHA-256 of their
//! text: reading that hash from the file, hashing what a client presents, and finding the entry
//! it belongs to in constant time. The cookie key (`session.key`) is read here too: base64 of 64
//! random bytes, never shown by `Debug`.

use std::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{invalid, ConfigError};

/// How many random bytes the cookie key (`session.key`) holds.
pub const SESSION_KEY_LEN: usize = 64;

/// The cookie key of `session.key` (`FIDOFLOW_SESSION_KEY`): 64 random bytes, shared by every node
/// of a cluster. `Debug` prints `SessionKeyBytes(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeyBytes([u8; SESSION_KEY_LEN]);

impl SessionKeyBytes {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SessionKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeyBytes(***)")
    }
}

/// `text` as base64 (standard or URL-safe alphabet, padding optional, whitespace ignored, as
/// `openssl rand -base64 64` wraps its output) of exactly 64 bytes. A refusal names `key` and never
/// shows the text.
pub(super) fn session_key(text: &str, key: &str) -> Result<SessionKeyBytes, ConfigError> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    use base64::{alphabet, Engine};
    const HOW: &str = "make one with `openssl rand -base64 64` and give every node the same";
    let config = general_purpose::GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(&compact)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(&compact))
        .map_err(|_| invalid(key, format!("is not base64; {HOW}")))?;
    let bytes: [u8; SESSION_KEY_LEN] = decoded.as_slice().try_into().map_err(|_| {
        invalid(
            key,
            format!(
                "is base64 of {} bytes, not of {SESSION_KEY_LEN}; {HOW}",
                decoded.len()
            ),
        )
    })?;
    Ok(SessionKeyBytes(bytes))
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// 64 hexadecimal characters, any case.
pub(super) fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
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

/// The entry of `entries` whose hash (`hash_of`) is the SHA-256 of `presented`, if any. Compares
/// with every entry in constant time, without stopping at a match, so the time taken tells
/// nothing about which entry matched or how much of a hash did.
pub(super) fn find_by_sha256<T>(
    entries: &[T],
    presented: impl AsRef<[u8]>,
    hash_of: impl Fn(&T) -> &[u8; 32],
) -> Option<&T> {
    let digest = sha256(presented.as_ref());
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, entry) in entries.iter().enumerate() {
        let equal = hash_of(entry).ct_eq(&digest);
        index = u64::conditional_select(&index, &(i as u64), equal);
        found |= equal;
    }
    if bool::from(found) {
        entries.get(index as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_read_in_either_case_and_must_have_64_hex_characters() {
        let lower = "00000000000000000000000000000000000000000000000000000000000000ff";
        let parsed = parse_sha256_hex(lower).unwrap();
        assert_eq!(parsed[31], 0xff);
        assert_eq!(parse_sha256_hex(&lower.to_uppercase()), Some(parsed));
        assert_eq!(parse_sha256_hex(&lower[..63]), None);
        assert_eq!(parse_sha256_hex(&format!("{}g", &lower[..63])), None);
    }

    #[test]
    fn the_entry_with_the_presented_secrets_hash_is_found_wherever_it_is() {
        let entries = [sha256(b"one"), sha256(b"two"), sha256(b"three")];
        for (i, secret) in ["one", "two", "three"].into_iter().enumerate() {
            let found = find_by_sha256(&entries, secret, |hash| hash);
            assert_eq!(found, Some(&entries[i]), "{secret}");
        }
        assert_eq!(find_by_sha256(&entries, "four", |hash| hash), None);
        assert_eq!(find_by_sha256(&[] as &[[u8; 32]], "one", |hash| hash), None);
    }

    #[test]
    fn a_session_key_is_read_in_either_alphabet_with_or_without_padding_and_line_breaks() {
        let bytes: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0xfb).collect();
        let standard = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        let url_safe =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &bytes);
        assert!(standard.contains(['+', '/']) && url_safe.contains(['-', '_']));
        let wrapped = format!("{}\n{}\n", &standard[..64], &standard[64..]);
        for text in [
            standard.clone(),
            standard.trim_end_matches('=').to_owned(),
            url_safe,
            wrapped,
        ] {
            assert_eq!(
                session_key(&text, "session.key").unwrap().as_bytes(),
                &bytes[..]
            );
        }
    }
}
