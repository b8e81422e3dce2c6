use serde_json::{json, Value};

use super::*;
use crate::fido::{
    verify_registration, verify_registration_observed, AttestationType, RegistrationError,
    TrustAnchors, VerifiedRegistration,
};

fn verify(reg: &Value) -> Result<VerifiedRegistration, RegistrationError> {
    let origins = origins();
    let anchors = TrustAnchors::empty();
    verify_registration(reg, &expectations(&origins, &anchors))
}

fn refused(reg: &Value) -> &'static str {
    verify(reg).expect_err("must be refused").check()
}

#[test]
fn a_well_formed_none_registration_verifies() {
    let reg = Reg::new();
    let ok = verify(&reg.json()).unwrap();
    assert_eq!(ok.credential_id, reg.credential_id);
    assert_eq!(ok.public_key, reg.cose_key());
    assert_eq!(ok.algorithm, -7);
    assert_eq!(ok.aaguid, AAGUID);
    assert_eq!(ok.format, "none");
    assert_eq!(ok.attestation_type, AttestationType::None);
    assert!(!ok.attestation_trusted);
    assert_eq!(ok.transports, ["usb", "internal"]);
    assert!(ok.user_present && ok.user_verified && !ok.backup_eligible && !ok.backup_state);
    assert_eq!(ok.discoverable, Some(true));
    assert_eq!(
        ok.authenticator_attachment.as_deref(),
        Some("cross-platform")
    );
    assert_eq!(ok.client_data_json, reg.client_data());
}

#[test]
fn a_none_attestation_is_refused_when_trusted_attestation_is_required() {
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.policy = AttestationPolicy::RequireTrusted;
    let err = verify_registration(&Reg::new().json(), &exp).unwrap_err();
    assert!(matches!(err, RegistrationError::UntrustedAttestation(_)));
}

#[test]
fn a_credential_type_other_than_public_key_is_refused() {
    let mut reg = Reg::new().json();
    reg["type"] = json!("password");
    assert_eq!(refused(&reg), "credentialType");
}

#[test]
fn a_client_data_type_other_than_create_is_refused() {
    let mut reg = Reg::new();
    reg.client_type = "webauthn.get".into();
    assert_eq!(refused(&reg.json()), "type");
}

#[test]
fn the_client_data_types_accepted_are_the_relying_partys_list() {
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut reg = Reg::new();
    reg.client_type = "payment.get".into();
    let err = verify(&reg.json()).unwrap_err();
    assert_eq!(err.check(), "type");
    let why = err.to_string();
    assert!(
        why.contains("\"payment.get\"") && why.contains("(\"webauthn.create\")"),
        "{why}"
    );

    let mut exp = expectations(&origins, &anchors);
    exp.client_data_types = &["webauthn.create", "example.create"];
    reg.client_type = "example.create".into();
    let mut checks = Vec::new();
    verify_registration_observed(&reg.json(), &exp, &mut |c| checks.push(c))
        .expect("a listed type is accepted");
    let kind = checks.iter().find(|c| c.name == "type").expect("type");
    assert_eq!(
        kind.detail,
        "\"example.create\" (accepted: \"webauthn.create\", \"example.create\")"
    );
    reg.client_type = "webauthn.get".into();
    let why = verify_registration(&reg.json(), &exp)
        .unwrap_err()
        .to_string();
    assert!(
        why.contains(
            "\"webauthn.get\" is not an accepted one (\"webauthn.create\", \"example.create\")"
        ),
        "{why}"
    );
}

#[test]
fn a_challenge_that_differs_is_refused() {
    let mut reg = Reg::new();
    reg.challenge = vec![8; 32];
    assert_eq!(refused(&reg.json()), "challenge");
    reg.challenge = CHALLENGE[..31].to_vec();
    assert_eq!(refused(&reg.json()), "challenge");
}

