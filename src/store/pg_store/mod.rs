//! The PostgreSQL implementation of the storage traits, for any number of stateless nodes on one
//! database. This file holds the store itself (its pool and the runtime that drives it, the
//! tenant it serves, purging) and the `Storage` trait; `calls.rs` how a call reaches the
//! database; `errors.rs` which errors are which and the retry of conflicts; `schema.rs` the
//! migrations and the lease that lets one node apply them; `testing.rs` the tests' PostgreSQL
//! server. Each keyspace lives in its own file, which opens with its tables:
//! - `users.rs`: `users`; `credentials.rs`: `credentials`; `locks.rs`: `locks`, `lock_tables`;
//! - `ceremonies.rs`: `ceremonies`; `sessions.rs`: `sessions` (and the actix-session store on
//!   it); `limits.rs`: `session_claims`, `rate_windows`;
//! - `audit.rs`: `audit`, `audit_head`, `audit_meta` (`audit_import.rs`: a copied log);
//!   `metadata.rs`: `metadata`; `tenants.rs`: `tenants`; `transactions.rs`: `transactions`.
//!
//! Records are stored as the same JSON the sled backend writes, beside the columns that
//! constraints and lookups need. A tenant's rows carry its id in a `tenant` column; a credential
//! id is unique per tenant by the primary key, not by a check before the insert.
//!
//! The driver is tokio-postgres with a bounded deadpool pool (`calls.rs`).
//!
//! Only SQL that CockroachDB and YugabyteDB accept too: explicit primary keys, no advisory
//! locks, no `LISTEN/NOTIFY`; a transaction that fails with SQLSTATE 40001 (serialization
//! failure, which those engines give under SERIALIZABLE) is run again ([`retry`]). Times come
//! in as arguments from the engine's clock; the SQL never calls `now()`.
//!
//! Like the rest of `store`, imports only `domain`.

mod audit;
mod audit_import;
mod calls;
mod ceremonies;
mod credentials;
mod errors;
mod limits;
mod locks;
mod metadata;
mod schema;
mod sessions;
mod tenants;
#[doc(hidden)]
pub mod testing;
mod transactions;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::{Storage, StoreError, StoreResult};
use crate::domain::DEFAULT_TENANT;

pub(crate) use calls::{decode, encode, params, Param};
pub(crate) use errors::{db_error, is_unique_violation, pool_error, retry, Fail};
pub use sessions::PgSessionStore;

/// How to reach the database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (or key=value form).
    pub url: String,
    /// Connections at most.
    pub pool_size: usize,
    /// How long a connection (new or from the pool) is waited for before the call fails with
    /// `StoreError::Unavailable`.
    pub connect_timeout: Duration,
}

/// The store's own runtime, shut down without waiting when the store goes (a plain
/// `tokio::runtime::Runtime` may not be dropped on an async thread, where a store may end).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(runtime) = &self.0 {
            runtime.spawn(future);
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// What every tenant view of one store shares.
struct Shared {
    pool: Pool,
    /// Drives the pool's connections; its threads do nothing else.
    runtime: Runtime,
    /// The data directory, where the audit signing key is (see `audit.rs`).
    data_dir: std::path::PathBuf,
}

#[derive(Clone)]
pub struct PgStore {
    shared: Arc<Shared>,
    /// The tenant whose users, credentials, locks, audit index and transactions this view sees.
    tenant: Arc<str>,
}

