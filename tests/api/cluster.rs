//! Three fidoflow nodes (the real binary, each with its own data directory) on one PostgreSQL
//! database and one cookie key, as behind a load balancer: a ceremony begun on one node is
//! finished on another, a session made on one is used on the others, a lock engaged on one
//! holds on all, a metadata BLOB imported on one is in use on the others within 5 s; 64
//! concurrent assertions of one credential spread over the three, exactly one winning per
//! counter value; then one node is killed with SIGKILL under load and the others carry on, with
//! no acknowledged write lost.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{code, decode, server_command, Browser, ADMIN_TOKEN, ORIGIN, PASSWORD};
use crate::common::softauthn::SoftAuthenticator;

/// One node: the binary, the base URL it serves.
struct Node {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a node on the database `url` with the cluster's cookie key; waits for its port.
fn start_node(url: &str, session_key: &str, mds_root: &std::path::Path) -> Node {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("fidoflow.toml");
    std::fs::write(
        &config,
        "[passwords]\nmemory_kib = 1024\niterations = 1\n\
         [rate_limits]\nenabled = false\n\
         [lockout]\nmax_failures = 100\n",
    )
    .unwrap();
    let mut command = server_command(&config, data.path());
    command
        .env("FIDOFLOW_STORE_URL", url)
        .env("FIDOFLOW_SESSION_KEY", session_key)
        .env("FIDOFLOW_MDS_ROOTS", mds_root)
        .stderr(Stdio::inherit());
    let mut child = command.spawn().expect("the fidoflow binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let port = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the node logs the port it listens on");
        if let Some(rest) = line
            .contains("fidoflow listening")
            .then(|| line.split("port=").nth(1))
            .flatten()
        {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u16>()
                .unwrap();
        }
    };
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _data: data,
    }
}

async fn admin(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    decode(request.send().await.expect("admin request")).await
}

/// A browser whose cookie jar serves every node (cookies are per host, not per port).
fn browser(base: &str, authenticator: SoftAuthenticator) -> Browser {
    Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
        base: base.to_string(),
        authenticator,
    }
}

