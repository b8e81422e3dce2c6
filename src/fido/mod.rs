//! WebAuthn relying-party verification: client data, authenticator data, COSE keys, attestation
//! formats (`none`, `packed`, `fido-u2f`, `tpm`, `android-key`, `android-safetynet`, `apple`,
//! `compound`) and attestation trust paths, for registration and authentication responses;
//! optionally reporting each check as it runs (`*_observed`), and describing a response
//! (`inspect`) for the `fidoflow verify` tool; and judging an attestation's trust with the
//! configured anchors and the FIDO metadata (`judge`); for transaction signing, the content a
//! user approves and the challenge that binds it (`transaction`) and the server-signed evidence
//! of a validated transaction, verifiable offline (`evidence`). Pure functions of their inputs
//! (time included); this module owns WebAuthn verification and imports nothing from `flow`,
//! `store`, `engine` or `api`.

mod asn1;
mod attestation;
mod auth_data;
mod authentication;
mod cbor;
mod client_data;
mod cose;
mod error;
pub mod evidence;
pub mod inspect;
mod json;
mod judge;
pub mod mds;
mod ml_dsa;
pub mod options;
pub mod payment;
mod registration;
mod report;
pub mod transaction;
mod trust;

#[cfg(test)]
mod tests;

pub use attestation::{AttestationType, FormatPolicy, VerifiedStatement, SAFETYNET_MAX_AGE};
pub use authentication::{
    assertion_ids, verify_authentication, verify_authentication_observed,
    AuthenticationExpectations, VerifiedAuthentication,
};
pub use client_data::{response_challenge, PAYMENT_GET, WEBAUTHN_CREATE, WEBAUTHN_GET};
pub use cose::check_cose_key;
pub use error::{AuthenticationError, RegistrationError, TrustAnchorError};
pub use judge::{judge, judge_stored, Judgement, Trusted, TrustedBy};
pub use registration::{
    verify_registration, verify_registration_observed, RegistrationExpectations,
    VerifiedRegistration, KNOWN_TRANSPORTS,
};
pub use report::{Check, CheckOutcome, AUTHENTICATION_CHECKS, REGISTRATION_CHECKS};
pub use trust::{chain_to_anchors, TrustAnchors};

/// COSE algorithm EdDSA (Ed25519).
pub const ALG_EDDSA: i64 = -8;
/// COSE algorithm ES256 (ECDSA P-256 with SHA-256).
pub const ALG_ES256: i64 = -7;
/// COSE algorithm RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const ALG_RS256: i64 = -257;
/// COSE algorithm ES384 (ECDSA P-384 with SHA-384).
pub const ALG_ES384: i64 = -35;
/// COSE algorithm ES512 (ECDSA P-521 with SHA-512).
pub const ALG_ES512: i64 = -36;
/// COSE algorithm PS256 (RSASSA-PSS with SHA-256).
pub const ALG_PS256: i64 = -37;
/// COSE algorithm PS384 (RSASSA-PSS with SHA-384).
pub const ALG_PS384: i64 = -38;
/// COSE algorithm PS512 (RSASSA-PSS with SHA-512).
pub const ALG_PS512: i64 = -39;
/// COSE algorithm RS384 (RSASSA-PKCS1-v1_5 with SHA-384).
pub const ALG_RS384: i64 = -258;
/// COSE algorithm RS512 (RSASSA-PKCS1-v1_5 with SHA-512).
pub const ALG_RS512: i64 = -259;
/// COSE algorithm ML-DSA-44 (FIPS 204, key type AKP).
pub const ALG_ML_DSA_44: i64 = -48;
/// COSE algorithm ML-DSA-65 (FIPS 204, key type AKP).
pub const ALG_ML_DSA_65: i64 = -49;
/// COSE algorithm ML-DSA-87 (FIPS 204, key type AKP).
pub const ALG_ML_DSA_87: i64 = -50;
/// COSE algorithm RS1 (RSASSA-PKCS1-v1_5 with SHA-1): accepted only inside TPM attestation
/// statements and as the algorithm of a TPM-made credential key; such a key never verifies an
/// assertion.
pub const ALG_RS1: i64 = -65535;

/// How much attestation the server demands at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationPolicy {
    /// Any verified attestation is accepted; `attestation_trusted` says whether it chained to
    /// an anchor.
    AcceptAny,
    /// Only attestations whose certificate chain validates to a configured anchor.
    RequireTrusted,
}
