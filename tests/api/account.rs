//! Account self-service over HTTP: the display name, the password changed (with the current
//! password or a FIDO approval), added to a passkey-only account and removed, and the rules
//! that refuse each.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::app::{code, spawn_app, Browser, TestApp, PASSWORD};
use crate::lifecycle::approve;

const SS: &str = "/rest/protected/self-service";
const AUTH: &str = "/rest/public/authentication";

async fn select(b: &Browser, flow: &str) -> (StatusCode, Value) {
    b.post(&format!("{SS}/flows/{flow}/select"), json!({}))
        .await
}

fn next_step(doc: &Value) -> &str {
    doc["data"]["attributes"]["nextStep"].as_str().unwrap_or("")
}

async fn account(b: &Browser) -> Value {
    let (status, doc) = b.get(&format!("{SS}/user")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "my.user");
    doc["data"]["attributes"].clone()
}

/// A user with a password and one passkey, signed in with both in a new browser.
async fn with_password_and_passkey(app: &TestApp, name: &str) -> Browser {
    app.create_user(name, Some(PASSWORD)).await;
    let mut b = app.browser();
    b.login(name, PASSWORD).await;
    b.register(Some("Laptop")).await;
    b
}

async fn password_signs_in(app: &TestApp, name: &str, password: &str) -> bool {
    let b = app.browser();
    let (status, _) = b
        .post(
            &format!("{AUTH}/password/check"),
            json!({ "username": name, "password": password }),
        )
        .await;
    status == StatusCode::OK
}