#[test]
fn an_origin_not_in_the_list_is_refused() {
    let mut reg = Reg::new();
    reg.origin = "https://evil.example".into();
    let err = verify(&reg.json()).unwrap_err();
    assert_eq!(err.check(), "origin");
    assert!(err.to_string().contains("https://evil.example"));
}

#[test]
fn a_cross_origin_ceremony_is_refused_unless_allowed() {
    let mut reg = Reg::new();
    reg.cross_origin = Some(true);
    assert_eq!(refused(&reg.json()), "crossOrigin");
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.allow_cross_origin = true;
    verify_registration(&reg.json(), &exp).unwrap();
}

#[test]
fn a_top_origin_is_refused_unless_cross_origin_is_allowed_and_it_is_listed() {
    let mut reg = Reg::new();
    reg.cross_origin = Some(true);
    reg.top_origin = Some("https://shop.example".into());
    assert_eq!(refused(&reg.json()), "crossOrigin");
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let listed = vec!["https://other.example".to_string()];
    let mut exp = expectations(&origins, &anchors);
    exp.allow_cross_origin = true;
    exp.top_origins = &listed;
    let err = verify_registration(&reg.json(), &exp).unwrap_err();
    assert_eq!(err.check(), "topOrigin");
    exp.top_origins = &[];
    verify_registration(&reg.json(), &exp).unwrap();
}

#[test]
fn a_token_binding_is_present_with_its_id_or_supported_else_malformed_client_data() {
    for (member, why) in [
        (json!({"status": "supported"}), None),
        (json!({"status": "present", "id": "c29tZS1pZA"}), None),
        (
            json!({"status": "not-supported"}),
            Some("not \"present\" or \"supported\""),
        ),
        (json!({"status": "present"}), Some("no id")),
        (json!({"status": "present", "id": ""}), Some("no id")),
        (json!({"id": "c29tZS1pZA"}), Some("no status")),
        (json!({"status": 1}), Some("no status")),
        (json!("present"), Some("not an object")),
    ] {
        let mut reg = Reg::new();
        reg.token_binding = Some(member.clone());
        match (verify(&reg.json()), why) {
            (Ok(_), None) => {}
            (Err(e), Some(why)) => {
                assert_eq!(e.check(), "malformed", "{member}");
                assert!(e.to_string().contains(why), "{member}: {e}");
            }
            (outcome, _) => panic!("{member}: {:?}", outcome.map(|_| ())),
        }
    }
}

#[test]
fn authenticator_data_for_another_site_is_refused() {
    let mut reg = Reg::new();
    reg.rp_id = "evil.example".into();
    assert_eq!(refused(&reg.json()), "rpIdHash");
}

#[test]
fn a_response_without_user_presence_is_refused() {
    let mut reg = Reg::new();
    reg.flags = UV | AT;
    assert_eq!(refused(&reg.json()), "userPresent");
}

#[test]
fn a_response_without_user_verification_is_refused_when_it_is_required() {
    let mut reg = Reg::new();
    reg.flags = UP | AT;
    verify(&reg.json()).unwrap();
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.require_user_verification = true;
    let err = verify_registration(&reg.json(), &exp).unwrap_err();
    assert_eq!(err.check(), "userVerified");
}

#[test]
fn backup_state_without_backup_eligibility_is_refused() {
    let mut reg = Reg::new();
    reg.flags = UP | UV | AT | BS;
    assert_eq!(refused(&reg.json()), "backupState");
    reg.flags |= BE;
    let ok = verify(&reg.json()).unwrap();
    assert!(ok.backup_eligible && ok.backup_state);
}

#[test]
fn an_algorithm_that_was_not_offered_is_refused() {
    let reg = Reg::new();
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.algorithms = &[-8, -257];
    let err = verify_registration(&reg.json(), &exp).unwrap_err();
    assert!(matches!(err, RegistrationError::AlgorithmNotAllowed(-7)));
}

#[test]
fn an_id_that_differs_from_raw_id_is_refused() {
    let mut reg = Reg::new().json();
    reg["id"] = json!(b64url(&[0xc2; 32]));
    assert_eq!(refused(&reg), "credentialId");
}

