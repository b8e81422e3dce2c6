use serde_json::{json, Value};

use super::*;
use crate::fido::{
    assertion_ids, verify_authentication, AuthenticationError, AuthenticationExpectations,
    VerifiedAuthentication, PAYMENT_GET, WEBAUTHN_GET,
};

const CREDENTIAL_ID: [u8; 16] = [0xc1; 16];

/// An assertion under construction.
struct Assertion {
    key: Key,
    client_type: String,
    challenge: Vec<u8>,
    origin: String,
    rp_id: String,
    flags: u8,
    sign_count: u32,
    trailing: Vec<u8>,
    user_handle: Value,
    tamper_signature: bool,
    /// The `payment` member of a Secure Payment Confirmation's client data.
    payment: Option<Value>,
}

impl Assertion {
    fn new() -> Self {
        Self {
            key: Key::generate(),
            client_type: "webauthn.get".into(),
            challenge: CHALLENGE.to_vec(),
            origin: ORIGIN.into(),
            rp_id: RP_ID.into(),
            flags: UP | UV,
            sign_count: 42,
            trailing: Vec::new(),
            user_handle: json!(b64url(b"user-handle")),
            tamper_signature: false,
            payment: None,
        }
    }

    fn json(&self) -> Value {
        let mut client_data = json!({
            "type": self.client_type,
            "challenge": b64url(&self.challenge),
            "origin": self.origin,
            "crossOrigin": false,
        });
        if let Some(payment) = &self.payment {
            client_data["payment"] = payment.clone();
        }
        let client_data = serde_json::to_vec(&client_data).unwrap();
        let mut auth_data = sha256(self.rp_id.as_bytes());
        auth_data.push(self.flags);
        auth_data.extend_from_slice(&self.sign_count.to_be_bytes());
        auth_data.extend_from_slice(&self.trailing);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let mut signature = self.key.sign(&signed);
        if self.tamper_signature {
            signature[10] ^= 1;
        }
        json!({
            "id": b64url(&CREDENTIAL_ID),
            "rawId": b64url(&CREDENTIAL_ID),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "authenticatorData": b64url(&auth_data),
                "signature": b64url(&signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
        })
    }

    fn verify(&self, uv: bool) -> Result<VerifiedAuthentication, AuthenticationError> {
        let origins = origins();
        let key = self.key.cose(-7);
        verify_authentication(
            &self.json(),
            &AuthenticationExpectations {
                challenge: &CHALLENGE,
                rp_id: RP_ID,
                origins: &origins,
                allow_cross_origin: false,
                top_origins: &[],
                client_data_types: &[WEBAUTHN_GET],
                require_user_verification: uv,
                public_key: &key,
                credential_id: &CREDENTIAL_ID,
                payment: None,
            },
        )
    }

    fn refused(&self) -> &'static str {
        self.verify(false).expect_err("must be refused").check()
    }
}

#[test]
fn a_valid_assertion_verifies() {
    let a = Assertion::new();
    let ok = a.verify(true).unwrap();
    assert_eq!(ok.credential_id, CREDENTIAL_ID);
    assert_eq!(ok.sign_count, 42);
    assert!(ok.user_present && ok.user_verified && !ok.backup_eligible && !ok.backup_state);
    assert_eq!(ok.user_handle.as_deref(), Some(&b"user-handle"[..]));
}

#[test]
fn a_user_handle_of_null_or_empty_is_absent() {
    let mut a = Assertion::new();
    for handle in [json!(null), json!("")] {
        a.user_handle = handle;
        assert_eq!(a.verify(false).unwrap().user_handle, None);
        assert_eq!(assertion_ids(&a.json()).unwrap().1, None);
    }
}

#[test]
fn assertion_ids_reads_the_id_and_user_handle() {
    let a = Assertion::new();
    let (id, handle) = assertion_ids(&a.json()).unwrap();
    assert_eq!(id, CREDENTIAL_ID);
    assert_eq!(handle.as_deref(), Some(&b"user-handle"[..]));
    let mut json = a.json();
    json["id"] = json!(b64url(b"other"));
    assert_eq!(assertion_ids(&json).unwrap_err().check(), "id");
    json["response"]["userHandle"] = json!(7);
    assert!(assertion_ids(&json).is_err());
}

