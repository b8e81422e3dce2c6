//! UAFV1TLV (authenticator commands §3.1): a little-endian `u16` tag, a little-endian `u16`
//! length, then that many bytes. A tag with bit 0x1000 set is composite: its value is a
//! sequence of TLVs that must fill it exactly.
//!
//! The reader is strict: every length exact, nothing after the last TLV, composites nested at
//! most [`MAX_DEPTH`] deep, and (through [`Fields`]) every mandatory tag exactly once and no
//! tag the structure does not define. An extension (0x3E11, non-critical) may be skipped; a
//! critical one (0x3E12) is refused, since this server understands none. Malformed data is a
//! 1400 (Bad Request: "the server did not understand the message"); an unknown critical
//! extension a 1498 (Unacceptable Content). Nothing here panics or allocates more than the
//! input's size in TLV references.

use super::status::UafRefusal;

pub const TAG_UAFV1_REG_ASSERTION: u16 = 0x3E01;
pub const TAG_UAFV1_AUTH_ASSERTION: u16 = 0x3E02;
pub const TAG_UAFV1_KRD: u16 = 0x3E03;
pub const TAG_UAFV1_SIGNED_DATA: u16 = 0x3E04;
pub const TAG_ATTESTATION_CERT: u16 = 0x2E05;
pub const TAG_SIGNATURE: u16 = 0x2E06;
pub const TAG_ATTESTATION_BASIC_FULL: u16 = 0x3E07;
pub const TAG_ATTESTATION_BASIC_SURROGATE: u16 = 0x3E08;
pub const TAG_ATTESTATION_ECDAA: u16 = 0x3E09;
/// The registry's other attestation types (ATTCA, none, anonymization CA), which a UAF 1.1
/// registration assertion does not use; listed so that they are refused as attestation types.
pub const TAG_ATTESTATION_ATTCA: u16 = 0x3E0A;
pub const TAG_ATTESTATION_NONE: u16 = 0x3E0B;
pub const TAG_ATTESTATION_ANONCA: u16 = 0x3E0C;
pub const TAG_KEYID: u16 = 0x2E09;
pub const TAG_FINAL_CHALLENGE_HASH: u16 = 0x2E0A;
pub const TAG_AAID: u16 = 0x2E0B;
pub const TAG_PUB_KEY: u16 = 0x2E0C;
pub const TAG_COUNTERS: u16 = 0x2E0D;
pub const TAG_ASSERTION_INFO: u16 = 0x2E0E;
pub const TAG_AUTHENTICATOR_NONCE: u16 = 0x2E0F;
pub const TAG_TRANSACTION_CONTENT_HASH: u16 = 0x2E10;
pub const TAG_EXTENSION: u16 = 0x3E11;
pub const TAG_EXTENSION_CRITICAL: u16 = 0x3E12;
pub const TAG_EXTENSION_ID: u16 = 0x2E13;
pub const TAG_EXTENSION_DATA: u16 = 0x2E14;

/// How deep composites may nest: assertion, KRD or signed data, extension, and one spare level.
pub const MAX_DEPTH: usize = 4;

/// Whether `tag` is composite (its value holds TLVs).
pub fn is_composite(tag: u16) -> bool {
    tag & 0x1000 != 0
}

/// One TLV: its tag, its value and its whole encoding (header included), which is what an
/// authenticator signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u16,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), UafRefusal> {
    let header = input.get(..4).ok_or_else(|| {
        UafRefusal::bad(
            "tlvTruncated",
            format!(
                "the TLV data ends inside a tag and length header ({} bytes left)",
                input.len()
            ),
        )
    })?;
    let tag = u16::from_le_bytes([header[0], header[1]]);
    let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
    let value = input.get(4..4 + len).ok_or_else(|| {
        UafRefusal::bad(
            "tlvTruncated",
            format!(
                "the TLV with tag 0x{tag:04X} announces {len} bytes but only {} follow",
                input.len() - 4
            ),
        )
    })?;
    let raw = input.get(..4 + len).unwrap_or_default();
    let rest = input.get(4 + len..).unwrap_or_default();
    Ok((Tlv { tag, value, raw }, rest))
}

/// Exactly one TLV, with tag `tag`, filling `input`; its composite contents are checked to be
/// well formed (see [`check_tree`]).
pub fn read_one(input: &[u8], tag: u16) -> Result<Tlv<'_>, UafRefusal> {
    let (tlv, rest) = read(input)?;
    if tlv.tag != tag {
        return Err(UafRefusal::bad(
            "tlvTag",
            format!(
                "the data starts with tag 0x{:04X}, not 0x{tag:04X}",
                tlv.tag
            ),
        ));
    }
    if !rest.is_empty() {
        return Err(UafRefusal::bad(
            "tlvTrailingBytes",
            format!("{} bytes follow the TLV with tag 0x{tag:04X}", rest.len()),
        ));
    }
    check_tree(tlv, 1)?;
    Ok(tlv)
}

