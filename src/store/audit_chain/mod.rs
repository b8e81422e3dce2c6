//! The audit hash chain as every backend keeps it: sealing a record onto the hash before it,
//! checking a stored record against its key and that hash, where a walk of the chain starts
//! (the genesis value or a signed checkpoint), the signing key of the checkpoints (`key.rs`)
//! and the backend-independent part of retention (`retention.rs`). The backends (sled in
//! `sled_store/audit/`, PostgreSQL in `pg_store/audit.rs`) only store and read the bytes.
//!
//! The encoding. `hex` is lowercase hexadecimal (64 characters for a SHA-256). A record's
//! *canonical bytes* `C` are the compact `serde_json` encoding of its [`AuditEvent`] with `seq`
//! set to its key, `prev_hash` set and `hash` absent: one JSON object, members in declaration
//! order, whose last member is `"prev_hash":"<hex>"`. Its *stored bytes* are `C` without its
//! final `}`, then `,"hash":"`, then `hex(SHA-256(C))`, then `"}` — the same JSON with `hash`
//! as its last member. So `C` = the stored bytes with their last 75 bytes
//! (`,"hash":"<64 hex>"}`) replaced by `}`, and verification hashes exactly the stored bytes
//! (never a re-encoding of what it decoded).
//! - `hash` = hex(SHA-256(C)): covers every member of the record, `seq` and `prev_hash`
//!   included.
//! - `prev_hash` = the `hash` of the record before it in `seq` order; for the first record,
//!   [`GENESIS`] = hex(SHA-256(`fidoflow audit log genesis`)), or, once retention removed the
//!   oldest records, the hash the signed checkpoint names.

mod key;
mod retention;

use super::{AuditEvent, ChainBreak, ChainReport, Checkpoint, StoreError, StoreResult};

pub use key::{audit_public_key, SIGNING_KEY_FILE};
pub(in crate::store) use key::{check_signature, signed, AuditKey};
#[cfg(test)]
pub(in crate::store) use retention::TRIM_RECORD_ROOM;
pub(in crate::store) use retention::{run_trim, Removal, TrimScan, BATCH};

/// The `prev_hash` of the first record: hex(SHA-256(`fidoflow audit log genesis`)).
pub const GENESIS: &str = "6f4fd7f9c62e39826cb52197a5c38f7faaad48e9703ee3a0b4b761cdf49b0c46";

/// The seed of [`GENESIS`].
#[cfg(test)]
pub(in crate::store) const GENESIS_SEED: &[u8] = b"fidoflow audit log genesis";

/// `,"hash":"` ‖ 64 hex ‖ `"}`: the end of every stored record.
const SEAL_LEN: usize = 9 + 64 + 2;

