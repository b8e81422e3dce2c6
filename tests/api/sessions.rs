//! Sessions under attack (issue 10): the CSRF rules decide on the path the router matches, only
//! sessions that hold something are stored, one request per session whatever the cookie's
//! encryption, and the session key is renewed once the password step has identified the user.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use actix_web::cookie::{Cookie, CookieJar, Key};
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    code, decode, spawn_app, spawn_app_with, Browser, TestApp, ORIGIN, PASSWORD,
};
use crate::common::softauthn::SoftAuthenticator;

const PASSWORD_CHECK: &str = "/rest/public/authentication/password/check";
const SESSION: &str = "/rest/public/authentication/session";
const FLOWS: &str = "/rest/protected/self-service/flows";
const FIDO_CHALLENGE: &str = "/rest/public/authentication/fido/challenge/retrieve";
const ACCESS: &str = "/rest/public/authentication/applications/default/access";
const COOKIE_NAME: &str = "FIDOFLOW_SESSION";

/// The value of the session cookie a response sets, if any.
fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{COOKIE_NAME}=")))
        .map(|line| line.split(';').next().unwrap()[COOKIE_NAME.len() + 1..].to_string())
}

/// A request of a client without a cookie jar, with the CSRF header, our origin and `cookie`.
fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.base))
        .header("X-Same-Domain", "1")
        .header("Origin", ORIGIN);
    if let Some(c) = cookie {
        req = req.header(COOKIE, format!("{COOKIE_NAME}={c}"));
    }
    req
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, Option<String>) {
    let response = req.send().await.expect("request");
    let cookie = set_cookie(response.headers());
    let (status, doc) = decode(response).await;
    (status, doc, cookie)
}

