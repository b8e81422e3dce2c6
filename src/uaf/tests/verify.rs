//! `verify_registration` and `verify_authentication` on responses a test-only authenticator
//! builds: each refusal names its check and carries its status code.

use serde_json::{json, Value};

use super::*;
use crate::uaf::algorithms::ALG_KEY_ECC_X962_RAW;
use crate::uaf::{
    parse_response, verify_authentication, verify_authentications, verify_registration,
    Attestation, Expectations, MatchCriteria, Op, Response, StoredKey, VerifiedAuthentication,
    VerifiedKey,
};

/// A test authenticator: one P-256 key (surrogate attestation, `r || s` signatures).
struct Authenticator {
    key: P256,
    fields: Fields,
}

impl Authenticator {
    fn new() -> Self {
        let key = P256::generate();
        let fields = Fields::new(Vec::new(), key.point());
        Self { key, fields }
    }

    fn register(&self, fc: &str) -> Vec<u8> {
        let mut fields = self.fields.clone();
        fields.fch = sha256(fc.as_bytes());
        surrogate_assertion(&fields, &self.key)
    }

    fn authenticate(&self, fc: &str, counter: u32, transaction: Option<&[u8]>) -> Vec<u8> {
        let mut fields = self.fields.clone();
        fields.fch = sha256(fc.as_bytes());
        fields.sign_counter = counter;
        if let Some(content) = transaction {
            fields.mode = 0x02;
            fields.tch = sha256(content);
        }
        auth_assertion(&fields, &self.key)
    }

    fn stored(&self, sign_counter: u32) -> StoredKey {
        StoredKey {
            public_key: self.key.point(),
            key_encoding: ALG_KEY_ECC_X962_RAW,
            sign_alg: self.fields.sign_alg,
            sign_counter,
        }
    }
}

fn exp<'a>(policy: &'a Policy) -> Expectations<'a> {
    Expectations {
        app_id: APP_ID,
        challenge: CHALLENGE,
        trusted_facets: &[],
        policy,
        channel_binding: crate::uaf::ChannelBindingPolicy::default(),
    }
}

fn good_fc() -> String {
    fc_params(APP_ID, CHALLENGE, FACET)
}

fn parsed(op: Op, message: &Value) -> Response {
    parse_response(message, op).unwrap()
}

fn register_with(fc: &str, policy: &Policy) -> Result<Vec<VerifiedKey>, UafRefusal> {
    let authr = Authenticator::new();
    let response = parsed(Op::Reg, &response("Reg", fc, &[authr.register(fc)]));
    verify_registration(&response, &exp(policy))
}

fn authenticate(
    authr: &Authenticator,
    fc: &str,
    counter: u32,
    stored_counter: u32,
    signed: Option<&[u8]>,
    expected: Option<&[u8]>,
) -> Result<VerifiedAuthentication, UafRefusal> {
    let response = parsed(
        Op::Auth,
        &response("Auth", fc, &[authr.authenticate(fc, counter, signed)]),
    );
    let policy = Policy::any();
    let lookup = |aaid: &str, key_id: &[u8]| {
        (aaid == AAID && key_id == authr.fields.key_id.as_slice())
            .then(|| authr.stored(stored_counter))
    };
    verify_authentication(&response, &exp(&policy), &lookup, expected)
}

#[test]
fn a_surrogate_registration_is_verified_into_its_key() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(Op::Reg, &response("Reg", &fc, &[authr.register(&fc)]));
    let policy = Policy::any();
    let keys = verify_registration(&response, &exp(&policy)).unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key.aaid, AAID);
    assert_eq!(key.key_id, authr.fields.key_id);
    assert_eq!(key.public_key, authr.key.point());
    assert_eq!((key.sign_alg, key.key_encoding), (0x0001, 0x0100));
    assert!(matches!(key.attestation, Attestation::Surrogate { .. }));
}

#[test]
fn a_basic_full_registration_returns_its_certificates_unjudged() {
    let authr = Authenticator::new();
    let (attestation_key, cert) = attestation_cert();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    let assertion = basic_full_assertion(&fields, &attestation_key, &cert);
    let response = parsed(Op::Reg, &response("Reg", &fc, &[assertion]));
    let policy = Policy::any();
    let keys = verify_registration(&response, &exp(&policy)).unwrap();
    let Attestation::BasicFull { certificates, .. } = &keys[0].attestation else {
        panic!("not basic full");
    };
    assert_eq!(certificates, &vec![cert]);
}