#[test]
fn a_credential_id_in_authenticator_data_that_differs_from_the_id_is_refused() {
    let reg = Reg::new();
    let mut json = reg.json();
    let other = b64url(&[0xc2; 32]);
    json["id"] = json!(other);
    json["rawId"] = json!(other);
    assert_eq!(refused(&json), "credentialId");
}

#[test]
fn trailing_bytes_after_the_authenticator_data_are_refused() {
    let mut reg = Reg::new();
    reg.trailing = vec![0];
    assert_eq!(refused(&reg.json()), "authenticatorDataLength");
}

#[test]
fn authenticator_data_without_attested_credential_data_is_refused() {
    let mut reg = Reg::new();
    reg.flags = UP | UV;
    assert_eq!(refused(&reg.json()), "attestedCredentialData");
}

#[test]
fn an_extension_flag_without_extension_data_is_refused() {
    let mut reg = Reg::new();
    reg.flags |= ED;
    assert_eq!(refused(&reg.json()), "extensions");
}

#[test]
fn extension_data_without_the_extension_flag_is_refused() {
    let mut reg = Reg::new();
    reg.extensions = Some(cbor(&Cbor::Map(vec![(text("credProtect"), int(1))])));
    assert_eq!(refused(&reg.json()), "authenticatorDataLength");
    reg.flags |= ED;
    verify(&reg.json()).unwrap();
    reg.trailing = vec![0xff];
    assert_eq!(refused(&reg.json()), "authenticatorDataLength");
}

#[test]
fn the_extensions_check_passes_only_when_extension_data_is_announced() {
    let outcome = |reg: &Reg| {
        let origins = origins();
        let anchors = TrustAnchors::empty();
        let mut checks = Vec::new();
        crate::fido::verify_registration_observed(
            &reg.json(),
            &expectations(&origins, &anchors),
            &mut |c| checks.push(c),
        )
        .unwrap();
        checks
            .iter()
            .find(|c| c.name == "extensions")
            .map(|c| c.outcome)
    };
    let mut reg = Reg::new();
    assert_eq!(outcome(&reg), Some(crate::fido::CheckOutcome::Skipped));
    reg.extensions = Some(cbor(&Cbor::Map(vec![(text("credProtect"), int(1))])));
    reg.flags |= ED;
    assert_eq!(outcome(&reg), Some(crate::fido::CheckOutcome::Pass));
}

#[test]
fn a_credential_id_of_1024_bytes_is_refused() {
    let mut reg = Reg::new();
    reg.credential_id = vec![0xaa; 1024];
    assert_eq!(refused(&reg.json()), "credentialIdLength");
    reg.credential_id = vec![0xaa; 1023];
    verify(&reg.json()).unwrap();
}

#[test]
fn a_cose_key_whose_curve_does_not_fit_its_algorithm_is_refused() {
    let mut reg = Reg::new();
    reg.cose_alg = -35;
    assert_eq!(refused(&reg.json()), "publicKey");
}

#[test]
fn a_cose_key_that_is_not_a_map_is_refused() {
    let mut reg = Reg::new();
    reg.cose_key = Some(cbor(&int(5)));
    assert_eq!(refused(&reg.json()), "publicKey");
}

/// A P-256 or P-384 point off its curve could never verify an assertion: refused at
/// registration (ring would only notice at sign-in).
#[test]
fn an_ec2_key_whose_point_is_not_on_its_curve_is_refused() {
    let reg = Reg::new();
    let point = reg.key.point().to_vec();
    let mut y = point[33..65].to_vec();
    y[31] ^= 1;
    let mut off_curve = Reg::new();
    off_curve.cose_key = Some(cbor(&Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), Cbor::Bytes(point[1..33].to_vec())),
        (int(-3), Cbor::Bytes(y)),
    ])));
    assert_eq!(refused(&off_curve.json()), "publicKey");
    let p384 = Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(-35)),
        (int(-1), int(2)),
        (int(-2), Cbor::Bytes(vec![1; 48])),
        (int(-3), Cbor::Bytes(vec![2; 48])),
    ]);
    off_curve.cose_key = Some(cbor(&p384));
    assert_eq!(refused(&off_curve.json()), "publicKey");
}

