//! A software FIDO UAF 1.1 client + ASM + authenticator for the integration tests.
//!
//! It plays the FIDO UAF Client, the ASM and a first-factor authenticator at once: it takes
//! the server's UAF protocol message (the `RegistrationRequest` / `AuthenticationRequest` /
//! `DeregistrationRequest` array, as the server sends it) and returns the response array the
//! client would send back. With a [`UafTamper`] it crafts the malformed responses that the
//! server's processing rules (UAF protocol §3.4.6.5, §3.5.7.5) must refuse.
//!
//! Written from the specifications, independently of the server's `uaf` module (the tests
//! must not share code with what they test):
//! - fido-uaf-protocol-v1.1: the messages (§3.4 registration, §3.5 authentication, §3.6
//!   deregistration), `FinalChallengeParams` (fcParams = base64url(JSON), the final challenge
//!   hash = SHA-256 of that base64url string), `Transaction`, the policy's `MatchCriteria`.
//! - fido-uaf-authnr-cmds-v1.1: the "UAFV1TLV" assertion scheme, TLV = tag (UINT16 LE),
//!   length (UINT16 LE), value; the `TAG_UAFV1_REG_ASSERTION` (KRD + attestation) and
//!   `TAG_UAFV1_AUTH_ASSERTION` (SIGNED_DATA + signature) structures.
//! - fido-uaf-reg-v1.1 (registry of predefined values): the `ALG_SIGN_*` / `ALG_KEY_*` codes.
//!
//! Spec points worth knowing when reading the output:
//! - In the KRD's `TAG_ASSERTION_INFO` the signature algorithm is the one *of the attestation
//!   signature* (authnr-cmds, Register command): with Basic Full attestation that is the
//!   attestation key's algorithm ([`SoftUaf::full_attestation_alg`]), with Surrogate attestation
//!   the new key's ([`SoftUaf::sign_alg`]). The new key's own algorithm shows in the
//!   `SIGNED_DATA`'s `TAG_ASSERTION_INFO` at authentication.
//! - `TAG_COUNTERS` is 8 bytes in the KRD (signCounter, regCounter) and 4 in SIGNED_DATA
//!   (signCounter).
//! - `ALG_KEY_RSA_2048_RAW` is n (256 bytes) ‖ e (the rest, here the minimal big-endian bytes:
//!   `01 00 01`); `ALG_KEY_RSA_2048_DER` is the DER `SEQUENCE { n INTEGER, e INTEGER }`
//!   (PKCS#1 RSAPublicKey), not an SPKI. The `_DER` RSA signature encodings are the raw
//!   signature wrapped in a DER OCTET STRING.
//!
//! Requests may be given as the JSON array, as a string holding it, or wrapped as
//! `{"uafRequest": "<string>"}` (the HTTP transport's ReturnUAFRequest).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ciborium::Value as Cbor;
use rand::RngCore;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256,
};
use serde_json::{json, Value};

use super::pki;

// ---- TLV tags (fido-uaf-authnr-cmds-v1.1 / registry "Predefined Tags") ----
pub const TAG_UAFV1_REG_ASSERTION: u16 = 0x3E01;
pub const TAG_UAFV1_AUTH_ASSERTION: u16 = 0x3E02;
pub const TAG_UAFV1_KRD: u16 = 0x3E03;
pub const TAG_UAFV1_SIGNED_DATA: u16 = 0x3E04;
pub const TAG_ATTESTATION_CERT: u16 = 0x2E05;
pub const TAG_SIGNATURE: u16 = 0x2E06;
pub const TAG_ATTESTATION_BASIC_FULL: u16 = 0x3E07;
pub const TAG_ATTESTATION_BASIC_SURROGATE: u16 = 0x3E08;
pub const TAG_KEYID: u16 = 0x2E09;
pub const TAG_FINAL_CHALLENGE_HASH: u16 = 0x2E0A;
pub const TAG_AAID: u16 = 0x2E0B;
pub const TAG_PUB_KEY: u16 = 0x2E0C;
pub const TAG_COUNTERS: u16 = 0x2E0D;
pub const TAG_ASSERTION_INFO: u16 = 0x2E0E;
pub const TAG_AUTHENTICATOR_NONCE: u16 = 0x2E0F;
pub const TAG_TRANSACTION_CONTENT_HASH: u16 = 0x2E10;
pub const TAG_EXTENSION: u16 = 0x3E11;
pub const TAG_EXTENSION_NON_CRITICAL: u16 = 0x3E12;
pub const TAG_EXTENSION_ID: u16 = 0x2E13;
pub const TAG_EXTENSION_DATA: u16 = 0x2E14;
/// A tag no UAF specification assigns, for [`UafTamper::unknown_tag`].
pub const TAG_UNKNOWN_FOR_TESTS: u16 = 0x2EAA;

// ---- Authentication algorithms (fido-uaf-reg "Authentication Algorithms") ----
/// ECDSA P-256 / SHA-256, raw r ‖ s (32 + 32 bytes).
pub const ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW: u16 = 0x0001;
/// ECDSA P-256 / SHA-256, DER SEQUENCE { r, s }.
pub const ALG_SIGN_SECP256R1_ECDSA_SHA256_DER: u16 = 0x0002;
/// RSASSA-PSS / SHA-256 (MGF1-SHA-256, 32-byte salt), raw S (256 bytes).
pub const ALG_SIGN_RSASSA_PSS_SHA256_RAW: u16 = 0x0003;
/// RSASSA-PSS / SHA-256, S in a DER OCTET STRING.
pub const ALG_SIGN_RSASSA_PSS_SHA256_DER: u16 = 0x0004;
/// ECDSA secp256k1 / SHA-256, raw r ‖ s.
pub const ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW: u16 = 0x0005;
/// ECDSA secp256k1 / SHA-256, DER SEQUENCE { r, s }.
pub const ALG_SIGN_SECP256K1_ECDSA_SHA256_DER: u16 = 0x0006;
/// RSA EMSA-PKCS1-v1_5 / SHA-256, raw S.
pub const ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW: u16 = 0x0008;
/// RSA EMSA-PKCS1-v1_5 / SHA-256, S in a DER OCTET STRING.
pub const ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER: u16 = 0x0009;
/// ECDSA P-384 / SHA-384, raw r ‖ s (48 + 48 bytes); only for a P-384 attestation leaf.
pub const ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW: u16 = 0x0010;
/// Ed25519 (the registry lists it with ALG_KEY_COSE only), R ‖ S (64 bytes).
pub const ALG_SIGN_ED25519_EDDSA_SHA512_RAW: u16 = 0x0012;

// ---- Public key representation formats (fido-uaf-reg "Public Key Representation Formats") ----
/// Raw ANSI X9.62 point: 0x04 ‖ X ‖ Y.
pub const ALG_KEY_ECC_X962_RAW: u16 = 0x0100;
/// DER SubjectPublicKeyInfo (RFC 5480, namedCurve).
pub const ALG_KEY_ECC_X962_DER: u16 = 0x0101;
/// Raw RSA key: n (256 bytes) ‖ e (the remaining bytes).
pub const ALG_KEY_RSA_2048_RAW: u16 = 0x0102;
/// DER SEQUENCE { n INTEGER, e INTEGER }.
pub const ALG_KEY_RSA_2048_DER: u16 = 0x0103;
/// COSE_Key (RFC 8152 §7).
pub const ALG_KEY_COSE: u16 = 0x0104;

