//! Importing users with their credentials from another FIDO server
//! (`POST /rest/admin/tenants/{id}/import`, JSON lines): imported users sign in with the
//! credentials they had, each line is all or nothing, and a refused line is reported with its
//! number and reason while the others are imported.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::authfi::{spawn_with_tenants, Backend, DEMO_ORIGIN};
use crate::common::app::{code, decode, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN};
use crate::common::softauthn::{b64url, SoftAuthenticator, Tamper};

/// Makes a credential as another server's registration would (RP ID `localhost`, the user
/// handle that server gave the user); returns its id and COSE public key.
fn credential_elsewhere(
    authenticator: &mut SoftAuthenticator,
    handle: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let options = json!({
        "rp": {"id": "localhost", "name": "The old server"},
        "user": {"id": b64url(handle), "name": "someone", "displayName": "Someone"},
        "challenge": b64url(&[9; 32]),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    });
    let made = authenticator.register(&options, DEMO_ORIGIN);
    let id = made["id"].as_str().expect("id").to_string();
    let stored = authenticator
        .credential(&id)
        .expect("the authenticator keeps it");
    (stored.id.clone(), stored.cose_public_key())
}

fn aaguid_text(aaguid: &[u8; 16]) -> String {
    let hex: String = aaguid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn user_line(handle: &[u8], name: &str, credentials: Value) -> String {
    json!({
        "user_handle": b64url(handle),
        "name": name,
        "display_name": format!("{name} (imported)"),
        "credentials": credentials,
    })
    .to_string()
}

fn credential(id: &[u8], public_key: &[u8], sign_count: u32) -> Value {
    json!({"credential_id": b64url(id), "public_key": b64url(public_key), "sign_count": sign_count})
}

async fn import(
    app: &TestApp,
    tenant: &str,
    token: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let response = app
        .admin_request(
            Method::POST,
            &format!("/rest/admin/tenants/{tenant}/import"),
            Some(token),
        )
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    decode(response).await
}

async fn imported(app: &TestApp, tenant: &str, lines: &[String]) -> Value {
    let (status, doc) = import(
        app,
        tenant,
        ADMIN_TOKEN,
        "application/x-ndjson",
        lines.join("\n") + "\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["type"], "tenant.import");
    assert_eq!(doc["data"]["id"], tenant);
    doc["data"]["attributes"].clone()
}

#[tokio::test]
async fn users_imported_through_the_import_call_sign_in_with_the_credentials_they_had() {
    let app = spawn_with_tenants().await;
    let mut laptop = SoftAuthenticator::new();
    laptop.transports = vec!["internal".into(), "hybrid".into()];
    let carol_handle = b"old-server-user-0001".to_vec();
    let (laptop_id, laptop_key) = credential_elsewhere(&mut laptop, &carol_handle);
    let mut usb = SoftAuthenticator::new();
    let (usb_id, usb_key) = credential_elsewhere(&mut usb, &[0xd4; 16]);

    let mut carols = credential(&laptop_id, &laptop_key, 40);
    carols["aaguid"] = json!(aaguid_text(&laptop.aaguid));
    carols["transports"] = json!(["internal", "hybrid", "internal"]);
    carols["created"] = json!("2024-01-02T03:04:05Z");
    carols["name"] = json!("Carol's laptop");
    let lines = [
        user_line(&carol_handle, "Carol", json!([carols])),
        user_line(
            &[0xd4; 16],
            "dave",
            json!([credential(&usb_id, &usb_key, 0)]),
        ),
    ];
    let report = imported(&app, "demo", &lines).await;
    assert_eq!(report, json!({"imported": 2, "refused": []}));

    // The credentials as stored: no attestation, untrusted, enabled, the counter they had.
    let (status, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/tenants/demo/users/carol/fido/credentials",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let stored = &doc["data"][0]["attributes"];
    assert_eq!(doc["data"][0]["id"], b64url(&laptop_id).as_str());
    assert_eq!(stored["attestationFormat"], "none");
    assert_eq!(stored["attestationTrusted"], false);
    assert_eq!(stored["enabled"], true);
    assert_eq!(stored["signCount"], 40);
    assert_eq!(stored["displayName"], "Carol's laptop");
    assert_eq!(stored["aaguid"], aaguid_text(&laptop.aaguid).as_str());
    assert_eq!(stored["transports"], json!(["internal", "hybrid"]));
    assert_eq!(stored["createdAt"], "2024-01-02T03:04:05.000+00:00");
    let (_, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/tenants/demo/users/carol",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(doc["data"]["attributes"]["displayName"], "Carol (imported)");
    assert_eq!(doc["data"]["attributes"]["hasPassword"], false);

    // A clone whose counter is not above the imported one is refused; the laptop signs in.
    let demo = Backend::demo(&app);
    let mut clone = laptop.clone();
    clone.sign_count = 39;
    let (status, answer) = demo.login(&mut clone, DEMO_ORIGIN).await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::FORBIDDEN, &json!(4203)),
        "{answer}"
    );
    laptop.sign_count = 40;
    let (status, answer) = demo.login(&mut laptop, DEMO_ORIGIN).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["uid"],
        b64url(&carol_handle).as_str(),
        "the user handle she had"
    );
    assert_eq!(answer["user"]["name"], "carol");
    assert_eq!(answer["key_info"]["sign_count"], 41);
    // dave verifies as a second factor, named by the handle the old server gave him.
    let (status, answer) = demo
        .verify(
            &b64url(&[0xd4; 16]),
            &mut usb,
            DEMO_ORIGIN,
            &Tamper::default(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["user"]["name"], "dave");
    // The same credentials mean nothing at shop (another RP ID, another tenant).
    let (status, answer) = Backend::shop(&app).get("/users/carol").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    // Audited once per user and once per call.
    let (status, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/audit?tenant=demo",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let audit: Vec<&Value> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["attributes"])
        .collect();
    let per_user: Vec<&Value> = audit
        .iter()
        .copied()
        .filter(|e| e["event"] == "USER_IMPORTED")
        .collect();
    assert_eq!(per_user.len(), 2);
    assert!(per_user.iter().any(|e| e["username"] == "carol"
        && e["detail"] == "user imported (line 1) with 1 credential(s)"));
    let finished = audit
        .iter()
        .find(|e| e["event"] == "USER_IMPORT_FINISHED")
        .expect("the call is audited");
    assert_eq!(finished["actor"], "token:test-admin");
    assert_eq!(finished["outcome"], "success");
    assert_eq!(finished["detail"], "2 user(s) imported");
}

#[tokio::test]
async fn a_bad_line_is_refused_with_its_number_while_the_other_lines_are_imported() {
    let app = spawn_with_tenants().await;
    let mut keys = SoftAuthenticator::new();
    let (erin_id, erin_key) = credential_elsewhere(&mut keys, b"erin");
    let (heidi_id, heidi_key) = credential_elsewhere(&mut keys, b"heidi");
    let (other_id, other_key) = credential_elsewhere(&mut keys, b"other");
    let mut unknown_member = credential(&other_id, &other_key, 0);
    unknown_member["signCount"] = json!(3);
    let mut rs1 = vec![
        0xa4, 0x01, 0x03, 0x03, 0x3a, 0x00, 0x00, 0xff, 0xfe, 0x20, 0x59, 0x01, 0x00,
    ];
    rs1.extend_from_slice(&[0xc5; 256]);
    rs1.extend_from_slice(&[0x21, 0x43, 0x01, 0x00, 0x01]);
    let lines = [
        /* 1 */ user_line(b"erin", "erin", json!([credential(&erin_id, &erin_key, 5)])),
        /* 2 */
        user_line(
            b"frank",
            "frank",
            json!([credential(&other_id, b"not a COSE key", 0)]),
        ),
        /* 3 */
        user_line(
            b"grace",
            "grace",
            json!([credential(&erin_id, &erin_key, 0)]),
        ),
        /* 4 */ user_line(b"x", "x", json!([credential(&other_id, &other_key, 0)])),
        /* 5 */ String::new(),
        /* 6 */ "{\"name\": \"ivan\",".into(),
        /* 7 */ user_line(b"judy", "judy", json!([unknown_member])),
        /* 8 */
        user_line(
            b"ken",
            "ken",
            json!([
                credential(&other_id, &other_key, 0),
                credential(&other_id, &other_key, 0)
            ]),
        ),
        /* 9 */
        user_line(
            b"heidi",
            "heidi",
            json!([credential(&heidi_id, &heidi_key, 0)]),
        ),
        /* 10 */
        user_line(
            &[1; 65],
            "leo",
            json!([credential(&other_id, &other_key, 0)]),
        ),
        /* 11 */
        user_line(
            b"mallory",
            "mallory",
            json!([credential(&other_id, &rs1, 0)]),
        ),
        /* 12 */
        user_line(
            b"erin",
            "nina",
            json!([credential(&other_id, &other_key, 0)]),
        ),
    ];
    let report = imported(&app, "demo", &lines).await;
    assert_eq!(report["imported"], 2, "{report}");
    let refused = report["refused"].as_array().expect("refused lines");
    let lines_refused: Vec<u64> = refused.iter().filter_map(|r| r["line"].as_u64()).collect();
    assert_eq!(lines_refused, [2, 3, 4, 6, 7, 8, 10, 11, 12], "{report}");
    let reason = |line: u64| {
        let entry = refused.iter().find(|r| r["line"] == line).unwrap();
        entry["reason"].as_str().unwrap().to_string()
    };
    assert!(
        reason(2).starts_with("credentials[0].public_key: this is not a COSE_Key"),
        "{}",
        reason(2)
    );
    assert!(
        reason(3).contains("credential_id") && reason(3).contains("already"),
        "{}",
        reason(3)
    );
    assert!(reason(4).starts_with("name:"), "{}", reason(4));
    assert!(reason(6).contains("not JSON"), "{}", reason(6));
    assert!(reason(7).contains("signCount"), "{}", reason(7));
    assert!(reason(8).contains("listed twice"), "{}", reason(8));
    assert!(reason(10).starts_with("user_handle:"), "{}", reason(10));
    assert!(reason(11).contains("cannot verify"), "{}", reason(11));
    assert!(reason(12).contains("exists"), "{}", reason(12));
    let named: Vec<(u64, &str)> = refused
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["name"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(named[0], (2, "frank"));
    assert_eq!(named[3], (6, "-"), "a line that is no JSON names nobody");

    // Nothing of a refused line was written: no frank, and the credential of line 8 is free.
    for (name, status) in [
        ("erin", StatusCode::OK),
        ("heidi", StatusCode::OK),
        ("frank", StatusCode::NOT_FOUND),
        ("ken", StatusCode::NOT_FOUND),
    ] {
        let (got, doc) = app
            .admin(
                Method::GET,
                &format!("/rest/admin/tenants/demo/users/{name}"),
                Some(ADMIN_TOKEN),
                None,
            )
            .await;
        assert_eq!(got, status, "{name}: {doc}");
    }
    let again = [user_line(
        b"ken",
        "ken",
        json!([credential(&other_id, &other_key, 0)]),
    )];
    assert_eq!(
        imported(&app, "demo", &again).await,
        json!({"imported": 1, "refused": []})
    );
    // erin signs in with hers.
    keys.sign_count = 5;
    let (status, answer) = Backend::demo(&app)
        .verify("erin", &mut keys, DEMO_ORIGIN, &Tamper::default())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (_, doc) = app
        .admin(
            Method::GET,
            "/rest/admin/audit?tenant=demo&page[size]=100",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    let finished = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["attributes"])
        .rfind(|e| e["event"] == "USER_IMPORT_FINISHED")
        .expect("the first call is audited")
        .clone();
    assert_eq!(finished["outcome"], "failure");
    assert_eq!(
        finished["detail"],
        "2 user(s) imported; 9 line(s) refused: 2, 3, 4, 6, 7, 8, 10, 11, 12"
    );
}

#[tokio::test]
async fn an_import_is_refused_whole_without_the_admin_role_json_lines_or_within_its_limits() {
    let app = spawn_with_tenants().await;
    let mut keys = SoftAuthenticator::new();
    let (id, key) = credential_elsewhere(&mut keys, b"olga");
    let line = user_line(b"olga", "olga", json!([credential(&id, &key, 0)]));

    let answer = import(
        &app,
        "demo",
        HELPDESK_TOKEN,
        "application/x-ndjson",
        line.clone(),
    )
    .await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::FORBIDDEN, "FORBIDDEN"),
        "{}",
        answer.1
    );
    let answer = import(&app, "demo", ADMIN_TOKEN, "application/json", line.clone()).await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        "{}",
        answer.1
    );
    let answer = import(
        &app,
        "demo",
        ADMIN_TOKEN,
        "application/jsonl",
        "\n \n".into(),
    )
    .await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        "{}",
        answer.1
    );
    let many = format!("{line}\n").repeat(10_001);
    let answer = import(&app, "demo", ADMIN_TOKEN, "application/x-ndjson", many).await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        "{}",
        answer.1
    );
    assert!(
        answer.1["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("10000"),
        "{}",
        answer.1
    );
    let huge = "x".repeat(16 * 1024 * 1024 + 1);
    let answer = import(&app, "demo", ADMIN_TOKEN, "application/x-ndjson", huge).await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE"),
        "{}",
        answer.1
    );
    assert!(
        answer.1["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("16 MiB"),
        "{}",
        answer.1
    );
    let answer = import(
        &app,
        "nosuch",
        ADMIN_TOKEN,
        "application/x-ndjson",
        line.clone(),
    )
    .await;
    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND"),
        "{}",
        answer.1
    );
    let answer = import(
        &app,
        "demo",
        "not-a-token",
        "application/x-ndjson",
        line.clone(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{}", answer.1);

    // None of these wrote anything; the same line, sent right, is imported.
    let (status, _) = app
        .admin(
            Method::GET,
            "/rest/admin/tenants/demo/users/olga",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        imported(&app, "demo", &[line]).await,
        json!({"imported": 1, "refused": []})
    );
}
