//! Versioned migrations, applied at start-up (or by `fidoflow migrate`) by one node at a time.
//!
//! Tables of their own:
//! - `fidoflow_schema (id = 1, version)`: the schema version the database holds.
//! - `fidoflow_lease (name, holder, expires_at)`: the migration lease. A node takes it by
//!   inserting the row `migrate` if absent, or by taking it over once it expired (a node that
//!   died migrating); it works alike on PostgreSQL, CockroachDB (whose advisory locks do
//!   nothing) and YugabyteDB. The others wait, reading the version, until the holder is done.
//!
//! Each migration runs in one transaction with the version update, so a node that dies
//! midway leaves the previous version whole. A database whose version is newer than
//! [`MIGRATIONS`] knows is refused (`SchemaVersion`): an older build must not write it.

use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;

use super::{db_error, is_unique_violation, pool_error};
use crate::store::{StoreError, StoreResult};

/// The migrations, in order; the version of a database is how many of them it holds.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("initial", include_str!("migrations/001_initial.sql")),
    (
        "session seen_at",
        include_str!("migrations/002_session_seen_at.sql"),
    ),
];

/// How long a lease holds without being renewed: longer than any migration takes.
const LEASE: Duration = Duration::from_secs(120);

/// How long a node waits for another node's migration before it gives up.
const WAIT: Duration = Duration::from_secs(300);

const BOOTSTRAP: &str = "\
    CREATE TABLE IF NOT EXISTS fidoflow_schema (id INT NOT NULL PRIMARY KEY, version INT NOT NULL);\
    CREATE TABLE IF NOT EXISTS fidoflow_lease (name TEXT NOT NULL PRIMARY KEY, holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);";