/// A password login without a cookie: the signed-in session's cookie.
async fn sign_in(app: &TestApp, username: &str) -> String {
    let (status, doc, cookie) = send(
        request(app, Method::POST, PASSWORD_CHECK, None)
            .json(&json!({ "username": username, "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    cookie.expect("a session cookie")
}

/// Sends a request exactly as written (a client library would normalise the path first) and
/// answers the status and the JSON body.
async fn raw_http(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.write_all(text.as_bytes()).expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (
        status,
        serde_json::from_str(body.trim()).unwrap_or(Value::Null),
    )
}

async fn signed_in_user(app: &TestApp, cookie: &str) -> Value {
    let (status, doc, _) = send(request(app, Method::GET, SESSION, Some(cookie))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"]["attributes"]["username"].clone()
}

/// A raw request: its path, headers and body, and the refusal it must get.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn percent_encoded_dotted_and_doubled_paths_get_the_same_csrf_checks() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let cookie = sign_in(&app, "alice").await;
    let cookie_header = format!("{COOKIE_NAME}={cookie}");
    let evil = "https://evil.example";
    let credentials = json!({ "username": "alice", "password": "wrong" }).to_string();
    let cases: [Case; 7] = [
        (
            "/rest/%70ublic/authentication/logout",
            vec![("Origin", evil)],
            "",
            "CSRF_HEADER_MISSING",
        ),
        (
            "/%72est/public/authentication/password/check",
            vec![
                ("Origin", evil),
                ("X-Same-Domain", "1"),
                ("Content-Type", "application/json"),
            ],
            &credentials,
            "CSRF_ORIGIN_MISMATCH",
        ),
        (
            "/rest/%70rotected/self-service/flows/fido-registration/select",
            vec![("Content-Type", "text/plain")],
            "{}",
            "CSRF_HEADER_MISSING",
        ),
        (
            "/rest/public/./authentication/../authentication/logout",
            vec![("Origin", evil)],
            "",
            "CSRF_HEADER_MISSING",
        ),
        (
            "/rest/nothing/../public/authentication/%2E%2E/authentication/logout/",
            vec![("Origin", evil)],
            "",
            "CSRF_HEADER_MISSING",
        ),
        (
            "//rest//%70ublic//authentication//logout//",
            vec![("Origin", evil)],
            "",
            "CSRF_HEADER_MISSING",
        ),
        (
            "/rest/public//authentication/%6cogout",
            vec![("Origin", evil), ("X-Same-Domain", "1")],
            "",
            "CSRF_ORIGIN_MISMATCH",
        ),
    ];
    for (path, mut headers, body, expected) in cases {
        headers.push(("Cookie", &cookie_header));
        let (status, doc) = raw_http(&app, "POST", path, &headers, body).await;
        assert_eq!(status, 403, "{path}: {doc}");
        assert_eq!(code(&doc), expected, "{path}: {doc}");
        assert_eq!(signed_in_user(&app, &cookie).await, "alice", "after {path}");
    }
    // The same normalised paths still reach their routes when the rules are met.
    let (status, doc) = raw_http(
        &app,
        "GET",
        "//rest/%70ublic/./authentication//session/",
        &[
            ("X-Same-Domain", "1"),
            ("Origin", ORIGIN),
            ("Cookie", &cookie_header),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");
}

/// How many sessions the stopped server's store holds.
async fn stored_sessions(app: &mut TestApp) -> usize {
    app.stop_and_release_store().await;
    let opened = fidoflow::startup::open_store(&app.settings, &fidoflow::clock::Clock::system())
        .expect("the store");
    opened.store.session_count()
}

#[tokio::test]
async fn anonymous_reads_and_refused_calls_store_no_session_and_set_no_cookie() {
    let mut app = spawn_app_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.per_username = 3;
    })
    .await;
    app.create_user("alice", Some(PASSWORD)).await;
    for _ in 0..50 {
        let (status, doc, cookie) = send(request(&app, Method::GET, SESSION, None)).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(cookie, None, "an anonymous read sets no cookie");
    }
    let (status, doc, cookie) = send(request(&app, Method::GET, FLOWS, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(cookie, None);
    for attempt in 0..4 {
        let (status, doc, cookie) = send(
            request(&app, Method::POST, PASSWORD_CHECK, None)
                .json(&json!({ "username": "mallory", "password": "guess" })),
        )
        .await;
        let expected = if attempt < 3 {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, expected, "{doc}");
        assert_eq!(cookie, None, "a refused password sets no cookie: {doc}");
    }
    // A sign-in still makes a session.
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let (status, doc) = browser.get(FLOWS).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(stored_sessions(&mut app).await, 1, "only alice's session");
}

/// A call that would start a flow but is refused leaves no flow behind: no session is stored and
/// no cookie set. (`/applications/{id}/access` answering `401` with `nextAuthStep` is no refusal
/// of the start: the flow it names runs, and its session is kept.)
#[tokio::test]
async fn refused_flow_starts_store_no_session_and_set_no_cookie() {
    let mut app = spawn_app_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.per_address = 3;
    })
    .await;
    let conditional = json!({ "mediation": "conditional" });
    let mut issued = 0;
    for _ in 0..6 {
        let (status, doc, cookie) =
            send(request(&app, Method::POST, FIDO_CHALLENGE, None).json(&conditional)).await;
        match status {
            // A passkey autofill challenge: the started flow holds its ceremony.
            StatusCode::OK => {
                assert!(cookie.is_some(), "{doc}");
                issued += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(cookie, None, "a refused challenge sets no cookie: {doc}")
            }
            other => panic!("unexpected {other}: {doc}"),
        }
    }
    assert_eq!(issued, 3);
    for (path, body) in [
        (FIDO_CHALLENGE, json!({ "mediation": "immediate" })),
        (FIDO_CHALLENGE, json!({})),
        (
            "/rest/public/authentication/applications/no-such-app/access",
            json!({}),
        ),
        (
            "/rest/public/user-self-registration/no-such-flow/select",
            json!({}),
        ),
    ] {
        let (status, doc, cookie) = send(request(&app, Method::POST, path, None).json(&body)).await;
        assert!(status.is_client_error(), "{path}: {status} {doc}");
        assert_eq!(cookie, None, "{path}: {doc}");
    }
    assert_eq!(
        stored_sessions(&mut app).await,
        3,
        "only the issued challenges' sessions"
    );
}

/// The cookie key the server made in its data directory.
fn cookie_key(app: &TestApp) -> Key {
    Key::from(&std::fs::read(app.data_dir.path().join("session.key")).expect("session.key"))
}

/// The same session key under a fresh encryption.
fn reencrypt(key: &Key, cookie: &str) -> String {
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::parse_encoded(format!("{COOKIE_NAME}={cookie}")).unwrap());
    let session_key = jar
        .private(key)
        .get(COOKIE_NAME)
        .expect("the cookie decrypts")
        .value()
        .to_string();
    let mut jar = CookieJar::new();
    jar.private_mut(key)
        .add(Cookie::new(COOKIE_NAME, session_key));
    let encoded = jar.get(COOKIE_NAME).unwrap().encoded().to_string();
    encoded[COOKIE_NAME.len() + 1..].to_string()
}

#[tokio::test]
async fn two_encryptions_of_one_session_cannot_run_at_once() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let cookie = sign_in(&app, "alice").await;
    // An unchanged session is not sent back re-encrypted.
    let (status, doc, set) = send(request(&app, Method::GET, SESSION, Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(set, None, "an unchanged session sets no cookie");

    let key = cookie_key(&app);
    let requests = (0..10).map(|_| {
        let encoding = reencrypt(&key, &cookie);
        assert_ne!(encoding, cookie);
        let req = request(&app, Method::POST, PASSWORD_CHECK, Some(&encoding))
            .json(&json!({ "username": "alice", "password": PASSWORD }));
        tokio::spawn(async move { decode(req.send().await.expect("request")).await })
    });
    let mut concurrent = 0;
    for handle in requests.collect::<Vec<_>>() {
        let (status, doc) = handle.await.unwrap();
        match (status, code(&doc)) {
            (StatusCode::OK, _) => {}
            (StatusCode::BAD_REQUEST, "CONCURRENT_ACCESS") => concurrent += 1,
            (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY") => {}
            _ => panic!("unexpected answer {status}: {doc}"),
        }
    }
    assert!(concurrent >= 1, "no request was refused as concurrent");
}

#[tokio::test]
async fn a_planted_cookie_loses_the_session_once_the_password_identifies_the_user() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let mut victim = Browser {
        client: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap(),
        base: app.base.clone(),
        authenticator: SoftAuthenticator::new(),
    };
    victim.login("alice", PASSWORD).await;
    let credential = victim.register(Some("Laptop")).await;
    let (status, doc) = victim
        .post("/rest/public/authentication/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // The attacker starts a session and plants its cookie in the victim's browser.
    let (status, doc, planted) = send(request(&app, Method::POST, ACCESS, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    let planted = planted.expect("a started flow keeps its session");
    jar.add_cookie_str(
        &format!("{COOKIE_NAME}={planted}; Path=/"),
        &app.base.parse().unwrap(),
    );

    let doc = victim.login("alice", PASSWORD).await;
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED",
        "{doc}"
    );
    // The planted cookie no longer reaches the victim's flow.
    let (status, doc, _) = send(request(&app, Method::GET, SESSION, Some(&planted))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );
    let (status, doc, _) =
        send(request(&app, Method::POST, FIDO_CHALLENGE, Some(&planted)).json(&json!({}))).await;
    assert!(
        !doc.to_string().contains(&credential),
        "the planted cookie sees the victim's credential ({status}): {doc}"
    );

    // The victim's sign-in completes with the renewed cookie.
    let (status, doc) = victim.post(FIDO_CHALLENGE, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    let assertion = victim.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = victim
        .post(
            "/rest/public/authentication/fido/assertion-response/check",
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = victim.get(SESSION).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["username"], "alice", "{doc}");
}
