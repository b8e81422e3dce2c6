//! Small CBOR helpers over ciborium: read exactly one item and know where it ended, look up map
//! members.

use ciborium::value::Value;

/// Reads one CBOR item from the front of `bytes`; returns it and the number of bytes it used.
pub(crate) fn read_one(bytes: &[u8]) -> Result<(Value, usize), String> {
    let mut rest = bytes;
    let value: Value =
        ciborium::de::from_reader(&mut rest).map_err(|e| format!("invalid CBOR: {e}"))?;
    Ok((value, bytes.len() - rest.len()))
}

/// Reads a CBOR item that must fill `bytes` exactly.
pub(crate) fn read_exact(bytes: &[u8]) -> Result<Value, String> {
    let (value, used) = read_one(bytes)?;
    if used != bytes.len() {
        return Err("unexpected bytes after the CBOR item".into());
    }
    Ok(value)
}

/// The most entries a map we inspect may have (COSE keys, statements and extension maps are
/// small); it also bounds the quadratic duplicate check.
const MAX_MAP_ENTRIES: usize = 64;

/// The entries of a map, refusing duplicate keys and oversized maps.
pub(crate) fn map(value: &Value) -> Option<&[(Value, Value)]> {
    let entries = match value {
        Value::Map(entries) if entries.len() <= MAX_MAP_ENTRIES => entries.as_slice(),
        _ => return None,
    };
    for (i, (key, _)) in entries.iter().enumerate() {
        if entries.iter().skip(i + 1).any(|(other, _)| other == key) {
            return None;
        }
    }
    Some(entries)
}

/// The value under a text key.
pub(crate) fn text_key<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .map(|(_, v)| v)
}

/// The value under an integer key.
pub(crate) fn int_key(entries: &[(Value, Value)], label: i64) -> Option<&Value> {
    entries
        .iter()
        .find(|(k, _)| integer(k) == Some(label))
        .map(|(_, v)| v)
}

/// An integer value that fits an i64.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(i) => i64::try_from(i128::from(*i)).ok(),
        _ => None,
    }
}

/// A byte string value.
pub(crate) fn byte_string(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}
