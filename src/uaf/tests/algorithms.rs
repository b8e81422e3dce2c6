//! Every supported `ALG_SIGN_*` with keys the tests make, in each key encoding it may use; and
//! the refusals: wrong key, wrong algorithm, altered signature, malformed key.

use ciborium::value::Value as Cbor;
use k256::ecdsa::signature::Signer as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P384_SHA384_FIXED_SIGNING,
};

use super::*;
use crate::uaf::algorithms::*;
use crate::uaf::{check_public_key, verify_signature};

const MESSAGE: &[u8] = b"the KRD or signed data";
const RSA_KEY: &[u8] = include_bytes!("rsa-2048.test-key.pk8");

fn int(i: i64) -> Cbor {
    Cbor::Integer(i.into())
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn ec2_cose(alg: i64, crv: i64, point: &[u8]) -> Vec<u8> {
    let size = (point.len() - 1) / 2;
    cbor(&Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(alg)),
        (int(-1), int(crv)),
        (int(-2), Cbor::Bytes(point[1..1 + size].to_vec())),
        (int(-3), Cbor::Bytes(point[1 + size..].to_vec())),
    ]))
}

#[track_caller]
fn verifies(sign_alg: u16, key_encoding: u16, key: &[u8], signature: &[u8]) {
    check_public_key(sign_alg, key_encoding, key).unwrap();
    verify_signature(sign_alg, key_encoding, key, MESSAGE, signature).unwrap();
    let mut flipped = signature.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    refused(
        verify_signature(sign_alg, key_encoding, key, MESSAGE, &flipped),
        StatusCode::UnacceptableContent,
        "signature",
    );
    refused(
        verify_signature(sign_alg, key_encoding, key, b"another message", signature),
        StatusCode::UnacceptableContent,
        "signature",
    );
}

#[test]
fn p256_raw_and_der_signatures_verify_with_raw_der_and_cose_keys() {
    let key = P256::generate();
    let cose = ec2_cose(-7, 1, &key.point());
    for (encoding, public) in [
        (ALG_KEY_ECC_X962_RAW, key.point()),
        (ALG_KEY_ECC_X962_DER, key.spki()),
        (ALG_KEY_COSE, cose),
    ] {
        verifies(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            encoding,
            &public,
            &key.sign_raw(MESSAGE),
        );
        verifies(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_DER,
            encoding,
            &public,
            &key.sign_der(MESSAGE),
        );
    }
}

#[test]
fn a_der_signature_under_a_raw_algorithm_is_refused() {
    let key = P256::generate();
    refused(
        verify_signature(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            ALG_KEY_ECC_X962_RAW,
            &key.point(),
            MESSAGE,
            &key.sign_der(MESSAGE),
        ),
        StatusCode::UnacceptableContent,
        "signature",
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let (signer, other) = (P256::generate(), P256::generate());
    refused(
        verify_signature(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            ALG_KEY_ECC_X962_RAW,
            &other.point(),
            MESSAGE,
            &signer.sign_raw(MESSAGE),
        ),
        StatusCode::UnacceptableContent,
        "signature",
    );
}

fn k256_key() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap()
}

#[test]
fn secp256k1_raw_and_der_signatures_verify_with_raw_der_and_cose_keys() {
    let key = k256_key();
    let point = key
        .verifying_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    let mut spki = hex("3056301006072a8648ce3d020106052b8104000a034200");
    spki.extend_from_slice(&point);
    let signature: k256::ecdsa::Signature = key.sign(MESSAGE);
    for (encoding, public) in [
        (ALG_KEY_ECC_X962_RAW, point.clone()),
        (ALG_KEY_ECC_X962_DER, spki),
        (ALG_KEY_COSE, ec2_cose(-47, 8, &point)),
    ] {
        verifies(
            ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW,
            encoding,
            &public,
            &signature.to_bytes(),
        );
        verifies(
            ALG_SIGN_SECP256K1_ECDSA_SHA256_DER,
            encoding,
            &public,
            signature.to_der().as_bytes(),
        );
    }
}