#[test]
fn an_assertion_by_another_credential_is_refused() {
    let a = Assertion::new();
    let mut json = a.json();
    json["id"] = json!(b64url(b"other"));
    json["rawId"] = json!(b64url(b"other"));
    let key = a.key.cose(-7);
    let origins = origins();
    let err = verify_authentication(
        &json,
        &AuthenticationExpectations {
            challenge: &CHALLENGE,
            rp_id: RP_ID,
            origins: &origins,
            allow_cross_origin: false,
            top_origins: &[],
            client_data_types: &[WEBAUTHN_GET],
            require_user_verification: false,
            public_key: &key,
            credential_id: &CREDENTIAL_ID,
            payment: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.check(), "credentialId");
}

#[test]
fn a_tampered_assertion_signature_is_refused() {
    let mut a = Assertion::new();
    a.tamper_signature = true;
    assert_eq!(a.refused(), "signature");
}

#[test]
fn an_assertion_signed_by_another_key_is_refused() {
    let a = Assertion::new();
    let other = Key::generate().cose(-7);
    let origins = origins();
    let err = verify_authentication(
        &a.json(),
        &AuthenticationExpectations {
            challenge: &CHALLENGE,
            rp_id: RP_ID,
            origins: &origins,
            allow_cross_origin: false,
            top_origins: &[],
            client_data_types: &[WEBAUTHN_GET],
            require_user_verification: false,
            public_key: &other,
            credential_id: &CREDENTIAL_ID,
            payment: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.check(), "signature");
}

#[test]
fn each_assertion_check_refuses_what_it_guards() {
    type Spoil = fn(&mut Assertion);
    let cases: Vec<(Spoil, &str)> = vec![
        (|a| a.client_type = "webauthn.create".into(), "type"),
        (|a| a.challenge = vec![1; 32], "challenge"),
        (|a| a.origin = "https://evil.example".into(), "origin"),
        (|a| a.rp_id = "evil.example".into(), "rpIdHash"),
        (|a| a.flags = UV, "userPresent"),
        (|a| a.flags = UP | UV | BS, "backupState"),
        (|a| a.trailing = vec![0], "authenticatorDataLength"),
        (|a| a.flags = UP | UV | ED, "extensions"),
    ];
    for (spoil, check) in cases {
        let mut a = Assertion::new();
        spoil(&mut a);
        assert_eq!(a.refused(), check);
    }
}

#[test]
fn an_assertion_without_user_verification_is_refused_when_it_is_required() {
    let mut a = Assertion::new();
    a.flags = UP;
    a.verify(false).unwrap();
    assert_eq!(a.verify(true).unwrap_err().check(), "userVerified");
}

#[test]
fn a_stored_key_that_cannot_be_parsed_is_refused() {
    let a = Assertion::new();
    let origins = origins();
    let err = verify_authentication(
        &a.json(),
        &AuthenticationExpectations {
            challenge: &CHALLENGE,
            rp_id: RP_ID,
            origins: &origins,
            allow_cross_origin: false,
            top_origins: &[],
            client_data_types: &[WEBAUTHN_GET],
            require_user_verification: false,
            public_key: &[0xa0],
            credential_id: &CREDENTIAL_ID,
            payment: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.check(), "publicKey");
}

#[test]
fn a_malformed_signature_member_is_refused() {
    let a = Assertion::new();
    let mut json = a.json();
    json["response"]["signature"] = json!("!!");
    let key = a.key.cose(-7);
    let origins = origins();
    let err = verify_authentication(
        &json,
        &AuthenticationExpectations {
            challenge: &CHALLENGE,
            rp_id: RP_ID,
            origins: &origins,
            allow_cross_origin: false,
            top_origins: &[],
            client_data_types: &[WEBAUTHN_GET],
            require_user_verification: false,
            public_key: &key,
            credential_id: &CREDENTIAL_ID,
            payment: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.check(), "malformed");
}

#[test]
fn an_imported_public_key_is_checked_as_a_cose_key_that_can_verify() {
    use crate::fido::check_cose_key;
    let key = Key::generate();
    assert_eq!(check_cose_key(&key.cose(-7)), Ok(-7));
    // Trailing bytes, a point off its curve, a curve the algorithm does not use, RS1 and text
    // that is no CBOR are all refused.
    let mut trailing = key.cose(-7);
    trailing.push(0);
    assert!(check_cose_key(&trailing).is_err());
    let mut off_curve = key.cose(-7);
    let last = off_curve.len() - 1;
    off_curve[last] ^= 1;
    assert!(check_cose_key(&off_curve).is_err());
    assert!(check_cose_key(&key.cose(-35)).is_err());
    assert!(check_cose_key(b"not cbor").is_err());
    let rs1 = cbor(&Cbor::Map(vec![
        (int(1), int(3)),
        (int(3), int(-65535)),
        (int(-1), Cbor::Bytes(vec![0xc5; 256])),
        (int(-2), Cbor::Bytes(vec![1, 0, 1])),
    ]));
    let refused = check_cose_key(&rs1).unwrap_err();
    assert!(refused.contains("cannot verify"), "{refused}");
}

/// Each algorithm is known by its registered COSE number: a key of each one that can verify a
/// sign-in is read as that algorithm.
#[test]
fn a_cose_key_of_each_verifying_algorithm_is_read_by_its_registered_number() {
    use crate::fido::check_cose_key;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};
    let rng = SystemRandom::new();
    let ed25519 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed25519 = Ed25519KeyPair::from_pkcs8(ed25519.as_ref()).unwrap();
    let okp = cbor(&Cbor::Map(vec![
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), Cbor::Bytes(ed25519.public_key().as_ref().to_vec())),
    ]));
    let ec2 = ec2_cose_key;
    let p384 = &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(p384, &rng).unwrap();
    let p384 = EcdsaKeyPair::from_pkcs8(p384, pkcs8.as_ref(), &rng).unwrap();
    let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
    let p521 = p521::ecdsa::VerifyingKey::from(&p521).to_encoded_point(false);
    let rsa = |alg: i64| {
        cbor(&Cbor::Map(vec![
            (int(1), int(3)),
            (int(3), int(alg)),
            (int(-1), Cbor::Bytes(vec![0xc5; 256])),
            (int(-2), Cbor::Bytes(vec![1, 0, 1])),
        ]))
    };
    for (alg, key) in [
        (-8, okp),
        (-7, Key::generate().cose(-7)),
        (-35, ec2(-35, 2, p384.public_key().as_ref())),
        (-36, ec2(-36, 3, p521.as_bytes())),
        (-257, rsa(-257)),
        (-37, rsa(-37)),
    ] {
        assert_eq!(check_cose_key(&key), Ok(alg));
    }
}

#[test]
fn a_cose_key_whose_type_does_not_fit_its_algorithm_is_told_apart_from_an_unknown_type() {
    use crate::fido::check_cose_key;
    let key = |kty: i64, alg: i64| {
        cbor(&Cbor::Map(vec![
            (int(1), int(kty)),
            (int(3), int(alg)),
            (int(-1), Cbor::Bytes(vec![0xc5; 256])),
            (int(-2), Cbor::Bytes(vec![1, 0, 1])),
        ]))
    };
    let mismatch = check_cose_key(&key(2, -257)).unwrap_err();
    assert!(
        mismatch.contains("key type 2 cannot be used with algorithm -257"),
        "{mismatch}"
    );
    let unknown = check_cose_key(&key(4, -257)).unwrap_err();
    assert!(unknown.contains("key type 4 is not supported"), "{unknown}");
}

#[test]
fn an_ec2_key_with_either_coordinate_of_the_wrong_length_is_refused_as_such() {
    use crate::fido::check_cose_key;
    let point = Key::generate().point().to_vec();
    let (x, y) = (&point[1..33], &point[33..65]);
    let key = |x: &[u8], y: &[u8]| {
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(x.to_vec())),
            (int(-3), Cbor::Bytes(y.to_vec())),
        ]))
    };
    assert_eq!(check_cose_key(&key(x, y)), Ok(-7));
    for (what, key) in [("x", key(&x[1..], y)), ("y", key(x, &y[1..]))] {
        let err = check_cose_key(&key).unwrap_err();
        assert!(err.contains("wrong length"), "{what}: {err}");
    }
}

