//! The errors of WebAuthn verification. Each variant names one failed check; its `Display` is a
//! sentence shown to the person in the API error `detail`, so it never carries secrets.

/// Why a registration response (attestation) was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("the registration response is malformed: {0}")]
    Malformed(String),
    #[error(
        "the {member} is {size} bytes long; this server stores at most {max} bytes of it",
        max = super::registration::MAX_STORED_BYTES
    )]
    TooLarge { member: &'static str, size: usize },
    #[error("the credential type must be \"public-key\", not \"{0}\"")]
    NotPublicKey(String),
    #[error("the client data type \"{seen}\" is not an accepted one ({accepted})")]
    WrongType { seen: String, accepted: String },
    #[error("the challenge in the client data is not the one the server issued")]
    ChallengeMismatch,
    #[error("the origin \"{0}\" is not one of the origins this server accepts")]
    OriginNotAllowed(String),
    #[error("the ceremony ran in a cross-origin frame, which this server does not allow")]
    CrossOriginNotAllowed,
    #[error("the top-level origin \"{0}\" is not one this server accepts")]
    TopOriginNotAllowed(String),
    #[error(
        "the authenticator data belongs to another relying party (its rpIdHash does not match)"
    )]
    RpIdHashMismatch,
    #[error("the authenticator did not report user presence")]
    UserNotPresent,
    #[error("the authenticator did not verify the user, which this step requires")]
    UserNotVerified,
    #[error("the authenticator data claims a backed-up credential that is not backup eligible")]
    BackupStateWithoutEligibility,
    #[error("the authenticator data carries no attested credential data")]
    AttestedDataMissing,
    #[error("the credential id is longer than 1023 bytes")]
    CredentialIdTooLong,
    #[error("the credential id in the response does not match the one in the authenticator data")]
    IdMismatch,
    #[error("the authenticator data's extension flag does not match its extension data")]
    ExtensionDataMismatch,
    #[error("the authenticator data has unexpected bytes after its last announced part")]
    TrailingBytes,
    #[error("the credential public key is invalid: {0}")]
    InvalidPublicKey(String),
    #[error("the credential algorithm {0} is not one the server offered")]
    AlgorithmNotAllowed(i64),
    #[error("the attestation format \"{0}\" is not supported")]
    UnsupportedFormat(String),
    #[error("the attestation statement is invalid: {0}")]
    InvalidAttestationStatement(String),
    #[error("the attestation signature does not verify")]
    AttestationSignatureInvalid,
    #[error("the attestation certificate is invalid: {0}")]
    CertificateInvalid(String),
    #[error("the attestation is not trusted: {0}")]
    UntrustedAttestation(String),
}

impl RegistrationError {
    /// A short, stable name of the failed check (for logs, audit and API details).
    pub fn check(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "responseSize",
            Self::NotPublicKey(_) => "credentialType",
            Self::WrongType { .. } => "type",
            Self::ChallengeMismatch => "challenge",
            Self::OriginNotAllowed(_) => "origin",
            Self::CrossOriginNotAllowed => "crossOrigin",
            Self::TopOriginNotAllowed(_) => "topOrigin",
            Self::RpIdHashMismatch => "rpIdHash",
            Self::UserNotPresent => "userPresent",
            Self::UserNotVerified => "userVerified",
            Self::BackupStateWithoutEligibility => "backupState",
            Self::AttestedDataMissing => "attestedCredentialData",
            Self::CredentialIdTooLong => "credentialIdLength",
            Self::IdMismatch => "credentialId",
            Self::ExtensionDataMismatch => "extensions",
            Self::TrailingBytes => "authenticatorDataLength",
            Self::InvalidPublicKey(_) => "publicKey",
            Self::AlgorithmNotAllowed(_) => "algorithm",
            Self::UnsupportedFormat(_) => "attestationFormat",
            Self::InvalidAttestationStatement(_) => "attestationStatement",
            Self::AttestationSignatureInvalid => "attestationSignature",
            Self::CertificateInvalid(_) => "attestationCertificate",
            Self::UntrustedAttestation(_) => "attestationTrust",
        }
    }
}

/// Why an authentication response (assertion) was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationError {
    #[error("the authentication response is malformed: {0}")]
    Malformed(String),
    #[error("the credential type must be \"public-key\", not \"{0}\"")]
    NotPublicKey(String),
    #[error("the client data type \"{seen}\" is not an accepted one ({accepted})")]
    WrongType { seen: String, accepted: String },
    #[error("the challenge in the client data is not the one the server issued")]
    ChallengeMismatch,
    #[error("the origin \"{0}\" is not one of the origins this server accepts")]
    OriginNotAllowed(String),
    #[error("the ceremony ran in a cross-origin frame, which this server does not allow")]
    CrossOriginNotAllowed,
    #[error("the top-level origin \"{0}\" is not one this server accepts")]
    TopOriginNotAllowed(String),
    #[error(
        "the authenticator data belongs to another relying party (its rpIdHash does not match)"
    )]
    RpIdHashMismatch,
    #[error("the authenticator did not report user presence")]
    UserNotPresent,
    #[error("the authenticator did not verify the user, which this step requires")]
    UserNotVerified,
    #[error("the authenticator data claims a backed-up credential that is not backup eligible")]
    BackupStateWithoutEligibility,
    #[error("the authenticator data's extension flag does not match its extension data")]
    ExtensionDataMismatch,
    #[error("the authenticator data has unexpected bytes after its last announced part")]
    TrailingBytes,
    #[error("the response's id and rawId are not the same credential")]
    IdMismatch,
    #[error("the response was made with a credential other than the one expected")]
    CredentialMismatch,
    #[error("the stored public key of this credential cannot be used: {0}")]
    StoredKeyInvalid(String),
    #[error("the assertion signature does not verify with the credential's public key")]
    SignatureInvalid,
    #[error("the client data type must be \"payment.get\" for a Secure Payment Confirmation, not \"{0}\"")]
    NotPaymentType(String),
    #[error("the payment the user confirmed is not the one requested: {0}")]
    PaymentMismatch(String),
}