#[test]
fn a_public_key_convenience_member_that_disagrees_is_ignored() {
    let reg = Reg::new();
    let mut json = reg.json();
    let other = Key::generate();
    json["response"]["publicKey"] = json!(b64url(other.point()));
    json["response"]["publicKeyAlgorithm"] = json!(-8);
    json["response"]["authenticatorData"] = json!(b64url(&[0; 37]));
    let ok = verify(&json).unwrap();
    assert_eq!(ok.public_key, reg.cose_key());
    assert_eq!(ok.algorithm, -7);
}

#[test]
fn malformed_base64url_is_refused() {
    let mut json = Reg::new().json();
    json["response"]["attestationObject"] = json!("not base64url!");
    assert_eq!(refused(&json), "malformed");
    let mut json = Reg::new().json();
    json["rawId"] = json!("a+b/");
    assert_eq!(refused(&json), "malformed");
}

#[test]
fn a_malformed_attestation_object_is_refused() {
    let mut json = Reg::new().json();
    json["response"]["attestationObject"] = json!(b64url(&[0xa3, 0x63, 0x66]));
    assert_eq!(refused(&json), "malformed");
    let mut object = Reg::new().attestation_object();
    object.push(0);
    let mut json = Reg::new().json();
    json["response"]["attestationObject"] = json!(b64url(&object));
    assert_eq!(refused(&json), "malformed");
}

#[test]
fn malformed_client_data_json_is_refused() {
    let mut json = Reg::new().json();
    json["response"]["clientDataJSON"] = json!(b64url(b"{\"type\": "));
    assert_eq!(refused(&json), "malformed");
    json["response"]["clientDataJSON"] = json!(b64url(&[0xff, 0xfe]));
    assert_eq!(refused(&json), "malformed");
}

#[test]
fn a_missing_member_is_refused() {
    for pointer in ["id", "rawId", "type", "response"] {
        let mut json = Reg::new().json();
        json.as_object_mut().unwrap().remove(pointer);
        assert_eq!(refused(&json), "malformed", "{pointer}");
    }
    let mut json = Reg::new().json();
    json["response"]
        .as_object_mut()
        .unwrap()
        .remove("clientDataJSON");
    assert_eq!(refused(&json), "malformed");
    assert_eq!(refused(&json!(null)), "malformed");
}

#[test]
fn truncated_authenticator_data_is_refused_without_panicking() {
    let reg = Reg::new();
    let auth_data = reg.auth_data();
    for len in [0, 10, 36, 37, 50, 55, 70, auth_data.len() - 1] {
        let object = cbor(&Cbor::Map(vec![
            (text("fmt"), text("none")),
            (text("attStmt"), Cbor::Map(vec![])),
            (text("authData"), Cbor::Bytes(auth_data[..len].to_vec())),
        ]));
        let mut json = reg.json();
        json["response"]["attestationObject"] = json!(b64url(&object));
        assert!(verify(&json).is_err(), "length {len}");
    }
}

#[test]
fn a_none_attestation_with_a_statement_is_refused() {
    let reg = Reg::with(Att::Raw {
        fmt: "none".into(),
        stmt: Cbor::Map(vec![(text("sig"), Cbor::Bytes(vec![1]))]),
    });
    assert_eq!(refused(&reg.json()), "attestationStatement");
}

#[test]
fn an_unsupported_format_is_refused() {
    let reg = Reg::with(Att::Raw {
        fmt: "x-vendor".into(),
        stmt: Cbor::Map(vec![]),
    });
    let err = verify(&reg.json()).unwrap_err();
    assert!(matches!(err, RegistrationError::UnsupportedFormat(ref f) if f == "x-vendor"));
}

