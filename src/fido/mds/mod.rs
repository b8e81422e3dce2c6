//! FIDO Metadata Service (MDS3): verifying a metadata BLOB and reading its entries.
//!
//! A BLOB is a JWS in compact serialization (`header.payload.signature`, base64url). Its header
//! names the algorithm (`ES256` or `RS256`) and carries the signer's certificate chain in `x5c`
//! (standard base64 DER, signer first). [`verify_blob`] checks the signature with the signer's
//! key, validates the chain to one of the operator's MDS roots (a list, so a root rollover
//! works) with the attestation path rules of `trust.rs` at a given instant, refuses a chain
//! certificate that a CRL of its issuer lists as revoked (the CRL's own signature checked), and
//! parses the entries. A BLOB past its `nextUpdate` still verifies; [`MetadataBlob::is_stale`]
//! says so.
//!
//! Also here: finding an authenticator's entry (by AAGUID, or for U2F by the key identifier of
//! an attestation certificate) and the `x5c` of a stored attestation object. What an entry
//! means for an attestation's trust is judged in `judge.rs`. Pure functions of their inputs: no
//! I/O beyond parsing bytes.

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ciborium::value::Value as Cbor;
use der::{Decode, Encode};
use ring::signature as sig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::cbor;
use super::trust::{self, Hash, Scheme, TrustAnchors};

mod characteristics;
pub use characteristics::Characteristics;

/// Why a metadata BLOB (or a CRL given with it) was refused.
#[derive(Debug, thiserror::Error)]
pub enum MdsError {
    #[error("the metadata BLOB is malformed: {0}")]
    Malformed(String),
    #[error("the metadata BLOB's algorithm \"{0}\" is not supported (ES256 and RS256 are)")]
    UnsupportedAlgorithm(String),
    #[error("the metadata BLOB's signature does not verify with its signer certificate")]
    SignatureInvalid,
    #[error("the metadata BLOB's signer is not trusted: {0}")]
    Untrusted(String),
    #[error("the metadata BLOB's signer chain holds a revoked certificate: {0}")]
    Revoked(String),
    #[error("a CRL is invalid: {0}")]
    InvalidCrl(String),
}

/// A certificate revocation list of the MDS PKI, parsed.
#[derive(Clone)]
pub struct Crl(CertificateList);

impl std::fmt::Debug for Crl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crl({})", self.0.tbs_cert_list.issuer)
    }
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Self, MdsError> {
        CertificateList::from_der(der)
            .map(Self)
            .map_err(|e| MdsError::InvalidCrl(format!("not a DER X.509 CRL: {e}")))
    }

    /// Every `X509 CRL` block of PEM text.
    pub fn from_pem(text: &str) -> Result<Vec<Self>, MdsError> {
        let blocks = pem_blocks(text, "X509 CRL").map_err(MdsError::InvalidCrl)?;
        if blocks.is_empty() {
            return Err(MdsError::InvalidCrl("no PEM \"X509 CRL\" block".into()));
        }
        blocks.iter().map(|der| Self::from_der(der)).collect()
    }

    /// The CRLs of one file, PEM or DER; `Err` names the file.
    pub fn from_file(path: &Path) -> Result<Vec<Self>, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// PEM when the bytes hold a PEM block, else DER.
    pub fn from_bytes(bytes: &[u8]) -> Result<Vec<Self>, MdsError> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => Self::from_pem(text),
            _ => Self::from_der(bytes).map(|crl| vec![crl]),
        }
    }

    /// Whether `issuer` signed this CRL.
    fn signed_by(&self, issuer: &Certificate) -> bool {
        let crl = &self.0;
        if crl.tbs_cert_list.issuer != issuer.tbs_certificate.subject
            || crl.tbs_cert_list.signature != crl.signature_algorithm
        {
            return false;
        }
        let (Some(scheme), Ok(tbs), Some(signature)) = (
            Scheme::from_oid(&crl.signature_algorithm.oid),
            crl.tbs_cert_list.to_der(),
            crl.signature.as_bytes(),
        ) else {
            return false;
        };
        trust::verify_with_cert(issuer, scheme, &tbs, signature)
    }

    fn lists(&self, cert: &Certificate) -> bool {
        self.0
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number == cert.tbs_certificate.serial_number)
    }
}

