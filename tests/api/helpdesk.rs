//! The helpdesk and administration API over HTTP: tokens and roles, users, a user's
//! credentials, unlocking, the audit log, and the sessions these changes end.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    code, decode, spawn_app, spawn_app_with, Browser, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN, ORIGIN,
    PASSWORD,
};
use crate::common::softauthn::SoftAuthenticator;

const MY_CREDENTIALS: &str = "/rest/protected/self-service/fido/credentials";

async fn helpdesk(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.admin(method, path, Some(HELPDESK_TOKEN), body).await
}

/// A password user signed in with one registered credential; returns the browser and its id.
async fn user_with_credential(app: &TestApp, name: &str) -> (Browser, String) {
    app.create_user(name, Some(PASSWORD)).await;
    let mut browser = app.browser();
    browser.login(name, PASSWORD).await;
    let id = browser.register(Some("Desk key")).await;
    (browser, id)
}

/// Password, then the FIDO second factor with the browser's authenticator.
async fn login_with_fido(browser: &mut Browser, name: &str) {
    let (status, doc) = browser.login_with_fido(name, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );
}

async fn assert_signed_out(browser: &Browser) {
    let (status, doc) = browser.get(MY_CREDENTIALS).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED");
}

/// The newest audit events of a user.
async fn audit_of(app: &TestApp, name: &str) -> Vec<Value> {
    let (status, doc) = helpdesk(
        app,
        Method::GET,
        &format!("/rest/admin/audit?username={name}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"].as_array().unwrap().clone()
}

fn events(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|e| e["attributes"]["event"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_admin_api_needs_a_valid_token_and_the_right_role() {
    let app = spawn_app().await;
    app.create_user("alice", Some(PASSWORD)).await;

    for token in [None, Some("not-a-configured-token-0123456789abcdef")] {
        let (status, doc) = app
            .admin(Method::GET, "/rest/admin/users", token, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
        assert_eq!(code(&doc), "NOT_AUTHENTICATED");
    }
    let (status, doc) = app
        .admin(Method::DELETE, "/rest/admin/users/alice", None, None)
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED")
    );

    // The helpdesk reads, but neither creates nor deletes users.
    let (status, doc) = helpdesk(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = helpdesk(
        &app,
        Method::POST,
        "/rest/admin/users",
        Some(json!({ "username": "mallory" })),
    )
    .await;
    assert_eq!((status, code(&doc)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, doc) = helpdesk(&app, Method::DELETE, "/rest/admin/users/alice", None).await;
    assert_eq!((status, code(&doc)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, _) = helpdesk(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(status, StatusCode::OK, "the refused delete changed nothing");
    // The refused delete is in alice's audit trail, with the helpdesk token as actor.
    let (status, doc) = helpdesk(&app, Method::GET, "/rest/admin/audit?username=alice", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let refused = doc["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["attributes"])
        .find(|a| a["event"] == "ADMIN_ACCESS_DENIED")
        .unwrap_or_else(|| panic!("no ADMIN_ACCESS_DENIED in {doc}"));
    assert_eq!(refused["outcome"], "failure");
    assert!(
        refused["actor"]
            .as_str()
            .unwrap_or("")
            .starts_with("token:"),
        "{refused}"
    );
    assert_eq!(
        refused["detail"],
        "DELETE /rest/admin/users/alice refused: it needs the admin role"
    );

    // A wrong method is a JSON:API refusal too.
    let (status, doc) = helpdesk(&app, Method::PUT, "/rest/admin/users/alice", None).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
}

#[tokio::test]
async fn users_are_listed_in_pages_walked_with_the_cursor_and_filtered_by_prefix() {
    let app = spawn_app().await;
    for name in ["team-e", "team-a", "team-c", "team-b", "team-d", "other"] {
        app.create_user(name, None).await;
    }

    let mut seen = Vec::new();
    let mut path = "/rest/admin/users?filter[username]=TEAM-&page[size]=2".to_string();
    let mut pages = 0;
    loop {
        let (status, doc) = helpdesk(&app, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        pages += 1;
        for u in doc["data"].as_array().unwrap() {
            assert_eq!(u["type"], "user");
            assert_eq!(u["id"], u["attributes"]["username"]);
            seen.push(u["id"].as_str().unwrap().to_string());
        }
        match doc["links"]["next"].as_str() {
            Some(next) => {
                assert!(doc["meta"]["page"]["next"].is_string(), "{doc}");
                assert!(next.contains("page%5Bsize%5D=2"), "{next}");
                path = next.to_string();
            }
            None => {
                assert!(doc["meta"].get("page").is_none(), "{doc}");
                break;
            }
        }
    }
    assert_eq!(seen, ["team-a", "team-b", "team-c", "team-d", "team-e"]);
    assert_eq!(pages, 3);

    // A cursor by hand, the default page size, and an empty filter match.
    let (_, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users?page[size]=3&page[after]=team-b",
        None,
    )
    .await;
    let ids: Vec<&str> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["team-c", "team-d", "team-e"]);
    assert!(doc["meta"].get("page").is_none(), "{doc}");
    let (_, doc) = helpdesk(&app, Method::GET, "/rest/admin/users", None).await;
    assert_eq!(doc["data"].as_array().unwrap().len(), 6);
    let (_, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users?filter[username]=nobody",
        None,
    )
    .await;
    assert_eq!(doc["data"], json!([]));

    for bad in [
        "page[size]=0",
        "page[size]=101",
        "page[size]=two",
        "page[after]=%21%21",
        "filter[username]=%3Cscript%3E",
    ] {
        let (status, doc) =
            helpdesk(&app, Method::GET, &format!("/rest/admin/users?{bad}"), None).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_user_is_shown_with_their_credential_count_and_lock_state() {
    let app = spawn_app().await;
    let (_browser, _) = user_with_credential(&app, "alice").await;

    // The path segment is normalised like every username.
    let (status, doc) = helpdesk(&app, Method::GET, "/rest/admin/users/ALICE/", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "user");
    assert_eq!(doc["data"]["id"], "alice");
    let a = &doc["data"]["attributes"];
    assert_eq!(a["username"], "alice");
    assert_eq!(a["displayName"], "alice (person)");
    assert_eq!(a["hasPassword"], true);
    assert!(a["createdAt"].is_string());
    assert_eq!(a["credentialCount"], 1);
    assert_eq!(a["locked"], false);
    assert_eq!(a["lockExpiry"], Value::Null);

    for path in [
        "/rest/admin/users/nobody",
        "/rest/admin/users/x",
        "/rest/admin/users/nobody/fido/credentials",
        "/rest/admin/users/nobody/unlock",
    ] {
        let method = if path.ends_with("unlock") {
            Method::POST
        } else {
            Method::GET
        };
        let (status, doc) = helpdesk(&app, method, path, None).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_helpdesk_renames_a_credential_and_a_bad_name_is_refused() {
    let app = spawn_app().await;
    let (browser, id) = user_with_credential(&app, "alice").await;

    let (status, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users/alice/fido/credentials",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = doc["data"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "user.token.fido.credential");
    assert_eq!(list[0]["id"], id.as_str());
    // The same attributes as the user's own list, but for `changeRefusals` (only there).
    let mut own = browser.credentials().await;
    let own = own[0]["attributes"].as_object_mut().unwrap();
    assert!(own.remove("changeRefusals").is_some(), "{own:?}");
    assert!(list[0]["attributes"].get("changeRefusals").is_none());
    assert_eq!(list[0]["attributes"], Value::Object(own.clone()));

    let path = format!("/rest/admin/users/alice/fido/credentials/{id}");
    let (status, doc) = helpdesk(
        &app,
        Method::PATCH,
        &path,
        Some(json!({ "displayName": "  Blue key " })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["displayName"], "Blue key");
    assert_eq!(
        browser.credentials().await[0]["attributes"]["displayName"],
        "Blue key"
    );

    for bad in [
        json!({ "displayName": "" }),
        json!({ "displayName": "a\u{202e}b" }),
    ] {
        let (status, doc) = helpdesk(&app, Method::PATCH, &path, Some(bad)).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "INVALID_DISPLAY_NAME"),
            "{doc}"
        );
    }
    for bad in [
        json!({}),
        json!({ "enabled": "no" }),
        json!({ "displayName": 7 }),
    ] {
        let (status, doc) = helpdesk(&app, Method::PATCH, &path, Some(bad)).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{doc}"
        );
    }

    let renamed: Vec<Value> = audit_of(&app, "alice").await;
    let e = &renamed[0]["attributes"];
    assert_eq!(e["event"], "CREDENTIAL_RENAMED");
    assert_eq!(e["actor"], "token:test-helpdesk");
    assert_eq!(e["credentialId"], id.as_str());
    assert!(e["detail"].as_str().unwrap().contains("Blue key"), "{e}");
    // A rename alone leaves the user signed in.
    assert_eq!(browser.credentials().await.len(), 1);
}

#[tokio::test]
async fn a_credential_the_helpdesk_disables_ends_the_users_sessions_and_shows_in_their_list() {
    let app = spawn_app().await;
    let (mut browser, first) = user_with_credential(&app, "erin").await;
    browser.authenticator = SoftAuthenticator::new();
    let second = browser.register(Some("Phone")).await;

    let path = format!("/rest/admin/users/erin/fido/credentials/{first}");
    let (status, doc) = helpdesk(
        &app,
        Method::PATCH,
        &path,
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["enabled"], false);
    assert_eq!(doc["data"]["attributes"]["disabledBy"], "helpdesk");
    assert_signed_out(&browser).await;

    // Erin signs in again with her other authenticator and sees who disabled the first one.
    let again = app.browser();
    let mut again = Browser {
        authenticator: browser.authenticator.clone(),
        ..again
    };
    login_with_fido(&mut again, "erin").await;
    let list = again.credentials().await;
    let disabled = list.iter().find(|c| c["id"] == first.as_str()).unwrap();
    assert_eq!(disabled["attributes"]["enabled"], false);
    assert_eq!(disabled["attributes"]["disabledBy"], "helpdesk");
    let other = list.iter().find(|c| c["id"] == second.as_str()).unwrap();
    assert_eq!(other["attributes"]["enabled"], true);
    assert_eq!(other["attributes"]["disabledBy"], Value::Null);

    // Enabling clears disabledBy.
    let (status, doc) =
        helpdesk(&app, Method::PATCH, &path, Some(json!({ "enabled": true }))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["enabled"], true);
    assert_eq!(doc["data"]["attributes"]["disabledBy"], Value::Null);

    let log = audit_of(&app, "erin").await;
    assert_eq!(events(&log)[0], "CREDENTIAL_ENABLED");
    let disabled = log
        .iter()
        .find(|e| e["attributes"]["event"] == "CREDENTIAL_DISABLED")
        .expect("the disable is audited");
    assert_eq!(disabled["attributes"]["credentialId"], first.as_str());
    assert!(
        disabled["attributes"]["detail"]
            .as_str()
            .unwrap()
            .contains("1 session(s) ended"),
        "{disabled}"
    );
}

#[tokio::test]
async fn deleting_a_credential_ends_the_users_sessions_and_only_their_own_can_be_touched() {
    let app = spawn_app().await;
    let (browser, id) = user_with_credential(&app, "alice").await;
    let (_bob_browser, bobs) = user_with_credential(&app, "bob").await;

    // Bob's credential is not Alice's; neither is an id that does not decode.
    for other in [bobs.as_str(), "not*base64", "AAAA"] {
        let path = format!("/rest/admin/users/alice/fido/credentials/{other}");
        for method in [Method::PATCH, Method::DELETE] {
            let (status, doc) = helpdesk(
                &app,
                method.clone(),
                &path,
                Some(json!({ "enabled": false })),
            )
            .await;
            assert_eq!(
                (status, code(&doc)),
                (StatusCode::NOT_FOUND, "FIDO_CREDENTIAL_NOT_FOUND"),
                "{method} {other}"
            );
        }
    }
    let (status, doc) = helpdesk(
        &app,
        Method::DELETE,
        &format!("/rest/admin/users/nobody/fido/credentials/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );

    let path = format!("/rest/admin/users/alice/fido/credentials/{id}");
    let (status, doc) = helpdesk(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["id"], id.as_str());
    assert_signed_out(&browser).await;
    let (status, doc) = helpdesk(&app, Method::DELETE, &path, None).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::NOT_FOUND, "FIDO_CREDENTIAL_NOT_FOUND")
    );

    let (_, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users/alice/fido/credentials",
        None,
    )
    .await;
    assert_eq!(doc["data"], json!([]));
    let (_, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users/bob/fido/credentials",
        None,
    )
    .await;
    assert_eq!(doc["data"].as_array().unwrap().len(), 1);
    let log = audit_of(&app, "alice").await;
    assert_eq!(events(&log)[0], "CREDENTIAL_DELETED");
    assert_eq!(log[0]["attributes"]["credentialId"], id.as_str());
}

#[tokio::test]
async fn deleting_a_user_removes_their_credentials_and_ends_their_sessions() {
    let app = spawn_app().await;
    let (browser, id) = user_with_credential(&app, "alice").await;
    let (bob_browser, _) = user_with_credential(&app, "bob").await;

    let (status, doc) = app
        .admin(
            Method::DELETE,
            "/rest/admin/users/alice",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["credentialCount"], 1);
    assert_signed_out(&browser).await;
    // Other users stay signed in.
    assert_eq!(bob_browser.credentials().await.len(), 1);

    let (status, doc) = helpdesk(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    let (status, doc) = app
        .admin(
            Method::DELETE,
            "/rest/admin/users/alice",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );

    // The name can be taken again, and the old credential belongs to nobody.
    app.create_user("alice", Some(PASSWORD)).await;
    let (_, doc) = helpdesk(
        &app,
        Method::GET,
        "/rest/admin/users/alice/fido/credentials",
        None,
    )
    .await;
    assert_eq!(doc["data"], json!([]));
    let (status, _) = helpdesk(
        &app,
        Method::DELETE,
        &format!("/rest/admin/users/alice/fido/credentials/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let log = audit_of(&app, "alice").await;
    assert_eq!(&events(&log)[..2], ["USER_CREATED", "USER_DELETED"]);
    assert_eq!(log[1]["attributes"]["actor"], "token:test-admin");
}

#[tokio::test]
async fn unlocking_after_five_wrong_passwords_lets_the_right_password_in() {
    let app = spawn_app().await;
    app.create_user("carol", Some(PASSWORD)).await;
    let browser = app.browser();
    let check = |password: &'static str| {
        let browser = &browser;
        async move {
            browser
                .post(
                    "/rest/public/authentication/password/check",
                    json!({ "username": "carol", "password": password }),
                )
                .await
        }
    };
    // The fifth failure reaches the limit and engages the lock at once.
    for attempt in 1..=5 {
        let (status, doc) = check("wrong password").await;
        let expected = if attempt < 5 {
            (StatusCode::BAD_REQUEST, "USERNAME_PASSWORD_WRONG")
        } else {
            (StatusCode::FORBIDDEN, "USER_LOCKED")
        };
        assert_eq!((status, code(&doc)), expected, "attempt {attempt}");
    }
    let (status, doc) = check(PASSWORD).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::FORBIDDEN, "USER_LOCKED"),
        "{doc}"
    );

    let (_, doc) = helpdesk(&app, Method::GET, "/rest/admin/users/carol", None).await;
    assert_eq!(doc["data"]["attributes"]["locked"], true);
    assert!(doc["data"]["attributes"]["lockExpiry"].is_string(), "{doc}");

    let (status, doc) = helpdesk(&app, Method::POST, "/rest/admin/users/carol/unlock", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["locked"], false);
    assert_eq!(doc["data"]["attributes"]["lockExpiry"], Value::Null);

    let (status, doc) = check(PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let log = audit_of(&app, "carol").await;
    assert_eq!(&events(&log)[..2], ["PASSWORD_CHECK", "USER_UNLOCKED"]);
    assert_eq!(log[1]["attributes"]["actor"], "token:test-helpdesk");
    assert_eq!(log[1]["attributes"]["outcome"], "success");
}

#[tokio::test]
async fn audit_events_carry_who_what_and_where_newest_first_in_pages() {
    let app = spawn_app().await;
    let (_browser, id) = user_with_credential(&app, "dora").await;
    let path = format!("/rest/admin/users/dora/fido/credentials/{id}");
    for (i, body) in [
        json!({ "displayName": "One" }),
        json!({ "enabled": false }),
        json!({ "enabled": true }),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .admin_request(Method::PATCH, &path, Some(HELPDESK_TOKEN))
            .header("User-Agent", format!("helpdesk-console/{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    let mut seen: Vec<Value> = Vec::new();
    let mut path = "/rest/admin/audit?username=dora&page[size]=2".to_string();
    loop {
        let (status, doc) = helpdesk(&app, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        let page = doc["data"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().cloned());
        match doc["meta"]["page"]["next"].as_str() {
            Some(cursor) => {
                path = format!("/rest/admin/audit?username=dora&page[size]=2&page[after]={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(
        events(&seen),
        [
            "CREDENTIAL_ENABLED",
            "CREDENTIAL_DISABLED",
            "CREDENTIAL_RENAMED",
            "FIDO_REGISTRATION",
            "PASSWORD_CHECK",
            "USER_CREATED",
        ]
    );
    let ids: Vec<u64> = seen
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let times: Vec<&str> = seen
        .iter()
        .map(|e| e["attributes"]["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    for (i, e) in seen[..3].iter().enumerate() {
        assert_eq!(e["type"], "audit.event");
        let a = &e["attributes"];
        assert_eq!(a["actor"], "token:test-helpdesk");
        assert_eq!(a["username"], "dora");
        assert_eq!(a["credentialId"], id.as_str());
        assert_eq!(a["outcome"], "success");
        assert_eq!(a["remoteAddress"], "127.0.0.1");
        assert_eq!(a["userAgent"], format!("helpdesk-console/{}", 2 - i));
        assert!(!a["requestId"].as_str().unwrap().is_empty(), "{a}");
        assert!(!a["detail"].as_str().unwrap().is_empty(), "{a}");
    }
    assert_eq!(seen[4]["attributes"]["actor"], "user:dora");
    assert_eq!(seen[5]["attributes"]["actor"], "token:test-admin");
    assert!(seen[5]["attributes"].get("credentialId").is_none());

    // The whole log holds everyone's events; bad paging is refused.
    let (_, doc) = helpdesk(&app, Method::GET, "/rest/admin/audit", None).await;
    assert_eq!(doc["data"].as_array().unwrap().len(), 6);
    for bad in ["page[after]=soon", "page[size]=1000", "username=%21"] {
        let (status, doc) =
            helpdesk(&app, Method::GET, &format!("/rest/admin/audit?{bad}"), None).await;
        assert_eq!(
            (status, code(&doc)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn with_admin_bind_the_admin_api_answers_only_on_its_own_port() {
    let app = spawn_app_with(|s| s.admin.bind = Some("127.0.0.1:0".parse().unwrap())).await;
    assert_ne!(app.admin_base, app.base);
    app.create_user("alice", None).await;
    let (status, doc) = helpdesk(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    let public = reqwest::Client::new()
        .get(format!("{}/rest/admin/users/alice", app.base))
        .bearer_auth(HELPDESK_TOKEN)
        .send()
        .await
        .unwrap();
    let (status, doc) = decode(public).await;
    assert_eq!((status, code(&doc)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

/// The audited client address is the peer's, unless the peer is a trusted proxy: then it is the
/// rightmost `X-Forwarded-For` address that is not a trusted proxy (what a client puts in the
/// header itself stays to the left of it).
#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_through_a_trusted_proxy() {
    for (trusted, forwarded, expected) in [
        (&[][..], "203.0.113.7", "127.0.0.1"),
        (&["127.0.0.0/8"][..], "203.0.113.7", "203.0.113.7"),
        (
            &["127.0.0.1", "10.0.0.0/8"][..],
            "198.51.100.9, 203.0.113.7, 10.1.2.3",
            "203.0.113.7",
        ),
    ] {
        let app = spawn_app_with(|s| {
            s.proxy.trusted_proxies = trusted
                .iter()
                .map(|t| fidoflow::config::IpRange::parse(t).unwrap())
                .collect();
        })
        .await;
        app.create_user("erin", Some(PASSWORD)).await;
        let browser = app.browser();
        let response = browser
            .client
            .post(format!(
                "{}/rest/public/authentication/password/check",
                browser.base
            ))
            .header("X-Same-Domain", "1")
            .header("Origin", ORIGIN)
            .header("X-Forwarded-For", forwarded)
            .json(&json!({ "username": "erin", "password": PASSWORD }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let events = audit_of(&app, "erin").await;
        let check = events
            .iter()
            .map(|e| &e["attributes"])
            .find(|a| a["event"] == "PASSWORD_CHECK")
            .expect("the password check is audited");
        assert_eq!(check["remoteAddress"], expected, "trusted {trusted:?}");
    }
}
