//! The audit log on PostgreSQL: the same hash chain as the sled backend (sealing, checking,
//! checkpoints and retention are shared: `store/audit_chain/`), kept by any number of nodes.
//!
//! Tables:
//! - `audit`: `seq` → `record`, the stored bytes of the sealed [`AuditEvent`] (exactly as sled
//!   stores them), with `tenant` (the tenant view that appended it) and `username`: the
//!   per-user index `audit_by_user (tenant, username, seq)`. A tenant view lists a user's
//!   events of its own index, as sled's per-tenant `audit_by_user` trees do: the `default`
//!   view the events appended through it (the default tenant's, and those of tenants the
//!   engine no longer knows).
//! - `audit_head` (one row, `id = 1`): the last `seq` given, the `hash` of the newest record
//!   appended (`NULL` before the first) and the stored `bytes` of the records kept.
//! - `audit_meta`: `checkpoint` → the retention checkpoint, as sled's `audit_meta` tree.
//!
//! An append is one transaction that locks the `audit_head` row (`SELECT … FOR UPDATE`),
//! takes `seq = head.seq + 1`, seals the record onto `head.hash` (for a log never written to,
//! the checkpoint's hash or the genesis value), inserts it and moves the head: appends of all
//! nodes queue on that row, so there is one chain, and `seq` order is chain order. A
//! serialization failure (40001, as CockroachDB gives) runs the transaction again.
//!
//! Retention batches lock the same row, so they never interleave with an append or with
//! another node's batch; each removes its records and writes the new checkpoint in one
//! transaction. The checkpoint is signed with `audit-signing.key` in the node's data
//! directory: **every node of a cluster must hold the same key file** (copy it from the first
//! node that made it), or a node's verification or next trim refuses the checkpoint another
//! node signed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::IsolationLevel;

use super::{db_error, decode, encode, params, pool_error, retry, Fail, PgStore};
use crate::domain::Username;
use crate::store::audit_chain::{
    chain_start, empty_log_head, parse_checkpoint, run_trim, seal, AuditKey, TrimScan, Walk, BATCH,
};
use crate::store::{
    AuditEvent, AuditLog, AuditRetention, ChainBreak, ChainReport, Checkpoint, StoreError,
    StoreResult, TrimReport,
};

/// The records one query of a walk or a scan reads.
const PAGE: i64 = 500;

/// The name of the checkpoint in `audit_meta`.
const CHECKPOINT: &str = "checkpoint";

/// A `seq` as the database stores it.
fn db_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// The stored checkpoint: `None` when retention never removed a record, `Some(Err(why))` when
/// it cannot be read.
async fn stored_checkpoint(
    client: &impl GenericClient,
) -> Result<Option<Result<Checkpoint, String>>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached("SELECT value FROM audit_meta WHERE name = $1")
        .await?;
    let row = client.query_opt(&statement, &[&CHECKPOINT]).await?;
    Ok(row.map(|row| parse_checkpoint(&row.get::<_, Vec<u8>>(0))))
}

impl PgStore {
    /// The signing key of the checkpoints, in the data directory (shared by a cluster's nodes).
    fn audit_key(&self) -> AuditKey {
        AuditKey::in_dir(self.data_dir())
    }

