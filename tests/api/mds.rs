//! FIDO metadata over HTTP: a self-made metadata BLOB (an rcgen root, a signer certificate, a
//! JWS signed with ring ES256) imported with `fidoflow mds import`, and the software
//! authenticator attesting with a chain from the vendor root the BLOB lists for its AAGUID.

use std::path::Path;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::app::{
    code, detail, spawn_app_with, Browser, TestApp, ADMIN_TOKEN, HELPDESK_TOKEN, ORIGIN, PASSWORD,
};
use crate::common::pki::{self, LeafOptions};
use crate::common::softauthn::AttestationMode;
use fidoflow::config::Settings;

const AAGUID: [u8; 16] = [
    0x01, 0x32, 0xd1, 0x10, 0xbf, 0x4e, 0x42, 0x08, 0xa4, 0x03, 0xab, 0x4f, 0x5f, 0x12, 0xef, 0xe5,
];
const AAGUID_TEXT: &str = "0132d110-bf4e-4208-a403-ab4f5f12efe5";
const MODEL: &str = "Example Key Model 2";
/// The model's icon in the metadata statement (a 1×1 PNG).
const ICON: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The metadata PKI and the authenticator vendor's attestation root.
pub(crate) struct Fixture {
    mds_root: pki::Ca,
    signer: pki::AttestationChain,
    vendor: pki::Ca,
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let mds_root = pki::root_ca("MDS test root");
        let signer = pki::attestation_chain(
            &mds_root,
            &[],
            LeafOptions {
                common_name: Some("Metadata BLOB signer".into()),
                ..LeafOptions::default()
            },
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("mds-root.pem"), &mds_root.cert_pem).expect("write root");
        Fixture {
            mds_root,
            signer,
            vendor: pki::root_ca("Vendor attestation root"),
            dir,
        }
    }

    /// A BLOB numbered `number` whose one entry is our authenticator with these reports.
    pub(crate) fn blob(
        &self,
        number: u64,
        next_update: &str,
        reports: Value,
    ) -> std::path::PathBuf {
        let payload = json!({
            "legalHeader": "Test metadata.",
            "no": number,
            "nextUpdate": next_update,
            "entries": [{
                "aaguid": AAGUID_TEXT,
                "metadataStatement": {
                    "description": MODEL,
                    "icon": ICON,
                    "aaguid": AAGUID_TEXT,
                    "attestationRootCertificates": [b64(&self.vendor.cert_der)],
                },
                "statusReports": reports,
                "timeOfLastStatusChange": "2024-03-01",
            }],
        });
        let path = self.dir.path().join(format!("blob-{number}.jwt"));
        std::fs::write(&path, self.signer.sign_jws(&payload)).expect("write");
        path
    }

    fn configure(&self, s: &mut Settings) {
        s.mds.roots = vec![self.dir.path().join("mds-root.pem")];
    }

    /// Imports, waiting until a stopped server has let go of the store.
    fn import(&self, s: &Settings, blob: &Path) -> String {
        let mut tries = 0;
        loop {
            match fidoflow::mds_cli::import(s, blob, chrono::Utc::now()) {
                Ok(message) => return message,
                Err(e) if tries < 100 && format!("{e:#}").contains("lock") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("import: {e:#}"),
            }
        }
    }

    /// `fidoflow mds reevaluate`, waiting like [`import`](Self::import) while the store is
    /// still locked (sled lets go of its lock file a moment after the last handle is dropped).
    fn reevaluate(&self, s: &Settings) -> String {
        let mut tries = 0;
        loop {
            match fidoflow::mds_cli::reevaluate(s.clone()) {
                Ok(report) => return report,
                Err(e) if tries < 100 && format!("{e:#}").contains("lock") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("reevaluate: {e:#}"),
            }
        }
    }

    /// A software authenticator of the model, attesting with a chain from the vendor root.
    fn authenticator_for(&self, browser: &mut Browser) {
        browser.authenticator.aaguid = AAGUID;
        browser.authenticator.attestation = AttestationMode::PackedX5c {
            chain: pki::attestation_chain(
                &self.vendor,
                &[],
                LeafOptions {
                    aaguid_extension: Some(AAGUID),
                    ..LeafOptions::default()
                },
            ),
        };
    }
}

fn certified(level: &str) -> Value {
    json!([{ "status": format!("FIDO_CERTIFIED_{level}"), "effectiveDate": "2024-03-01" }])
}

