//! Signature schemes of attestation certificates, with real signatures: every scheme verifies
//! its own signatures with a certificate's key and no other scheme's; every COSE algorithm
//! names the scheme its signatures verify under; certificates signed with every supported
//! signatureAlgorithm chain to their root. Also the PEM reader's block boundaries and the
//! anchors' Debug text.

use der::{Decode, Encode};
use p256::elliptic_curve::bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use p256::elliptic_curve::bigint::{Encoding as _, U2048};
use p256::elliptic_curve::generic_array::typenum::Unsigned as _;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::elliptic_curve::{CurveArithmetic, Field as _, FieldBytes, Group as _, PrimeField as _};
use ring::signature as sig;
use rustls_pki_types::PrivatePkcs8KeyDer;
use x509_cert::Certificate;

use super::*;
use crate::fido::asn1;
use crate::fido::trust::{self, Hash, Scheme};

const MESSAGE: &[u8] = b"signed with every scheme";
pub(super) const RSA_ROOT: &[u8] = include_bytes!("rsa-root.test-key.pk8");
pub(super) const RSA_SIGNER: &[u8] = include_bytes!("rsa-signer.test-key.pk8");
pub(super) const OID_P521: &str = "1.3.132.0.35";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";

fn parse(der: &[u8]) -> Certificate {
    Certificate::from_der(der).unwrap()
}

/// A self-signed certificate of `key`, as the server reads it.
pub(super) fn cert_of(key: &KeyPair) -> Certificate {
    parse(
        ca_params("Scheme Test", None)
            .self_signed(key)
            .unwrap()
            .der(),
    )
}

pub(super) fn rsa_key(pkcs8: &[u8], alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8), alg).unwrap()
}

/// The value of the `index`th element of the key inside a PKCS#8 PrivateKeyInfo
/// (ECPrivateKey: 1 is the secret; RSAPrivateKey: 1 is n, 3 is d).
fn pkcs8_field(pkcs8: &[u8], index: usize) -> Vec<u8> {
    let (info, _) = asn1::read(pkcs8).unwrap();
    let items = asn1::items(info.value).unwrap();
    let (key, _) = asn1::read(items[2].value).unwrap();
    asn1::items(key.value).unwrap()[index].value.to_vec()
}

/// `rcgen` certificate `cert` with an EC public key on the curve `curve` instead of its own.
pub(super) fn with_ec_key(mut cert: Certificate, curve: &str, point: &[u8]) -> Certificate {
    let spki = &mut cert.tbs_certificate.subject_public_key_info;
    spki.algorithm.parameters =
        Some(der::Any::encode_from(&der::asn1::ObjectIdentifier::new_unwrap(curve)).unwrap());
    spki.subject_public_key = der::asn1::BitString::from_bytes(point).unwrap();
    cert
}

/// `cert` with signatureAlgorithm `alg` (no parameters), its TBS signed again by `sign`.
fn resigned(mut cert: Certificate, alg: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> Certificate {
    let alg = spki::AlgorithmIdentifierOwned {
        oid: der::asn1::ObjectIdentifier::new_unwrap(alg),
        parameters: None,
    };
    cert.tbs_certificate.signature = alg.clone();
    cert.signature_algorithm = alg;
    let tbs = cert.tbs_certificate.to_der().unwrap();
    cert.signature = der::asn1::BitString::from_bytes(&sign(&tbs)).unwrap();
    cert
}

fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut value = bytes[start..].to_vec();
    if value[0] & 0x80 != 0 {
        value.insert(0, 0);
    }
    let mut out = vec![0x02, value.len() as u8];
    out.extend(value);
    out
}

