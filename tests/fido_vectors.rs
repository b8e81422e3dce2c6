//! The W3C WebAuthn Level 3 §16 test vectors (see `tests/vectors/w3c-l3/README.md`) run through
//! `fidoflow::fido`, one test per vector file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use fidoflow::domain::{b64url, b64url_decode};
use fidoflow::fido::{
    verify_authentication, verify_registration, AttestationPolicy, AuthenticationError,
    AuthenticationExpectations, RegistrationError, RegistrationExpectations, TrustAnchors,
    VerifiedAuthentication, VerifiedRegistration, ALG_EDDSA, ALG_ES256, ALG_ES384, ALG_ES512,
    ALG_PS256, ALG_RS256,
};
use serde_json::Value;

const ALL_ALGORITHMS: [i64; 6] = [
    ALG_EDDSA, ALG_ES256, ALG_RS256, ALG_ES384, ALG_ES512, ALG_PS256,
];

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/w3c-l3")
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(folder().join(file)).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The trust roots the vector names, or none.
fn anchors_of(v: &Value) -> TrustAnchors {
    let mut pem = String::new();
    for name in strings(&v["trustRoots"]) {
        pem.push_str(&std::fs::read_to_string(folder().join(name)).expect("root file"));
    }
    if pem.is_empty() {
        TrustAnchors::empty()
    } else {
        TrustAnchors::from_pem(&pem).expect("trust roots")
    }
}

/// `verifyAt`, else a time inside every certificate's validity (2024-01-01 – 3024-01-01).
fn verify_at(v: &Value) -> DateTime<Utc> {
    v["verifyAt"]
        .as_str()
        .map(|t| t.parse().expect("verifyAt"))
        .unwrap_or_else(|| "2025-06-01T12:00:00Z".parse().expect("time"))
}

fn register(
    v: &Value,
    anchors: &TrustAnchors,
    policy: AttestationPolicy,
) -> Result<VerifiedRegistration, RegistrationError> {
    let challenge = b64url_decode(v["challenge"].as_str().expect("challenge")).expect("b64");
    let origins = strings(&v["origins"]);
    let p = &v["policy"];
    let top_origins = strings(&p["topOrigins"]);
    let algorithms: Vec<i64> = match p["supportedAlgorithms"].as_array() {
        Some(list) => list.iter().filter_map(Value::as_i64).collect(),
        None => ALL_ALGORITHMS.to_vec(),
    };
    let exp = RegistrationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: p["allowCrossOrigin"].as_bool().unwrap_or(false),
        top_origins: &top_origins,
        require_user_verification: p["requireUserVerification"].as_bool().unwrap_or(false),
        algorithms: &algorithms,
        policy,
        trust_anchors: anchors,
        now: verify_at(v),
    };
    verify_registration(&v["response"], &exp)
}

