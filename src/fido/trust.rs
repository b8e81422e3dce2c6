//! Attestation certificates: trust anchors, signature verification with a certificate's key, and
//! certification path validation (RFC 5280, reduced to what attestation needs).
//!
//! A path runs from the leaf through the x5c intermediates, in order, to a configured anchor
//! (found by subject name and signature; it may also be the last x5c certificate). Every
//! certificate, the anchor included, must be valid at `now`; every issuer must be a CA
//! (BasicConstraints CA=true, keyCertSign when KeyUsage is present) within its
//! pathLenConstraint; the leaf must not be a CA; critical extensions we do not understand are
//! refused; a path has at most five certificates.

use std::path::Path;

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode, Tag, Tagged};
use ring::signature as sig;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::Certificate;

use super::cose;
use super::error::TrustAnchorError;

/// The longest certification path we follow, anchor included.
const MAX_PATH: usize = 5;

const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_P521: Oid = Oid::new_unwrap("1.3.132.0.35");
const OID_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");

const OID_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
const OID_SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
const OID_AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
const OID_SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
const OID_CERT_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
/// id-fido-gen-ce-aaguid
pub(crate) const OID_FIDO_AAGUID: Oid = Oid::new_unwrap("1.3.6.1.4.1.45724.1.1.4");

const UNDERSTOOD: [Oid; 8] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXT_KEY_USAGE,
    OID_SUBJECT_KEY_ID,
    OID_AUTHORITY_KEY_ID,
    OID_SUBJECT_ALT_NAME,
    OID_CERT_POLICIES,
    OID_FIDO_AAGUID,
];

/// Attestation trust anchors (root or intermediate CA certificates), parsed once at start.
#[derive(Clone, Default)]
pub struct TrustAnchors {
    certs: Vec<Certificate>,
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustAnchors({} certificates)", self.certs.len())
    }
}

impl TrustAnchors {
    /// No anchors: no attestation is trusted.
    pub fn empty() -> Self {
        Self::default()
    }

    /// One or more PEM certificates.
    pub fn from_pem(text: &str) -> Result<Self, TrustAnchorError> {
        Ok(Self {
            certs: parse_pem(text, None)?,
        })
    }

    /// Every `*.pem` and `*.crt` file in `dir` (each holding one or more PEM certificates).
    pub fn from_dir(dir: &Path) -> Result<Self, TrustAnchorError> {
        let io = |path: &Path, source| TrustAnchorError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("pem") || e.eq_ignore_ascii_case("crt"));
            if wanted && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut certs = Vec::new();
        for path in files {
            certs.extend(Self::from_pem_file(&path)?.certs);
        }
        Ok(Self { certs })
    }

    /// The PEM certificates of one file.
    pub fn from_pem_file(path: &Path) -> Result<Self, TrustAnchorError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrustAnchorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            certs: parse_pem(&text, Some(path.display().to_string()))?,
        })
    }

    /// Anchors from DER certificates (FIDO metadata `attestationRootCertificates`).
    pub fn from_der_list(ders: &[Vec<u8>]) -> Result<Self, TrustAnchorError> {
        let certs = ders
            .iter()
            .enumerate()
            .map(|(i, der)| {
                Certificate::from_der(der).map_err(|e| TrustAnchorError::InvalidCertificate {
                    file: None,
                    reason: format!("certificate {} is not X.509: {e}", i + 1),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { certs })
    }

    /// These anchors and `other`'s, in that order.
    pub fn merged(&self, other: &TrustAnchors) -> TrustAnchors {
        let mut certs = self.certs.clone();
        certs.extend(other.certs.iter().cloned());
        Self { certs }
    }

    /// The anchors' certificates.
    pub(crate) fn certificates(&self) -> &[Certificate] {
        &self.certs
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// Every `CERTIFICATE` block of PEM text; text around the blocks (comments, OpenSSL bag
/// attributes) is ignored.
fn parse_pem(text: &str, file: Option<String>) -> Result<Vec<Certificate>, TrustAnchorError> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let invalid = |reason: String| TrustAnchorError::InvalidCertificate {
        file: file.clone(),
        reason,
    };
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let end = body
            .find(END)
            .ok_or_else(|| invalid("a certificate block has no END line".into()))?;
        let b64: String = body
            .get(..end)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                invalid(format!(
                    "certificate {} is not base64: {e}",
                    certs.len() + 1
                ))
            })?;
        let cert = Certificate::from_der(&der)
            .map_err(|e| invalid(format!("certificate {} is not X.509: {e}", certs.len() + 1)))?;
        certs.push(cert);
        rest = body.get(end + END.len()..).unwrap_or_default();
    }
    if certs.is_empty() {
        return Err(TrustAnchorError::NoCertificate(file));
    }
    Ok(certs)
}