/// An ASN.1 ECDSA signature over `digest` (of any length: bits2int of FIPS 186-4 §6.4 keeps
/// its leftmost bits) with the secret scalar `secret`, for hash/curve pairs ring cannot sign.
fn ecdsa_prehashed<C: CurveArithmetic>(secret: &[u8], digest: &[u8]) -> Vec<u8> {
    let size = C::FieldBytesSize::USIZE;
    let mut z = vec![0; size.saturating_sub(digest.len())];
    z.extend_from_slice(&digest[..digest.len().min(size)]);
    let z = C::Scalar::reduce_bytes(&FieldBytes::<C>::clone_from_slice(&z));
    let d = C::Scalar::from_repr(FieldBytes::<C>::clone_from_slice(secret)).unwrap();
    let k = C::Scalar::random(rand::rngs::OsRng);
    let point: C::AffinePoint = (C::ProjectivePoint::generator() * k).into();
    let r = C::Scalar::reduce_bytes(&point.x());
    let s = k.invert().unwrap() * (z + r * d);
    let mut body = der_integer(&r.to_repr());
    body.extend(der_integer(&s.to_repr()));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2), which ring verifies but does not sign.
fn rsa_sha1(pkcs8: &[u8], message: &[u8]) -> Vec<u8> {
    let uint = |bytes: &[u8]| {
        let bytes = &bytes[bytes.iter().position(|b| *b != 0).unwrap()..];
        let mut padded = vec![0; 256 - bytes.len()];
        padded.extend_from_slice(bytes);
        U2048::from_be_slice(&padded)
    };
    let (n, d) = (pkcs8_field(pkcs8, 1), pkcs8_field(pkcs8, 3));
    let digest = Hash::Sha1.digest(message);
    let mut encoded = vec![0x00, 0x01];
    encoded.resize(256 - 15 - digest.len() - 1, 0xff);
    encoded.push(0x00);
    encoded.extend([
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
    ]);
    encoded.extend([0x04, 0x14]);
    encoded.extend(digest);
    let params = DynResidueParams::new(&uint(&n));
    let signature = DynResidue::new(&uint(&encoded), params).pow(&uint(&d));
    signature.retrieve().to_be_bytes().to_vec()
}

fn ring_ecdsa(alg: &'static sig::EcdsaSigningAlgorithm, pkcs8: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    let pair = sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng).unwrap();
    pair.sign(&rng, MESSAGE).unwrap().as_ref().to_vec()
}

fn ring_rsa(encoding: &'static dyn sig::RsaEncoding) -> Vec<u8> {
    let pair = sig::RsaKeyPair::from_pkcs8(RSA_SIGNER).unwrap();
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(encoding, &SystemRandom::new(), MESSAGE, &mut signature)
        .unwrap();
    signature
}

/// A signature over MESSAGE, the certificate of its key, and the scheme it was made with.
struct Sample {
    what: &'static str,
    scheme: Scheme,
    cert: Certificate,
    signature: Vec<u8>,
}

