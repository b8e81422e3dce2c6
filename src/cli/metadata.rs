//! The `--mds FILE` input of `fidoflow verify registration`: a FIDO metadata BLOB (a JWS, as
//! the MDS publishes it) verified against the `--mds-root` certificates and `--mds-crl` lists,
//! or metadata in plain JSON (statements, BLOB entries or a payload, as the conformance tools
//! hand them out), which is taken as given.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::fido::mds::{self, Crl, MetadataBlob};
use crate::fido::TrustAnchors;

/// The metadata a verification uses, and where it came from.
pub(super) struct Metadata {
    pub blob: MetadataBlob,
    /// For the report: "BLOB number 7, nextUpdate 2026-12-01" and the like.
    pub source: String,
}

/// Reads and, for a BLOB, verifies `file` at `now`; `Err` is a usage error for the operator.
pub(super) fn load(
    file: &Path,
    roots: &[PathBuf],
    crls: &[PathBuf],
    now: DateTime<Utc>,
) -> Result<Metadata, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the --mds file {}: {e}", file.display()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| format!("the --mds file {} is not JSON: {e}", file.display()))?;
        let blob = mds::unsigned_metadata(&value)
            .map_err(|e| format!("the --mds file {}: {e}", file.display()))?;
        let source = format!("unsigned metadata from {}", file.display());
        return Ok(Metadata { blob, source });
    }
    if roots.is_empty() {
        return Err(format!(
            "the --mds file {} is a signed BLOB: give the root certificate its signer chains \
             to with --mds-root PEM (for the FIDO Alliance MDS, the FIDO Alliance root)",
            file.display()
        ));
    }
    let mut anchors = TrustAnchors::empty();
    for path in roots {
        let found = if path.is_dir() {
            TrustAnchors::from_dir(path)
        } else {
            TrustAnchors::from_pem_file(path)
        }
        .map_err(|e| format!("--mds-root: {e}"))?;
        anchors = anchors.merged(&found);
    }
    let mut lists = Vec::new();
    for path in crls {
        lists.extend(Crl::from_file(path).map_err(|e| format!("--mds-crl: {e}"))?);
    }
    let blob = mds::verify_blob(&text, &anchors, &lists, now)
        .map_err(|e| format!("the --mds BLOB {} is refused: {e}", file.display()))?;
    let source = if blob.is_stale(now) {
        format!(
            "BLOB number {}, STALE: past its nextUpdate {}; fetch a newer one",
            blob.number, blob.next_update
        )
    } else {
        format!(
            "BLOB number {}, nextUpdate {}",
            blob.number, blob.next_update
        )
    };
    Ok(Metadata { blob, source })
}
