//! `fidoflow migrate sled-to-postgres`: a populated sled data directory copied into an empty
//! PostgreSQL database, after which every user signs in on a server running on PostgreSQL, the
//! audit chain still verifies there, and a second copy into the filled database is refused.

use reqwest::StatusCode;

use crate::common::app::{spawn_app_on_with, spawn_app_with, PASSWORD};
use fidoflow::config::StoreBackend;
use fidoflow::store::AuditLog;

#[tokio::test]
async fn a_sled_directory_copied_into_postgresql_signs_every_user_in() {
    let mut sled = spawn_app_with(|s| s.store.backend = StoreBackend::Sled).await;
    sled.create_user("alice", Some(PASSWORD)).await;
    sled.create_user("bob", Some(PASSWORD)).await;
    let mut alice = sled.browser();
    alice.login("alice", PASSWORD).await;
    alice.register(Some("Alice's key")).await;
    let (status, doc) = alice.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let authenticator = alice.authenticator.clone();
    sled.stop_and_release_store().await;

    let url = fidoflow::store::pg_testing::fresh_database_url();
    let copied =
        fidoflow::migrate_cli::sled_to_postgres(&sled.settings, sled.data_dir.path(), Some(&url))
            .expect("the copy");
    assert!(
        copied.contains("copied 2 users with 1 credentials"),
        "{copied}"
    );
    assert!(copied.contains("the counts match"), "{copied}");

    // A second copy into the database that now holds them is refused.
    let again =
        fidoflow::migrate_cli::sled_to_postgres(&sled.settings, sled.data_dir.path(), Some(&url))
            .unwrap_err();
    assert!(format!("{again:#}").contains("empty"), "{again:#}");

    // A server on PostgreSQL (with the sled directory's audit signing key): both users sign in,
    // alice with her passkey, whose counter went on from where it was.
    let data = tempfile::tempdir().unwrap();
    std::fs::copy(
        sled.data_dir.path().join(fidoflow::store::SIGNING_KEY_FILE),
        data.path().join(fidoflow::store::SIGNING_KEY_FILE),
    )
    .ok();
    let pg = spawn_app_on_with(data, |s| {
        s.store.backend = StoreBackend::Postgres { url: url.clone() }
    })
    .await;
    pg.browser().login("bob", PASSWORD).await;
    let mut alice = pg.browser();
    alice.authenticator = authenticator;
    let (status, doc) = alice.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // The audit chain copied as stored, with the server's new records after it, verifies.
    let store = fidoflow::store::PgStore::connect(
        &fidoflow::store::PgOptions {
            url,
            pool_size: 2,
            connect_timeout: std::time::Duration::from_secs(10),
        },
        pg.data_dir.path(),
    )
    .unwrap();
    let report = store.verify_chain(None).unwrap().expect("the chain holds");
    assert!(report.records > 5, "{report:?}");
}
