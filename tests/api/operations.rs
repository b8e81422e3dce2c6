//! Operations: the health endpoints (on the real server of `spawn_app`), and the real binary's
//! log (text and JSON, the request id on each request's line, health probes kept out of the info
//! log) and graceful shutdown on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{server_command, spawn_app, spawn_app_with, ADMIN_TOKEN, PASSWORD};

async fn get(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("an answer");
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(cache.as_deref(), Some("no-store"), "{url}");
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn live_and_ready_answer_200_without_a_token() {
    let app = spawn_app().await;
    let (status, body) = get(&format!("{}/health/live", app.base)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "status": "live" }))
    );
    let (status, body) = get(&format!("{}/health/ready", app.base)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"], "writable");
    assert!(
        body["checks"]["flows"]
            .as_str()
            .unwrap()
            .ends_with("flows loaded"),
        "{body}"
    );
    assert_eq!(body["checks"]["metadata"], "none imported");
    assert!(body.get("reason").is_none(), "{body}");
    // Another method is refused, not taken for something else.
    let response = reqwest::Client::new()
        .post(format!("{}/health/ready", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn with_admin_bind_both_listeners_answer_the_health_endpoints() {
    let app = spawn_app_with(|s| s.admin.bind = Some("127.0.0.1:0".parse().unwrap())).await;
    assert_ne!(app.admin_base, app.base);
    for base in [&app.base, &app.admin_base] {
        for path in ["/health/live", "/health/ready"] {
            let (status, body) = get(&format!("{base}{path}")).await;
            assert_eq!(status, StatusCode::OK, "{base}{path}: {body}");
        }
    }
}

#[tokio::test]
async fn ready_answers_503_with_the_reason_while_the_store_takes_no_writes() {
    // sled's fault injection (a full disk).
    let app = spawn_app_with(|s| s.store.backend = fidoflow::config::StoreBackend::Sled).await;
    let ready = format!("{}/health/ready", app.base);
    assert_eq!(get(&ready).await.0, StatusCode::OK);

    app.store_faults
        .fail_writes("No space left on device (os error 28)");
    let (status, body) = get(&ready).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready");
    let reason = body["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("store: the store does not take writes")
            && reason.contains("No space left on device"),
        "{reason}"
    );
    assert_eq!(
        body["checks"]["store"],
        reason.trim_start_matches("store: ")
    );
    // The process is still up: live says so, whatever the store does.
    let (status, _) = get(&format!("{}/health/live", app.base)).await;
    assert_eq!(status, StatusCode::OK);

    app.store_faults.clear();
    let (status, body) = get(&ready).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The real binary on a data directory, its stdout read line by line.
struct Server {
    child: Child,
    base: String,
    /// The `fidoflow listening` line.
    listening: String,
    lines: mpsc::Receiver<String>,
}

/// Starts the binary on `data_dir` (port 0) with `env` on top of the test settings, and waits for
/// the `fidoflow listening` line: `port=N` in text, `"port":N` in JSON.
fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let config = data_dir.join("fidoflow.toml");
    // Slow password hashes, so a password check is still running when the signal comes.
    std::fs::write(
        &config,
        "[passwords]\nmemory_kib = 65536\niterations = 24\n[rate_limits]\nenabled = false\n",
    )
    .unwrap();
    let mut command = server_command(&config, data_dir);
    command.stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the fidoflow binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (port, listening) = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs the port it listens on");
        if !line.contains("fidoflow listening") {
            continue;
        }
        let port = match line.split("port=").nth(1) {
            Some(rest) => rest.split_whitespace().next().map(str::to_owned),
            None => serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v["fields"]["port"].as_u64())
                .map(|p| p.to_string()),
        };
        let port = port
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line}"));
        break (port, line);
    };
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        listening,
        lines,
    }
}

impl Server {
    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, signal).expect("the signal is sent");
    }

    /// Waits (at most 20 s) for the process to exit; its exit code and every line it logged.
    fn wait(mut self) -> (Option<i32>, Vec<String>) {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("the process") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.lines.try_iter().collect());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the server did not exit within 20 s of the signal");
    }
}