/// Flows whose registration step asks for direct attestation (for the policies that need it).
fn direct_attestation_flows() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    std::fs::copy(
        shipped.join("applications.toml"),
        dir.path().join("applications.toml"),
    )
    .expect("copy applications.toml");
    std::fs::write(
        dir.path().join("self-service.toml"),
        r#"
[[flow]]
id = "fido-registration"
kind = "self-service"
authorization = [{ type = "authenticated-within", max_age = "10m" }]

[[flow.steps]]
type = "fido-registration"
attestation = "direct"
"#,
    )
    .expect("write flow");
    dir
}

async fn app_with_blob(fx: &Fixture, blob: &Path, change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        fx.configure(s);
        change(s);
        fx.import(s, blob);
    })
    .await
}

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let name = app.create_user(username, Some(PASSWORD)).await;
    let browser = app.browser();
    browser.login(&name, PASSWORD).await;
    browser
}

async fn try_register(browser: &mut Browser) -> (StatusCode, Value) {
    let options = browser.start_registration(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    browser.send_attestation(credential).await
}

/// A user's credentials as the helpdesk lists them.
async fn helpdesk_list(app: &TestApp, username: &str) -> Vec<Value> {
    let path = format!("/rest/admin/users/{username}/fido/credentials");
    let (status, doc) = app
        .admin(Method::GET, &path, Some(HELPDESK_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc["data"].as_array().expect("credentials").clone()
}

fn assert_registration_refused(status: StatusCode, doc: &Value, check: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(doc), "FIDO_REGISTRATION_FAILED", "{doc}");
    assert!(detail(doc).contains(&format!("({check})")), "{doc}");
}

#[tokio::test]
async fn the_metadata_roots_make_an_attestation_trusted_and_name_the_model() {
    let fx = Fixture::new();
    let blob = fx.blob(7, "2099-01-01", certified("L1"));
    let app = app_with_blob(&fx, &blob, |_| {}).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    let a = &list[0]["attributes"];
    assert_eq!(a["aaguid"], AAGUID_TEXT);
    assert_eq!(a["attestationFormat"], "packed");
    assert_eq!(a["authenticatorName"], MODEL);
    assert_eq!(
        a["displayName"], MODEL,
        "a credential without a name takes the model's"
    );
    assert_eq!(
        a["attestationTrusted"], true,
        "no configured anchor: the metadata root"
    );
    assert_eq!(a["authenticatorIcon"], ICON);
    let listed = helpdesk_list(&app, "alice").await;
    assert_eq!(listed[0]["attributes"]["authenticatorIcon"], ICON);

    // The helpdesk sees the BLOB.
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/mds", Some(HELPDESK_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let m = &doc["data"]["attributes"];
    assert_eq!(doc["data"]["type"], "mds.blob");
    assert_eq!(m["imported"], true);
    assert_eq!(m["number"], 7);
    assert_eq!(m["nextUpdate"], "2099-01-01");
    assert_eq!(m["stale"], false);
    assert_eq!(m["entries"], 1);
}

#[tokio::test]
async fn an_authenticator_of_another_model_is_not_trusted_by_its_claimed_metadata() {
    // The chain comes from a root the metadata does not list for this AAGUID.
    let fx = Fixture::new();
    let blob = fx.blob(1, "2099-01-01", certified("L1"));
    let app = app_with_blob(&fx, &blob, |_| {}).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let stranger = pki::root_ca("Someone else's root");
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&stranger, &[], LeafOptions::default()),
    };
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let list = browser.credentials().await;
    assert_eq!(list[0]["attributes"]["attestationTrusted"], false);
    assert_eq!(list[0]["attributes"]["authenticatorName"], MODEL);
}

#[tokio::test]
async fn a_revoked_authenticator_is_refused_at_registration() {
    let fx = Fixture::new();
    let reports = json!([
        {"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2023-01-01"},
        {"status": "REVOKED", "effectiveDate": "2025-01-01"},
    ]);
    let blob = fx.blob(3, "2099-01-01", reports);
    let app = app_with_blob(&fx, &blob, |_| {}).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_registration_refused(status, &doc, "metadataStatus");
    assert!(detail(&doc).contains("REVOKED"), "{doc}");
    assert!(browser.credentials().await.is_empty());
}

