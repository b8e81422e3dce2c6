//! The WebAuthn ceremony options that both the flow files and the tenant configuration name:
//! user verification, resident key and attestation conveyance, written lowercase as in the
//! WebAuthn API, and the COSE algorithms the server can verify.

use serde::{Deserialize, Serialize};

/// `userVerification` of a ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    Required,
    Preferred,
    Discouraged,
}

impl UserVerification {
    /// The value as the WebAuthn API writes it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "required" => Some(Self::Required),
            "preferred" => Some(Self::Preferred),
            "discouraged" => Some(Self::Discouraged),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
            Self::Discouraged => "discouraged",
        }
    }
}

/// `residentKey` of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidentKey {
    Required,
    Preferred,
    Discouraged,
}

impl ResidentKey {
    /// The value as the WebAuthn API writes it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "required" => Some(Self::Required),
            "preferred" => Some(Self::Preferred),
            "discouraged" => Some(Self::Discouraged),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
            Self::Discouraged => "discouraged",
        }
    }
}

/// `attestation` (the attestation conveyance preference) of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Conveyance {
    None,
    Indirect,
    Direct,
    Enterprise,
}

impl Conveyance {
    /// The value as the WebAuthn API writes it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "indirect" => Some(Self::Indirect),
            "direct" => Some(Self::Direct),
            "enterprise" => Some(Self::Enterprise),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Indirect => "indirect",
            Self::Direct => "direct",
            Self::Enterprise => "enterprise",
        }
    }
}

/// COSE algorithms the server can verify: EdDSA, ES256, RS256, ES384, ES512, PS256, PS384,
/// PS512, RS384, RS512, ML-DSA-44, ML-DSA-65, ML-DSA-87. A step or tenant may list any of them;
/// the default list (`flow::definitions::default_algorithms`) holds no ML-DSA one until browsers
/// ship it.
pub const VERIFIABLE_ALGORITHMS: [i64; 13] = [
    -8, -7, -257, -35, -36, -37, -38, -39, -258, -259, -48, -49, -50,
];

/// The name of a COSE algorithm fidoflow knows (the IANA registry's), e.g. `ES256` for -7.
pub fn cose_algorithm_name(alg: i64) -> Option<&'static str> {
    Some(match alg {
        -8 => "EdDSA",
        -7 => "ES256",
        -257 => "RS256",
        -35 => "ES384",
        -36 => "ES512",
        -37 => "PS256",
        -38 => "PS384",
        -39 => "PS512",
        -258 => "RS384",
        -259 => "RS512",
        -48 => "ML-DSA-44",
        -49 => "ML-DSA-65",
        -50 => "ML-DSA-87",
        -65535 => "RS1",
        _ => return None,
    })
}

/// [`VERIFIABLE_ALGORITHMS`] as a person reads them in a refusal: `-8, -7, …, -258 or -259`.
pub fn verifiable_algorithms_text() -> String {
    let all: Vec<String> = VERIFIABLE_ALGORITHMS.iter().map(i64::to_string).collect();
    let (last, rest) = all.split_last().expect("a list of algorithms");
    format!("{} or {last}", rest.join(", "))
}