/// The base64 bodies of the PEM blocks labelled `label`.
pub(crate) fn pem_blocks(text: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let body = rest.get(start + begin.len()..).unwrap_or_default();
        let stop = body
            .find(&end)
            .ok_or_else(|| format!("a \"{label}\" block has no END line"))?;
        let b64: String = body
            .get(..stop)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        out.push(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("a \"{label}\" block is not base64: {e}"))?,
        );
        rest = body.get(stop + end.len()..).unwrap_or_default();
    }
    Ok(out)
}

/// FIDO certification levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CertificationLevel {
    #[serde(rename = "L1")]
    L1,
    #[serde(rename = "L1+")]
    L1Plus,
    #[serde(rename = "L2")]
    L2,
    #[serde(rename = "L2+")]
    L2Plus,
    #[serde(rename = "L3")]
    L3,
    #[serde(rename = "L3+")]
    L3Plus,
}

impl CertificationLevel {
    /// `"L1"`, `"L1+"`, … `"L3+"`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "L1" => Self::L1,
            "L1+" => Self::L1Plus,
            "L2" => Self::L2,
            "L2+" => Self::L2Plus,
            "L3" => Self::L3,
            "L3+" => Self::L3Plus,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "L1",
            Self::L1Plus => "L1+",
            Self::L2 => "L2",
            Self::L2Plus => "L2+",
            Self::L3 => "L3",
            Self::L3Plus => "L3+",
        }
    }

    /// The level a status report certifies (`FIDO_CERTIFIED` is the deprecated name of L1).
    fn of_status(status: &str) -> Option<Self> {
        Some(match status {
            "FIDO_CERTIFIED" | "FIDO_CERTIFIED_L1" => Self::L1,
            "FIDO_CERTIFIED_L1plus" => Self::L1Plus,
            "FIDO_CERTIFIED_L2" => Self::L2,
            "FIDO_CERTIFIED_L2plus" => Self::L2Plus,
            "FIDO_CERTIFIED_L3" => Self::L3,
            "FIDO_CERTIFIED_L3plus" => Self::L3Plus,
            _ => return None,
        })
    }
}

impl std::fmt::Display for CertificationLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `statusReports` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// `REVOKED`, `FIDO_CERTIFIED_L1`, `USER_VERIFICATION_BYPASS`, …
    pub status: String,
    /// `YYYY-MM-DD` as written.
    pub effective_date: Option<String>,
    pub authenticator_version: Option<u32>,
    /// The DER certificate the report is about (`certificate`, base64 in the BLOB).
    #[serde(default, with = "b64_opt")]
    pub certificate: Option<Vec<u8>>,
}

/// One BLOB entry: an authenticator model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataEntry {
    pub aaguid: Option<[u8; 16]>,
    /// UAF authenticators.
    pub aaid: Option<String>,
    /// U2F authenticators: lowercase hex SHA-1 of attestation certificates' public keys.
    pub key_identifiers: Vec<String>,
    pub description: Option<String>,
    /// A `data:` URL.
    pub icon: Option<String>,
    /// DER certificates (`metadataStatement.attestationRootCertificates`).
    #[serde(with = "b64_list")]
    pub attestation_roots: Vec<Vec<u8>>,
    pub status_reports: Vec<StatusReport>,
    /// From the highest `FIDO_CERTIFIED_L*` report.
    pub certification_level: Option<CertificationLevel>,
    pub time_of_last_status_change: Option<String>,
    /// What the metadata statement says the authenticator is; `None` without a statement.
    #[serde(default)]
    pub characteristics: Option<Characteristics>,
}

/// A verified metadata BLOB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataBlob {
    /// The BLOB's serial number (`no`); grows with every BLOB the service publishes.
    pub number: u64,
    pub next_update: NaiveDate,
    pub legal_header: Option<String>,
    pub entries: Vec<MetadataEntry>,
    /// Entries that could not be read and were left out.
    pub skipped: usize,
}

