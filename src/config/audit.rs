//! `[audit]`: how long audit records are kept (`retain`, a duration up to 100 years, or
//! `"forever"`) and how much of them (`max_size`, stored bytes, with the units B, KiB, MiB and
//! GiB). Retention runs with the minute's purge of expired state.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{DurationText, RawAudit};
use super::{duration, invalid, required, ConfigError, DAY};

/// Longest `audit.retain`: 100 years (of 365.25 days). Banks keep audit logs for 10.
pub const MAX_AUDIT_RETAIN: Duration = Duration::from_secs(36_525 * DAY);
/// Smallest `audit.max_size`: 64 KiB, room for a few hundred records.
pub const MIN_AUDIT_SIZE: u64 = 64 * KIB;

const KIB: u64 = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSettings {
    /// Records older than this are removed; `None` (`"forever"`): kept whatever their age.
    pub retain: Option<Duration>,
    /// The oldest records are removed while the records' stored bytes exceed this.
    pub max_size: u64,
}

pub(super) fn audit(raw: RawAudit) -> Result<AuditSettings, ConfigError> {
    let retain = match raw.retain {
        Some(DurationText(text)) if text.trim() == "forever" => None,
        Some(DurationText(text)) if super::raw::parse_duration(&text).is_none() => {
            return Err(invalid(
                "audit.retain",
                format!(
                    "`{text}` is neither a duration nor \"forever\"; write an integer followed \
                     by s, m, h or d (\"365d\", \"3650d\") or \"forever\""
                ),
            ))
        }
        text => Some(duration(text, "audit.retain", MAX_AUDIT_RETAIN)?),
    };
    let SizeText(text) = required(raw.max_size, "audit.max_size")?;
    let max_size = parse_size(&text).ok_or_else(|| {
        invalid(
            "audit.max_size",
            format!(
                "`{text}` is not a size; write an integer followed by B, KiB, MiB or GiB \
                 (\"512MiB\", \"1GiB\"; 1 KiB = 1024 bytes) or an integer number of bytes"
            ),
        )
    })?;
    if max_size < MIN_AUDIT_SIZE {
        return Err(invalid(
            "audit.max_size",
            format!("`{text}` is smaller than the least allowed, 64KiB"),
        ));
    }
    Ok(AuditSettings { retain, max_size })
}

/// An integer followed by `B`, `KiB`, `MiB` or `GiB` (spaces between allowed), or an integer of
/// bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = match unit.trim_start() {
        "" | "B" => 1,
        "KiB" => KIB,
        "MiB" => KIB * KIB,
        "GiB" => KIB * KIB * KIB,
        _ => return None,
    };
    if digits.is_empty() {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// A size as written: `"1GiB"`, `"65536"` or `65536`; parsed when its key is known.
#[derive(Clone)]
pub(super) struct SizeText(pub(super) String);

impl<'de> Deserialize<'de> for SizeText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SizeText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"1GiB\" or an integer number of bytes")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SizeText, E> {
                Ok(SizeText(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn the_audit_log_is_kept_365_days_and_1_gib_by_default() {
        let s = parse("").unwrap();
        assert_eq!(s.audit.retain, Some(Duration::from_secs(365 * DAY)));
        assert_eq!(s.audit.max_size, 1024 * 1024 * 1024);
    }

    #[test]
    fn retain_takes_a_duration_of_up_to_100_years_or_forever() {
        let s = parse("[audit]\nretain = \"3650d\"\n").unwrap();
        assert_eq!(s.audit.retain, Some(Duration::from_secs(3650 * DAY)));
        let s = parse("[audit]\nretain = \"36525d\"\n").unwrap();
        assert_eq!(s.audit.retain, Some(MAX_AUDIT_RETAIN));
        let s = parse("[audit]\nretain = \"forever\"\n").unwrap();
        assert_eq!(s.audit.retain, None);
        let (key, message) = refused("[audit]\nretain = \"36526d\"\n");
        assert_eq!(key, "audit.retain");
        assert!(
            message.contains("longer than the most allowed"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_retain_is_refused_with_a_clear_message() {
        let (key, message) = refused("[audit]\nretain = \"10 years\"\n");
        assert_eq!(key, "audit.retain");
        assert!(
            message.contains("`10 years` is neither a duration nor \"forever\""),
            "{message}"
        );
        let (key, message) = refused("[audit]\nretain = \"0d\"\n");
        assert_eq!(key, "audit.retain");
        assert!(message.contains("zero"), "{message}");
        assert_eq!(
            refusal_key("[audit]\nretain = \"Forever\"\n"),
            "audit.retain"
        );
    }

    #[test]
    fn max_size_takes_binary_units_or_bytes() {
        for (text, bytes) in [
            ("\"1GiB\"", 1 << 30),
            ("\"512MiB\"", 512 << 20),
            ("\"64KiB\"", 64 << 10),
            ("\"2 GiB\"", 2 << 30),
            ("\"70000B\"", 70_000),
            ("70000", 70_000),
            ("\"70000\"", 70_000),
        ] {
            let s = parse(&format!("[audit]\nmax_size = {text}\n")).unwrap();
            assert_eq!(s.audit.max_size, bytes, "{text}");
        }
    }

    #[test]
    fn a_bad_max_size_is_refused_with_a_clear_message() {
        for bad in [
            "\"1GB\"",
            "\"1.5GiB\"",
            "\"GiB\"",
            "\"-1MiB\"",
            "-5",
            "\"1 gib\"",
        ] {
            let (key, message) = refused(&format!("[audit]\nmax_size = {bad}\n"));
            assert_eq!(key, "audit.max_size", "{bad}");
            assert!(message.contains("B, KiB, MiB or GiB"), "{bad}: {message}");
        }
        let (key, message) = refused("[audit]\nmax_size = \"99999999999GiB\"\n");
        assert_eq!(key, "audit.max_size");
        assert!(message.contains("is not a size"), "{message}");
        let (key, message) = refused("[audit]\nmax_size = \"1KiB\"\n");
        assert_eq!(key, "audit.max_size");
        assert!(
            message.contains("smaller than the least allowed, 64KiB"),
            "{message}"
        );
        assert!(refusal("[audit]\nmax_size = true\n")
            .to_string()
            .contains("max_size"));
    }

    #[test]
    fn an_unknown_audit_key_is_refused() {
        assert!(refusal("[audit]\nretention = \"1d\"\n")
            .to_string()
            .contains("retention"));
    }
}
