//! The errors' stable check names, their conversion from the shared checks, and trust anchor
//! errors naming the file they came from.

use crate::fido::error::Common;
use crate::fido::{AuthenticationError, RegistrationError, TrustAnchorError};

#[test]
fn each_error_names_the_check_that_failed() {
    assert_eq!(RegistrationError::ChallengeMismatch.check(), "challenge");
    assert_eq!(
        RegistrationError::TooLarge {
            member: "attestationObject",
            size: 1 << 20
        }
        .check(),
        "responseSize"
    );
    assert_eq!(
        RegistrationError::UntrustedAttestation("no anchor".into()).check(),
        "attestationTrust"
    );
    assert_eq!(AuthenticationError::IdMismatch.check(), "id");
    assert_eq!(
        AuthenticationError::CredentialMismatch.check(),
        "credentialId"
    );
    assert_eq!(AuthenticationError::SignatureInvalid.check(), "signature");
}

#[test]
fn a_shared_check_becomes_the_same_failure_of_either_ceremony() {
    let reg = RegistrationError::from(Common::OriginNotAllowed("https://evil.example".into()));
    assert_eq!(reg.check(), "origin");
    assert!(reg.to_string().contains("\"https://evil.example\""));
    let auth = AuthenticationError::from(Common::UserNotVerified);
    assert_eq!(auth.check(), "userVerified");
    assert!(matches!(auth, AuthenticationError::UserNotVerified));
}

#[test]
fn a_credential_id_too_long_is_its_own_check_in_a_registration_and_malformed_in_a_sign_in() {
    let reg = RegistrationError::from(Common::CredentialIdTooLong);
    assert!(matches!(reg, RegistrationError::CredentialIdTooLong));
    assert_eq!(reg.check(), "credentialIdLength");
    let auth = AuthenticationError::from(Common::CredentialIdTooLong);
    assert_eq!(auth.check(), "malformed");
    assert!(auth
        .to_string()
        .contains("the credential id is longer than 1023 bytes"));
}

#[test]
fn a_trust_anchor_error_names_its_file_when_there_is_one() {
    assert_eq!(
        TrustAnchorError::NoCertificate(Some("roots.pem".into())).to_string(),
        "no PEM certificate found in roots.pem"
    );
    assert_eq!(
        TrustAnchorError::NoCertificate(None).to_string(),
        "no PEM certificate found"
    );
    assert_eq!(
        TrustAnchorError::InvalidCertificate {
            file: Some("ca.pem".into()),
            reason: "bad base64".into()
        }
        .to_string(),
        "a trust anchor is not a valid PEM certificate in ca.pem: bad base64"
    );
}