/// The only assertion scheme this authenticator speaks.
pub const ASSERTION_SCHEME: &str = "UAFV1TLV";

const TRAILING_GARBAGE: &[u8] = &[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01];

pub use super::softauthn::{b64url, b64url_decode, sha256};

/// One TLV item: tag (UINT16 LE), length (UINT16 LE), value.
pub fn tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(value.len()).expect("a TLV value fits in 65535 bytes");
    let mut out = Vec::with_capacity(4 + value.len());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn random_vec(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

fn flip(sig: &mut [u8]) {
    if let Some(last) = sig.last_mut() {
        *last ^= 0x01;
    }
}

/// A DER OCTET STRING around `content` (the `_DER` RSA signature encodings).
fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn cbor_encode(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("CBOR encode");
    out
}
const RSA_TEST_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCZZp4WwWD+pLfT\n\
9puGfzWVjeLm7A+JcHu8Qop7c+okPbbsvjU69nKWO3BTLpTApFNNuuA5IyJNETXv\n\
OGp96qvm41zB2Ijt5LmbLUXNfPh1uyF5615e/FODGQ6rgePu56Dd8ZT6DqIysqbE\n\
iCSxIxqGmDgkX/bum5jg2ibINgza/UZBgzQuHgCvS2ilxj5bSJ+poI7KsNIu2pKL\n\
H1JtHj+vuaDXBwbimAQRnVFInA+RUahlKjdFuoT5zrYrHEUe2+6Kc1c4aB8LlpAL\n\
nbFp2Ow/Cqk7pyIe8Yl6xoG1kcGIcvun4XnxatTEeKQnuxTP4d7T6UlUkdIgVcos\n\
haSeOMfrAgMBAAECggEAP4fWVUpFZ3DEiU6K3sr0YDnhDQ4a6Sris/dC7xn0kInW\n\
pnmoBgFnN3zqaijShm4H6htJHaDFZfGIysgsonV8OCVVlxqcqxmdHP1E+XOWWvvj\n\
Q2ENNn1+AL9x6enjgl//qauRrXY+Co0esCpKN+p34+JK7hWoaO2cBROUGDr6W/8A\n\
dC9DWGsPG2vSxtIP/GL6qGdm/VEsfBXMOFJ2pB0ViUNHy1w9zyw2kLa+Z6/VtcL4\n\
BjpcgVfKsorixSD/6dEuWtQehkGNY1RdjUeanNg9ppM7VwL0aucoN05Yt5lP16ha\n\
Y2TRLZINnEEI48KVSqACADLJhroARQ+DBfjcJGVXIQKBgQDVFJazSb+ukOt3YjjG\n\
TD4ZIoCFVCiiMBbzGkGOLBDU2zfNBnnzPTmYzGuNlqIStzD7GFbJKuyW+wV7r/39\n\
TvIBS+iUfQ2tBexsSEvIi6RE/JqcI7f7mz6v10yvTNRZ9JdWaNqnsXv+bVDwywit\n\
Xjch52hqPio+oKAMNFKIMT/dowKBgQC4TKyY9xipUj3HP4urWFYox+JDjnzG2wiV\n\
+FuxI8J0v8l7F6XybrOSjgPW6c+bRg9EidPgO7MzCI+4Jq+w/R6v4WNqv21ZqSPl\n\
nDkuJnvIrat5B5OXVwOwjIhAoWzXwEyVFRTGayNha4WX9uTpSmsHeLD+1v02gmjV\n\
cN9HiU+BGQKBgCnFz4V2f82JO6A78UVuzP3AddGtngmtw9IE47UrjmEsWNQo4N9+\n\
sTvzV2J6lWt13nRbYSgu8hLnQzvsVK7EO01lxELYAUZaUu8nfTPjrGCZ5PWXSwpY\n\
dQGkA7SaK0c3XDPkenlFojlO1P9fzmOuhMBwzVeGuGFuu/GokEWC4jJhAoGAJfMr\n\
60eeXWdg70Fnij3jZ/xY3B5gFTaPGwqMHvrFFPNVErK46iXfdkMmCUAWDtwrUqqq\n\
5VaFvPF7XqkgrmpAwmi/5wBKDRdmG+bCY31rKdSRJZfozVYOnXEisWRMHFUtr9kq\n\
cP0oyOuyE6u0UVGQnnY8xA0TEQFjguf+IiXlKCkCgYAmmMPHY4NRWh4nypTHwtNg\n\
GDPqpW5L8TeBfii10GTEalCkNsHh3lBu9VWfmuVYSNtp/ccSWddSxEMGHjDKJLNY\n\
RmovFiImPEnamVZv8U8g9tSl6MVQx1gfyqipWtzJBBK/kyBlM4zHpN2ssmEYZ5ns\n\
kA/PkzZMUoC7vKUl8XjVIQ==\n\
-----END PRIVATE KEY-----\n";

/// The fixed 2048-bit RSA test key as PKCS#8 DER (ring cannot generate RSA keys, so every RSA
/// registration uses this one key).
pub fn rsa_test_key_pkcs8() -> Vec<u8> {
    let b64: String = RSA_TEST_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(b64).expect("RSA test key PEM")
}

/// Which kind of key an `ALG_SIGN_*` value needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    Secp256k1,
    Rsa2048,
    Ed25519,
}

impl KeyKind {
    /// The key kind for an `ALG_SIGN_*` value this authenticator can sign with.
    pub fn for_sign_alg(alg: u16) -> Option<KeyKind> {
        match alg {
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW | ALG_SIGN_SECP256R1_ECDSA_SHA256_DER => {
                Some(KeyKind::P256)
            }
            ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW | ALG_SIGN_SECP256K1_ECDSA_SHA256_DER => {
                Some(KeyKind::Secp256k1)
            }
            ALG_SIGN_RSASSA_PSS_SHA256_RAW
            | ALG_SIGN_RSASSA_PSS_SHA256_DER
            | ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW
            | ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER => Some(KeyKind::Rsa2048),
            ALG_SIGN_ED25519_EDDSA_SHA512_RAW => Some(KeyKind::Ed25519),
            _ => None,
        }
    }
}

