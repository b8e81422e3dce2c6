//! UAFV1TLV assertions (authenticator commands §4.2.1, §4.3.1): the registration assertion
//! (key registration data, KRD, signed by the attestation key) and the authentication
//! assertion (signed data, signed by the registered key), parsed field by field and their
//! signatures verified. Which values the server expects (challenge hash, key, counter) is
//! `verify`'s business.

use super::algorithms;
use super::status::{StatusCode, UafRefusal};
use super::tlv::{self, Fields, Tlv};

/// The most attestation certificates a registration assertion may carry.
pub const MAX_CERTIFICATES: usize = 16;

/// A parsed registration assertion (TAG_UAFV1_REG_ASSERTION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegAssertion {
    pub aaid: String,
    pub authenticator_version: u16,
    /// Always 0x01 in a registration.
    pub authentication_mode: u8,
    pub sign_alg: u16,
    pub key_encoding: u16,
    pub final_challenge_hash: Vec<u8>,
    pub key_id: Vec<u8>,
    pub sign_counter: u32,
    pub reg_counter: u32,
    pub public_key: Vec<u8>,
    pub attestation: Attestation,
    /// The KRD TLV bytes as signed (tag and length included).
    pub signed_krd: Vec<u8>,
}

/// The attestation of a registration assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestation {
    /// Basic full: signed with the attestation key; the certificates are DER, leaf first.
    BasicFull {
        signature: Vec<u8>,
        certificates: Vec<Vec<u8>>,
    },
    /// Basic surrogate: signed with the new key itself.
    Surrogate { signature: Vec<u8> },
}

impl Attestation {
    /// The attestation signature.
    pub fn signature(&self) -> &[u8] {
        match self {
            Self::BasicFull { signature, .. } | Self::Surrogate { signature } => signature,
        }
    }

    /// The registry's name of the attestation type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::BasicFull { .. } => "basic_full",
            Self::Surrogate { .. } => "basic_surrogate",
        }
    }
}

/// A parsed authentication assertion (TAG_UAFV1_AUTH_ASSERTION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAssertion {
    pub aaid: String,
    pub authenticator_version: u16,
    /// 0x01 user verified, 0x02 transaction confirmed.
    pub authentication_mode: u8,
    pub sign_alg: u16,
    pub authenticator_nonce: Vec<u8>,
    pub final_challenge_hash: Vec<u8>,
    /// Empty when no transaction was confirmed.
    pub transaction_content_hash: Vec<u8>,
    pub key_id: Vec<u8>,
    pub sign_counter: u32,
    pub signature: Vec<u8>,
    /// The SIGNED_DATA TLV bytes as signed (tag and length included).
    pub signed_data: Vec<u8>,
}