    /// The stored bytes of the records kept, as the head counts them.
    fn audit_bytes(&self) -> StoreResult<u64> {
        let rows = self.rows("SELECT bytes FROM audit_head WHERE id = 1", params![])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0).max(0) as u64))
    }

    /// One retention batch of at most `limit` records (see `audit_chain/retention.rs`), in one
    /// transaction that holds the head row.
    fn trim_batch(
        &self,
        key: &Arc<AuditKey>,
        now: DateTime<Utc>,
        cutoff: Option<DateTime<Utc>>,
        size_target: u64,
        limit: usize,
    ) -> StoreResult<TrimReport> {
        let key = key.clone();
        let limit = limit as i64;
        self.run(move |pool| async move {
            let (pool, key) = (&pool, &key);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let head = tx
                    .prepare_cached("SELECT bytes FROM audit_head WHERE id = 1 FOR UPDATE")
                    .await?;
                let bytes = tx.query_one(&head, &[]).await?.get::<_, i64>(0).max(0) as u64;
                let mut scan =
                    TrimScan::start(stored_checkpoint(&tx).await?, cutoff, size_target, bytes)?;
                let oldest = tx
                    .prepare_cached("SELECT seq, record FROM audit ORDER BY seq LIMIT $1")
                    .await?;
                for row in tx.query(&oldest, &[&limit]).await? {
                    let seq = row.get::<_, i64>(0) as u64;
                    if !scan.take(seq, row.get::<_, &[u8]>(1))? {
                        break;
                    }
                }
                if scan.is_empty() {
                    return Ok(scan.report);
                }
                let seqs: Vec<i64> = scan
                    .removals
                    .iter()
                    .chain(&scan.leftovers)
                    .map(|r| db_seq(r.seq))
                    .collect();
                let remove = tx
                    .prepare_cached("DELETE FROM audit WHERE seq = ANY($1)")
                    .await?;
                tx.execute(&remove, &[&seqs]).await?;
                if let Some(checkpoint) = scan.checkpoint(key, now)? {
                    let put = tx
                        .prepare_cached(
                            "INSERT INTO audit_meta (name, value) VALUES ($1, $2) \
                             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        )
                        .await?;
                    tx.execute(&put, &[&CHECKPOINT, &encode(&checkpoint)?])
                        .await?;
                }
                let freed = scan.freed() as i64;
                let shrink = tx
                    .prepare_cached(
                        "UPDATE audit_head SET bytes = GREATEST(bytes - $1, 0) WHERE id = 1",
                    )
                    .await?;
                tx.execute(&shrink, &[&freed]).await?;
                tx.commit().await?;
                Ok(scan.report)
            })
            .await
        })
    }

    /// One page of records, newest first, with `seq` below `before`.
    fn page_before(&self, before: u64, limit: i64) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let rows = self.rows(
            "SELECT seq, record FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
            params![db_seq(before), limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
            .collect())
    }
}

