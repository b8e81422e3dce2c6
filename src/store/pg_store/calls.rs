//! How a store call reaches the database: the traits are synchronous (the engine runs on
//! actix's blocking threads) and the driver is asynchronous, so each call runs its future on the
//! store's own runtime and waits for it ([`PgStore::run`]); reads are tried once more on a new
//! connection when theirs was lost ([`PgStore::read`]); and the one-statement calls most
//! keyspaces need ([`PgStore::rows`], [`PgStore::records`], [`PgStore::execute`],
//! [`PgStore::insert`]). Every statement is prepared once per connection (`prepare_cached`).

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::Pool;
use serde::{de::DeserializeOwned, Serialize};

use super::errors::{db_error, is_unique_violation, pool_error, retry};
use super::PgStore;
use crate::store::{StoreError, StoreResult};

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
}