#[test]
fn a_basic_full_attestation_signed_by_another_key_is_refused() {
    let authr = Authenticator::new();
    let (_, cert) = attestation_cert();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    let assertion = basic_full_assertion(&fields, &P256::generate(), &cert);
    let response = parsed(Op::Reg, &response("Reg", &fc, &[assertion]));
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableAttestation,
        "attestationSignature",
    );
}

#[test]
fn a_surrogate_attestation_signed_by_another_key_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    let assertion = surrogate_assertion(&fields, &P256::generate());
    let response = parsed(Op::Reg, &response("Reg", &fc, &[assertion]));
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableAttestation,
        "attestationSignature",
    );
}

#[test]
fn an_attestation_certificate_that_is_not_x509_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    let assertion = basic_full_assertion(&fields, &authr.key, b"not a certificate");
    let response = parsed(Op::Reg, &response("Reg", &fc, &[assertion]));
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableAttestation,
        "attestationCertificates",
    );
}

#[test]
fn a_registration_for_another_app_id_is_refused() {
    let policy = Policy::any();
    refused(
        register_with(
            &fc_params("https://evil.example/facets", CHALLENGE, FACET),
            &policy,
        ),
        StatusCode::UnacceptableContent,
        "appId",
    );
}

#[test]
fn a_header_app_id_other_than_the_server_s_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let mut message = response("Reg", &fc, &[authr.register(&fc)]);
    message[0]["header"]["appID"] = json!("https://evil.example/facets");
    let response = parsed(Op::Reg, &message);
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableContent,
        "appId",
    );
}

#[test]
fn a_registration_for_another_challenge_is_refused_as_an_invalid_request() {
    let policy = Policy::any();
    refused(
        register_with(&fc_params(APP_ID, "b3RoZXI", FACET), &policy),
        StatusCode::RequestInvalid,
        "challenge",
    );
}

#[test]
fn a_facet_outside_the_app_id_s_origin_is_refused() {
    let policy = Policy::any();
    for facet in [
        "https://evil.example",
        "https://example.org:8443",
        "http://example.org",
        "https://example.org/",
        "android:apk-key-hash:abc",
    ] {
        refused(
            register_with(&fc_params(APP_ID, CHALLENGE, facet), &policy),
            StatusCode::UnacceptableContent,
            "facetId",
        );
    }
}

#[test]
fn a_trusted_facet_list_decides_which_facets_may_answer() {
    let authr = Authenticator::new();
    let facet = "android:apk-key-hash:bE0f1WtRJrZv/C0y9CM73bAUqiI";
    let fc = fc_params(APP_ID, CHALLENGE, facet);
    let response = parsed(Op::Reg, &response("Reg", &fc, &[authr.register(&fc)]));
    let policy = Policy::any();
    let facets = vec![FACET.to_string(), facet.to_string()];
    let mut expectations = exp(&policy);
    expectations.trusted_facets = &facets;
    verify_registration(&response, &expectations).unwrap();
    let others = vec![FACET.to_string()];
    expectations.trusted_facets = &others;
    refused(
        verify_registration(&response, &expectations),
        StatusCode::UnacceptableContent,
        "facetId",
    );
}

#[test]
fn a_facet_equal_to_the_app_id_is_trusted_without_a_list() {
    let policy = Policy::any();
    register_with(&fc_params(APP_ID, CHALLENGE, APP_ID), &policy).unwrap();
}

#[test]
fn a_channel_binding_with_members_that_are_not_strings_is_refused() {
    let authr = Authenticator::new();
    let fc = b64url(
        json!({
            "appID": APP_ID, "challenge": CHALLENGE, "facetID": FACET,
            "channelBinding": { "tlsUnique": 5 },
        })
        .to_string()
        .as_bytes(),
    );
    let response = parsed(Op::Reg, &response("Reg", &fc, &[authr.register(&fc)]));
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::ChannelBindingRefused,
        "channelBinding",
    );
}

