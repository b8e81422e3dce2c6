//! `fidoflow verify transaction`: the real binary run on evidence documents built by the library
//! from a software registration and assertion, checking exit statuses, the printed outcome and
//! `--json`.

use std::io::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ciborium::Value as Cbor;
use fidoflow::fido::evidence::{EvidenceDraft, EvidenceKey, Mode};
use fidoflow::fido::transaction::SignedContent;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

#[path = "common/cli.rs"]
mod cli;

use cli::{run_with_stdin as run, stderr, stdout};

const RP_ID: &str = "bank.example";
const ORIGIN: &str = "https://bank.example";

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("CBOR");
    out
}

fn content() -> SignedContent {
    SignedContent {
        authentication_message: Some("Pay ACME Corp 1250.00 EUR".into()),
        transaction: Some(json!({"amount": "1250.00", "currency": "EUR", "payee": "ACME Corp"})),
        payment: None,
    }
}

/// Evidence, signed by `server`, of `content()` approved with a new credential registered with
/// `none` attestation and an assertion with UP and UV.
fn evidence(server: &EvidenceKey) -> Value {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    let point = key.public_key().as_ref();
    let int = |i: i64| Cbor::Integer(i.into());
    let cose_key = cbor(&Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), Cbor::Bytes(point[1..33].to_vec())),
        (int(-3), Cbor::Bytes(point[33..65].to_vec())),
    ]));
    let credential_id = [0x5a; 16];
    let mut registration_auth_data = sha256(RP_ID.as_bytes());
    registration_auth_data.push(0x45); // UP, UV, AT
    registration_auth_data.extend_from_slice(&[0; 4 + 16]);
    registration_auth_data.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
    registration_auth_data.extend_from_slice(&credential_id);
    registration_auth_data.extend_from_slice(&cose_key);
    let attestation_object = cbor(&Cbor::Map(vec![
        (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
        (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
        (
            Cbor::Text("authData".into()),
            Cbor::Bytes(registration_auth_data),
        ),
    ]));
    let registration_client_data = serde_json::to_vec(&json!({
        "type": "webauthn.create", "challenge": b64url(&[1; 32]), "origin": ORIGIN,
    }))
    .expect("JSON");

    let content = content();
    let nonce = [0x42; 32];
    let client_data = serde_json::to_vec(&json!({
        "type": "webauthn.get", "challenge": b64url(&content.challenge(&nonce)), "origin": ORIGIN,
    }))
    .expect("JSON");
    let mut authenticator_data = sha256(RP_ID.as_bytes());
    authenticator_data.push(0x05); // UP, UV
    authenticator_data.extend_from_slice(&1u32.to_be_bytes());
    let mut signed = authenticator_data.clone();
    signed.extend_from_slice(&sha256(&client_data));
    let signature = key.sign(&rng, &signed).expect("sign");

    let document = EvidenceDraft {
        transaction_id: "tx-42",
        mode: Mode::Fido2DynamicLinking,
        tenant: "acme-bank",
        user: "alice",
        validated_at: "2025-06-01T12:00:00Z".parse().expect("time"),
        rp_id: RP_ID,
        content: &content,
        nonce: &nonce,
        credential_id: &credential_id,
        public_key: &cose_key,
        attestation_object: &attestation_object,
        registration_client_data: &registration_client_data,
        authenticator_data: &authenticator_data,
        client_data_json: &client_data,
        signature: signature.as_ref(),
        user_handle: Some(b"alice-handle"),
        audit_record_sha256: &"ab".repeat(32),
    }
    .document();
    server.sign(document)
}

/// `text` in a temporary file.
fn file(text: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text).expect("write");
    file
}

/// The server key, its public PEM in a file, and evidence it signed in a file.
struct Setup {
    server: EvidenceKey,
    key: tempfile::NamedTempFile,
    evidence: Value,
    file: tempfile::NamedTempFile,
}

impl Setup {
    fn new() -> Self {
        let server = EvidenceKey::generate().0;
        let key = file(server.public_pem().as_bytes());
        let evidence = evidence(&server);
        let file = file(&serde_json::to_vec(&evidence).expect("JSON"));
        Self {
            server,
            key,
            evidence,
            file,
        }
    }

    fn key_path(&self) -> String {
        self.key.path().display().to_string()
    }

    fn file_path(&self) -> String {
        self.file.path().display().to_string()
    }
}

