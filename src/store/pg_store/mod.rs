//! The PostgreSQL implementation of the storage traits, for any number of stateless nodes on one
//! database. This file holds the store itself (its pool and the runtime that drives it, the
//! tenant it serves, errors, retries) and the `Storage` trait; `schema.rs` the migrations and
//! the lease that lets one node apply them; each keyspace lives in its own file, which opens
//! with its table:
//! - `users.rs`: `users`; `credentials.rs`: `credentials`; `locks.rs`: `locks`;
//! - `ceremonies.rs`: `ceremonies`; `sessions.rs`: `sessions` (and the actix-session store on
//!   it), `session_claims`; `limits.rs`: `rate_windows`;
//! - `audit.rs`: `audit`, `audit_head`, `audit_meta`; `metadata.rs`: `metadata`;
//!   `tenants.rs`: `tenants`; `transactions.rs`: `transactions`.
//!
//! Records are stored as the same JSON the sled backend writes, beside the columns that
//! constraints and lookups need. A tenant's rows carry its id in a `tenant` column; a credential
//! id is unique per tenant by the primary key, not by a check before the insert.
//!
//! The traits are synchronous (the engine runs on actix's blocking threads); the driver,
//! tokio-postgres with a deadpool pool, is asynchronous. Each call runs its future on the
//! store's own runtime and waits for it ([`PgStore::run`]), so it works from any thread,
//! inside a runtime or not. Every statement is prepared once per connection (`prepare_cached`).
//!
//! Only SQL that CockroachDB and YugabyteDB accept too: explicit primary keys, no advisory
//! locks, no `LISTEN/NOTIFY`; a transaction that fails with SQLSTATE 40001 (serialization
//! failure, which those engines give under SERIALIZABLE) is run again ([`retry`]). Times come
//! in as arguments from the engine's clock; the SQL never calls `now()`.
//!
//! Like the rest of `store`, imports only `domain`.

mod audit;
mod audit_import;
mod ceremonies;
mod credentials;
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
use serde::{de::DeserializeOwned, Serialize};
use tokio_postgres::error::SqlState;

use super::{Storage, StoreError, StoreResult};
use crate::domain::DEFAULT_TENANT;

pub use sessions::PgSessionStore;

/// How many times a transaction that lost a serialization conflict (40001) is run in all.
const ATTEMPTS: usize = 8;

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

/// The error of a statement or a pool, as the store's callers see it: a connection that could
/// not be had or broke mid-call is `Unavailable` (503 `STORE_UNAVAILABLE`); anything else the
/// database refused is `Database` (500), its text for the log only.
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() || e.as_db_error().is_none() {
        return StoreError::Unavailable(e.to_string());
    }
    let code = e.code().map_or("", |c| c.code());
    // Class 08 (connection exception), 57P01–57P03 (the server shutting down or starting),
    // 53300 (too many connections): the database is not there for us right now.
    if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Database(match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    })
}

/// A connection that could not be had (made or taken from the pool) is always `Unavailable`,
/// whatever the server said when it refused it.
fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Whether `e` is a serialization failure (40001) or a deadlock (40P01, which PostgreSQL breaks
/// by failing one of the transactions), which a retry of the transaction cures.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
}

/// Whether `e` is a unique or primary key violation (23505).
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A statement's failure inside a keyspace file: a conflict to retry, or the store's error.
pub(crate) enum Fail {
    Conflict,
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_conflict(&e) {
            Fail::Conflict
        } else {
            Fail::Store(db_error(e))
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Fail::Store(pool_error(e))
    }
}

/// Runs `attempt` until it does not end in a serialization conflict, at most [`ATTEMPTS`]
/// times, with a short random pause between.
pub(crate) async fn retry<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Fail>>,
{
    for n in 0..ATTEMPTS {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Fail::Store(e)) => return Err(e),
            Err(Fail::Conflict) => {
                let pause = rand::random::<u64>() % (2 << n.min(6));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
    Err(StoreError::Database(format!(
        "a transaction lost {ATTEMPTS} serialization conflicts in a row"
    )))
}

/// A statement parameter that can travel to the store's runtime.
pub(crate) type Param = Box<dyn tokio_postgres::types::ToSql + Send + Sync>;

/// The parameters as the driver takes them.
fn borrowed(params: &[Param]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

/// Boxes statement parameters: `params![a, b]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$(Box::new($p) as $crate::store::pg_store::Param),*]
    };
}
pub(crate) use params;