#[test]
fn an_absent_or_string_channel_binding_is_accepted() {
    let policy = Policy::any();
    for binding in [None, Some(json!({ "tlsServerCertificate": "MIIB" }))] {
        let mut params = json!({ "appID": APP_ID, "challenge": CHALLENGE, "facetID": FACET });
        if let Some(binding) = binding {
            params["channelBinding"] = binding;
        }
        register_with(&b64url(params.to_string().as_bytes()), &policy).unwrap();
    }
}

#[test]
fn a_final_challenge_hash_of_other_fc_params_is_refused() {
    let authr = Authenticator::new();
    // The same JSON with other whitespace is another string, so another hash: the hash is of
    // fcParams as sent, never of its decoded meaning.
    let respaced = b64url(
        format!(
            "{{\"appID\": \"{APP_ID}\", \"challenge\": \"{CHALLENGE}\", \"facetID\": \"{FACET}\", \"channelBinding\": {{}}}}"
        )
        .as_bytes(),
    );
    let assertion = authr.register(&good_fc());
    let response = parsed(Op::Reg, &response("Reg", &respaced, &[assertion]));
    assert_eq!(response.final_challenge.challenge, CHALLENGE);
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableContent,
        "finalChallengeHash",
    );
}

#[test]
fn an_aaid_the_policy_does_not_accept_is_refused() {
    let only_other = Policy {
        accepted: vec![vec![MatchCriteria {
            aaid: Some(vec!["ABCD#0001".into()]),
            ..MatchCriteria::default()
        }]],
        disallowed: Vec::new(),
    };
    refused(
        register_with(&good_fc(), &only_other),
        StatusCode::UnacceptableAuthenticator,
        "policy",
    );
    let disallowed_vendor = Policy {
        disallowed: vec![MatchCriteria {
            vendor_id: Some(vec!["ffff".into()]),
            ..MatchCriteria::default()
        }],
        ..Policy::any()
    };
    refused(
        register_with(&good_fc(), &disallowed_vendor),
        StatusCode::UnacceptableAuthenticator,
        "policy",
    );
}

#[test]
fn a_key_the_policy_disallows_by_key_id_is_refused() {
    let authr = Authenticator::new();
    let policy = Policy {
        disallowed: vec![MatchCriteria {
            aaid: Some(vec![AAID.into()]),
            key_ids: Some(vec![b64url(&authr.fields.key_id)]),
            ..MatchCriteria::default()
        }],
        ..Policy::any()
    };
    assert!(
        policy.allows_aaid(AAID),
        "a KeyID entry disallows the key, not the AAID"
    );
    refused(
        register_with(&good_fc(), &policy),
        StatusCode::UnacceptableAuthenticator,
        "policy",
    );
}

#[test]
fn two_assertions_for_the_same_key_are_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let assertion = authr.register(&fc);
    let response = parsed(
        Op::Reg,
        &response("Reg", &fc, &[assertion.clone(), assertion]),
    );
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::BadRequest,
        "keyId",
    );
}

#[test]
fn a_registration_with_a_key_off_its_curve_is_refused_as_an_unacceptable_key() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    fields.public_key[64] ^= 1;
    let response = parsed(
        Op::Reg,
        &response("Reg", &fc, &[surrogate_assertion(&fields, &authr.key)]),
    );
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableKey,
        "publicKey",
    );
}

#[test]
fn a_registration_with_an_unknown_algorithm_is_refused_as_an_unacceptable_algorithm() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let mut fields = authr.fields.clone();
    fields.fch = sha256(fc.as_bytes());
    fields.sign_alg = 0x0007;
    let response = parsed(
        Op::Reg,
        &response("Reg", &fc, &[surrogate_assertion(&fields, &authr.key)]),
    );
    let policy = Policy::any();
    refused(
        verify_registration(&response, &exp(&policy)),
        StatusCode::UnacceptableAlgorithm,
        "signatureAlgorithm",
    );
}