/// The assertion's signature counter (authenticatorData bytes 33..37).
fn counter_of(assertion: &Value) -> u32 {
    let data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(assertion["response"]["authenticatorData"].as_str().unwrap())
        .unwrap();
    u32::from_be_bytes(data[33..37].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_database_share_ceremonies_sessions_locks_and_metadata() {
    let url = fidoflow::store::pg_testing::fresh_database_url();
    let key =
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>().repeat(2));
    let fx = crate::mds::Fixture::new();
    let root = fx.dir.path().join("mds-root.pem");
    // Three nodes starting at once: one migrates the empty database, the others wait for it.
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (url, key, root) = (url.clone(), key.clone(), root.clone());
            std::thread::spawn(move || start_node(&url, &key, &root))
        })
        .collect();
    let mut nodes: Vec<Node> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();

    // A user made on node 0 signs in on node 1; the session is used on node 2, where a
    // registration begins, and the registration finishes on node 0.
    let (status, doc) = admin(
        &bases[0],
        reqwest::Method::POST,
        "/rest/admin/users",
        Some(json!({ "username": "alice", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let mut alice = browser(&bases[1], SoftAuthenticator::new());
    alice.login("alice", PASSWORD).await;
    alice.base = bases[2].clone();
    let options = alice.start_registration(Some("Key")).await;
    let credential = alice.authenticator.register(&options, ORIGIN);
    alice.base = bases[0].clone();
    let (status, doc) = alice.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    alice.base = bases[1].clone();
    assert_eq!(alice.credentials().await.len(), 1);

    // Sign-in with the passkey: password on node 2, challenge on node 0, assertion on node 1.
    let mut alice = browser(&bases[2], alice.authenticator);
    alice.login("alice", PASSWORD).await;
    alice.base = bases[0].clone();
    let (status, doc) = alice
        .post(
            "/rest/public/authentication/fido/challenge/retrieve",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let request = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let assertion = alice.authenticator.authenticate(&request, ORIGIN);
    alice.base = bases[1].clone();
    let (status, doc) = alice
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion.clone() }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // The ceremony was taken once: the same response on node 2 finds no ceremony.
    alice.base = bases[2].clone();
    let (status, _) = alice
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A lock engaged by failures spread over the nodes holds on every node.
    admin(
        &bases[0],
        reqwest::Method::POST,
        "/rest/admin/users",
        Some(json!({ "username": "mallory", "password": PASSWORD })),
    )
    .await;
    let client = reqwest::Client::new();
    for i in 0..100 {
        let response = client
            .post(format!(
                "{}/rest/public/authentication/password/check",
                bases[i % 3]
            ))
            .header("X-Same-Domain", "1")
            .json(&json!({ "username": "mallory", "password": "wrong guess" }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    for base in &bases {
        let (status, doc) = decode(
            client
                .post(format!("{base}/rest/public/authentication/password/check"))
                .header("X-Same-Domain", "1")
                .json(&json!({ "username": "mallory", "password": PASSWORD }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::FORBIDDEN, "USER_LOCKED"),
            "{doc}"
        );
    }

    // A metadata BLOB imported on node 0 is in use on nodes 1 and 2 within 5 s.
    let blob =
        std::fs::read_to_string(fx.blob(7, "2099-01-01", json!([{"status": "FIDO_CERTIFIED_L1"}])))
            .unwrap();
    let response = client
        .put(format!("{}/rest/admin/mds", bases[0]))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "application/jwt")
        .body(blob)
        .send()
        .await
        .unwrap();
    let (status, doc) = decode(response).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let imported = Instant::now();
    for base in &bases[1..] {
        loop {
            let (status, doc) = admin(base, reqwest::Method::GET, "/rest/admin/mds", None).await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            if doc["data"]["attributes"]["number"] == 7 {
                break;
            }
            assert!(imported.elapsed() < Duration::from_secs(5), "{base}: {doc}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A tenant made through the admin API on node 0 is served by nodes 1 and 2 within 5 s,
    // and gone from them within 5 s of its deletion.
    let (status, doc) = admin(
        &bases[0],
        reqwest::Method::POST,
        "/rest/admin/tenants",
        Some(crate::tenants_admin::fresh_settings()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let until_every_node = |expected: StatusCode| {
        let bases = bases.clone();
        async move {
            let made = Instant::now();
            for base in &bases[1..] {
                loop {
                    let (status, doc) = admin(
                        base,
                        reqwest::Method::GET,
                        "/rest/admin/tenants/fresh",
                        None,
                    )
                    .await;
                    if status == expected {
                        break;
                    }
                    assert!(
                        made.elapsed() < Duration::from_secs(5),
                        "{base}: {status} {doc}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    until_every_node(StatusCode::OK).await;
    let (status, doc) = admin(
        &bases[0],
        reqwest::Method::DELETE,
        "/rest/admin/tenants/fresh",
        None,
    )
    .await;
    assert!(status.is_success(), "{status}: {doc}");
    until_every_node(StatusCode::NOT_FOUND).await;

    // 64 concurrent assertions of alice's credential over the three nodes, made by two copies
    // of her authenticator (so every counter value is sent twice): exactly one wins per value,
    // the others are refused as a possible clone, and the stored counter is the highest winner.
    let mut copies = [alice.authenticator.clone(), alice.authenticator.clone()];
    let _ = &alice;
    let mut sessions = Vec::new();
    for i in 0..64 {
        let b = browser(&bases[i % 3], SoftAuthenticator::new());
        b.login("alice", PASSWORD).await;
        let mut b = b;
        b.base = bases[(i + 1) % 3].clone();
        let (status, doc) = b
            .post(
                "/rest/public/authentication/fido/challenge/retrieve",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        let request = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
        let assertion = copies[i % 2].authenticate(&request, ORIGIN);
        b.base = bases[(i + 2) % 3].clone();
        sessions.push((b, assertion));
    }
    let sends = sessions.into_iter().map(|(b, assertion)| {
        tokio::spawn(async move {
            let counter = counter_of(&assertion);
            let (status, doc) = b
                .post(
                    "/rest/public/authentication/fido/assertion-response/check",
                    json!({ "publicKeyCredential": assertion }),
                )
                .await;
            (counter, status, doc)
        })
    });
    let mut winners = std::collections::BTreeMap::<u32, usize>::new();
    for outcome in futures_util::future::join_all(sends).await {
        let (counter, status, doc) = outcome.unwrap();
        match status {
            StatusCode::OK => *winners.entry(counter).or_default() += 1,
            StatusCode::BAD_REQUEST => {
                assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED", "{doc}")
            }
            other => panic!("{other}: {doc}"),
        }
    }
    assert!(!winners.is_empty());
    assert!(winners.values().all(|n| *n == 1), "{winners:?}");
    let (status, doc) = admin(
        &bases[2],
        reqwest::Method::GET,
        "/rest/admin/users/alice/fido/credentials",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let stored = doc["data"][0]["attributes"]["signCount"].as_u64().unwrap() as u32;
    assert_eq!(stored, *winners.keys().last().unwrap(), "{doc}");

    // Node 2 is killed mid-load; nodes 0 and 1 carry on, and every user a node acknowledged
    // (201) is there.
    let load: Vec<_> = (0..90)
        .map(|i| {
            let base = bases[i % 3].clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
                let response = reqwest::Client::new()
                    .post(format!("{base}/rest/admin/users"))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({ "username": format!("load{i}"), "password": PASSWORD }))
                    .send()
                    .await;
                (i, response.map(|r| r.status()).ok())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = nodes.pop().unwrap();
    let pid = rustix::process::Pid::from_raw(killed.child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let mut acknowledged = Vec::new();
    for outcome in futures_util::future::join_all(load).await {
        let (i, status) = outcome.unwrap();
        match status {
            Some(StatusCode::CREATED) => acknowledged.push(i),
            Some(other) if i % 3 != 2 => panic!("load{i} on a live node: {other}"),
            None if i % 3 != 2 => panic!("load{i} on a live node got no answer"),
            _ => {}
        }
    }
    assert!(acknowledged.iter().filter(|i| *i % 3 != 2).count() == 60);
    for i in acknowledged {
        let (status, doc) = admin(
            &bases[i % 2],
            reqwest::Method::GET,
            &format!("/rest/admin/users/load{i}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "load{i}: {doc}");
    }
    // The survivors still sign users in (with an authenticator whose counter is past all the
    // above).
    let mut authenticator = copies[0].clone();
    authenticator.sign_count = stored;
    let mut alice = browser(&bases[1], authenticator);
    let (status, doc) = alice.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    drop(killed);
}
