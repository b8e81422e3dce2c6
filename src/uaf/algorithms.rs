//! The signature algorithms and public key encodings of the FIDO Registry of Predefined Values
//! (`ALG_SIGN_*`, `ALG_KEY_*`), and signature verification with them.
//!
//! Status codes: an unknown or refused `ALG_SIGN_*`/`ALG_KEY_*` value is 1495 (Unacceptable
//! Algorithm); a key that does not parse, is off its curve, has the wrong size or does not fit
//! the signature algorithm is 1494 (Unacceptable Key); a signature that does not verify is 1498
//! (Unacceptable Content: the protocol names no code for it, and 1498 is the one whose meaning,
//! "a problem with the contents of the message", fits). Callers that need another code for a
//! bad signature (attestation: 1496) map it by the check name `signature`.
//!
//! Encodings as the registry defines them: `_RAW` ECDSA signatures are `r || s` (each the
//! curve's size), `_DER` ECDSA signatures a DER `SEQUENCE { r, s }`; `_RAW` RSA signatures the
//! bare signature, `_DER` RSA signatures (0x0004, 0x0009) a DER OCTET STRING holding it (this is
//! the registry's own definition, and what RaonSecure's 0012#0001 sends). RSASSA-PSS uses MGF1
//! with the same hash and a salt of the hash's length (RFC 4055 defaults), as the registry says.

use der::asn1::{OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader};
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};

use super::status::{StatusCode, UafRefusal};

/// ECDSA on NIST P-256 with SHA-256, `r || s`.
pub const ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW: u16 = 0x0001;
/// ECDSA on NIST P-256 with SHA-256, DER.
pub const ALG_SIGN_SECP256R1_ECDSA_SHA256_DER: u16 = 0x0002;
/// RSASSA-PSS with SHA-256, bare signature.
pub const ALG_SIGN_RSASSA_PSS_SHA256_RAW: u16 = 0x0003;
/// RSASSA-PSS with SHA-256, signature in a DER OCTET STRING.
pub const ALG_SIGN_RSASSA_PSS_SHA256_DER: u16 = 0x0004;
/// ECDSA on secp256k1 with SHA-256, `r || s`.
pub const ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW: u16 = 0x0005;
/// ECDSA on secp256k1 with SHA-256, DER.
pub const ALG_SIGN_SECP256K1_ECDSA_SHA256_DER: u16 = 0x0006;
/// SM2 with SM3: registered, not supported here (refused with 1495).
pub const ALG_SIGN_SM2_SM3_RAW: u16 = 0x0007;
/// RSA EMSA-PKCS1-v1_5 with SHA-256, bare signature.
pub const ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW: u16 = 0x0008;
/// RSA EMSA-PKCS1-v1_5 with SHA-256, signature in a DER OCTET STRING.
pub const ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER: u16 = 0x0009;
/// RSASSA-PSS with SHA-384, bare signature.
pub const ALG_SIGN_RSASSA_PSS_SHA384_RAW: u16 = 0x000A;
/// RSASSA-PSS with SHA-512, bare signature.
pub const ALG_SIGN_RSASSA_PSS_SHA512_RAW: u16 = 0x000B;
/// RSASSA-PKCS1-v1_5 with SHA-256 (RS256), bare signature.
pub const ALG_SIGN_RSASSA_PKCSV15_SHA256_RAW: u16 = 0x000C;
/// RSASSA-PKCS1-v1_5 with SHA-384 (RS384), bare signature.
pub const ALG_SIGN_RSASSA_PKCSV15_SHA384_RAW: u16 = 0x000D;
/// RSASSA-PKCS1-v1_5 with SHA-512 (RS512), bare signature.
pub const ALG_SIGN_RSASSA_PKCSV15_SHA512_RAW: u16 = 0x000E;
/// RSASSA-PKCS1-v1_5 with SHA-1: registered, refused here (1495) because SHA-1 is broken.
pub const ALG_SIGN_RSASSA_PKCSV15_SHA1_RAW: u16 = 0x000F;
/// ECDSA on NIST P-384 with SHA-384, `r || s`.
pub const ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW: u16 = 0x0010;
/// ECDSA on NIST P-521 with SHA-512, `r || s`.
pub const ALG_SIGN_SECP521R1_ECDSA_SHA512_RAW: u16 = 0x0011;
/// EdDSA on Ed25519 (its SHA-512 is internal to EdDSA), `R || S`.
pub const ALG_SIGN_ED25519_EDDSA_SHA512_RAW: u16 = 0x0012;
/// EdDSA on Ed448: registered, not supported here (refused with 1495).
pub const ALG_SIGN_ED448_EDDSA_SHA512_RAW: u16 = 0x0013;