pub(in crate::store) fn sha256_hex(bytes: &[u8]) -> String {
    crate::domain::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

pub(in crate::store) fn genesis() -> String {
    GENESIS.to_string()
}

fn encode(event: &AuditEvent) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(event).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(stored: &[u8]) -> StoreResult<AuditEvent> {
    serde_json::from_slice(stored).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Sets `event.prev_hash` to `prev` and `event.hash` to its hash, and returns its stored bytes.
pub(in crate::store) fn seal(event: &mut AuditEvent, prev: String) -> StoreResult<Vec<u8>> {
    event.prev_hash = Some(prev);
    event.hash = None;
    let mut bytes = encode(event)?;
    let hash = sha256_hex(&bytes);
    if bytes.pop() != Some(b'}') {
        return Err(StoreError::Corrupt(
            "an audit record is not a JSON object".into(),
        ));
    }
    bytes.extend_from_slice(b",\"hash\":\"");
    bytes.extend_from_slice(hash.as_bytes());
    bytes.extend_from_slice(b"\"}");
    event.hash = Some(hash);
    Ok(bytes)
}

/// Splits stored bytes into the canonical bytes and the `hash` they carry; `None` when they do
/// not end with a `hash` member of 64 lowercase hex digits.
pub(in crate::store) fn unseal(stored: &[u8]) -> Option<(Vec<u8>, &str)> {
    let body_len = stored.len().checked_sub(SEAL_LEN).filter(|&n| n > 1)?;
    let (body, seal) = stored.split_at(body_len);
    let hash = seal.strip_prefix(b",\"hash\":\"")?.strip_suffix(b"\"}")?;
    if !hash
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let mut canonical = body.to_vec();
    canonical.push(b'}');
    Some((canonical, std::str::from_utf8(hash).ok()?))
}

/// Checks the record stored under `seq` against the `hash` of the record before it (`prev`,
/// named `after`); returns its own hash.
pub(in crate::store) fn check_record(
    seq: u64,
    stored: &[u8],
    prev: &str,
    after: &str,
) -> Result<String, ChainBreak> {
    let changed = |why: &str| ChainBreak::Changed {
        seq,
        why: why.to_string(),
    };
    let (canonical, hash) =
        unseal(stored).ok_or_else(|| changed("it does not end with a valid `hash` member"))?;
    if sha256_hex(&canonical) != hash {
        return Err(changed("its bytes no longer match its `hash`"));
    }
    let event: AuditEvent =
        decode(stored).map_err(|e| changed(&format!("it is not a readable record ({e})")))?;
    if event.hash.as_deref() != Some(hash) {
        return Err(changed("its `hash` member is not the last one"));
    }
    if event.seq != seq {
        return Err(ChainBreak::Moved {
            seq,
            says: event.seq,
        });
    }
    if event.prev_hash.as_deref() != Some(prev) {
        return Err(ChainBreak::Unlinked {
            seq,
            after: after.to_string(),
        });
    }
    Ok(hash.to_string())
}

/// The stored checkpoint's bytes read back: why not, when they are no checkpoint.
pub(in crate::store) fn parse_checkpoint(bytes: &[u8]) -> Result<Checkpoint, String> {
    serde_json::from_slice::<Checkpoint>(bytes).map_err(|e| format!("it is not a checkpoint ({e})"))
}

/// The hash the next record follows when the log holds no record: the checkpoint's (when
/// retention emptied it), else the genesis value.
pub(in crate::store) fn empty_log_head(
    checkpoint: Option<Result<Checkpoint, String>>,
) -> StoreResult<String> {
    match checkpoint {
        None => Ok(genesis()),
        Some(Ok(checkpoint)) => Ok(checkpoint.hash),
        Some(Err(why)) => Err(StoreError::Corrupt(format!(
            "the audit checkpoint: {why}; run `fidoflow audit verify`"
        ))),
    }
}

/// Where the chain starts: the genesis value, or the stored checkpoint once its signature is
/// checked (with `public_key`, else with `key`'s); a break when it does not hold. `first` gives
/// the first record kept (0 for none), which names an unreadable checkpoint.
pub(in crate::store) fn chain_start(
    stored: Option<Result<Checkpoint, String>>,
    first: impl FnOnce() -> StoreResult<u64>,
    public_key: Option<&[u8]>,
    key: &AuditKey,
) -> StoreResult<Result<Option<Checkpoint>, ChainBreak>> {
    let checkpoint = match stored {
        None => return Ok(Ok(None)),
        Some(Ok(checkpoint)) => checkpoint,
        Some(Err(why)) => return Ok(Err(ChainBreak::CheckpointUnreadable { seq: first()?, why })),
    };
    let public = match public_key {
        Some(public) => Some(public.to_vec()),
        None => key.public_key()?,
    };
    let checked = match public {
        Some(public) => check_signature(&checkpoint, &public),
        None => Err(format!(
            "there is no {SIGNING_KEY_FILE} in the data directory to check its signature with \
             (give the public key instead)"
        )),
    };
    Ok(match checked {
        Ok(()) => Ok(Some(checkpoint)),
        Err(why) => Err(ChainBreak::Checkpoint {
            seq: checkpoint.seq,
            why,
        }),
    })
}

/// A walk along the chain in `seq` order, from the genesis value or a checkpoint.
pub(in crate::store) struct Walk {
    prev: String,
    after: String,
    /// Records at or before it are left over from a trim cut short: skipped.
    skip_to: u64,
    records: u64,
    head: Option<(u64, String)>,
}

impl Walk {
    pub(in crate::store) fn from(checkpoint: Option<&Checkpoint>) -> Self {
        let (prev, after, skip_to) = match checkpoint {
            None => (genesis(), "the start of the log".to_string(), 0),
            Some(c) => (
                c.hash.clone(),
                format!("the checkpoint after seq {}", c.seq),
                c.seq,
            ),
        };
        Walk {
            prev,
            after,
            skip_to,
            records: 0,
            head: None,
        }
    }

    /// The first seq the walk checks.
    pub(in crate::store) fn first_seq(&self) -> u64 {
        self.skip_to.saturating_add(1)
    }

    /// Whether the record at `seq` is a leftover at or before the checkpoint.
    pub(in crate::store) fn is_leftover(&self, seq: u64) -> bool {
        seq <= self.skip_to
    }

    /// Checks the next record; its hash.
    pub(in crate::store) fn step(&mut self, seq: u64, stored: &[u8]) -> Result<String, ChainBreak> {
        let hash = check_record(seq, stored, &self.prev, &self.after)?;
        self.records += 1;
        self.head = Some((seq, hash.clone()));
        self.prev = hash.clone();
        self.after = format!("seq {seq}");
        Ok(hash)
    }

    pub(in crate::store) fn report(self, checkpoint: Option<Checkpoint>) -> ChainReport {
        ChainReport {
            records: self.records,
            head: self.head,
            checkpoint,
        }
    }
}
