//! `spawn_app()`: boots the real server on port 0 with a temporary data directory and a clock
//! the test moves by hand, and browsers (reqwest clients with their own cookie jar) that speak
//! the REST contract.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fidoflow::clock::Clock;
use fidoflow::config::{AdminRole, AdminToken, Settings, StoreBackend};
use fidoflow::engine::Challenges;
use fidoflow::startup::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::softauthn::SoftAuthenticator;

/// The origin every browser claims (the configured one; the port the server listens on does not
/// matter to WebAuthn).
pub const ORIGIN: &str = "http://localhost:8080";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
pub const HELPDESK_TOKEN: &str = "test-helpdesk-token-0123456789abcdefghijklmnopqrstuvwxyz";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    /// Where `/rest/admin` answers: the admin listener when `admin.bind` is set, else `base`.
    pub admin_base: String,
    pub clock: Clock,
    /// Where the server's WebAuthn challenges come from: random, unless the test started it with
    /// [`spawn_app_with_challenges`] and queues them.
    pub challenges: Challenges,
    pub settings: Settings,
    pub data_dir: Arc<tempfile::TempDir>,
    /// Makes the running server's store fail (see `fidoflow::store::StoreFaults`).
    pub store_faults: fidoflow::store::StoreFaults,
    handles: Vec<actix_web::dev::ServerHandle>,
    join: Option<tokio::task::JoinHandle<()>>,
}

/// The `[[tenants]]` of a configuration text (over the built-in defaults).
pub fn tenants_from_toml(text: &str) -> Vec<fidoflow::config::TenantSettings> {
    Settings::from_toml_str(text, &std::collections::HashMap::new())
        .expect("the tenants' configuration is valid")
        .tenants
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_with(tempfile::tempdir().expect("temp dir"), change).await
}

/// Like [`spawn_app`], on a data directory that may already hold a store and `session.key`
/// (e.g. a copy of a fixture); the server opens what it finds there.
pub async fn spawn_app_on(data_dir: tempfile::TempDir) -> TestApp {
    spawn_app_on_with(data_dir, |_| {}).await
}

/// [`spawn_app_on`] with a change to the test settings, as in [`spawn_app_with`].
pub async fn spawn_app_on_with(
    data_dir: tempfile::TempDir,
    change: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn(data_dir, change, Challenges::random(), Utc::now()).await
}

/// [`spawn_app_with`], with the server's clock set to `now` and its WebAuthn challenges taken
/// from `challenges` (`Challenges::scripted()`: the test queues the challenge a recorded response
/// answers before the call that issues it; random ones when the queue is empty). The source is
/// kept in [`TestApp::challenges`], so the test may queue through either handle.
pub async fn spawn_app_with_challenges(
    change: impl FnOnce(&mut Settings),
    challenges: Challenges,
    now: DateTime<Utc>,
) -> TestApp {
    spawn(
        tempfile::tempdir().expect("temp dir"),
        change,
        challenges,
        now,
    )
    .await
}

async fn spawn(
    data_dir: tempfile::TempDir,
    change: impl FnOnce(&mut Settings),
    challenges: Challenges,
    now: DateTime<Utc>,
) -> TestApp {
    let data_dir = Arc::new(data_dir);
    let mut settings = Settings::for_tests(data_dir.path());
    settings.admin.tokens = vec![
        AdminToken::from_token("test-admin", AdminRole::Admin, ADMIN_TOKEN),
        AdminToken::from_token("test-helpdesk", AdminRole::Helpdesk, HELPDESK_TOKEN),
    ];
    if let Some(url) = test_database(data_dir.path()) {
        settings.store.backend = StoreBackend::Postgres { url };
    }
    change(&mut settings);
    start(settings, Clock::manual(now), challenges, data_dir).await
}

