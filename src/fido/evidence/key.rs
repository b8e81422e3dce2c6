//! The evidence signing key (ECDSA P-256 with ring) and its public half, read from and written
//! as PEM: PKCS#8 for the private key in the data directory, SPKI for the public key a verifier
//! is given.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};

use super::super::asn1::{self, OCTET_STRING, SEQUENCE};
use super::super::mds::pem_blocks;
use crate::domain::b64url;

/// The DER of an SPKI of a P-256 key up to its point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (no unused bits) }. With the 65-byte uncompressed point it is the
/// whole DER encoding, the one encoding of such a key.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const OID_TAG: asn1::Tag = asn1::Tag {
    class: 0,
    constructed: false,
    number: 0x06,
};
const BIT_STRING: asn1::Tag = asn1::Tag {
    class: 0,
    constructed: false,
    number: 0x03,
};
/// 1.2.840.10045.2.1 id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7 prime256v1 (P-256).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The server's evidence signing key: ECDSA P-256 (ring).
pub struct EvidenceKey {
    pair: EcdsaKeyPair,
    public: EvidencePublicKey,
}

impl std::fmt::Debug for EvidenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EvidenceKey(kid {})", self.public.kid())
    }
}

impl EvidenceKey {
    /// A PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") P-256 key. Errors say what is wrong (not
    /// PEM, not PKCS#8, not P-256).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            return Err(
                "not PKCS#8: this is a SEC 1 \"EC PRIVATE KEY\"; convert it with \
                        `openssl pkcs8 -topk8 -nocrypt`"
                    .into(),
            );
        }
        if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err("the PKCS#8 key is encrypted; give it unencrypted".into());
        }
        let der = match pem_blocks(pem, "PRIVATE KEY").map_err(|e| format!("not PEM: {e}"))? {
            blocks if blocks.len() > 1 => {
                return Err(format!(
                    "{} private keys in the PEM; give one",
                    blocks.len()
                ))
            }
            blocks => blocks
                .into_iter()
                .next()
                .ok_or("not PEM: there is no \"-----BEGIN PRIVATE KEY-----\" block".to_string())?,
        };
        check_pkcs8_p256(&der)?;
        Self::from_pkcs8(&der)
    }

    /// A new random key and its PKCS#8 PEM (to be written to the data directory).
    ///
    /// # Panics
    /// When the system's random generator fails.
    pub fn generate() -> (Self, String) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng())
            .expect("the system random generator makes a P-256 key");
        let key = Self::from_pkcs8(pkcs8.as_ref()).expect("ring reads the key it just made");
        (key, pem("PRIVATE KEY", pkcs8.as_ref()))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng())
            .map_err(|e| {
                format!("the P-256 PKCS#8 key is refused ({e}): it must hold its public key")
            })?;
        let public = EvidencePublicKey {
            point: pair.public_key().as_ref().to_vec(),
        };
        Ok(Self { pair, public })
    }

    /// The public key as an SPKI PEM ("-----BEGIN PUBLIC KEY-----"), served at
    /// /.well-known/fidoflow/evidence-key.pem.
    pub fn public_pem(&self) -> String {
        self.public.to_pem()
    }

    /// The public half, to verify with.
    pub fn public_key(&self) -> &EvidencePublicKey {
        &self.public
    }

    /// An ES256 signature (fixed 64 bytes, r ‖ s) over `message`.
    ///
    /// # Panics
    /// When the system's random generator fails.
    pub(super) fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&rng(), message)
            .expect("the system random generator gives an ECDSA nonce")
            .as_ref()
            .to_vec()
    }
}

/// The public key evidence is verified with: a P-256 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidencePublicKey {
    /// The uncompressed point 04 ‖ x ‖ y.
    point: Vec<u8>,
}

