//! The account's active sessions over HTTP: the list (device, address, last seen), one session
//! signed out by its flow (`session-sign-out`), and every other one (`sessions-sign-out-others`).

use std::sync::Arc;

use reqwest::cookie::CookieStore as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{code, spawn_app, Browser, TestApp, ORIGIN, PASSWORD};

const SS: &str = "/rest/protected/self-service";
const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// The session list, which must be answered.
async fn sessions(b: &Browser) -> Vec<Value> {
    let (status, doc) = b.get(&format!("{SS}/sessions")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = doc["data"].as_array().expect("a list").clone();
    for s in &list {
        assert_eq!(s["type"], "my.session", "{s}");
    }
    list
}

/// The id of the session `b` is using.
async fn own_id(b: &Browser) -> String {
    let list = sessions(b).await;
    assert_eq!(list[0]["attributes"]["current"], true, "{list:?}");
    list[0]["id"].as_str().unwrap().to_string()
}

async fn signed_in(app: &TestApp, name: &str, agent: &str) -> Browser {
    let b = app.browser_as(agent);
    b.login(name, PASSWORD).await;
    b
}

async fn is_signed_in(b: &Browser) -> bool {
    let (status, doc) = b.get(&format!("{SS}/sessions")).await;
    match status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => {
            assert_eq!(code(&doc), "NOT_AUTHORIZED");
            false
        }
        other => panic!("{other}: {doc}"),
    }
}

async fn select(b: &Browser, flow: &str) -> (StatusCode, Value) {
    b.post(&format!("{SS}/flows/{flow}/select"), json!({}))
        .await
}

async fn pick(b: &Browser, id: &str) -> (StatusCode, Value) {
    b.post(&format!("{SS}/session/select"), json!({ "sessionId": id }))
        .await
}

/// The user's own security events of type `SESSIONS_ENDED`, newest first: their details.
async fn sessions_ended(b: &Browser) -> Vec<String> {
    let (status, doc) = b.get(&format!("{SS}/security-events")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["attributes"]["event"] == "SESSIONS_ENDED")
        .map(|e| e["attributes"]["detail"].as_str().unwrap().to_string())
        .collect()
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_account_lists_its_sessions_with_device_address_and_last_seen() {
    let app = spawn_app().await;
    app.create_user("sam", Some(PASSWORD)).await;
    app.create_user("bob", Some(PASSWORD)).await;
    let laptop = signed_in(&app, "sam", CHROME_LINUX).await;
    app.advance(chrono::Duration::minutes(3));
    let desktop = signed_in(&app, "sam", FIREFOX_WINDOWS).await;
    let bobs = signed_in(&app, "bob", SAFARI_IPHONE).await;
    // Not signed in: no list.
    assert!(!is_signed_in(&app.browser()).await);

    app.advance(chrono::Duration::minutes(2));
    let list = sessions(&laptop).await;
    assert_eq!(list.len(), 2, "bob's session is not sam's: {list:?}");
    let (this, other) = (&list[0]["attributes"], &list[1]["attributes"]);
    assert_eq!(this["current"], true);
    assert_eq!(this["device"], "Chrome on Linux");
    assert_eq!(this["userAgent"], CHROME_LINUX);
    assert_eq!(this["remoteAddress"], "127.0.0.1");
    assert_eq!(other["current"], false);
    assert_eq!(other["device"], "Firefox on Windows");
    assert_eq!(other["remoteAddress"], "127.0.0.1");
    // The laptop signed in 5 minutes ago and is seen now; the desktop was last seen at its
    // sign-in, 2 minutes ago.
    let now = time(&this["lastSeenAt"]);
    assert_eq!((now - time(&this["signedInAt"])).num_minutes(), 5, "{this}");
    assert_eq!(
        (now - time(&other["lastSeenAt"])).num_minutes(),
        2,
        "{other}"
    );
    assert_eq!(other["signedInAt"], other["lastSeenAt"]);
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.len() == 22), "{ids:?}");

    // A request of the desktop's moves its last seen; the list comes most recent first.
    app.advance(chrono::Duration::minutes(1));
    let third = signed_in(&app, "sam", SAFARI_IPHONE).await;
    app.advance(chrono::Duration::minutes(1));
    assert!(is_signed_in(&desktop).await);
    app.advance(chrono::Duration::minutes(1));
    let list = sessions(&laptop).await;
    let devices: Vec<&Value> = list.iter().map(|s| &s["attributes"]["device"]).collect();
    assert_eq!(
        devices,
        [
            &json!("Chrome on Linux"),
            &json!("Firefox on Windows"),
            &json!("Safari on iOS")
        ],
        "{list:?}"
    );
    let seen = |i: usize| time(&list[i]["attributes"]["lastSeenAt"]);
    assert_eq!((seen(0) - seen(1)).num_minutes(), 1, "{list:?}");
    assert_eq!((seen(0) - seen(2)).num_minutes(), 2, "{list:?}");
    // Every session sees the same ids, each marking itself as current.
    let seen_by_third = sessions(&third).await;
    assert_eq!(seen_by_third[0]["attributes"]["device"], "Safari on iOS");
    assert_eq!(seen_by_third[0]["id"], list[2]["id"]);
    assert_eq!(sessions(&bobs).await.len(), 1);
}

