//! Data directories written by earlier releases open unchanged and their users still sign in.
//!
//! `tests/fixtures/data-v1/` is a data directory (the sled `db` folder and `session.key`) that the
//! real server wrote at schema version 1, with `authenticators.json` holding the software
//! authenticators of its users. `generate_schema_v1_fixture` wrote it (run by hand, see the
//! fixture's README); it must never be run again once the store's schema moved on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    spawn_app, spawn_app_on, Browser, TestApp, ADMIN_TOKEN, ORIGIN, PASSWORD,
};
use crate::common::softauthn::{Alg, SavedAuthenticator, SoftAuthenticator};

const AUTH: &str = "/rest/public/authentication";
const SIGNUP: &str = "/rest/public/user-self-registration";
/// What the generator writes (and replaces); the fixture's `README.md` is written by hand.
const FIXTURE_FILES: [&str; 3] = ["db", "session.key", "authenticators.json"];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-v1")
}

/// Copies a directory tree (files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {to:?}: {e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {from:?}: {e}")) {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {:?} to {target:?}: {e}", entry.path()));
        }
    }
}

fn tree_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("directory entry");
            if e.file_type().expect("file type").is_dir() {
                tree_size(&e.path())
            } else {
                e.metadata().expect("metadata").len()
            }
        })
        .sum()
}