#[test]
fn an_rsa_key_needs_a_2048_to_8192_bit_modulus_and_an_exponent_of_one_to_four_bytes() {
    use crate::fido::check_cose_key;
    let key = |n: Vec<u8>, e: Vec<u8>| {
        cbor(&Cbor::Map(vec![
            (int(1), int(3)),
            (int(3), int(-257)),
            (int(-1), Cbor::Bytes(n)),
            (int(-2), Cbor::Bytes(e)),
        ]))
    };
    let f4 = || vec![1, 0, 1];
    let with_zero = [vec![0], vec![0xc5; 256]].concat();
    for (what, n, e) in [
        ("2048 bits", vec![0xc5; 256], f4()),
        ("2048 bits after a zero byte", with_zero, f4()),
        ("4096 bits", vec![0xc5; 512], f4()),
        ("8192 bits", vec![0xc5; 1024], f4()),
        ("exponent 3", vec![0xc5; 256], vec![3]),
        ("a four-byte exponent", vec![0xc5; 256], vec![1, 0, 0, 1]),
    ] {
        assert_eq!(check_cose_key(&key(n, e)), Ok(-257), "{what}");
    }
    for (what, n, e, why) in [
        ("2040 bits", vec![0xc5; 255], f4(), "2048 to 8192 bits"),
        ("8200 bits", vec![0xc5; 1025], f4(), "2048 to 8192 bits"),
        (
            "exponent 0",
            vec![0xc5; 256],
            vec![0],
            "exponent is invalid",
        ),
        (
            "a five-byte exponent",
            vec![0xc5; 256],
            vec![1, 0, 0, 0, 1],
            "exponent is invalid",
        ),
    ] {
        let err = check_cose_key(&key(n, e)).unwrap_err();
        assert!(err.contains(why), "{what}: {err}");
    }
}