#[tokio::test]
async fn one_session_is_signed_out_by_its_flow_and_the_others_stay() {
    let app = spawn_app().await;
    app.create_user("sam", Some(PASSWORD)).await;
    app.create_user("bob", Some(PASSWORD)).await;
    let laptop = signed_in(&app, "sam", CHROME_LINUX).await;
    let desktop = signed_in(&app, "sam", FIREFOX_WINDOWS).await;
    let phone = signed_in(&app, "sam", SAFARI_IPHONE).await;
    let bobs = signed_in(&app, "bob", SAFARI_IPHONE).await;
    let desktop_id = own_id(&desktop).await;
    let bobs_id = own_id(&bobs).await;

    // Out of turn: no flow runs.
    let (status, doc) = pick(&laptop, &desktop_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "UNEXPECTED_CALL");

    let (status, doc) = select(&laptop, "session-sign-out").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"]["attributes"]["nextStep"],
        "SESSION_SELECTION_REQUIRED"
    );
    // Another user's session, an unknown id, a missing one: refused, the step still waits.
    for id in [bobs_id.as_str(), "no-such-session", ""] {
        let (status, doc) = pick(&laptop, id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {doc}");
        assert_eq!(code(&doc), "SESSION_NOT_FOUND", "{id}: {doc}");
    }
    let (status, doc) = laptop
        .post(&format!("{SS}/session/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert!(is_signed_in(&bobs).await, "bob's session stays");

    let (status, doc) = pick(&laptop, &desktop_id).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    assert!(!is_signed_in(&desktop).await, "the desktop is signed out");
    assert!(is_signed_in(&phone).await);
    assert!(is_signed_in(&laptop).await);
    let left: Vec<Value> = sessions(&laptop).await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|s| s["id"] != json!(desktop_id)));
    let ended = sessions_ended(&laptop).await;
    assert_eq!(ended, [format!("signed out session {desktop_id}")]);

    // An id that was listed but has ended meanwhile: refused at selection.
    let (status, _) = select(&laptop, "session-sign-out").await;
    assert_eq!(status, StatusCode::OK);
    let (status, doc) = pick(&laptop, &desktop_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "SESSION_NOT_FOUND");

    // Picking this session signs it out, like a logout.
    let phone_id = own_id(&phone).await;
    let (status, _) = select(&phone, "session-sign-out").await;
    assert_eq!(status, StatusCode::OK);
    let (status, doc) = pick(&phone, &phone_id).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(!is_signed_in(&phone).await);
    assert!(is_signed_in(&laptop).await);
    assert_eq!(sessions(&laptop).await.len(), 1);
    assert_eq!(
        sessions_ended(&laptop).await[0],
        "signed out this session",
        "audited"
    );
}