/// A signature scheme: what is signed how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// ECDSA with an ASN.1 DER signature (WebAuthn, X.509).
    Ecdsa(Hash),
    /// ECDSA with a fixed-size `r || s` signature (JWS).
    EcdsaFixed(Hash),
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    /// Only for TPM attestation (RS1) and TPM names.
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Self::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, data).as_ref().to_vec()
    }
}

impl Scheme {
    /// The scheme of a COSE algorithm used in an attestation statement.
    pub fn from_cose(alg: i64) -> Option<Self> {
        Some(match alg {
            -7 => Self::Ecdsa(Hash::Sha256),
            -35 => Self::Ecdsa(Hash::Sha384),
            -36 => Self::Ecdsa(Hash::Sha512),
            -257 => Self::RsaPkcs1(Hash::Sha256),
            -258 => Self::RsaPkcs1(Hash::Sha384),
            -259 => Self::RsaPkcs1(Hash::Sha512),
            -37 => Self::RsaPss(Hash::Sha256),
            -38 => Self::RsaPss(Hash::Sha384),
            -39 => Self::RsaPss(Hash::Sha512),
            -8 => Self::Ed25519,
            _ => return None,
        })
    }

    /// The scheme of a COSE algorithm in a TPM attestation statement: also RS1 (-65535).
    pub fn from_cose_tpm(alg: i64) -> Option<Self> {
        match alg {
            -65535 => Some(Self::RsaPkcs1(Hash::Sha1)),
            other => Self::from_cose(other),
        }
    }

    /// The hash the scheme signs with (SHA-512 for Ed25519).
    pub fn hash(self) -> Hash {
        match self {
            Self::Ecdsa(h) | Self::EcdsaFixed(h) | Self::RsaPkcs1(h) | Self::RsaPss(h) => h,
            Self::Ed25519 => Hash::Sha512,
        }
    }

    /// The scheme of a certificate's signatureAlgorithm.
    pub(crate) fn from_oid(oid: &Oid) -> Option<Self> {
        Some(match *oid {
            OID_ECDSA_SHA256 => Self::Ecdsa(Hash::Sha256),
            OID_ECDSA_SHA384 => Self::Ecdsa(Hash::Sha384),
            OID_ECDSA_SHA512 => Self::Ecdsa(Hash::Sha512),
            OID_RSA_SHA256 => Self::RsaPkcs1(Hash::Sha256),
            OID_RSA_SHA384 => Self::RsaPkcs1(Hash::Sha384),
            OID_RSA_SHA512 => Self::RsaPkcs1(Hash::Sha512),
            OID_ED25519 => Self::Ed25519,
            _ => return None,
        })
    }
}