/// The whole walk, in one read-only snapshot (a trim committed meanwhile on another node does
/// not cut the walk), a page at a time.
async fn walk_chain(
    pool: Pool,
    key: Arc<AuditKey>,
    public_key: Option<Vec<u8>>,
) -> StoreResult<Result<ChainReport, ChainBreak>> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)?;
    let stored = stored_checkpoint(&tx).await.map_err(db_error)?;
    let first = match &stored {
        Some(Err(_)) => tx
            .query_one("SELECT COALESCE(MIN(seq), 0) FROM audit", &[])
            .await
            .map_err(db_error)?
            .get::<_, i64>(0) as u64,
        _ => 0,
    };
    let checkpoint = match chain_start(stored, || Ok(first), public_key.as_deref(), &key)? {
        Ok(checkpoint) => checkpoint,
        Err(broken) => return Ok(Err(broken)),
    };
    let mut walk = Walk::from(checkpoint.as_ref());
    let page = tx
        .prepare_cached("SELECT seq, record FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2")
        .await
        .map_err(db_error)?;
    let mut from = walk.first_seq();
    loop {
        let rows = tx
            .query(&page, &[&db_seq(from), &PAGE])
            .await
            .map_err(db_error)?;
        for row in &rows {
            let seq = row.get::<_, i64>(0) as u64;
            if let Err(broken) = walk.step(seq, row.get::<_, &[u8]>(1)) {
                return Ok(Err(broken));
            }
            from = seq + 1;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    tx.commit().await.map_err(db_error)?;
    Ok(Ok(walk.report(checkpoint)))
}

impl AuditLog for PgStore {
    fn append_sealed(&self, event: AuditEvent) -> StoreResult<(u64, String)> {
        let tenant = self.tenant();
        self.run(move |pool| async move {
            let (pool, tenant, event) = (&pool, &tenant, &event);
            retry(move || async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let head = tx
                    .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                    .await?;
                let head = tx.query_one(&head, &[]).await?;
                let seq = head.get::<_, i64>(0) + 1;
                let prev = match head.get::<_, Option<String>>(1) {
                    Some(hash) => hash,
                    None => empty_log_head(stored_checkpoint(&tx).await?)?,
                };
                let mut event = event.clone();
                event.seq = seq as u64;
                let record = seal(&mut event, prev)?;
                let hash = event
                    .hash
                    .clone()
                    .ok_or_else(|| StoreError::Corrupt("an audit record was not sealed".into()))?;
                let username = event.username.as_ref().map(|u| u.as_str().to_string());
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO audit (seq, tenant, username, record) VALUES ($1, $2, $3, $4)",
                    )
                    .await?;
                tx.execute(&insert, &[&seq, tenant, &username, &record])
                    .await?;
                let advance = tx
                    .prepare_cached(
                        "UPDATE audit_head SET seq = $1, hash = $2, bytes = bytes + $3 WHERE id = 1",
                    )
                    .await?;
                tx.execute(&advance, &[&seq, &hash, &(record.len() as i64)])
                    .await?;
                tx.commit().await?;
                Ok::<_, Fail>((seq as u64, hash))
            })
            .await
        })
    }

    fn verify_chain(
        &self,
        public_key: Option<&[u8]>,
    ) -> StoreResult<Result<ChainReport, ChainBreak>> {
        let key = Arc::new(self.audit_key());
        let public_key = public_key.map(<[u8]>::to_vec);
        self.read(move |pool| walk_chain(pool, key.clone(), public_key.clone()))
    }

    fn trim(&self, now: DateTime<Utc>, retention: &AuditRetention) -> StoreResult<TrimReport> {
        let key = Arc::new(self.audit_key());
        let batch = |cutoff, size_target| self.trim_batch(&key, now, cutoff, size_target, BATCH);
        let append = |event| self.append(event).map(drop);
        run_trim(now, retention, self.audit_bytes()?, batch, append)
    }

    fn events(
        &self,
        username: Option<&Username>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        let before = db_seq(before.unwrap_or(u64::MAX));
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = match username {
            None => self.rows(
                "SELECT record FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
                params![before, limit],
            )?,
            Some(user) => self.rows(
                "SELECT record FROM audit WHERE tenant = $1 AND username = $2 AND seq < $3 \
                 ORDER BY seq DESC LIMIT $4",
                params![self.tenant(), user.as_str().to_string(), before, limit],
            )?,
        };
        rows.iter().map(|r| decode(r.get::<_, &[u8]>(0))).collect()
    }

    fn events_where(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: &dyn Fn(&AuditEvent) -> bool,
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut before = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        while out.len() < limit {
            let page = self.page_before(before, PAGE)?;
            for (seq, record) in &page {
                before = *seq;
                let event: AuditEvent = decode(record)?;
                if keep(&event) {
                    out.push(event);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        Ok(out)
    }
}

/// Raw access for the tests that change the stored log behind the store's back.
#[cfg(test)]
impl PgStore {
    /// The stored bytes of the record `seq`.
    pub(in crate::store) fn raw_audit_record(&self, seq: u64) -> Option<Vec<u8>> {
        self.rows(
            "SELECT record FROM audit WHERE seq = $1",
            params![db_seq(seq)],
        )
        .unwrap()
        .first()
        .map(|r| r.get(0))
    }

    /// Stores `bytes` as the record `seq` (`None`: removes it), as an attacker would.
    pub(in crate::store) fn raw_put_audit_record(&self, seq: u64, bytes: Option<Vec<u8>>) {
        match bytes {
            Some(bytes) => self.execute(
                "INSERT INTO audit (seq, tenant, record) VALUES ($1, 'default', $2) \
                 ON CONFLICT (seq) DO UPDATE SET record = excluded.record",
                params![db_seq(seq), bytes],
            ),
            None => self.execute("DELETE FROM audit WHERE seq = $1", params![db_seq(seq)]),
        }
        .unwrap();
    }

    /// Stores `bytes` as the checkpoint.
    pub(in crate::store) fn raw_put_audit_checkpoint(&self, bytes: Vec<u8>) {
        self.execute(
            "INSERT INTO audit_meta (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![CHECKPOINT, bytes],
        )
        .unwrap();
    }

    /// The stored bytes of the records kept, as the head counts them.
    pub(in crate::store) fn raw_audit_bytes(&self) -> u64 {
        self.audit_bytes().unwrap()
    }
}