/// An uncompressed X9.62 point `04 || x || y`; the curve follows from the signature algorithm.
pub const ALG_KEY_ECC_X962_RAW: u16 = 0x0100;
/// A DER SubjectPublicKeyInfo (RFC 5480) with a named curve.
pub const ALG_KEY_ECC_X962_DER: u16 = 0x0101;
/// An RSA-2048 key as `n (256 bytes) || e`.
pub const ALG_KEY_RSA_2048_RAW: u16 = 0x0102;
/// An RSA-2048 key as a DER `RSAPublicKey` (PKCS#1); a SubjectPublicKeyInfo holding one is
/// accepted too, because RaonSecure's 0012#0001 sends that.
pub const ALG_KEY_RSA_2048_DER: u16 = 0x0103;
/// A COSE_Key (RFC 8152 §7).
pub const ALG_KEY_COSE: u16 = 0x0104;

/// Every `ALG_SIGN_*` value this module verifies.
pub const SUPPORTED_SIGN_ALGS: [u16; 16] = [
    0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D,
    0x000E, 0x0010, 0x0011, 0x0012,
];

/// Every `ALG_KEY_*` value this module reads.
pub const SUPPORTED_KEY_ENCODINGS: [u16; 5] = [0x0100, 0x0101, 0x0102, 0x0103, 0x0104];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    K256,
    P384,
    P521,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// What an `ALG_SIGN_*` value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `der`: a DER signature, else `r || s`.
    Ecdsa {
        curve: Curve,
        der: bool,
    },
    /// `wrapped`: the signature sits in a DER OCTET STRING.
    RsaPss {
        hash: Hash,
        wrapped: bool,
    },
    RsaPkcs1 {
        hash: Hash,
        wrapped: bool,
    },
    Ed25519,
}

fn scheme(sign_alg: u16) -> Option<Scheme> {
    use Scheme::*;
    let ecdsa = |curve, der| Ecdsa { curve, der };
    Some(match sign_alg {
        0x0001 => ecdsa(Curve::P256, false),
        0x0002 => ecdsa(Curve::P256, true),
        0x0003 => RsaPss {
            hash: Hash::Sha256,
            wrapped: false,
        },
        0x0004 => RsaPss {
            hash: Hash::Sha256,
            wrapped: true,
        },
        0x0005 => ecdsa(Curve::K256, false),
        0x0006 => ecdsa(Curve::K256, true),
        0x0008 | 0x000C => RsaPkcs1 {
            hash: Hash::Sha256,
            wrapped: false,
        },
        0x0009 => RsaPkcs1 {
            hash: Hash::Sha256,
            wrapped: true,
        },
        0x000A => RsaPss {
            hash: Hash::Sha384,
            wrapped: false,
        },
        0x000B => RsaPss {
            hash: Hash::Sha512,
            wrapped: false,
        },
        0x000D => RsaPkcs1 {
            hash: Hash::Sha384,
            wrapped: false,
        },
        0x000E => RsaPkcs1 {
            hash: Hash::Sha512,
            wrapped: false,
        },
        0x0010 => ecdsa(Curve::P384, false),
        0x0011 => ecdsa(Curve::P521, false),
        0x0012 => Ed25519,
        _ => return None,
    })
}