/// Verifies `signature` over `message` with the public key of `cert`.
pub(crate) fn verify_with_cert(
    cert: &Certificate,
    scheme: Scheme,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki.subject_public_key.raw_bytes();
    let alg: &'static dyn sig::VerificationAlgorithm = match spki.algorithm.oid {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            match (curve, scheme) {
                (Some(OID_P256), Scheme::Ecdsa(Hash::Sha256)) => &sig::ECDSA_P256_SHA256_ASN1,
                (Some(OID_P256), Scheme::Ecdsa(Hash::Sha384)) => &sig::ECDSA_P256_SHA384_ASN1,
                (Some(OID_P384), Scheme::Ecdsa(Hash::Sha256)) => &sig::ECDSA_P384_SHA256_ASN1,
                (Some(OID_P384), Scheme::Ecdsa(Hash::Sha384)) => &sig::ECDSA_P384_SHA384_ASN1,
                (Some(OID_P256), Scheme::EcdsaFixed(Hash::Sha256)) => &sig::ECDSA_P256_SHA256_FIXED,
                (Some(OID_P384), Scheme::EcdsaFixed(Hash::Sha384)) => &sig::ECDSA_P384_SHA384_FIXED,
                (Some(OID_P521), Scheme::Ecdsa(Hash::Sha512)) => {
                    return cose::p521_verify(key, message, signature)
                }
                _ => return false,
            }
        }
        OID_RSA => match scheme {
            Scheme::RsaPkcs1(Hash::Sha1) => &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Scheme::RsaPkcs1(Hash::Sha256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            Scheme::RsaPkcs1(Hash::Sha384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            Scheme::RsaPkcs1(Hash::Sha512) => &sig::RSA_PKCS1_2048_8192_SHA512,
            Scheme::RsaPss(Hash::Sha256) => &sig::RSA_PSS_2048_8192_SHA256,
            Scheme::RsaPss(Hash::Sha384) => &sig::RSA_PSS_2048_8192_SHA384,
            Scheme::RsaPss(Hash::Sha512) => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return false,
        },
        OID_ED25519 if scheme == Scheme::Ed25519 => &sig::ED25519,
        _ => return false,
    };
    cose::ring_verify(alg, key, message, signature)
}

/// Whether `issuer` signed `child`: names chain and the signature over the TBS verifies.
pub(crate) fn signed_by(child: &Certificate, issuer: &Certificate) -> bool {
    if child.tbs_certificate.issuer != issuer.tbs_certificate.subject
        || child.tbs_certificate.signature != child.signature_algorithm
    {
        return false;
    }
    let Some(scheme) = Scheme::from_oid(&child.signature_algorithm.oid) else {
        return false;
    };
    let Ok(tbs) = child.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = child.signature.as_bytes() else {
        return false;
    };
    verify_with_cert(issuer, scheme, &tbs, signature)
}

/// Parses DER certificates from an `x5c` array.
pub(crate) fn parse_x5c(ders: &[&[u8]]) -> Result<Vec<Certificate>, String> {
    if ders.is_empty() {
        return Err("x5c holds no certificate".into());
    }
    if ders.len() > MAX_PATH {
        return Err(format!("x5c holds more than {MAX_PATH} certificates"));
    }
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            Certificate::from_der(der).map_err(|_| {
                format!(
                    "certificate {} of x5c is not a valid X.509 certificate",
                    i + 1
                )
            })
        })
        .collect()
}

/// Whether the DER certificates `x5c` (leaf first) lead to one of `anchors` at `now`, as
/// [`validate_chain`] decides: for attestations verified outside this module (FIDO UAF basic
/// full). `Err` says why not.
pub fn chain_to_anchors(
    x5c: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let ders: Vec<&[u8]> = x5c.iter().map(Vec::as_slice).collect();
    validate_chain(&parse_x5c(&ders)?, anchors, now)
}

