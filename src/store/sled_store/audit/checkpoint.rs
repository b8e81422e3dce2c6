//! The signed checkpoint retention leaves where it cut the log, on sled.
//!
//! Tree `audit_meta`: `checkpoint` → the [`Checkpoint`] as JSON (`seq`, `hash`, `removed`,
//! `time`, `signature`), rewritten in the same transaction as every batch of removed records.
//! Its signature and the key that makes it (`audit-signing.key` in the data directory) are
//! the same for every backend: `store/audit_chain/key.rs`.

use super::super::SledStore;
use crate::store::audit_chain::parse_checkpoint;
use crate::store::{Checkpoint, StoreResult};

pub(in crate::store) use crate::store::audit_chain::AuditKey;
pub use crate::store::audit_chain::{audit_public_key, SIGNING_KEY_FILE};

/// The key of the checkpoint in `audit_meta`.
pub(super) const CHECKPOINT_KEY: &[u8] = b"checkpoint";

impl SledStore {
    /// The stored checkpoint: `None` when retention never removed a record, `Some(Err(why))`
    /// when it cannot be read.
    pub(super) fn checkpoint(&self) -> StoreResult<Option<Result<Checkpoint, String>>> {
        Ok(self
            .audit_meta
            .get(CHECKPOINT_KEY)?
            .map(|bytes| parse_checkpoint(&bytes)))
    }
}