#[test]
fn an_authentication_is_verified_and_returns_the_new_counter() {
    let authr = Authenticator::new();
    let verified = authenticate(&authr, &good_fc(), 5, 4, None, None).unwrap();
    assert_eq!(verified.aaid, AAID);
    assert_eq!(verified.key_id, authr.fields.key_id);
    assert_eq!(verified.sign_counter, 5);
    assert_eq!(verified.authentication_mode, 1);
    assert!(verified.transaction_content_hash.is_empty());
}

#[test]
fn counters_that_both_stay_zero_are_accepted() {
    let authr = Authenticator::new();
    authenticate(&authr, &good_fc(), 0, 0, None, None).unwrap();
}

#[test]
fn a_counter_that_did_not_increase_is_refused() {
    let authr = Authenticator::new();
    for (received, stored) in [(4, 4), (3, 4), (0, 4)] {
        refused(
            authenticate(&authr, &good_fc(), received, stored, None, None),
            StatusCode::UnacceptableContent,
            "signCounter",
        );
    }
}

#[test]
fn an_unknown_key_is_refused_with_unknown_key_id() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[authr.authenticate(&fc, 1, None)]),
    );
    let policy = Policy::any();
    refused(
        verify_authentication(&response, &exp(&policy), &|_, _| None, None),
        StatusCode::UnknownKeyId,
        "keyId",
    );
}

#[test]
fn an_authentication_signed_by_another_key_is_refused() {
    let authr = Authenticator::new();
    let impostor = Authenticator {
        key: P256::generate(),
        fields: authr.fields.clone(),
    };
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[impostor.authenticate(&fc, 1, None)]),
    );
    let policy = Policy::any();
    refused(
        verify_authentication(
            &response,
            &exp(&policy),
            &|_, _| Some(authr.stored(0)),
            None,
        ),
        StatusCode::UnacceptableContent,
        "signature",
    );
}

/// A registration names the attestation signature's algorithm (basic full: the attestation
/// key's), so the key's own algorithm may differ from what was stored — as long as it fits the
/// stored key.
#[test]
fn an_authentication_signed_with_the_keys_own_algorithm_verifies_whatever_the_registration_named() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[authr.authenticate(&fc, 1, None)]),
    );
    let policy = Policy::any();
    let registered_der = |_: &str, _: &[u8]| {
        Some(StoredKey {
            sign_alg: 0x0002,
            ..authr.stored(0)
        })
    };
    assert!(verify_authentication(&response, &exp(&policy), &registered_der, None).is_ok());
}

#[test]
fn an_authentication_whose_algorithm_does_not_fit_the_stored_key_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[authr.authenticate(&fc, 1, None)]),
    );
    let policy = Policy::any();
    let rsa_key = |_: &str, _: &[u8]| {
        Some(StoredKey {
            key_encoding: 0x0102,
            ..authr.stored(0)
        })
    };
    let refused_with = verify_authentication(&response, &exp(&policy), &rsa_key, None)
        .expect_err("an ECDSA signature cannot come from an RSA key");
    assert!(
        matches!(
            refused_with.status,
            StatusCode::UnacceptableKey | StatusCode::UnacceptableAlgorithm
        ),
        "{refused_with:?}"
    );
}

#[test]
fn an_authentication_for_another_challenge_app_or_facet_is_refused() {
    let authr = Authenticator::new();
    for (fc, status, check) in [
        (
            fc_params(APP_ID, "b3RoZXI", FACET),
            StatusCode::RequestInvalid,
            "challenge",
        ),
        (
            fc_params("https://evil.example/facets", CHALLENGE, FACET),
            StatusCode::UnacceptableContent,
            "appId",
        ),
        (
            fc_params(APP_ID, CHALLENGE, "https://evil.example"),
            StatusCode::UnacceptableContent,
            "facetId",
        ),
    ] {
        refused(authenticate(&authr, &fc, 1, 0, None, None), status, check);
    }
}

#[test]
fn an_authentication_whose_hash_is_of_other_fc_params_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let assertion = authr.authenticate(&fc_params(APP_ID, CHALLENGE, APP_ID), 1, None);
    let response = parsed(Op::Auth, &response("Auth", &fc, &[assertion]));
    let policy = Policy::any();
    refused(
        verify_authentication(
            &response,
            &exp(&policy),
            &|_, _| Some(authr.stored(0)),
            None,
        ),
        StatusCode::UnacceptableContent,
        "finalChallengeHash",
    );
}