/// What to look an entry up by.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    Aaguid(&'a [u8; 16]),
    /// A UAF authenticator's AAID (`VVVV#MMMM`), compared ignoring case.
    Aaid(&'a str),
    /// Lowercase hex, as [`key_identifier`] makes it.
    KeyIdentifier(&'a str),
}

impl MetadataBlob {
    /// Past `nextUpdate`: a newer BLOB should have been imported.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        now.date_naive() > self.next_update
    }

    pub fn find(&self, key: Lookup<'_>) -> Option<&MetadataEntry> {
        self.entries.iter().find(|e| match key {
            Lookup::Aaguid(aaguid) => e.aaguid.as_ref() == Some(aaguid),
            Lookup::Aaid(aaid) => e
                .aaid
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(aaid)),
            Lookup::KeyIdentifier(id) => e.key_identifiers.iter().any(|k| k == id),
        })
    }

    /// The entry of an authenticator: by AAGUID unless it is all zeros (U2F), else by the key
    /// identifier of any certificate of its attestation chain (DER, leaf first).
    pub fn find_for(&self, aaguid: &[u8; 16], chain: &[Vec<u8>]) -> Option<&MetadataEntry> {
        self.find_by(aaguid, chain.iter().filter_map(|der| key_identifier(der)))
    }

    /// [`MetadataBlob::find_for`] with parsed certificates.
    pub(crate) fn find_for_certificates<'c>(
        &self,
        aaguid: &[u8; 16],
        chain: impl IntoIterator<Item = &'c Certificate>,
    ) -> Option<&MetadataEntry> {
        self.find_by(aaguid, chain.into_iter().map(certificate_key_identifier))
    }

    fn find_by(
        &self,
        aaguid: &[u8; 16],
        mut key_identifiers: impl Iterator<Item = String>,
    ) -> Option<&MetadataEntry> {
        if aaguid != &[0; 16] {
            return self.find(Lookup::Aaguid(aaguid));
        }
        key_identifiers.find_map(|id| self.find(Lookup::KeyIdentifier(&id)))
    }
}

/// Statuses that refuse an authenticator whatever else the entry says.
const REFUSING: [&str; 3] = [
    "REVOKED",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
];

impl MetadataEntry {
    /// Why this authenticator must be refused, if its status reports say so: `REVOKED` and the
    /// user-key compromises always; `ATTESTATION_KEY_COMPROMISE` when the report names the
    /// attestation certificate in use (`leaf_cert`) or names none; `USER_VERIFICATION_BYPASS`
    /// for authenticator versions up to the report's (every version when either is unknown).
    pub fn refusal(
        &self,
        authenticator_version: Option<u32>,
        leaf_cert: Option<&[u8]>,
    ) -> Option<String> {
        self.status_reports.iter().find_map(|report| {
            let status = report.status.as_str();
            let refused = match status {
                s if REFUSING.contains(&s) => true,
                "ATTESTATION_KEY_COMPROMISE" => match (&report.certificate, leaf_cert) {
                    (None, _) => true,
                    (Some(named), Some(leaf)) => named.as_slice() == leaf,
                    (Some(_), None) => false,
                },
                "USER_VERIFICATION_BYPASS" => {
                    match (report.authenticator_version, authenticator_version) {
                        (Some(up_to), Some(version)) => version <= up_to,
                        _ => true,
                    }
                }
                _ => false,
            };
            refused.then(|| {
                let since = report
                    .effective_date
                    .as_deref()
                    .map(|d| format!(" since {d}"))
                    .unwrap_or_default();
                format!("the FIDO metadata reports this authenticator as {status}{since}")
            })
        })
    }

    /// The authenticator's model name: its description, unless blank.
    pub fn model_name(&self) -> Option<&str> {
        self.description.as_deref().filter(|d| !d.trim().is_empty())
    }

    /// The entry's attestation roots as trust anchors (unreadable ones left out).
    pub fn anchors(&self) -> TrustAnchors {
        let readable: Vec<Vec<u8>> = self
            .attestation_roots
            .iter()
            .filter(|der| Certificate::from_der(der).is_ok())
            .cloned()
            .collect();
        TrustAnchors::from_der_list(&readable).unwrap_or_default()
    }

    /// The entry of a bare metadata statement (as the conformance tools ship them), without
    /// status reports.
    pub fn from_statement(statement: &Value) -> Result<Self, String> {
        let mut entry = Self {
            aaguid: None,
            aaid: None,
            key_identifiers: Vec::new(),
            description: None,
            icon: None,
            attestation_roots: Vec::new(),
            status_reports: Vec::new(),
            certification_level: None,
            time_of_last_status_change: None,
            characteristics: None,
        };
        entry.read_statement(statement)?;
        Ok(entry)
    }