/// The registry's name of an `ALG_SIGN_*` value, for messages and logs.
pub fn sign_alg_name(sign_alg: u16) -> &'static str {
    match sign_alg {
        0x0001 => "ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW",
        0x0002 => "ALG_SIGN_SECP256R1_ECDSA_SHA256_DER",
        0x0003 => "ALG_SIGN_RSASSA_PSS_SHA256_RAW",
        0x0004 => "ALG_SIGN_RSASSA_PSS_SHA256_DER",
        0x0005 => "ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW",
        0x0006 => "ALG_SIGN_SECP256K1_ECDSA_SHA256_DER",
        0x0007 => "ALG_SIGN_SM2_SM3_RAW",
        0x0008 => "ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW",
        0x0009 => "ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER",
        0x000A => "ALG_SIGN_RSASSA_PSS_SHA384_RAW",
        0x000B => "ALG_SIGN_RSASSA_PSS_SHA512_RAW",
        0x000C => "ALG_SIGN_RSASSA_PKCSV15_SHA256_RAW",
        0x000D => "ALG_SIGN_RSASSA_PKCSV15_SHA384_RAW",
        0x000E => "ALG_SIGN_RSASSA_PKCSV15_SHA512_RAW",
        0x000F => "ALG_SIGN_RSASSA_PKCSV15_SHA1_RAW",
        0x0010 => "ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW",
        0x0011 => "ALG_SIGN_SECP521R1_ECDSA_SHA512_RAW",
        0x0012 => "ALG_SIGN_ED25519_EDDSA_SHA512_RAW",
        0x0013 => "ALG_SIGN_ED448_EDDSA_SHA512_RAW",
        _ => "an unregistered algorithm",
    }
}