#[test]
fn an_unknown_format_is_accepted_untrusted_when_the_expectations_allow_it() {
    let reg = Reg::with(Att::Raw {
        fmt: "x-vendor".into(),
        stmt: Cbor::Map(vec![(text("anything"), int(1))]),
    });
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.accept_unknown_formats = true;
    let ok = verify_registration(&reg.json(), &exp).unwrap();
    assert_eq!(ok.format, "x-vendor");
    assert_eq!(ok.attestation_type, AttestationType::Unverified);
    assert!(!ok.attestation_trusted);
    exp.policy = AttestationPolicy::RequireTrusted;
    let err = verify_registration(&reg.json(), &exp).unwrap_err();
    assert_eq!(err.check(), "attestationFormat");
}

#[test]
fn a_packed_self_attestation_verifies_but_is_not_trusted() {
    let reg = Reg::with(Att::SelfPacked { alg: -7 });
    let ok = verify(&reg.json()).unwrap();
    assert_eq!(ok.format, "packed");
    assert_eq!(ok.attestation_type, AttestationType::Self_);
    assert!(!ok.attestation_trusted);
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.policy = AttestationPolicy::RequireTrusted;
    let err = verify_registration(&reg.json(), &exp).unwrap_err();
    assert_eq!(err.check(), "attestationTrust");
}

#[test]
fn a_tampered_attestation_signature_is_refused() {
    let mut reg = Reg::with(Att::SelfPacked { alg: -7 });
    reg.tamper_signature = true;
    assert_eq!(refused(&reg.json()), "attestationSignature");
}

#[test]
fn a_self_attestation_with_another_algorithm_is_refused() {
    let reg = Reg::with(Att::SelfPacked { alg: -257 });
    assert_eq!(refused(&reg.json()), "attestationStatement");
}

#[test]
fn hostile_cbor_lengths_are_refused_without_allocating_them() {
    let reg = Reg::new();
    // A map claiming 2^32 entries, an array claiming 2^32 items, a byte string claiming 2^40 bytes.
    for object in [
        vec![0xba, 0xff, 0xff, 0xff, 0xff, 0x63, 0x66],
        vec![0x9a, 0xff, 0xff, 0xff, 0xff, 0x00],
        vec![0x5b, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01],
    ] {
        let mut json = reg.json();
        json["response"]["attestationObject"] = json!(b64url(&object));
        assert_eq!(refused(&json), "malformed");
    }
    let mut deep = vec![0x81; 10_000];
    deep.push(0x00);
    let mut json = reg.json();
    json["response"]["attestationObject"] = json!(b64url(&deep));
    assert_eq!(refused(&json), "malformed");
}

#[test]
fn every_single_byte_corruption_of_the_attestation_object_is_handled_without_panicking() {
    let reg = Reg::with(Att::SelfPacked { alg: -7 });
    let object = reg.attestation_object();
    let json = reg.json();
    for i in 0..object.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut spoiled = object.clone();
            spoiled[i] ^= mask;
            let mut json = json.clone();
            json["response"]["attestationObject"] = json!(b64url(&spoiled));
            let _ = verify(&json);
        }
        let mut json = json.clone();
        json["response"]["attestationObject"] = json!(b64url(&object[..i]));
        assert!(verify(&json).is_err());
    }
}

#[test]
fn an_unknown_authenticator_attachment_is_dropped() {
    let mut json = Reg::new().json();
    json["authenticatorAttachment"] = json!("<script>");
    assert_eq!(verify(&json).unwrap().authenticator_attachment, None);
}

#[test]
fn a_none_attestation_with_a_large_statement_is_refused_inside_a_compound_one_too() {
    let padded = Cbor::Map(vec![(text("padding"), Cbor::Bytes(vec![0; 8000]))]);
    let reg = Reg::with(Att::Raw {
        fmt: "compound".into(),
        stmt: Cbor::Array(vec![Cbor::Map(vec![
            (text("fmt"), text("none")),
            (text("attStmt"), padded),
        ])]),
    });
    assert_eq!(refused(&reg.json()), "attestationStatement");
}