#[tokio::test]
async fn an_authenticator_revoked_after_registration_is_refused_at_sign_in() {
    let fx = Fixture::new();
    let first = fx.blob(1, "2099-01-01", certified("L1"));
    let mut app = app_with_blob(&fx, &first, |_| {}).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    browser
        .post("/rest/public/authentication/logout", json!({}))
        .await;

    // The next BLOB revokes the model; the operator imports it and restarts.
    app.stop().await;
    let revoked = fx.blob(
        2,
        "2099-01-01",
        json!([{ "status": "USER_KEY_PHYSICAL_COMPROMISE", "effectiveDate": "2025-05-01" }]),
    );
    let message = fx.import(&app.settings, &revoked);
    assert!(message.contains("number 2"), "{message}");
    // An older BLOB cannot come back.
    assert!(fidoflow::mds_cli::import(&app.settings, &first, chrono::Utc::now()).is_err());
    let app = app.restart().await;
    let mut browser = app.same_browser(browser);
    let (status, doc) = browser.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(code(&doc), "FIDO_AUTHENTICATION_FAILED", "{doc}");
    assert!(
        detail(&doc).contains("(metadataStatus)")
            && detail(&doc).contains("USER_KEY_PHYSICAL_COMPROMISE"),
        "{doc}"
    );
}