/// The hash of the final challenge parameters and of transaction content for an authenticator
/// signing with `sign_alg`.
///
/// The protocol (§3.4.6.5, §3.5.7.5) says to hash with "the hashing algorithm suitable for this
/// authenticator type", the one of its first `ALG_SIGN_*` value. That is SHA-256 for every
/// `*_SHA256` algorithm and, by decision of this server, also for Ed25519 (the SHA-512 in its
/// name is internal to EdDSA); SHA-384 and SHA-512 for the `*_SHA384` and `*_SHA512` RSA and
/// ECDSA algorithms. `None` for an algorithm this module does not support.
pub fn challenge_hash(sign_alg: u16, data: &[u8]) -> Option<Vec<u8>> {
    let hash = match scheme(sign_alg)? {
        Scheme::Ecdsa {
            curve: Curve::P256 | Curve::K256,
            ..
        }
        | Scheme::Ed25519 => Hash::Sha256,
        Scheme::Ecdsa {
            curve: Curve::P384, ..
        } => Hash::Sha384,
        Scheme::Ecdsa {
            curve: Curve::P521, ..
        } => Hash::Sha512,
        Scheme::RsaPss { hash, .. } | Scheme::RsaPkcs1 { hash, .. } => hash,
    };
    let alg = match hash {
        Hash::Sha256 => &ring::digest::SHA256,
        Hash::Sha384 => &ring::digest::SHA384,
        Hash::Sha512 => &ring::digest::SHA512,
    };
    Some(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// An uncompressed point, checked to be on its curve.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

fn unknown_alg(sign_alg: u16) -> UafRefusal {
    UafRefusal::new(
        StatusCode::UnacceptableAlgorithm,
        "signatureAlgorithm",
        format!(
            "the signature algorithm 0x{sign_alg:04X} ({}) is not one this server verifies",
            sign_alg_name(sign_alg)
        ),
    )
}

fn bad_key(detail: impl Into<String>) -> UafRefusal {
    UafRefusal::new(StatusCode::UnacceptableKey, "publicKey", detail)
}

/// Checks that `public_key`, encoded as `key_encoding`, is a well-formed key that can verify
/// `sign_alg` signatures: 1495 for an unknown algorithm or encoding, 1494 for a bad key.
pub fn check_public_key(
    sign_alg: u16,
    key_encoding: u16,
    public_key: &[u8],
) -> Result<(), UafRefusal> {
    let scheme = scheme(sign_alg).ok_or_else(|| unknown_alg(sign_alg))?;
    parse_key(scheme, key_encoding, public_key).map(|_| ())
}

/// Verifies `signature` over `message` with `public_key` (encoded as `key_encoding`) and
/// `sign_alg`: 1495 for an unknown algorithm or key encoding, 1494 for a key that is malformed
/// or does not fit the algorithm, 1498 (check `signature`) for a signature that does not
/// verify.
pub fn verify_signature(
    sign_alg: u16,
    key_encoding: u16,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), UafRefusal> {
    let scheme = scheme(sign_alg).ok_or_else(|| unknown_alg(sign_alg))?;
    let key = parse_key(scheme, key_encoding, public_key)?;
    verify_parsed(scheme, &key, message, signature)
}

/// Verifies with the key of a DER SubjectPublicKeyInfo (an attestation certificate's), which may
/// be of any kind the algorithm can use (EC, RSA, Ed25519).
pub(crate) fn verify_with_spki(
    sign_alg: u16,
    spki: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), UafRefusal> {
    let scheme = scheme(sign_alg).ok_or_else(|| unknown_alg(sign_alg))?;
    let key = parse_spki(spki)?;
    fits(scheme, &key)?;
    verify_parsed(scheme, &key, message, signature)
}

fn verify_parsed(
    scheme: Scheme,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), UafRefusal> {
    if verify(scheme, key, message, signature) {
        Ok(())
    } else {
        Err(UafRefusal::content(
            "signature",
            "the signature does not verify with the key and algorithm",
        ))
    }
}

fn parse_key(scheme: Scheme, key_encoding: u16, bytes: &[u8]) -> Result<PublicKey, UafRefusal> {
    let key = match key_encoding {
        ALG_KEY_ECC_X962_RAW => {
            let Scheme::Ecdsa { curve, .. } = scheme else {
                return Err(bad_key(
                    "a raw X9.62 point is an ECDSA key, but the algorithm is not ECDSA",
                ));
            };
            ec_point(curve, bytes)?
        }
        ALG_KEY_ECC_X962_DER => {
            let key = parse_spki(bytes)?;
            if !matches!(key, PublicKey::Ec { .. }) {
                return Err(bad_key(
                    "the SubjectPublicKeyInfo does not hold an elliptic-curve key",
                ));
            }
            key
        }
        ALG_KEY_RSA_2048_RAW => {
            let (n, e) = (bytes.get(..256), bytes.get(256..));
            match (n, e) {
                (Some(n), Some(e)) => rsa_key(n, e)?,
                _ => return Err(bad_key("a raw RSA-2048 key must be 256 bytes of n, then e")),
            }
        }
        ALG_KEY_RSA_2048_DER => match rsa_public_key_der(bytes) {
            Some((n, e)) => rsa_key(n, e)?,
            None => {
                let key = parse_spki(bytes).map_err(|_| {
                    bad_key("the key is neither a DER RSAPublicKey nor a SubjectPublicKeyInfo")
                })?;
                if !matches!(key, PublicKey::Rsa { .. }) {
                    return Err(bad_key("the SubjectPublicKeyInfo does not hold an RSA key"));
                }
                key
            }
        },
        ALG_KEY_COSE => cose_key(scheme, bytes)?,
        other => {
            return Err(UafRefusal::new(
                StatusCode::UnacceptableAlgorithm,
                "publicKeyEncoding",
                format!("the public key encoding 0x{other:04X} is not one this server reads"),
            ))
        }
    };
    if matches!(key_encoding, ALG_KEY_RSA_2048_RAW | ALG_KEY_RSA_2048_DER) {
        if let PublicKey::Rsa { n, .. } = &key {
            if n.len() != 256 {
                return Err(bad_key(format!(
                    "an ALG_KEY_RSA_2048 key must have a 2048-bit modulus, not {} bits",
                    n.len() * 8
                )));
            }
        }
    }
    fits(scheme, &key)?;
    Ok(key)
}

/// Whether the key is of the kind (and curve) the algorithm signs with.
fn fits(scheme: Scheme, key: &PublicKey) -> Result<(), UafRefusal> {
    let ok = match (scheme, key) {
        (Scheme::Ecdsa { curve, .. }, PublicKey::Ec { curve: c, .. }) => curve == *c,
        (Scheme::RsaPss { .. } | Scheme::RsaPkcs1 { .. }, PublicKey::Rsa { .. }) => true,
        (Scheme::Ed25519, PublicKey::Ed25519(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad_key(
            "the public key is not of the kind or curve the signature algorithm uses",
        ))
    }
}

fn curve_name(curve: Curve) -> &'static str {
    match curve {
        Curve::P256 => "P-256",
        Curve::K256 => "secp256k1",
        Curve::P384 => "P-384",
        Curve::P521 => "P-521",
    }
}

/// An uncompressed point on `curve`, checked to lie on it.
fn ec_point(curve: Curve, bytes: &[u8]) -> Result<PublicKey, UafRefusal> {
    let size = match curve {
        Curve::P256 | Curve::K256 => 32,
        Curve::P384 => 48,
        Curve::P521 => 66,
    };
    if bytes.len() != 1 + 2 * size || bytes.first() != Some(&4) {
        return Err(bad_key(format!(
            "a {} key must be an uncompressed point of {} bytes (04 || x || y)",
            curve_name(curve),
            1 + 2 * size
        )));
    }
    let on_curve = match curve {
        Curve::P256 => p256::PublicKey::from_sec1_bytes(bytes).is_ok(),
        Curve::K256 => k256::PublicKey::from_sec1_bytes(bytes).is_ok(),
        Curve::P384 => p384::PublicKey::from_sec1_bytes(bytes).is_ok(),
        Curve::P521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(bytes).is_ok(),
    };
    if !on_curve {
        return Err(bad_key(format!(
            "the point is not on the {} curve",
            curve_name(curve)
        )));
    }
    Ok(PublicKey::Ec {
        curve,
        point: bytes.to_vec(),
    })
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<PublicKey, UafRefusal> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    if n.len() < 256 || n.len() > 1024 {
        return Err(bad_key("the RSA modulus must be 2048 to 8192 bits"));
    }
    if e.is_empty() || e.len() > 4 {
        return Err(bad_key("the RSA exponent is invalid"));
    }
    Ok(PublicKey::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// A DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, exactly.
fn rsa_public_key_der(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut reader = SliceReader::new(bytes).ok()?;
    let (n, e) = reader
        .sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))
        .ok()?;
    reader.finish((n.as_bytes(), e.as_bytes())).ok()
}

const OID_EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_K256: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.10");
const OID_P384: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.101.112");

/// A DER SubjectPublicKeyInfo holding an EC key on a named curve, an RSA key or an Ed25519 key.
fn parse_spki(bytes: &[u8]) -> Result<PublicKey, UafRefusal> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(bytes)
        .map_err(|_| bad_key("the key is not a DER SubjectPublicKeyInfo"))?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad_key("the SubjectPublicKeyInfo's key is not whole bytes"))?;
    match spki.algorithm.oid {
        OID_EC_PUBLIC_KEY => {
            let curve = match spki.algorithm.parameters_oid() {
                Ok(OID_P256) => Curve::P256,
                Ok(OID_K256) => Curve::K256,
                Ok(OID_P384) => Curve::P384,
                Ok(OID_P521) => Curve::P521,
                _ => {
                    return Err(bad_key(
                        "the EC key does not name a curve this server supports",
                    ))
                }
            };
            ec_point(curve, key)
        }
        OID_RSA => {
            let (n, e) = rsa_public_key_der(key)
                .ok_or_else(|| bad_key("the RSA key is not a DER RSAPublicKey"))?;
            rsa_key(n, e)
        }
        OID_ED25519 if key.len() == 32 => Ok(PublicKey::Ed25519(key.to_vec())),
        OID_ED25519 => Err(bad_key("the Ed25519 key is not 32 bytes")),
        other => Err(bad_key(format!(
            "the key algorithm {other} is not one this server supports"
        ))),
    }
}

