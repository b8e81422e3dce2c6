//! The helpdesk calls of one tenant under `/rest/admin/tenants/{id}/users`, tokens limited to
//! some tenants, and the audit log by tenant.

use fidoflow::config::{AdminRole, AdminToken};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, two_tenants, Backend, DEMO_ORIGIN, SHOP_ORIGIN};
use crate::common::app::{spawn_app_with, tenants_from_toml, HELPDESK_TOKEN};
use crate::common::softauthn::{SoftAuthenticator, Tamper};
use crate::tenants_admin::{
    admin, as_token, audit_of_tenant, events, fresh_settings, refused_with,
};

const DEMO_DESK_TOKEN: &str = "demo-desk-token-0123456789abcdefghijklmnopqrstuvwxyz";

#[tokio::test]
async fn a_token_limited_to_some_tenants_acts_only_on_them() {
    let tenants = tenants_from_toml(&two_tenants());
    let app = spawn_app_with(move |s| {
        s.tenants = tenants;
        let mut limited = AdminToken::from_token("demo-desk", AdminRole::Admin, DEMO_DESK_TOKEN);
        limited.tenants = Some(vec!["demo".into()]);
        s.admin.tokens.push(limited);
    })
    .await;
    let mut key = SoftAuthenticator::new();
    Backend::demo(&app)
        .register("alice", &mut key, DEMO_ORIGIN)
        .await;
    let mut other = SoftAuthenticator::new();
    Backend::shop(&app)
        .register("bob", &mut other, SHOP_ORIGIN)
        .await;
    let desk = |method: Method, path: &'static str| {
        let app = &app;
        async move { as_token(app, DEMO_DESK_TOKEN, method, path, None).await }
    };

    let (status, doc) = desk(Method::GET, "/rest/admin/tenants/demo/users").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"][0]["id"], "alice");
    let (status, doc) = desk(Method::GET, "/rest/admin/tenants").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(doc["data"][0]["id"], "demo");

    for (method, path) in [
        (Method::GET, "/rest/admin/tenants/shop/users"),
        (Method::DELETE, "/rest/admin/tenants/shop/users/bob"),
        (Method::GET, "/rest/admin/tenants/shop"),
        (Method::GET, "/rest/admin/tenants/nosuch/users"),
        (Method::GET, "/rest/admin/users"),
        (Method::GET, "/rest/admin/audit?tenant=shop"),
        (Method::DELETE, "/rest/admin/tenants/demo"),
        (Method::POST, "/rest/admin/mds/reevaluate"),
    ] {
        let answer = desk(method, path).await;
        refused_with(&answer, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let answer = as_token(
        &app,
        DEMO_DESK_TOKEN,
        Method::POST,
        "/rest/admin/tenants",
        Some(fresh_settings()),
    )
    .await;
    refused_with(&answer, StatusCode::FORBIDDEN, "FORBIDDEN");

    // bob is untouched, and the refused calls are in shop's audit trail (bob's too).
    let (status, _) = admin(
        &app,
        Method::GET,
        "/rest/admin/tenants/shop/users/bob",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let audit = audit_of_tenant(&app, "shop").await;
    let denied: Vec<&Value> = audit
        .iter()
        .filter(|e| e["event"] == "ADMIN_ACCESS_DENIED")
        .collect();
    assert!(denied.len() >= 3, "{audit:?}");
    let delete = denied
        .iter()
        .find(|e| e["username"] == "bob")
        .expect("the refused delete names bob");
    assert_eq!(delete["actor"], "token:demo-desk");
    assert_eq!(
        delete["detail"],
        "DELETE /rest/admin/tenants/shop/users/bob refused: this token may not act on tenant `shop`"
    );
    let (status, doc) = admin(
        &app,
        Method::GET,
        "/rest/admin/audit?tenant=shop&username=bob",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(events(
        &doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["attributes"].clone())
            .collect::<Vec<_>>()
    )
    .contains(&"ADMIN_ACCESS_DENIED"));

    // Without `tenant`, the limited token sees only its tenants' events.
    let (status, doc) = desk(Method::GET, "/rest/admin/audit?page[size]=100").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let seen = doc["data"].as_array().unwrap();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|e| e["attributes"]["tenant"] == "demo"),
        "{doc}"
    );
}

