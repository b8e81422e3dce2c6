//! A database that cannot be reached: `503 STORE_UNAVAILABLE` (never a 500 with the driver's
//! words), and service again once it is back; a read whose connection was cut is tried once
//! more on a new one and answers as if nothing happened.

use reqwest::StatusCode;

use crate::common::app::{code, spawn_app_on_with, PASSWORD};
use fidoflow::config::StoreBackend;

use fidoflow::store::pg_testing::admin_sql;

/// Cuts every connection to database `name`.
fn cut_connections(name: &str) {
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
}

#[tokio::test]
async fn a_lost_database_is_503_store_unavailable_and_a_cut_read_is_retried() {
    let url = fidoflow::store::pg_testing::fresh_database_url();
    let name = url.rsplit('/').next().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app_on_with(data, |s| {
        s.store.backend = StoreBackend::Postgres { url: url.clone() };
        s.store.connect_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    app.create_user("alice", Some(PASSWORD)).await;

    // Every connection of the pool cut: the next reads are answered all the same (each read
    // that finds its connection dead is tried once more on a new one).
    cut_connections(&name);
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/users/alice",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // The database refuses connections: 503 STORE_UNAVAILABLE, with our words only.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    cut_connections(&name);
    let browser = app.browser();
    let (status, doc) = browser
        .post(
            "/rest/public/authentication/password/check",
            serde_json::json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{doc}");
    assert_eq!(code(&doc), "STORE_UNAVAILABLE", "{doc}");
    assert!(!doc.to_string().contains("postgres"), "{doc}");
    assert!(
        crate::common::app::detail(&doc).contains("send the request again"),
        "{doc}"
    );

    // Back: served again, with nothing lost.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    browser.login("alice", PASSWORD).await;
}