const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// SEQUENCE { SEQUENCE { id-ecPublicKey, secp256k1 (1.3.132.0.10) }, BIT STRING }.
const SECP256K1_SPKI_PREFIX: &[u8] = &[
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A private key, kept as bytes so the authenticator can be cloned.
#[derive(Clone)]
enum Secret {
    /// PKCS#8 DER (P-256, RSA, Ed25519).
    Pkcs8(Vec<u8>),
    /// The secp256k1 scalar (32 bytes, big-endian).
    Scalar([u8; 32]),
}

/// A UAuth key pair.
#[derive(Clone)]
pub struct KeyMaterial {
    pub kind: KeyKind,
    secret: Secret,
    /// The "raw" public key: the X9.62 uncompressed point for EC, the 32 bytes for Ed25519,
    /// the DER RSAPublicKey for RSA.
    public: Vec<u8>,
    /// RSA only: (n, e) big-endian without leading zeros.
    rsa_components: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kind", &self.kind)
            .field("public", &b64url(&self.public))
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// A fresh key of this kind (RSA: the fixed test key).
    pub fn generate(kind: KeyKind) -> KeyMaterial {
        let rng = SystemRandom::new();
        match kind {
            KeyKind::P256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .expect("generate P-256 key");
                let kp =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng)
                        .expect("parse P-256 key");
                KeyMaterial {
                    kind,
                    public: kp.public_key().as_ref().to_vec(),
                    secret: Secret::Pkcs8(doc.as_ref().to_vec()),
                    rsa_components: None,
                }
            }
            KeyKind::Secp256k1 => loop {
                let bytes: [u8; 32] = random_vec(32).try_into().expect("32 bytes");
                let Ok(sk) = k256::ecdsa::SigningKey::from_slice(&bytes) else {
                    continue;
                };
                use k256::elliptic_curve::sec1::ToEncodedPoint as _;
                let public = sk
                    .verifying_key()
                    .as_affine()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                break KeyMaterial {
                    kind,
                    public,
                    secret: Secret::Scalar(bytes),
                    rsa_components: None,
                };
            },
            KeyKind::Rsa2048 => {
                let pkcs8 = rsa_test_key_pkcs8();
                let kp = RsaKeyPair::from_pkcs8(&pkcs8).expect("parse the RSA test key");
                let comps: ring::rsa::PublicKeyComponents<Vec<u8>> = kp.public().into();
                KeyMaterial {
                    kind,
                    public: kp.public().as_ref().to_vec(),
                    secret: Secret::Pkcs8(pkcs8),
                    rsa_components: Some((comps.n, comps.e)),
                }
            }
            KeyKind::Ed25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate Ed25519 key");
                let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parse Ed25519 key");
                KeyMaterial {
                    kind,
                    public: kp.public_key().as_ref().to_vec(),
                    secret: Secret::Pkcs8(doc.as_ref().to_vec()),
                    rsa_components: None,
                }
            }
        }
    }

    /// The public key in its "raw" form: X9.62 uncompressed point (EC), 32 bytes (Ed25519),
    /// DER RSAPublicKey (RSA).
    pub fn public_raw(&self) -> &[u8] {
        &self.public
    }

    /// The private key: PKCS#8 DER for P-256, RSA and Ed25519; the 32-byte scalar for secp256k1.
    pub fn private_key_bytes(&self) -> Vec<u8> {
        match &self.secret {
            Secret::Pkcs8(b) => b.clone(),
            Secret::Scalar(s) => s.to_vec(),
        }
    }

    /// RSA modulus and exponent (big-endian, no leading zeros).
    pub fn rsa_components(&self) -> Option<(&[u8], &[u8])> {
        self.rsa_components
            .as_ref()
            .map(|(n, e)| (n.as_slice(), e.as_slice()))
    }

    /// The public key as `TAG_PUB_KEY` carries it for `encoding` (an `ALG_KEY_*` value);
    /// `sign_alg` picks the COSE `alg`.
    pub fn encode_public(&self, encoding: u16, sign_alg: u16) -> Result<Vec<u8>, String> {
        let refuse = || {
            Err(format!(
                "softuaf: a {:?} key cannot be encoded as 0x{encoding:04X}",
                self.kind
            ))
        };
        match (self.kind, encoding) {
            (KeyKind::P256 | KeyKind::Secp256k1, ALG_KEY_ECC_X962_RAW) => Ok(self.public.clone()),
            (KeyKind::P256, ALG_KEY_ECC_X962_DER) => Ok([P256_SPKI_PREFIX, &self.public].concat()),
            (KeyKind::Secp256k1, ALG_KEY_ECC_X962_DER) => {
                Ok([SECP256K1_SPKI_PREFIX, &self.public].concat())
            }
            (KeyKind::Ed25519, ALG_KEY_ECC_X962_DER) => {
                // Outside the registry's list for Ed25519, but unambiguous.
                Ok([ED25519_SPKI_PREFIX, &self.public].concat())
            }
            (KeyKind::Rsa2048, ALG_KEY_RSA_2048_RAW) => {
                let (n, e) = self.rsa_components().expect("RSA components");
                let mut out = vec![0u8; 256usize.saturating_sub(n.len())];
                out.extend_from_slice(n);
                out.extend_from_slice(e);
                Ok(out)
            }
            (KeyKind::Rsa2048, ALG_KEY_RSA_2048_DER) => Ok(self.public.clone()),
            (_, ALG_KEY_COSE) => Ok(self.cose_key(sign_alg)),
            _ => refuse(),
        }
    }

    /// COSE_Key in CTAP2 canonical order (1, 3, -1, -2, -3).
    fn cose_key(&self, sign_alg: u16) -> Vec<u8> {
        let map = match self.kind {
            KeyKind::P256 | KeyKind::Secp256k1 => {
                let (alg, crv) = if self.kind == KeyKind::P256 {
                    (-7, 1)
                } else {
                    (-47, 8)
                };
                vec![
                    (Cbor::from(1), Cbor::from(2)),
                    (Cbor::from(3), Cbor::from(alg)),
                    (Cbor::from(-1), Cbor::from(crv)),
                    (Cbor::from(-2), Cbor::Bytes(self.public[1..33].to_vec())),
                    (Cbor::from(-3), Cbor::Bytes(self.public[33..65].to_vec())),
                ]
            }
            KeyKind::Rsa2048 => {
                let alg = match sign_alg {
                    ALG_SIGN_RSASSA_PSS_SHA256_RAW | ALG_SIGN_RSASSA_PSS_SHA256_DER => -37,
                    _ => -257,
                };
                let (n, e) = self.rsa_components().expect("RSA components");
                vec![
                    (Cbor::from(1), Cbor::from(3)),
                    (Cbor::from(3), Cbor::from(alg)),
                    (Cbor::from(-1), Cbor::Bytes(n.to_vec())),
                    (Cbor::from(-2), Cbor::Bytes(e.to_vec())),
                ]
            }
            KeyKind::Ed25519 => vec![
                (Cbor::from(1), Cbor::from(1)),
                (Cbor::from(3), Cbor::from(-8)),
                (Cbor::from(-1), Cbor::from(6)),
                (Cbor::from(-2), Cbor::Bytes(self.public.clone())),
            ],
        };
        cbor_encode(&Cbor::Map(map))
    }

    /// Sign `msg` as `sign_alg` says (which must fit this key's kind).
    pub fn sign(&self, sign_alg: u16, msg: &[u8]) -> Result<Vec<u8>, String> {
        if KeyKind::for_sign_alg(sign_alg) != Some(self.kind) {
            return Err(format!(
                "softuaf: a {:?} key cannot sign as 0x{sign_alg:04X}",
                self.kind
            ));
        }
        let rng = SystemRandom::new();
        let pkcs8 = || match &self.secret {
            Secret::Pkcs8(b) => b.as_slice(),
            Secret::Scalar(_) => unreachable!("only secp256k1 keys are scalars"),
        };
        Ok(match sign_alg {
            ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW | ALG_SIGN_SECP256R1_ECDSA_SHA256_DER => {
                let sa = if sign_alg == ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                };
                let kp = EcdsaKeyPair::from_pkcs8(sa, pkcs8(), &rng).expect("parse P-256 key");
                kp.sign(&rng, msg).expect("ECDSA sign").as_ref().to_vec()
            }
            ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW | ALG_SIGN_SECP256K1_ECDSA_SHA256_DER => {
                use k256::ecdsa::signature::Signer as _;
                let Secret::Scalar(s) = &self.secret else {
                    unreachable!("secp256k1 keys are scalars")
                };
                let sk = k256::ecdsa::SigningKey::from_slice(s).expect("secp256k1 key");
                let sig: k256::ecdsa::Signature = sk.sign(msg);
                if sign_alg == ALG_SIGN_SECP256K1_ECDSA_SHA256_RAW {
                    sig.to_bytes().to_vec()
                } else {
                    sig.to_der().as_bytes().to_vec()
                }
            }
            ALG_SIGN_RSASSA_PSS_SHA256_RAW
            | ALG_SIGN_RSASSA_PSS_SHA256_DER
            | ALG_SIGN_RSA_EMSA_PKCS1_SHA256_RAW
            | ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER => {
                let kp = RsaKeyPair::from_pkcs8(pkcs8()).expect("parse RSA key");
                let mut sig = vec![0u8; kp.public().modulus_len()];
                let padding: &'static dyn ring::signature::RsaEncoding = match sign_alg {
                    ALG_SIGN_RSASSA_PSS_SHA256_RAW | ALG_SIGN_RSASSA_PSS_SHA256_DER => {
                        &RSA_PSS_SHA256
                    }
                    _ => &RSA_PKCS1_SHA256,
                };
                kp.sign(padding, &rng, msg, &mut sig).expect("RSA sign");
                match sign_alg {
                    ALG_SIGN_RSASSA_PSS_SHA256_DER | ALG_SIGN_RSA_EMSA_PKCS1_SHA256_DER => {
                        der_octet_string(&sig)
                    }
                    _ => sig,
                }
            }
            ALG_SIGN_ED25519_EDDSA_SHA512_RAW => Ed25519KeyPair::from_pkcs8(pkcs8())
                .expect("parse Ed25519 key")
                .sign(msg)
                .as_ref()
                .to_vec(),
            _ => unreachable!("checked by for_sign_alg"),
        })
    }
}