/// Parses a registration assertion: one TAG_UAFV1_REG_ASSERTION holding the KRD (AAID,
/// ASSERTION_INFO, FINAL_CHALLENGE_HASH, KEYID, COUNTERS, PUB_KEY, each exactly once) and one
/// basic full or basic surrogate attestation. The registry's other attestation types (ECDAA,
/// ATTCA, none, anonymization CA) are refused with 1496.
pub fn parse_registration(assertion: &[u8]) -> Result<RegAssertion, UafRefusal> {
    let top = tlv::read_one(assertion, tlv::TAG_UAFV1_REG_ASSERTION)?;
    let outer = Fields::parse(
        top,
        "registration assertion",
        &[
            tlv::TAG_UAFV1_KRD,
            tlv::TAG_ATTESTATION_BASIC_FULL,
            tlv::TAG_ATTESTATION_BASIC_SURROGATE,
            tlv::TAG_ATTESTATION_ECDAA,
            tlv::TAG_ATTESTATION_ATTCA,
            tlv::TAG_ATTESTATION_NONE,
            tlv::TAG_ATTESTATION_ANONCA,
        ],
    )?;
    let krd_tlv = outer.one(tlv::TAG_UAFV1_KRD, "key registration data")?;
    let krd = Fields::parse(
        krd_tlv,
        "key registration data",
        &[
            tlv::TAG_AAID,
            tlv::TAG_ASSERTION_INFO,
            tlv::TAG_FINAL_CHALLENGE_HASH,
            tlv::TAG_KEYID,
            tlv::TAG_COUNTERS,
            tlv::TAG_PUB_KEY,
        ],
    )?;
    let aaid = aaid(&krd)?;
    let info = fixed::<7>(&krd, tlv::TAG_ASSERTION_INFO, "assertion info")?;
    let counters = fixed::<8>(&krd, tlv::TAG_COUNTERS, "counters")?;
    let authentication_mode = info[2];
    if authentication_mode != 0x01 {
        return Err(UafRefusal::content(
            "authenticationMode",
            format!("a registration's authentication mode must be 0x01, not 0x{authentication_mode:02X}"),
        ));
    }
    let public_key = krd.one(tlv::TAG_PUB_KEY, "public key")?.value;
    if public_key.is_empty() {
        return Err(UafRefusal::bad("publicKey", "the public key is empty"));
    }
    for (tag, name) in [
        (tlv::TAG_ATTESTATION_ECDAA, "ECDAA"),
        (tlv::TAG_ATTESTATION_ATTCA, "ATTCA"),
        (tlv::TAG_ATTESTATION_NONE, "no"),
        (tlv::TAG_ATTESTATION_ANONCA, "anonymization CA"),
    ] {
        if !outer.all(tag).is_empty() {
            return Err(UafRefusal::new(
                StatusCode::UnacceptableAttestation,
                "attestationType",
                format!("{name} attestation is not accepted by this server (basic full and basic surrogate are)"),
            ));
        }
    }
    let full = outer.optional(tlv::TAG_ATTESTATION_BASIC_FULL, "basic full attestation")?;
    let surrogate = outer.optional(
        tlv::TAG_ATTESTATION_BASIC_SURROGATE,
        "basic surrogate attestation",
    )?;
    let attestation =
        match (full, surrogate) {
            (Some(full), None) => basic_full(full)?,
            (None, Some(surrogate)) => {
                let fields = Fields::parse(
                    surrogate,
                    "basic surrogate attestation",
                    &[tlv::TAG_SIGNATURE],
                )?;
                Attestation::Surrogate {
                    signature: signature(&fields)?,
                }
            }
            (None, None) => {
                return Err(UafRefusal::bad(
                    "tlvMissingTag",
                    "the registration assertion has no attestation (tag 0x3E07 or 0x3E08)",
                ))
            }
            (Some(_), Some(_)) => return Err(UafRefusal::bad(
                "tlvDuplicateTag",
                "the registration assertion holds both a basic full and a surrogate attestation",
            )),
        };
    Ok(RegAssertion {
        aaid,
        authenticator_version: u16::from_le_bytes([info[0], info[1]]),
        authentication_mode,
        sign_alg: u16::from_le_bytes([info[3], info[4]]),
        key_encoding: u16::from_le_bytes([info[5], info[6]]),
        final_challenge_hash: final_challenge_hash(&krd)?,
        key_id: key_id(&krd)?,
        sign_counter: u32::from_le_bytes([counters[0], counters[1], counters[2], counters[3]]),
        reg_counter: u32::from_le_bytes([counters[4], counters[5], counters[6], counters[7]]),
        public_key: public_key.to_vec(),
        attestation,
        signed_krd: krd_tlv.raw.to_vec(),
    })
}

fn basic_full(full: Tlv<'_>) -> Result<Attestation, UafRefusal> {
    let fields = Fields::parse(
        full,
        "basic full attestation",
        &[tlv::TAG_SIGNATURE, tlv::TAG_ATTESTATION_CERT],
    )?;
    let certs = fields.all(tlv::TAG_ATTESTATION_CERT);
    if certs.is_empty() {
        return Err(UafRefusal::bad(
            "tlvMissingTag",
            "the basic full attestation has no attestation certificate (tag 0x2E05)",
        ));
    }
    if certs.len() > MAX_CERTIFICATES {
        return Err(UafRefusal::new(
            StatusCode::UnacceptableAttestation,
            "attestationCertificates",
            format!(
                "the attestation carries {} certificates; at most {MAX_CERTIFICATES} are accepted",
                certs.len()
            ),
        ));
    }
    if certs.iter().any(|c| c.value.is_empty()) {
        return Err(UafRefusal::bad(
            "attestationCertificates",
            "an attestation certificate is empty",
        ));
    }
    Ok(Attestation::BasicFull {
        signature: signature(&fields)?,
        certificates: certs.iter().map(|c| c.value.to_vec()).collect(),
    })
}