fn samples() -> Vec<Sample> {
    let p256 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
    let p521_point = p521::ecdsa::VerifyingKey::from(&p521).to_encoded_point(false);
    let p521_signature: p521::ecdsa::Signature =
        p521::ecdsa::signature::Signer::sign(&p521, MESSAGE);
    let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ed25519_pair =
        sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&ed25519.serialize_der()).unwrap();
    let rsa = cert_of(&rsa_key(RSA_SIGNER, &rcgen::PKCS_RSA_SHA256));
    let (p256_der, p384_der) = (p256.serialize_der(), p384.serialize_der());
    let (p256_cert, p384_cert) = (cert_of(&p256), cert_of(&p384));
    let sample = |what, scheme, cert: &Certificate, signature| Sample {
        what,
        scheme,
        cert: cert.clone(),
        signature,
    };
    vec![
        sample(
            "P-256 SHA-256",
            Scheme::Ecdsa(Hash::Sha256),
            &p256_cert,
            ring_ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, &p256_der),
        ),
        sample(
            "P-256 SHA-384",
            Scheme::Ecdsa(Hash::Sha384),
            &p256_cert,
            ecdsa_prehashed::<p256::NistP256>(
                &pkcs8_field(&p256_der, 1),
                &Hash::Sha384.digest(MESSAGE),
            ),
        ),
        sample(
            "P-384 SHA-256",
            Scheme::Ecdsa(Hash::Sha256),
            &p384_cert,
            ecdsa_prehashed::<p384::NistP384>(
                &pkcs8_field(&p384_der, 1),
                &Hash::Sha256.digest(MESSAGE),
            ),
        ),
        sample(
            "P-384 SHA-384",
            Scheme::Ecdsa(Hash::Sha384),
            &p384_cert,
            ring_ecdsa(&sig::ECDSA_P384_SHA384_ASN1_SIGNING, &p384_der),
        ),
        sample(
            "P-256 SHA-256 fixed",
            Scheme::EcdsaFixed(Hash::Sha256),
            &p256_cert,
            ring_ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &p256_der),
        ),
        sample(
            "P-384 SHA-384 fixed",
            Scheme::EcdsaFixed(Hash::Sha384),
            &p384_cert,
            ring_ecdsa(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &p384_der),
        ),
        sample(
            "P-521 SHA-512",
            Scheme::Ecdsa(Hash::Sha512),
            &with_ec_key(p256_cert.clone(), OID_P521, p521_point.as_bytes()),
            p521_signature.to_der().as_bytes().to_vec(),
        ),
        sample(
            "RSA PKCS#1 SHA-1",
            Scheme::RsaPkcs1(Hash::Sha1),
            &rsa,
            rsa_sha1(RSA_SIGNER, MESSAGE),
        ),
        sample(
            "RSA PKCS#1 SHA-256",
            Scheme::RsaPkcs1(Hash::Sha256),
            &rsa,
            ring_rsa(&sig::RSA_PKCS1_SHA256),
        ),
        sample(
            "RSA PKCS#1 SHA-384",
            Scheme::RsaPkcs1(Hash::Sha384),
            &rsa,
            ring_rsa(&sig::RSA_PKCS1_SHA384),
        ),
        sample(
            "RSA PKCS#1 SHA-512",
            Scheme::RsaPkcs1(Hash::Sha512),
            &rsa,
            ring_rsa(&sig::RSA_PKCS1_SHA512),
        ),
        sample(
            "RSA PSS SHA-256",
            Scheme::RsaPss(Hash::Sha256),
            &rsa,
            ring_rsa(&sig::RSA_PSS_SHA256),
        ),
        sample(
            "RSA PSS SHA-384",
            Scheme::RsaPss(Hash::Sha384),
            &rsa,
            ring_rsa(&sig::RSA_PSS_SHA384),
        ),
        sample(
            "RSA PSS SHA-512",
            Scheme::RsaPss(Hash::Sha512),
            &rsa,
            ring_rsa(&sig::RSA_PSS_SHA512),
        ),
        sample(
            "Ed25519",
            Scheme::Ed25519,
            &cert_of(&ed25519),
            ed25519_pair.sign(MESSAGE).as_ref().to_vec(),
        ),
    ]
}

#[test]
fn each_scheme_verifies_its_own_signatures_and_no_other_schemes() {
    let samples = samples();
    let mut schemes: Vec<Scheme> = samples.iter().map(|s| s.scheme).collect();
    schemes.push(Scheme::Ecdsa(Hash::Sha512));
    schemes.push(Scheme::RsaPss(Hash::Sha1));
    for s in &samples {
        assert!(
            trust::verify_with_cert(&s.cert, s.scheme, MESSAGE, &s.signature),
            "{}",
            s.what
        );
        assert!(
            !trust::verify_with_cert(&s.cert, s.scheme, b"another message", &s.signature),
            "{}: another message",
            s.what
        );
        let mut tampered = s.signature.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(
            !trust::verify_with_cert(&s.cert, s.scheme, MESSAGE, &tampered),
            "{}: tampered",
            s.what
        );
        for other in schemes.iter().filter(|o| **o != s.scheme) {
            assert!(
                !trust::verify_with_cert(&s.cert, *other, MESSAGE, &s.signature),
                "{} under {other:?}",
                s.what
            );
        }
    }
}

