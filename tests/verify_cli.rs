//! `fidoflow verify`: the real binary run on vector files (their `response` member written to a
//! temporary file or piped to stdin), checking exit statuses, the printed checks and `--json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

#[path = "common/pki.rs"]
#[allow(dead_code)]
mod pki;

#[path = "common/cli.rs"]
mod cli;

use cli::{run_with_stdin, stderr, stdout};

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
    assert!(text.contains("skipped metadataEntry"), "{text}");
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

/// A metadata BLOB signed by a self-made MDS PKI (rcgen root, signer leaf, ring ES256), whose
/// one entry describes the W3C packed authenticator (AAGUID of s16_07) with the W3C root.
struct Blob {
    root: pki::Ca,
    signer: pki::AttestationChain,
    dir: tempfile::TempDir,
}

const S16_07: &str = "w3c-l3/s16_07-packed-attestation-es256.registration.json";

impl Blob {
    fn new(signer_validity: pki::Validity) -> Self {
        let root = pki::root_ca("MDS test root");
        let signer = pki::attestation_chain(
            &root,
            &[],
            pki::LeafOptions {
                common_name: Some("Metadata BLOB signer".into()),
                validity: Some(signer_validity),
                ..pki::LeafOptions::default()
            },
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("root.pem"), &root.cert_pem).expect("write root");
        Blob { root, signer, dir }
    }

    fn root(&self) -> String {
        self.dir.path().join("root.pem").display().to_string()
    }

    /// `fidoflow verify registration` of the s16_07 vector with `--mds BLOB --mds-root ROOT`.
    fn verify(&self, blob: &str, extra: &[&str]) -> Output {
        let v = load(S16_07);
        let file = response_file(&v);
        let root = self.root();
        let mut args = vec!["--mds", blob, "--mds-root", &root];
        args.extend_from_slice(extra);
        run(&refs(&registration_args(&v, &args, file.path())))
    }

    /// Writes a BLOB with these status reports and `nextUpdate`; returns its path.
    fn write(&self, name: &str, next_update: &str, reports: Value) -> String {
        let w3c_root = std::fs::read_to_string(vectors().join("w3c-l3/w3c-l3-attestation-ca.pem"))
            .expect("w3c root");
        let body: String = w3c_root
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let aaguid = load(S16_07)["expect"]["aaguid"].clone();
        let payload = json!({
            "no": 42,
            "nextUpdate": next_update,
            "entries": [{
                "aaguid": aaguid,
                "metadataStatement": {
                    "description": "W3C Test Key",
                    "aaguid": aaguid,
                    "attestationRootCertificates": [body],
                },
                "statusReports": reports,
            }],
        });
        let path = self.dir.path().join(name);
        std::fs::write(&path, self.signer.sign_jws(&payload)).expect("write");
        path.display().to_string()
    }
}

fn certified_l2() -> Value {
    json!([{ "status": "FIDO_CERTIFIED_L2", "effectiveDate": "2024-03-01" }])
}

#[test]
fn a_signed_blob_makes_the_attestation_trusted_and_names_the_model() {
    let fx = Blob::new(pki::Validity::current());
    let blob = fx.write("blob.jwt", "2999-01-01", certified_l2());
    let out = fx.verify(&blob, &["--require-trusted"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for needle in [
        "model        W3C Test Key (from the metadata)",
        "VERIFIED: packed attestation (basic), trusted",
        "\"W3C Test Key\" with 1 attestation root(s), certified L2 (BLOB number 42, nextUpdate 2999-01-01)",
        "no status report refuses this authenticator",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn a_revoked_or_compromised_authenticator_in_the_blob_is_refused_with_status_1() {
    let fx = Blob::new(pki::Validity::current());
    for (status, name) in [
        ("REVOKED", "revoked.jwt"),
        ("USER_KEY_REMOTE_COMPROMISE", "remote.jwt"),
        ("ATTESTATION_KEY_COMPROMISE", "attestation.jwt"),
    ] {
        let blob = fx.write(name, "2999-01-01", json!([{ "status": status }]));
        let out = fx.verify(&blob, &[]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(
            text.contains(&format!(
                "Result: REFUSED (metadataStatus): the FIDO metadata reports this authenticator as {status}"
            )),
            "{text}"
        );
    }
}

#[test]
fn a_stale_blob_is_used_and_reported_stale() {
    let fx = Blob::new(pki::Validity::current());
    let blob = fx.write("stale.jwt", "2020-01-01", certified_l2());
    let out = fx.verify(&blob, &["--require-trusted"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("STALE: past its nextUpdate 2020-01-01"),
        "{text}"
    );
}

/// A BLOB that does not verify is a usage error (exit 2) saying why: another root, a tampered
/// payload, a signer the root's CRL revokes, a signer expired at `--at`.
#[test]
fn a_blob_that_does_not_verify_is_refused_with_the_reason() {
    let v = load(S16_07);
    let file = response_file(&v);
    let fx = Blob::new(pki::Validity::current());
    let blob = fx.write("blob.jwt", "2999-01-01", certified_l2());
    let other = Blob::new(pki::Validity::current());
    let refused = |extra: &[&str], reason: &str| {
        let mut args = vec!["--mds", blob.as_str()];
        args.extend_from_slice(extra);
        let out = run(&refs(&registration_args(&v, &args, file.path())));
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert!(stderr(&out).contains(reason), "{reason}: {}", stderr(&out));
    };
    refused(&["--mds-root", &other.root()], "signer is not trusted");
    refused(
        &[],
        "give the root certificate its signer chains to with --mds-root",
    );

    let text = std::fs::read_to_string(&blob).expect("blob");
    let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replace('A', "B");
    std::fs::write(&blob, parts.join(".")).expect("tamper");
    refused(&["--mds-root", &fx.root()], "signature does not verify");
    std::fs::write(&blob, &text).expect("restore");

    let crl = fx.dir.path().join("root.crl.pem");
    std::fs::write(&crl, fx.root.crl_revoking(&[fx.signer.leaf_der()])).expect("crl");
    let crl = crl.display().to_string();
    refused(
        &["--mds-root", &fx.root(), "--mds-crl", &crl],
        "holds a revoked certificate",
    );

    let expired = Blob::new(pki::Validity::expired());
    let old = expired.write("old.jwt", "2999-01-01", certified_l2());
    let out = expired.verify(&old, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
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
    let mut root_without_mds = good.clone();
    root_without_mds.insert(2, "root.pem".into());
    root_without_mds.insert(2, "--mds-root".into());
    let mut unreadable_mds = good.clone();
    unreadable_mds.insert(2, "/nonexistent/blob.jwt".into());
    unreadable_mds.insert(2, "--mds".into());
    let mut not_metadata = good.clone();
    not_metadata.insert(2, file.path().display().to_string());
    not_metadata.insert(2, "--mds".into());
    for (what, args) in [
        ("unknown flag", unknown),
        ("--mds-root without --mds", root_without_mds),
        ("unreadable --mds", unreadable_mds),
        ("a response as --mds", not_metadata),
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