#[test]
fn an_authentication_by_an_aaid_the_policy_refuses_is_refused() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[authr.authenticate(&fc, 1, None)]),
    );
    let policy = Policy {
        accepted: vec![vec![MatchCriteria {
            aaid: Some(vec!["ABCD#0001".into()]),
            ..MatchCriteria::default()
        }]],
        disallowed: Vec::new(),
    };
    refused(
        verify_authentication(
            &response,
            &exp(&policy),
            &|_, _| Some(authr.stored(0)),
            None,
        ),
        StatusCode::UnacceptableAuthenticator,
        "policy",
    );
}

const PAYMENT: &[u8] = b"Pay 10 EUR to Example Shop";

#[test]
fn a_confirmed_transaction_is_verified() {
    let authr = Authenticator::new();
    let verified = authenticate(&authr, &good_fc(), 1, 0, Some(PAYMENT), Some(PAYMENT)).unwrap();
    assert_eq!(verified.authentication_mode, 2);
    assert_eq!(verified.transaction_content_hash, sha256(PAYMENT));
}

#[test]
fn a_confirmation_of_another_transaction_is_refused() {
    let authr = Authenticator::new();
    refused(
        authenticate(
            &authr,
            &good_fc(),
            1,
            0,
            Some(b"Pay 1000 EUR to Mallory"),
            Some(PAYMENT),
        ),
        StatusCode::UnacceptableContent,
        "transactionContentHash",
    );
}

#[test]
fn a_user_verification_where_a_transaction_was_to_be_confirmed_is_refused() {
    let authr = Authenticator::new();
    refused(
        authenticate(&authr, &good_fc(), 1, 0, None, Some(PAYMENT)),
        StatusCode::UnacceptableContent,
        "authenticationMode",
    );
}

#[test]
fn a_transaction_confirmation_nobody_asked_for_is_refused() {
    let authr = Authenticator::new();
    refused(
        authenticate(&authr, &good_fc(), 1, 0, Some(PAYMENT), None),
        StatusCode::UnacceptableContent,
        "authenticationMode",
    );
    // Mode 0x01 with a transaction hash all the same.
    let mut fields = authr.fields.clone();
    let fc = good_fc();
    fields.fch = sha256(fc.as_bytes());
    fields.sign_counter = 1;
    fields.tch = sha256(PAYMENT);
    let response = parsed(
        Op::Auth,
        &response("Auth", &fc, &[auth_assertion(&fields, &authr.key)]),
    );
    let policy = Policy::any();
    refused(
        verify_authentication(
            &response,
            &exp(&policy),
            &|_, _| Some(authr.stored(0)),
            None,
        ),
        StatusCode::UnacceptableContent,
        "transactionContentHash",
    );
}

#[test]
fn two_assertions_are_refused_by_verify_authentication_and_checked_by_the_plural() {
    let (a, b) = (Authenticator::new(), Authenticator::new());
    let mut b = b;
    b.fields.aaid = b"EEEE#0002".to_vec();
    let fc = good_fc();
    let response = parsed(
        Op::Auth,
        &response(
            "Auth",
            &fc,
            &[a.authenticate(&fc, 1, None), b.authenticate(&fc, 1, None)],
        ),
    );
    let policy = Policy::any();
    let lookup = |aaid: &str, _: &[u8]| {
        Some(if aaid == AAID {
            a.stored(0)
        } else {
            b.stored(0)
        })
    };
    refused(
        verify_authentication(&response, &exp(&policy), &lookup, None),
        StatusCode::BadRequest,
        "assertionCount",
    );
    let all = verify_authentications(&response, &exp(&policy), &lookup, None).unwrap();
    assert_eq!(all.len(), 2);
}

#[test]
fn a_registration_response_is_not_verified_as_an_authentication() {
    let authr = Authenticator::new();
    let fc = good_fc();
    let response = parsed(Op::Reg, &response("Reg", &fc, &[authr.register(&fc)]));
    let policy = Policy::any();
    refused(
        verify_authentication(
            &response,
            &exp(&policy),
            &|_, _| Some(authr.stored(0)),
            None,
        ),
        StatusCode::BadRequest,
        "op",
    );
}
