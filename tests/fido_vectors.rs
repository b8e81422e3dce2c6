//! The WebAuthn test vectors run through `fidoflow::fido`, one test per vector file: the W3C
//! WebAuthn Level 3 §16 vectors (`tests/vectors/w3c-l3/README.md`) and the fido2-net-lib test
//! files (`tests/vectors/fido2-net-lib/README.md`). Each file's `policy`, `verifyAt` and
//! `trustRoots` are mapped onto the expectations.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use fidoflow::domain::{b64url, b64url_decode};
use fidoflow::fido::{
    verify_authentication, verify_registration, AttestationPolicy, AttestationType,
    AuthenticationError, AuthenticationExpectations, FormatPolicy, RegistrationError,
    RegistrationExpectations, TrustAnchors, VerifiedAuthentication, VerifiedRegistration,
    ALG_EDDSA, ALG_ES256, ALG_ES384, ALG_ES512, ALG_PS256, ALG_RS1, ALG_RS256,
};
use serde_json::Value;

/// "supportedAlgorithms: any" — every algorithm the module can parse.
const ALL_ALGORITHMS: [i64; 7] = [
    ALG_EDDSA, ALG_ES256, ALG_RS256, ALG_ES384, ALG_ES512, ALG_PS256, ALG_RS1,
];

const W3C: &str = "w3c-l3";
const NET: &str = "fido2-net-lib";

fn folder(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(set)
}

/// A vector and the folder it came from.
struct Vector {
    set: &'static str,
    v: Value,
}

impl std::ops::Index<&str> for Vector {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.v[key]
    }
}