#[test]
fn a_high_s_secp256k1_signature_verifies_like_its_low_s_twin() {
    let key = k256_key();
    let point = key.verifying_key().to_encoded_point(false);
    let low: k256::ecdsa::Signature = key.sign(MESSAGE);
    // s' = n - s: an equally valid ECDSA signature, which k256 alone would refuse.
    let s = low.s();
    let high = k256::ecdsa::Signature::from_scalars(low.r().to_bytes(), (-*s).to_bytes()).unwrap();
    assert!(high.normalize_s().is_some(), "the twin is high-S");
    verify_signature(
        ALG_SIGN_SECP256K1_ECDSA_SHA256_DER,
        ALG_KEY_ECC_X962_RAW,
        point.as_bytes(),
        MESSAGE,
        high.to_der().as_bytes(),
    )
    .unwrap();
}

#[test]
fn a_p256_key_under_a_secp256k1_algorithm_is_refused_as_an_unacceptable_key() {
    let key = P256::generate();
    refused(
        check_public_key(
            ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW,
            ALG_KEY_ECC_X962_RAW,
            &key.point(),
        ),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
    refused(
        check_public_key(
            ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW,
            ALG_KEY_ECC_X962_DER,
            &key.spki(),
        ),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
}

fn rsa() -> RsaKeyPair {
    RsaKeyPair::from_pkcs8(RSA_KEY).unwrap()
}

fn rsa_sign(padding: &'static dyn ring::signature::RsaEncoding) -> Vec<u8> {
    let pair = rsa();
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(padding, &SystemRandom::new(), MESSAGE, &mut signature)
        .unwrap();
    signature
}

/// A DER OCTET STRING around `bytes` (256 or more bytes: long-form length).
fn octet_string(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
    let mut out = vec![0x04, 0x82, len[0], len[1]];
    out.extend_from_slice(bytes);
    out
}

/// The test RSA key in every encoding, each with a name; the COSE ones name PS256 and RS256.
fn rsa_keys() -> Vec<(&'static str, u16, Vec<u8>)> {
    let pair = rsa();
    let public = pair.public();
    let components = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
    let (n, e) = (components.n, components.e);
    let pkcs1 = public.as_ref().to_vec();
    // SubjectPublicKeyInfo { rsaEncryption, NULL } around the PKCS#1 key, as RaonSecure sends.
    let mut spki_inner = hex("300d06092a864886f70d0101010500");
    let bit_string_len = u16::try_from(pkcs1.len() + 1).unwrap().to_be_bytes();
    spki_inner.extend_from_slice(&[0x03, 0x82, bit_string_len[0], bit_string_len[1], 0x00]);
    spki_inner.extend_from_slice(&pkcs1);
    let spki_len = u16::try_from(spki_inner.len()).unwrap().to_be_bytes();
    let mut spki = vec![0x30, 0x82, spki_len[0], spki_len[1]];
    spki.extend_from_slice(&spki_inner);
    let raw = [n.clone(), e.clone()].concat();
    let cose = |alg| {
        cbor(&Cbor::Map(vec![
            (int(1), int(3)),
            (int(3), int(alg)),
            (int(-1), Cbor::Bytes(n.clone())),
            (int(-2), Cbor::Bytes(e.clone())),
        ]))
    };
    vec![
        ("raw", ALG_KEY_RSA_2048_RAW, raw),
        ("pkcs1", ALG_KEY_RSA_2048_DER, pkcs1),
        ("spki", ALG_KEY_RSA_2048_DER, spki),
        ("cose-ps256", ALG_KEY_COSE, cose(-37)),
        ("cose-rs256", ALG_KEY_COSE, cose(-257)),
    ]
}

#[test]
fn rsassa_pss_sha256_raw_and_wrapped_signatures_verify_with_every_rsa_key_encoding() {
    let signature = rsa_sign(&ring::signature::RSA_PSS_SHA256);
    for (_, encoding, public) in rsa_keys()
        .into_iter()
        .filter(|(name, _, _)| *name != "cose-rs256")
    {
        verifies(
            ALG_SIGN_RSASSA_PSS_SHA256_RAW,
            encoding,
            &public,
            &signature,
        );
        verifies(
            ALG_SIGN_RSASSA_PSS_SHA256_DER,
            encoding,
            &public,
            &octet_string(&signature),
        );
    }
}

#[test]
fn rsa_pkcs1_sha256_raw_and_wrapped_signatures_verify_with_the_rsa_key_encodings() {
    let signature = rsa_sign(&ring::signature::RSA_PKCS1_SHA256);
    for (_, encoding, public) in rsa_keys()
        .into_iter()
        .filter(|(name, _, _)| !name.starts_with("cose"))
    {
        verifies(
            ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW,
            encoding,
            &public,
            &signature,
        );
        verifies(
            ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER,
            encoding,
            &public,
            &octet_string(&signature),
        );
        verifies(
            ALG_SIGN_RSASSA_PKCSV15_SHA256_RAW,
            encoding,
            &public,
            &signature,
        );
    }
}

#[test]
fn a_bare_signature_under_a_wrapped_rsa_algorithm_is_refused() {
    let signature = rsa_sign(&ring::signature::RSA_PSS_SHA256);
    let (_, encoding, public) = rsa_keys().remove(1);
    refused(
        verify_signature(
            ALG_SIGN_RSASSA_PSS_SHA256_DER,
            encoding,
            &public,
            MESSAGE,
            &signature,
        ),
        StatusCode::UnacceptableContent,
        "signature",
    );
}

#[test]
fn the_sha384_and_sha512_rsa_algorithms_verify_with_cose_keys() {
    let pair = rsa();
    let public = pair.public();
    let components = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
    let cose = |alg| {
        cbor(&Cbor::Map(vec![
            (int(1), int(3)),
            (int(3), int(alg)),
            (int(-1), Cbor::Bytes(components.n.clone())),
            (int(-2), Cbor::Bytes(components.e.clone())),
        ]))
    };
    verifies(
        ALG_SIGN_RSASSA_PSS_SHA384_RAW,
        ALG_KEY_COSE,
        &cose(-38),
        &rsa_sign(&ring::signature::RSA_PSS_SHA384),
    );
    verifies(
        ALG_SIGN_RSASSA_PSS_SHA512_RAW,
        ALG_KEY_COSE,
        &cose(-39),
        &rsa_sign(&ring::signature::RSA_PSS_SHA512),
    );
    verifies(
        ALG_SIGN_RSASSA_PKCSV15_SHA384_RAW,
        ALG_KEY_COSE,
        &cose(-258),
        &rsa_sign(&ring::signature::RSA_PKCS1_SHA384),
    );
    verifies(
        ALG_SIGN_RSASSA_PKCSV15_SHA512_RAW,
        ALG_KEY_COSE,
        &cose(-259),
        &rsa_sign(&ring::signature::RSA_PKCS1_SHA512),
    );
}

#[test]
fn a_cose_key_naming_another_algorithm_is_refused() {
    let key = P256::generate();
    refused(
        check_public_key(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            ALG_KEY_COSE,
            &ec2_cose(-35, 1, &key.point()),
        ),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
}

#[test]
fn ed25519_signatures_verify_with_a_cose_key() {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let cose = cbor(&Cbor::Map(vec![
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), Cbor::Bytes(pair.public_key().as_ref().to_vec())),
    ]));
    verifies(
        ALG_SIGN_ED25519_EDDSA_SHA512_RAW,
        ALG_KEY_COSE,
        &cose,
        pair.sign(MESSAGE).as_ref(),
    );
}

#[test]
fn p384_and_p521_raw_signatures_verify_with_cose_keys() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let p384 =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    verifies(
        ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW,
        ALG_KEY_COSE,
        &ec2_cose(-35, 2, p384.public_key().as_ref()),
        p384.sign(&rng, MESSAGE).unwrap().as_ref(),
    );

    let p521 =
        p521::ecdsa::SigningKey::from_slice(&[[0x01].as_slice(), &[0x21; 65]].concat()).unwrap();
    let point = p521::ecdsa::VerifyingKey::from(&p521)
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    let signature: p521::ecdsa::Signature = p521.sign(MESSAGE);
    verifies(
        ALG_SIGN_SECP521R1_ECDSA_SHA512_RAW,
        ALG_KEY_COSE,
        &ec2_cose(-36, 3, &point),
        &signature.to_bytes(),
    );
}

