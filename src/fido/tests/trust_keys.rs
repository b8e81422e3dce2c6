//! The key of an attestation certificate: whether it is the credential's key (apple,
//! android-key) and whether it is a P-256 key (fido-u2f, the MDS BLOB signer), for every key
//! type, with real keys.

use ring::signature as sig;
use x509_cert::Certificate;

use super::trust_schemes::{cert_of, rsa_key, with_ec_key, OID_P521, RSA_ROOT, RSA_SIGNER};
use super::*;
use crate::fido::cose::{CoseKey, KeyMaterial, CRV_P256, CRV_P384, CRV_P521};
use crate::fido::trust;

fn ec2(crv: i64, point: &[u8]) -> CoseKey {
    CoseKey {
        alg: -7,
        key: KeyMaterial::Ec2 {
            crv,
            point: point.to_vec(),
        },
    }
}

fn rsa_parts(pkcs8: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let pair = sig::RsaKeyPair::from_pkcs8(pkcs8).unwrap();
    let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    assert!(
        public.n[0] != 0 && public.e[0] != 0,
        "without leading zeros"
    );
    (public.n, public.e)
}

fn rsa(pkcs8: &[u8]) -> CoseKey {
    let (n, e) = rsa_parts(pkcs8);
    CoseKey {
        alg: -257,
        key: KeyMaterial::Rsa { n, e },
    }
}

/// Certificates of one key of every type, and the COSE key of each.
fn keys() -> Vec<(&'static str, Certificate, CoseKey)> {
    let ec = |alg| KeyPair::generate_for(alg).unwrap();
    let p256 = ec(&rcgen::PKCS_ECDSA_P256_SHA256);
    let p384 = ec(&rcgen::PKCS_ECDSA_P384_SHA384);
    let ed25519 = ec(&rcgen::PKCS_ED25519);
    let other_p256 = ec(&rcgen::PKCS_ECDSA_P256_SHA256);
    let other_ed25519 = ec(&rcgen::PKCS_ED25519);
    let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
    let p521 = p521::ecdsa::VerifyingKey::from(&p521).to_encoded_point(false);
    let rsa_cert = |pkcs8| cert_of(&rsa_key(pkcs8, &rcgen::PKCS_RSA_SHA256));
    vec![
        (
            "P-256",
            cert_of(&p256),
            ec2(CRV_P256, p256.public_key_raw()),
        ),
        (
            "P-384",
            cert_of(&p384),
            ec2(CRV_P384, p384.public_key_raw()),
        ),
        (
            "P-521",
            with_ec_key(cert_of(&p256), OID_P521, p521.as_bytes()),
            ec2(CRV_P521, p521.as_bytes()),
        ),
        (
            "Ed25519",
            cert_of(&ed25519),
            CoseKey {
                alg: -8,
                key: KeyMaterial::Ed25519(ed25519.public_key_raw().to_vec()),
            },
        ),
        ("RSA", rsa_cert(RSA_SIGNER), rsa(RSA_SIGNER)),
        (
            "another P-256",
            cert_of(&other_p256),
            ec2(CRV_P256, other_p256.public_key_raw()),
        ),
        (
            "another Ed25519",
            cert_of(&other_ed25519),
            CoseKey {
                alg: -8,
                key: KeyMaterial::Ed25519(other_ed25519.public_key_raw().to_vec()),
            },
        ),
        ("another RSA", rsa_cert(RSA_ROOT), rsa(RSA_ROOT)),
    ]
}

#[test]
fn a_certificate_key_matches_its_own_credential_key_and_no_other() {
    let keys = keys();
    for (i, (cert_what, cert, _)) in keys.iter().enumerate() {
        for (j, (key_what, _, key)) in keys.iter().enumerate() {
            assert_eq!(
                trust::key_matches(cert, key),
                i == j,
                "{cert_what} certificate, {key_what} key"
            );
        }
    }
    // The same point under another curve's name.
    let (_, p256_cert, p256_key) = &keys[0];
    let KeyMaterial::Ec2 { point, .. } = &p256_key.key else {
        unreachable!()
    };
    assert!(!trust::key_matches(p256_cert, &ec2(CRV_P384, point)));
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The RSA certificate with `public_key` as its subjectPublicKey bits.
fn with_rsa_public_key(mut cert: Certificate, public_key: &[u8]) -> Certificate {
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key = der::asn1::BitString::from_bytes(public_key).unwrap();
    cert
}

#[test]
fn an_rsa_certificate_key_that_is_not_one_rsa_public_key_matches_nothing() {
    let cert = cert_of(&rsa_key(RSA_SIGNER, &rcgen::PKCS_RSA_SHA256));
    let key = rsa(RSA_SIGNER);
    let (n, e) = rsa_parts(RSA_SIGNER);
    let int = |v: &[u8]| tlv(0x02, &[&[0][..], v].concat());
    let octets = |v: &[u8]| tlv(0x04, v);
    let public_key = |parts: [Vec<u8>; 2]| tlv(0x30, &parts.concat());
    let well_formed = public_key([int(&n), int(&e)]);
    assert!(trust::key_matches(
        &with_rsa_public_key(cert.clone(), &well_formed),
        &key
    ));
    let trailing = [&well_formed[..], &[0]].concat();
    for (what, bits) in [
        ("a trailing byte", trailing),
        (
            "a modulus that is not an INTEGER",
            public_key([octets(&n), int(&e)]),
        ),
        (
            "an exponent that is not an INTEGER",
            public_key([int(&n), octets(&e)]),
        ),
        (
            "a SET, not a SEQUENCE",
            tlv(0x31, &[int(&n), int(&e)].concat()),
        ),
        (
            "three integers",
            public_key([int(&n), [int(&e), int(&e)].concat()]),
        ),
    ] {
        let cert = with_rsa_public_key(cert.clone(), &bits);
        assert!(!trust::key_matches(&cert, &key), "{what}");
    }
}

#[test]
fn only_a_p256_certificate_key_is_a_p256_key() {
    for (what, cert, _) in keys() {
        assert_eq!(
            trust::has_p256_key(&cert),
            what.ends_with("P-256"),
            "{what}"
        );
    }
}
