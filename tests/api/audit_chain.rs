//! The tamper-evident audit log, end to end: the server writes hash-chained records, the
//! helpdesk API shows each record's `hash` and `prevHash`, `fidoflow audit verify` (the real
//! binary) passes on the data directory the server wrote, and fails naming the record's seq
//! once one byte of a stored record is flipped with sled directly.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};

use crate::common::app::{spawn_app_with, ADMIN_TOKEN, PASSWORD};

/// Runs `fidoflow audit verify --data-dir DIR` without the test runner's `FIDOFLOW_*`
/// variables; exit status, stdout, stderr.
pub fn audit_verify(data_dir: &Path) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["audit", "verify", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("the fidoflow binary runs");
    (
        output.status.code().expect("an exit status"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Waits until nobody holds sled's lock on `DIR/db/db`.
pub async fn wait_for_release(data_dir: &Path) {
    let lock_file = data_dir.join("db").join("db");
    for _ in 0..200 {
        let file = std::fs::File::open(&lock_file).expect("the store's db/db file");
        match file.try_lock() {
            Ok(()) => return,
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(std::fs::TryLockError::Error(e)) => panic!("locking {lock_file:?}: {e}"),
        }
    }
    panic!("the store is still held after 10 s");
}

#[tokio::test]
async fn audit_verify_passes_on_what_the_server_wrote_and_names_the_record_with_a_flipped_byte() {
    // `audit verify` on a sled data directory (its walk in PostgreSQL is the next test).
    let mut app = spawn_app_with(|s| s.store.backend = fidoflow::config::StoreBackend::Sled).await;
    app.create_user("alice", Some(PASSWORD)).await;
    app.create_user("bob", None).await;
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    let (status, _) = app
        .admin(
            Method::DELETE,
            "/rest/admin/users/bob",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The helpdesk sees each record's hash and the hash of the one before it.
    let (status, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/audit?page[size]=100",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let events = doc["data"].as_array().expect("events").clone();
    assert!(events.len() >= 4, "{doc}");
    for pair in events.windows(2) {
        let (newer, older) = (&pair[0]["attributes"], &pair[1]["attributes"]);
        let hash = older["hash"].as_str().expect("hash");
        assert_eq!(hash.len(), 64, "{older}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{older}");
        assert_eq!(newer["prevHash"], older["hash"], "{doc}");
    }
    let oldest = &events.last().unwrap()["attributes"];
    assert_eq!(oldest["prevHash"].as_str().map(str::len), Some(64));

    app.stop_and_release_store().await;
    let dir = app.data_dir.path();
    let (status, out, err) = audit_verify(dir);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.starts_with("OK"), "{out}");
    assert!(
        out.contains(&format!("holds {} records", events.len())),
        "{out}"
    );
    let newest_hash = events[0]["attributes"]["hash"].as_str().unwrap();
    assert!(out.contains(newest_hash), "{out}");

    // Flip one byte in the middle of the second record's stored value.
    let seq = {
        let db = sled::open(dir.join("db")).expect("the stopped server's store opens");
        let audit = db.open_tree("audit").unwrap();
        let (key, value) = audit.iter().nth(1).unwrap().unwrap();
        let mut changed = value.to_vec();
        let middle = changed.len() / 2;
        changed[middle] ^= 0x20;
        audit.insert(&key, changed).unwrap();
        db.flush().unwrap();
        u64::from_be_bytes(key.as_ref().try_into().unwrap())
    };
    assert_eq!(seq.to_string(), events[events.len() - 2]["id"]);
    wait_for_release(dir).await;
    let (status, out, err) = audit_verify(dir);
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.starts_with("BROKEN"), "{out}");
    assert!(
        out.contains(&format!("audit record seq {seq} was changed")),
        "{out}"
    );

    // A directory without a store is refused, not made.
    let empty = tempfile::tempdir().unwrap();
    let (status, out, err) = audit_verify(empty.path());
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("holds no fidoflow store"), "{err}");
    assert!(!empty.path().join("db").exists());
}

/// Runs `fidoflow audit verify ARGS…` with `env` as its only `FIDOFLOW_*` variables.
fn audit_verify_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["audit", "verify"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the fidoflow binary runs");
    (
        output.status.code().expect("an exit status"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs one SQL statement on the database at `url`, behind the store's back.
fn tamper(url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    });
}

#[test]
fn audit_verify_walks_the_chain_in_postgresql_given_its_url() {
    use fidoflow::store::{
        AuditEvent, AuditKind, AuditLog, AuditRetention, Outcome, PgOptions, PgStore,
    };

    let url = fidoflow::store::pg_testing::fresh_database_url();
    let dir = tempfile::tempdir().unwrap();
    let options = PgOptions {
        url: url.clone(),
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let store = PgStore::connect(&options, dir.path()).expect("the test database");
    let start = chrono::Utc::now() - chrono::Duration::days(10);
    for day in 0..6 {
        store
            .append(AuditEvent::new(
                start + chrono::Duration::days(day),
                AuditKind::PasswordCheck,
                "anonymous",
                Outcome::Failure,
                format!("day {day}"),
            ))
            .unwrap();
    }
    // Retention leaves a checkpoint signed with the key in the data directory.
    let retention = AuditRetention {
        max_age: Some(chrono::Duration::days(7)),
        max_bytes: u64::MAX,
    };
    assert_eq!(
        store
            .trim(start + chrono::Duration::days(10), &retention)
            .unwrap()
            .by_age,
        3
    );
    let head = store.verify_chain(None).unwrap().unwrap().head.unwrap();
    drop(store);

    let data_dir = dir.path().to_str().unwrap();
    let (status, out, err) = audit_verify_with(&["--store-url", &url, "--data-dir", data_dir], &[]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.starts_with("OK: the audit log in the database"),
        "{out}"
    );
    assert!(out.contains("holds 4 records"), "{out}");
    assert!(out.contains("a checkpoint after seq 3"), "{out}");
    assert!(out.contains(&head.1), "{out}");

    // FIDOFLOW_STORE_URL stands for the option; a changed record is named.
    tamper(
        &url,
        "UPDATE audit SET record = convert_to(replace(convert_from(record, 'UTF8'), 'day 4', 'day 9'), 'UTF8') \
         WHERE seq = 5",
    );
    let (status, out, err) = audit_verify_with(
        &["--data-dir", data_dir],
        &[("FIDOFLOW_STORE_URL", url.as_str())],
    );
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.starts_with("BROKEN"), "{out}");
    assert!(out.contains("audit record seq 5 was changed"), "{out}");

    // Without the key file the checkpoint cannot be trusted.
    let elsewhere = tempfile::tempdir().unwrap();
    let (status, out, err) = audit_verify_with(
        &[
            "--store-url",
            &url,
            "--data-dir",
            elsewhere.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains("cannot be trusted"), "{out}");

    // A database that cannot be reached is a failure to read (2), its password not shown.
    let (status, out, err) = audit_verify_with(
        &[
            "--store-url",
            "postgres://fidoflow:secret@127.0.0.1:1/none",
            "--data-dir",
            data_dir,
        ],
        &[],
    );
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains("postgres://fidoflow:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