/// A software key of each algorithm with its COSE_Key: (alg, COSE_Key, signature over `message`).
fn signed_by_each_algorithm(message: &[u8]) -> Vec<(i64, Vec<u8>, Vec<u8>)> {
    use p521::ecdsa::signature::Signer as _;
    use ring::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair};
    let rng = SystemRandom::new();
    let ec2 = ec2_cose_key;
    let p256 = Key::generate();
    let p384 = &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(p384, &rng).unwrap();
    let p384 = EcdsaKeyPair::from_pkcs8(p384, pkcs8.as_ref(), &rng).unwrap();
    let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
    let p521_point = p521::ecdsa::VerifyingKey::from(&p521).to_encoded_point(false);
    let p521_sig: p521::ecdsa::Signature = p521.sign(message);
    let ed25519 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed25519 = Ed25519KeyPair::from_pkcs8(ed25519.as_ref()).unwrap();
    let okp = cbor(&Cbor::Map(vec![
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), Cbor::Bytes(ed25519.public_key().as_ref().to_vec())),
    ]));
    let rsa = RsaKeyPair::from_pkcs8(include_bytes!("rsa-signer.test-key.pk8")).unwrap();
    let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let rsa_cose = |alg: i64| {
        cbor(&Cbor::Map(vec![
            (int(1), int(3)),
            (int(3), int(alg)),
            (int(-1), Cbor::Bytes(parts.n.clone())),
            (int(-2), Cbor::Bytes(parts.e.clone())),
        ]))
    };
    let rsa_sign = |padding: &'static dyn ring::signature::RsaEncoding| {
        let mut sig = vec![0; rsa.public().modulus_len()];
        rsa.sign(padding, &rng, message, &mut sig).unwrap();
        sig
    };
    vec![
        (-7, p256.cose(-7), p256.sign(message)),
        (
            -35,
            ec2(-35, 2, p384.public_key().as_ref()),
            p384.sign(&rng, message).unwrap().as_ref().to_vec(),
        ),
        (
            -36,
            ec2(-36, 3, p521_point.as_bytes()),
            p521_sig.to_der().as_bytes().to_vec(),
        ),
        (-8, okp, ed25519.sign(message).as_ref().to_vec()),
        (
            -257,
            rsa_cose(-257),
            rsa_sign(&ring::signature::RSA_PKCS1_SHA256),
        ),
        (
            -37,
            rsa_cose(-37),
            rsa_sign(&ring::signature::RSA_PSS_SHA256),
        ),
        (
            -38,
            rsa_cose(-38),
            rsa_sign(&ring::signature::RSA_PSS_SHA384),
        ),
        (
            -39,
            rsa_cose(-39),
            rsa_sign(&ring::signature::RSA_PSS_SHA512),
        ),
        (
            -258,
            rsa_cose(-258),
            rsa_sign(&ring::signature::RSA_PKCS1_SHA384),
        ),
        (
            -259,
            rsa_cose(-259),
            rsa_sign(&ring::signature::RSA_PKCS1_SHA512),
        ),
    ]
}

