//! The audit log as stored, for `fidoflow migrate sled-to-postgres`: every record's bytes under
//! its sequence number, and the retention checkpoint's bytes, copied unchanged so the chain
//! and the checkpoint verify in the new store as they did here.

use super::checkpoint::CHECKPOINT_KEY;
use crate::store::sled_store::SledStore;
use crate::store::{AuditExport, StoreResult};

impl SledStore {
    /// The stored audit records with `seq` above `after`, oldest first, at most `limit`.
    pub fn export_audit_page(&self, after: u64, limit: usize) -> StoreResult<AuditExport> {
        let mut records = Vec::new();
        for item in self.audit.range((after + 1).to_be_bytes()..).take(limit) {
            let (key, value) = item?;
            let seq = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| crate::store::StoreError::Corrupt("an audit key".into()))?;
            records.push((seq, value.to_vec()));
        }
        let checkpoint = self.audit_meta.get(CHECKPOINT_KEY)?.map(|v| v.to_vec());
        Ok(AuditExport {
            records,
            checkpoint,
        })
    }
}
