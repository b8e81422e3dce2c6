//! The UAFV1TLV reader and the assertion structures: every malformation is a clean refusal
//! with its status code.

use super::*;
use crate::uaf::tlv::{self as t, Fields as TlvFields};
use crate::uaf::{parse_authentication, parse_registration};

/// A change that breaks one field.
type Breaks = Box<dyn Fn(&mut Fields)>;

fn valid_registration() -> Vec<u8> {
    let key = P256::generate();
    surrogate_assertion(&Fields::new(vec![1; 32], key.point()), &key)
}

#[test]
fn a_well_formed_registration_assertion_parses_into_its_fields() {
    let key = P256::generate();
    let mut fields = Fields::new(vec![1; 32], key.point());
    fields.sign_counter = 7;
    fields.reg_counter = 3;
    fields.version = 0x0102;
    let reg = parse_registration(&surrogate_assertion(&fields, &key)).unwrap();
    assert_eq!(reg.aaid, AAID);
    assert_eq!(reg.authenticator_version, 0x0102);
    assert_eq!(reg.authentication_mode, 1);
    assert_eq!(reg.sign_alg, 0x0001);
    assert_eq!(reg.key_encoding, 0x0100);
    assert_eq!(reg.final_challenge_hash, vec![1; 32]);
    assert_eq!(reg.key_id, vec![0x4B; 32]);
    assert_eq!((reg.sign_counter, reg.reg_counter), (7, 3));
    assert_eq!(reg.public_key, key.point());
    assert_eq!(reg.signed_krd, fields.krd());
    assert!(matches!(
        reg.attestation,
        crate::uaf::Attestation::Surrogate { .. }
    ));
}

#[test]
fn a_truncated_assertion_is_refused_at_every_length() {
    let whole = valid_registration();
    for len in 0..whole.len() {
        let refusal = parse_registration(&whole[..len]).unwrap_err();
        assert_eq!(
            refusal.status,
            StatusCode::BadRequest,
            "{len}: {}",
            refusal.detail
        );
    }
}

#[test]
fn a_length_longer_than_the_data_is_refused() {
    let mut data = valid_registration();
    let len = u16::from_le_bytes([data[2], data[3]]);
    data[2..4].copy_from_slice(&(len + 1).to_le_bytes());
    refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvTruncated",
    );
}

#[test]
fn a_nested_length_longer_than_its_parent_is_refused() {
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[tlv(TAG_UAFV1_KRD, &[])[..2].to_vec(), vec![0x10, 0x00]],
    );
    refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvTruncated",
    );
}

#[test]
fn bytes_after_the_assertion_are_refused() {
    let mut data = valid_registration();
    data.push(0);
    refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvTrailingBytes",
    );
}

#[test]
fn an_assertion_with_the_wrong_outer_tag_is_refused() {
    let data = valid_registration();
    refused(
        parse_authentication(&data),
        StatusCode::BadRequest,
        "tlvTag",
    );
}

#[test]
fn nested_composites_are_read_with_their_raw_bytes() {
    let inner = tlv(TAG_AAID, b"ABCD#0001");
    let krd = composite(TAG_UAFV1_KRD, std::slice::from_ref(&inner));
    let outer = composite(TAG_UAFV1_REG_ASSERTION, std::slice::from_ref(&krd));
    let top = t::read_one(&outer, TAG_UAFV1_REG_ASSERTION).unwrap();
    let children = t::items(top.value).unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].raw, krd.as_slice());
    let grandchildren = t::items(children[0].value).unwrap();
    assert_eq!(grandchildren[0].tag, TAG_AAID);
    assert_eq!(grandchildren[0].value, b"ABCD#0001");
}

#[test]
fn a_duplicated_mandatory_tag_is_refused() {
    let key = P256::generate();
    let fields = Fields::new(vec![1; 32], key.point());
    let mut krd_parts = t::items(t::read_one(&fields.krd(), TAG_UAFV1_KRD).unwrap().value)
        .unwrap()
        .iter()
        .map(|i| i.raw.to_vec())
        .collect::<Vec<_>>();
    krd_parts.push(tlv(TAG_KEYID, &[9; 32]));
    let krd = composite(TAG_UAFV1_KRD, &krd_parts);
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            krd.clone(),
            composite(
                TAG_ATTESTATION_BASIC_SURROGATE,
                &[tlv(TAG_SIGNATURE, &key.sign_raw(&krd))],
            ),
        ],
    );
    let refusal = refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvDuplicateTag",
    );
    assert!(refusal.detail.contains("KeyID"), "{}", refusal.detail);
}