#[tokio::test]
async fn the_display_name_is_changed_by_its_flow_and_checked() {
    let app = spawn_app().await;
    app.create_user("dora", Some(PASSWORD)).await;
    let b = app.browser();
    b.login("dora", PASSWORD).await;
    let before = account(&b).await;
    assert_eq!(before["username"], "dora");
    assert_eq!(before["displayName"], "dora (person)");
    assert_eq!(before["hasPassword"], true);

    // Out of turn: no flow runs.
    let (status, doc) = b
        .post(
            &format!("{SS}/user/display-name/change"),
            json!({"displayName": "Dora"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "UNEXPECTED_CALL");

    let (status, doc) = select(&b, "account-display-name").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "USER_DISPLAY_NAME_CHANGE_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{SS}/user/display-name/change"),
            json!({"displayName": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "INVALID_DISPLAY_NAME");
    let (status, doc) = b
        .post(
            &format!("{SS}/user/display-name/change"),
            json!({"displayName": "Dora Explorer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    assert_eq!(account(&b).await["displayName"], "Dora Explorer");

    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/users/dora",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["displayName"], "Dora Explorer");
}

#[tokio::test]
async fn the_account_is_only_shown_to_a_signed_in_session() {
    let app = spawn_app().await;
    let (status, doc) = app.browser().get(&format!("{SS}/user")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED");
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_the_rule_and_signs_out_the_others() {
    let app = spawn_app().await;
    app.create_user("pat", Some(PASSWORD)).await;
    let b = app.browser();
    b.login("pat", PASSWORD).await;
    let other = app.browser();
    other.login("pat", PASSWORD).await;

    let (status, doc) = select(&b, "password-add").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "PRECONDITION_NOT_FULFILLED");
    let (status, doc) = select(&b, "password-change").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "CURRENT_PASSWORD_REQUIRED");

    // The new password before the current one is out of turn.
    let (status, doc) = b
        .post(
            &format!("{SS}/password/new/set"),
            json!({"password": "a new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "UNEXPECTED_CALL");
    assert_eq!(doc["meta"]["nextStep"], "CURRENT_PASSWORD_REQUIRED");

    let (status, doc) = b
        .post(
            &format!("{SS}/password/current/check"),
            json!({"password": "not the password"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "PASSWORD_WRONG");
    assert_eq!(doc["meta"]["nextStep"], "CURRENT_PASSWORD_REQUIRED");

    let (status, doc) = b
        .post(
            &format!("{SS}/password/current/check"),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "NEW_PASSWORD_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{SS}/password/new/set"),
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&doc), "INVALID_PASSWORD");
    let (status, doc) = b
        .post(
            &format!("{SS}/password/new/set"),
            json!({"password": "a much better password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");

    // This session goes on; the other one is signed out.
    assert_eq!(account(&b).await["hasPassword"], true);
    let (status, _) = other.get(&format!("{SS}/user")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!password_signs_in(&app, "pat", PASSWORD).await);
    assert!(password_signs_in(&app, "pat", "a much better password").await);
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_sign_ins() {
    let app = spawn_app().await;
    app.create_user("guess", Some(PASSWORD)).await;
    let b = app.browser();
    b.login("guess", PASSWORD).await;
    select(&b, "password-change").await;
    let mut last = (StatusCode::OK, Value::Null);
    for _ in 0..10 {
        last = b
            .post(
                &format!("{SS}/password/current/check"),
                json!({"password": "wrong guess"}),
            )
            .await;
        if code(&last.1) != "PASSWORD_WRONG" {
            break;
        }
    }
    assert_eq!(last.0, StatusCode::FORBIDDEN, "{}", last.1);
    assert_eq!(code(&last.1), "USER_LOCKED");
    // The lock ends the flow and signs the account's sessions out.
    let (status, doc) = b
        .post(
            &format!("{SS}/password/current/check"),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(code(&doc), "NOT_AUTHORIZED");
}

#[tokio::test]
async fn a_fido_approval_stands_for_the_current_password() {
    let app = spawn_app().await;
    let mut b = with_password_and_passkey(&app, "fay").await;
    let (status, doc) = select(&b, "password-change").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "NEW_PASSWORD_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{SS}/password/new/set"),
            json!({"password": "approved new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(password_signs_in(&app, "fay", "approved new password").await);
}

#[tokio::test]
async fn a_password_is_removed_after_approval_and_added_back() {
    let app = spawn_app().await;
    let mut b = with_password_and_passkey(&app, "rem").await;
    let (status, doc) = select(&b, "password-removal").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        next_step(&doc),
        "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");
    let now = account(&b).await;
    assert_eq!(now["hasPassword"], false);
    assert!(!password_signs_in(&app, "rem", PASSWORD).await);

    // Passkey-only now: no change or removal, but a password can be added.
    let (status, doc) = select(&b, "password-change").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "PRECONDITION_NOT_FULFILLED");
    let (status, doc) = select(&b, "password-add").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        next_step(&doc),
        "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "NEW_PASSWORD_REQUIRED");
    let (status, doc) = b
        .post(
            &format!("{SS}/password/new/set"),
            json!({"password": "back with a password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(account(&b).await["hasPassword"], true);
}

#[tokio::test]
async fn the_password_of_an_account_without_an_enabled_passkey_cannot_go() {
    let app = spawn_app().await;
    app.create_user("only", Some(PASSWORD)).await;
    let b = app.browser();
    b.login("only", PASSWORD).await;
    let (status, doc) = select(&b, "password-removal").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "PRECONDITION_NOT_FULFILLED");
    let (status, doc) = b.get(&format!("{SS}/flows")).await;
    assert_eq!(status, StatusCode::OK);
    let removal = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "password-removal")
        .unwrap()
        .clone();
    assert_eq!(removal["attributes"]["available"], false);
}

#[tokio::test]
async fn an_account_is_deleted_after_a_fresh_approval_with_everything_of_it() {
    let app = spawn_app().await;
    app.create_user("leaver", Some(PASSWORD)).await;
    // Signed in elsewhere while the password alone still did it.
    let other = app.browser();
    other.login("leaver", PASSWORD).await;
    let mut b = app.browser();
    b.login("leaver", PASSWORD).await;
    b.register(Some("Laptop")).await;
    b.register(Some("Phone")).await;
    assert_eq!(account(&other).await["username"], "leaver");

    let (status, doc) = select(&b, "account-deletion").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        next_step(&doc),
        "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = approve(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");

    // This session and the other one are signed out; the user and its credentials are gone.
    let (_, doc) = b.get(&format!("{AUTH}/session")).await;
    assert_eq!(doc["data"]["attributes"]["authenticated"], false, "{doc}");
    let (status, _) = other.get(&format!("{SS}/user")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = Some(crate::common::app::ADMIN_TOKEN);
    let (status, _) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/users/leaver",
            token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!password_signs_in(&app, "leaver", PASSWORD).await);

    // Audited as the user's own deletion.
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?username=leaver&page[size]=100",
            token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let deleted = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["event"] == "USER_DELETED")
        .expect("a USER_DELETED record")
        .clone();
    assert_eq!(deleted["attributes"]["actor"], "user:leaver");
    let said = deleted["attributes"]["detail"].as_str().unwrap();
    assert!(said.contains("2 credential(s)"), "{said}");
    assert!(
        said.contains("this session and 1 other session(s) ended"),
        "{said}"
    );

    // The name is free again.
    app.create_user("leaver", None).await;
}

#[tokio::test]
async fn a_password_only_account_is_deleted_after_its_current_password_and_only_it() {
    let app = spawn_app().await;
    app.create_user("stayer", Some(PASSWORD)).await;
    let other = app.browser();
    other.login("stayer", PASSWORD).await;
    let b = app.browser();
    b.login("stayer", PASSWORD).await;
    // Without a passkey there is no approval to give: the password flow is offered instead.
    let (status, doc) = select(&b, "account-deletion").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "PRECONDITION_NOT_FULFILLED");

    let (status, doc) = select(&b, "account-deletion-by-password").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(next_step(&doc), "CURRENT_PASSWORD_REQUIRED");
    let path = format!("{SS}/password/current/check");
    let check = |password: &'static str| b.post(&path, json!({ "password": password }));
    let (status, doc) = check("not the password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "PASSWORD_WRONG");
    assert_eq!(account(&b).await["username"], "stayer", "still there");
    let (status, doc) = check(PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]["attributes"].get("nextStep").is_none(), "{doc}");

    let (_, doc) = b.get(&format!("{AUTH}/session")).await;
    assert_eq!(doc["data"]["attributes"]["authenticated"], false, "{doc}");
    let (status, _) = other.get(&format!("{SS}/user")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out everywhere");
    assert!(!password_signs_in(&app, "stayer", PASSWORD).await);
    let (status, doc) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/audit?username=stayer&filter[event]=USER_DELETED",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["data"][0]["attributes"]["actor"], "user:stayer",
        "{doc}"
    );

    // An account with a passkey is not deleted by its password alone.
    let b = with_password_and_passkey(&app, "keeper").await;
    let (status, doc) = select(&b, "account-deletion-by-password").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{doc}");
    assert_eq!(code(&doc), "PRECONDITION_NOT_FULFILLED");
}

#[tokio::test]
async fn the_own_security_events_come_newest_first_a_bounded_page_at_a_time() {
    let app = spawn_app().await;
    let b = with_password_and_passkey(&app, "watcher").await;
    assert!(!password_signs_in(&app, "watcher", "a wrong guess").await);
    // Another user's events are not in the list.
    app.create_user("neighbour", Some(PASSWORD)).await;
    app.browser().login("neighbour", PASSWORD).await;

    let (status, doc) = b.get(&format!("{SS}/security-events")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = doc["data"].as_array().unwrap();
    let events: Vec<(&str, bool, &str)> = list
        .iter()
        .map(|e| {
            let a = &e["attributes"];
            (
                a["event"].as_str().unwrap(),
                a["success"].as_bool().unwrap(),
                a["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("PASSWORD_CHECK", false, "someone"),
            ("FIDO_REGISTRATION", true, "you"),
            ("PASSWORD_CHECK", true, "you"),
        ],
        "{doc}"
    );
    assert!(list.iter().all(|e| e["type"] == "my.security.event"));
    assert!(list[1]["attributes"]["credentialId"].is_string());
    assert!(doc["meta"].get("page").is_none(), "{doc}");

    // One at a time, by the cursor.
    let (status, first) = b.get(&format!("{SS}/security-events?page[size]=1")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let next = first["meta"]["page"]["next"].as_str().unwrap().to_string();
    let (status, second) = b
        .get(&format!(
            "{SS}/security-events?page[size]=1&page[after]={next}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second["data"][0]["attributes"]["event"],
        "FIDO_REGISTRATION"
    );

    for bad in ["page[size]=0", "page[size]=51", "page[after]=later"] {
        let (status, doc) = b.get(&format!("{SS}/security-events?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {doc}");
        assert_eq!(code(&doc), "INVALID_REQUEST");
    }
    let (status, _) = app.browser().get(&format!("{SS}/security-events")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