/// Parses an authentication assertion: one TAG_UAFV1_AUTH_ASSERTION holding the SIGNED_DATA
/// (AAID, ASSERTION_INFO, AUTHENTICATOR_NONCE, FINAL_CHALLENGE_HASH, TRANSACTION_CONTENT_HASH,
/// KEYID, COUNTERS, each exactly once) and the SIGNATURE.
pub fn parse_authentication(assertion: &[u8]) -> Result<AuthAssertion, UafRefusal> {
    let top = tlv::read_one(assertion, tlv::TAG_UAFV1_AUTH_ASSERTION)?;
    let outer = Fields::parse(
        top,
        "authentication assertion",
        &[tlv::TAG_UAFV1_SIGNED_DATA, tlv::TAG_SIGNATURE],
    )?;
    let signed_tlv = outer.one(tlv::TAG_UAFV1_SIGNED_DATA, "signed data")?;
    let signed = Fields::parse(
        signed_tlv,
        "signed data",
        &[
            tlv::TAG_AAID,
            tlv::TAG_ASSERTION_INFO,
            tlv::TAG_AUTHENTICATOR_NONCE,
            tlv::TAG_FINAL_CHALLENGE_HASH,
            tlv::TAG_TRANSACTION_CONTENT_HASH,
            tlv::TAG_KEYID,
            tlv::TAG_COUNTERS,
        ],
    )?;
    let aaid = aaid(&signed)?;
    let info = fixed::<5>(&signed, tlv::TAG_ASSERTION_INFO, "assertion info")?;
    let counters = fixed::<4>(&signed, tlv::TAG_COUNTERS, "counters")?;
    let authentication_mode = info[2];
    if !matches!(authentication_mode, 0x01 | 0x02) {
        return Err(UafRefusal::content(
            "authenticationMode",
            format!(
                "the authentication mode must be 0x01 or 0x02, not 0x{authentication_mode:02X}"
            ),
        ));
    }
    let nonce = signed
        .one(tlv::TAG_AUTHENTICATOR_NONCE, "authenticator nonce")?
        .value;
    if !(8..=64).contains(&nonce.len()) {
        return Err(UafRefusal::bad(
            "authenticatorNonce",
            format!(
                "the authenticator nonce is {} bytes; it must be 8 to 64",
                nonce.len()
            ),
        ));
    }
    let tch = signed
        .one(
            tlv::TAG_TRANSACTION_CONTENT_HASH,
            "transaction content hash",
        )?
        .value;
    if tch.len() > 64 {
        return Err(UafRefusal::bad(
            "transactionContentHash",
            "the transaction content hash is longer than 64 bytes",
        ));
    }
    Ok(AuthAssertion {
        aaid,
        authenticator_version: u16::from_le_bytes([info[0], info[1]]),
        authentication_mode,
        sign_alg: u16::from_le_bytes([info[3], info[4]]),
        authenticator_nonce: nonce.to_vec(),
        final_challenge_hash: final_challenge_hash(&signed)?,
        transaction_content_hash: tch.to_vec(),
        key_id: key_id(&signed)?,
        sign_counter: u32::from_le_bytes(counters),
        signature: signature(&outer)?,
        signed_data: signed_tlv.raw.to_vec(),
    })
}