async fn create_user(base: &str, username: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/rest/admin/users"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn user_status(base: &str, username: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/rest/admin/users/{username}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0_with_the_data_kept() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &[]);
    create_user(&server.base, "erin").await;
    for _ in 0..3 {
        assert_eq!(
            get(&format!("{}/health/ready", server.base)).await.0,
            StatusCode::OK
        );
    }

    // A password check (a slow hash) is running when SIGTERM comes: it still gets its answer.
    let check = tokio::spawn({
        let url = format!("{}/rest/public/authentication/password/check", server.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("X-Same-Domain", "1")
                .json(&json!({ "username": "erin", "password": PASSWORD }))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal(rustix::process::Signal::TERM);
    let answered = check
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answered, StatusCode::OK);
    // The listener is closed: no new request is taken.
    assert!(reqwest::get(format!("{}/health/live", server.base))
        .await
        .is_err());
    let (code, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{log:#?}");

    // The access log: each request at info with its request id, the health probes not at all.
    let access: Vec<&String> = log.iter().filter(|l| l.contains(" request ")).collect();
    assert!(
        access
            .iter()
            .any(|l| l.contains("path=/rest/admin/users") && l.contains("status=201")),
        "{log:#?}"
    );
    assert!(
        access.iter().all(|l| l.contains("request_id=")),
        "{access:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("/health/")), "{log:#?}");
    // The check was answered after the signal came, and the store flushed after that.
    let position = |text: &str| {
        log.iter()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text}: {log:#?}"))
    };
    let signalled = position("shutting down: finishing the requests in flight");
    assert!(log[signalled].contains("SIGTERM"), "{log:#?}");
    let finished = position("path=/rest/public/authentication/password/check status=200");
    assert!(signalled < finished, "{log:#?}");
    assert!(finished < position("fidoflow stopped"), "{log:#?}");

    // What was written before the signal is there after a restart.
    let server = start(data.path(), &[]);
    assert_eq!(user_status(&server.base, "erin").await, StatusCode::OK);
    server.signal(rustix::process::Signal::INT);
    let (code, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert_eq!(code, Some(0), "SIGINT: {log:#?}");
}

/// A flow begun before a graceful shutdown goes on after the restart: its session, kept in
/// memory while nobody is signed in to it, is written to the store on SIGTERM.
#[tokio::test]
async fn a_flow_begun_before_sigterm_goes_on_after_the_restart() {
    const AUTH: &str = "/rest/public/authentication";
    let data = tempfile::tempdir().unwrap();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let post = |client: &reqwest::Client, url: String| {
        client
            .post(url)
            .header("X-Same-Domain", "1")
            .json(&json!({}))
            .send()
    };
    let server = start(data.path(), &[]);
    let access = format!(
        "{}{AUTH}/applications/fido-passwordless/access",
        server.base
    );
    let response = post(&browser, access).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.signal(rustix::process::Signal::TERM);
    let (code, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("kept in memory written to the store")),
        "{log:#?}"
    );

    let server = start(data.path(), &[]);
    let challenge = format!("{}{AUTH}/fido/challenge/retrieve", server.base);
    let response = post(&browser, challenge.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the flow went on");
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["data"]["attributes"]["publicKeyCredentialRequestOptions"]["challenge"].is_string(),
        "{doc}"
    );
    // Without the session, the same call is out of turn.
    let stranger = post(&reqwest::Client::new(), challenge).await.unwrap();
    assert_ne!(stranger.status(), StatusCode::OK);
    server.signal(rustix::process::Signal::TERM);
    tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
}

#[tokio::test]
async fn json_logs_carry_the_request_id_of_each_request_and_the_port() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &[("FIDOFLOW_LOG_FORMAT", "json")]);
    create_user(&server.base, "frank").await;
    let audit: Value = reqwest::Client::new()
        .get(format!("{}/rest/admin/audit", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["username"] == "frank")
        .unwrap_or_else(|| panic!("no audit record of frank: {audit}"));
    let request_id = created["attributes"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no requestId: {created}"))
        .to_owned();
    let (base, listening) = (server.base.clone(), server.listening.clone());
    server.signal(rustix::process::Signal::TERM);
    let (code, log) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{log:#?}");

    let lines: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "request"
                && l["fields"]["method"] == "POST"
                && l["fields"]["path"] == "/rest/admin/users"
        })
        .unwrap_or_else(|| panic!("no access line of the POST: {log:#?}"));
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["fields"]["status"], 201);
    assert_eq!(
        access["fields"]["request_id"],
        request_id.as_str(),
        "{access}"
    );
    for line in lines.iter().filter(|l| l["fields"]["message"] == "request") {
        assert!(line["fields"]["request_id"].is_string(), "{line}");
    }
    let listening: Value = serde_json::from_str(&listening).expect("a JSON listening line");
    assert_eq!(listening["level"], "INFO");
    assert_eq!(
        format!("http://127.0.0.1:{}", listening["fields"]["port"]),
        base
    );
}

/// A browser's `POST …/access` carries `{}`, which that handler never reads; the answer must
/// still keep the connection open (actix closes it over unread body bytes), or every sign-in
/// pays for a new TCP connection.
#[tokio::test]
async fn an_unread_request_body_does_not_close_the_connection() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = spawn_app().await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /rest/public/authentication/applications/fido-passwordless/access HTTP/1.1\r\n\
         Host: {address}\r\nContent-Type: application/json\r\nX-Same-Domain: 1\r\n\
         Origin: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        crate::common::app::ORIGIN
    );
    for round in 0..2 {
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // One answer: headers, then a body of the length they declare.
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
                .await
                .expect("an answer")
                .unwrap();
            assert!(n > 0, "round {round}: the server closed the connection");
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 401"), "round {round}: {text}");
        assert!(
            !text.contains("connection: close"),
            "round {round}: the answer closes the connection: {text}"
        );
    }
}
