//! The eBay/UAF vectors (`tests/vectors/uaf/ebay`, see its README): every file gives the
//! outcome its `expect` names. Full messages go through `parse_response` (they are upv 1.0,
//! so the 1.0-accepting variant) and the whole verification; assertion-only files (their
//! fcParams are unpublished) through parsing and the signature checks.

use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::domain::b64url_decode;
use crate::uaf::messages::parse_response_accepting_v1_0;
use crate::uaf::{
    parse_authentication, parse_registration, verify_attestation_signature, verify_authentication,
    verify_authentication_signature, verify_registration, Attestation, Expectations, Op, StoredKey,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/uaf/ebay")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    b64url_decode(value.as_str().unwrap()).unwrap()
}

fn num(value: &Value) -> u64 {
    value.as_u64().unwrap()
}

/// The assertion bytes of an assertion-only file.
fn lone_assertion(vector: &Value) -> Vec<u8> {
    let text = vector["assertions"][0]["assertion"].as_str().unwrap();
    b64url_decode(text).unwrap()
}

/// Checks a parsed registration against the file's `expect`.
fn expect_registration(name: &str, expect: &Value, reg: &crate::uaf::RegAssertion) {
    assert_eq!(reg.aaid, expect["aaid"].as_str().unwrap(), "{name}");
    assert_eq!(reg.key_id, bytes(&expect["keyID"]), "{name}");
    assert_eq!(
        u64::from(reg.authenticator_version),
        num(&expect["authenticatorVersion"]),
        "{name}"
    );
    assert_eq!(
        u64::from(reg.authentication_mode),
        num(&expect["authenticationMode"])
    );
    assert_eq!(
        u64::from(reg.sign_alg),
        num(&expect["signatureAlgAndEncoding"])
    );
    assert_eq!(
        u64::from(reg.key_encoding),
        num(&expect["publicKeyAlgAndEncoding"])
    );
    assert_eq!(
        u64::from(reg.sign_counter),
        num(&expect["signCounter"]),
        "{name}"
    );
    assert_eq!(
        u64::from(reg.reg_counter),
        num(&expect["regCounter"]),
        "{name}"
    );
    assert_eq!(reg.public_key, bytes(&expect["publicKey"]), "{name}");
    assert_eq!(
        reg.final_challenge_hash,
        bytes(&expect["finalChallengeHash"])
    );
    let Attestation::BasicFull {
        signature,
        certificates,
    } = &reg.attestation
    else {
        panic!("{name}: not basic full");
    };
    assert_eq!(expect["attestationType"], "basic_full");
    assert_eq!(*signature, bytes(&expect["attestationSignature"]), "{name}");
    let certs: Vec<Vec<u8>> = expect["attestationCerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    assert_eq!(*certificates, certs, "{name}");
}

/// The expectations of a full-message file: its appID, challenge and facet.
fn expectations<'a>(
    vector: &'a Value,
    facets: &'a [String],
    policy: &'a Policy,
) -> Expectations<'a> {
    Expectations {
        app_id: vector["appID"].as_str().unwrap(),
        challenge: vector["challenge"].as_str().unwrap(),
        trusted_facets: facets,
        policy,
        channel_binding: crate::uaf::ChannelBindingPolicy::default(),
    }
}

fn run_registration(name: &str, vector: &Value) -> Result<(), UafRefusal> {
    let message = Value::Array(vec![vector["message"].clone()]);
    let response = parse_response_accepting_v1_0(&message, Op::Reg)?;
    assert_eq!(response.upv, (1, 0));
    let facets = vec![vector["facetID"].as_str().unwrap().to_string()];
    let policy = Policy::any();
    let keys = verify_registration(&response, &expectations(vector, &facets, &policy))?;
    let expect = &vector["expect"];
    assert_eq!(keys.len(), 1);
    let reg = parse_registration(&response.assertions[0]).unwrap();
    expect_registration(name, expect, &reg);
    assert_eq!(keys[0].public_key, reg.public_key);
    assert_eq!(keys[0].attestation, reg.attestation);
    Ok(())
}

fn stored_key(registration: &Value) -> StoredKey {
    StoredKey {
        public_key: bytes(&registration["publicKey"]),
        key_encoding: u16::try_from(num(&registration["publicKeyAlgAndEncoding"])).unwrap(),
        sign_alg: 0,
        sign_counter: u32::try_from(num(&registration["signCounter"])).unwrap(),
    }
}

fn run_authentication(name: &str, vector: &Value) -> Result<(), UafRefusal> {
    let message = Value::Array(vec![vector["message"].clone()]);
    let response = parse_response_accepting_v1_0(&message, Op::Auth)?;
    let facets = vec![vector["facetID"].as_str().unwrap().to_string()];
    let policy = Policy::any();
    let registration = &vector["registration"];
    let expect = &vector["expect"];
    let sign_alg = u16::try_from(num(&expect["signatureAlgAndEncoding"])).unwrap();
    let lookup = |aaid: &str, key_id: &[u8]| {
        (aaid == registration["aaid"].as_str().unwrap() && key_id == bytes(&registration["keyID"]))
            .then(|| StoredKey {
                sign_alg,
                ..stored_key(registration)
            })
    };
    let verified = verify_authentication(
        &response,
        &expectations(vector, &facets, &policy),
        &lookup,
        None,
    )?;
    assert_eq!(verified.aaid, expect["aaid"].as_str().unwrap(), "{name}");
    assert_eq!(verified.key_id, bytes(&expect["keyID"]));
    assert_eq!(
        u64::from(verified.sign_counter),
        num(&expect["signCounter"])
    );
    assert_eq!(
        u64::from(verified.authentication_mode),
        num(&expect["authenticationMode"])
    );
    let a = parse_authentication(&response.assertions[0]).unwrap();
    assert_eq!(
        a.authenticator_nonce,
        bytes(&expect["authenticatorNonce"]),
        "{name}"
    );
    assert_eq!(a.final_challenge_hash, bytes(&expect["finalChallengeHash"]));
    assert_eq!(
        u64::from(a.authenticator_version),
        num(&expect["authenticatorVersion"])
    );
    Ok(())
}