/// Validates the path from `x5c[0]` to a trust anchor at `now`; `Err` says why it does not
/// lead to a trusted anchor.
pub(crate) fn validate_chain(
    x5c: &[Certificate],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if anchors.is_empty() {
        return Err("no attestation trust anchors are configured".into());
    }
    let leaf = x5c.first().ok_or("the attestation has no certificate")?;
    let mut path = vec![leaf];
    let anchor = loop {
        let current = path.last().copied().unwrap_or(leaf);
        if let Some(anchor) = anchors.certs.iter().find(|a| signed_by(current, a)) {
            break anchor;
        }
        let n = path.len();
        let Some(next) = x5c.get(n) else {
            return Err(
                "the attestation certificate chain does not lead to a configured trust anchor"
                    .into(),
            );
        };
        if !signed_by(current, next) {
            return Err(format!(
                "certificate {} of the attestation chain was not issued by certificate {}",
                n,
                n + 1
            ));
        }
        path.push(next);
        if path.len() >= MAX_PATH {
            return Err(format!(
                "the attestation certificate chain is longer than {MAX_PATH} certificates"
            ));
        }
    };
    path.push(anchor);
    let last = path.len() - 1;
    for (i, cert) in path.iter().enumerate() {
        let name = if i == last {
            "the trust anchor".to_string()
        } else {
            format!("certificate {} of the attestation chain", i + 1)
        };
        check_validity(cert, now).map_err(|e| format!("{name} {e}"))?;
        check_critical_extensions(cert).map_err(|e| format!("{name} {e}"))?;
        let constraints = basic_constraints(cert).map_err(|e| format!("{name} {e}"))?;
        if i == 0 {
            if constraints.is_some_and(|c| c.ca) {
                return Err(format!(
                    "{name} is a CA certificate, not an attestation certificate"
                ));
            }
            continue;
        }
        let Some(constraints) = constraints.filter(|c| c.ca) else {
            return Err(format!("{name} is not a CA certificate but issued another"));
        };
        if let Some(usage) = key_usage(cert).map_err(|e| format!("{name} {e}"))? {
            if !usage.key_cert_sign() {
                return Err(format!("{name} may not sign certificates (keyUsage)"));
            }
        }
        // CA certificates between this one and the leaf.
        let below = i - 1;
        if let Some(max) = constraints.path_len_constraint {
            if below > usize::from(max) {
                return Err(format!(
                    "{name} allows {max} intermediate certificates below it, the chain has {below}"
                ));
            }
        }
    }
    Ok(())
}

/// notBefore ≤ now ≤ notAfter.
pub(crate) fn check_validity(cert: &Certificate, now: DateTime<Utc>) -> Result<(), String> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = seconds(validity.not_before.to_unix_duration());
    let not_after = seconds(validity.not_after.to_unix_duration());
    let now = now.timestamp();
    if now < not_before {
        return Err(format!("is not valid before {}", show(not_before)));
    }
    if now > not_after {
        return Err(format!("expired at {}", show(not_after)));
    }
    Ok(())
}

fn seconds(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn show(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn extensions(cert: &Certificate) -> &[x509_cert::ext::Extension] {
    cert.tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default()
}

fn check_critical_extensions(cert: &Certificate) -> Result<(), String> {
    match extensions(cert)
        .iter()
        .find(|e| e.critical && !UNDERSTOOD.contains(&e.extn_id))
    {
        Some(e) => Err(format!(
            "has a critical extension this server does not understand ({})",
            e.extn_id
        )),
        None => Ok(()),
    }
}

/// The value of the extension `oid` (refusing a certificate that has it twice).
pub(crate) fn extension<'a>(cert: &'a Certificate, oid: &Oid) -> Result<Option<&'a [u8]>, String> {
    let mut found = extensions(cert).iter().filter(|e| &e.extn_id == oid);
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("has the extension {oid} twice"));
    }
    Ok(first.map(|e| e.extn_value.as_bytes()))
}

pub(crate) fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>, String> {
    extension(cert, &OID_BASIC_CONSTRAINTS)?
        .map(|v| BasicConstraints::from_der(v).map_err(|_| "has invalid basicConstraints".into()))
        .transpose()
}

fn key_usage(cert: &Certificate) -> Result<Option<KeyUsage>, String> {
    extension(cert, &OID_KEY_USAGE)?
        .map(|v| KeyUsage::from_der(v).map_err(|_| "has an invalid keyUsage".into()))
        .transpose()
}