/// The TLVs filling `value` exactly.
pub fn items(mut value: &[u8]) -> Result<Vec<Tlv<'_>>, UafRefusal> {
    let mut out = Vec::new();
    while !value.is_empty() {
        let (tlv, rest) = read(value)?;
        out.push(tlv);
        value = rest;
    }
    Ok(out)
}

/// Checks that a composite TLV at nesting level `depth` (the outermost is 1) and every
/// composite inside it are exact sequences of TLVs, nested at most [`MAX_DEPTH`] deep.
pub fn check_tree(tlv: Tlv<'_>, depth: usize) -> Result<(), UafRefusal> {
    if !is_composite(tlv.tag) {
        return Ok(());
    }
    if depth > MAX_DEPTH {
        return Err(UafRefusal::bad(
            "tlvDepth",
            format!("composite TLVs are nested more than {MAX_DEPTH} deep"),
        ));
    }
    for child in items(tlv.value)? {
        check_tree(child, depth + 1)?;
    }
    Ok(())
}

/// The children of one composite TLV, checked against the tags its structure defines.
#[derive(Debug)]
pub struct Fields<'a> {
    name: &'static str,
    items: Vec<Tlv<'a>>,
}

impl<'a> Fields<'a> {
    /// Reads the children of `parent` (called `name` in messages). Tags outside `allowed` are
    /// refused, except extensions: a non-critical one (0x3E11) is checked for shape and skipped,
    /// a critical one (0x3E12) is refused because no extension is understood here.
    pub fn parse(parent: Tlv<'a>, name: &'static str, allowed: &[u16]) -> Result<Self, UafRefusal> {
        let mut kept = Vec::new();
        for item in items(parent.value)? {
            match item.tag {
                TAG_EXTENSION => check_extension(item)?,
                TAG_EXTENSION_CRITICAL => {
                    check_extension(item)?;
                    return Err(UafRefusal::content(
                        "criticalExtension",
                        format!("the {name} carries a critical extension this server does not understand"),
                    ));
                }
                tag if allowed.contains(&tag) => kept.push(item),
                tag => {
                    return Err(UafRefusal::bad(
                        "tlvUnknownTag",
                        format!("the {name} contains tag 0x{tag:04X}, which it may not hold"),
                    ))
                }
            }
        }
        Ok(Self { name, items: kept })
    }

    /// The TLV with `tag` (called `what`), which must occur exactly once.
    pub fn one(&self, tag: u16, what: &str) -> Result<Tlv<'a>, UafRefusal> {
        self.optional(tag, what)?.ok_or_else(|| {
            UafRefusal::bad(
                "tlvMissingTag",
                format!("the {} has no {what} (tag 0x{tag:04X})", self.name),
            )
        })
    }

    /// The TLV with `tag` (called `what`), which may occur at most once.
    pub fn optional(&self, tag: u16, what: &str) -> Result<Option<Tlv<'a>>, UafRefusal> {
        let mut found = self.items.iter().filter(|t| t.tag == tag);
        let first = found.next().copied();
        if found.next().is_some() {
            return Err(UafRefusal::bad(
                "tlvDuplicateTag",
                format!(
                    "the {} holds its {what} (tag 0x{tag:04X}) more than once",
                    self.name
                ),
            ));
        }
        Ok(first)
    }

    /// Every TLV with `tag`, in order.
    pub fn all(&self, tag: u16) -> Vec<Tlv<'a>> {
        self.items
            .iter()
            .filter(|t| t.tag == tag)
            .copied()
            .collect()
    }
}

/// An extension holds exactly one non-empty EXTENSION_ID and at most one EXTENSION_DATA.
fn check_extension(ext: Tlv<'_>) -> Result<(), UafRefusal> {
    let mut ids = 0;
    let mut data = 0;
    for item in items(ext.value)? {
        match item.tag {
            TAG_EXTENSION_ID if !item.value.is_empty() => ids += 1,
            TAG_EXTENSION_DATA => data += 1,
            _ => {
                return Err(UafRefusal::bad(
                    "extension",
                    "an extension holds something other than one non-empty id and its data",
                ))
            }
        }
    }
    if ids != 1 || data > 1 {
        return Err(UafRefusal::bad(
            "extension",
            "an extension must hold exactly one id and at most one data",
        ));
    }
    Ok(())
}