/// The attestation signature: basic full with the leaf certificate's key and the assertion's
/// signature algorithm, surrogate with the new key itself. 1495 for an unknown algorithm;
/// 1496 for an unreadable certificate, a certificate key that does not fit the algorithm, or a
/// signature that does not verify; 1494 for a surrogate key that is malformed.
pub fn verify_attestation_signature(reg: &RegAssertion) -> Result<(), UafRefusal> {
    let to_attestation = |e: UafRefusal| match e.status {
        StatusCode::UnacceptableAlgorithm => e,
        StatusCode::UnacceptableKey if matches!(reg.attestation, Attestation::Surrogate { .. }) => {
            e
        }
        _ => UafRefusal::new(
            StatusCode::UnacceptableAttestation,
            "attestationSignature",
            format!("the attestation signature is refused: {}", e.detail),
        ),
    };
    match &reg.attestation {
        Attestation::BasicFull {
            signature,
            certificates,
        } => {
            let leaf = certificates.first().ok_or_else(|| {
                UafRefusal::new(
                    StatusCode::UnacceptableAttestation,
                    "attestationCertificates",
                    "the basic full attestation has no certificate",
                )
            })?;
            let spki = leaf_spki(leaf)?;
            algorithms::verify_with_spki(reg.sign_alg, &spki, &reg.signed_krd, signature)
                .map_err(to_attestation)
        }
        Attestation::Surrogate { signature } => algorithms::verify_signature(
            reg.sign_alg,
            reg.key_encoding,
            &reg.public_key,
            &reg.signed_krd,
            signature,
        )
        .map_err(to_attestation),
    }
}

/// The DER SubjectPublicKeyInfo of a DER certificate.
fn leaf_spki(der: &[u8]) -> Result<Vec<u8>, UafRefusal> {
    use der::{Decode, Encode};
    let bad = || {
        UafRefusal::new(
            StatusCode::UnacceptableAttestation,
            "attestationCertificates",
            "the attestation certificate is not a DER X.509 certificate",
        )
    };
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| bad())?;
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| bad())
}

/// Verifies the authentication assertion's signature over its signed data with the registered
/// key (`key_encoding`, `public_key`): codes as in [`algorithms::verify_signature`].
pub fn verify_authentication_signature(
    a: &AuthAssertion,
    key_encoding: u16,
    public_key: &[u8],
) -> Result<(), UafRefusal> {
    algorithms::verify_signature(
        a.sign_alg,
        key_encoding,
        public_key,
        &a.signed_data,
        &a.signature,
    )
}

/// The AAID: `VVVV#MMMM`, four hex digits of vendor, `#`, four of model.
fn aaid(fields: &Fields<'_>) -> Result<String, UafRefusal> {
    let value = fields.one(tlv::TAG_AAID, "AAID")?.value;
    let well_formed = value.len() == 9
        && value.iter().enumerate().all(|(i, b)| {
            if i == 4 {
                *b == b'#'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    if !well_formed {
        return Err(UafRefusal::bad(
            "aaid",
            "the AAID is not four hex digits, '#', four hex digits",
        ));
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

/// The KeyID: 32 to 2048 bytes (protocol §3.1.4's `base64url(byte[32...2048])`).
fn key_id(fields: &Fields<'_>) -> Result<Vec<u8>, UafRefusal> {
    let value = fields.one(tlv::TAG_KEYID, "KeyID")?.value;
    if !(32..=2048).contains(&value.len()) {
        return Err(UafRefusal::bad(
            "keyId",
            format!("the KeyID is {} bytes; it must be 32 to 2048", value.len()),
        ));
    }
    Ok(value.to_vec())
}

/// The final challenge hash: 1 to 64 bytes (its value is compared by `verify`).
fn final_challenge_hash(fields: &Fields<'_>) -> Result<Vec<u8>, UafRefusal> {
    let value = fields
        .one(tlv::TAG_FINAL_CHALLENGE_HASH, "final challenge hash")?
        .value;
    if value.is_empty() || value.len() > 64 {
        return Err(UafRefusal::bad(
            "finalChallengeHash",
            format!(
                "the final challenge hash is {} bytes; it must be 1 to 64",
                value.len()
            ),
        ));
    }
    Ok(value.to_vec())
}

fn signature(fields: &Fields<'_>) -> Result<Vec<u8>, UafRefusal> {
    let value = fields.one(tlv::TAG_SIGNATURE, "signature")?.value;
    if value.is_empty() {
        return Err(UafRefusal::bad("signature", "the signature is empty"));
    }
    Ok(value.to_vec())
}

/// A field whose value must be exactly `N` bytes.
fn fixed<const N: usize>(fields: &Fields<'_>, tag: u16, what: &str) -> Result<[u8; N], UafRefusal> {
    let value = fields.one(tag, what)?.value;
    value.try_into().map_err(|_| {
        UafRefusal::bad(
            "tlvLength",
            format!("the {what} is {} bytes; it must be {N}", value.len()),
        )
    })
}
