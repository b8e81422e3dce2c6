//! `503 SERVER_BUSY` is the server working as configured, not failing: a flood of refusals is
//! logged at WARN, sampled, never one ERROR line per refusal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

const PASSWORD_CHECK: &str = "/rest/public/authentication/password/check";

#[tokio::test]
async fn a_flood_of_server_busy_refusals_logs_sampled_warnings_and_no_errors() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("fidoflow.toml");
    std::fs::write(
        &config,
        "[rate_limits]\nenabled = false\npassword_hash_concurrency = 1\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .env("FIDOFLOW_CONFIG", &config)
        .env("FIDOFLOW_BIND", "127.0.0.1:0")
        .env("FIDOFLOW_DATA_DIR", data.path())
        .env(
            "FIDOFLOW_FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the fidoflow binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs the port it listens on");
        if let Some(rest) = line.split("port=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .expect("a port");
        }
    };
    let url = format!("http://127.0.0.1:{port}{PASSWORD_CHECK}");

    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..60)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                client
                    .post(&url)
                    .header("X-Same-Domain", "1")
                    .header("Origin", "http://localhost:8080")
                    .json(&json!({ "username": format!("guess{i}"), "password": "wrong" }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert!(busy >= 2, "the flood got {busy} 503s: {statuses:?}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();

    let log: Vec<String> = lines.try_iter().collect();
    let errors: Vec<&String> = log.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{busy} refusals: {errors:#?}");
    let warnings = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("SERVER_BUSY"))
        .count();
    assert!(
        (1..busy).contains(&warnings),
        "{busy} refusals made {warnings} warnings: {log:#?}"
    );
}
