//! The first ten minutes (issue 16): the real binary, started in an empty directory with nothing
//! configured but a port, says what it serves and where to open it, serves its built-in pages and
//! flows, sends a page opened at an IP address to its origin, says why a call from another
//! origin is refused, and stops on a bad configuration with the message alone.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::app::{code, detail, server_command};

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Reads the log until a line contains `text` (at most 60 s); that line.
    fn line_with(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no log line with {text:?} in {:#?}", self.seen));
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }
}

/// The binary in `cwd` with only `env` set (no configuration file, no flows or data directory,
/// no admin token); its log read from stdout.
fn start_bare(cwd: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let mut command = server_command(std::path::Path::new("unused"), cwd);
    for name in [
        "FIDOFLOW_CONFIG",
        "FIDOFLOW_BIND",
        "FIDOFLOW_DATA_DIR",
        "FIDOFLOW_FLOWS_DIR",
        "FIDOFLOW_ADMIN_TOKEN",
    ] {
        command.env_remove(name);
    }
    command.current_dir(cwd).stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the fidoflow binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Server {
        child,
        lines,
        seen: Vec::new(),
    }
}

#[tokio::test]
async fn a_bare_binary_in_an_empty_directory_serves_its_pages_and_flows_on_the_origin_it_prints() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_bare(
        cwd.path(),
        &[("FIDOFLOW_BIND", &format!("127.0.0.1:{port}"))],
    );
    let origin = format!("http://localhost:{port}");
    server.line_with(&format!("open {origin}"));
    for text in [
        "configuration: none: built-in defaults".to_string(),
        format!("relying party: id localhost, origins {origin} (derived from server.bind)"),
        "data directory: ./data".to_string(),
        "store: sled".to_string(),
        "flows (built in): default".to_string(),
        "fido-registration".to_string(),
        "pages (built in)".to_string(),
        "admin API: off, no admin token is configured (set FIDOFLOW_ADMIN_TOKEN".to_string(),
        "metadata: none imported".to_string(),
    ] {
        server.line_with(&text);
    }
    assert!(
        !server.seen.iter().any(|l| l.contains("WARN")),
        "{:#?}",
        server.seen
    );

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Opened at the IP address: sent to the origin, path and query kept.
    for (path, location) in [("/", "/"), ("/helpdesk?tab=users", "/helpdesk?tab=users")] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(
            response.headers()["location"],
            format!("{origin}{location}")
        );
    }
    // At the origin (its Host), the built-in page and script.
    for (path, kind, text) in [
        ("/", "text/html", "<html"),
        ("/static/js/portal.js", "javascript", "import"),
    ] {
        let response = client
            .get(format!("{base}{path}"))
            .header("Host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.contains(kind), "{path}: {content_type}");
        assert!(response.text().await.unwrap().contains(text), "{path}");
    }
    // A built-in flow answers, from the origin it printed: fido-passwordless starts
    // (`401 NOT_AUTHORIZED` naming its first step; an unknown application is a 404).
    let access = |from: String| {
        client
            .post(format!(
                "{base}/rest/public/authentication/applications/fido-passwordless/access"
            ))
            .header("X-Same-Domain", "1")
            .header("Origin", from)
            .json(&serde_json::json!({}))
            .send()
    };
    let response = access(origin.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(code(&doc), "NOT_AUTHORIZED", "{doc}");
    assert!(doc["meta"]["nextAuthStep"].is_string(), "{doc}");
    // From the IP address: refused, saying what is wrong and what to set, and logged.
    let response = access(base.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(code(&doc), "CSRF_ORIGIN_MISMATCH");
    assert_eq!(
        detail(&doc),
        format!(
            "This page was opened at {base} but the server only accepts {origin}; open that \
             address, or set relying_party.origins / FIDOFLOW_ORIGINS"
        )
    );
    let warning = server.line_with("CSRF_ORIGIN_MISMATCH");
    assert!(
        warning.contains("WARN") && warning.contains(&base) && warning.contains(&origin),
        "{warning}"
    );
    // No admin token configured: the helpdesk is told so, not that its token was wrong.
    let response = client
        .get(format!("{base}/rest/admin/users"))
        .bearer_auth("some-token-0123456789abcdefghijklmnopqrstuvwxyz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(code(&doc), "NO_ADMIN_TOKEN_CONFIGURED");
    assert!(
        detail(&doc).starts_with("no admin token is configured on this server"),
        "{doc}"
    );
    assert!(cwd.path().join("data").is_dir(), "the data went to ./data");
}

#[tokio::test]
async fn a_bind_port_that_no_origin_names_is_warned_about_at_start() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_bare(
        cwd.path(),
        &[
            ("FIDOFLOW_BIND", &format!("127.0.0.1:{port}")),
            ("FIDOFLOW_ORIGINS", "http://localhost:8080"),
            ("FIDOFLOW_DATA_DIR", "kept"),
        ],
    );
    let warning = server.line_with("which none of relying_party.origins");
    assert!(
        warning.contains("WARN")
            && warning.contains(&format!("port {port}"))
            && warning.contains("FIDOFLOW_ORIGINS"),
        "{warning}"
    );
    server.line_with("open http://localhost:8080");
}

#[test]
fn a_bad_configuration_prints_its_message_alone_and_exits_1() {
    let cwd = tempfile::tempdir().unwrap();
    let config = cwd.path().join("fidoflow.toml");
    std::fs::write(&config, "[relying_party]\nid = \"1.2.3.4\"\n").unwrap();
    let output = server_command(&config, &cwd.path().join("data"))
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "relying_party.id: `1.2.3.4` is an IP address; an RP ID must be a domain"
    );
}

/// The built-in assets carry a strong ETag (their SHA-256): a revalidation answers `304`, and a
/// `HEAD` the headers alone.
#[tokio::test]
async fn built_in_assets_are_revalidated_by_their_etag() {
    let app = crate::common::app::spawn_app().await;
    let client = reqwest::Client::new();
    let url = format!("{}/static/js/api.js", app.base);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.len() == 66 && etag.starts_with('"'), "{etag}");
    assert_eq!(
        response.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let again = client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
}