#[test]
fn a_missing_mandatory_tag_is_refused() {
    let krd = composite(
        TAG_UAFV1_KRD,
        &[
            tlv(TAG_AAID, AAID.as_bytes()),
            tlv(TAG_ASSERTION_INFO, &[1, 0, 1, 1, 0, 0, 1]),
            tlv(TAG_FINAL_CHALLENGE_HASH, &[1; 32]),
            tlv(TAG_KEYID, &[2; 32]),
            tlv(TAG_COUNTERS, &[0; 8]),
        ],
    );
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            krd,
            composite(
                TAG_ATTESTATION_BASIC_SURROGATE,
                &[tlv(TAG_SIGNATURE, &[1; 64])],
            ),
        ],
    );
    let refusal = refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvMissingTag",
    );
    assert!(refusal.detail.contains("public key"), "{}", refusal.detail);
}

#[test]
fn a_registration_without_attestation_is_refused() {
    let key = P256::generate();
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[Fields::new(vec![1; 32], key.point()).krd()],
    );
    refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvMissingTag",
    );
}

#[test]
fn an_unknown_tag_inside_the_krd_is_refused() {
    let key = P256::generate();
    let fields = Fields::new(vec![1; 32], key.point());
    let mut parts: Vec<Vec<u8>> =
        t::items(t::read_one(&fields.krd(), TAG_UAFV1_KRD).unwrap().value)
            .unwrap()
            .iter()
            .map(|i| i.raw.to_vec())
            .collect();
    parts.push(tlv(0x2EFF, &[1, 2, 3]));
    let krd = composite(TAG_UAFV1_KRD, &parts);
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            krd.clone(),
            composite(
                TAG_ATTESTATION_BASIC_SURROGATE,
                &[tlv(TAG_SIGNATURE, &key.sign_raw(&krd))],
            ),
        ],
    );
    refused(
        parse_registration(&data),
        StatusCode::BadRequest,
        "tlvUnknownTag",
    );
}

#[test]
fn a_non_critical_extension_is_skipped_and_a_critical_one_refused() {
    let key = P256::generate();
    let fields = Fields::new(vec![1; 32], key.point());
    let krd = fields.krd();
    let attestation = composite(
        TAG_ATTESTATION_BASIC_SURROGATE,
        &[tlv(TAG_SIGNATURE, &key.sign_raw(&krd))],
    );
    let extension = |tag| {
        composite(
            tag,
            &[
                tlv(TAG_EXTENSION_ID, b"ext.example"),
                tlv(TAG_EXTENSION_DATA, &[1]),
            ],
        )
    };
    let with = |ext: Vec<u8>| {
        composite(
            TAG_UAFV1_REG_ASSERTION,
            &[krd.clone(), attestation.clone(), ext],
        )
    };
    let reg = parse_registration(&with(extension(TAG_EXTENSION))).unwrap();
    assert_eq!(reg.aaid, AAID);
    refused(
        parse_registration(&with(extension(TAG_EXTENSION_CRITICAL))),
        StatusCode::UnacceptableContent,
        "criticalExtension",
    );
    refused(
        parse_registration(&with(composite(
            TAG_EXTENSION,
            &[tlv(TAG_EXTENSION_DATA, &[1])],
        ))),
        StatusCode::BadRequest,
        "extension",
    );
}

#[test]
fn composites_nested_too_deep_are_refused() {
    let mut data = tlv(TAG_AAID, AAID.as_bytes());
    for _ in 0..t::MAX_DEPTH {
        data = tlv(TAG_EXTENSION, &data);
    }
    let shallow = tlv(TAG_UAFV1_REG_ASSERTION, &data[4..]);
    // MAX_DEPTH composites nest fine (the structure is refused later, not for its depth).
    let refusal = parse_registration(&shallow).unwrap_err();
    assert_ne!(refusal.check, "tlvDepth");
    let deep = tlv(TAG_UAFV1_REG_ASSERTION, &data);
    refused(
        parse_registration(&deep),
        StatusCode::BadRequest,
        "tlvDepth",
    );
}

