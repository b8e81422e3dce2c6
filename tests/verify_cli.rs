//! `fidoflow verify`: the real binary run on vector files (their `response` member written to a
//! temporary file or piped to stdin), checking exit statuses, the printed checks and `--json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(vectors().join(file)).expect("vector");
    serde_json::from_str(&text).expect("JSON")
}

/// The vector's response in a temporary file.
fn response_file(v: &Value) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    serde_json::to_writer(&mut file, &v["response"]).expect("write");
    file
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run fidoflow")
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fidoflow");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The arguments a vector implies: challenge, RP ID, origins.
fn common(v: &Value) -> Vec<String> {
    let mut args = vec![
        "--challenge".to_string(),
        v["challenge"].as_str().expect("challenge").to_string(),
        "--rp-id".to_string(),
        v["rpId"].as_str().expect("rpId").to_string(),
    ];
    for origin in v["origins"].as_array().expect("origins") {
        args.push("--origin".into());
        args.push(origin.as_str().expect("origin").to_string());
    }
    args
}

fn registration_args(v: &Value, extra: &[&str], file: &Path) -> Vec<String> {
    let mut args = vec!["verify".to_string(), "registration".to_string()];
    args.extend(common(v));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(file.display().to_string());
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn w3c_root_dir() -> String {
    vectors().join("w3c-l3").display().to_string()
}

#[test]
fn a_tpm_registration_verifies_trusted_and_every_tpm_check_is_printed() {
    let v = load("w3c-l3/s16_13-tpm-attestation-es256.registration.json");
    let file = response_file(&v);
    let root = w3c_root_dir();
    let out = run(&refs(&registration_args(
        &v,
        &["--trust-anchors", &root],
        file.path(),
    )));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for needle in [
        "Result: VERIFIED: tpm attestation (attca), trusted",
        "AAGUID       4b92a377-fc5f-6107-c4c8-5c190adbfd99",
        "UP=1 UV=1 BE=1 BS=0 AT=1 ED=0",
        "\"type\": \"webauthn.create\"",
        "issuer     C=AA,OU=Authenticator Attestation CA,O=W3C,CN=WebAuthn test vectors",
        "subject    (empty)",
        "2024-01-01T00:00:00Z – 3024-01-01T00:00:00Z",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    for check in [
        "challenge",
        "origin",
        "rpIdHash",
        "tpm.extraData",
        "tpm.attestedName",
        "tpm.pubArea",
        "tpm.aikCertificate",
        "attestationSignature",
        "attestationTrust",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("pass") && l.contains(&format!(" {check} "))),
            "{check} not passed in\n{text}"
        );
    }
    assert!(text.contains("skipped mds"), "{text}");
}

#[test]
fn the_android_key_vector_is_refused_with_exit_status_1_and_the_reason() {
    let v = load("w3c-l3/s16_14-android-key-attestation-es256.registration.json");
    let file = response_file(&v);
    let out = run(&refs(&registration_args(&v, &[], file.path())));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Result: REFUSED (attestationStatement)"),
        "{text}"
    );
    assert!(text.contains("KM_ORIGIN_GENERATED"), "{text}");
    assert!(
        text.contains("attestationTrust") && text.contains("not reached"),
        "{text}"
    );
}

#[test]
fn an_untrusted_attestation_verifies_unless_trust_is_required() {
    let v = load("w3c-l3/s16_07-packed-attestation-es256.registration.json");
    let file = response_file(&v);
    let out = run(&refs(&registration_args(&v, &[], file.path())));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("untrusted"), "{text}");
    assert!(text.contains("no --trust-anchors given"), "{text}");
    let out = run(&refs(&registration_args(
        &v,
        &["--require-trusted"],
        file.path(),
    )));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("REFUSED (attestationTrust)"));
}

#[test]
fn at_evaluates_certificate_validity_at_that_instant() {
    let v = load("w3c-l3/s16_07-packed-attestation-es256.registration.json");
    let file = response_file(&v);
    let root = w3c_root_dir();
    let before = ["--trust-anchors", &root, "--at", "2023-06-01T00:00:00Z"];
    let out = run(&refs(&registration_args(&v, &before, file.path())));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("NOT YET VALID"), "{text}");
    assert!(text.contains("untrusted"), "{text}");
    let required = [
        "--trust-anchors",
        &root,
        "--at",
        "2023-06-01T00:00:00Z",
        "--require-trusted",
    ];
    let out = run(&refs(&registration_args(&v, &required, file.path())));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let inside = [
        "--trust-anchors",
        &root,
        "--at",
        "2025-01-01T00:00:00Z",
        "--require-trusted",
    ];
    let out = run(&refs(&registration_args(&v, &inside, file.path())));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn mds_is_reported_as_skipped_until_the_metadata_import_exists() {
    let v = load("w3c-l3/s16_02-none-attestation-es256.registration.json");
    let file = response_file(&v);
    let mds = file.path().display().to_string();
    let out = run(&refs(&registration_args(&v, &["--mds", &mds], file.path())));
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("MDS support arrives with the metadata import"));
}