    fn read_statement(&mut self, statement: &Value) -> Result<(), String> {
        let text = |key: &str| {
            statement
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.description = self.description.take().or_else(|| text("description"));
        self.icon = self.icon.take().or_else(|| text("icon"));
        if self.aaguid.is_none() {
            if let Some(aaguid) = text("aaguid") {
                self.aaguid = Some(parse_aaguid(&aaguid)?);
            }
        }
        if self.aaid.is_none() {
            self.aaid = text("aaid");
        }
        if self.key_identifiers.is_empty() {
            self.key_identifiers = key_ids(statement.get("attestationCertificateKeyIdentifiers"))?;
        }
        self.characteristics = Some(Characteristics::from_statement(statement)?);
        if let Some(roots) = statement.get("attestationRootCertificates") {
            let roots = roots
                .as_array()
                .ok_or("attestationRootCertificates is not an array")?;
            for (i, root) in roots.iter().enumerate() {
                let der = root
                    .as_str()
                    .and_then(|s| standard_b64(s).ok())
                    .ok_or_else(|| format!("attestationRootCertificates[{i}] is not base64"))?;
                self.attestation_roots.push(der);
            }
        }
        Ok(())
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut entry = Self {
            aaguid: text("aaguid").as_deref().map(parse_aaguid).transpose()?,
            aaid: text("aaid"),
            key_identifiers: key_ids(value.get("attestationCertificateKeyIdentifiers"))?,
            description: None,
            icon: None,
            attestation_roots: Vec::new(),
            status_reports: Vec::new(),
            certification_level: None,
            time_of_last_status_change: text("timeOfLastStatusChange"),
            characteristics: None,
        };
        if let Some(statement) = value.get("metadataStatement") {
            entry.read_statement(statement)?;
        }
        for (i, report) in value
            .get("statusReports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let status = report
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("statusReports[{i}] has no status"))?;
            let certificate = match report.get("certificate").and_then(Value::as_str) {
                Some(b64) if !b64.is_empty() => Some(
                    standard_b64(b64)
                        .map_err(|_| format!("statusReports[{i}].certificate is not base64"))?,
                ),
                _ => None,
            };
            entry.status_reports.push(StatusReport {
                status: status.to_owned(),
                effective_date: report
                    .get("effectiveDate")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                authenticator_version: report
                    .get("authenticatorVersion")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok()),
                certificate,
            });
        }
        entry.certification_level = entry
            .status_reports
            .iter()
            .filter_map(|r| CertificationLevel::of_status(&r.status))
            .max();
        entry.identified()
    }

    /// The entry, unless it names no authenticator: no AAGUID, AAID or key identifier.
    fn identified(self) -> Result<Self, String> {
        if self.aaguid.is_none() && self.aaid.is_none() && self.key_identifiers.is_empty() {
            return Err("names no aaguid, aaid or attestationCertificateKeyIdentifiers".into());
        }
        Ok(self)
    }
}

/// A UUID (any case) as 16 bytes.
pub fn parse_aaguid(text: &str) -> Result<[u8; 16], String> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let bad = || format!("\"{text}\" is not an AAGUID");
    if hex.len() != 32 || text.len() != 36 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(bad)?;
    }
    Ok(out)
}

fn key_ids(value: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .ok_or("attestationCertificateKeyIdentifiers is not an array")?
        .iter()
        .map(|v| {
            v.as_str()
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| "an attestation certificate key identifier is not hex".to_string())
        })
        .collect()
}

fn standard_b64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
}

fn b64url(text: &str, what: &str) -> Result<Vec<u8>, MdsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| MdsError::Malformed(format!("its {what} is not base64url")))
}