fn aaguid_text(a: &[u8; 16]) -> String {
    let hex: String = a.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn assert_expected_registration(v: &Value, r: &VerifiedRegistration) {
    let e = &v["expect"];
    assert_eq!(r.format, e["fmt"].as_str().expect("fmt"));
    assert_eq!(
        aaguid_text(&r.aaguid),
        e["aaguid"].as_str().expect("aaguid")
    );
    assert_eq!(
        b64url(&r.credential_id),
        e["credentialId"].as_str().expect("id")
    );
    assert_eq!(
        u64::from(r.sign_count),
        e["signCount"].as_u64().expect("count")
    );
    let f = &e["flags"];
    assert_eq!(r.user_present, f["up"].as_bool().expect("up"));
    assert_eq!(r.user_verified, f["uv"].as_bool().expect("uv"));
    assert_eq!(r.backup_eligible, f["be"].as_bool().expect("be"));
    assert_eq!(r.backup_state, f["bs"].as_bool().expect("bs"));
}

/// A vector expected to pass: it verifies with the vector's values; an x5c attestation is
/// trusted with the W3C root as anchor (also under `RequireTrusted`) and untrusted without it.
fn registration_passes(file: &str) {
    let v = load(file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(true),
        "{file} is expected to pass"
    );
    let anchors = anchors_of(&v);
    let r = register(&v, &anchors, AttestationPolicy::AcceptAny)
        .unwrap_or_else(|e| panic!("{file}: {e} ({})", e.check()));
    assert_expected_registration(&v, &r);
    let has_x5c = !anchors.is_empty();
    assert_eq!(r.attestation_trusted, has_x5c, "{file}: trusted");
    if has_x5c {
        register(&v, &anchors, AttestationPolicy::RequireTrusted)
            .unwrap_or_else(|e| panic!("{file} under require-trusted: {e}"));
        let untrusted = register(&v, &TrustAnchors::empty(), AttestationPolicy::AcceptAny)
            .unwrap_or_else(|e| panic!("{file} without anchors: {e}"));
        assert!(!untrusted.attestation_trusted);
        let refused = register(
            &v,
            &TrustAnchors::empty(),
            AttestationPolicy::RequireTrusted,
        )
        .expect_err("no anchor, require-trusted");
        assert_eq!(refused.check(), "attestationTrust");
    } else {
        let refused = register(&v, &anchors, AttestationPolicy::RequireTrusted)
            .expect_err("none/self attestation is never trusted");
        assert_eq!(refused.check(), "attestationTrust");
    }
}

/// A vector expected to fail: it is refused by the check the file names.
fn registration_fails(file: &str, check: &str) {
    let v = load(file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(false),
        "{file} is expected to fail"
    );
    let err = register(&v, &anchors_of(&v), AttestationPolicy::AcceptAny)
        .expect_err("the vector must be refused");
    assert_eq!(err.check(), check, "{file}: {err}");
}

/// A format this module does not verify yet is refused as unsupported.
fn registration_format_unsupported(file: &str) {
    let v = load(file);
    let err = register(&v, &anchors_of(&v), AttestationPolicy::AcceptAny)
        .expect_err("the format is not supported");
    assert!(
        matches!(err, RegistrationError::UnsupportedFormat(ref f) if f == v["expect"]["fmt"].as_str().unwrap_or_default()),
        "{file}: {err}"
    );
}

#[test]
fn s16_02_none_attestation_es256_registration_verifies() {
    registration_passes("s16_02-none-attestation-es256.registration.json");
}

#[test]
fn s16_03_packed_self_attestation_es256_registration_verifies() {
    registration_passes("s16_03-self-attestation-packed-es256.registration.json");
}

#[test]
fn s16_04_cross_origin_registration_is_refused_when_the_rp_forbids_it() {
    registration_fails(
        "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.registration.json",
        "crossOrigin",
    );
}

#[test]
fn s16_04_cross_origin_registration_verifies_when_the_rp_allows_it() {
    registration_passes(
        "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.registration.json",
    );
}

#[test]
fn s16_05_top_origin_registration_is_refused_when_the_rp_forbids_cross_origin() {
    registration_fails(
        "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.registration.json",
        "crossOrigin",
    );
}

#[test]
fn s16_05_top_origin_registration_verifies_when_the_rp_allows_it() {
    registration_passes(
        "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.registration.json",
    );
}

#[test]
fn s16_06_a_long_credential_id_registration_verifies() {
    registration_passes("s16_06-none-attestation-es256-long-credential-id.registration.json");
}

#[test]
fn s16_07_packed_x5c_es256_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_07-packed-attestation-es256.registration.json");
}

#[test]
fn s16_08_packed_x5c_es384_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_08-packed-attestation-es384.registration.json");
}

#[test]
fn s16_09_packed_x5c_es512_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_09-packed-attestation-es512.registration.json");
}

#[test]
fn s16_10_packed_x5c_rs256_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_10-packed-attestation-rs256.registration.json");
}

#[test]
fn s16_11_packed_x5c_eddsa_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_11-packed-attestation-eddsa.registration.json");
}

#[test]
fn s16_13_tpm_registration_is_refused_as_an_unsupported_format() {
    registration_format_unsupported("s16_13-tpm-attestation-es256.registration.json");
}

#[test]
fn s16_14_android_key_registration_is_refused_as_an_unsupported_format() {
    registration_format_unsupported("s16_14-android-key-attestation-es256.registration.json");
}

#[test]
fn s16_15_apple_registration_is_refused_as_an_unsupported_format() {
    registration_format_unsupported("s16_15-apple-anonymous-attestation-es256.registration.json");
}

#[test]
fn s16_16_fido_u2f_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes("s16_16-fido-u2f-attestation-es256.registration.json");
}

#[test]
fn the_w3c_root_loads_from_its_folder() {
    let anchors = TrustAnchors::from_dir(&folder()).expect("folder");
    assert_eq!(anchors.len(), 1);
}

