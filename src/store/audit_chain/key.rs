//! The key that signs the retention checkpoints, and the signature itself.
//!
//! The signature is Ed25519 over [`Checkpoint::signed_bytes`]: the ASCII text
//!
//! ```text
//! fidoflow audit checkpoint v1\n
//! seq=<decimal seq of the last removed record>\n
//! hash=<its hash, 64 lowercase hex>\n
//! removed=<decimal count of all records removed so far>\n
//! time=<RFC 3339 UTC to the second, e.g. 2026-12-03T18:56:19Z>\n
//! ```
//!
//! (`\n` a line feed), made from the stored members as written, and stored as base64url
//! without padding.
//!
//! The signing key: `audit-signing.key` in the data directory, an Ed25519 key in PKCS#8 (DER,
//! as ring makes it), created on first need with mode 0600 like `session.key`. Stores without a
//! data directory (tests) sign with a key made in memory. The public key (raw 32 bytes, shown
//! base64 by `fidoflow audit public-key`) checks the signature. Every node writing to one
//! shared database (PostgreSQL) must hold the same key file: a checkpoint is signed by
//! whichever node trims, and checked by every node.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, SecondsFormat, Utc};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::domain::{b64url, b64url_decode};
use crate::store::{Checkpoint, StoreError, StoreResult};

/// The file of the audit signing key in the data directory.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";

/// The audit signing key of a store: from its data directory (read or made on first need), or
/// made in memory for a store without one.
pub(in crate::store) enum AuditKey {
    File {
        path: PathBuf,
        pair: OnceLock<Arc<Ed25519KeyPair>>,
    },
    #[cfg(test)]
    Memory(Arc<Ed25519KeyPair>),
}

impl AuditKey {
    pub(in crate::store) fn in_dir(data_dir: &Path) -> Self {
        AuditKey::File {
            path: data_dir.join(SIGNING_KEY_FILE),
            pair: OnceLock::new(),
        }
    }

    #[cfg(test)]
    pub(in crate::store) fn in_memory() -> Self {
        AuditKey::Memory(Arc::new(generate().expect("an Ed25519 key").1))
    }

    /// The key pair, read from its file, or made there on first need when `create`; `None`
    /// when there is no key file and `create` is false.
    pub(in crate::store) fn key(&self, create: bool) -> StoreResult<Option<Arc<Ed25519KeyPair>>> {
        match self {
            #[cfg(test)]
            AuditKey::Memory(pair) => Ok(Some(pair.clone())),
            AuditKey::File { path, pair } => {
                if let Some(pair) = pair.get() {
                    return Ok(Some(pair.clone()));
                }
                let found = if create {
                    Some(load_or_create(path)?)
                } else {
                    load(path)?
                };
                Ok(found.map(|found| pair.get_or_init(|| Arc::new(found)).clone()))
            }
        }
    }

    /// The raw public key, without making a key: `None` when there is no key file.
    pub(in crate::store) fn public_key(&self) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .key(false)?
            .map(|pair| pair.public_key().as_ref().to_vec()))
    }
}

fn key_error(path: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::SigningKey(format!("{}: {what}", path.display()))
}

fn generate() -> StoreResult<(Vec<u8>, Ed25519KeyPair)> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| StoreError::SigningKey("cannot make an Ed25519 key".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| StoreError::SigningKey("cannot read the key just made".into()))?;
    Ok((pkcs8.as_ref().to_vec(), pair))
}

/// The key in `path`, `None` when there is no such file.
fn load(path: &Path) -> StoreResult<Option<Ed25519KeyPair>> {
    match std::fs::read(path) {
        Ok(bytes) => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes)
            .map(Some)
            .map_err(|_| key_error(path, "not an Ed25519 key in PKCS#8")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(key_error(path, e)),
    }
}

/// The key in `path`, made there (mode 0600, never overwriting) when there is none.
fn load_or_create(path: &Path) -> StoreResult<Ed25519KeyPair> {
    if let Some(pair) = load(path)? {
        return Ok(pair);
    }
    let (pkcs8, pair) = generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&pkcs8)
                .and_then(|()| file.sync_all())
                .map_err(|e| key_error(path, e))?;
            tracing::info!(path = %path.display(), "audit signing key made");
            Ok(pair)
        }
        // Made by another process meanwhile: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load(path)?.ok_or_else(|| key_error(path, "vanished while it was made"))
        }
        Err(e) => Err(key_error(path, e)),
    }
}

/// The raw public key of the signing key in `data_dir` (made there first when `create`);
/// `None` when there is none and `create` is false.
pub fn audit_public_key(data_dir: &Path, create: bool) -> StoreResult<Option<Vec<u8>>> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    let pair = if create {
        Some(load_or_create(&path)?)
    } else {
        load(&path)?
    };
    Ok(pair.map(|pair| pair.public_key().as_ref().to_vec()))
}

/// A checkpoint after record `seq` with hash `hash`, `removed` in all, signed at `now`.
pub(in crate::store) fn signed(
    pair: &Ed25519KeyPair,
    seq: u64,
    hash: &str,
    removed: u64,
    now: DateTime<Utc>,
) -> Checkpoint {
    let mut checkpoint = Checkpoint {
        seq,
        hash: hash.to_string(),
        removed,
        time: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        signature: String::new(),
    };
    checkpoint.signature = b64url(pair.sign(&checkpoint.signed_bytes()).as_ref());
    checkpoint
}

/// Checks the checkpoint's signature with the raw Ed25519 `public_key`; why not, if not.
pub(in crate::store) fn check_signature(
    checkpoint: &Checkpoint,
    public_key: &[u8],
) -> Result<(), String> {
    let signature = b64url_decode(&checkpoint.signature)
        .map_err(|_| "its signature is not base64url".to_string())?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&checkpoint.signed_bytes(), &signature)
        .map_err(|_| "its signature does not verify with the audit public key".to_string())
}