/// The real `fidoflow` binary as a server: the test's own `FIDOFLOW_*` variables removed, the
/// configuration file `config`, data in `data_dir`, a free port, the shipped flows, the test
/// admin token and info logs on stdout (whose `fidoflow listening` line names the port).
pub fn server_command(
    config: &std::path::Path,
    data_dir: &std::path::Path,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fidoflow"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    command
        .env("FIDOFLOW_CONFIG", config)
        .env("FIDOFLOW_BIND", "127.0.0.1:0")
        .env("FIDOFLOW_DATA_DIR", data_dir)
        .env(
            "FIDOFLOW_FLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        )
        .env("FIDOFLOW_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped());
    command
}

/// With `FIDOFLOW_TEST_STORE=postgres`, the servers of the HTTP tests run on PostgreSQL: each
/// data directory gets a fresh database of the test server (see
/// `fidoflow::store::pg_testing`), named in a file there, so a server started again on the
/// same directory finds the same database.
pub fn test_database(data_dir: &std::path::Path) -> Option<String> {
    if std::env::var("FIDOFLOW_TEST_STORE").ok()?.trim() != "postgres" {
        return None;
    }
    let marker = data_dir.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return Some(url);
    }
    // A directory a test filled with sled data (an older layout, say) stays on sled.
    if data_dir.join("db").exists() {
        return None;
    }
    let url = fidoflow::store::pg_testing::database_for(data_dir);
    std::fs::write(&marker, &url).expect("the test database's name");
    Some(url)
}

async fn start(
    settings: Settings,
    clock: Clock,
    challenges: Challenges,
    data_dir: Arc<tempfile::TempDir>,
) -> TestApp {
    // A restarted server may have to wait until the previous one let go of the store.
    let mut tries = 0;
    let app = loop {
        match Application::build_with_challenges(
            settings.clone(),
            clock.clone(),
            challenges.clone(),
        ) {
            Ok(app) => break app,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the server did not start: {e:#}"),
        }
    };
    let base = format!("http://127.0.0.1:{}", app.port());
    let admin_base = match app.admin_port() {
        Some(port) => format!("http://127.0.0.1:{port}"),
        None => base.clone(),
    };
    let handles = app.handles();
    let store_faults = app.store_faults();
    let join = tokio::spawn(async move {
        let _ = app.run_until_stopped().await;
    });
    TestApp {
        base,
        admin_base,
        clock,
        challenges,
        settings,
        data_dir,
        store_faults,
        handles,
        join: Some(join),
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same data directory, clock and challenges.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        start(
            self.settings.clone(),
            self.clock.clone(),
            self.challenges.clone(),
            self.data_dir.clone(),
        )
        .await
    }

    pub async fn stop(&mut self) {
        for h in &self.handles {
            h.stop(true).await;
        }
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
    }

    /// Stops the server and waits until it has let go of the store (sled's lock on `db/db` is
    /// free), so the data directory can be copied as a whole.
    pub async fn stop_and_release_store(&mut self) {
        self.stop().await;
        let lock_file = self.data_dir.path().join("db").join("db");
        if !matches!(self.settings.store.backend, StoreBackend::Sled) {
            return;
        }
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
        panic!("the stopped server still holds the store after 10 s");
    }

    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: self.base.clone(),
            authenticator: SoftAuthenticator::new(),
        }
    }

    /// A browser that sends `user_agent` as its `User-Agent`.
    pub fn browser_as(&self, user_agent: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .user_agent(user_agent)
                .build()
                .expect("client"),
            ..self.browser()
        }
    }

    /// A browser that keeps the cookies (and authenticator) of `other`, pointed at this server.
    pub fn same_browser(&self, other: Browser) -> Browser {
        Browser {
            base: self.base.clone(),
            ..other
        }
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.admin_request(method, path, token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        decode(req.send().await.expect("request")).await
    }

    /// An admin API request to add headers to before sending.
    pub fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = reqwest::Client::new().request(method, format!("{}{path}", self.admin_base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Creates a user with the admin API and returns the username.
    pub async fn create_user(&self, username: &str, password: Option<&str>) -> String {
        let mut body =
            json!({ "username": username, "displayName": format!("{username} (person)") });
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        let (status, doc) = self
            .admin(
                reqwest::Method::POST,
                "/rest/admin/users",
                Some(ADMIN_TOKEN),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        username.to_string()
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for h in &self.handles {
            let h = h.clone();
            // Stop without waiting: the runtime may be gone already.
            drop(h.stop(false));
        }
    }
}

pub async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, value)
}

/// A browser: its own cookie jar and software authenticator.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub authenticator: SoftAuthenticator,
}

impl Browser {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("X-Same-Domain", "1")
            .header("Origin", ORIGIN)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        decode(
            self.request(reqwest::Method::POST, path)
                .json(&body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        decode(
            self.request(reqwest::Method::GET, path)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        decode(
            self.request(reqwest::Method::DELETE, path)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Password login that must complete (a user without credentials).
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let (status, doc) = self
            .post(
                "/rest/public/authentication/password/check",
                json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc
    }

    /// The password (which must pass), then the FIDO step with this browser's authenticator:
    /// challenge (which must be issued), assertion and its check, whose answer is returned.
    pub async fn login_with_fido(&mut self, username: &str, password: &str) -> (StatusCode, Value) {
        self.login(username, password).await;
        let (status, doc) = self
            .post(
                "/rest/public/authentication/fido/challenge/retrieve",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
        let assertion = self.authenticator.authenticate(&options, ORIGIN);
        self.post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await
    }

    /// Selects `fido-registration` and retrieves a challenge; returns the creation options.
    pub async fn start_registration(&self, display_name: Option<&str>) -> Value {
        let (status, doc) = self
            .post(
                "/rest/protected/self-service/flows/fido-registration/select",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(
            doc["data"]["attributes"]["nextStep"],
            "FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED"
        );
        self.registration_challenge(display_name).await
    }

    pub async fn registration_challenge(&self, display_name: Option<&str>) -> Value {
        let body = match display_name {
            Some(n) => json!({ "displayName": n }),
            None => json!({}),
        };
        let (status, doc) = self
            .post(
                "/rest/protected/self-service/fido/registration/challenge/retrieve",
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(
            doc["data"]["type"],
            "self-service.fido.registration.challenge"
        );
        doc["data"]["attributes"]["publicKeyCredentialCreationOptions"].clone()
    }

    pub async fn send_attestation(&self, credential: Value) -> (StatusCode, Value) {
        self.post(
            "/rest/protected/self-service/fido/registration/attestation-response/check",
            json!({ "publicKeyCredential": credential }),
        )
        .await
    }

    /// A whole honest registration; returns the credential id.
    pub async fn register(&mut self, display_name: Option<&str>) -> String {
        let options = self.start_registration(display_name).await;
        let credential = self.authenticator.register(&options, ORIGIN);
        let id = credential["id"].as_str().expect("id").to_string();
        let (status, doc) = self.send_attestation(credential).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        id
    }

    pub async fn credentials(&self) -> Vec<Value> {
        let (status, doc) = self
            .get("/rest/protected/self-service/fido/credentials")
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc["data"].as_array().expect("list").clone()
    }
}

/// The first error's code of an error document.
pub fn code(doc: &Value) -> &str {
    doc["errors"][0]["code"]
        .as_str()
        .unwrap_or("<no error code>")
}

pub fn detail(doc: &Value) -> &str {
    doc["errors"][0]["detail"].as_str().unwrap_or("")
}
