//! Attestation trust, judged once: what the configured trust anchors and the FIDO metadata
//! (MDS3) say about an attestation that registration verified. The server judges a new
//! registration with it (and applies its attestation policies to the judgement), `fidoflow
//! verify registration` reports it, and the re-evaluation of stored credentials judges their
//! kept attestation objects again with it.
//!
//! The authenticator's metadata entry is found by its AAGUID or, for U2F (AAGUID all zeros), by
//! the key identifier of an attestation certificate. The attestation is trusted when its
//! certificate chain validates to a configured anchor, or else to one of the entry's
//! `attestationRootCertificates` (with the path rules of `trust.rs`, at `now`); none and self
//! attestation never are. The entry's status reports may refuse the authenticator whatever its
//! trust. Pure: the metadata and anchors are given.

use chrono::{DateTime, Utc};
use ciborium::value::Value;
use der::Encode;

use super::attestation::{self, VerifiedStatement};
use super::auth_data::AuthData;
use super::cbor;
use super::mds::{CertificationLevel, MetadataBlob, MetadataEntry};
use super::{AttestationType, TrustAnchors, VerifiedRegistration};

/// What a trusted attestation chains to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedBy {
    /// A configured trust anchor.
    ConfiguredAnchor,
    /// A root of the authenticator's metadata entry (its chain leads to no configured anchor).
    MetadataRoot,
}

/// A trusted attestation: what it chains to, and how (the sentence registration reports,
/// e.g. "the certificate chain validates to a configured anchor").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    pub by: TrustedBy,
    pub detail: String,
}

/// What the configured anchors and the metadata say about one attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The authenticator's metadata entry, if the metadata has one.
    pub entry: Option<MetadataEntry>,
    /// `Ok` when the attestation chains to a configured anchor or a root of its entry; `Err`
    /// says why it does not.
    pub trust: Result<Trusted, String>,
    /// Why the entry's status reports refuse the authenticator (REVOKED, a compromise, …), if
    /// they do.
    pub refusal: Option<String>,
}

impl Judgement {
    pub fn trusted(&self) -> bool {
        self.trust.is_ok()
    }

    /// What the attestation chains to; `None` when untrusted.
    pub fn trusted_by(&self) -> Option<TrustedBy> {
        self.trust.as_ref().ok().map(|t| t.by)
    }

    /// The entry's certification level.
    pub fn certification_level(&self) -> Option<CertificationLevel> {
        self.entry.as_ref().and_then(|e| e.certification_level)
    }

    /// The authenticator's model name from its entry.
    pub fn model(&self) -> Option<&str> {
        self.entry.as_ref().and_then(MetadataEntry::model_name)
    }
}

/// Judges a verified registration's attestation with the configured `anchors` and `metadata` at
/// `now`, from the statements verification kept.
pub fn judge(
    verified: &VerifiedRegistration,
    metadata: Option<&MetadataBlob>,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Judgement {
    judge_statements(
        &verified.aaguid,
        verified.attestation_type,
        &verified.attestation_statements,
        metadata,
        anchors,
        now,
    )
}

/// Judges again an attestation object this server verified and stored
/// ([`VerifiedRegistration::attestation_object`]), as [`judge`] judged it at registration; the
/// object is decoded here, its statements not verified again. `None` when it cannot be read
/// as a verified attestation object.
pub fn judge_stored(
    attestation_object: &[u8],
    metadata: Option<&MetadataBlob>,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Option<Judgement> {
    let object = cbor::read_exact(attestation_object).ok()?;
    let entries = cbor::map(&object)?;
    let Some(Value::Text(fmt)) = cbor::text_key(entries, "fmt") else {
        return None;
    };
    let auth_data = cbor::text_key(entries, "authData").and_then(cbor::byte_string)?;
    let aaguid = AuthData::parse(auth_data).ok()?.attested?.aaguid;
    let (kind, statements) =
        attestation::stored_statements(fmt, cbor::text_key(entries, "attStmt")?)?;
    Some(judge_statements(
        &aaguid,
        kind,
        &statements,
        metadata,
        anchors,
        now,
    ))
}

fn judge_statements(
    aaguid: &[u8; 16],
    kind: AttestationType,
    statements: &[VerifiedStatement],
    metadata: Option<&MetadataBlob>,
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Judgement {
    let certificates = statements.iter().flat_map(|s| &s.chain);
    let entry = metadata
        .and_then(|m| m.find_for_certificates(aaguid, certificates))
        .cloned();
    let leaf = statements
        .iter()
        .find_map(|s| s.chain.first())
        .and_then(|cert| cert.to_der().ok());
    let refusal = entry
        .as_ref()
        .and_then(|e| e.refusal(None, leaf.as_deref()));
    let trust = match attestation::trust_verdict(kind, statements, anchors, now) {
        Ok(detail) => Ok(Trusted {
            by: TrustedBy::ConfiguredAnchor,
            detail,
        }),
        Err(reason) => match entry.as_ref().map(MetadataEntry::anchors) {
            Some(roots) if !roots.is_empty() => {
                attestation::trust_verdict(kind, statements, &anchors.merged(&roots), now).map(
                    |detail| Trusted {
                        by: TrustedBy::MetadataRoot,
                        detail,
                    },
                )
            }
            _ => Err(reason),
        },
    };
    Judgement {
        entry,
        trust,
        refusal,
    }
}