fn load(set: &'static str, file: &str) -> Vector {
    let text = std::fs::read_to_string(folder(set).join(file)).expect("vector file");
    Vector {
        set,
        v: serde_json::from_str(&text).expect("vector JSON"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The trust roots the vector names, or none.
fn anchors_of(v: &Vector) -> TrustAnchors {
    let mut pem = String::new();
    for name in strings(&v["trustRoots"]) {
        pem.push_str(&std::fs::read_to_string(folder(v.set).join(name)).expect("root file"));
    }
    if pem.is_empty() {
        TrustAnchors::empty()
    } else {
        TrustAnchors::from_pem(&pem).expect("trust roots")
    }
}

/// `verifyAt`, else a time inside every certificate's validity: 2024-01-01 – 3024-01-01 for
/// the W3C chains; for fido2-net-lib the intersection of the READMEs' windows is the Apple
/// certificate's day, 2020-10-07 – 2020-10-08.
fn verify_at(v: &Vector) -> DateTime<Utc> {
    let default = if v.set == W3C {
        "2025-06-01T12:00:00Z"
    } else {
        "2020-10-07T20:00:00Z"
    };
    v["verifyAt"]
        .as_str()
        .unwrap_or(default)
        .parse()
        .expect("verifyAt")
}

/// The vector's `policy.expectedTypes`, or the WebAuthn type of the ceremony.
fn expected_types(v: &Vector, kind: &str) -> Vec<String> {
    match v["policy"]["expectedTypes"].as_array() {
        Some(_) => strings(&v["policy"]["expectedTypes"]),
        None => vec![kind.to_string()],
    }
}

fn format_policy(v: &Vector) -> FormatPolicy {
    let p = &v["policy"];
    FormatPolicy {
        safetynet_check_timestamp: p["androidSafetynetCheckTimestamp"]
            .as_bool()
            .unwrap_or(true),
        safetynet_require_cts_profile_match: p["androidSafetynetRequireCtsProfileMatch"]
            .as_bool()
            .unwrap_or(true),
        ..FormatPolicy::default()
    }
}

fn register(
    v: &Vector,
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
    let types = expected_types(v, "webauthn.create");
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let exp = RegistrationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: p["allowCrossOrigin"].as_bool().unwrap_or(false),
        top_origins: &top_origins,
        client_data_types: &types,
        require_user_verification: p["requireUserVerification"].as_bool().unwrap_or(false),
        algorithms: &algorithms,
        policy,
        trust_anchors: anchors,
        now: verify_at(v),
        accept_unknown_formats: false,
        formats: format_policy(v),
    };
    assert!(
        p["requireUserPresence"].as_bool().unwrap_or(true),
        "user presence is always required"
    );
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

fn assert_expected_registration(v: &Vector, r: &VerifiedRegistration) {
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
/// trusted with the vector's root as anchor (also under `RequireTrusted`) and untrusted
/// without it. Returns the attestation type.
fn registration_passes(set: &'static str, file: &str) -> AttestationType {
    let v = load(set, file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(true),
        "{file} is expected to pass"
    );
    let anchors = anchors_of(&v);
    let r = register(&v, &anchors, AttestationPolicy::AcceptAny)
        .unwrap_or_else(|e| panic!("{file}: {e} ({})", e.check()));
    assert_expected_registration(&v, &r);
    let has_roots = !anchors.is_empty();
    assert_eq!(r.attestation_trusted, has_roots, "{file}: trusted");
    if has_roots {
        register(&v, &anchors, AttestationPolicy::RequireTrusted)
            .unwrap_or_else(|e| panic!("{file} under require-trusted: {e}"));
        let untrusted = register(&v, &TrustAnchors::empty(), AttestationPolicy::AcceptAny)
            .unwrap_or_else(|e| panic!("{file} without anchors: {e}"));
        assert!(!untrusted.attestation_trusted);
    }
    let refused = register(
        &v,
        &TrustAnchors::empty(),
        AttestationPolicy::RequireTrusted,
    )
    .expect_err("no anchor, require-trusted");
    assert_eq!(refused.check(), "attestationTrust");
    r.attestation_type
}

/// A vector expected to fail: it is refused by the named check, and the refusal's reason
/// contains `reason`.
fn registration_fails(set: &'static str, file: &str, check: &str, reason: &str) {
    let v = load(set, file);
    assert_eq!(
        v["expect"]["ok"],
        Value::Bool(false),
        "{file} is expected to fail"
    );
    let err = register(&v, &anchors_of(&v), AttestationPolicy::AcceptAny)
        .expect_err("the vector must be refused");
    assert_eq!(err.check(), check, "{file}: {err}");
    assert!(err.to_string().contains(reason), "{file}: {err}");
}

#[test]
fn s16_02_none_attestation_es256_registration_verifies() {
    registration_passes(W3C, "s16_02-none-attestation-es256.registration.json");
}

#[test]
fn s16_03_packed_self_attestation_es256_registration_verifies() {
    registration_passes(
        W3C,
        "s16_03-self-attestation-packed-es256.registration.json",
    );
}

#[test]
fn s16_04_cross_origin_registration_is_refused_when_the_rp_forbids_it() {
    registration_fails(
        W3C,
        "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.registration.json",
        "crossOrigin",
        "cross-origin",
    );
}

#[test]
fn s16_04_cross_origin_registration_verifies_when_the_rp_allows_it() {
    registration_passes(
        W3C,
        "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.registration.json",
    );
}

#[test]
fn s16_05_top_origin_registration_is_refused_when_the_rp_forbids_cross_origin() {
    registration_fails(
        W3C,
        "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.registration.json",
        "crossOrigin",
        "cross-origin",
    );
}

#[test]
fn s16_05_top_origin_registration_verifies_when_the_rp_allows_it() {
    registration_passes(
        W3C,
        "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.registration.json",
    );
}

#[test]
fn s16_06_a_long_credential_id_registration_verifies() {
    registration_passes(
        W3C,
        "s16_06-none-attestation-es256-long-credential-id.registration.json",
    );
}

#[test]
fn s16_07_packed_x5c_es256_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_07-packed-attestation-es256.registration.json");
}

#[test]
fn s16_08_packed_x5c_es384_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_08-packed-attestation-es384.registration.json");
}

#[test]
fn s16_09_packed_x5c_es512_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_09-packed-attestation-es512.registration.json");
}

#[test]
fn s16_10_packed_x5c_rs256_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_10-packed-attestation-rs256.registration.json");
}

#[test]
fn s16_11_packed_x5c_eddsa_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_11-packed-attestation-eddsa.registration.json");
}

#[test]
fn s16_13_tpm_registration_verifies_and_chains_to_the_w3c_root() {
    let kind = registration_passes(W3C, "s16_13-tpm-attestation-es256.registration.json");
    assert_eq!(kind, AttestationType::AttCa);
}