/// What a writing statement did.
enum Written {
    /// It changed this many rows.
    Rows(u64),
    /// A unique key it would write is taken (nothing was written).
    Taken,
}

impl Written {
    fn rows(self) -> StoreResult<u64> {
        match self {
            Written::Rows(n) => Ok(n),
            Written::Taken => Err(StoreError::Database(
                "a unique key the statement would write is taken".into(),
            )),
        }
    }
}

/// One writing statement in its own transaction, run again on a serialization conflict.
async fn write(pool: &Pool, sql: &'static str, params: &[Param]) -> StoreResult<Written> {
    retry(move || async move {
        let client = pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        match client.execute(&statement, &borrowed(params)).await {
            Err(e) if is_unique_violation(&e) => Ok(Written::Taken),
            other => Ok(Written::Rows(other?)),
        }
    })
    .await
}

pub(crate) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
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

    /// Runs `work` with the pool on the store's runtime and waits for its result: from any
    /// thread, inside an async runtime or not (it blocks the calling thread, like sled's calls).
    pub(crate) fn run<T, F, Fut>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let future = work(self.shared.pool.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared.runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        let result = rx.recv().map_err(|_| {
            StoreError::Unavailable("the database task ended without an answer".into())
        })?;
        if let Err(StoreError::Unavailable(_)) = &result {
            // A connection was lost: the database restarted or the network broke, and the
            // pool's idle connections went with it. Drop them, so the next call connects anew.
            self.shared.pool.retain(|_, _| false);
        }
        result
    }

    /// [`run`](Self::run) for a call that only reads: a connection lost on the way is tried
    /// once more, on a new connection.
    pub(crate) fn read<T, F, Fut>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(Pool) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        match self.run(&work) {
            Err(StoreError::Unavailable(why)) => {
                tracing::debug!(%why, "a read lost its database connection; trying once more");
                self.run(work)
            }
            other => other,
        }
    }

    /// The rows of one read-only statement (tried once more on a lost connection).
    pub(crate) fn rows(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        let params = Arc::new(params);
        self.read(move |pool| {
            let params = params.clone();
            async move {
                let client = pool.get().await.map_err(pool_error)?;
                let statement = client.prepare_cached(sql).await.map_err(db_error)?;
                client
                    .query(&statement, &borrowed(&params))
                    .await
                    .map_err(db_error)
            }
        })
    }

    /// The records (column 0, the stored JSON) a read-only statement finds, decoded.
    pub(crate) fn records<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> StoreResult<Vec<T>> {
        self.rows(sql, params)?
            .iter()
            .map(|r| decode(&r.get::<_, Vec<u8>>(0)))
            .collect()
    }

    /// The first record a read-only statement finds, decoded.
    pub(crate) fn first_record<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> StoreResult<Option<T>> {
        Ok(self.records(sql, params)?.into_iter().next())
    }

    /// Runs one writing statement (its own transaction; run again on a serialization
    /// conflict); how many rows it changed.
    pub(crate) fn execute(&self, sql: &'static str, params: Vec<Param>) -> StoreResult<u64> {
        self.run(move |pool| async move { write(&pool, sql, &params).await?.rows() })
    }

    /// Runs one inserting statement; `false` when a unique key it would write is taken.
    pub(crate) fn insert(&self, sql: &'static str, params: Vec<Param>) -> StoreResult<bool> {
        self.run(move |pool| async move {
            Ok(matches!(
                write(&pool, sql, &params).await?,
                Written::Rows(_)
            ))
        })
    }

    /// The rows a writing statement returns (`… RETURNING`), run again on a serialization
    /// conflict.
    pub(crate) fn run_write_rows(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        self.run(move |pool| async move {
            let (pool, params) = (&pool, &params);
            retry(move || async move {
                let client = pool.get().await?;
                let statement = client.prepare_cached(sql).await?;
                Ok(client.query(&statement, &borrowed(params)).await?)
            })
            .await
        })
    }

    /// Runs `future` on the store's runtime without waiting for it.
    pub(crate) fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.shared.runtime.spawn(future);
    }

    /// [`execute`](Self::execute) as a future of the store's runtime (inside a detached task).
    pub(crate) async fn execute_async(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> StoreResult<u64> {
        write(&self.shared.pool, sql, &params).await?.rows()
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