#[test]
fn unsupported_algorithms_and_key_encodings_are_refused_as_unacceptable_algorithms() {
    let key = P256::generate();
    for alg in [
        0x0000,
        ALG_SIGN_SM2_SM3_RAW,
        ALG_SIGN_RSASSA_PKCSV15_SHA1_RAW,
        ALG_SIGN_ED448_EDDSA_SHA512_RAW,
        0x0014,
        0xFFFF,
    ] {
        refused(
            verify_signature(alg, ALG_KEY_ECC_X962_RAW, &key.point(), MESSAGE, &[1; 64]),
            StatusCode::UnacceptableAlgorithm,
            "signatureAlgorithm",
        );
    }
    refused(
        verify_signature(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            0x0105,
            &key.point(),
            MESSAGE,
            &key.sign_raw(MESSAGE),
        ),
        StatusCode::UnacceptableAlgorithm,
        "publicKeyEncoding",
    );
}

#[test]
fn malformed_keys_are_refused_as_unacceptable_keys() {
    let key = P256::generate();
    let mut off_curve = key.point();
    off_curve[64] ^= 1;
    let mut compressed = key.point()[..33].to_vec();
    compressed[0] = 2;
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (ALG_KEY_ECC_X962_RAW, off_curve),
        (ALG_KEY_ECC_X962_RAW, compressed),
        (ALG_KEY_ECC_X962_RAW, Vec::new()),
        (ALG_KEY_ECC_X962_DER, key.point()),
        (ALG_KEY_ECC_X962_DER, key.spki()[..40].to_vec()),
        (ALG_KEY_COSE, vec![0xA0]),
        (
            ALG_KEY_COSE,
            [ec2_cose(-7, 1, &key.point()), vec![0]].concat(),
        ),
        (ALG_KEY_RSA_2048_RAW, vec![1; 100]),
        (ALG_KEY_RSA_2048_DER, key.spki()),
    ];
    for (encoding, public) in cases {
        refused(
            check_public_key(ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW, encoding, &public),
            StatusCode::UnacceptableKey,
            "publicKey",
        );
    }
    // An RSA key under an ECDSA algorithm, and an EC key under an RSA one.
    let (_, _, pkcs1) = rsa_keys().remove(1);
    refused(
        check_public_key(
            ALG_SIGN_SECP256R1_ECDSA_SHA256_DER,
            ALG_KEY_RSA_2048_DER,
            &pkcs1,
        ),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
    refused(
        check_public_key(
            ALG_SIGN_RSASSA_PSS_SHA256_RAW,
            ALG_KEY_ECC_X962_DER,
            &key.spki(),
        ),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
}

#[test]
fn the_challenge_hash_follows_the_algorithm_s_hash() {
    assert_eq!(
        challenge_hash(ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW, b"x").unwrap(),
        sha256(b"x")
    );
    assert_eq!(
        challenge_hash(ALG_SIGN_ED25519_EDDSA_SHA512_RAW, b"x").unwrap(),
        sha256(b"x")
    );
    assert_eq!(
        challenge_hash(ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW, b"x")
            .unwrap()
            .len(),
        48
    );
    assert_eq!(
        challenge_hash(ALG_SIGN_RSASSA_PSS_SHA512_RAW, b"x")
            .unwrap()
            .len(),
        64
    );
    assert_eq!(challenge_hash(ALG_SIGN_SM2_SM3_RAW, b"x"), None);
}

#[test]
fn every_supported_algorithm_has_its_registry_name() {
    for alg in SUPPORTED_SIGN_ALGS {
        assert!(sign_alg_name(alg).starts_with("ALG_SIGN_"), "{alg:#06x}");
        assert!(challenge_hash(alg, b"").is_some(), "{alg:#06x}");
    }
}
