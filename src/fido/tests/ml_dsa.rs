//! ML-DSA (FIPS 204) credential keys: COSE key type AKP with keys and signatures these tests
//! make themselves for each parameter set, every refusal named, and a registration (packed self
//! attestation and none) followed by an assertion.

use super::*;
use crate::fido::cose::{check_cose_key, CoseKey};
use crate::fido::{
    verify_authentication, verify_registration, AuthenticationExpectations, RegistrationError,
    WEBAUTHN_GET,
};

/// An ML-DSA key pair made from a fixed seed, for one COSE algorithm.
struct MlDsaKey {
    alg: i64,
    seed: ::ml_dsa::Seed,
}

impl MlDsaKey {
    fn new(alg: i64) -> Self {
        Self {
            alg,
            seed: ::ml_dsa::Seed::from([alg.unsigned_abs() as u8; 32]),
        }
    }

    fn public(&self) -> Vec<u8> {
        fn public<P: ::ml_dsa::MlDsaParams>(seed: &::ml_dsa::Seed) -> Vec<u8> {
            let key = ::ml_dsa::ExpandedSigningKey::<P>::from_seed(seed);
            key.verifying_key().encode().to_vec()
        }
        match self.alg {
            -48 => public::<::ml_dsa::MlDsa44>(&self.seed),
            -49 => public::<::ml_dsa::MlDsa65>(&self.seed),
            _ => public::<::ml_dsa::MlDsa87>(&self.seed),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        fn sign<P: ::ml_dsa::MlDsaParams>(seed: &::ml_dsa::Seed, message: &[u8]) -> Vec<u8> {
            let key = ::ml_dsa::ExpandedSigningKey::<P>::from_seed(seed);
            key.sign_deterministic(message, &[])
                .unwrap()
                .encode()
                .to_vec()
        }
        match self.alg {
            -48 => sign::<::ml_dsa::MlDsa44>(&self.seed, message),
            -49 => sign::<::ml_dsa::MlDsa65>(&self.seed, message),
            _ => sign::<::ml_dsa::MlDsa87>(&self.seed, message),
        }
    }

    /// The COSE_Key: kty AKP (7), alg, pub (-1).
    fn cose(&self) -> Vec<u8> {
        akp(self.alg, self.public())
    }
}

fn akp(alg: i64, public: Vec<u8>) -> Vec<u8> {
    cbor(&Cbor::Map(vec![
        (int(1), int(7)),
        (int(3), int(alg)),
        (int(-1), Cbor::Bytes(public)),
    ]))
}

const SETS: [(i64, &str, usize, usize); 3] = [
    (-48, "ML-DSA-44", 1312, 2420),
    (-49, "ML-DSA-65", 1952, 3309),
    (-50, "ML-DSA-87", 2592, 4627),
];

#[test]
fn a_key_of_each_parameter_set_verifies_its_signature_over_its_message_only() {
    for (alg, name, key_len, sig_len) in SETS {
        let key = MlDsaKey::new(alg);
        let cose = key.cose();
        let parsed = CoseKey::from_bytes(&cose).unwrap();
        assert_eq!(parsed.alg, alg);
        assert_eq!(key.public().len(), key_len, "{name}");
        assert_eq!(
            parsed.describe(),
            format!("AKP {name} key, algorithm {name} ({alg})")
        );
        assert_eq!(check_cose_key(&cose), Ok(alg), "an import may carry {name}");
        let signature = key.sign(b"signed bytes");
        assert_eq!(signature.len(), sig_len, "{name}");
        assert!(parsed.verify(b"signed bytes", &signature), "{name}");
        assert!(!parsed.verify(b"other bytes", &signature), "{name}");
        let mut flipped = signature.clone();
        flipped[sig_len / 2] ^= 0x01;
        assert!(
            !parsed.verify(b"signed bytes", &flipped),
            "{name}: a flipped bit"
        );
        assert!(
            !parsed.verify(b"signed bytes", &signature[..sig_len - 1]),
            "{name}: one byte short"
        );
        let mut longer = signature.clone();
        longer.push(0);
        assert!(
            !parsed.verify(b"signed bytes", &longer),
            "{name}: one byte long"
        );
        assert!(!parsed.verify(b"signed bytes", &[]), "{name}: empty");
    }
}

#[test]
fn a_signature_of_one_parameter_set_does_not_verify_under_another() {
    for (key_alg, ..) in SETS {
        let key = CoseKey::from_bytes(&MlDsaKey::new(key_alg).cose()).unwrap();
        for (sig_alg, ..) in SETS {
            let signature = MlDsaKey::new(sig_alg).sign(b"m");
            assert_eq!(
                key.verify(b"m", &signature),
                key_alg == sig_alg,
                "a {key_alg} key and a {sig_alg} signature"
            );
        }
    }
    // The same bytes under a key made from another seed.
    let mut other = MlDsaKey::new(-49);
    other.seed = ::ml_dsa::Seed::from([0x5a; 32]);
    let key = CoseKey::from_bytes(&other.cose()).unwrap();
    assert!(!key.verify(b"m", &MlDsaKey::new(-49).sign(b"m")));
}

#[test]
fn a_public_key_of_the_wrong_length_is_refused_naming_both_lengths() {
    for (alg, name, key_len, _) in SETS {
        let public = MlDsaKey::new(alg).public();
        let short = akp(alg, public[..key_len - 1].to_vec());
        assert_eq!(
            CoseKey::from_bytes(&short).unwrap_err(),
            format!(
                "the {name} public key is {} bytes; it must be {key_len}",
                key_len - 1
            )
        );
        let mut long = public.clone();
        long.push(0);
        assert_eq!(
            CoseKey::from_bytes(&akp(alg, long)).unwrap_err(),
            format!(
                "the {name} public key is {} bytes; it must be {key_len}",
                key_len + 1
            )
        );
        assert!(check_cose_key(&short).is_err());
    }
    // An ML-DSA-65 key claiming ML-DSA-44.
    let refused = CoseKey::from_bytes(&akp(-48, MlDsaKey::new(-49).public())).unwrap_err();
    assert_eq!(
        refused,
        "the ML-DSA-44 public key is 1952 bytes; it must be 1312"
    );
}

#[test]
fn an_algorithm_that_is_not_its_key_types_is_refused() {
    // AKP with a classical algorithm, and unknown or future ML-DSA-like numbers.
    for alg in [-7, -8, -257, -47, -51] {
        let refused = CoseKey::from_bytes(&akp(alg, vec![0; 1952])).unwrap_err();
        assert_eq!(
            refused,
            format!("key type 7 cannot be used with algorithm {alg}")
        );
    }
    // Classical key types with an ML-DSA algorithm.
    let ec2 = ec2_cose_key(-49, 1, Key::generate().point());
    assert_eq!(
        CoseKey::from_bytes(&ec2).unwrap_err(),
        "key type 2 cannot be used with algorithm -49"
    );
    let okp = cbor(&Cbor::Map(vec![
        (int(1), int(1)),
        (int(3), int(-48)),
        (int(-1), int(6)),
        (int(-2), Cbor::Bytes(vec![1; 32])),
    ]));
    assert_eq!(
        CoseKey::from_bytes(&okp).unwrap_err(),
        "key type 1 cannot be used with algorithm -48"
    );
}

#[test]
fn an_akp_key_without_pub_or_with_its_private_key_is_refused() {
    let no_pub = cbor(&Cbor::Map(vec![(int(1), int(7)), (int(3), int(-49))]));
    assert_eq!(
        CoseKey::from_bytes(&no_pub).unwrap_err(),
        "the AKP key has no public key (pub, -1)"
    );
    let text_pub = cbor(&Cbor::Map(vec![
        (int(1), int(7)),
        (int(3), int(-49)),
        (int(-1), text("not bytes")),
    ]));
    assert_eq!(
        CoseKey::from_bytes(&text_pub).unwrap_err(),
        "the AKP key has no public key (pub, -1)"
    );
    let with_priv = cbor(&Cbor::Map(vec![
        (int(1), int(7)),
        (int(3), int(-49)),
        (int(-1), Cbor::Bytes(MlDsaKey::new(-49).public())),
        (int(-2), Cbor::Bytes(vec![0; 32])),
    ]));
    assert_eq!(
        CoseKey::from_bytes(&with_priv).unwrap_err(),
        "the AKP key carries its private key (priv, -2)"
    );
}

/// A registration of `key`, self-attested in `packed` (or `none`), offering `offered`.
fn register(
    key: &MlDsaKey,
    packed: bool,
    offered: &[i64],
) -> Result<crate::fido::VerifiedRegistration, RegistrationError> {
    let mut reg = Reg::new();
    reg.cose_key = Some(key.cose());
    if packed {
        let mut signed = reg.auth_data();
        signed.extend_from_slice(&sha256(&reg.client_data()));
        reg.att = Att::Raw {
            fmt: "packed".into(),
            stmt: Cbor::Map(vec![
                (text("alg"), int(key.alg)),
                (text("sig"), Cbor::Bytes(key.sign(&signed))),
            ]),
        };
    }
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.algorithms = offered;
    verify_registration(&reg.json(), &exp)
}

/// An assertion by `key` over the standard authenticator data and client data.
fn assertion(key: &MlDsaKey, tamper: bool) -> Value {
    let client_data = serde_json::to_vec(&json!({
        "type": "webauthn.get",
        "challenge": b64url(&CHALLENGE),
        "origin": ORIGIN,
    }))
    .unwrap();
    let mut auth_data = sha256(RP_ID.as_bytes());
    auth_data.push(UP | UV);
    auth_data.extend_from_slice(&7u32.to_be_bytes());
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&sha256(&client_data));
    let mut signature = key.sign(&signed);
    if tamper {
        signature[100] ^= 0x80;
    }
    let id = b64url(&[0xc1; 32]);
    json!({
        "id": id, "rawId": id, "type": "public-key",
        "response": {
            "clientDataJSON": b64url(&client_data),
            "authenticatorData": b64url(&auth_data),
            "signature": b64url(&signature),
        },
        "clientExtensionResults": {},
    })
}