impl AuthenticationError {
    /// A short, stable name of the failed check (for logs, audit and API details).
    pub fn check(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::NotPublicKey(_) => "credentialType",
            Self::WrongType { .. } => "type",
            Self::ChallengeMismatch => "challenge",
            Self::OriginNotAllowed(_) => "origin",
            Self::CrossOriginNotAllowed => "crossOrigin",
            Self::TopOriginNotAllowed(_) => "topOrigin",
            Self::RpIdHashMismatch => "rpIdHash",
            Self::UserNotPresent => "userPresent",
            Self::UserNotVerified => "userVerified",
            Self::BackupStateWithoutEligibility => "backupState",
            Self::ExtensionDataMismatch => "extensions",
            Self::TrailingBytes => "authenticatorDataLength",
            Self::IdMismatch => "id",
            Self::CredentialMismatch => "credentialId",
            Self::StoredKeyInvalid(_) => "publicKey",
            Self::SignatureInvalid => "signature",
            Self::NotPaymentType(_) => "type",
            Self::PaymentMismatch(_) => "payment",
        }
    }
}

/// Why the configured attestation trust anchors could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustAnchorError {
    #[error("no PEM certificate found{}", in_file(.0))]
    NoCertificate(Option<String>),
    #[error("a trust anchor is not a valid PEM certificate{}: {reason}", in_file(.file))]
    InvalidCertificate {
        file: Option<String>,
        reason: String,
    },
    #[error("cannot read trust anchors from {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn in_file(file: &Option<String>) -> String {
    match file {
        Some(name) => format!(" in {name}"),
        None => String::new(),
    }
}

/// The checks shared by registration and authentication, converted into either error.
#[derive(Debug)]
pub(crate) enum Common {
    Malformed(String),
    NotPublicKey(String),
    /// The type seen, and the accepted ones quoted and listed.
    WrongType {
        seen: String,
        accepted: String,
    },
    ChallengeMismatch,
    OriginNotAllowed(String),
    CrossOriginNotAllowed,
    TopOriginNotAllowed(String),
    RpIdHashMismatch,
    UserNotPresent,
    UserNotVerified,
    BackupStateWithoutEligibility,
    ExtensionDataMismatch,
    TrailingBytes,
    CredentialIdTooLong,
    IdMismatch,
}

impl From<Common> for RegistrationError {
    fn from(c: Common) -> Self {
        match c {
            Common::Malformed(m) => Self::Malformed(m),
            Common::NotPublicKey(t) => Self::NotPublicKey(t),
            Common::WrongType { seen, accepted } => Self::WrongType { seen, accepted },
            Common::ChallengeMismatch => Self::ChallengeMismatch,
            Common::OriginNotAllowed(o) => Self::OriginNotAllowed(o),
            Common::CrossOriginNotAllowed => Self::CrossOriginNotAllowed,
            Common::TopOriginNotAllowed(o) => Self::TopOriginNotAllowed(o),
            Common::RpIdHashMismatch => Self::RpIdHashMismatch,
            Common::UserNotPresent => Self::UserNotPresent,
            Common::UserNotVerified => Self::UserNotVerified,
            Common::BackupStateWithoutEligibility => Self::BackupStateWithoutEligibility,
            Common::ExtensionDataMismatch => Self::ExtensionDataMismatch,
            Common::TrailingBytes => Self::TrailingBytes,
            Common::CredentialIdTooLong => Self::CredentialIdTooLong,
            Common::IdMismatch => Self::IdMismatch,
        }
    }
}

impl From<Common> for AuthenticationError {
    fn from(c: Common) -> Self {
        match c {
            Common::Malformed(m) => Self::Malformed(m),
            Common::NotPublicKey(t) => Self::NotPublicKey(t),
            Common::WrongType { seen, accepted } => Self::WrongType { seen, accepted },
            Common::ChallengeMismatch => Self::ChallengeMismatch,
            Common::OriginNotAllowed(o) => Self::OriginNotAllowed(o),
            Common::CrossOriginNotAllowed => Self::CrossOriginNotAllowed,
            Common::TopOriginNotAllowed(o) => Self::TopOriginNotAllowed(o),
            Common::RpIdHashMismatch => Self::RpIdHashMismatch,
            Common::UserNotPresent => Self::UserNotPresent,
            Common::UserNotVerified => Self::UserNotVerified,
            Common::BackupStateWithoutEligibility => Self::BackupStateWithoutEligibility,
            Common::ExtensionDataMismatch => Self::ExtensionDataMismatch,
            Common::TrailingBytes => Self::TrailingBytes,
            Common::CredentialIdTooLong => {
                Self::Malformed("the credential id is longer than 1023 bytes".into())
            }
            Common::IdMismatch => Self::IdMismatch,
        }
    }
}