/// Verifies a metadata BLOB (JWS compact serialization) at `now`: the signature with the
/// signer certificate of its `x5c`, that chain to one of `roots`, no chain certificate listed in
/// a CRL of its issuer; then parses the payload. A BLOB past `nextUpdate` is returned (see
/// [`MetadataBlob::is_stale`]).
pub fn verify_blob(
    jwt: &str,
    roots: &TrustAnchors,
    crls: &[Crl],
    now: DateTime<Utc>,
) -> Result<MetadataBlob, MdsError> {
    let jwt = jwt.trim();
    let mut parts = jwt.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MdsError::Malformed(
            "it is not a JWS in compact serialization (three base64url parts)".into(),
        ));
    };
    let header: Value = serde_json::from_slice(&b64url(header_b64, "header")?)
        .map_err(|e| MdsError::Malformed(format!("its header is not JSON: {e}")))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| MdsError::Malformed("its header has no \"alg\"".into()))?;
    let x5c = header
        .get("x5c")
        .and_then(Value::as_array)
        .ok_or_else(|| MdsError::Malformed("its header has no \"x5c\" array".into()))?
        .iter()
        .map(|c| c.as_str().and_then(|s| standard_b64(s).ok()))
        .collect::<Option<Vec<Vec<u8>>>>()
        .ok_or_else(|| {
            MdsError::Malformed("its \"x5c\" holds something other than base64".into())
        })?;
    let refs: Vec<&[u8]> = x5c.iter().map(Vec::as_slice).collect();
    let chain = trust::parse_x5c(&refs).map_err(MdsError::Malformed)?;
    let signature = b64url(signature_b64, "signature")?;
    let signed = jwt
        .get(..header_b64.len() + 1 + payload_b64.len())
        .unwrap_or_default()
        .as_bytes();
    let signer = chain
        .first()
        .ok_or_else(|| MdsError::Malformed("its \"x5c\" is empty".into()))?;
    let valid = match alg {
        "ES256" => {
            trust::has_p256_key(signer)
                && sig::UnparsedPublicKey::new(
                    &sig::ECDSA_P256_SHA256_FIXED,
                    signer
                        .tbs_certificate
                        .subject_public_key_info
                        .subject_public_key
                        .raw_bytes(),
                )
                .verify(signed, &signature)
                .is_ok()
        }
        "RS256" => {
            trust::verify_with_cert(signer, Scheme::RsaPkcs1(Hash::Sha256), signed, &signature)
        }
        other => {
            return Err(MdsError::UnsupportedAlgorithm(
                other.chars().take(20).collect(),
            ))
        }
    };
    if !valid {
        return Err(MdsError::SignatureInvalid);
    }
    check_signer_chain(&chain, roots, crls, now)?;
    parse_payload(&b64url(payload_b64, "payload")?)
}

/// Validates a BLOB signer's chain (DER, signer first) to one of `roots` at `now`, refusing a
/// certificate that a CRL of its issuer lists.
pub fn verify_signer_chain(
    x5c: &[Vec<u8>],
    roots: &TrustAnchors,
    crls: &[Crl],
    now: DateTime<Utc>,
) -> Result<(), MdsError> {
    let refs: Vec<&[u8]> = x5c.iter().map(Vec::as_slice).collect();
    let chain = trust::parse_x5c(&refs).map_err(MdsError::Malformed)?;
    check_signer_chain(&chain, roots, crls, now)
}

fn check_signer_chain(
    chain: &[Certificate],
    roots: &TrustAnchors,
    crls: &[Crl],
    now: DateTime<Utc>,
) -> Result<(), MdsError> {
    trust::validate_chain(chain, roots, now)
        .map_err(|e| MdsError::Untrusted(e.replace("attestation ", "")))?;
    check_revocation(chain, roots, crls)
}

/// Refuses a chain certificate that a CRL of its issuer lists. A CRL whose issuer name is that
/// of a chain certificate's issuer must verify with that issuer's key.
fn check_revocation(
    chain: &[Certificate],
    roots: &TrustAnchors,
    crls: &[Crl],
) -> Result<(), MdsError> {
    for (i, cert) in chain.iter().enumerate() {
        let Some(issuer) = chain
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .chain(roots.certificates())
            .find(|candidate| trust::signed_by(cert, candidate))
        else {
            continue;
        };
        for crl in crls
            .iter()
            .filter(|crl| crl.0.tbs_cert_list.issuer == cert.tbs_certificate.issuer)
        {
            if !crl.signed_by(issuer) {
                return Err(MdsError::InvalidCrl(format!(
                    "the CRL of {} does not verify with its issuer's key",
                    crl.0.tbs_cert_list.issuer
                )));
            }
            if crl.lists(cert) {
                return Err(MdsError::Revoked(format!(
                    "certificate {} ({}) is listed in the CRL of {}",
                    i + 1,
                    cert.tbs_certificate.subject,
                    crl.0.tbs_cert_list.issuer
                )));
            }
        }
    }
    Ok(())
}