#[test]
fn an_rsa_signature_verifies_only_under_the_algorithm_of_its_key() {
    use crate::fido::cose::CoseKey;
    let rsa: Vec<_> = signed_by_each_algorithm(b"signed bytes")
        .into_iter()
        .filter(|(alg, _, _)| [-257, -258, -259, -37, -38, -39].contains(alg))
        .collect();
    assert_eq!(rsa.len(), 6);
    for (key_alg, cose, _) in &rsa {
        let key = CoseKey::from_bytes(cose).unwrap();
        for (sig_alg, _, sig) in &rsa {
            assert_eq!(
                key.verify(b"signed bytes", sig),
                key_alg == sig_alg,
                "a {key_alg} key and a {sig_alg} signature"
            );
        }
    }
}

#[test]
fn an_rsa_key_of_each_algorithm_is_a_key_an_import_may_carry_and_rs1_is_not() {
    for (alg, cose, _) in signed_by_each_algorithm(b"m") {
        assert_eq!(crate::fido::cose::check_cose_key(&cose), Ok(alg));
    }
    let rs1 = cbor(&Cbor::Map(vec![
        (int(1), int(3)),
        (int(3), int(-65535)),
        (int(-1), Cbor::Bytes(vec![0xc5; 256])),
        (int(-2), Cbor::Bytes(vec![1, 0, 1])),
    ]));
    let refused = crate::fido::cose::check_cose_key(&rs1).unwrap_err();
    assert!(
        refused.contains("-258, -259, -48, -49 or -50"),
        "the refusal lists what is verified: {refused}"
    );
    // An EC2 key may not claim an RSA algorithm.
    let ec2 = ec2_cose_key(-38, 1, &[4; 65]);
    assert!(crate::fido::cose::CoseKey::from_bytes(&ec2)
        .unwrap_err()
        .contains("cannot be used with algorithm -38"));
}

#[test]
fn a_signature_by_a_key_of_each_algorithm_verifies_over_its_message_only() {
    use crate::fido::cose::CoseKey;
    for (alg, cose, sig) in signed_by_each_algorithm(b"signed bytes") {
        let key = CoseKey::from_bytes(&cose).unwrap();
        assert!(key.verify(b"signed bytes", &sig), "{alg}");
        assert!(!key.verify(b"other bytes", &sig), "{alg}");
    }
}

#[test]
fn a_cose_key_is_described_by_its_type_curve_or_size_and_algorithm() {
    use crate::fido::cose::CoseKey;
    let rs1 = cbor(&Cbor::Map(vec![
        (int(1), int(3)),
        (int(3), int(-65535)),
        (int(-1), Cbor::Bytes(vec![0xc5; 256])),
        (int(-2), Cbor::Bytes(vec![1, 0, 1])),
    ]));
    let described: Vec<String> = signed_by_each_algorithm(b"m")
        .iter()
        .map(|(_, cose, _)| cose)
        .chain([&rs1])
        .map(|cose| CoseKey::from_bytes(cose).unwrap().describe())
        .collect();
    assert_eq!(
        described,
        [
            "EC2 P-256 key, algorithm ES256 (-7)",
            "EC2 P-384 key, algorithm ES384 (-35)",
            "EC2 P-521 key, algorithm ES512 (-36)",
            "OKP Ed25519 key, algorithm EdDSA (-8)",
            "RSA 2048-bit key, algorithm RS256 (-257)",
            "RSA 2048-bit key, algorithm PS256 (-37)",
            "RSA 2048-bit key, algorithm PS384 (-38)",
            "RSA 2048-bit key, algorithm PS512 (-39)",
            "RSA 2048-bit key, algorithm RS384 (-258)",
            "RSA 2048-bit key, algorithm RS512 (-259)",
            "RSA 2048-bit key, algorithm RS1 (-65535)",
        ]
    );
}

const MERCHANT: &str = "https://merchant.example";

fn payment_details() -> Value {
    json!({
        "payeeName": "ACME Corp",
        "total": {"currency": "EUR", "value": "12.50"},
        "instrument": {"displayName": "Visa ••••4242", "icon": "https://bank.example/card.png"},
    })
}

/// A Secure Payment Confirmation as a browser makes it: `payment.get` from the merchant's page,
/// with the payment it showed.
fn spc_assertion() -> Assertion {
    let mut a = Assertion::new();
    a.client_type = "payment.get".into();
    a.origin = MERCHANT.into();
    let mut shown = payment_details();
    shown["rpId"] = json!(RP_ID);
    shown["topOrigin"] = json!(MERCHANT);
    a.payment = Some(shown);
    a
}