#[test]
fn a_field_of_the_wrong_length_is_refused() {
    let key = P256::generate();
    let fields = Fields::new(vec![1; 32], key.point());
    // The auth assertion info is 5 bytes; a registration's 7-byte one is refused there.
    let signed = composite(
        TAG_UAFV1_SIGNED_DATA,
        &[
            tlv(TAG_AAID, AAID.as_bytes()),
            tlv(TAG_ASSERTION_INFO, &[1, 0, 1, 1, 0, 0, 1]),
            tlv(TAG_AUTHENTICATOR_NONCE, &[1; 8]),
            tlv(TAG_FINAL_CHALLENGE_HASH, &[1; 32]),
            tlv(TAG_TRANSACTION_CONTENT_HASH, &[]),
            tlv(TAG_KEYID, &fields.key_id),
            tlv(TAG_COUNTERS, &[0; 4]),
        ],
    );
    let data = composite(
        TAG_UAFV1_AUTH_ASSERTION,
        &[signed, tlv(TAG_SIGNATURE, &[1; 64])],
    );
    refused(
        parse_authentication(&data),
        StatusCode::BadRequest,
        "tlvLength",
    );
}

#[test]
fn malformed_field_values_are_refused_with_their_check() {
    let key = P256::generate();
    let base = Fields::new(vec![1; 32], key.point());
    let cases: Vec<(&str, Breaks, StatusCode)> = vec![
        (
            "aaid",
            Box::new(|f| f.aaid = b"FFFF-0001".to_vec()),
            StatusCode::BadRequest,
        ),
        (
            "aaid",
            Box::new(|f| f.aaid = b"FFFG#0001".to_vec()),
            StatusCode::BadRequest,
        ),
        (
            "keyId",
            Box::new(|f| f.key_id = vec![1; 31]),
            StatusCode::BadRequest,
        ),
        (
            "finalChallengeHash",
            Box::new(|f| f.fch = Vec::new()),
            StatusCode::BadRequest,
        ),
        (
            "authenticationMode",
            Box::new(|f| f.mode = 0x02),
            StatusCode::UnacceptableContent,
        ),
    ];
    for (check, breaks, status) in cases {
        let mut fields = base.clone();
        breaks(&mut fields);
        refused(
            parse_registration(&surrogate_assertion(&fields, &key)),
            status,
            check,
        );
    }
    let auth_cases: Vec<(&str, Breaks, StatusCode)> = vec![
        (
            "authenticatorNonce",
            Box::new(|f| f.nonce = vec![1; 7]),
            StatusCode::BadRequest,
        ),
        (
            "authenticationMode",
            Box::new(|f| f.mode = 0x03),
            StatusCode::UnacceptableContent,
        ),
        (
            "transactionContentHash",
            Box::new(|f| f.tch = vec![1; 65]),
            StatusCode::BadRequest,
        ),
    ];
    for (check, breaks, status) in auth_cases {
        let mut fields = base.clone();
        breaks(&mut fields);
        refused(
            parse_authentication(&auth_assertion(&fields, &key)),
            status,
            check,
        );
    }
}

#[test]
fn ecdaa_attestation_is_refused_as_unacceptable_attestation() {
    let key = P256::generate();
    let data = composite(
        TAG_UAFV1_REG_ASSERTION,
        &[
            Fields::new(vec![1; 32], key.point()).krd(),
            composite(TAG_ATTESTATION_ECDAA, &[tlv(TAG_SIGNATURE, &[1; 64])]),
        ],
    );
    refused(
        parse_registration(&data),
        StatusCode::UnacceptableAttestation,
        "attestationType",
    );
}

#[test]
fn fields_report_duplicates_even_of_optional_tags() {
    let data = composite(TAG_UAFV1_KRD, &[tlv(TAG_AAID, b"a"), tlv(TAG_AAID, b"b")]);
    let top = t::read_one(&data, TAG_UAFV1_KRD).unwrap();
    let fields = TlvFields::parse(top, "test", &[TAG_AAID]).unwrap();
    refused(
        fields.optional(TAG_AAID, "AAID"),
        StatusCode::BadRequest,
        "tlvDuplicateTag",
    );
    assert_eq!(fields.all(TAG_AAID).len(), 2);
}