/// A COSE_Key (exactly one CBOR map with integer labels) for `scheme`.
fn cose_key(scheme: Scheme, bytes: &[u8]) -> Result<PublicKey, UafRefusal> {
    use ciborium::value::Value;
    let mut cursor = std::io::Cursor::new(bytes);
    let value: Value =
        ciborium::de::from_reader(&mut cursor).map_err(|_| bad_key("the COSE key is not CBOR"))?;
    if usize::try_from(cursor.position()).ok() != Some(bytes.len()) {
        return Err(bad_key("the COSE key has bytes after its CBOR map"));
    }
    let Value::Map(entries) = value else {
        return Err(bad_key("the COSE key is not a CBOR map"));
    };
    let mut labels = Vec::with_capacity(entries.len());
    for (k, _) in &entries {
        let label = k
            .as_integer()
            .and_then(|i| i64::try_from(i).ok())
            .ok_or_else(|| bad_key("the COSE key has a label that is not an integer"))?;
        if labels.contains(&label) {
            return Err(bad_key("the COSE key repeats a label"));
        }
        labels.push(label);
    }
    let get = |label: i64| {
        entries
            .iter()
            .zip(&labels)
            .find(|(_, l)| **l == label)
            .map(|((_, v), _)| v)
    };
    let int = |label| {
        get(label)
            .and_then(Value::as_integer)
            .and_then(|i| i64::try_from(i).ok())
    };
    let bstr = |label| get(label).and_then(Value::as_bytes).map(Vec::as_slice);
    let kty = int(1).ok_or_else(|| bad_key("the COSE key has no integer kty"))?;
    let alg = int(3);
    // The COSE algorithm, when given, must be the one the UAF algorithm names.
    let want_alg = match scheme {
        Scheme::Ecdsa { curve, .. } => match curve {
            Curve::P256 => -7,
            Curve::K256 => -47,
            Curve::P384 => -35,
            Curve::P521 => -36,
        },
        Scheme::RsaPss { hash, .. } => match hash {
            Hash::Sha256 => -37,
            Hash::Sha384 => -38,
            Hash::Sha512 => -39,
        },
        Scheme::RsaPkcs1 { hash, .. } => match hash {
            Hash::Sha256 => -257,
            Hash::Sha384 => -258,
            Hash::Sha512 => -259,
        },
        Scheme::Ed25519 => -8,
    };
    if alg.is_some_and(|a| a != want_alg) {
        return Err(bad_key(format!(
            "the COSE key's algorithm is not {want_alg}, the one the signature algorithm names"
        )));
    }
    match kty {
        2 => {
            let curve = match int(-1) {
                Some(1) => Curve::P256,
                Some(8) => Curve::K256,
                Some(2) => Curve::P384,
                Some(3) => Curve::P521,
                _ => return Err(bad_key("the COSE EC2 key names no supported curve")),
            };
            let x = bstr(-2).ok_or_else(|| bad_key("the COSE EC2 key has no x"))?;
            let y = bstr(-3).ok_or_else(|| bad_key("the COSE EC2 key has no y"))?;
            if x.len() != y.len() {
                return Err(bad_key("the COSE EC2 key's coordinates differ in length"));
            }
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(4);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            ec_point(curve, &point)
        }
        1 => {
            if int(-1) != Some(6) {
                return Err(bad_key("the COSE OKP key is not on Ed25519"));
            }
            match bstr(-2) {
                Some(x) if x.len() == 32 => Ok(PublicKey::Ed25519(x.to_vec())),
                _ => Err(bad_key("the COSE Ed25519 key's x is not 32 bytes")),
            }
        }
        3 => {
            let n = bstr(-1).ok_or_else(|| bad_key("the COSE RSA key has no n"))?;
            let e = bstr(-2).ok_or_else(|| bad_key("the COSE RSA key has no e"))?;
            rsa_key(n, e)
        }
        other => Err(bad_key(format!(
            "the COSE key type {other} is not supported"
        ))),
    }
}