/// Parses a BLOB payload (already verified). Entries that cannot be read are counted in
/// `skipped` rather than refusing the BLOB.
pub fn parse_payload(payload: &[u8]) -> Result<MetadataBlob, MdsError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| MdsError::Malformed(format!("its payload is not JSON: {e}")))?;
    let number = value
        .get("no")
        .and_then(Value::as_u64)
        .ok_or_else(|| MdsError::Malformed("its payload has no number \"no\"".into()))?;
    let next_update = value
        .get("nextUpdate")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            MdsError::Malformed("its payload has no \"nextUpdate\" date (YYYY-MM-DD)".into())
        })?;
    let raw_entries = value
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| MdsError::Malformed("its payload has no \"entries\" array".into()))?;
    let mut entries = Vec::with_capacity(raw_entries.len());
    let mut skipped = 0;
    for raw in raw_entries {
        match MetadataEntry::from_json(raw) {
            Ok(entry) => entries.push(entry),
            Err(_) => skipped += 1,
        }
    }
    Ok(MetadataBlob {
        number,
        next_update,
        legal_header: value
            .get("legalHeader")
            .and_then(Value::as_str)
            .map(str::to_owned),
        entries,
        skipped,
    })
}

/// Metadata given as plain JSON rather than a signed BLOB, as the FIDO conformance tools hand
/// it out: a metadata statement, a BLOB entry (`metadataStatement`, `statusReports`), an array
/// of either, or a whole BLOB payload. Nothing vouches for it but whoever supplied the file; an
/// unsigned set has number 0 and never goes stale.
pub fn unsigned_metadata(value: &Value) -> Result<MetadataBlob, MdsError> {
    if value.get("entries").is_some() {
        return parse_payload(value.to_string().as_bytes());
    }
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        _ => {
            return Err(MdsError::Malformed(
                "it is neither a JWS nor a metadata statement, entry or payload in JSON".into(),
            ))
        }
    };
    let entries = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let entry = if item.get("metadataStatement").is_some() {
                MetadataEntry::from_json(item)
            } else {
                MetadataEntry::from_statement(item).and_then(MetadataEntry::identified)
            };
            entry.map_err(|why| MdsError::Malformed(format!("metadata item {}: {why}", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MetadataBlob {
        number: 0,
        next_update: NaiveDate::MAX,
        legal_header: None,
        entries,
        skipped: 0,
    })
}

/// The `x5c` certificates (DER, leaf first) of an attestation object's statement, when it has
/// them. The object is one this server verified at registration.
pub fn attestation_certificates(attestation_object: &[u8]) -> Option<Vec<Vec<u8>>> {
    let object = cbor::read_exact(attestation_object).ok()?;
    let statement = cbor::text_key(cbor::map(&object)?, "attStmt").and_then(cbor::map)?;
    let Some(Cbor::Array(items)) = cbor::text_key(statement, "x5c") else {
        return None;
    };
    let ders = items
        .iter()
        .map(|item| cbor::byte_string(item).map(<[u8]>::to_vec))
        .collect::<Option<Vec<_>>>()?;
    (!ders.is_empty()).then_some(ders)
}

/// The FIDO key identifier of a certificate: the lowercase hex SHA-1 of its subjectPublicKey
/// bits, as MDS lists U2F authenticators under `attestationCertificateKeyIdentifiers`.
pub fn key_identifier(cert_der: &[u8]) -> Option<String> {
    Certificate::from_der(cert_der)
        .ok()
        .map(|cert| certificate_key_identifier(&cert))
}

fn certificate_key_identifier(cert: &Certificate) -> String {
    let key = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key);
    crate::domain::hex(digest.as_ref())
}

/// Lists of byte strings as standard base64 text.
mod b64_list {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            items
                .iter()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| base64::engine::general_purpose::STANDARD.decode(t))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)
    }
}

/// An optional byte string as standard base64 text.
mod b64_opt {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| base64::engine::general_purpose::STANDARD.decode(t))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "../tests/mds.rs"]
mod tests;
