//! The authenticator characteristics of the FIDO Registry of Predefined Values (§3.1–3.5): user
//! verification methods, key protection, matcher protection, attachment hints and transaction
//! confirmation displays. Each is a bit flag; metadata statements (MDS3) write them as names,
//! UAF policies as the OR of the bits. One table per kind, so that metadata, configuration and
//! UAF policies name them the same way.

/// A kind of characteristic: its name (for messages) and its table of `(name, bit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub kind: &'static str,
    pub table: &'static [(&'static str, u32)],
}

/// `USER_VERIFY_*` (registry §3.1), with the MDS3 names.
pub const USER_VERIFICATION: Flags = Flags {
    kind: "user verification method",
    table: &[
        ("presence_internal", 0x1),
        ("fingerprint_internal", 0x2),
        ("passcode_internal", 0x4),
        ("voiceprint_internal", 0x8),
        ("faceprint_internal", 0x10),
        ("location_internal", 0x20),
        ("eyeprint_internal", 0x40),
        ("pattern_internal", 0x80),
        ("handprint_internal", 0x100),
        ("none", 0x200),
        ("all", 0x400),
        ("passcode_external", 0x800),
        ("pattern_external", 0x1000),
    ],
};

/// `USER_VERIFY_ALL`: in a policy, every named method is required together.
pub const USER_VERIFY_ALL: u32 = 0x400;

/// `KEY_PROTECTION_*` (registry §3.2).
pub const KEY_PROTECTION: Flags = Flags {
    kind: "key protection",
    table: &[
        ("software", 0x1),
        ("hardware", 0x2),
        ("tee", 0x4),
        ("secure_element", 0x8),
        ("remote_handle", 0x10),
    ],
};

/// `MATCHER_PROTECTION_*` (registry §3.3).
pub const MATCHER_PROTECTION: Flags = Flags {
    kind: "matcher protection",
    table: &[("software", 0x1), ("tee", 0x2), ("on_chip", 0x4)],
};

/// `ATTACHMENT_HINT_*` (registry §3.4).
pub const ATTACHMENT_HINT: Flags = Flags {
    kind: "attachment hint",
    table: &[
        ("internal", 0x1),
        ("external", 0x2),
        ("wired", 0x4),
        ("wireless", 0x8),
        ("nfc", 0x10),
        ("bluetooth", 0x20),
        ("network", 0x40),
        ("ready", 0x80),
        ("wifi_direct", 0x100),
    ],
};

/// `TRANSACTION_CONFIRMATION_DISPLAY_*` (registry §3.5).
pub const TC_DISPLAY: Flags = Flags {
    kind: "transaction confirmation display",
    table: &[
        ("any", 0x1),
        ("privileged_software", 0x2),
        ("tee", 0x4),
        ("hardware", 0x8),
        ("remote", 0x10),
    ],
};

impl Flags {
    /// The bit of one name. User verification methods may also be named without their
    /// `_internal` suffix (`fingerprint` for `fingerprint_internal`).
    pub fn bit(&self, name: &str) -> Option<u32> {
        let find = |n: &str| self.table.iter().find(|(t, _)| *t == n).map(|(_, b)| *b);
        find(name).or_else(|| {
            (self.kind == USER_VERIFICATION.kind)
                .then(|| find(&format!("{name}_internal")))
                .flatten()
        })
    }

    /// The OR of the bits of these names; an unknown name is refused with the known ones.
    pub fn parse<S: AsRef<str>>(&self, names: &[S]) -> Result<u32, String> {
        names.iter().try_fold(0, |bits, name| {
            let name = name.as_ref();
            self.bit(name).map(|b| bits | b).ok_or_else(|| {
                let known: Vec<&str> = self.table.iter().map(|(n, _)| *n).collect();
                format!(
                    "`{name}` is not a known {}: write one of {}",
                    self.kind,
                    known.join(", ")
                )
            })
        })
    }

    /// The names of the bits set, in table order (unknown bits are left out).
    pub fn names(&self, bits: u32) -> Vec<&'static str> {
        self.table
            .iter()
            .filter(|(_, b)| bits & b != 0)
            .map(|(n, _)| *n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_round_trip_in_every_table() {
        for flags in [
            USER_VERIFICATION,
            KEY_PROTECTION,
            MATCHER_PROTECTION,
            ATTACHMENT_HINT,
            TC_DISPLAY,
        ] {
            let mut seen = 0;
            for (name, bit) in flags.table {
                assert_eq!(bit.count_ones(), 1, "{name}");
                assert_eq!(seen & bit, 0, "{name} repeats a bit");
                seen |= bit;
                assert_eq!(flags.bit(name), Some(*bit));
                assert_eq!(flags.names(*bit), [*name]);
            }
            assert_eq!(flags.names(seen).len(), flags.table.len());
        }
    }

    #[test]
    fn parse_ors_the_bits_and_names_an_unknown_one() {
        assert_eq!(
            KEY_PROTECTION.parse(&["hardware", "secure_element"]),
            Ok(0xa)
        );
        assert_eq!(KEY_PROTECTION.parse::<&str>(&[]), Ok(0));
        assert_eq!(USER_VERIFICATION.parse(&["fingerprint", "all"]), Ok(0x402));
        assert_eq!(USER_VERIFICATION.parse(&["passcode_external"]), Ok(0x800));
        assert_eq!(ATTACHMENT_HINT.bit("internal_internal"), None);
        let err = ATTACHMENT_HINT.parse(&["internal", "usb"]).unwrap_err();
        assert!(
            err.contains("`usb` is not a known attachment hint"),
            "{err}"
        );
        assert!(err.contains("wifi_direct"), "{err}");
    }

    #[test]
    fn names_skips_unknown_bits() {
        assert_eq!(TC_DISPLAY.names(0x8 | 0x8000), ["hardware"]);
        assert!(MATCHER_PROTECTION.names(0).is_empty());
    }
}