/// A registration the authenticator holds.
#[derive(Clone)]
pub struct UafKey {
    pub app_id: String,
    pub username: String,
    pub key_id: Vec<u8>,
    /// The `ALG_SIGN_*` this key signs with.
    pub sign_alg: u16,
    /// The `ALG_KEY_*` its public key was registered in.
    pub key_encoding: u16,
    pub key: KeyMaterial,
}

impl fmt::Debug for UafKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UafKey")
            .field("app_id", &self.app_id)
            .field("username", &self.username)
            .field("key_id", &b64url(&self.key_id))
            .field("sign_alg", &format_args!("0x{:04X}", self.sign_alg))
            .field("key_encoding", &format_args!("0x{:04X}", self.key_encoding))
            .finish()
    }
}

impl UafKey {
    /// The KeyID as the UAF messages carry it (base64url).
    pub fn key_id_b64(&self) -> String {
        b64url(&self.key_id)
    }

    /// The public key exactly as `TAG_PUB_KEY` carried it at registration.
    pub fn public_key(&self) -> Vec<u8> {
        self.key
            .encode_public(self.key_encoding, self.sign_alg)
            .expect("checked at registration")
    }
}

/// How registrations are attested.
#[derive(Clone, Debug)]
pub enum UafAttestation {
    /// `TAG_ATTESTATION_BASIC_FULL`: signed by the chain's leaf key; one `TAG_ATTESTATION_CERT`
    /// per certificate of `chain.x5c`, the leaf first.
    BasicFull { chain: pki::AttestationChain },
    /// `TAG_ATTESTATION_BASIC_SURROGATE`: signed by the new key itself, no certificate.
    Surrogate,
}

/// A test CA and a Basic Full attestation chain under it (leaf directly under the root):
/// give the server `ca.cert_der` / `ca.cert_pem` as the trust anchor.
pub fn test_attestation(ca_name: &str) -> (pki::Ca, UafAttestation) {
    let ca = pki::root_ca(ca_name);
    let chain = pki::attestation_chain(&ca, &[], pki::LeafOptions::default());
    (ca, UafAttestation::BasicFull { chain })
}

/// Knobs to craft bad (or unusual) responses. `UafTamper::default()` is honest.
///
/// Signatures always cover what is sent (a tampered KRD / SIGNED_DATA is signed as tampered),
/// except where a knob breaks a signature on purpose. The TLV knobs (`omit_nonce`, `omit_tag`,
/// `duplicate_tag`, `unknown_tag`, `extension`) act on the KRD in a registration and on the
/// SIGNED_DATA in an authentication.
#[derive(Clone, Debug, Default)]
pub struct UafTamper {
    // ---- fcParams ----
    /// fcParams.appID (default: the request's appID, or the facet ID when that is empty).
    pub fc_app_id: Option<String>,
    /// fcParams.challenge (default: the request's challenge).
    pub fc_challenge: Option<String>,
    /// fcParams.facetID (default: the facet ID in use).
    pub fc_facet_id: Option<String>,
    /// fcParams.channelBinding (default `{}`).
    pub channel_binding: Option<Value>,
    /// Send exactly this fcParams string (the final challenge hash is computed over it).
    pub fc_params_raw: Option<String>,
    // ---- header ----
    /// header.op (default: copied from the request).
    pub op: Option<String>,
    /// header.upv (default: copied from the request).
    pub upv: Option<(u64, u64)>,
    /// header.serverData (default: copied from the request; `Some(None)` omits it).
    pub server_data: Option<Option<String>>,
    /// header.appID (default: copied from the request).
    pub header_app_id: Option<String>,
    /// assertions[0].assertionScheme (default "UAFV1TLV").
    pub assertion_scheme: Option<String>,
    // ---- TLV contents ----
    /// TAG_FINAL_CHALLENGE_HASH value instead of SHA-256(fcParams).
    pub final_challenge_hash: Option<Vec<u8>>,
    /// TAG_AAID value instead of ours.
    pub aaid: Option<String>,
    /// TAG_KEYID value (registration: the new key gets this id; authentication: report this
    /// id, signing with our key of that id if we have one, else with the key the policy picks).
    pub key_id: Option<Vec<u8>>,
    /// The signCounter value in TAG_COUNTERS (the authenticator's own counter is not moved).
    pub sign_counter: Option<u32>,
    /// Registration: the regCounter value in TAG_COUNTERS (the own counter is not moved).
    pub reg_counter: Option<u32>,
    /// TAG_ASSERTION_INFO authenticationMode (default 0x01, or 0x02 with a transaction);
    /// e.g. `Some(0x01)` with a transaction.
    pub mode: Option<u8>,
    /// TAG_ASSERTION_INFO signatureAlgAndEncoding value (the signature is still made as the
    /// real algorithm says).
    pub info_sign_alg: Option<u16>,
    /// Registration: TAG_ASSERTION_INFO publicKeyAlgAndEncoding value.
    pub info_key_encoding: Option<u16>,
    /// Registration: TAG_PUB_KEY value instead of the encoded key.
    pub pub_key: Option<Vec<u8>>,
    /// Authentication: hash this text as the transaction content (as if another text had been
    /// shown) instead of the request's.
    pub displayed_transaction: Option<String>,
    /// Authentication: this exact TAG_TRANSACTION_CONTENT_HASH value.
    pub transaction_content_hash: Option<Vec<u8>>,
    /// Authentication: leave TAG_AUTHENTICATOR_NONCE out.
    pub omit_nonce: bool,
    /// Leave this tag out of the KRD / SIGNED_DATA.
    pub omit_tag: Option<u16>,
    /// Repeat this tag (its first occurrence, right after it) in the KRD / SIGNED_DATA.
    pub duplicate_tag: Option<u16>,
    /// Add [`TAG_UNKNOWN_FOR_TESTS`] (4 bytes) at the end of the KRD / SIGNED_DATA.
    pub unknown_tag: bool,
    /// Add an extension at the end of the KRD / SIGNED_DATA: (id, data, critical) as
    /// TAG_EXTENSION (critical) or TAG_EXTENSION_NON_CRITICAL { TAG_EXTENSION_ID,
    /// TAG_EXTENSION_DATA }.
    pub extension: Option<(String, Vec<u8>, bool)>,
    /// Append garbage after the assertion's outer TLV (inside the base64url).
    pub trailing_bytes: bool,
    // ---- signatures ----
    /// Authentication: corrupt the signature (last byte XOR 0x01). Registration with
    /// Surrogate attestation: the same as `flip_attestation_signature`.
    pub flip_signature_byte: bool,
    /// Registration: corrupt the attestation signature (last byte XOR 0x01).
    pub flip_attestation_signature: bool,
    // ---- behaviour ----
    /// Go on although the request's policy excludes us (or no key fits it).
    pub ignore_policy: bool,
    /// Registration: don't remember the key made.
    pub forget: bool,
}