/// Verifies a payment assertion; returns the outcome and the checks reported on the way.
fn verify_payment_observed(
    a: &Assertion,
) -> (
    Result<VerifiedAuthentication, AuthenticationError>,
    Vec<crate::fido::Check>,
) {
    let origins = origins();
    let key = a.key.cose(-7);
    let details = payment_details();
    let mut checks = Vec::new();
    let result = crate::fido::verify_authentication_observed(
        &a.json(),
        &AuthenticationExpectations {
            challenge: &CHALLENGE,
            rp_id: RP_ID,
            origins: &origins,
            allow_cross_origin: false,
            top_origins: &[],
            client_data_types: &[WEBAUTHN_GET],
            require_user_verification: true,
            public_key: &key,
            credential_id: &CREDENTIAL_ID,
            payment: Some(crate::fido::payment::PaymentExpectations {
                details: &details,
                merchant_origin: MERCHANT,
            }),
        },
        &mut |c| checks.push(c),
    );
    (result, checks)
}

fn verify_payment(a: &Assertion) -> Result<VerifiedAuthentication, AuthenticationError> {
    verify_payment_observed(a).0
}

#[test]
fn a_secure_payment_confirmation_verifies_from_the_merchants_origin() {
    let (ok, checks) = verify_payment_observed(&spc_assertion());
    assert!(ok.expect("an SPC assertion verifies").user_verified);
    // Reported as a check of its own.
    let payment = checks
        .iter()
        .find(|c| c.name == "payment")
        .expect("a payment check");
    assert_eq!(payment.outcome, crate::fido::CheckOutcome::Pass);
}

#[test]
fn a_payment_refuses_another_type_the_rps_own_origin_and_a_changed_payment() {
    let mut a = spc_assertion();
    a.client_type = "webauthn.get".into();
    let e = verify_payment(&a).unwrap_err();
    assert!(
        matches!(e, AuthenticationError::NotPaymentType(ref t) if t == "webauthn.get"),
        "{e}"
    );
    assert_eq!(e.check(), "type");
    assert!(e.to_string().contains("payment.get"), "{e}");

    let mut a = spc_assertion();
    a.origin = ORIGIN.into();
    assert_eq!(verify_payment(&a).unwrap_err().check(), "origin");

    let mut a = spc_assertion();
    a.payment.as_mut().unwrap()["total"]["value"] = json!("99.00");
    let e = verify_payment(&a).unwrap_err();
    assert_eq!(e.check(), "payment", "{e}");

    // Without a payment expectation a payment.get is no sign-in.
    let a = spc_assertion();
    let mut plain = a;
    plain.origin = ORIGIN.into();
    assert_eq!(plain.refused(), "type");
}

#[test]
fn an_assertion_of_another_type_is_accepted_only_when_the_relying_party_lists_it() {
    let mut a = Assertion::new();
    a.client_type = "payment.get".into();
    let e = a.verify(false).unwrap_err();
    assert_eq!(e.check(), "type");
    let why = e.to_string();
    assert!(
        why.contains("\"payment.get\" is not an accepted one (\"webauthn.get\")"),
        "{why}"
    );

    let origins = origins();
    let key = a.key.cose(-7);
    let exp = AuthenticationExpectations {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins: &origins,
        allow_cross_origin: false,
        top_origins: &[],
        client_data_types: &[WEBAUTHN_GET, PAYMENT_GET],
        require_user_verification: false,
        public_key: &key,
        credential_id: &CREDENTIAL_ID,
        payment: None,
    };
    let mut checks = Vec::new();
    crate::fido::verify_authentication_observed(&a.json(), &exp, &mut |c| checks.push(c))
        .expect("a listed type is accepted");
    let kind = checks.iter().find(|c| c.name == "type").expect("type");
    assert_eq!(
        kind.detail,
        "\"payment.get\" (accepted: \"webauthn.get\", \"payment.get\")"
    );
    a.client_type = "webauthn.create".into();
    let e = verify_authentication(&a.json(), &exp).unwrap_err();
    assert!(
        matches!(e, AuthenticationError::WrongType { ref seen, .. } if seen == "webauthn.create")
    );
    assert!(
        e.to_string()
            .contains("(\"webauthn.get\", \"payment.get\")"),
        "{e}"
    );
}