#[test]
fn registration_json_output_is_one_document_with_the_checks() {
    let v = load("w3c-l3/s16_15-apple-anonymous-attestation-es256.registration.json");
    let file = response_file(&v);
    let root = w3c_root_dir();
    let out = run(&refs(&registration_args(
        &v,
        &["--trust-anchors", &root, "--json"],
        file.path(),
    )));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["clientData"]["type"], "webauthn.create");
    assert_eq!(doc["authenticatorData"]["flags"]["up"], true);
    assert_eq!(doc["attestation"]["fmt"], "apple");
    assert_eq!(doc["attestation"]["verified"]["type"], "anonca");
    assert_eq!(doc["attestation"]["verified"]["trusted"], true);
    assert!(doc["attestation"]["certificates"][0]["notAfter"].is_string());
    let checks = doc["checks"].as_array().expect("checks");
    let nonce = checks
        .iter()
        .find(|c| c["name"] == "apple.nonce")
        .expect("apple.nonce");
    assert_eq!(nonce["outcome"], "pass");
    assert!(checks
        .iter()
        .all(|c| c["name"].is_string() && c["outcome"].is_string() && c["detail"].is_string()));
}

fn authentication_args(v: &Value, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["verify".to_string(), "authentication".to_string()];
    args.extend(common(v));
    args.push("--public-key".into());
    args.push(v["credentialPublicKey"].as_str().expect("key").to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn an_assertion_verifies_from_stdin_with_the_counter_check_skipped_without_sign_count() {
    let v = load("fido2-net-lib/none-es256.authentication.json");
    let input = serde_json::to_vec(&v["response"]).expect("JSON");
    let out = run_with_stdin(&refs(&authentication_args(&v, &[])), &input);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("Result: VERIFIED"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("skipped") && l.contains("signCount")),
        "{text}"
    );
    assert!(text.contains("no --user-handle given"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("pass") && l.contains(" signature ")),
        "{text}"
    );
}

#[test]
fn the_counter_check_runs_with_sign_count_and_refuses_a_counter_that_did_not_move() {
    let v = load("fido2-net-lib/none-es256.authentication.json");
    let input = serde_json::to_vec(&v["response"]).expect("JSON");
    let out = run_with_stdin(
        &refs(&authentication_args(&v, &["--sign-count", "51"])),
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("52 is greater than the stored 51"));
    let out = run_with_stdin(
        &refs(&authentication_args(&v, &["--sign-count", "52"])),
        &input,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("REFUSED (signCount)"), "{text}");
}

#[test]
fn credential_ids_and_backup_eligibility_are_checked_when_given() {
    let v = load("w3c-l3/s16_07-packed-attestation-es256.authentication.json");
    let file = response_file(&v);
    let path = file.path().display().to_string();
    let id = v["expect"]["credentialId"].as_str().expect("id");
    let ok = authentication_args(
        &v,
        &[
            "--credential-id",
            "AAAA",
            "--credential-id",
            id,
            "--backup-eligible",
            "true",
            &path,
        ],
    );
    let out = run(&refs(&ok));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let other = authentication_args(&v, &["--credential-id", "AAAA", "--json", &path]);
    let out = run(&refs(&other));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["ok"], false);
    assert!(doc["attestation"].is_null());
    let be = authentication_args(&v, &["--backup-eligible", "false", &path]);
    let out = run(&refs(&be));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("REFUSED (backupEligible)"));
}

#[test]
fn a_cross_origin_assertion_needs_allow_cross_origin() {
    let v = load(
        "w3c-l3/s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.authentication.json",
    );
    let file = response_file(&v);
    let path = file.path().display().to_string();
    let out = run(&refs(&authentication_args(&v, &[&path])));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let allowed = [
        "--allow-cross-origin",
        "--top-origin",
        "https://example.com",
        &path,
    ];
    let out = run(&refs(&authentication_args(&v, &allowed)));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn usage_errors_exit_with_status_2() {
    let v = load("w3c-l3/s16_02-none-attestation-es256.registration.json");
    let file = response_file(&v);
    let good = registration_args(&v, &[], file.path());

    let mut unknown = good.clone();
    unknown.insert(2, "--frobnicate".into());
    let missing: Vec<String> = good
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2 && *i != 3)
        .map(|(_, a)| a.clone())
        .collect();
    let mut unreadable = good.clone();
    unreadable.pop();
    unreadable.push("/nonexistent/response.json".into());
    let mut bad_at = good.clone();
    bad_at.insert(2, "yesterday".into());
    bad_at.insert(2, "--at".into());
    let mut no_anchor_dir = good.clone();
    no_anchor_dir.insert(2, "/nonexistent/anchors".into());
    no_anchor_dir.insert(2, "--trust-anchors".into());
    for (what, args) in [
        ("unknown flag", unknown),
        ("missing --challenge", missing),
        ("unreadable file", unreadable),
        ("bad --at", bad_at),
        ("unreadable anchors", no_anchor_dir),
        (
            "authentication without --public-key",
            vec![
                "verify".into(),
                "authentication".into(),
                "--challenge".into(),
                "AAAA".into(),
            ],
        ),
        ("no ceremony", vec!["verify".into()]),
        ("unknown command", vec!["frobnicate".into()]),
    ] {
        let out = run(&refs(&args));
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains("usage:"), "{what}: {}", stderr(&out));
    }
    let mut from_stdin = good.clone();
    from_stdin.pop();
    let out = run_with_stdin(&refs(&from_stdin), b"this is not JSON");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    let out = run(&["verify", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("fidoflow verify registration --challenge B64URL"));
}