/// The signature inside a DER OCTET STRING that must fill `signature` exactly.
fn unwrap_octet_string(signature: &[u8]) -> Option<&[u8]> {
    OctetStringRef::from_der(signature)
        .ok()
        .map(|octets| octets.as_bytes())
}

fn verify(scheme: Scheme, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (scheme, key) {
        (Scheme::Ecdsa { curve, der }, PublicKey::Ec { curve: c, point }) if curve == *c => {
            ecdsa_verify(curve, der, point, message, signature)
        }
        (Scheme::RsaPss { hash, wrapped }, PublicKey::Rsa { n, e }) => {
            let Some(signature) = rsa_signature(wrapped, signature) else {
                return false;
            };
            let alg = match hash {
                Hash::Sha256 => &sig::RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => &sig::RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => &sig::RSA_PSS_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(alg, message, signature)
                .is_ok()
        }
        (Scheme::RsaPkcs1 { hash, wrapped }, PublicKey::Rsa { n, e }) => {
            let Some(signature) = rsa_signature(wrapped, signature) else {
                return false;
            };
            let alg = match hash {
                Hash::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(alg, message, signature)
                .is_ok()
        }
        (Scheme::Ed25519, PublicKey::Ed25519(x)) => UnparsedPublicKey::new(&sig::ED25519, x)
            .verify(message, signature)
            .is_ok(),
        _ => false,
    }
}

fn rsa_signature(wrapped: bool, signature: &[u8]) -> Option<&[u8]> {
    if wrapped {
        unwrap_octet_string(signature)
    } else {
        Some(signature)
    }
}

fn ecdsa_verify(curve: Curve, der: bool, point: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let ring_alg: &'static dyn sig::VerificationAlgorithm = match (curve, der) {
        (Curve::P256, true) => &sig::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, false) => &sig::ECDSA_P256_SHA256_FIXED,
        (Curve::P384, true) => &sig::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, false) => &sig::ECDSA_P384_SHA384_FIXED,
        (Curve::K256, _) => return k256_verify(der, point, message, signature),
        (Curve::P521, _) => return p521_verify(der, point, message, signature),
    };
    UnparsedPublicKey::new(ring_alg, point)
        .verify(message, signature)
        .is_ok()
}

/// ECDSA on secp256k1 with SHA-256 (ring has no secp256k1). k256 accepts only low-S
/// signatures (a Bitcoin rule, not an ECDSA one), so a high-S signature is normalised first:
/// `(r, s)` and `(r, n - s)` verify alike.
fn k256_verify(der: bool, point: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use k256::ecdsa::signature::Verifier;
    let Ok(key) = k256::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
        return false;
    };
    let parsed = if der {
        k256::ecdsa::Signature::from_der(signature)
    } else {
        k256::ecdsa::Signature::from_slice(signature)
    };
    let Ok(parsed) = parsed else {
        return false;
    };
    let parsed = parsed.normalize_s().unwrap_or(parsed);
    key.verify(message, &parsed).is_ok()
}

/// ECDSA on P-521 with SHA-512 (ring has no P-521).
fn p521_verify(der: bool, point: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p521::ecdsa::signature::Verifier;
    let Ok(key) = p521::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
        return false;
    };
    let parsed = if der {
        p521::ecdsa::Signature::from_der(signature)
    } else {
        p521::ecdsa::Signature::from_slice(signature)
    };
    let Ok(parsed) = parsed else {
        return false;
    };
    key.verify(message, &parsed).is_ok()
}