async fn logout(b: &Browser) {
    let (status, doc) = b.post(&format!("{AUTH}/logout"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

async fn session_user(b: &Browser) -> Option<String> {
    let (_, doc) = b.get(&format!("{AUTH}/session")).await;
    doc["data"]["attributes"]["username"]
        .as_str()
        .map(str::to_string)
}

/// The `fido-passwordless` application with the browser's authenticator; the check's answer.
async fn passwordless(b: &mut Browser) -> (StatusCode, Value) {
    let (status, doc) = b
        .post(
            &format!("{AUTH}/applications/fido-passwordless/access"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
    assert_eq!(
        doc["meta"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED"
    );
    let (status, doc) = b
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert!(options.get("allowCredentials").is_none(), "{options}");
    let assertion = b.authenticator.authenticate(&options, ORIGIN);
    b.post(
        &format!("{AUTH}/fido/assertion-response/check"),
        json!({ "publicKeyCredential": assertion }),
    )
    .await
}

/// Passkey sign-up of `name` in a new browser, which stays signed in.
async fn sign_up(app: &TestApp, name: &str) -> Browser {
    let mut b = app.browser();
    let (status, doc) = b
        .post(&format!("{SIGNUP}/passkey-signup/select"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/user-data/continue"),
            json!({"username": name, "displayName": format!("{name} (signed up)")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/challenge/retrieve"),
            json!({"displayName": "Phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialCreationOptions"].clone();
    let credential = b.authenticator.register(&options, ORIGIN);
    let (status, doc) = b
        .post(
            &format!("{SIGNUP}/fido/registration/attestation-response/check"),
            json!({ "publicKeyCredential": credential }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    b
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    let (status, doc) = app.admin(Method::GET, path, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

async fn credentials_of(app: &TestApp, username: &str) -> Vec<Value> {
    admin_get(
        app,
        &format!("/rest/admin/users/{username}/fido/credentials"),
    )
    .await["data"]
        .as_array()
        .expect("credentials")
        .clone()
}

/// Writes `tests/fixtures/data-v1/` (all but its README) from a fresh server: `alice` (made with
/// the admin API, with a password) registers a discoverable ES256 passkey through
/// `fido-registration` and signs in with password + passkey; `bob` signs up with a passkey and
/// signs in passwordless. Both stay signed in, so the store holds live sessions too.
///
/// `cargo test --test api generate_schema_v1_fixture -- --ignored`. Only ever at schema version 1:
/// the fixture is the old layout that later versions must keep reading.
#[tokio::test]
#[ignore = "writes tests/fixtures/data-v1; run by hand, and only at schema version 1"]
async fn generate_schema_v1_fixture() {
    assert_eq!(
        fidoflow::store::SCHEMA_VERSION,
        1,
        "the data-v1 fixture is the schema-1 layout; it must not be regenerated by a later schema"
    );
    let mut app = spawn_app().await;

    app.create_user("alice", Some(PASSWORD)).await;
    let mut alice = app.browser();
    assert_eq!(alice.authenticator.alg, Alg::Es256);
    alice.login("alice", PASSWORD).await;
    let options = alice.start_registration(Some("Alice's passkey")).await;
    let credential = alice.authenticator.register(&options, ORIGIN);
    let (status, doc) = alice.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(alice.authenticator.credentials()[0].discoverable);
    logout(&alice).await;
    let (status, doc) = alice.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&alice).await.as_deref(), Some("alice"));

    let mut bob = sign_up(&app, "bob").await;
    logout(&bob).await;
    let (status, doc) = passwordless(&mut bob).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&bob).await.as_deref(), Some("bob"));

    // What the fixture's test will rely on, as the writing server saw it.
    for (name, browser) in [("alice", &alice), ("bob", &bob)] {
        let list = credentials_of(&app, name).await;
        assert_eq!(list.len(), 1, "{name}: {list:?}");
        assert_eq!(list[0]["attributes"]["discoverable"], true, "{name}");
        assert_eq!(
            list[0]["attributes"]["signCount"], browser.authenticator.sign_count,
            "{name}"
        );
    }

    app.stop_and_release_store().await;
    let out = fixture_dir();
    std::fs::create_dir_all(&out).expect("fixture dir");
    for name in FIXTURE_FILES {
        let path = out.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove the old fixture db");
        } else if path.exists() {
            std::fs::remove_file(&path).expect("remove an old fixture file");
        }
    }
    copy_tree(&app.data_dir.path().join("db"), &out.join("db"));
    std::fs::copy(
        app.data_dir.path().join("session.key"),
        out.join("session.key"),
    )
    .expect("copy session.key");
    let authenticators: BTreeMap<&str, SavedAuthenticator> = [
        ("alice", alice.authenticator.save()),
        ("bob", bob.authenticator.save()),
    ]
    .into_iter()
    .collect();
    let mut text = serde_json::to_string_pretty(&authenticators).expect("JSON");
    text.push('\n');
    std::fs::write(out.join("authenticators.json"), text).expect("write authenticators.json");
    eprintln!(
        "wrote {}: db {} bytes",
        out.display(),
        tree_size(&out.join("db"))
    );
}

fn saved_authenticators() -> BTreeMap<String, SavedAuthenticator> {
    let path = fixture_dir().join("authenticators.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

#[tokio::test]
async fn a_data_directory_written_by_schema_version_1_opens_and_its_users_sign_in() {
    // A copy: the server may change what it opens, the fixture must stay as it was written.
    let data = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture_dir().join("db"), &data.path().join("db"));
    std::fs::copy(
        fixture_dir().join("session.key"),
        data.path().join("session.key"),
    )
    .expect("copy session.key");
    let mut saved = saved_authenticators();
    let restore = |saved: &mut BTreeMap<String, SavedAuthenticator>, name: &str| {
        SoftAuthenticator::restore(saved.remove(name).unwrap_or_else(|| panic!("no {name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let alice_authenticator = restore(&mut saved, "alice");
    let bob_authenticator = restore(&mut saved, "bob");
    let alice_id = alice_authenticator.credential_ids()[0].clone();
    let bob_id = bob_authenticator.credential_ids()[0].clone();

    let app = spawn_app_on(data).await;

    // The admin API lists both users and alice's credential as they were stored.
    let users = admin_get(&app, "/rest/admin/users").await;
    let names: Vec<&str> = users["data"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id"))
        .collect();
    assert_eq!(names, ["alice", "bob"], "{users}");
    let list = credentials_of(&app, "alice").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], alice_id.as_str());
    let a = &list[0]["attributes"];
    assert_eq!(a["displayName"], "Alice's passkey");
    assert_eq!(a["discoverable"], true);
    assert_eq!(a["enabled"], true);
    let stored_alice = a["signCount"].as_u64().expect("signCount");
    let stored_bob = credentials_of(&app, "bob").await[0]["attributes"]["signCount"]
        .as_u64()
        .expect("signCount");
    // The saved counters are the last ones the server saw; the next assertion carries one more.
    assert!(stored_alice > 0 && stored_bob > 0);
    assert_eq!(u64::from(alice_authenticator.sign_count), stored_alice);
    assert_eq!(u64::from(bob_authenticator.sign_count), stored_bob);

    // alice: password, then the FIDO second factor the `default` application asks for.
    let mut alice = app.browser();
    alice.authenticator = alice_authenticator;
    let doc = alice.login("alice", PASSWORD).await;
    assert_eq!(
        doc["data"]["attributes"]["nextAuthStep"],
        "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED",
        "{doc}"
    );
    assert_eq!(session_user(&alice).await, None);
    let (status, doc) = alice
        .post(&format!("{AUTH}/fido/challenge/retrieve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let options = doc["data"]["attributes"]["publicKeyCredentialRequestOptions"].clone();
    assert_eq!(options["allowCredentials"][0]["id"], alice_id.as_str());
    let assertion = alice.authenticator.authenticate(&options, ORIGIN);
    let (status, doc) = alice
        .post(
            &format!("{AUTH}/fido/assertion-response/check"),
            json!({ "publicKeyCredential": assertion }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["data"]["attributes"].get("nextAuthStep").is_none(),
        "{doc}"
    );
    assert_eq!(session_user(&alice).await.as_deref(), Some("alice"));
    assert!(u64::from(alice.authenticator.sign_count) > stored_alice);

    // alice again, passwordless with her passkey, in a new browser.
    let mut again = app.browser();
    again.authenticator = std::mem::take(&mut alice.authenticator);
    let (status, doc) = passwordless(&mut again).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&again).await.as_deref(), Some("alice"));

    // bob, who signed up with a passkey, passwordless.
    let mut bob = app.browser();
    bob.authenticator = bob_authenticator;
    let (status, doc) = passwordless(&mut bob).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(session_user(&bob).await.as_deref(), Some("bob"));

    // The counters moved on from the stored ones.
    let a = &credentials_of(&app, "alice").await[0]["attributes"];
    assert_eq!(a["signCount"], stored_alice + 2);
    assert!(a["lastUsedAt"].is_string());
    let b = credentials_of(&app, "bob").await;
    assert_eq!(b[0]["id"], bob_id.as_str());
    assert_eq!(b[0]["attributes"]["signCount"], stored_bob + 1);
}

#[test]
fn the_migration_chains_the_audit_records_of_a_schema_version_1_directory() {
    // Two copies: one to count the records version 1 wrote, one for `fidoflow audit verify`.
    let counted = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture_dir().join("db"), &counted.path().join("db"));
    let written = {
        let db = sled::open(counted.path().join("db")).expect("the fixture's copy opens");
        db.open_tree("audit").expect("audit").len() as u64
    };
    assert!(written > 0);
    let data = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture_dir().join("db"), &data.path().join("db"));
    let report = fidoflow::audit_cli::verify(data.path(), None)
        .expect("the store opens")
        .expect("the migrated chain holds");
    assert_eq!(report.records, written);
}