fn run_registration_assertion(name: &str, vector: &Value) -> Result<(), UafRefusal> {
    let reg = parse_registration(&lone_assertion(vector))?;
    expect_registration(name, &vector["expect"], &reg);
    crate::uaf::check_public_key(reg.sign_alg, reg.key_encoding, &reg.public_key)?;
    verify_attestation_signature(&reg)
}

fn run_authentication_assertion(name: &str, vector: &Value) -> Result<(), UafRefusal> {
    let a = parse_authentication(&lone_assertion(vector))?;
    let expect = &vector["expect"];
    let registration = &vector["registration"];
    assert_eq!(a.aaid, expect["aaid"].as_str().unwrap(), "{name}");
    assert_eq!(a.key_id, bytes(&registration["keyID"]), "{name}");
    assert_eq!(
        u64::from(a.sign_alg),
        num(&expect["signatureAlgAndEncoding"])
    );
    let stored = stored_key(registration);
    verify_authentication_signature(&a, stored.key_encoding, &stored.public_key)?;
    // The counter rule: both 0, or the received one above the stored one.
    assert!(
        a.sign_counter > stored.sign_counter || (a.sign_counter == 0 && stored.sign_counter == 0),
        "{name}"
    );
    Ok(())
}

#[test]
fn every_ebay_vector_gives_its_expected_outcome() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10, "{names:?}");
    for name in &names {
        let vector = load(name);
        let outcome = match vector["kind"].as_str().unwrap() {
            "registration" => run_registration(name, &vector),
            "authentication" => run_authentication(name, &vector),
            "registration-assertion" => run_registration_assertion(name, &vector),
            "authentication-assertion" => run_authentication_assertion(name, &vector),
            other => panic!("{name}: unknown kind {other}"),
        };
        let ok = vector["expect"]["ok"].as_bool().unwrap();
        assert_eq!(outcome.is_ok(), ok, "{name}: {outcome:?}");
    }
}

#[test]
fn the_spec_fc_params_paired_with_138a_4202_fail_on_the_final_challenge_hash() {
    let vector = load("138a-4202-spec-fcparams.registration.json");
    refused(
        run_registration("138a", &vector),
        StatusCode::UnacceptableContent,
        "finalChallengeHash",
    );
}

#[test]
fn the_upv_1_0_vectors_are_refused_without_the_1_0_flag() {
    let vector = load("spec-abcd-abcd.registration.json");
    let message = Value::Array(vec![vector["message"].clone()]);
    refused(
        crate::uaf::parse_response(&message, Op::Reg),
        StatusCode::BadRequest,
        "upv",
    );
}

#[test]
fn the_dab8_padded_fc_params_are_hashed_as_received() {
    let vector = load("dab8-8011.authentication.json");
    let message = Value::Array(vec![vector["message"].clone()]);
    let response = parse_response_accepting_v1_0(&message, Op::Auth).unwrap();
    assert!(response.fc_params.ends_with("=="));
    assert_eq!(
        response.final_challenge.facet_id,
        "android:apk-key-hash:bE0f1WtRJrZv/C0y9CM73bAUqiI"
    );
    assert_eq!(
        sha256(response.fc_params.as_bytes()),
        bytes(&vector["expect"]["finalChallengeHash"])
    );
}

#[test]
fn the_abcd_authentication_is_refused_when_the_counter_did_not_advance() {
    let vector = load("spec-abcd-abcd.authentication.json");
    let message = Value::Array(vec![vector["message"].clone()]);
    let response = parse_response_accepting_v1_0(&message, Op::Auth).unwrap();
    let facets = vec![vector["facetID"].as_str().unwrap().to_string()];
    let policy = Policy::any();
    let lookup = |_: &str, _: &[u8]| {
        Some(StoredKey {
            sign_alg: 0x0001,
            sign_counter: 2,
            ..stored_key(&vector["registration"])
        })
    };
    refused(
        verify_authentication(
            &response,
            &expectations(&vector, &facets, &policy),
            &lookup,
            None,
        ),
        StatusCode::UnacceptableContent,
        "signCounter",
    );
}

#[test]
fn the_abcd_registration_is_refused_for_another_challenge_or_facet() {
    let vector = load("spec-abcd-abcd.registration.json");
    let message = Value::Array(vec![vector["message"].clone()]);
    let response = parse_response_accepting_v1_0(&message, Op::Reg).unwrap();
    let policy = Policy::any();
    let facets = vec!["com.example.other".to_string()];
    let mut exp = expectations(&vector, &facets, &policy);
    refused(
        verify_registration(&response, &exp),
        StatusCode::UnacceptableContent,
        "facetId",
    );
    let facets = vec![vector["facetID"].as_str().unwrap().to_string()];
    exp.trusted_facets = &facets;
    exp.challenge = "another";
    refused(
        verify_registration(&response, &exp),
        StatusCode::RequestInvalid,
        "challenge",
    );
}