/// The version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the database to [`latest`] (see the module's text); returns the migrations applied.
pub(super) async fn migrate(pool: Pool) -> StoreResult<()> {
    let client = pool.get().await.map_err(pool_error)?;
    // Two nodes creating the same table at once: one of them may see the other's table or
    // its catalog row appear mid-statement (42P07, 42710 or 23505); it is there either way,
    // and the next try finds it.
    for attempt in 0.. {
        match client.batch_execute(BOOTSTRAP).await {
            Ok(()) => break,
            Err(e) if attempt < 5 && created_meanwhile(&e) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(db_error(e)),
        }
    }
    let holder = format!(
        "{}/{}",
        std::process::id(),
        crate::domain::hex(&rand::random::<[u8; 8]>())
    );
    let started = std::time::Instant::now();
    loop {
        let version = version(&client).await?;
        if version > latest() {
            return Err(StoreError::SchemaVersion {
                found: version,
                expected: latest(),
            });
        }
        if version == latest() {
            return Ok(());
        }
        if take_lease(&client, &holder).await? {
            let result = apply(&pool, &holder).await;
            client
                .execute(
                    "DELETE FROM fidoflow_lease WHERE name = 'migrate' AND holder = $1",
                    &[&holder],
                )
                .await
                .map_err(db_error)?;
            return result;
        }
        if started.elapsed() > WAIT {
            return Err(StoreError::Unavailable(format!(
                "another node has held the migration lease for over {} s",
                WAIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether `e` says that another node created the same object at the same moment.
fn created_meanwhile(e: &tokio_postgres::Error) -> bool {
    is_unique_violation(e)
        || e.code() == Some(&SqlState::DUPLICATE_TABLE)
        || e.code() == Some(&SqlState::DUPLICATE_OBJECT)
}

/// The schema version the database holds (0: none yet).
pub(super) async fn version(client: &tokio_postgres::Client) -> StoreResult<u32> {
    let row = client
        .query_opt("SELECT version FROM fidoflow_schema WHERE id = 1", &[])
        .await
        .map_err(db_error)?;
    Ok(row.map_or(0, |r| r.get::<_, i32>(0) as u32))
}

async fn take_lease(client: &tokio_postgres::Client, holder: &str) -> StoreResult<bool> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(2));
    let taken = client
        .execute(
            "INSERT INTO fidoflow_lease (name, holder, expires_at) VALUES ('migrate', $1, $2) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at WHERE fidoflow_lease.expires_at < $3",
            &[&holder, &until, &now],
        )
        .await
        .map_err(db_error)?;
    Ok(taken == 1)
}

/// Applies every migration the database lacks, each in one transaction with its version, while
/// holding the lease (checked in the same transaction, so a holder whose lease was taken over
/// writes nothing).
async fn apply(pool: &Pool, holder: &str) -> StoreResult<()> {
    let mut client = pool.get().await.map_err(pool_error)?;
    loop {
        let tx = client.transaction().await.map_err(db_error)?;
        let held = tx
            .query_opt(
                "SELECT 1 FROM fidoflow_lease WHERE name = 'migrate' AND holder = $1",
                &[&holder],
            )
            .await
            .map_err(db_error)?;
        if held.is_none() {
            return Err(StoreError::Unavailable(
                "the migration lease was lost (the migration took longer than the lease)".into(),
            ));
        }
        let version = tx
            .query_opt("SELECT version FROM fidoflow_schema WHERE id = 1", &[])
            .await
            .map_err(db_error)?
            .map_or(0, |r| r.get::<_, i32>(0) as u32);
        let Some((name, sql)) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.batch_execute(sql).await.map_err(db_error)?;
        let next = version as i32 + 1;
        tx.execute(
            "INSERT INTO fidoflow_schema (id, version) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            &[&next],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(version = next, migration = name, "database migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::fresh_database_url;
    use super::super::{params, PgOptions, PgStore};
    use crate::store::StoreError;

    fn options(url: &str) -> PgOptions {
        PgOptions {
            url: url.to_string(),
            pool_size: 2,
            connect_timeout: std::time::Duration::from_secs(10),
        }
    }

    #[test]
    fn nodes_starting_at_once_migrate_once_and_all_start() {
        let url = fresh_database_url();
        let dir = tempfile::tempdir().unwrap();
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let (url, dir) = (url.clone(), dir.path().to_path_buf());
                std::thread::spawn(move || PgStore::connect(&options(&url), &dir))
            })
            .collect();
        for start in starts {
            let store = start.join().unwrap().expect("every node starts");
            assert_eq!(store.schema_version().unwrap(), super::latest());
        }
    }

    #[test]
    fn a_database_newer_than_this_build_is_refused() {
        let url = fresh_database_url();
        let dir = tempfile::tempdir().unwrap();
        let store = PgStore::connect(&options(&url), dir.path()).unwrap();
        store
            .execute("UPDATE fidoflow_schema SET version = 99", params![])
            .unwrap();
        match PgStore::connect(&options(&url), dir.path()) {
            Err(StoreError::SchemaVersion {
                found: 99,
                expected,
            }) => {
                assert_eq!(expected, super::latest())
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a newer database was opened"),
        }
    }

    #[test]
    fn an_expired_lease_of_a_node_that_died_migrating_is_taken_over() {
        let url = fresh_database_url();
        let dir = tempfile::tempdir().unwrap();
        // A node died holding the lease before it migrated anything: the lease table alone.
        let store = PgStore::connect(&options(&url), dir.path()).unwrap();
        store
            .execute(
                "DROP TABLE users, credentials, locks, ceremonies, sessions, session_claims, \
                 rate_windows, audit, audit_head, audit_meta, metadata, tenants, transactions, \
                 lock_tables",
                params![],
            )
            .unwrap();
        store
            .execute("DELETE FROM fidoflow_schema", params![])
            .unwrap();
        store
            .execute(
                "INSERT INTO fidoflow_lease (name, holder, expires_at) VALUES ('migrate', 'dead', $1)",
                params![chrono::Utc::now() - chrono::Duration::seconds(1)],
            )
            .unwrap();
        let again = PgStore::connect(&options(&url), dir.path()).expect("the lease is taken over");
        assert_eq!(again.schema_version().unwrap(), super::latest());
    }
}