#[test]
fn evidence_verifies_with_exit_status_0_and_says_who_approved_what() {
    let s = Setup::new();
    let out = run(
        &[
            "verify",
            "transaction",
            &s.file_path(),
            "--key",
            &s.key_path(),
        ],
        b"",
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with(
            "evidence verifies: transaction tx-42 approved by alice of acme-bank at \
             2025-06-01T12:00:00Z (fido2-dynamic-linking)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  authenticationMessage: \"Pay ACME Corp 1250.00 EUR\"\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  transaction: {\"amount\":\"1250.00\",\"currency\":\"EUR\",\"payee\":\"ACME Corp\"}\n"
        ),
        "{text}"
    );
}

#[test]
fn evidence_is_read_from_stdin_for_a_dash_and_json_prints_one_report() {
    let s = Setup::new();
    let bytes = serde_json::to_vec(&s.evidence).expect("JSON");
    let out = run(
        &[
            "verify",
            "transaction",
            "--key",
            &s.key_path(),
            "--json",
            "-",
        ],
        &bytes,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["ok"], true);
    assert_eq!(report["ceremony"], "transaction");
    assert_eq!(report["evidence"]["transactionID"], "tx-42");
    assert_eq!(report["evidence"]["transaction"]["amount"], "1250.00");
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 9);
    assert!(checks.iter().all(|c| c["outcome"] == "pass"), "{report}");
}

#[test]
fn tampered_evidence_is_refused_with_exit_status_1_naming_the_check() {
    let s = Setup::new();
    let mut tampered = s.evidence.clone();
    tampered["transaction"]["amount"] = json!("12500.00");
    let tampered = file(&serde_json::to_vec(&tampered).expect("JSON"));
    let path = tampered.path().display().to_string();
    let out = run(
        &["verify", "transaction", &path, "--key", &s.key_path()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("evidence refused (serverSignature): "),
        "{}",
        stdout(&out)
    );

    // Re-signed by the server, the doctored amount no longer matches the approved challenge.
    let mut document = s.evidence.as_object().expect("object").clone();
    document["transaction"]["amount"] = json!("12500.00");
    let resigned = file(&serde_json::to_vec(&s.server.sign(document)).expect("JSON"));
    let path = resigned.path().display().to_string();
    let out = run(
        &[
            "verify",
            "transaction",
            &path,
            "--key",
            &s.key_path(),
            "--json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["ok"], false);
    assert!(
        report["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("evidence refused (challenge): ")),
        "{report}"
    );
    let outcomes: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes,
        ["pass", "pass", "pass", "fail", "skipped", "skipped", "skipped", "skipped", "skipped"]
    );
}

#[test]
fn evidence_checked_against_another_servers_key_is_refused_with_exit_status_1() {
    let s = Setup::new();
    let other = file(EvidenceKey::generate().0.public_pem().as_bytes());
    let other = other.path().display().to_string();
    let out = run(
        &["verify", "transaction", &s.file_path(), "--key", &other],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("evidence refused (serverSignature): "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn usage_errors_exit_with_status_2() {
    let s = Setup::new();
    let (evidence, key) = (s.file_path(), s.key_path());
    let private = file(EvidenceKey::generate().1.as_bytes());
    let private = private.path().display().to_string();
    let cases: [(&str, Vec<&str>, &str); 7] = [
        ("missing --key", vec![&evidence], "--key is required"),
        ("no evidence file", vec!["--key", &key], "no evidence file"),
        (
            "unreadable evidence",
            vec!["/nonexistent/evidence.json", "--key", &key],
            "cannot read /nonexistent/evidence.json",
        ),
        (
            "unreadable key",
            vec![&evidence, "--key", "/nonexistent/key.pem"],
            "cannot read --key",
        ),
        (
            "a private key as --key",
            vec![&evidence, "--key", &private],
            "is not an evidence public key",
        ),
        (
            "unknown option",
            vec![&evidence, "--key", &key, "--frobnicate"],
            "unknown option",
        ),
        (
            "two files",
            vec![&evidence, &evidence, "--key", &key],
            "more than one",
        ),
    ];
    for (what, args, message) in cases {
        let mut full = vec!["verify", "transaction"];
        full.extend(args);
        let out = run(&full, b"");
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stdout(&out));
        assert!(stderr(&out).contains(message), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains("usage:"), "{what}: {}", stderr(&out));
    }
}

#[test]
fn help_lists_the_transaction_command() {
    let out = run(&["verify", "transaction", "--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("fidoflow verify transaction --key PEM [--json] EVIDENCE.json|-"));
}