#[test]
fn each_cose_algorithm_names_the_scheme_its_signatures_verify_under() {
    let samples = samples();
    let sample = |what: &str| samples.iter().find(|s| s.what == what).unwrap();
    for (alg, what) in [
        (-7, "P-256 SHA-256"),
        (-35, "P-384 SHA-384"),
        (-36, "P-521 SHA-512"),
        (-257, "RSA PKCS#1 SHA-256"),
        (-258, "RSA PKCS#1 SHA-384"),
        (-259, "RSA PKCS#1 SHA-512"),
        (-37, "RSA PSS SHA-256"),
        (-38, "RSA PSS SHA-384"),
        (-39, "RSA PSS SHA-512"),
        (-8, "Ed25519"),
        (-65535, "RSA PKCS#1 SHA-1"),
    ] {
        let s = sample(what);
        let scheme = Scheme::from_cose_tpm(alg).unwrap_or_else(|| panic!("COSE {alg}: no scheme"));
        assert!(
            trust::verify_with_cert(&s.cert, scheme, MESSAGE, &s.signature),
            "COSE {alg}: {what}"
        );
        if alg != -65535 {
            assert_eq!(Scheme::from_cose(alg), Some(scheme), "COSE {alg}");
        }
    }
    // RS1 only in TPM statements; an unknown algorithm has no scheme.
    assert_eq!(Scheme::from_cose(-65535), None);
    assert_eq!(Scheme::from_cose_tpm(-9), None);
}

/// A root signing with `key`, a leaf it issued, and another root of the same name with
/// `stranger`'s key.
fn chain(key: KeyPair, stranger: KeyPair) -> (Certificate, Certificate, Certificate) {
    let root = Issued {
        cert: ca_params("Scheme Root", None).self_signed(&key).unwrap(),
        key,
    };
    let leaf = issue(leaf_params(None), &root);
    let other = ca_params("Scheme Root", None)
        .self_signed(&stranger)
        .unwrap();
    (parse(&root.der()), parse(&leaf.der()), parse(other.der()))
}

fn anchors(cert: &Certificate) -> TrustAnchors {
    TrustAnchors::from_der_list(&[cert.to_der().unwrap()]).unwrap()
}

#[test]
fn certificates_signed_with_each_signature_algorithm_chain_to_their_root() {
    let ec = |alg| KeyPair::generate_for(alg).unwrap();
    let rsa = |alg| (rsa_key(RSA_ROOT, alg), rsa_key(RSA_SIGNER, alg));
    let mut chains = vec![
        (
            "ECDSA-SHA256",
            "1.2.840.10045.4.3.2",
            chain(
                ec(&rcgen::PKCS_ECDSA_P256_SHA256),
                ec(&rcgen::PKCS_ECDSA_P256_SHA256),
            ),
        ),
        (
            "ECDSA-SHA384",
            "1.2.840.10045.4.3.3",
            chain(
                ec(&rcgen::PKCS_ECDSA_P384_SHA384),
                ec(&rcgen::PKCS_ECDSA_P384_SHA384),
            ),
        ),
        (
            "Ed25519",
            "1.3.101.112",
            chain(ec(&rcgen::PKCS_ED25519), ec(&rcgen::PKCS_ED25519)),
        ),
    ];
    for (name, oid, alg) in [
        (
            "RSA-SHA256",
            "1.2.840.113549.1.1.11",
            &rcgen::PKCS_RSA_SHA256,
        ),
        (
            "RSA-SHA384",
            "1.2.840.113549.1.1.12",
            &rcgen::PKCS_RSA_SHA384,
        ),
        (
            "RSA-SHA512",
            "1.2.840.113549.1.1.13",
            &rcgen::PKCS_RSA_SHA512,
        ),
    ] {
        let (key, stranger) = rsa(alg);
        chains.push((name, oid, chain(key, stranger)));
    }
    // rcgen (on ring) makes no P-521 key: the root's key is replaced by a P-521 key, which
    // signs the leaf's TBS again with ecdsa-with-SHA512.
    let p521 = |byte| {
        let mut secret = [1; 66];
        secret[65] = byte;
        let key = p521::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let point = p521::ecdsa::VerifyingKey::from(&key).to_encoded_point(false);
        (key, point.as_bytes().to_vec())
    };
    let (key, point) = p521(1);
    let (_, stranger_point) = p521(2);
    let (root, leaf, other) = chain(
        ec(&rcgen::PKCS_ECDSA_P256_SHA256),
        ec(&rcgen::PKCS_ECDSA_P256_SHA256),
    );
    let leaf = resigned(leaf, OID_ECDSA_SHA512, |tbs| {
        let signature: p521::ecdsa::Signature = p521::ecdsa::signature::Signer::sign(&key, tbs);
        signature.to_der().as_bytes().to_vec()
    });
    chains.push((
        "ECDSA-SHA512",
        OID_ECDSA_SHA512,
        (
            with_ec_key(root, OID_P521, &point),
            leaf,
            with_ec_key(other, OID_P521, &stranger_point),
        ),
    ));
    for (name, oid, (root, leaf, stranger)) in chains {
        assert_eq!(leaf.signature_algorithm.oid.to_string(), oid, "{name}");
        let x5c = [leaf];
        trust::validate_chain(&x5c, &anchors(&root), now())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = trust::validate_chain(&x5c, &anchors(&stranger), now()).unwrap_err();
        assert!(
            err.contains("does not lead to a configured trust anchor"),
            "{name}: {err}"
        );
    }
}