#[tokio::test]
async fn the_sign_in_check_can_be_turned_off() {
    let fx = Fixture::new();
    let first = fx.blob(1, "2099-01-01", certified("L1"));
    let mut app = app_with_blob(&fx, &first, |s| s.mds.check_at_login = false).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    browser
        .post("/rest/public/authentication/logout", json!({}))
        .await;
    app.stop().await;
    let revoked = fx.blob(2, "2099-01-01", json!([{ "status": "REVOKED" }]));
    fx.import(&app.settings, &revoked);
    let app = app.restart().await;
    let mut browser = app.same_browser(browser);
    let (status, doc) = browser.login_with_fido("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn the_aaguid_allow_list_admits_only_listed_models_with_trusted_attestation() {
    let fx = Fixture::new();
    let blob = fx.blob(1, "2099-01-01", certified("L1"));
    let flows = direct_attestation_flows();
    let app = app_with_blob(&fx, &blob, |s| {
        s.server.flows_dir = Some(flows.path().to_owned());
        s.attestation.aaguid_allow_list = vec![AAGUID_TEXT.to_string()];
    })
    .await;
    let mut browser = signed_in(&app, "alice").await;

    // Another model: refused.
    fx.authenticator_for(&mut browser);
    let listed = browser.authenticator.attestation.clone();
    browser.authenticator.aaguid = [0x42; 16];
    browser.authenticator.attestation = AttestationMode::PackedX5c {
        chain: pki::attestation_chain(&fx.vendor, &[], LeafOptions::default()),
    };
    let (status, doc) = try_register(&mut browser).await;
    assert_registration_refused(status, &doc, "aaguidAllowList");

    // The listed model claimed without attestation: refused, it counts only trusted ones.
    browser.authenticator.aaguid = AAGUID;
    browser.authenticator.attestation = AttestationMode::PackedSelf;
    let options = browser.registration_challenge(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_registration_refused(status, &doc, "aaguidAllowList");

    // The listed model with a chain to its metadata root: registered.
    browser.authenticator.attestation = listed;
    let options = browser.registration_challenge(None).await;
    let credential = browser.authenticator.register(&options, ORIGIN);
    let (status, doc) = browser.send_attestation(credential).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(browser.credentials().await.len(), 1);
}

#[tokio::test]
async fn a_minimum_certification_level_refuses_lower_certified_authenticators() {
    let fx = Fixture::new();
    let flows = direct_attestation_flows();
    let l1 = fx.blob(1, "2099-01-01", certified("L1"));
    let mut app = app_with_blob(&fx, &l1, |s| {
        s.server.flows_dir = Some(flows.path().to_owned());
        s.attestation.minimum_certification_level = Some("L2".into());
    })
    .await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_registration_refused(status, &doc, "certificationLevel");
    assert!(
        detail(&doc).contains("L1") && detail(&doc).contains("L2"),
        "{doc}"
    );

    app.stop().await;
    let l2plus = fx.blob(2, "2099-01-01", certified("L2plus"));
    fx.import(&app.settings, &l2plus);
    let app = app.restart().await;
    let mut browser = app.same_browser(browser);
    browser.login("alice", PASSWORD).await;
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_stale_blob_is_used_and_shown_stale_to_the_helpdesk() {
    let fx = Fixture::new();
    let blob = fx.blob(5, "2020-01-01", certified("L1"));
    let app = app_with_blob(&fx, &blob, |_| {}).await;
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/mds", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["stale"], true, "{doc}");
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        browser.credentials().await[0]["attributes"]["authenticatorName"],
        MODEL
    );
}

#[tokio::test]
async fn without_an_import_the_helpdesk_sees_no_blob() {
    let app = spawn_app_with(|_| {}).await;
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/mds", Some(HELPDESK_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["imported"], false);
    let (status, _) = app.admin(Method::GET, "/rest/admin/mds", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_import_is_refused_for_a_blob_from_an_unknown_signer_or_a_revoked_one() {
    let fx = Fixture::new();
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_tests(data.path());
    // No roots configured.
    let blob = fx.blob(1, "2099-01-01", certified("L1"));
    let error = fidoflow::mds_cli::import(&settings, &blob, chrono::Utc::now()).unwrap_err();
    assert!(format!("{error:#}").contains("mds.roots"), "{error:#}");
    // Another root.
    let other = pki::root_ca("Another MDS root");
    std::fs::write(fx.dir.path().join("other.pem"), &other.cert_pem).unwrap();
    settings.mds.roots = vec![fx.dir.path().join("other.pem")];
    let error = fidoflow::mds_cli::import(&settings, &blob, chrono::Utc::now()).unwrap_err();
    assert!(format!("{error:#}").contains("not trusted"), "{error:#}");
    // The right root, but a CRL of it revokes the signer.
    fx.configure(&mut settings);
    let crl = fx.mds_root.crl_revoking(&[fx.signer.leaf_der()]);
    std::fs::write(fx.dir.path().join("root.crl"), crl).unwrap();
    settings.mds.crls = vec![fx.dir.path().join("root.crl")];
    let error = fidoflow::mds_cli::import(&settings, &blob, chrono::Utc::now()).unwrap_err();
    assert!(format!("{error:#}").contains("revoked"), "{error:#}");
    // Without the CRL it imports.
    settings.mds.crls.clear();
    fidoflow::mds_cli::import(&settings, &blob, chrono::Utc::now()).unwrap();
}

#[tokio::test]
async fn reevaluation_trusts_stored_credentials_by_a_newly_imported_blob() {
    let fx = Fixture::new();
    // Registered with no metadata: untrusted, no model name.
    let mut app = spawn_app_with(|s| fx.configure(s)).await;
    let mut browser = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut browser);
    let (status, doc) = try_register(&mut browser).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let before = &browser.credentials().await[0]["attributes"];
    assert_eq!(before["attestationTrusted"], false);
    assert!(before["authenticatorName"].is_null(), "{before}");

    app.stop().await;
    let blob = fx.blob(1, "2099-01-01", certified("L1"));
    fx.import(&app.settings, &blob);
    let report = fx.reevaluate(&app.settings);
    assert!(
        report.contains("attestationTrusted false -> true") && report.contains(MODEL),
        "{report}"
    );
    let again = fx.reevaluate(&app.settings);
    assert_eq!(again, "no stored credential changed");
    let app = app.restart().await;
    let listed = helpdesk_list(&app, "alice").await;
    let after = &listed[0]["attributes"];
    assert_eq!(after["attestationTrusted"], true, "{after}");
    assert_eq!(after["authenticatorName"], MODEL);
}

#[tokio::test]
async fn an_allow_list_or_minimum_level_with_a_flow_asking_for_no_attestation_stops_the_start() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_tests(data.path());
    settings.attestation.aaguid_allow_list = vec![AAGUID_TEXT.into()];
    let err = fidoflow::startup::Application::build(settings, fidoflow::clock::Clock::system())
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("attestation.aaguid_allow_list") && text.contains("fido-registration"),
        "{text}"
    );
    let mut settings = Settings::for_tests(data.path());
    settings.attestation.minimum_certification_level = Some("L1".into());
    let err = fidoflow::startup::Application::build(settings, fidoflow::clock::Clock::system())
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("attestation.minimum_certification_level"),
        "{err:#}"
    );
}

