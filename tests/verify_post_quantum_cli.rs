//! `fidoflow verify` with an ML-DSA-65 passkey: the real binary accepts a registration (packed
//! self attestation) made by the software authenticator, then an assertion made with that key
//! against the public key the registration printed, and refuses the assertion once one bit of
//! its signature is flipped.

use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

#[path = "common/pki.rs"]
#[allow(dead_code)]
mod pki;

#[path = "common/softauthn.rs"]
#[allow(dead_code)]
mod softauthn;

use softauthn::{b64url, Alg, AttestationMode, SoftAuthenticator, Tamper};

const ORIGIN: &str = "https://pq.example.org";
const RP_ID: &str = "pq.example.org";

fn run(args: &[String], input: &Value) -> Output {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec(input).expect("JSON")).expect("write");
    let mut args = args.to_vec();
    args.push(file.path().display().to_string());
    Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run fidoflow")
}

fn args(ceremony: &str, challenge: &[u8], extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["verify", ceremony, "--challenge", &b64url(challenge)]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--rp-id", RP_ID, "--origin", ORIGIN].map(String::from));
    args.extend(extra.iter().cloned());
    args
}

/// The first `credentialPublicKey.cose` anywhere in the `--json` report.
fn printed_public_key(report: &Value) -> Option<String> {
    match report {
        Value::Object(map) => map
            .get("credentialPublicKey")
            .and_then(|k| k["cose"].as_str().map(str::to_string))
            .or_else(|| map.values().find_map(printed_public_key)),
        Value::Array(items) => items.iter().find_map(printed_public_key),
        _ => None,
    }
}

#[test]
fn an_ml_dsa_65_registration_and_its_assertion_verify_and_a_flipped_signature_bit_is_refused() {
    let mut authenticator = SoftAuthenticator::new();
    authenticator.alg = Alg::MlDsa65;
    authenticator.attestation = AttestationMode::PackedSelf;
    let challenge = [0x31u8; 32];
    let creation = json!({
        "challenge": b64url(&challenge),
        "rp": {"id": RP_ID, "name": "PQ"},
        "user": {"id": b64url(b"user-1"), "name": "alice", "displayName": "Alice"},
        "pubKeyCredParams": [{"type": "public-key", "alg": -49}],
    });
    let registration = authenticator.register(&creation, ORIGIN);
    let out = run(
        &args("registration", &challenge, &["--json".into()]),
        &registration,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&text).expect("a JSON report");
    assert!(
        text.contains("AKP ML-DSA-65 key, algorithm ML-DSA-65 (-49)"),
        "{text}"
    );
    let public_key = printed_public_key(&report).expect("the registration prints the key");

    let challenge = [0x42u8; 32];
    let request = json!({
        "challenge": b64url(&challenge),
        "rpId": RP_ID,
        "allowCredentials": [{"type": "public-key", "id": registration["id"]}],
    });
    let assertion = authenticator.authenticate(&request, ORIGIN);
    let key_args = ["--public-key".to_string(), public_key];
    let out = run(&args("authentication", &challenge, &key_args), &assertion);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Result: VERIFIED"), "{text}");

    let flipped = authenticator.authenticate_with(
        &request,
        ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Tamper::default()
        },
    );
    let out = run(&args("authentication", &challenge, &key_args), &flipped);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("fail") && l.contains(" signature ")),
        "the signature check fails: {text}"
    );
    assert!(text.contains("Result: REFUSED (signature)"), "{text}");
}