impl PgStore {
    /// Connects to the database, applies the migrations it lacks (one node at a time, see
    /// `schema.rs`) and refuses a database newer than this build. `data_dir` holds the key that
    /// signs the audit log's retention checkpoints.
    pub fn connect(options: &PgOptions, data_dir: &std::path::Path) -> StoreResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fidoflow-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("the database runtime: {e}")))?;
        let config: tokio_postgres::Config =
            options.url.parse().map_err(|e: tokio_postgres::Error| {
                StoreError::Unavailable(format!("store.url: {e}"))
            })?;
        let mut config = config;
        config.connect_timeout(options.connect_timeout);
        config.application_name("fidoflow");
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(options.pool_size.max(1))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(options.connect_timeout))
                .create_timeout(Some(options.connect_timeout))
                .recycle_timeout(Some(options.connect_timeout))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?
        };
        let store = PgStore {
            shared: Arc::new(Shared {
                pool,
                runtime: Runtime(Some(runtime)),
                data_dir: data_dir.to_path_buf(),
            }),
            tenant: Arc::from(DEFAULT_TENANT),
        };
        store.run(schema::migrate)?;
        Ok(store)
    }

    /// The schema version the database holds.
    pub fn schema_version(&self) -> StoreResult<u32> {
        self.read(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            schema::version(&client).await
        })
    }

    /// Whether the database holds no user, tenant or audit record (a copy's target).
    pub fn is_empty(&self) -> StoreResult<bool> {
        let rows = self.rows(
            "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM tenants) \
             + (SELECT count(*) FROM audit)",
            params![],
        )?;
        Ok(rows.first().is_some_and(|r| r.get::<_, i64>(0) == 0))
    }

    /// The tenant this view serves.
    pub(crate) fn tenant(&self) -> String {
        self.tenant.to_string()
    }

    /// The same store as tenant `tenant` sees it.
    pub fn tenant_view(&self, tenant: &str) -> PgStore {
        PgStore {
            shared: self.shared.clone(),
            tenant: Arc::from(tenant),
        }
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.shared.data_dir
    }

    /// Purges expired ceremonies, sessions, session claims and rate windows, in bounded
    /// batches that other nodes purging at the same time skip (`FOR UPDATE SKIP LOCKED`).
    fn purge(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut purged = 0;
        for (table, column) in [
            ("ceremonies", "id"),
            ("sessions", "key"),
            ("session_claims", "key"),
            ("rate_windows", "key"),
        ] {
            // An expired ceremony is kept a while, so that a late answer is told it timed out.
            let before = match table {
                "ceremonies" => now - ceremonies::GRACE,
                _ => now,
            };
            purged += self.purge_table(table, column, "expires_at", before)?;
        }
        Ok(purged)
    }

    fn purge_table(
        &self,
        table: &'static str,
        key: &'static str,
        expiry: &'static str,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN \
             (SELECT {key} FROM {table} WHERE {expiry} < $1 LIMIT 500 FOR UPDATE SKIP LOCKED)"
        );
        let mut total = 0;
        loop {
            let sql = sql.clone();
            let n = self.run(move |pool| async move {
                retry(|| async {
                    let client = pool.get().await?;
                    let statement = client.prepare_cached(&sql).await?;
                    Ok(client.execute(&statement, &[&now]).await?)
                })
                .await
            })?;
            total += n as usize;
            if n < 500 {
                return Ok(total);
            }
        }
    }
}

impl Storage for PgStore {
    fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.purge(now)
    }

    fn for_tenant(&self, tenant: &str) -> StoreResult<Arc<dyn Storage>> {
        Ok(Arc::new(self.tenant_view(tenant)))
    }

    fn drop_tenant_data(&self, tenant: &str) -> StoreResult<()> {
        if tenant == DEFAULT_TENANT {
            return Ok(());
        }
        let tenant = tenant.to_string();
        self.run(move |pool| async move {
            retry(|| async {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                // Credentials go with their users (ON DELETE CASCADE).
                for table in ["users", "locks", "lock_tables", "transactions"] {
                    let sql = format!("DELETE FROM {table} WHERE tenant = $1");
                    tx.execute(&sql, &[&tenant]).await?;
                }
                // The tenant's per-user audit index, as sled drops its tree: the records stay
                // in the chain, no longer listed for its users.
                tx.execute(
                    "UPDATE audit SET username = NULL WHERE tenant = $1",
                    &[&tenant],
                )
                .await?;
                tx.commit().await?;
                Ok(())
            })
            .await
        })
    }

    fn flush_stats(&self) -> super::FlushStats {
        super::FlushStats::default()
    }

    fn session_count(&self) -> usize {
        self.read(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            let row = client
                .query_one("SELECT count(*) FROM sessions", &[])
                .await
                .map_err(db_error)?;
            Ok(row.get::<_, i64>(0) as usize)
        })
        .unwrap_or(0)
    }

    /// A round trip that writes: the database answers and takes writes (a read-only replica
    /// or a full disk fail it).
    fn probe(&self) -> StoreResult<()> {
        self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let key = format!(
                "probe/{}",
                crate::domain::b64url(&rand::random::<[u8; 12]>())
            );
            let tx = client.transaction().await.map_err(db_error)?;
            let statement = tx
                .prepare_cached("INSERT INTO audit_meta (name, value) VALUES ($1, $2)")
                .await
                .map_err(db_error)?;
            tx.execute(&statement, &[&key, &vec![1u8]])
                .await
                .map_err(db_error)?;
            // Rolled back: the write was taken, nothing stays.
            tx.rollback().await.map_err(db_error)?;
            Ok(())
        })
    }

    /// Every acknowledged write was committed when it was acknowledged: nothing to do.
    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    fn shared_state(&self) -> Option<&dyn crate::store::SharedState> {
        Some(self)
    }
}
