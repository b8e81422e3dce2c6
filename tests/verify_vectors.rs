//! Every test vector through the real `fidoflow verify` binary, one test per file: the W3C
//! WebAuthn Level 3 vectors, the fido2-net-lib pairs and the fido2-net-lib MDS test files. A
//! vector's `policy` becomes `--allow-cross-origin`, `--top-origin` and `--require-uv`, its
//! `verifyAt` becomes `--at`, its `trustRoots` a `--trust-anchors` folder; the `--json` report
//! must give the vector's outcome and parsed values, and the exit status must match.
//! (`tests/fido_vectors.rs` runs the same files through the `fido` module.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};

const W3C: &str = "w3c-l3";
const NET: &str = "fido2-net-lib";
const MDS: &str = "mds";

fn folder(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(set)
}

fn load(set: &str, file: &str) -> Value {
    let text = std::fs::read_to_string(folder(set).join(file)).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Runs `fidoflow verify … --json FILE` on the vector's response with `extra` arguments.
fn verify(set: &str, v: &Value, extra: &[String]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let response = dir.path().join("response.json");
    std::fs::write(&response, v["response"].to_string()).expect("write response");
    let mut args: Vec<String> = vec![
        "verify".into(),
        v["kind"].as_str().expect("kind").into(),
        "--json".into(),
        "--challenge".into(),
        v["challenge"].as_str().expect("challenge").into(),
        "--rp-id".into(),
        v["rpId"].as_str().expect("rpId").into(),
    ];
    for origin in strings(&v["origins"]) {
        args.extend(["--origin".into(), origin]);
    }
    let policy = &v["policy"];
    if policy["allowCrossOrigin"] == json!(true) {
        args.push("--allow-cross-origin".into());
    }
    for top in strings(&policy["topOrigins"]) {
        args.extend(["--top-origin".into(), top]);
    }
    if policy["requireUserVerification"] == json!(true) {
        args.push("--require-uv".into());
    }
    assert!(
        policy["requireUserPresence"] != json!(false),
        "user presence is always required"
    );
    // Inside every certificate's validity when the vector fixes no clock (see fido_vectors.rs).
    let at = v["verifyAt"].as_str().unwrap_or(if set == NET {
        "2020-10-07T20:00:00Z"
    } else {
        "2025-06-01T12:00:00Z"
    });
    args.extend(["--at".into(), at.into()]);
    let roots = strings(&v["trustRoots"]);
    let anchors = dir.path().join("anchors");
    if !roots.is_empty() {
        std::fs::create_dir(&anchors).expect("anchors dir");
        for name in &roots {
            std::fs::copy(folder(set).join(name), anchors.join(name)).expect("copy root");
        }
        args.extend(["--trust-anchors".into(), anchors.display().to_string()]);
    }
    if v["kind"] == "authentication" {
        args.extend([
            "--public-key".into(),
            v["credentialPublicKey"].as_str().expect("key").into(),
            "--sign-count".into(),
            v["storedSignCount"].as_u64().unwrap_or(0).to_string(),
            "--credential-id".into(),
            v["expect"]["credentialId"].as_str().expect("id").into(),
        ]);
        if let Some(handle) = v["userHandle"].as_str() {
            args.extend(["--user-handle".into(), handle.into()]);
        }
    }
    args.extend(extra.iter().cloned());
    args.push(response.display().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_fidoflow"))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run fidoflow");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// The report shows the values the vector expects (for refused vectors too: they describe a
/// well-formed response).
fn assert_parsed_values(v: &Value, report: &Value) {
    let e = &v["expect"];
    let a = &report["authenticatorData"];
    assert_eq!(a["signCount"], e["signCount"], "signCount");
    for flag in ["up", "uv", "be", "bs"] {
        assert_eq!(a["flags"][flag], e["flags"][flag], "flag {flag}");
    }
    if v["kind"] == "registration" {
        assert_eq!(a["aaguid"], e["aaguid"], "aaguid");
        assert_eq!(a["credentialId"], e["credentialId"], "credentialId");
        assert_eq!(report["attestation"]["fmt"], e["fmt"], "fmt");
    }
}

/// Runs one vector: its expected outcome and exit status, the parsed values, and for a
/// registration the trust verdict: trusted with the vector's roots (also under
/// `--require-trusted`), untrusted without them, refused by `attestationTrust` when trust is
/// required and no root is given.
fn vector(set: &str, file: &str) {
    let v = load(set, file);
    let ok = v["expect"]["ok"].as_bool().expect("expect.ok");
    let (out, report) = verify(set, &v, &[]);
    assert_eq!(report["ok"], json!(ok), "{file}: {report:#}");
    assert_eq!(out.status.code(), Some(if ok { 0 } else { 1 }), "{file}");
    assert_parsed_values(&v, &report);
    if !ok {
        let why = v["expect"]["why"].as_str().unwrap_or_default();
        assert!(
            report["result"]
                .as_str()
                .unwrap_or("")
                .starts_with("REFUSED ("),
            "{file} ({why}): {report:#}"
        );
        return;
    }
    if v["kind"] != "registration" {
        assert_eq!(check(&report, "signCount")["outcome"], "pass", "{file}");
        assert_eq!(check(&report, "credentialId")["outcome"], "pass", "{file}");
        return;
    }
    let has_roots = !strings(&v["trustRoots"]).is_empty();
    assert_eq!(
        report["attestation"]["verified"]["trusted"],
        json!(has_roots),
        "{file}: trusted"
    );
    let (out, report) = verify(set, &v, &["--require-trusted".into()]);
    assert_eq!(
        out.status.code(),
        Some(if has_roots { 0 } else { 1 }),
        "{file}: {report:#}"
    );
    if !has_roots {
        assert!(
            report["result"]
                .as_str()
                .unwrap_or("")
                .starts_with("REFUSED (attestationTrust)"),
            "{file}: {report:#}"
        );
    }
}

macro_rules! vector_tests {
    ($($name:ident: $set:expr, $file:literal;)*) => {
        $(
            #[test]
            fn $name() {
                vector($set, $file);
            }
        )*
    };
}

vector_tests! {
    w3c_s16_02_registration: W3C, "s16_02-none-attestation-es256.registration.json";
    w3c_s16_02_authentication: W3C, "s16_02-none-attestation-es256.authentication.json";
    w3c_s16_03_registration: W3C, "s16_03-self-attestation-packed-es256.registration.json";
    w3c_s16_03_authentication: W3C, "s16_03-self-attestation-packed-es256.authentication.json";
    w3c_s16_04_allowed_registration: W3C, "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.registration.json";
    w3c_s16_04_allowed_authentication: W3C, "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.authentication.json";
    w3c_s16_04_refused_registration: W3C, "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.registration.json";
    w3c_s16_04_refused_authentication: W3C, "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.authentication.json";
    w3c_s16_05_allowed_registration: W3C, "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.registration.json";
    w3c_s16_05_allowed_authentication: W3C, "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.authentication.json";
    w3c_s16_05_refused_registration: W3C, "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.registration.json";
    w3c_s16_05_refused_authentication: W3C, "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.authentication.json";
    w3c_s16_06_registration: W3C, "s16_06-none-attestation-es256-long-credential-id.registration.json";
    w3c_s16_06_authentication: W3C, "s16_06-none-attestation-es256-long-credential-id.authentication.json";
    w3c_s16_07_registration: W3C, "s16_07-packed-attestation-es256.registration.json";
    w3c_s16_07_authentication: W3C, "s16_07-packed-attestation-es256.authentication.json";
    w3c_s16_08_registration: W3C, "s16_08-packed-attestation-es384.registration.json";
    w3c_s16_08_authentication: W3C, "s16_08-packed-attestation-es384.authentication.json";
    w3c_s16_09_registration: W3C, "s16_09-packed-attestation-es512.registration.json";
    w3c_s16_09_authentication: W3C, "s16_09-packed-attestation-es512.authentication.json";
    w3c_s16_10_registration: W3C, "s16_10-packed-attestation-rs256.registration.json";
    w3c_s16_10_authentication: W3C, "s16_10-packed-attestation-rs256.authentication.json";
    w3c_s16_11_registration: W3C, "s16_11-packed-attestation-eddsa.registration.json";
    w3c_s16_11_authentication: W3C, "s16_11-packed-attestation-eddsa.authentication.json";
    w3c_s16_13_registration: W3C, "s16_13-tpm-attestation-es256.registration.json";
    w3c_s16_13_authentication: W3C, "s16_13-tpm-attestation-es256.authentication.json";
    w3c_s16_14_registration: W3C, "s16_14-android-key-attestation-es256.registration.json";
    w3c_s16_14_authentication: W3C, "s16_14-android-key-attestation-es256.authentication.json";
    w3c_s16_15_registration: W3C, "s16_15-apple-anonymous-attestation-es256.registration.json";
    w3c_s16_15_authentication: W3C, "s16_15-apple-anonymous-attestation-es256.authentication.json";
    w3c_s16_16_registration: W3C, "s16_16-fido-u2f-attestation-es256.registration.json";
    w3c_s16_16_authentication: W3C, "s16_16-fido-u2f-attestation-es256.authentication.json";
    net_none_es256_registration: NET, "none-es256.registration.json";
    net_none_es256_b_registration: NET, "none-es256-b.registration.json";
    net_none_es256_authentication: NET, "none-es256.authentication.json";
    net_packed_es256_x5c_registration: NET, "packed-es256-x5c.registration.json";
    net_packed_es512_self_registration: NET, "packed-es512-self.registration.json";
    net_packed_es256_atkey_registration: NET, "packed-es256-atkey.registration.json";
    net_packed_es256_trustkey_t110_registration: NET, "packed-es256-trustkey-t110.registration.json";
    net_tpm_rs1_sha1_registration: NET, "tpm-rs1-sha1.registration.json";
    net_tpm_rs256_sha256_registration: NET, "tpm-rs256-sha256.registration.json";
    net_android_key_es256_registration: NET, "android-key-es256.registration.json";
    net_apple_es256_registration: NET, "apple-es256.registration.json";
    net_fido_u2f_es256_registration: NET, "fido-u2f-es256.registration.json";
    net_fido_u2f_es256_b_registration: NET, "fido-u2f-es256-b.registration.json";
}

// The MDS test files. The conformance metadata statements are given to `--mds` as JSON, made to
// describe a vector's authenticator (its AAGUID, or for U2F the key identifier of its
// attestation certificate) the way fido2-net-lib's tests rewrite them: with their own roots
// (a conformance root that anchors no vector) the attestation stays untrusted and
// `--require-trusted` refuses it; with the vector's root in `attestationRootCertificates`
// the metadata alone makes it trusted and names the model; a REVOKED status report refuses
// it.

fn der_of_pem(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .expect("PEM body")
}

fn w3c_root_b64() -> String {
    let pem = std::fs::read_to_string(folder(W3C).join("w3c-l3-attestation-ca.pem")).expect("root");
    base64::engine::general_purpose::STANDARD.encode(der_of_pem(&pem))
}

/// The leaf attestation certificate of a registration vector (DER).
fn leaf_of(v: &Value) -> Vec<u8> {
    let object = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(
            v["response"]["response"]["attestationObject"]
                .as_str()
                .expect("attestationObject"),
        )
        .expect("b64url");
    fidoflow::fido::mds::attestation_certificates(&object)
        .expect("x5c")
        .remove(0)
}

/// Verifies `vector` with `metadata` as the `--mds` file.
fn verify_with_metadata(v: &Value, metadata: &Value, extra: &[&str]) -> (Output, Value) {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), metadata.to_string()).expect("write metadata");
    let mut args = vec!["--mds".to_string(), file.path().display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    verify(W3C, v, &args)
}

/// The statement's model name and (checked) the effect of its roots and status on `vector`.
fn statement(file: &str, vector_file: &str) {
    let mut v = load(W3C, vector_file);
    // The vector's own root is deliberately not given: trust can only come from the metadata.
    v["trustRoots"] = json!([]);
    let mut st = load(MDS, file);
    let model = st["description"].as_str().expect("description").to_string();
    let aaguid = v["expect"]["aaguid"].as_str().expect("aaguid");
    if aaguid == "00000000-0000-0000-0000-000000000000" {
        let id = fidoflow::fido::mds::key_identifier(&leaf_of(&v)).expect("key identifier");
        st["attestationCertificateKeyIdentifiers"] = json!([id]);
    } else {
        st["aaguid"] = json!(aaguid);
    }

    let (out, report) = verify_with_metadata(&v, &st, &[]);
    assert_eq!(out.status.code(), Some(0), "{file}: {report:#}");
    assert_eq!(report["attestation"]["verified"]["trusted"], json!(false));
    assert_eq!(report["attestation"]["verified"]["model"], json!(model));
    let entry = check(&report, "metadataEntry");
    assert_eq!(entry["outcome"], "pass", "{entry}");
    assert!(
        entry["detail"].as_str().unwrap_or("").contains(&model),
        "{entry}"
    );
    assert_eq!(check(&report, "metadataStatus")["outcome"], "pass");
    let (out, report) = verify_with_metadata(&v, &st, &["--require-trusted"]);
    assert_eq!(out.status.code(), Some(1), "{file}: {report:#}");
    assert!(report["result"]
        .as_str()
        .unwrap_or("")
        .starts_with("REFUSED (attestationTrust)"));

    st["attestationRootCertificates"] = json!([w3c_root_b64()]);
    let (out, report) = verify_with_metadata(&v, &st, &["--require-trusted"]);
    assert_eq!(out.status.code(), Some(0), "{file}: {report:#}");
    assert_eq!(report["attestation"]["verified"]["trusted"], json!(true));

    let mut revoked = json!({
        "metadataStatement": st,
        "statusReports": [{ "status": "REVOKED", "effectiveDate": "2024-05-01" }],
    });
    for key in ["aaguid", "attestationCertificateKeyIdentifiers"] {
        if let Some(value) = st.get(key) {
            revoked[key] = value.clone();
        }
    }
    let (out, report) = verify_with_metadata(&v, &revoked, &[]);
    assert_eq!(out.status.code(), Some(1), "{file}: {report:#}");
    assert_eq!(
        report["result"],
        "REFUSED (metadataStatus): the FIDO metadata reports this authenticator as REVOKED since 2024-05-01"
    );
}

#[test]
fn mds_statement_256k1_u2f_anonca() {
    statement(
        "256k1-u2f-authenticator-anonca.metadata.json",
        "s16_16-fido-u2f-attestation-es256.registration.json",
    );
}

#[test]
fn mds_statement_256k1_u2f_basic_full() {
    statement(
        "256k1-u2f-authenticator-basic_full.metadata.json",
        "s16_16-fido-u2f-attestation-es256.registration.json",
    );
}

#[test]
fn mds_statement_256k1_u2f_basic_surrogate() {
    statement(
        "256k1-u2f-authenticator-basic_surrogate.metadata.json",
        "s16_16-fido-u2f-attestation-es256.registration.json",
    );
}

#[test]
fn mds_statement_secp256r1_packed() {
    statement(
        "secp256r1-packed-authenticator.metadata.json",
        "s16_07-packed-attestation-es256.registration.json",
    );
}

/// A statement written in a temporary file names its authenticator but matches no vector: the
/// entry check is skipped and the vector verifies as without metadata.
#[test]
fn mds_statement_for_another_authenticator_is_not_used() {
    let v = load(W3C, "s16_07-packed-attestation-es256.registration.json");
    let st = load(MDS, "secp256r1-packed-authenticator.metadata.json");
    let (out, report) = verify_with_metadata(&v, &st, &[]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let entry = check(&report, "metadataEntry");
    assert_eq!(entry["outcome"], "skipped");
    assert!(
        entry["detail"].as_str().unwrap_or("").contains("no entry"),
        "{entry}"
    );
    assert_eq!(report["attestation"]["verified"]["model"], Value::Null);
}

/// The MDS test PKI (root, CA-1, TOC signer 3 and both CRLs) as `--mds-root` / `--mds-crl`: a
/// BLOB signed by TOC signer 3 cannot be made (its key is not published), so the BLOB here
/// carries the real signer chain and a signature that is not the signer's: it is refused for
/// its signature, while the CRLs and roots are read. A BLOB with the signer chain but signed
/// by another key, and the same BLOB under a root that is not the MDS root, are usage errors
/// (exit 2) with the reason.
#[test]
fn mds_test_pki_roots_and_crls_are_read_and_a_forged_blob_is_refused() {
    let v = load(W3C, "s16_07-packed-attestation-es256.registration.json");
    let pem = |name: &str| std::fs::read_to_string(folder(MDS).join(name)).expect("pem");
    let b64 = |name: &str| base64::engine::general_purpose::STANDARD.encode(der_of_pem(&pem(name)));
    let url = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = json!({"alg": "ES256", "typ": "JWT",
        "x5c": [b64("mds-toc-signer-3.pem"), b64("mds-ca-1.pem")]});
    let payload = json!({"no": 1, "nextUpdate": "2018-09-01", "entries": []});
    let jwt = format!(
        "{}.{}.{}",
        url(header.to_string().as_bytes()),
        url(payload.to_string().as_bytes()),
        url(&[7u8; 64])
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let blob = dir.path().join("blob.jwt");
    std::fs::write(&blob, jwt).expect("write blob");
    let response = dir.path().join("response.json");
    std::fs::write(&response, v["response"].to_string()).expect("write response");
    let path = |name: &str| folder(MDS).join(name).display().to_string();
    let run = |extra: &[String]| {
        let mut args = vec![
            "verify".to_string(),
            "registration".into(),
            "--challenge".into(),
            v["challenge"].as_str().expect("challenge").into(),
            "--rp-id".into(),
            v["rpId"].as_str().expect("rpId").into(),
            "--origin".into(),
            strings(&v["origins"])[0].clone(),
            "--at".into(),
            "2018-08-10T12:00:00Z".into(),
            "--mds".into(),
            blob.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        args.push(response.display().to_string());
        Command::new(env!("CARGO_BIN_EXE_fidoflow"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run fidoflow")
    };
    let with_pki = [
        "--mds-root".to_string(),
        path("mds-root.pem"),
        "--mds-crl".into(),
        path("mds-root.crl.pem"),
        "--mds-crl".into(),
        path("mds-ca-1.crl.pem"),
    ];
    let out = run(&with_pki);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("signature does not verify"), "{err}");
    // A certificate is not a CRL: the CRL files really are read.
    let out = run(&[
        "--mds-root".to_string(),
        path("mds-root.pem"),
        "--mds-crl".into(),
        path("mds-ca-1.pem"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--mds-crl"), "{err}");
    // Without a root a signed BLOB cannot be used.
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--mds-root"), "{err}");
}

#[test]
fn every_vector_file_has_a_test() {
    let source = include_str!("verify_vectors.rs");
    for set in [W3C, NET, MDS] {
        for entry in std::fs::read_dir(folder(set)).expect("folder") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") || name.ends_with(".pem") {
                assert!(
                    source.contains(&format!("\"{name}\"")),
                    "{set}/{name} has no test"
                );
            }
        }
    }
}
