//! The `android-key` format: the KeyDescription extension and its authorization lists.

use super::*;

pub(super) struct Lists {
    software: Vec<Vec<u8>>,
    tee: Vec<Vec<u8>>,
}

fn origin_generated() -> Vec<u8> {
    explicit(702, &int_der(0))
}

fn purpose_sign() -> Vec<u8> {
    explicit(1, &tlv(0x31, &int_der(2)))
}

fn all_applications() -> Vec<u8> {
    explicit(600, &tlv(0x05, &[]))
}

/// KeyDescription with security levels as ENUMERATED (or INTEGER when `integer_levels`).
fn key_description(challenge: &[u8], lists: &Lists, integer_levels: bool) -> Vec<u8> {
    let level = if integer_levels {
        int_der(1)
    } else {
        tlv(0x0a, &[1])
    };
    seq(&[
        int_der(3),
        level.clone(),
        int_der(4),
        level,
        tlv(0x04, challenge),
        tlv(0x04, &[]),
        seq(&lists.software),
        seq(&lists.tee),
    ])
}

pub(super) fn android_key(challenge: Option<Vec<u8>>, lists: Lists) -> Reg {
    let ca = self_signed(ca_params("Android Test CA", None));
    let (mut reg, key) = reg_with_cert_key("android-key");
    let challenge = challenge.unwrap_or_else(|| sha256(&reg.client_data()));
    let ext = CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17],
        key_description(&challenge, &lists, true),
    );
    let leaf = leaf_with(&key, ext, &ca);
    let sig = reg.key.sign(&signed_data(&reg));
    reg.att = Att::Raw {
        fmt: "android-key".into(),
        stmt: Cbor::Map(vec![
            (text("alg"), int(-7)),
            (text("sig"), Cbor::Bytes(sig)),
            (text("x5c"), x5c(&[leaf.der().to_vec(), ca.der()])),
        ]),
    };
    reg
}

pub(super) fn tee_lists() -> Lists {
    Lists {
        software: vec![],
        tee: vec![purpose_sign(), origin_generated()],
    }
}

#[test]
fn an_android_key_attestation_verifies_with_integer_security_levels() {
    let ok = verify(&android_key(None, tee_lists())).unwrap();
    assert_eq!(ok.format, "android-key");
    assert_eq!(ok.attestation_type, AttestationType::Basic);
}

#[test]
fn the_key_description_reader_accepts_enumerated_security_levels_too() {
    let der = key_description(&[1; 32], &tee_lists(), false);
    let parsed = crate::fido::attestation::android_key::KeyDescription::parse(&der).unwrap();
    assert_eq!(parsed.challenge, vec![1; 32]);
    assert_eq!(parsed.tee.purposes, vec![2]);
    assert_eq!(parsed.tee.origin, Some(0));
}

/// A KeyDescription with these version and security level TLVs and the usual lists.
fn key_description_with(version: Vec<u8>, att_level: Vec<u8>, km_level: Vec<u8>) -> Vec<u8> {
    let lists = tee_lists();
    seq(&[
        version,
        att_level,
        int_der(4),
        km_level,
        tlv(0x04, &[1; 32]),
        tlv(0x04, &[]),
        seq(&lists.software),
        seq(&lists.tee),
    ])
}

fn key_description_refusal(der: &[u8]) -> String {
    crate::fido::attestation::android_key::KeyDescription::parse(der).expect_err("must be refused")
}

#[test]
fn a_key_description_with_trailing_bytes_or_that_is_not_a_sequence_is_refused() {
    let good = key_description(&[1; 32], &tee_lists(), false);
    crate::fido::attestation::android_key::KeyDescription::parse(&good).expect("well formed");
    let mut trailing = good.clone();
    trailing.extend([0x05, 0x00]);
    assert!(key_description_refusal(&trailing).contains("expected shape"));
    let mut set = good;
    set[0] = 0x31;
    assert!(key_description_refusal(&set).contains("expected shape"));
}

#[test]
fn a_key_description_whose_version_or_either_security_level_has_the_wrong_type_is_refused() {
    let version = || int_der(3);
    let level = || tlv(0x0a, &[1]);
    let octets = || tlv(0x04, &[1]);
    crate::fido::attestation::android_key::KeyDescription::parse(&key_description_with(
        version(),
        level(),
        level(),
    ))
    .expect("well formed");
    for (what, der) in [
        (
            "an ENUMERATED version",
            key_description_with(tlv(0x0a, &[3]), level(), level()),
        ),
        (
            "an OCTET STRING attestationSecurityLevel",
            key_description_with(version(), octets(), level()),
        ),
        (
            "an OCTET STRING keymasterSecurityLevel",
            key_description_with(version(), level(), octets()),
        ),
    ] {
        assert!(
            key_description_refusal(&der).contains("expected shape"),
            "{what}"
        );
    }
}

#[test]
fn an_authorization_list_member_that_is_not_a_constructed_context_tag_is_refused() {
    let with_member = |member: Vec<u8>| {
        let mut lists = tee_lists();
        lists.tee.push(member);
        key_description(&[1; 32], &lists, false)
    };
    let unknown_member = with_member(explicit(5, &int_der(0)));
    let parsed = crate::fido::attestation::android_key::KeyDescription::parse(&unknown_member)
        .expect("an unknown [5] member is skipped");
    assert_eq!(parsed.tee.purposes, vec![2]);
    for (what, member) in [
        ("a universal SEQUENCE", seq(&[int_der(0)])),
        ("a primitive [5]", tlv(0x85, &[0])),
    ] {
        assert!(
            key_description_refusal(&with_member(member)).contains("expected shape"),
            "{what}"
        );
    }
}

#[test]
fn an_android_key_attestation_with_another_challenge_is_refused() {
    let (check, why) = refusal(&android_key(Some(vec![3; 32]), tee_lists()));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("attestationChallenge"), "{why}");
}

#[test]
fn an_android_key_bound_to_all_applications_is_refused() {
    let mut lists = tee_lists();
    lists.software.push(all_applications());
    let (check, why) = refusal(&android_key(None, lists));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("allApplications"), "{why}");
}

#[test]
fn empty_authorization_lists_are_refused() {
    let lists = Lists {
        software: vec![],
        tee: vec![],
    };
    let (_, why) = refusal(&android_key(None, lists));
    assert!(why.contains("KM_ORIGIN_GENERATED"), "{why}");
}

#[test]
fn software_enforced_authorizations_count_only_when_the_policy_allows_them() {
    let lists = || Lists {
        software: vec![purpose_sign(), origin_generated()],
        tee: vec![],
    };
    verify(&android_key(None, lists())).expect("allowed by default");
    let strict = FormatPolicy {
        android_key_allow_software_enforced: false,
        ..FormatPolicy::default()
    };
    let err = verify_with(&android_key(None, lists()), strict, &TrustAnchors::empty())
        .expect_err("teeEnforced only");
    assert!(err.to_string().contains("teeEnforced"), "{err}");
}

#[test]
fn an_android_key_attestation_with_an_imported_key_is_refused() {
    let lists = Lists {
        software: vec![],
        tee: vec![purpose_sign(), explicit(702, &int_der(2))],
    };
    let (_, why) = refusal(&android_key(None, lists));
    assert!(why.contains("KM_ORIGIN_GENERATED"), "{why}");
}
