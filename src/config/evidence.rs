//! `[evidence]`: the key that signs the evidence of validated transactions (`signing_key`, the
//! path of a P-256 PKCS#8 PEM file). Read here as a path only; the engine loads the key at start,
//! or makes one in the data directory when none is configured.

use std::path::PathBuf;

use super::raw::RawEvidence;
use super::{invalid, ConfigError};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceSettings {
    /// The signing key's PEM file; `None`: `evidence-signing-key.pem` in the data directory,
    /// made on first start.
    pub signing_key: Option<PathBuf>,
}

pub(super) fn evidence(raw: RawEvidence) -> Result<EvidenceSettings, ConfigError> {
    if raw
        .signing_key
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        return Err(invalid(
            "evidence.signing_key",
            "is empty; give the path of a P-256 PKCS#8 PEM file, or leave it out",
        ));
    }
    Ok(EvidenceSettings {
        signing_key: raw.signing_key,
    })
}