#[test]
fn an_attestation_object_with_a_member_besides_fmt_att_stmt_and_auth_data_is_refused() {
    let reg = Reg::new();
    for extra in [
        (text("padding"), Cbor::Bytes(vec![0; 100])),
        (text("x5c"), Cbor::Array(vec![])),
        (int(1), int(2)),
    ] {
        let object = cbor(&Cbor::Map(vec![
            (text("fmt"), text("none")),
            (text("attStmt"), Cbor::Map(vec![])),
            (text("authData"), Cbor::Bytes(reg.auth_data())),
            extra,
        ]));
        let mut json = reg.json();
        json["response"]["attestationObject"] = json!(b64url(&object));
        let err = verify(&json).expect_err("an extra member is refused");
        assert_eq!(err.check(), "malformed");
        assert!(
            err.to_string().contains("fmt, attStmt and authData"),
            "{err}"
        );
    }
}

/// A none registration whose authenticator data carries an extension map padded to make the
/// attestation object `size` bytes long.
fn attestation_object_of(size: usize) -> Value {
    let mut reg = Reg::new();
    reg.flags |= ED;
    let unpadded = {
        reg.extensions = Some(cbor(&Cbor::Map(vec![(
            text("padding"),
            Cbor::Bytes(vec![0; 1000]),
        )])));
        reg.attestation_object().len() - 1000
    };
    reg.extensions = Some(cbor(&Cbor::Map(vec![(
        text("padding"),
        Cbor::Bytes(vec![0; size - unpadded]),
    )])));
    assert_eq!(reg.attestation_object().len(), size);
    reg.json()
}

#[test]
fn an_attestation_object_over_16_kib_is_refused() {
    assert!(verify(&attestation_object_of(16 * 1024)).is_ok());
    let err = verify(&attestation_object_of(16 * 1024 + 1)).unwrap_err();
    assert_eq!(err.check(), "responseSize");
    assert!(err.to_string().contains("16384"), "{err}");
}

#[test]
fn client_data_json_over_16_kib_is_refused() {
    let reg = Reg::new();
    let with_padding = |size: usize| {
        let mut data: Value = serde_json::from_slice(&reg.client_data()).unwrap();
        let unpadded = {
            data["padding"] = json!("");
            serde_json::to_vec(&data).unwrap().len()
        };
        data["padding"] = json!("p".repeat(size - unpadded));
        let bytes = serde_json::to_vec(&data).unwrap();
        assert_eq!(bytes.len(), size);
        let mut json = reg.json();
        json["response"]["clientDataJSON"] = json!(b64url(&bytes));
        json
    };
    assert!(verify(&with_padding(16 * 1024)).is_ok());
    let err = verify(&with_padding(16 * 1024 + 1)).unwrap_err();
    assert_eq!(err.check(), "responseSize");
    assert!(err.to_string().contains("clientDataJSON"), "{err}");
}

#[test]
fn the_challenge_a_response_answers_is_read_before_verifying_it() {
    let mut reg = Reg::new();
    reg.rp_id = "another.example".into();
    assert_eq!(
        crate::fido::response_challenge(&reg.json()),
        Ok(CHALLENGE.to_vec())
    );
    reg.challenge = Vec::new();
    let err = crate::fido::response_challenge(&reg.json()).unwrap_err();
    assert!(err.contains("not base64url"), "{err}");
}

#[test]
fn an_attestation_statement_array_is_refused_unless_the_format_is_compound() {
    let reg = Reg::with(Att::Raw {
        fmt: "packed".into(),
        stmt: Cbor::Array(vec![]),
    });
    let err = verify(&reg.json()).unwrap_err();
    assert!(err.to_string().contains("no \"attStmt\" map"), "{err}");
}