#[test]
fn pem_blocks_end_after_their_end_line_and_the_anchors_show_their_count() {
    let pki = Pki::new();
    let (root, intermediate) = (pki.root.pem(), pki.intermediate.pem());
    let both = TrustAnchors::from_pem(&format!("{root}{intermediate}")).unwrap();
    assert_eq!(format!("{both:?}"), "TrustAnchors(2 certificates)");
    // The dashes closing an END line are not also the start of a BEGIN line written right
    // after it: reading resumes after the whole END line.
    let glued = format!(
        "{}{}",
        root.trim_end(),
        intermediate.strip_prefix("-----").unwrap()
    );
    assert!(glued.contains("-----END CERTIFICATE-----BEGIN CERTIFICATE-----"));
    let one = TrustAnchors::from_pem(&glued).unwrap();
    assert_eq!(format!("{one:?}"), "TrustAnchors(1 certificates)");
    assert_eq!(one.certificates()[0].to_der().unwrap(), pki.root.der());
}

/// `signed_by` wants the issuer's name in the child and the same algorithm inside and outside
/// the TBS, not only a signature that verifies with the issuer's key.
#[test]
fn a_signature_by_the_issuers_key_is_not_enough_without_its_name_and_one_algorithm() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pkcs8 = key.serialize_der();
    let root = Issued {
        cert: ca_params("Scheme Root", None).self_signed(&key).unwrap(),
        key,
    };
    let renamed = parse(
        ca_params("Renamed Root", None)
            .self_signed(&root.key)
            .unwrap()
            .der(),
    );
    let leaf = parse(&issue(leaf_params(None), &root).der());
    let root = parse(&root.der());
    assert!(trust::signed_by(&leaf, &root));
    assert!(
        !trust::signed_by(&leaf, &renamed),
        "another issuer name, the same key"
    );
    // The TBS names ecdsa-with-SHA384, the certificate ecdsa-with-SHA256, and the signature is
    // a valid ECDSA-SHA256 one over that TBS.
    let sign = |tbs: &Certificate| {
        let rng = SystemRandom::new();
        let alg = &sig::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pair = sig::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).unwrap();
        let der = tbs.tbs_certificate.to_der().unwrap();
        let signature = pair.sign(&rng, &der).unwrap();
        der::asn1::BitString::from_bytes(signature.as_ref()).unwrap()
    };
    let mut resigned = leaf.clone();
    resigned.signature = sign(&resigned);
    assert!(
        trust::signed_by(&resigned, &root),
        "signed again, same algorithms"
    );
    let mut mismatched = leaf;
    mismatched.tbs_certificate.signature.oid =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    mismatched.signature = sign(&mismatched);
    assert!(
        !trust::signed_by(&mismatched, &root),
        "two signature algorithms"
    );
}