/// The AAGUID of the id-fido-gen-ce-aaguid extension, with whether it is marked critical.
pub(crate) fn aaguid_extension(cert: &Certificate) -> Result<Option<([u8; 16], bool)>, String> {
    let critical = extensions(cert)
        .iter()
        .any(|e| e.extn_id == OID_FIDO_AAGUID && e.critical);
    let Some(value) = extension(cert, &OID_FIDO_AAGUID)? else {
        return Ok(None);
    };
    let octets = der::asn1::OctetString::from_der(value)
        .map_err(|_| "has an invalid AAGUID extension".to_string())?;
    let aaguid = <[u8; 16]>::try_from(octets.as_bytes())
        .map_err(|_| "has an AAGUID extension that is not 16 bytes".to_string())?;
    Ok(Some((aaguid, critical)))
}

/// The text values of the subject attributes with type `oid`.
pub(crate) fn subject_values(cert: &Certificate, oid: &Oid) -> Vec<String> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| &atv.oid == oid)
        .filter(|atv| {
            matches!(
                atv.value.tag(),
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
            )
        })
        .filter_map(|atv| {
            std::str::from_utf8(atv.value.value())
                .ok()
                .map(str::to_owned)
        })
        .collect()
}

/// Whether the certificate's subject public key is the credential key (same curve and point,
/// same Ed25519 key, or same RSA modulus and exponent).
pub(crate) fn key_matches(cert: &Certificate, key: &cose::CoseKey) -> bool {
    use cose::KeyMaterial;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let raw = spki.subject_public_key.raw_bytes();
    match (&key.key, spki.algorithm.oid) {
        (KeyMaterial::Ec2 { crv, point }, OID_EC_PUBLIC_KEY) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            let want = match *crv {
                cose::CRV_P256 => OID_P256,
                cose::CRV_P384 => OID_P384,
                _ => OID_P521,
            };
            curve == Some(want) && raw == point.as_slice()
        }
        (KeyMaterial::Ed25519(x), OID_ED25519) => raw == x.as_slice(),
        (KeyMaterial::Rsa { n, e }, OID_RSA) => {
            rsa_public_key(raw).is_some_and(|(cn, ce)| cn == n.as_slice() && ce == e.as_slice())
        }
        _ => false,
    }
}

/// The modulus and exponent of a DER RSAPublicKey, without leading zeros.
fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use super::asn1;
    let (seq, rest) = asn1::read(der)?;
    if !rest.is_empty() || seq.tag != asn1::SEQUENCE {
        return None;
    }
    let items = asn1::items(seq.value)?;
    let [n, e] = items.as_slice() else {
        return None;
    };
    if n.tag != asn1::INTEGER || e.tag != asn1::INTEGER {
        return None;
    }
    Some((strip_leading_zeros(n.value), strip_leading_zeros(e.value)))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The subjectAltName extension, parsed.
pub(crate) fn subject_alt_names(
    cert: &Certificate,
) -> Result<Option<x509_cert::ext::pkix::SubjectAltName>, String> {
    extension(cert, &OID_SUBJECT_ALT_NAME)?
        .map(|v| {
            x509_cert::ext::pkix::SubjectAltName::from_der(v)
                .map_err(|_| "has an invalid subjectAltName".to_string())
        })
        .transpose()
}

/// The extendedKeyUsage purposes, when the extension is present.
pub(crate) fn extended_key_usage(cert: &Certificate) -> Result<Option<Vec<Oid>>, String> {
    extension(cert, &OID_EXT_KEY_USAGE)?
        .map(|v| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(v)
                .map(|eku| eku.0)
                .map_err(|_| "has an invalid extendedKeyUsage".to_string())
        })
        .transpose()
}

/// Whether the certificate's key is an EC P-256 key.
pub(crate) fn has_p256_key(cert: &Certificate) -> bool {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    spki.algorithm.oid == OID_EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<Oid>().ok())
            == Some(OID_P256)
}