fn authenticate(v: &Value) -> Result<VerifiedAuthentication, AuthenticationError> {
    let challenge = b64url_decode(v["challenge"].as_str().expect("challenge")).expect("b64");
    let origins = strings(&v["origins"]);
    let p = &v["policy"];
    let top_origins = strings(&p["topOrigins"]);
    let key = b64url_decode(v["credentialPublicKey"].as_str().expect("key")).expect("b64");
    let id = b64url_decode(v["expect"]["credentialId"].as_str().expect("id")).expect("b64");
    let exp = AuthenticationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: p["allowCrossOrigin"].as_bool().unwrap_or(false),
        top_origins: &top_origins,
        require_user_verification: p["requireUserVerification"].as_bool().unwrap_or(false),
        public_key: &key,
        credential_id: &id,
    };
    verify_authentication(&v["response"], &exp)
}

/// An assertion expected to pass verifies and reports the vector's counter and flags.
fn authentication_passes(file: &str) {
    let v = load(file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(true),
        "{file} is expected to pass"
    );
    let r = authenticate(&v).unwrap_or_else(|e| panic!("{file}: {e} ({})", e.check()));
    let e = &v["expect"];
    assert_eq!(
        b64url(&r.credential_id),
        e["credentialId"].as_str().expect("id")
    );
    assert_eq!(
        u64::from(r.sign_count),
        e["signCount"].as_u64().expect("count")
    );
    let f = &e["flags"];
    assert_eq!(r.user_present, f["up"].as_bool().expect("up"));
    assert_eq!(r.user_verified, f["uv"].as_bool().expect("uv"));
    assert_eq!(r.backup_eligible, f["be"].as_bool().expect("be"));
    assert_eq!(r.backup_state, f["bs"].as_bool().expect("bs"));
    assert_eq!(r.user_handle, None);
}

/// An assertion expected to fail is refused by the named check.
fn authentication_fails(file: &str, check: &str) {
    let v = load(file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(false),
        "{file} is expected to fail"
    );
    let err = authenticate(&v).expect_err("the vector must be refused");
    assert_eq!(err.check(), check, "{file}: {err}");
}

#[test]
fn s16_02_none_es256_assertion_verifies() {
    authentication_passes("s16_02-none-attestation-es256.authentication.json");
}

#[test]
fn s16_03_packed_self_es256_assertion_verifies() {
    authentication_passes("s16_03-self-attestation-packed-es256.authentication.json");
}

#[test]
fn s16_04_cross_origin_assertion_is_refused_when_the_rp_forbids_it() {
    authentication_fails(
        "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.authentication.json",
        "crossOrigin",
    );
}

#[test]
fn s16_04_cross_origin_assertion_verifies_when_the_rp_allows_it() {
    authentication_passes(
        "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.authentication.json",
    );
}

#[test]
fn s16_05_top_origin_assertion_is_refused_when_the_rp_forbids_cross_origin() {
    authentication_fails(
        "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.authentication.json",
        "crossOrigin",
    );
}

#[test]
fn s16_05_top_origin_assertion_verifies_when_the_rp_allows_it() {
    authentication_passes(
        "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.authentication.json",
    );
}

#[test]
fn s16_06_long_credential_id_assertion_verifies() {
    authentication_passes("s16_06-none-attestation-es256-long-credential-id.authentication.json");
}

#[test]
fn s16_07_es256_assertion_verifies() {
    authentication_passes("s16_07-packed-attestation-es256.authentication.json");
}

#[test]
fn s16_08_es384_assertion_verifies() {
    authentication_passes("s16_08-packed-attestation-es384.authentication.json");
}

#[test]
fn s16_09_es512_assertion_verifies() {
    authentication_passes("s16_09-packed-attestation-es512.authentication.json");
}

#[test]
fn s16_10_rs256_assertion_verifies() {
    authentication_passes("s16_10-packed-attestation-rs256.authentication.json");
}

#[test]
fn s16_11_eddsa_assertion_verifies() {
    authentication_passes("s16_11-packed-attestation-eddsa.authentication.json");
}

#[test]
fn s16_13_assertion_of_a_tpm_credential_verifies() {
    authentication_passes("s16_13-tpm-attestation-es256.authentication.json");
}

#[test]
fn s16_14_assertion_of_an_android_key_credential_verifies() {
    authentication_passes("s16_14-android-key-attestation-es256.authentication.json");
}

#[test]
fn s16_15_assertion_of_an_apple_credential_verifies() {
    authentication_passes("s16_15-apple-anonymous-attestation-es256.authentication.json");
}

#[test]
fn s16_16_assertion_of_a_u2f_credential_verifies() {
    authentication_passes("s16_16-fido-u2f-attestation-es256.authentication.json");
}
