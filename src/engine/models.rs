//! Authenticator model names by AAGUID: the operator's `authenticators.names`, then a small
//! built-in table of common authenticators, so people see "YubiKey 5 Series" rather than a UUID.

use std::collections::BTreeMap;

use super::Engine;

/// Formats 16 bytes as a lowercase hyphenated UUID.
pub fn aaguid_string(aaguid: &[u8; 16]) -> String {
    let hex = crate::domain::hex(aaguid);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

const BUILT_IN: &[(&str, &str)] = &[
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    (
        "dd4ec289-e01d-41c9-bb89-70fa845d4bf2",
        "iCloud Keychain (Managed)",
    ),
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"),
    (
        "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
        "YubiKey 5 Series with NFC",
    ),
    (
        "2fc0579f-8113-47ea-b116-bb5a8db9202a",
        "YubiKey 5 Series with NFC",
    ),
    ("c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci"),
    (
        "73bb0cd4-e502-49b8-9c6f-b59445bf720b",
        "YubiKey 5 FIPS Series",
    ),
    (
        "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa",
        "Security Key NFC by Yubico",
    ),
    (
        "b92c3f9a-c014-4056-887f-140a2501163b",
        "Security Key by Yubico",
    ),
    (
        "149a2021-8ef6-4133-96b8-81f8d5b7f1f5",
        "Security Key by Yubico with NFC",
    ),
    (
        "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
        "Security Key by Yubico with NFC",
    ),
    (
        "0bb43545-fd2c-4185-87dd-feb0b2916ace",
        "Security Key NFC by Yubico - Enterprise Edition",
    ),
    (
        "ee041bce-25e5-4cdb-8f86-897fd6418464",
        "Feitian ePass FIDO2-NFC Authenticator",
    ),
    (
        "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3",
        "Google Titan Security Key v2",
    ),
];

/// The model name of an AAGUID from the built-in table, if known.
pub fn model_name(aaguid: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(id, _)| *id == aaguid)
        .map(|(_, name)| *name)
}

/// The model name of an AAGUID: from `custom` (the configured names) first, else built in.
pub fn model_name_with<'a>(custom: &'a BTreeMap<String, String>, aaguid: &str) -> Option<&'a str> {
    custom
        .get(aaguid)
        .map(String::as_str)
        .or_else(|| model_name(aaguid))
}

impl Engine {
    /// The model name of an AAGUID (lowercase hyphenated): the configured
    /// `authenticators.names` first, then the built-in table.
    pub fn model_name(&self, aaguid: &str) -> Option<String> {
        model_name_with(&self.inner.settings.authenticators.names, aaguid).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aaguids_are_formatted_as_uuids_and_named() {
        let bytes = [
            0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57,
            0xd7, 0xbd,
        ];
        let s = aaguid_string(&bytes);
        assert_eq!(s, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd");
        assert_eq!(model_name(&s), Some("iCloud Keychain"));
        assert_eq!(model_name(&aaguid_string(&[0; 16])), None);
    }

    #[test]
    fn configured_names_come_before_the_built_in_ones() {
        let mut custom = BTreeMap::new();
        custom.insert(
            "fbfc3007-154e-4ecc-8c0b-6e020557d7bd".to_string(),
            "Company Macs".to_string(),
        );
        custom.insert(
            "00000000-0000-0000-0000-000000000001".to_string(),
            "In-house key".to_string(),
        );
        let named = |aaguid| model_name_with(&custom, aaguid);
        assert_eq!(
            named("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
            Some("Company Macs")
        );
        assert_eq!(
            named("00000000-0000-0000-0000-000000000001"),
            Some("In-house key")
        );
        assert_eq!(
            named("cb69481e-8ff7-4039-93ec-0a2729a154a8"),
            Some("YubiKey 5 Series")
        );
        assert_eq!(named("00000000-0000-0000-0000-000000000000"), None);
    }
}