#[test]
fn s16_14_android_key_registration_is_refused_for_its_empty_authorization_lists() {
    registration_fails(
        W3C,
        "s16_14-android-key-attestation-es256.registration.json",
        "attestationStatement",
        "origin",
    );
}

#[test]
fn s16_15_apple_registration_verifies_and_chains_to_the_w3c_root() {
    let kind = registration_passes(
        W3C,
        "s16_15-apple-anonymous-attestation-es256.registration.json",
    );
    assert_eq!(kind, AttestationType::AnonCa);
}

#[test]
fn s16_16_fido_u2f_registration_verifies_and_chains_to_the_w3c_root() {
    registration_passes(W3C, "s16_16-fido-u2f-attestation-es256.registration.json");
}

#[test]
fn the_w3c_root_loads_from_its_folder() {
    let anchors = TrustAnchors::from_dir(&folder(W3C)).expect("folder");
    assert_eq!(anchors.len(), 1);
}

fn authenticate(v: &Vector) -> Result<VerifiedAuthentication, AuthenticationError> {
    let challenge = b64url_decode(v["challenge"].as_str().expect("challenge")).expect("b64");
    let origins = strings(&v["origins"]);
    let p = &v["policy"];
    let top_origins = strings(&p["topOrigins"]);
    let key = b64url_decode(v["credentialPublicKey"].as_str().expect("key")).expect("b64");
    let id = b64url_decode(v["expect"]["credentialId"].as_str().expect("id")).expect("b64");
    let types = expected_types(v, "webauthn.get");
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let exp = AuthenticationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: p["allowCrossOrigin"].as_bool().unwrap_or(false),
        top_origins: &top_origins,
        client_data_types: &types,
        require_user_verification: p["requireUserVerification"].as_bool().unwrap_or(false),
        public_key: &key,
        credential_id: &id,
        payment: None,
    };
    verify_authentication(&v["response"], &exp)
}

/// An assertion expected to pass verifies and reports the vector's counter, flags and user
/// handle; its counter moved past the stored one (or both are zero).
fn authentication_passes(set: &'static str, file: &str) {
    let v = load(set, file);
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
    let stored = v["storedSignCount"].as_u64().unwrap_or(0);
    assert!(
        (stored == 0 && r.sign_count == 0) || u64::from(r.sign_count) > stored,
        "{file}: counter"
    );
    let handle = v["response"]["response"]["userHandle"]
        .as_str()
        .filter(|h| !h.is_empty());
    assert_eq!(
        r.user_handle.as_deref().map(b64url),
        handle.map(str::to_owned)
    );
    if let (Some(got), Some(want)) = (handle, v["userHandle"].as_str()) {
        assert_eq!(got, want, "{file}: user handle");
    }
}

/// An assertion expected to fail is refused by the named check.
fn authentication_fails(set: &'static str, file: &str, check: &str) {
    let v = load(set, file);
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
    authentication_passes(W3C, "s16_02-none-attestation-es256.authentication.json");
}

#[test]
fn s16_03_packed_self_es256_assertion_verifies() {
    authentication_passes(
        W3C,
        "s16_03-self-attestation-packed-es256.authentication.json",
    );
}

#[test]
fn s16_04_cross_origin_assertion_is_refused_when_the_rp_forbids_it() {
    authentication_fails(
        W3C,
        "s16_04-none-attestation-es256-cross-origin-rp-rejects-crossorigin.authentication.json",
        "crossOrigin",
    );
}

#[test]
fn s16_04_cross_origin_assertion_verifies_when_the_rp_allows_it() {
    authentication_passes(
        W3C,
        "s16_04-none-attestation-es256-cross-origin-rp-allows-crossorigin.authentication.json",
    );
}

#[test]
fn s16_05_top_origin_assertion_is_refused_when_the_rp_forbids_cross_origin() {
    authentication_fails(
        W3C,
        "s16_05-none-attestation-es256-top-origin-rp-rejects-crossorigin.authentication.json",
        "crossOrigin",
    );
}

#[test]
fn s16_05_top_origin_assertion_verifies_when_the_rp_allows_it() {
    authentication_passes(
        W3C,
        "s16_05-none-attestation-es256-top-origin-rp-allows-crossorigin.authentication.json",
    );
}