impl EvidencePublicKey {
    /// An SPKI PEM ("-----BEGIN PUBLIC KEY-----") of a P-256 key (the point uncompressed).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = match pem_blocks(pem, "PUBLIC KEY").map_err(|e| format!("not PEM: {e}"))? {
            blocks if blocks.len() > 1 => {
                return Err(format!("{} public keys in the PEM; give one", blocks.len()))
            }
            blocks => blocks
                .into_iter()
                .next()
                .ok_or("not PEM: there is no \"-----BEGIN PUBLIC KEY-----\" block".to_string())?,
        };
        let spki = asn1::read(&der)
            .filter(|(tlv, rest)| tlv.tag == SEQUENCE && rest.is_empty())
            .ok_or("not an SPKI: the DER is not one SEQUENCE")?
            .0;
        let (algorithm, key) = match asn1::items(spki.value).as_deref() {
            Some([algorithm, key]) if algorithm.tag == SEQUENCE && key.tag == BIT_STRING => {
                (algorithm.value, key.value)
            }
            _ => return Err("not an SPKI: no algorithm and BIT STRING".into()),
        };
        check_p256_algorithm(algorithm)?;
        let point = match key {
            [0, point @ ..] if point.len() == 65 && point.first() == Some(&4) => point,
            _ => return Err("not P-256: the key is not an uncompressed 65-byte point".into()),
        };
        if p256::PublicKey::from_sec1_bytes(point).is_err() {
            return Err("not P-256: the point is not on the curve".into());
        }
        Ok(Self {
            point: point.to_vec(),
        })
    }

    /// The SPKI DER of this key.
    pub fn spki_der(&self) -> Vec<u8> {
        let mut der = SPKI_P256_PREFIX.to_vec();
        der.extend_from_slice(&self.point);
        der
    }

    /// The SPKI PEM of this key.
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki_der())
    }

    /// The JWS `kid` naming this key: base64url of the SHA-256 of its SPKI DER.
    pub fn kid(&self) -> String {
        b64url(ring::digest::digest(&ring::digest::SHA256, &self.spki_der()).as_ref())
    }

    /// Whether `signature` (fixed 64 bytes, r ‖ s) is an ES256 signature of `message`.
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

/// Checks DER is a PKCS#8 PrivateKeyInfo of an EC P-256 key, to say which of the two it is
/// not before ring says only that it refuses it.
fn check_pkcs8_p256(der: &[u8]) -> Result<(), String> {
    let not_pkcs8 = "not PKCS#8: the DER is not a PrivateKeyInfo (version, algorithm, key)";
    let info = asn1::read(der)
        .filter(|(tlv, rest)| tlv.tag == SEQUENCE && rest.is_empty())
        .ok_or(not_pkcs8)?
        .0;
    let items = asn1::items(info.value).ok_or(not_pkcs8)?;
    match items.as_slice() {
        [version, algorithm, key, ..]
            if version.tag == asn1::INTEGER
                && algorithm.tag == SEQUENCE
                && key.tag == OCTET_STRING =>
        {
            check_p256_algorithm(algorithm.value)
        }
        _ => Err(not_pkcs8.into()),
    }
}

/// Checks the contents of an AlgorithmIdentifier name an EC key on P-256.
fn check_p256_algorithm(contents: &[u8]) -> Result<(), String> {
    let items = asn1::items(contents).ok_or("the key's algorithm identifier is not DER")?;
    let oid = |i: usize| items.get(i).filter(|t| t.tag == OID_TAG).map(|t| t.value);
    match (oid(0), oid(1)) {
        (Some(OID_EC_PUBLIC_KEY), Some(OID_P256)) => Ok(()),
        (Some(OID_EC_PUBLIC_KEY), curve) => Err(format!(
            "not P-256: the EC key is on {}",
            curve.map_or("a curve given by explicit parameters", curve_name)
        )),
        (Some(other), _) => Err(format!("not P-256: the key is {}", algorithm_name(other))),
        (None, _) => Err("the key's algorithm identifier has no OID".into()),
    }
}

fn curve_name(oid: &[u8]) -> &'static str {
    match oid {
        [0x2b, 0x81, 0x04, 0x00, 0x22] => "P-384",
        [0x2b, 0x81, 0x04, 0x00, 0x23] => "P-521",
        [0x2b, 0x81, 0x04, 0x00, 0x0a] => "secp256k1",
        _ => "another curve",
    }
}

fn algorithm_name(oid: &[u8]) -> &'static str {
    match oid {
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => "an RSA key",
        [0x2b, 0x65, 0x70] => "an Ed25519 key",
        [0x2b, 0x65, 0x71] => "an Ed448 key",
        _ => "not an EC key",
    }
}

/// PEM of `der` under `label`, 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn rng() -> SystemRandom {
    SystemRandom::new()
}
