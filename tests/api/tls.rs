//! HTTPS without a proxy (`server.tls_cert` / `server.tls_key`) and client certificates as a
//! relying party's credential instead of an API key (`tenants.client_certificates`), presented
//! on the TLS connection or passed by a trusted proxy in `proxy.client_cert_header`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::authfi::DEMO_KEY;
use crate::common::app::{spawn_app_with, tenants_from_toml, TestApp};
use crate::tenants_admin::sha256_hex;

const PATH: &str = "bXRscw";

struct Pem {
    cert: String,
    key: String,
    der: Vec<u8>,
}

fn self_signed(name: &str) -> Pem {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn fingerprint(der: &[u8]) -> String {
    fidoflow::domain::hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// A tenant whose backend authenticates with `client` (its certificate) or with DEMO_KEY.
fn tenant(client: &Pem) -> Vec<fidoflow::config::TenantSettings> {
    tenants_from_toml(&format!(
        r#"
[[tenants]]
id = "mtls"
access_path = "{PATH}"
rp_id = "localhost"
rp_name = "mTLS RP"
origins = ["https://localhost:8443"]
api_keys = [{{ name = "backend", sha256 = "{}" }}]
client_certificates = [{{ name = "backend-mtls", sha256 = "{}" }}]
"#,
        sha256_hex(DEMO_KEY),
        fingerprint(&client.der)
    ))
}

async fn https_app(server: &Pem, client: &Pem) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &server.cert).unwrap();
    std::fs::write(&key, &server.key).unwrap();
    let tenants = tenant(client);
    let app = spawn_app_with(move |s| {
        s.server.tls = Some(fidoflow::config::TlsFiles { cert, key });
        s.tenants = tenants;
    })
    .await;
    (app, dir)
}

fn client(server: &Pem, identity: Option<&Pem>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(server.cert.as_bytes()).unwrap());
    if let Some(id) = identity {
        let pem = format!("{}{}", id.cert, id.key);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn begin_registration(
    client: &reqwest::Client,
    base: &str,
    key: Option<&str>,
    header: Option<(&str, String)>,
) -> (StatusCode, Value) {
    let mut req = client
        .post(format!("{base}/{PATH}/api/v1/webauthn/registration"))
        .json(&json!({"params": {"user": {"name": "carla", "displayName": "Carla"}}}));
    if let Some(key) = key {
        req = req.header("AT-X-Key", key);
    }
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_backend_authenticates_with_its_client_certificate_over_https() {
    let (server, backend, stranger) = (
        self_signed("localhost"),
        self_signed("bank backend"),
        self_signed("someone else"),
    );
    let (app, _dir) = https_app(&server, &backend).await;
    let port = app.base.rsplit(':').next().unwrap();
    let base = format!("https://localhost:{port}");

    // The pinned certificate stands for the caller: no key needed.
    let (status, body) =
        begin_registration(&client(&server, Some(&backend)), &base, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["fido_register_request"]["challenge"].is_string(),
        "{body}"
    );

    // Another certificate is refused, and so is no credential at all.
    let (status, body) =
        begin_registration(&client(&server, Some(&stranger)), &base, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.to_string().contains("client_certificates"), "{body}");
    let (status, body) = begin_registration(&client(&server, None), &base, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.to_string().contains("missing"), "{body}");

    // An API key still works, with or without a certificate; a wrong key is not saved by one.
    let (status, body) =
        begin_registration(&client(&server, None), &base, Some(DEMO_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = begin_registration(
        &client(&server, Some(&backend)),
        &base,
        Some("wrong-key-0123456789"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Plain HTTP is not served on the TLS listener.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/openapi.json"))
        .send()
        .await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));
}

/// Behind a TLS-terminating proxy the verified certificate comes in a header, believed only
/// from a trusted proxy.
#[tokio::test]
async fn a_trusted_proxy_passes_the_client_certificate_in_a_header() {
    let backend = self_signed("bank backend");
    let escaped: String =
        percent_encoding::utf8_percent_encode(&backend.cert, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    for (trusted, expected) in [
        ("127.0.0.1", StatusCode::OK),
        ("10.9.9.9", StatusCode::UNAUTHORIZED),
    ] {
        let tenants = tenant(&backend);
        let app = spawn_app_with(move |s| {
            s.tenants = tenants;
            s.proxy.trusted_proxies = vec![fidoflow::config::IpRange::parse(trusted).unwrap()];
            s.proxy.client_cert_header = Some("x-ssl-client-cert".into());
        })
        .await;
        let header = Some(("X-SSL-Client-Cert", escaped.clone()));
        let (status, body) =
            begin_registration(&reqwest::Client::new(), &app.base, None, header).await;
        assert_eq!(status, expected, "proxy {trusted}: {body}");
        // A header that holds no certificate is no credential.
        let (status, _) = begin_registration(
            &reqwest::Client::new(),
            &app.base,
            None,
            Some(("X-SSL-Client-Cert", "garbage".into())),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn a_key_that_does_not_fit_or_a_missing_file_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (self_signed("localhost"), self_signed("other"));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (cert, other_key, junk) = (
        write("cert.pem", &a.cert),
        write("other-key.pem", &b.key),
        write("junk.pem", "not pem"),
    );
    for (cert, key, says) in [
        (
            cert.clone(),
            other_key,
            "the key does not fit the certificate",
        ),
        (
            cert.clone(),
            junk.clone(),
            "server.tls_key: cannot read a private key",
        ),
        (junk, cert.clone(), "server.tls_cert"),
        (
            dir.path().join("missing.pem"),
            cert,
            "server.tls_cert: cannot read",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let mut settings = fidoflow::config::Settings::for_tests(data.path());
        settings.server.tls = Some(fidoflow::config::TlsFiles { cert, key });
        let err = fidoflow::startup::Application::build(settings, fidoflow::clock::Clock::system())
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains(says), "{err:#}");
    }
}