#[test]
fn s16_06_long_credential_id_assertion_verifies() {
    authentication_passes(
        W3C,
        "s16_06-none-attestation-es256-long-credential-id.authentication.json",
    );
}

#[test]
fn s16_07_es256_assertion_verifies() {
    authentication_passes(W3C, "s16_07-packed-attestation-es256.authentication.json");
}

#[test]
fn s16_08_es384_assertion_verifies() {
    authentication_passes(W3C, "s16_08-packed-attestation-es384.authentication.json");
}

#[test]
fn s16_09_es512_assertion_verifies() {
    authentication_passes(W3C, "s16_09-packed-attestation-es512.authentication.json");
}

#[test]
fn s16_10_rs256_assertion_verifies() {
    authentication_passes(W3C, "s16_10-packed-attestation-rs256.authentication.json");
}

#[test]
fn s16_11_eddsa_assertion_verifies() {
    authentication_passes(W3C, "s16_11-packed-attestation-eddsa.authentication.json");
}

#[test]
fn s16_13_assertion_of_a_tpm_credential_verifies() {
    authentication_passes(W3C, "s16_13-tpm-attestation-es256.authentication.json");
}

#[test]
fn s16_14_assertion_of_an_android_key_credential_verifies() {
    authentication_passes(
        W3C,
        "s16_14-android-key-attestation-es256.authentication.json",
    );
}

#[test]
fn s16_15_assertion_of_an_apple_credential_verifies() {
    authentication_passes(
        W3C,
        "s16_15-apple-anonymous-attestation-es256.authentication.json",
    );
}

#[test]
fn s16_16_assertion_of_a_u2f_credential_verifies() {
    authentication_passes(W3C, "s16_16-fido-u2f-attestation-es256.authentication.json");
}

// fido2-net-lib (origin https://localhost:44329, RP ID localhost; no trust roots are shipped,
// so every attestation verifies untrusted).

#[test]
fn net_none_es256_registration_verifies() {
    registration_passes(NET, "none-es256.registration.json");
}

#[test]
fn net_none_es256_registration_from_an_older_client_verifies() {
    registration_passes(NET, "none-es256-b.registration.json");
}

#[test]
fn net_packed_x5c_es256_registration_with_pretty_printed_client_data_verifies() {
    registration_passes(NET, "packed-es256-x5c.registration.json");
}

#[test]
fn net_packed_es512_self_attestation_verifies() {
    let kind = registration_passes(NET, "packed-es512-self.registration.json");
    assert_eq!(kind, AttestationType::Self_);
}

#[test]
fn net_tpm_rs1_sha1_registration_verifies() {
    let kind = registration_passes(NET, "tpm-rs1-sha1.registration.json");
    assert_eq!(kind, AttestationType::AttCa);
}

#[test]
fn net_tpm_rs256_registration_verifies() {
    let kind = registration_passes(NET, "tpm-rs256-sha256.registration.json");
    assert_eq!(kind, AttestationType::AttCa);
}

#[test]
fn net_android_key_es256_registration_verifies() {
    registration_passes(NET, "android-key-es256.registration.json");
}

#[test]
fn net_apple_es256_registration_verifies() {
    let kind = registration_passes(NET, "apple-es256.registration.json");
    assert_eq!(kind, AttestationType::AnonCa);
}

#[test]
fn net_fido_u2f_es256_registration_verifies() {
    registration_passes(NET, "fido-u2f-es256.registration.json");
}

#[test]
fn net_fido_u2f_es256_second_registration_verifies() {
    registration_passes(NET, "fido-u2f-es256-b.registration.json");
}

#[test]
fn net_packed_atkey_registration_verifies() {
    registration_passes(NET, "packed-es256-atkey.registration.json");
}

#[test]
fn net_packed_trustkey_t110_registration_verifies() {
    registration_passes(NET, "packed-es256-trustkey-t110.registration.json");
}

#[test]
fn net_none_es256_assertion_verifies() {
    authentication_passes(NET, "none-es256.authentication.json");
}

#[test]
fn every_vector_file_has_a_test() {
    let source = include_str!("fido_vectors.rs");
    for set in [W3C, NET] {
        for entry in std::fs::read_dir(folder(set)).expect("folder") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") {
                assert!(
                    source.contains(&format!("\"{name}\"")),
                    "{set}/{name} has no test"
                );
            }
        }
    }
}