#[tokio::test]
async fn signing_out_everywhere_else_ends_every_other_session_and_renews_this_one() {
    let app = spawn_app().await;
    app.create_user("sam", Some(PASSWORD)).await;
    app.create_user("bob", Some(PASSWORD)).await;
    let (laptop, jar) = signed_in_with_jar(&app, "sam", CHROME_LINUX).await;
    let others = [
        signed_in(&app, "sam", FIREFOX_WINDOWS).await,
        signed_in(&app, "sam", SAFARI_IPHONE).await,
    ];
    let bobs = signed_in(&app, "bob", SAFARI_IPHONE).await;
    let before = own_id(&laptop).await;
    // The cookie as it is now, to replay after the renewal.
    let old_cookie = cookie_of(&app, &jar);
    let (status, _) = replay(&app, &old_cookie).await;
    assert_eq!(status, StatusCode::OK, "the cookie read is the session's");

    let (status, doc) = select(&laptop, "sessions-sign-out-others").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextStep").is_none(),
        "applied at once: {doc}"
    );
    for b in &others {
        assert!(!is_signed_in(b).await);
    }
    assert!(is_signed_in(&bobs).await, "another user's session stays");
    let list = sessions(&laptop).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], json!(before), "the same session, renewed");
    assert_eq!(
        sessions_ended(&laptop).await,
        ["signed out 2 other session(s)"]
    );
    // The session key was renewed: the cookie from before the call is signed in no more.
    let (status, _) = replay(&app, &old_cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With no other session, it ends none.
    let (status, _) = select(&laptop, "sessions-sign-out-others").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sessions_ended(&laptop).await[0],
        "signed out 0 other session(s)"
    );
    assert!(is_signed_in(&laptop).await);
}

/// A browser signed in as `name` whose cookie jar the test can read.
async fn signed_in_with_jar(
    app: &TestApp,
    name: &str,
    agent: &str,
) -> (Browser, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let b = Browser {
        client: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .user_agent(agent)
            .build()
            .unwrap(),
        ..app.browser()
    };
    b.login(name, PASSWORD).await;
    (b, jar)
}

/// The `Cookie` header the jar sends to the server.
fn cookie_of(app: &TestApp, jar: &reqwest::cookie::Jar) -> String {
    let url = reqwest::Url::parse(&app.base).unwrap();
    let header = jar.cookies(&url).expect("a session cookie");
    header.to_str().unwrap().to_string()
}

async fn replay(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    crate::common::app::decode(
        client
            .get(format!("{}{SS}/sessions", app.base))
            .header("Cookie", cookie)
            .header("X-Same-Domain", "1")
            .header("Origin", ORIGIN)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_helpdesk_signs_a_user_out_everywhere() {
    use crate::common::app::HELPDESK_TOKEN;
    let app = spawn_app().await;
    app.create_user("sam", Some(PASSWORD)).await;
    app.create_user("bob", Some(PASSWORD)).await;
    let laptop = signed_in(&app, "sam", CHROME_LINUX).await;
    let phone = signed_in(&app, "sam", SAFARI_IPHONE).await;
    let bobs = signed_in(&app, "bob", SAFARI_IPHONE).await;
    let end = |path: &'static str| {
        app.admin(
            reqwest::Method::POST,
            path,
            Some(HELPDESK_TOKEN),
            Some(json!({})),
        )
    };

    let (status, doc) = end("/rest/admin/users/sam/sessions/end").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "user");
    assert_eq!(doc["data"]["id"], "sam");
    assert!(!is_signed_in(&laptop).await);
    assert!(!is_signed_in(&phone).await);
    assert!(is_signed_in(&bobs).await, "another user's session stays");
    let (status, doc) = end("/rest/admin/users/nobody/sessions/end").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
    assert_eq!(code(&doc), "USER_NOT_FOUND");

    // Audited with the count, by the token; the user sees it as the helpdesk's.
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?username=sam&filter[event]=SESSIONS_ENDED",
            Some(HELPDESK_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let event = &doc["data"][0]["attributes"];
    assert!(
        event["actor"].as_str().unwrap().starts_with("token:"),
        "{event}"
    );
    assert_eq!(
        event["detail"],
        "signed out everywhere by the helpdesk: 2 session(s) ended"
    );
    let again = signed_in(&app, "sam", CHROME_LINUX).await;
    let (status, doc) = again.get(&format!("{SS}/security-events")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let ended = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["event"] == "SESSIONS_ENDED")
        .expect("the helpdesk's sign-out among the user's events")
        .clone();
    assert_eq!(ended["attributes"]["by"], "helpdesk");
}
