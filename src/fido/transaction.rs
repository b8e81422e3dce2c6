//! Transaction signing (FIDO2 dynamic linking, Secure Payment Confirmation): what the user
//! approves, its canonical form and the WebAuthn challenge that binds it, and the checks of what
//! a relying party sends. Pure: no HTTP, no storage.
//!
//! The challenge is SHA-256(nonce ‖ SHA-256(JCS(content))): anyone holding the content and the
//! nonce can recompute it, and the authenticator's signature over the client data (which carries
//! the challenge) is then a signature over exactly that content. JCS (RFC 8785) makes the bytes
//! independent of member order and whitespace, so that a verifier in another language derives
//! the same challenge.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The longest canonical (JCS) `transaction` accepted, in bytes.
pub const MAX_TRANSACTION_BYTES: usize = 4096;
/// The deepest nesting of objects and arrays in a `transaction`, the object itself being 1.
pub const MAX_TRANSACTION_DEPTH: usize = 8;
/// The longest `authenticationMessage`, in characters.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// The largest integer magnitude accepted in a `transaction`: 2^53 − 1. JCS writes numbers as
/// IEEE doubles, so a larger integer would canonicalise to other digits in another
/// implementation, and two different transactions could share a challenge there.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// What the user approves: the members are as the relying party sent them, absent ones `None`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SignedContent {
    #[serde(
        rename = "authenticationMessage",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub authentication_message: Option<String>,
    /// A JSON object.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction: Option<Value>,
    /// Secure Payment Confirmation details object.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub payment: Option<Value>,
}

impl SignedContent {
    /// True when nothing is to be approved.
    pub fn is_empty(&self) -> bool {
        self.authentication_message.is_none()
            && self.transaction.is_none()
            && self.payment.is_none()
    }

    /// RFC 8785 JCS of {"authenticationMessage": M, "payment": P, "transaction": T}, absent
    /// members left out.
    pub fn canonical(&self) -> Vec<u8> {
        jcs(self)
    }

    /// SHA-256(nonce ‖ SHA-256(canonical())) — the WebAuthn challenge that binds the content.
    pub fn challenge(&self, nonce: &[u8]) -> [u8; 32] {
        let content_hash = sha256(&self.canonical());
        let mut input = Vec::with_capacity(nonce.len() + 32);
        input.extend_from_slice(nonce);
        input.extend_from_slice(&content_hash);
        sha256(&input)
    }
}

/// JCS of a value that serde_json can represent: such a value has only string keys and finite
/// numbers, the two things JCS refuses, so serialisation cannot fail.
pub(crate) fn jcs<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value)
        .expect("JCS of a serde_json value (string keys, finite numbers) cannot fail")
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// Why content from a relying party is refused: the member (a path like
/// `transaction.items[0].price`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ContentError {
    pub field: String,
    pub message: String,
}

impl ContentError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a `transaction` as the relying party sent it: a JSON object; its JCS at most 4096
/// bytes; every number an integer of at most 2^53 − 1 in magnitude (amounts are strings:
/// "1250.00"; a number like 1250.5 or 1e3 is refused, naming the member path); nesting depth
/// at most 8.
pub fn check_transaction(value: &Value) -> Result<(), ContentError> {
    if !value.is_object() {
        return Err(ContentError::new(
            "transaction",
            format!("must be a JSON object, not {}", kind(value)),
        ));
    }
    walk(value, "transaction", 1)?;
    let size = jcs(value).len();
    if size > MAX_TRANSACTION_BYTES {
        return Err(ContentError::new(
            "transaction",
            format!(
                "is {size} bytes in canonical form; at most {MAX_TRANSACTION_BYTES} are accepted"
            ),
        ));
    }
    Ok(())
}

/// Checks the depth and the numbers of `value`, found at `path` at nesting `depth`.
fn walk(value: &Value, path: &str, depth: usize) -> Result<(), ContentError> {
    let too_deep = || {
        ContentError::new(
            path,
            format!("nests deeper than {MAX_TRANSACTION_DEPTH} levels of objects and arrays"),
        )
    };
    match value {
        Value::Object(members) => {
            if depth > MAX_TRANSACTION_DEPTH {
                return Err(too_deep());
            }
            for (name, member) in members {
                walk(member, &format!("{path}.{name}"), depth + 1)?;
            }
        }
        Value::Array(items) => {
            if depth > MAX_TRANSACTION_DEPTH {
                return Err(too_deep());
            }
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), depth + 1)?;
            }
        }
        Value::Number(n) => {
            let magnitude = n.as_u64().or_else(|| n.as_i64().map(i64::unsigned_abs));
            match magnitude {
                Some(m) if m <= MAX_SAFE_INTEGER => {}
                Some(_) => {
                    return Err(ContentError::new(
                        path,
                        format!(
                            "the integer {n} is beyond ±{MAX_SAFE_INTEGER}, which JSON \
                             canonicalisation cannot carry exactly: write it as a string"
                        ),
                    ))
                }
                None => {
                    return Err(ContentError::new(
                        path,
                        format!(
                            "the number {n} is not an integer: write amounts as strings, \
                             such as \"1250.00\""
                        ),
                    ))
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks an `authenticationMessage`: 1..=200 characters (chars, not bytes), no control
/// characters (a line break or an escape sequence could make the text shown differ from the
/// text signed).
pub fn check_message(text: &str) -> Result<(), ContentError> {
    let field = "authenticationMessage";
    let count = text.chars().count();
    if count == 0 {
        return Err(ContentError::new(field, "is empty"));
    }
    if count > MAX_MESSAGE_CHARS {
        return Err(ContentError::new(
            field,
            format!("is {count} characters long; at most {MAX_MESSAGE_CHARS} are accepted"),
        ));
    }
    if let Some((at, c)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(ContentError::new(
            field,
            format!(
                "has the control character U+{:04X} at character {}",
                u32::from(c),
                at + 1
            ),
        ));
    }
    Ok(())
}

/// Refuses JSON text in which any object (at any depth) has a member name twice, naming it
/// (serde_json keeps the last silently; a duplicated "amount" must not pass). Also returns Err
/// for text that is not JSON (field "document").
pub fn refuse_duplicate_members(json_text: &[u8]) -> Result<(), ContentError> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(json_text);
    let parsed = Unique {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match (parsed, found.into_inner()) {
        (_, Some(duplicate)) => Err(duplicate),
        (Ok(()), None) => Ok(()),
        (Err(e), None) => Err(ContentError::new("document", format!("is not JSON: {e}"))),
    }
}

/// A serde seed that walks any JSON value and records the first object member seen twice.
struct Unique<'a> {
    /// Where this value sits: empty for the document, then `a.b[2].c`.
    path: String,
    found: &'a RefCell<Option<ContentError>>,
}

impl Unique<'_> {
    fn child(&self, path: String) -> Self {
        Unique {
            path,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(self.child(format!("{}[{i}]", self.path)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                name.clone()
            } else {
                format!("{}.{name}", self.path)
            };
            if !names.insert(name) {
                let message = "appears twice in its object; a member name may appear only once";
                *self.found.borrow_mut() = Some(ContentError::new(path, message));
                return Err(de::Error::custom("duplicate member"));
            }
            map.next_value_seed(self.child(path))?;
        }
        Ok(())
    }
}