#[tokio::test]
async fn the_helpdesk_manages_one_tenants_users_without_touching_another_tenants_namesakes() {
    let app = spawn_with_tenants().await;
    app.create_user("alice", None).await; // default's alice
    let demo = Backend::demo(&app);
    let mut key = SoftAuthenticator::new();
    let registered = demo.register("alice", &mut key, DEMO_ORIGIN).await;
    let uid = registered["uid"].as_str().unwrap().to_string();
    let credential_id = registered["key_info"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Five failed verifications lock demo's alice; the helpdesk sees it there only.
    let bad = Tamper {
        flip_signature_byte: true,
        ..Tamper::default()
    };
    for _ in 0..5 {
        demo.verify(&uid, &mut key, DEMO_ORIGIN, &bad).await;
    }
    let (status, doc) = admin(
        &app,
        Method::GET,
        "/rest/admin/tenants/demo/users/alice",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["locked"], true);
    assert_eq!(doc["data"]["attributes"]["credentialCount"], 1);
    let (_, doc) = admin(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(doc["data"]["attributes"]["locked"], false);
    assert_eq!(doc["data"]["attributes"]["credentialCount"], 0);
    let (_, doc) = admin(
        &app,
        Method::GET,
        "/rest/admin/tenants/default/users/alice",
        None,
    )
    .await;
    assert_eq!(
        doc["data"]["attributes"]["credentialCount"], 0,
        "default by its id too"
    );

    // Unlocked by the helpdesk: demo's alice verifies again.
    let (status, doc) = as_token(
        &app,
        HELPDESK_TOKEN,
        Method::POST,
        "/rest/admin/tenants/demo/users/alice/unlock",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["locked"], false);
    let answer = demo
        .verify(&uid, &mut key, DEMO_ORIGIN, &Tamper::default())
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);

    // Her credential, listed, disabled and deleted through demo's path.
    let credentials = "/rest/admin/tenants/demo/users/alice/fido/credentials".to_string();
    let (status, doc) = admin(&app, Method::GET, &credentials, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"][0]["id"], credential_id.as_str());
    let one = format!("{credentials}/{credential_id}");
    let (status, doc) = admin(&app, Method::PATCH, &one, Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["disabledBy"], "helpdesk");
    let answer = demo
        .verify(&uid, &mut key, DEMO_ORIGIN, &Tamper::default())
        .await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN, "{}", answer.1);
    // The credential is not default's alice's.
    let answer = admin(
        &app,
        Method::DELETE,
        &format!("/rest/admin/users/alice/fido/credentials/{credential_id}"),
        None,
    )
    .await;
    refused_with(&answer, StatusCode::NOT_FOUND, "FIDO_CREDENTIAL_NOT_FOUND");
    let (status, _) = admin(&app, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::OK);

    // A user made and deleted in demo; default's alice stays.
    let (status, doc) = admin(
        &app,
        Method::POST,
        "/rest/admin/tenants/demo/users",
        Some(json!({"username": "carol"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let (status, answer) = demo.get("/users/carol").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, doc) = admin(
        &app,
        Method::DELETE,
        "/rest/admin/tenants/demo/users/alice",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, _) = admin(&app, Method::GET, "/rest/admin/users/alice", None).await;
    assert_eq!(status, StatusCode::OK, "default's alice is still there");
    refused_with(
        &admin(
            &app,
            Method::GET,
            "/rest/admin/tenants/demo/users/alice",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    refused_with(
        &admin(&app, Method::GET, "/rest/admin/tenants/nosuch/users", None).await,
        StatusCode::NOT_FOUND,
        "TENANT_NOT_FOUND",
    );

    // demo's audit trail holds these, each naming demo; default's holds none of them.
    let audit = audit_of_tenant(&app, "demo").await;
    let kinds = events(&audit);
    for kind in [
        "USER_UNLOCKED",
        "CREDENTIAL_DISABLED",
        "CREDENTIAL_DELETED",
        "USER_CREATED",
        "USER_DELETED",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(audit.iter().all(|e| e["tenant"] == "demo"));
    let deleted = audit.iter().find(|e| e["event"] == "USER_DELETED").unwrap();
    assert_eq!(deleted["detail"], "user deleted with 0 credential(s)");
    let (status, doc) = admin(
        &app,
        Method::GET,
        "/rest/admin/audit?tenant=demo&username=alice",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["attributes"]["username"] == "alice"));
    let default = audit_of_tenant(&app, "default").await;
    assert!(default.iter().all(|e| e["tenant"] == "default"));
    assert_eq!(events(&default), ["USER_CREATED"], "{default:?}");
    assert_eq!(default[0]["apiKey"], Value::Null);
}