#[test]
fn an_ml_dsa_registration_self_attested_or_unattested_is_verified_then_its_assertions() {
    for (alg, ..) in SETS {
        let key = MlDsaKey::new(alg);
        for packed in [true, false] {
            let ok = register(&key, packed, &[-7, alg]).unwrap();
            assert_eq!(ok.algorithm, alg);
            assert_eq!(ok.public_key, key.cose());
            assert_eq!(ok.format, if packed { "packed" } else { "none" });
            let expect = |public_key| AuthenticationExpectations {
                challenge: &CHALLENGE,
                rp_id: RP_ID,
                origins: &[],
                allow_cross_origin: false,
                top_origins: &[],
                client_data_types: &[WEBAUTHN_GET],
                require_user_verification: true,
                public_key,
                credential_id: &[0xc1; 32],
                payment: None,
            };
            let origins = origins();
            let exp = AuthenticationExpectations {
                origins: &origins,
                ..expect(&ok.public_key)
            };
            let verified = verify_authentication(&assertion(&key, false), &exp).unwrap();
            assert_eq!(verified.sign_count, 7);
            let refused = verify_authentication(&assertion(&key, true), &exp).unwrap_err();
            assert_eq!(refused.check(), "signature", "{alg}");
        }
    }
}

#[test]
fn an_ml_dsa_registration_is_refused_where_its_algorithm_was_not_offered() {
    let key = MlDsaKey::new(-49);
    // The default list offers no ML-DSA algorithm.
    let refused = register(&key, false, &OFFERED).unwrap_err();
    assert_eq!(refused.check(), "algorithm");
    assert_eq!(
        register(&key, false, &[-48, -50]).unwrap_err().check(),
        "algorithm"
    );
}

#[test]
fn a_packed_self_attestation_by_an_ml_dsa_key_is_refused_when_tampered_or_naming_another_alg() {
    let key = MlDsaKey::new(-49);
    let mut reg = Reg::new();
    reg.cose_key = Some(key.cose());
    let mut signed = reg.auth_data();
    signed.extend_from_slice(&sha256(&reg.client_data()));
    let mut sig = key.sign(&signed);
    sig[0] ^= 1;
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let mut exp = expectations(&origins, &anchors);
    exp.algorithms = &[-49];
    for (alg, sig, check) in [
        (-49, sig, "attestationSignature"),
        (-48, key.sign(&signed), "attestationStatement"),
    ] {
        reg.att = Att::Raw {
            fmt: "packed".into(),
            stmt: Cbor::Map(vec![
                (text("alg"), int(alg)),
                (text("sig"), Cbor::Bytes(sig)),
            ]),
        };
        let refused = verify_registration(&reg.json(), &exp).unwrap_err();
        assert_eq!(refused.check(), check, "alg {alg}");
    }
}
