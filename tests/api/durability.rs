//! The durability rule: what the contract names is on disk before the answer goes out, so a
//! `kill -9` of the real binary right after a `200` loses nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::app::{Browser, ADMIN_TOKEN, PASSWORD};
use crate::common::softauthn::SoftAuthenticator;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

/// Starts the real binary on `data_dir` (port 0, rate limits off) and waits for its port.
pub(crate) fn start(data_dir: &std::path::Path) -> Server {
    start_with(data_dir, None)
}

/// [`start`], reading the configuration file `config` when given.
pub(crate) fn start_with(data_dir: &std::path::Path, config: Option<&std::path::Path>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    // The test runner's own `FIDOFLOW_*` variables (e.g. FIDOFLOW_SKIP_BROWSER_TESTS) are not
    // the server's: it refuses any it does not read.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    if let Some(config) = config {
        command.env("FIDOFLOW_CONFIG", config);
    }
    let mut child = command
        .env("FIDOFLOW_BIND", "127.0.0.1:0")
        .env("FIDOFLOW_DATA_DIR", data_dir)
        .env(
            "FIDOFLOW_FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        )
        .env("FIDOFLOW_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("FIDOFLOW_RATE_LIMITS", "off")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the fidoflow binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut port = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("log line");
        if let Some(rest) = line.split("port=").nth(1) {
            port = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
    }
    let port = port.expect("the server logs the port it listens on");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

#[tokio::test]
async fn a_kill_9_right_after_the_answers_loses_no_user_credential_or_session() {
    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path());
    let (status, doc) = crate::common::app::decode(
        reqwest::Client::new()
            .post(format!("{}/rest/admin/users", server.base))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"username": "erin", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let mut browser = Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        base: server.base.clone(),
        authenticator: SoftAuthenticator::new(),
    };
    browser.login("erin", PASSWORD).await;
    let id = browser.register(Some("Kept")).await;

    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();

    let mut server = start(data.path());
    browser.base = server.base.clone();
    let list = browser.credentials().await;
    assert_eq!(
        list.len(),
        1,
        "the signed-in session and the credential survive"
    );
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["attributes"]["displayName"], "Kept");
    server.child.kill().ok();
    server.child.wait().ok();
}

/// Group commit under load: registrations through a tenant's backend API from 8 callers at
/// once, the server killed with SIGKILL in the middle of them, and every registration that was
/// answered `200` is there after the restart (those cut off may or may not be).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_a_registration_load_loses_no_acknowledged_credential() {
    use std::sync::{Arc, Mutex};

    use crate::authfi::{two_tenants, Backend, DEMO_KEY, DEMO_ORIGIN};
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("fidoflow.toml");
    std::fs::write(&config, two_tenants()).unwrap();
    let mut server = start_with(data.path(), Some(&config));
    let backend = |base: &str| Backend::at(base, "ZGVtby5leGFtcGxl", DEMO_KEY);

    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let callers: Vec<_> = (0..8)
        .map(|caller| {
            let (backend, acknowledged) = (backend(&server.base), acknowledged.clone());
            tokio::spawn(async move {
                let mut authenticator = SoftAuthenticator::new();
                for i in 0.. {
                    let name = format!("user-{caller}-{i}");
                    match backend
                        .try_register(&name, &mut authenticator, DEMO_ORIGIN)
                        .await
                    {
                        Some(done) => acknowledged.lock().unwrap().push((
                            done["uid"].as_str().unwrap().to_string(),
                            done["key_info"]["credential_id"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                        )),
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Kill once the load runs (some registrations answered), whatever is in flight, within a
    // millisecond of an answer: sled writes its buffers out by itself every 500 ms, so only an
    // answer that did not wait for its flush is likely to be lost then.
    let began = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 40
        || began.elapsed() < std::time::Duration::from_millis(700)
    {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for caller in callers {
        caller.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let mut server = start_with(data.path(), Some(&config));
    let backend = backend(&server.base);
    for (uid, credential_id) in &acknowledged {
        let (status, keys) = backend.get(&format!("/users/{uid}/keys")).await;
        assert_eq!(status, StatusCode::OK, "{uid}: {keys}");
        assert!(
            keys["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["credential_id"] == credential_id.as_str()),
            "{uid} lost {credential_id}: {keys}"
        );
    }
    server.child.kill().ok();
    server.child.wait().ok();
}
