//! Audit retention end to end: the server's own purge loop (shortened for the test) removes the
//! records older than `audit.retain` once the clock moves past it, the helpdesk API shows them
//! gone and an `AUDIT_TRIMMED` record in their place, and `fidoflow audit verify` (the real
//! binary) passes on the stopped server's directory from the signed checkpoint, with the
//! directory's key or the public key `fidoflow audit public-key` printed, and fails naming the
//! checkpoint's seq once one byte of the checkpoint is changed.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::audit_chain::{audit_verify, wait_for_release};
use crate::common::app::{spawn_app_with, TestApp, ADMIN_TOKEN, PASSWORD};

/// Runs `fidoflow audit ARGS…` without the test runner's `FIDOFLOW_*` variables.
fn fidoflow_audit(args: &[&str], data_dir: &Path) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("the fidoflow binary runs");
    (
        output.status.code().expect("an exit status"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every audit event the admin API lists, newest first, as (seq, attributes).
async fn audit_events(app: &TestApp, query: &str) -> Vec<(u64, Value)> {
    let (status, doc) = app
        .admin(
            Method::GET,
            &format!("/rest/admin/audit?page[size]=100{query}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let seq = e["id"].as_str().expect("id").parse().expect("a seq");
            (seq, e["attributes"].clone())
        })
        .collect()
}

#[tokio::test]
async fn retention_removes_old_records_behind_a_signed_checkpoint_that_audit_verify_checks() {
    // `fidoflow audit verify` on the data directory: the sled store's (the PostgreSQL walk has
    // its own test in audit_chain.rs).
    let mut app = spawn_app_with(|s| {
        s.store.backend = fidoflow::config::StoreBackend::Sled;
        s.audit.retain = Some(Duration::from_secs(24 * 60 * 60));
        s.server.purge_interval = Duration::from_millis(100);
    })
    .await;
    app.create_user("alice", Some(PASSWORD)).await;
    app.create_user("bob", None).await;
    app.browser().login("alice", PASSWORD).await;
    let old = audit_events(&app, "").await;
    assert!(old.len() >= 3, "{old:?}");
    let newest_old = old[0].0;
    assert!(!audit_events(&app, "&username=alice").await.is_empty());

    // Two days later the old records are past the one day kept; a new one is not.
    app.advance(chrono::Duration::days(2));
    app.create_user("carol", None).await;
    let mut events = Vec::new();
    for _ in 0..100 {
        events = audit_events(&app, "").await;
        if events.iter().any(|(_, e)| e["event"] == "AUDIT_TRIMMED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trimmed = events
        .iter()
        .find(|(_, e)| e["event"] == "AUDIT_TRIMMED")
        .unwrap_or_else(|| panic!("no AUDIT_TRIMMED record: {events:?}"));
    assert!(
        trimmed.1["detail"].as_str().unwrap().starts_with(&format!(
            "removed {} audit records up to seq {newest_old}: {} older than the retention period",
            old.len(),
            old.len()
        )),
        "{}",
        trimmed.1
    );
    assert_eq!(trimmed.1["actor"], "system");
    assert!(
        events.iter().all(|(seq, _)| *seq > newest_old),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|(_, e)| e["event"] == "USER_CREATED" && e["username"] == "carol"));
    // The per-user view lost alice's old records too.
    assert!(audit_events(&app, "&username=alice").await.is_empty());
    // The trimmed record is chained to the new one before it, or to the checkpoint.
    let kept = events.len();

    app.stop_and_release_store().await;
    let dir = app.data_dir.path();
    let (status, out, err) = audit_verify(dir);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains(&format!("holds {kept} records")), "{out}");
    assert!(
        out.contains(&format!(
            "hash-chained from a checkpoint after seq {newest_old} (hash "
        )),
        "{out}"
    );
    assert!(out.contains("signed 20"), "{out}");
    assert!(out.contains("audit-signing.key"), "{out}");

    // The public key, kept elsewhere, checks the checkpoint as well, as text or as a file.
    let (status, public_key, err) = fidoflow_audit(&["public-key"], dir);
    assert_eq!(status, 0, "{err}");
    let public_key = public_key.trim().to_string();
    assert_eq!(public_key.len(), 44, "{public_key}");
    let (status, out, err) = fidoflow_audit(&["verify", "--public-key", &public_key], dir);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("the public key given"), "{out}");
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), format!("{public_key}\n")).unwrap();
    let key_path = key_file.path().to_str().unwrap();
    let (status, out, err) = fidoflow_audit(&["verify", "--public-key", key_path], dir);
    assert_eq!(status, 0, "{out}{err}");
    let (status, out, err) = fidoflow_audit(&["verify", "--public-key", "bm90IGEga2V5"], dir);
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("32-byte Ed25519 public key"), "{err}");

    // One changed byte of the checkpoint (in its hash) is found, naming its seq.
    {
        let db = sled::open(dir.join("db")).expect("the stopped server's store opens");
        let meta = db.open_tree("audit_meta").unwrap();
        let mut checkpoint = meta
            .get("checkpoint")
            .unwrap()
            .expect("a checkpoint")
            .to_vec();
        let at = checkpoint
            .windows(8)
            .position(|w| w == b"\"hash\":\"")
            .expect("the checkpoint's hash")
            + 8;
        checkpoint[at] = if checkpoint[at] == b'0' { b'1' } else { b'0' };
        meta.insert("checkpoint", checkpoint).unwrap();
        db.flush().unwrap();
    }
    wait_for_release(dir).await;
    for args in [&["verify"][..], &["verify", "--public-key", &public_key]] {
        let (status, out, err) = fidoflow_audit(args, dir);
        assert_eq!(status, 1, "{out}{err}");
        assert!(
            out.starts_with(&format!(
                "BROKEN: the audit log in {} fails at seq {newest_old}: the audit checkpoint \
                 after seq {newest_old} cannot be trusted: its signature does not verify",
                dir.display()
            )),
            "{out}"
        );
    }
}
