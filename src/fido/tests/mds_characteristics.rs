//! The authenticator characteristics of a metadata statement (`mds/characteristics.rs`): MDS3
//! names, UAF 1.x numbers, unknown names left out and members of the wrong shape refused.

use serde_json::{json, Value};

use crate::fido::mds::{unsigned_metadata, Characteristics, MetadataEntry};

fn read(statement: Value) -> Result<Characteristics, String> {
    Characteristics::from_statement(&statement)
}

#[test]
fn mds3_names_become_registry_bits() {
    let c = read(json!({
        "keyProtection": ["hardware", "secure_element"],
        "matcherProtection": ["on_chip"],
        "attachmentHint": ["external", "wired", "nfc"],
        "tcDisplay": ["any", "hardware"],
        "userVerificationDetails": [
            [{"userVerificationMethod": "fingerprint_internal"}],
            [{"userVerificationMethod": "passcode_internal"}, {"userVerificationMethod": "presence_internal"}]
        ]
    }))
    .unwrap();
    assert_eq!(
        c,
        Characteristics {
            key_protection: 0x0a,
            matcher_protection: 0x04,
            attachment_hint: 0x16,
            tc_display: 0x09,
            user_verification: vec![0x2, 0x5],
        }
    );
    assert_eq!(c.user_verification_methods(), 0x7);
}

#[test]
fn uaf_metadata_numbers_and_single_names_are_read_as_written() {
    let c = read(json!({
        "keyProtection": 6,
        "matcherProtection": "tee",
        "attachmentHint": 1,
        "tcDisplay": 0,
        "userVerificationDetails": [[{"userVerification": 16}, {"userVerification": 2}]]
    }))
    .unwrap();
    assert_eq!(c.key_protection, 6);
    assert_eq!(c.matcher_protection, 2);
    assert_eq!(c.attachment_hint, 1);
    assert_eq!(c.tc_display, 0);
    assert_eq!(c.user_verification, [0x12]);
}

#[test]
fn bits_named_twice_or_in_several_alternatives_are_set_once() {
    let c = read(json!({
        "keyProtection": ["tee", "tee"],
        "attachmentHint": ["nfc", "wired", "nfc"],
        "userVerificationDetails": [
            [{"userVerificationMethod": "fingerprint_internal"}, {"userVerificationMethod": "presence_internal"}],
            [{"userVerificationMethod": "fingerprint_internal"}]
        ]
    }))
    .unwrap();
    assert_eq!(c.key_protection, 0x4);
    assert_eq!(c.attachment_hint, 0x14);
    assert_eq!(c.user_verification, [0x3, 0x2]);
    assert_eq!(c.user_verification_methods(), 0x3);
}

#[test]
fn absent_members_and_unknown_names_give_no_bits() {
    assert_eq!(read(json!({})).unwrap(), Characteristics::default());
    let c = read(json!({
        "keyProtection": ["quantum", "tee"],
        "attachmentHint": "telepathy",
        "userVerificationDetails": [[{"userVerificationMethod": "smellprint_internal"}]]
    }))
    .unwrap();
    assert_eq!(c.key_protection, 0x4);
    assert_eq!(c.attachment_hint, 0);
    assert_eq!(c.user_verification, [0]);
    assert_eq!(c.user_verification_methods(), 0);
}

#[test]
fn members_of_the_wrong_shape_are_named() {
    for (statement, named) in [
        (
            json!({"keyProtection": true}),
            "keyProtection is neither a key protection",
        ),
        (json!({"keyProtection": [1]}), "keyProtection is neither"),
        (
            json!({"matcherProtection": -1}),
            "matcherProtection is neither",
        ),
        (
            json!({"attachmentHint": 4294967296u64}),
            "attachmentHint is neither",
        ),
        (json!({"tcDisplay": {}}), "tcDisplay is neither"),
        (
            json!({"userVerificationDetails": {}}),
            "userVerificationDetails is not an array",
        ),
        (
            json!({"userVerificationDetails": [{}]}),
            "userVerificationDetails[0] is not an array",
        ),
        (
            json!({"userVerificationDetails": [[], [{"caDesc": {}}]]}),
            "userVerificationDetails[1][0] names no userVerificationMethod",
        ),
        (
            json!({"userVerificationDetails": [[{"userVerificationMethod": 3.5}]]}),
            "userVerificationDetails[0][0] is neither a user verification method",
        ),
    ] {
        let err = read(statement.clone()).unwrap_err();
        assert!(err.starts_with(named), "{statement}: {err}");
    }
}

fn entry(blob_entry: Value) -> MetadataEntry {
    let blob = unsigned_metadata(&json!({
        "legalHeader": "Test metadata.", "no": 1, "nextUpdate": "2099-01-01",
        "entries": [blob_entry]
    }))
    .unwrap();
    assert_eq!(blob.skipped, 0);
    blob.entries.into_iter().next().unwrap()
}

#[test]
fn an_entry_carries_its_statements_characteristics_and_none_without_a_statement() {
    let with = entry(json!({
        "aaid": "4e4e#4005",
        "metadataStatement": {"aaid": "4e4e#4005", "keyProtection": ["tee"], "attachmentHint": ["internal"]}
    }));
    let c = with.characteristics.clone().unwrap();
    assert_eq!((c.key_protection, c.attachment_hint), (0x4, 0x1));
    let without = entry(json!({"aaid": "4e4e#4006"}));
    assert_eq!(without.characteristics, None);
    // Stored BLOBs written before the member existed still read.
    let mut stored = serde_json::to_value(&with).unwrap();
    stored.as_object_mut().unwrap().remove("characteristics");
    let back: MetadataEntry = serde_json::from_value(stored).unwrap();
    assert_eq!(back.characteristics, None);
}

#[test]
fn a_statement_with_a_malformed_characteristic_is_skipped_like_any_unreadable_entry() {
    let blob = unsigned_metadata(&json!({
        "legalHeader": "Test metadata.", "no": 1, "nextUpdate": "2099-01-01",
        "entries": [
            {"aaid": "4e4e#4005", "metadataStatement": {"aaid": "4e4e#4005", "keyProtection": {}}},
            {"aaid": "4e4e#4006", "metadataStatement": {"aaid": "4e4e#4006"}}
        ]
    }))
    .unwrap();
    assert_eq!(blob.skipped, 1);
    assert_eq!(blob.entries.len(), 1);
}
