//! Micro-benchmarks of WebAuthn verification through the library's public API (`cargo bench`):
//! one assertion each of ES256, EdDSA and RS256, a packed and a TPM registration, and the CBOR
//! decoding of an attestation object. The inputs are the W3C WebAuthn Level 3 §16 test vectors
//! in `tests/vectors/w3c-l3`, checked to verify before they are timed.

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use fidoflow::domain::b64url_decode;
use fidoflow::fido::{
    inspect, verify_authentication, verify_registration, AttestationPolicy,
    AuthenticationExpectations, FormatPolicy, RegistrationExpectations, TrustAnchors, ALG_EDDSA,
    ALG_ES256, ALG_ES384, ALG_ES512, ALG_PS256, ALG_RS1, ALG_RS256,
};
use serde_json::Value;

const ALGORITHMS: [i64; 7] = [
    ALG_EDDSA, ALG_ES256, ALG_RS256, ALG_ES384, ALG_ES512, ALG_PS256, ALG_RS1,
];

fn vector(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/w3c-l3")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector JSON")
}

fn bytes(v: &Value) -> Vec<u8> {
    b64url_decode(v.as_str().expect("a base64url string")).expect("base64url")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Within the W3C attestation chains' validity.
fn now() -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse().expect("time")
}

fn bench_assertion(c: &mut Criterion, name: &str, file: &str) {
    let v = vector(file);
    let challenge = bytes(&v["challenge"]);
    let origins = strings(&v["origins"]);
    let key = bytes(&v["credentialPublicKey"]);
    let id = bytes(&v["expect"]["credentialId"]);
    let exp = AuthenticationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: false,
        top_origins: &[],
        client_data_types: &[fidoflow::fido::WEBAUTHN_GET],
        require_user_verification: false,
        public_key: &key,
        credential_id: &id,
        payment: None,
    };
    verify_authentication(&v["response"], &exp).unwrap_or_else(|e| panic!("{file}: {e}"));
    c.bench_function(name, |b| {
        b.iter(|| verify_authentication(black_box(&v["response"]), &exp))
    });
}

fn bench_registration(c: &mut Criterion, name: &str, file: &str) {
    let v = vector(file);
    let challenge = bytes(&v["challenge"]);
    let origins = strings(&v["origins"]);
    let anchors = TrustAnchors::empty();
    let exp = RegistrationExpectations {
        challenge: &challenge,
        rp_id: v["rpId"].as_str().expect("rpId"),
        origins: &origins,
        allow_cross_origin: false,
        top_origins: &[],
        client_data_types: &[fidoflow::fido::WEBAUTHN_CREATE],
        require_user_verification: false,
        algorithms: &ALGORITHMS,
        policy: AttestationPolicy::AcceptAny,
        trust_anchors: &anchors,
        now: now(),
        accept_unknown_formats: false,
        formats: FormatPolicy::default(),
    };
    verify_registration(&v["response"], &exp).unwrap_or_else(|e| panic!("{file}: {e}"));
    c.bench_function(name, |b| {
        b.iter(|| verify_registration(black_box(&v["response"]), &exp))
    });
}

fn assertions(c: &mut Criterion) {
    bench_assertion(
        c,
        "assertion/es256",
        "s16_02-none-attestation-es256.authentication.json",
    );
    bench_assertion(
        c,
        "assertion/eddsa",
        "s16_11-packed-attestation-eddsa.authentication.json",
    );
    bench_assertion(
        c,
        "assertion/rs256",
        "s16_10-packed-attestation-rs256.authentication.json",
    );
}

fn registrations(c: &mut Criterion) {
    bench_registration(
        c,
        "registration/packed-es256-x5c",
        "s16_07-packed-attestation-es256.registration.json",
    );
    bench_registration(
        c,
        "registration/tpm-es256",
        "s16_13-tpm-attestation-es256.registration.json",
    );
}

fn cbor(c: &mut Criterion) {
    let v = vector("s16_13-tpm-attestation-es256.registration.json");
    let attestation_object = bytes(&v["response"]["response"]["attestationObject"]);
    let described = inspect::describe_attestation(&attestation_object);
    assert_eq!(described["fmt"], "tpm", "{described}");
    c.bench_function("cbor/attestation-object-tpm", |b| {
        b.iter(|| inspect::describe_attestation(black_box(&attestation_object)))
    });
}

criterion_group!(benches, assertions, registrations, cbor);
criterion_main!(benches);