/// `PUT /rest/admin/mds` with the BLOB as downloaded.
async fn put_blob(
    app: &TestApp,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let response = app
        .admin_request(Method::PUT, "/rest/admin/mds", token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    crate::common::app::decode(response).await
}

#[tokio::test]
async fn a_running_server_takes_a_new_blob_over_http_and_uses_it_at_once() {
    let fx = Fixture::new();
    let app = spawn_app_with(|s| fx.configure(s)).await;
    let read = |path: &Path| std::fs::read_to_string(path).expect("blob");

    // Before the import the vendor's chain leads nowhere.
    let mut before = signed_in(&app, "alice").await;
    fx.authenticator_for(&mut before);
    let (status, doc) = try_register(&mut before).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        before.credentials().await[0]["attributes"]["attestationTrusted"],
        false
    );

    let blob = read(&fx.blob(5, "2099-01-01", certified("L2")));
    // Only an admin token may replace the metadata, and the token is checked first.
    let (status, doc) = put_blob(&app, None, "application/jwt", blob.clone()).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED")
    );
    let (status, doc) = put_blob(&app, Some(HELPDESK_TOKEN), "application/jwt", blob.clone()).await;
    assert_eq!((status, code(&doc)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, doc) = put_blob(&app, Some(ADMIN_TOKEN), "application/json", blob.clone()).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        "{doc}"
    );
    assert!(detail(&doc).contains("application/jwt"), "{doc}");
    // A BLOB whose signature does not verify is refused and changes nothing.
    let mut parts: Vec<String> = blob.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replace('e', "f");
    let (status, doc) = put_blob(&app, Some(ADMIN_TOKEN), "application/jwt", parts.join(".")).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::BAD_REQUEST, "MDS_BLOB_REFUSED"),
        "{doc}"
    );
    assert!(detail(&doc).contains("signature"), "{doc}");

    let (status, doc) = put_blob(&app, Some(ADMIN_TOKEN), "application/jwt", blob).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["imported"], true);
    assert_eq!(doc["data"]["attributes"]["number"], 5);

    // At once: the next registration is trusted by the metadata and named from it.
    let mut after = signed_in(&app, "bob").await;
    fx.authenticator_for(&mut after);
    let (status, doc) = try_register(&mut after).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let a = &after.credentials().await[0]["attributes"];
    assert_eq!(a["attestationTrusted"], true, "{a}");
    assert_eq!(a["authenticatorName"], MODEL);
    assert_eq!(a["authenticatorIcon"], ICON);

    // Alice's credential, registered before, is re-judged on request (admin only).
    let reevaluate = |token| {
        app.admin(
            Method::POST,
            "/rest/admin/mds/reevaluate",
            Some(token),
            None,
        )
    };
    let (status, doc) = reevaluate(HELPDESK_TOKEN).await;
    assert_eq!((status, code(&doc)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, doc) = reevaluate(ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let changes = doc["data"]["attributes"]["changes"].to_string();
    assert!(
        changes.contains("alice") && changes.contains("attestationTrusted false -> true"),
        "{doc}"
    );
    let a = &before.credentials().await[0]["attributes"];
    assert_eq!(a["attestationTrusted"], true, "{a}");
    assert_eq!(a["authenticatorName"], MODEL);

    // An older BLOB is a rollback; a newer one replaces it, and survives a restart.
    let older = read(&fx.blob(4, "2099-01-01", certified("L2")));
    let (status, doc) = put_blob(&app, Some(ADMIN_TOKEN), "application/jwt", older).await;
    assert_eq!(
        (status, code(&doc)),
        (StatusCode::BAD_REQUEST, "MDS_BLOB_REFUSED"),
        "{doc}"
    );
    assert!(detail(&doc).contains("older"), "{doc}");
    let revoked = read(&fx.blob(6, "2099-01-01", json!([{ "status": "REVOKED" }])));
    let (status, doc) = put_blob(&app, Some(ADMIN_TOKEN), "application/jwt", revoked).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    // The revocation holds at once: bob's next sign-in with the revoked model is refused.
    after
        .post("/rest/public/authentication/logout", json!({}))
        .await;
    let (status, doc) = after.login_with_fido("bob", PASSWORD).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert!(detail(&doc).contains("(metadataStatus)"), "{doc}");
    let app = app.restart().await;
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/mds", Some(HELPDESK_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["number"], 6);
    let (status, doc) = app
        .admin(Method::GET, "/rest/admin/audit", Some(HELPDESK_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let imports = doc["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["attributes"]["event"] == "METADATA_IMPORTED")
        .count();
    assert_eq!(imports, 2, "{doc}");
    assert!(doc.to_string().contains("METADATA_REEVALUATED"), "{doc}");
}
