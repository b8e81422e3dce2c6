//! Errors and retries: which database errors mean "the database is not there right now"
//! (`Unavailable`, 503 `STORE_UNAVAILABLE`) and which are a refusal (`Database`, 500); a
//! transaction that lost a serialization conflict (40001) or a deadlock (40P01) is run again.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::store::{StoreError, StoreResult};

/// How many times a transaction that lost a serialization conflict (40001) is run in all.
const ATTEMPTS: usize = 8;

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
pub(crate) fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Whether `e` is a serialization failure (40001) or a deadlock (40P01, which PostgreSQL breaks
/// by failing one of the transactions), which a retry of the transaction cures.
pub(crate) fn is_conflict(e: &tokio_postgres::Error) -> bool {
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