/// The software UAF client + authenticator.
#[derive(Clone, Debug)]
pub struct SoftUaf {
    aaid: String,
    /// `ALG_SIGN_*` for new keys (default ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW).
    pub sign_alg: u16,
    /// `ALG_KEY_*` for new keys' TAG_PUB_KEY (default ALG_KEY_ECC_X962_RAW).
    pub key_encoding: u16,
    /// Default: Surrogate.
    pub attestation: UafAttestation,
    /// Basic Full with a P-256 leaf: ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW or _DER (default DER).
    /// A P-384 leaf always signs ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW.
    pub full_attestation_alg: u16,
    /// The facet ID when the call gives none (default: the appID).
    pub facet_id: Option<String>,
    /// TAG_ASSERTION_INFO authenticatorVersion (default 1).
    pub authenticator_version: u16,
    /// Global signature counter: incremented before each authentication (the first carries 1);
    /// registrations carry the current value.
    pub sign_counter: u32,
    /// Registration counter: incremented before each registration (the first carries 1).
    pub reg_counter: u32,
    /// TAG_AUTHENTICATOR_NONCE length (default 16; the spec asks for at least 8).
    pub nonce_len: usize,
    /// What our metadata statement would say, as registry bits, for the client's policy
    /// matching (default: a phone — fingerprint, hardware key in a TEE, TEE matcher, internal,
    /// any/TEE display).
    pub traits: Traits,
    keys: Vec<UafKey>,
    last_transaction: Option<String>,
}

/// Registry bits of an authenticator's characteristics (one user verification alternative).
#[derive(Debug, Clone, Copy)]
pub struct Traits {
    pub user_verification: u32,
    pub key_protection: u32,
    pub matcher_protection: u32,
    pub attachment_hint: u32,
    pub tc_display: u32,
}

impl Default for Traits {
    fn default() -> Self {
        Self {
            user_verification: 0x2,
            key_protection: 0x2 | 0x4,
            matcher_protection: 0x2,
            attachment_hint: 0x1,
            tc_display: 0x1 | 0x4,
        }
    }
}

impl Traits {
    /// Does a MatchCriteria's bit flags fit us: any shared bit, except that user verification
    /// with USER_VERIFY_ALL (0x400) wants every named method.
    fn fit(&self, c: &Value) -> bool {
        let bits = |name: &str| c[name].as_u64().map(|b| b as u32);
        let any = |wanted: Option<u32>, ours: u32| wanted.is_none_or(|w| w & ours != 0);
        let uv = bits("userVerification").is_none_or(|w| {
            if w & 0x400 != 0 {
                (w & !0x400) & !self.user_verification == 0
            } else {
                w & self.user_verification != 0
            }
        });
        uv && any(bits("keyProtection"), self.key_protection)
            && any(bits("matcherProtection"), self.matcher_protection)
            && any(bits("attachmentHint"), self.attachment_hint)
            && any(bits("tcDisplay"), self.tc_display)
    }
}

/// The request array out of what the server sent.
fn request_array(request: &Value) -> Result<Vec<Value>, String> {
    match request {
        Value::Array(a) => Ok(a.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map_err(|e| format!("softuaf: the request string is not JSON: {e}"))
            .and_then(|v| request_array(&v)),
        Value::Object(o) => match o.get("uafRequest") {
            Some(inner) => request_array(inner),
            None => Ok(vec![request.clone()]),
        },
        other => Err(format!("softuaf: not a UAF message: {other}")),
    }
}

/// The message of the array we answer: upv 1.1 first, then 1.0.
fn pick_message(request: &Value, op: &str) -> Result<Value, String> {
    let msgs = request_array(request)?;
    let upv = |m: &Value| {
        let u = &m["header"]["upv"];
        (u["major"].as_u64(), u["minor"].as_u64())
    };
    let msg = msgs
        .iter()
        .find(|m| upv(m) == (Some(1), Some(1)))
        .or_else(|| msgs.iter().find(|m| upv(m) == (Some(1), Some(0))))
        .ok_or_else(|| format!("softuaf: no message with upv 1.1 or 1.0 in {msgs:?}"))?;
    match msg["header"]["op"].as_str() {
        Some(o) if o == op => Ok(msg.clone()),
        other => Err(format!("softuaf: expected op {op:?}, got {other:?}")),
    }
}

fn str_list(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    })
}

fn u64_list(v: &Value) -> Option<Vec<u64>> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
}

impl SoftUaf {
    /// P-256 raw signatures, X9.62 raw keys, Surrogate attestation, counters at 0.
    pub fn new(aaid: &str) -> Self {
        SoftUaf {
            aaid: aaid.to_owned(),
            sign_alg: ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW,
            key_encoding: ALG_KEY_ECC_X962_RAW,
            attestation: UafAttestation::Surrogate,
            full_attestation_alg: ALG_SIGN_SECP256R1_ECDSA_SHA256_DER,
            facet_id: None,
            authenticator_version: 1,
            sign_counter: 0,
            reg_counter: 0,
            nonce_len: 16,
            traits: Traits::default(),
            keys: Vec::new(),
            last_transaction: None,
        }
    }

