//! A minimal DER reader for the few structures the `der` crate's derives would make strict in
//! the wrong places: Android's KeyDescription (security levels sent as INTEGER or ENUMERATED),
//! Apple's nonce extension and RSAPublicKey. Definite lengths only; no recursion limits are
//! needed because callers descend a fixed number of levels.

pub(crate) const INTEGER: Tag = Tag::universal(0x02);
pub(crate) const OCTET_STRING: Tag = Tag::universal(0x04);
pub(crate) const ENUMERATED: Tag = Tag::universal(0x0a);
pub(crate) const SEQUENCE: Tag = Tag {
    class: 0,
    constructed: true,
    number: 0x10,
};
pub(crate) const SET: Tag = Tag {
    class: 0,
    constructed: true,
    number: 0x11,
};

/// An identifier octet (or octets): class (0 universal, 2 context-specific), constructed bit
/// and tag number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    pub class: u8,
    pub constructed: bool,
    pub number: u32,
}

impl Tag {
    const fn universal(number: u32) -> Self {
        Self {
            class: 0,
            constructed: false,
            number,
        }
    }
}

/// One TLV.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&first, mut rest) = input.split_first()?;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        loop {
            let (&b, r) = rest.split_first()?;
            rest = r;
            if number > (u32::MAX >> 7) {
                return None;
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&len0, r) = rest.split_first()?;
    rest = r;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let count = usize::from(len0 & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, r) = (rest.get(..count)?, rest.get(count..)?);
        rest = r;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let value = rest.get(..len)?;
    let tag = Tag {
        class: first >> 6,
        constructed: first & 0x20 != 0,
        number,
    };
    Some((Tlv { tag, value }, rest.get(len..)?))
}

/// Every TLV of `input` (the contents of a SEQUENCE or SET), which they must fill exactly.
pub(crate) fn items(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read(input)?;
        out.push(tlv);
        input = rest;
    }
    Some(out)
}

/// A small non-negative INTEGER (or ENUMERATED) value.
pub(crate) fn small_uint(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 9 || value.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let digits = match value {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    if digits.len() > 8 {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    )
}
