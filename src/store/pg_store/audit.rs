//! The audit log on PostgreSQL (placeholder: being ported from the sled backend).

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::domain::Username;
use crate::store::{
    AuditEvent, AuditLog, AuditRetention, ChainBreak, ChainReport, StoreError, StoreResult,
    TrimReport,
};

fn missing() -> StoreError {
    StoreError::Database("the PostgreSQL audit log is not written yet".into())
}

impl AuditLog for PgStore {
    fn append_sealed(&self, _event: AuditEvent) -> StoreResult<(u64, String)> {
        Err(missing())
    }
    fn verify_chain(
        &self,
        _public_key: Option<&[u8]>,
    ) -> StoreResult<Result<ChainReport, ChainBreak>> {
        Err(missing())
    }
    fn trim(&self, _now: DateTime<Utc>, _retention: &AuditRetention) -> StoreResult<TrimReport> {
        Err(missing())
    }
    fn events(
        &self,
        _username: Option<&Username>,
        _before: Option<u64>,
        _limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        Err(missing())
    }
    fn events_where(
        &self,
        _before: Option<u64>,
        _limit: usize,
        _keep: &dyn Fn(&AuditEvent) -> bool,
    ) -> StoreResult<Vec<AuditEvent>> {
        Err(missing())
    }
}