    /// [`new`](Self::new) with this signature algorithm and key encoding.
    pub fn with_alg(aaid: &str, sign_alg: u16, key_encoding: u16) -> Self {
        let mut s = Self::new(aaid);
        s.sign_alg = sign_alg;
        s.key_encoding = key_encoding;
        s
    }

    /// The AAID ("VVVV#MMMM").
    pub fn aaid(&self) -> &str {
        &self.aaid
    }

    /// The attestation type tag we produce (TAG_ATTESTATION_BASIC_FULL / _SURROGATE).
    pub fn attestation_type(&self) -> u16 {
        match self.attestation {
            UafAttestation::BasicFull { .. } => TAG_ATTESTATION_BASIC_FULL,
            UafAttestation::Surrogate => TAG_ATTESTATION_BASIC_SURROGATE,
        }
    }

    /// All KeyIDs held (base64url), in registration order.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(UafKey::key_id_b64).collect()
    }

    /// The registrations held, in registration order.
    pub fn keys(&self) -> &[UafKey] {
        &self.keys
    }

    /// The registration with this base64url KeyID.
    pub fn key(&self, key_id_b64: &str) -> Option<&UafKey> {
        let id = b64url_decode(key_id_b64)?;
        self.keys.iter().find(|k| k.key_id == id)
    }

    /// The registration for this appID and username.
    pub fn key_for(&self, app_id: &str, username: &str) -> Option<&UafKey> {
        self.keys
            .iter()
            .find(|k| k.app_id == app_id && k.username == username)
    }

    /// Takes over a key registered elsewhere (e.g. one imported into the server).
    pub fn import(&mut self, key: UafKey) {
        self.keys.push(key);
    }

    /// Forget the registration with this base64url KeyID; true if it was there.
    pub fn forget_key(&mut self, key_id_b64: &str) -> bool {
        let Some(id) = b64url_decode(key_id_b64) else {
            return false;
        };
        let before = self.keys.len();
        self.keys.retain(|k| k.key_id != id);
        before != self.keys.len()
    }

    /// The transaction text the last authentication "displayed" (None if it had no
    /// transaction, or only a non-text one).
    pub fn last_transaction_text(&self) -> Option<&str> {
        self.last_transaction.as_deref()
    }

    /// The KRD's signatureAlgAndEncoding: the attestation signature's algorithm.
    fn attestation_sign_alg(&self) -> u16 {
        match &self.attestation {
            UafAttestation::BasicFull { chain } if chain.leaf_p384 => {
                ALG_SIGN_SECP384R1_ECDSA_SHA384_RAW
            }
            UafAttestation::BasicFull { .. } => self.full_attestation_alg,
            UafAttestation::Surrogate => self.sign_alg,
        }
    }

    /// Does a MatchCriteria fit us (and `key`, for its keyIDs; without a key, a keyIDs
    /// criterion fits when any of our keys for `app_id` is listed)?
    fn criteria_fit(&self, c: &Value, app_id: &str, key: Option<&UafKey>, reg: bool) -> bool {
        if let Some(aaids) = str_list(&c["aaid"]) {
            if !aaids.iter().any(|a| a.eq_ignore_ascii_case(&self.aaid)) {
                return false;
            }
        }
        if let Some(vendors) = str_list(&c["vendorID"]) {
            let ours = self.aaid.split('#').next().unwrap_or("");
            if !vendors.iter().any(|v| v.eq_ignore_ascii_case(ours)) {
                return false;
            }
        }
        if let Some(ids) = str_list(&c["keyIDs"]) {
            let ids: Vec<Vec<u8>> = ids.iter().filter_map(|s| b64url_decode(s)).collect();
            let fits = match key {
                Some(k) => ids.contains(&k.key_id),
                None => self
                    .keys
                    .iter()
                    .any(|k| k.app_id == app_id && ids.contains(&k.key_id)),
            };
            if !fits {
                return false;
            }
        }
        let alg = key.map(|k| k.sign_alg).unwrap_or(self.sign_alg);
        if let Some(algs) = u64_list(&c["authenticationAlgorithms"]) {
            if !algs.contains(&u64::from(alg)) {
                return false;
            }
        }
        if let Some(schemes) = str_list(&c["assertionSchemes"]) {
            if !schemes.iter().any(|s| s == ASSERTION_SCHEME) {
                return false;
            }
        }
        if reg {
            if let Some(types) = u64_list(&c["attestationTypes"]) {
                if !types.contains(&u64::from(self.attestation_type())) {
                    return false;
                }
            }
        }
        self.traits.fit(c)
    }

    /// Registration policy: some `accepted` set fits us entirely and no `disallowed` criteria
    /// does (a disallowed keyIDs entry naming one of our keys for the appID excludes us).
    fn registration_policy_ok(&self, policy: &Value, app_id: &str) -> Result<(), String> {
        if let Some(sets) = policy["accepted"].as_array() {
            let fits = sets.iter().any(|set| {
                set.as_array().is_some_and(|crit| {
                    crit.iter().all(|c| {
                        let mut c = c.clone();
                        if let Some(o) = c.as_object_mut() {
                            o.remove("keyIDs");
                        }
                        self.criteria_fit(&c, app_id, None, true)
                    })
                })
            });
            if !sets.is_empty() && !fits {
                return Err(format!(
                    "softuaf: the policy does not accept {} (accepted: {})",
                    self.aaid, policy["accepted"]
                ));
            }
        }
        if let Some(dis) = policy["disallowed"].as_array() {
            if let Some(c) = dis
                .iter()
                .find(|c| self.criteria_fit(c, app_id, None, true))
            {
                return Err(format!("softuaf: the policy disallows us: {c}"));
            }
        }
        Ok(())
    }

    /// Which of our keys for `app_id` the authentication policy lets us use (newest first).
    fn select_key(&self, policy: &Value, app_id: &str) -> Option<usize> {
        let newest_first = || {
            self.keys
                .iter()
                .enumerate()
                .rev()
                .filter(move |(_, k)| k.app_id == app_id)
        };
        let allowed = |k: &UafKey| {
            !policy["disallowed"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|c| self.criteria_fit(c, app_id, Some(k), false))
            })
        };
        match policy["accepted"].as_array() {
            Some(sets) if !sets.is_empty() => sets.iter().find_map(|set| {
                let crit = set.as_array()?;
                newest_first()
                    .find(|(_, k)| {
                        allowed(k)
                            && crit
                                .iter()
                                .all(|c| self.criteria_fit(c, app_id, Some(k), false))
                    })
                    .map(|(i, _)| i)
            }),
            _ => newest_first().find(|(_, k)| allowed(k)).map(|(i, _)| i),
        }
    }

    /// The response header: the request's, with the tampering applied.
    fn response_header(header: &Value, app_id: &str, t: &UafTamper) -> Value {
        let mut h = json!({
            "upv": header["upv"].clone(),
            "op": header["op"].clone(),
            "appID": t.header_app_id.as_deref().unwrap_or(app_id),
        });
        if let Some((mj, mn)) = t.upv {
            h["upv"] = json!({"major": mj, "minor": mn});
        }
        if let Some(op) = &t.op {
            h["op"] = json!(op);
        }
        let server_data = match &t.server_data {
            Some(sd) => sd.clone(),
            None => header["serverData"].as_str().map(str::to_owned),
        };
        if let Some(sd) = server_data {
            h["serverData"] = json!(sd);
        }
        h
    }

    /// fcParams (base64url of the FinalChallengeParams JSON) and the final challenge hash.
    fn fc_params(app_id: &str, challenge: &str, facet: &str, t: &UafTamper) -> (String, Vec<u8>) {
        let fc = match &t.fc_params_raw {
            Some(raw) => raw.clone(),
            None => {
                let params = json!({
                    "appID": t.fc_app_id.as_deref().unwrap_or(app_id),
                    "challenge": t.fc_challenge.as_deref().unwrap_or(challenge),
                    "facetID": t.fc_facet_id.as_deref().unwrap_or(facet),
                    "channelBinding": t.channel_binding.clone().unwrap_or_else(|| json!({})),
                });
                b64url(params.to_string().as_bytes())
            }
        };
        let fch = t
            .final_challenge_hash
            .clone()
            .unwrap_or_else(|| sha256(fc.as_bytes()).to_vec());
        (fc, fch)
    }

    /// appID (the facet ID when the header's is missing or empty) and facet ID.
    fn ids(&self, header: &Value, facet_id: Option<&str>) -> (String, String) {
        let header_app = header["appID"].as_str().unwrap_or("");
        let facet = facet_id
            .map(str::to_owned)
            .or_else(|| self.facet_id.clone())
            .unwrap_or_else(|| header_app.to_owned());
        let app_id = if header_app.is_empty() {
            facet.clone()
        } else {
            header_app.to_owned()
        };
        (app_id, facet)
    }

    /// Honest registration. `facet_id`: None = [`SoftUaf::facet_id`], else the appID.
    pub fn register(&mut self, request: &Value, facet_id: Option<&str>) -> Result<Value, String> {
        self.register_with(request, facet_id, &UafTamper::default())
    }

    /// Registration with tampering knobs applied.
    pub fn register_with(
        &mut self,
        request: &Value,
        facet_id: Option<&str>,
        t: &UafTamper,
    ) -> Result<Value, String> {
        let msg = pick_message(request, "Reg")?;
        let header = &msg["header"];
        let (app_id, facet) = self.ids(header, facet_id);
        let challenge = msg["challenge"].as_str().unwrap_or("");
        let username = msg["username"].as_str().unwrap_or("").to_owned();
        if !t.ignore_policy {
            self.registration_policy_ok(&msg["policy"], &app_id)?;
        }
        let kind = KeyKind::for_sign_alg(self.sign_alg)
            .ok_or_else(|| format!("softuaf: cannot sign as 0x{:04X}", self.sign_alg))?;
        let key = KeyMaterial::generate(kind);
        let pub_key = match &t.pub_key {
            Some(p) => p.clone(),
            None => key.encode_public(self.key_encoding, self.sign_alg)?,
        };
        let key_id = t.key_id.clone().unwrap_or_else(|| random_vec(32));
        let (fc, fch) = Self::fc_params(&app_id, challenge, &facet, t);

        if t.reg_counter.is_none() {
            self.reg_counter = self.reg_counter.wrapping_add(1);
        }
        let reg_counter = t.reg_counter.unwrap_or(self.reg_counter);
        let sign_counter = t.sign_counter.unwrap_or(self.sign_counter);

        let mut info = Vec::with_capacity(7);
        info.extend_from_slice(&self.authenticator_version.to_le_bytes());
        info.push(t.mode.unwrap_or(0x01));
        info.extend_from_slice(
            &t.info_sign_alg
                .unwrap_or(self.attestation_sign_alg())
                .to_le_bytes(),
        );
        info.extend_from_slice(
            &t.info_key_encoding
                .unwrap_or(self.key_encoding)
                .to_le_bytes(),
        );
        let mut counters = sign_counter.to_le_bytes().to_vec();
        counters.extend_from_slice(&reg_counter.to_le_bytes());

        let items = vec![
            (
                TAG_AAID,
                t.aaid.as_deref().unwrap_or(&self.aaid).as_bytes().to_vec(),
            ),
            (TAG_ASSERTION_INFO, info),
            (TAG_FINAL_CHALLENGE_HASH, fch),
            (TAG_KEYID, key_id.clone()),
            (TAG_COUNTERS, counters),
            (TAG_PUB_KEY, pub_key),
        ];
        let krd = tlv(TAG_UAFV1_KRD, &assemble(items, t));

        let flip_att = t.flip_attestation_signature
            || (t.flip_signature_byte && matches!(self.attestation, UafAttestation::Surrogate));
        let attestation = match &self.attestation {
            UafAttestation::BasicFull { chain } => {
                let rng = SystemRandom::new();
                let sa = if chain.leaf_p384 {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                } else if self.full_attestation_alg == ALG_SIGN_SECP256R1_ECDSA_SHA256_RAW {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                };
                let kp = EcdsaKeyPair::from_pkcs8(sa, &chain.leaf_key_pkcs8, &rng)
                    .expect("parse the attestation key");
                let mut sig = kp.sign(&rng, &krd).expect("sign").as_ref().to_vec();
                if flip_att {
                    flip(&mut sig);
                }
                let mut body = tlv(TAG_SIGNATURE, &sig);
                for cert in &chain.x5c {
                    body.extend_from_slice(&tlv(TAG_ATTESTATION_CERT, cert));
                }
                tlv(TAG_ATTESTATION_BASIC_FULL, &body)
            }
            UafAttestation::Surrogate => {
                let mut sig = key.sign(self.sign_alg, &krd)?;
                if flip_att {
                    flip(&mut sig);
                }
                tlv(TAG_ATTESTATION_BASIC_SURROGATE, &tlv(TAG_SIGNATURE, &sig))
            }
        };
        let mut assertion = tlv(TAG_UAFV1_REG_ASSERTION, &[krd, attestation].concat());
        if t.trailing_bytes {
            assertion.extend_from_slice(TRAILING_GARBAGE);
        }

        let response = json!([{
            "header": Self::response_header(header, &app_id, t),
            "fcParams": fc,
            "assertions": [{
                "assertionScheme": t.assertion_scheme.as_deref().unwrap_or(ASSERTION_SCHEME),
                "assertion": b64url(&assertion),
            }],
        }]);

        if !t.forget {
            self.keys
                .retain(|k| !(k.app_id == app_id && k.username == username) && k.key_id != key_id);
            self.keys.push(UafKey {
                app_id,
                username,
                key_id,
                sign_alg: self.sign_alg,
                key_encoding: self.key_encoding,
                key,
            });
        }
        Ok(response)
    }

    /// Honest authentication (transaction confirmation when the request carries a transaction).
    pub fn authenticate(
        &mut self,
        request: &Value,
        facet_id: Option<&str>,
    ) -> Result<Value, String> {
        self.authenticate_with(request, facet_id, &UafTamper::default())
    }

    /// Authentication with tampering knobs applied.
    pub fn authenticate_with(
        &mut self,
        request: &Value,
        facet_id: Option<&str>,
        t: &UafTamper,
    ) -> Result<Value, String> {
        let msg = pick_message(request, "Auth")?;
        let header = &msg["header"];
        let (app_id, facet) = self.ids(header, facet_id);
        let challenge = msg["challenge"].as_str().unwrap_or("");

        let by_override = t
            .key_id
            .as_ref()
            .and_then(|id| self.keys.iter().position(|k| &k.key_id == id));
        let chosen = by_override
            .or_else(|| self.select_key(&msg["policy"], &app_id))
            .or_else(|| {
                t.ignore_policy
                    .then(|| self.keys.iter().rposition(|k| k.app_id == app_id))
                    .flatten()
            })
            .ok_or_else(|| {
                format!(
                    "softuaf: no key for appID {app_id:?} fits the policy {} (have {:?})",
                    msg["policy"], self.keys
                )
            })?;
        let key = self.keys[chosen].clone();
        let key_id = t.key_id.clone().unwrap_or_else(|| key.key_id.clone());

        // Transaction confirmation: "display" the text/plain content (or the first one).
        let transactions = msg["transaction"].as_array().cloned().unwrap_or_default();
        let tx = transactions
            .iter()
            .find(|tx| tx["contentType"].as_str() == Some("text/plain"))
            .or_else(|| transactions.first());
        let tx_content = match tx {
            Some(tx) => Some(
                tx["content"]
                    .as_str()
                    .and_then(b64url_decode)
                    .ok_or_else(|| format!("softuaf: transaction content not base64url: {tx}"))?,
            ),
            None => None,
        };
        self.last_transaction = match (tx, &tx_content) {
            (Some(tx), Some(c)) if tx["contentType"].as_str() == Some("text/plain") => {
                Some(String::from_utf8_lossy(c).into_owned())
            }
            _ => None,
        };
        if let (Some(shown), Some(_)) = (&t.displayed_transaction, &tx_content) {
            self.last_transaction = Some(shown.clone());
        }
        let tx_hash = match (&t.transaction_content_hash, &t.displayed_transaction) {
            (Some(h), _) => h.clone(),
            (None, Some(shown)) => sha256(shown.as_bytes()).to_vec(),
            (None, None) => tx_content
                .as_deref()
                .map(|c| sha256(c).to_vec())
                .unwrap_or_default(),
        };
        let mode = t
            .mode
            .unwrap_or(if tx_content.is_some() { 0x02 } else { 0x01 });

        let (fc, fch) = Self::fc_params(&app_id, challenge, &facet, t);
        if t.sign_counter.is_none() {
            self.sign_counter = self.sign_counter.wrapping_add(1);
        }
        let sign_counter = t.sign_counter.unwrap_or(self.sign_counter);

        let mut info = Vec::with_capacity(5);
        info.extend_from_slice(&self.authenticator_version.to_le_bytes());
        info.push(mode);
        info.extend_from_slice(&t.info_sign_alg.unwrap_or(key.sign_alg).to_le_bytes());

        let mut items = vec![
            (
                TAG_AAID,
                t.aaid.as_deref().unwrap_or(&self.aaid).as_bytes().to_vec(),
            ),
            (TAG_ASSERTION_INFO, info),
            (TAG_AUTHENTICATOR_NONCE, random_vec(self.nonce_len)),
            (TAG_FINAL_CHALLENGE_HASH, fch),
            (TAG_TRANSACTION_CONTENT_HASH, tx_hash),
            (TAG_KEYID, key_id),
            (TAG_COUNTERS, sign_counter.to_le_bytes().to_vec()),
        ];
        if t.omit_nonce {
            items.retain(|(tag, _)| *tag != TAG_AUTHENTICATOR_NONCE);
        }
        let signed_data = tlv(TAG_UAFV1_SIGNED_DATA, &assemble(items, t));
        let mut sig = key.key.sign(key.sign_alg, &signed_data)?;
        if t.flip_signature_byte {
            flip(&mut sig);
        }
        let mut assertion = tlv(
            TAG_UAFV1_AUTH_ASSERTION,
            &[signed_data, tlv(TAG_SIGNATURE, &sig)].concat(),
        );
        if t.trailing_bytes {
            assertion.extend_from_slice(TRAILING_GARBAGE);
        }

        Ok(json!([{
            "header": Self::response_header(header, &app_id, t),
            "fcParams": fc,
            "assertions": [{
                "assertionScheme": t.assertion_scheme.as_deref().unwrap_or(ASSERTION_SCHEME),
                "assertion": b64url(&assertion),
            }],
        }]))
    }

    /// Apply a DeregistrationRequest: for each `authenticators` entry naming our AAID (or the
    /// empty AAID), forget that KeyID for the appID, or every key for the appID when the KeyID
    /// is empty. Returns how many keys went.
    pub fn deregister(&mut self, request: &Value) -> Result<usize, String> {
        let msg = pick_message(request, "Dereg")?;
        let app_id = msg["header"]["appID"].as_str().unwrap_or("").to_owned();
        let entries = msg["authenticators"]
            .as_array()
            .ok_or_else(|| format!("softuaf: no authenticators in {msg}"))?;
        let before = self.keys.len();
        for e in entries {
            let aaid = e["aaid"].as_str().unwrap_or("");
            if !aaid.is_empty() && !aaid.eq_ignore_ascii_case(&self.aaid) {
                continue;
            }
            let key_id = e["keyID"].as_str().unwrap_or("");
            let id = if key_id.is_empty() {
                None
            } else {
                Some(
                    b64url_decode(key_id)
                        .ok_or_else(|| format!("softuaf: keyID not base64url: {key_id:?}"))?,
                )
            };
            self.keys.retain(|k| {
                let app_matches = app_id.is_empty() || k.app_id == app_id;
                let id_matches = id.as_ref().is_none_or(|id| &k.key_id == id);
                !(app_matches && id_matches)
            });
        }
        Ok(before - self.keys.len())
    }
}

/// The KRD / SIGNED_DATA body from its items, with the TLV knobs applied.
fn assemble(mut items: Vec<(u16, Vec<u8>)>, t: &UafTamper) -> Vec<u8> {
    if let Some(tag) = t.omit_tag {
        items.retain(|(t, _)| *t != tag);
    }
    if let Some(tag) = t.duplicate_tag {
        if let Some(i) = items.iter().position(|(t, _)| *t == tag) {
            let copy = items[i].clone();
            items.insert(i + 1, copy);
        }
    }
    if t.unknown_tag {
        items.push((TAG_UNKNOWN_FOR_TESTS, vec![0x01, 0x02, 0x03, 0x04]));
    }
    if let Some((id, data, critical)) = &t.extension {
        let tag = if *critical {
            TAG_EXTENSION
        } else {
            TAG_EXTENSION_NON_CRITICAL
        };
        let body = [
            tlv(TAG_EXTENSION_ID, id.as_bytes()),
            tlv(TAG_EXTENSION_DATA, data),
        ]
        .concat();
        items.push((tag, body));
    }
    items.iter().flat_map(|(tag, v)| tlv(*tag, v)).collect()
}
