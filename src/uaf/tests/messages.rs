//! The protocol messages: the requests' shape and the response parser's refusals.

use serde_json::{json, Value};

use super::*;
use crate::uaf::messages::{parse_response_accepting_v1_0, MAX_ASSERTIONS, MAX_MESSAGE_BYTES};
use crate::uaf::{
    authentication_request, deregistration_request, parse_response, registration_request,
    MatchCriteria, Op,
};

/// A change that breaks a good message.
type Breaks = Box<dyn Fn(&mut Value)>;

fn good() -> Value {
    response(
        "Reg",
        &fc_params(APP_ID, CHALLENGE, FACET),
        &[vec![1, 2, 3]],
    )
}

#[test]
fn a_registration_request_has_the_protocol_s_shape() {
    let request = registration_request(APP_ID, "state", CHALLENGE, "alice", &Policy::any());
    assert_eq!(
        request,
        json!([{
            "header": {
                "upv": { "major": 1, "minor": 1 },
                "op": "Reg",
                "appID": APP_ID,
                "serverData": "state",
            },
            "challenge": CHALLENGE,
            "username": "alice",
            "policy": { "accepted": [[{ "assertionSchemes": ["UAFV1TLV"] }]] },
        }])
    );
}

#[test]
fn an_authentication_request_carries_the_transaction_text_base64url() {
    let request = authentication_request(APP_ID, "", CHALLENGE, &Policy::any(), Some("Pay 10 €"));
    let object = &request[0];
    assert_eq!(object["header"]["op"], "Auth");
    assert!(object["header"].get("serverData").is_none());
    assert_eq!(
        object["transaction"],
        json!([{ "contentType": "text/plain", "content": b64url("Pay 10 €".as_bytes()) }])
    );
    let plain = authentication_request(APP_ID, "s", CHALLENGE, &Policy::any(), None);
    assert!(plain[0].get("transaction").is_none());
}

#[test]
fn a_deregistration_request_lists_aaids_and_key_ids() {
    let request = deregistration_request(
        APP_ID,
        &[(AAID.to_string(), vec![1; 32]), (String::new(), Vec::new())],
    );
    assert_eq!(request[0]["header"]["op"], "Dereg");
    assert_eq!(
        request[0]["authenticators"],
        json!([{ "aaid": AAID, "keyID": b64url(&[1; 32]) }, { "aaid": "", "keyID": "" }])
    );
}

#[test]
fn match_criteria_use_the_specification_s_member_names() {
    let criteria = MatchCriteria {
        aaid: Some(vec![AAID.into()]),
        vendor_id: Some(vec!["FFFF".into()]),
        key_ids: Some(vec!["a2V5".into()]),
        user_verification: Some(2),
        key_protection: Some(4),
        attachment_hint: Some(1),
        authentication_algorithms: Some(vec![1]),
        assertion_schemes: Some(vec!["UAFV1TLV".into()]),
        ..MatchCriteria::default()
    };
    let value = serde_json::to_value(&criteria).unwrap();
    for member in [
        "aaid",
        "vendorID",
        "keyIDs",
        "userVerification",
        "keyProtection",
        "attachmentHint",
        "authenticationAlgorithms",
        "assertionSchemes",
    ] {
        assert!(value.get(member).is_some(), "{member} in {value}");
    }
    assert!(value.get("tcDisplay").is_none());
    let back: MatchCriteria = serde_json::from_value(value).unwrap();
    assert_eq!(back, criteria);
}

#[test]
fn a_well_formed_response_parses() {
    let response = parse_response(&good(), Op::Reg).unwrap();
    assert_eq!(response.op, Op::Reg);
    assert_eq!(response.upv, (1, 1));
    assert_eq!(response.app_id, APP_ID);
    assert_eq!(response.final_challenge.app_id, APP_ID);
    assert_eq!(response.final_challenge.challenge, CHALLENGE);
    assert_eq!(response.final_challenge.facet_id, FACET);
    assert_eq!(response.final_challenge.channel_binding, json!({}));
    assert_eq!(response.assertions, vec![vec![1, 2, 3]]);
}

#[test]
fn malformed_responses_are_refused_as_bad_requests_with_their_check() {
    let cases: Vec<(&str, Breaks)> = vec![
        ("message", Box::new(|m| *m = json!([]))),
        (
            "message",
            Box::new(|m| *m = json!([m[0].clone(), m[0].clone()])),
        ),
        ("message", Box::new(|m| *m = m[0].clone())),
        ("header", Box::new(|m| m[0]["header"] = json!("Reg"))),
        (
            "upv",
            Box::new(|m| m[0]["header"]["upv"] = json!({ "major": 1, "minor": 2 })),
        ),
        (
            "upv",
            Box::new(|m| m[0]["header"]["upv"] = json!({ "major": 1, "minor": 0 })),
        ),
        (
            "upv",
            Box::new(|m| m[0]["header"]["upv"] = json!({ "major": "1" })),
        ),
        ("op", Box::new(|m| m[0]["header"]["op"] = json!("Auth"))),
        ("op", Box::new(|m| m[0]["header"]["op"] = json!("Login"))),
        ("op", Box::new(|m| m[0]["header"]["op"] = json!(1))),
        ("appId", Box::new(|m| m[0]["header"]["appID"] = json!(1))),
        ("fcParams", Box::new(|m| m[0]["fcParams"] = json!("***"))),
        (
            "fcParams",
            Box::new(|m| m[0]["fcParams"] = json!(b64url(b"[1]"))),
        ),
        (
            "fcParams",
            Box::new(|m| m[0]["fcParams"] = json!(b64url(b"{\"appID\":\"a\"}"))),
        ),
        (
            "channelBinding",
            Box::new(|m| {
                m[0]["fcParams"] = json!(b64url(
                    json!({"appID":"a","challenge":"c","facetID":"f","channelBinding":"x"})
                        .to_string()
                        .as_bytes()
                ))
            }),
        ),
        (
            "fcParams",
            Box::new(|m| {
                m[0].as_object_mut()
                    .unwrap()
                    .remove("fcParams")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        ("assertions", Box::new(|m| m[0]["assertions"] = json!([]))),
        ("assertions", Box::new(|m| m[0]["assertions"] = json!("x"))),
        (
            "assertions",
            Box::new(|m| m[0]["assertions"][0]["assertion"] = json!("*")),
        ),
        (
            "assertions",
            Box::new(|m| m[0]["assertions"][0]["assertionScheme"] = json!("UAFV2TLV")),
        ),
        (
            "assertionScheme",
            Box::new(|m| {
                m[0]["assertions"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("assertionScheme");
            }),
        ),
        (
            "assertions",
            Box::new(|m| {
                m[0]["assertions"] = json!(vec![m[0]["assertions"][0].clone(); MAX_ASSERTIONS + 1])
            }),
        ),
        (
            "messageSize",
            Box::new(|m| m[0]["exts"] = json!("x".repeat(MAX_MESSAGE_BYTES))),
        ),
    ];
    for (check, breaks) in cases {
        let mut message = good();
        breaks(&mut message);
        refused(
            parse_response(&message, Op::Reg),
            StatusCode::BadRequest,
            check,
        );
    }
}

#[test]
fn upv_1_0_is_accepted_only_by_the_variant_that_says_so() {
    let mut message = good();
    message[0]["header"]["upv"] = json!({ "major": 1, "minor": 0 });
    let response = parse_response_accepting_v1_0(&message, Op::Reg).unwrap();
    assert_eq!(response.upv, (1, 0));
    refused(
        parse_response(&message, Op::Reg),
        StatusCode::BadRequest,
        "upv",
    );
}

#[test]
fn padded_fc_params_and_assertions_are_accepted_and_kept_as_sent() {
    let mut message = good();
    let padded = format!(
        "{}==",
        b64url(b"{\"appID\":\"a\",\"challenge\":\"c\",\"facetID\":\"f\"}x")
    );
    // Not a multiple of four with its padding: refused.
    message[0]["fcParams"] = json!(padded);
    refused(
        parse_response(&message, Op::Reg),
        StatusCode::BadRequest,
        "fcParams",
    );
    let json = b"{\"appID\":\"a\",\"challenge\":\"c\",\"facetID\":\"f\"}";
    let mut padded = b64url(json);
    while !padded.len().is_multiple_of(4) {
        padded.push('=');
    }
    message[0]["fcParams"] = json!(padded);
    message[0]["assertions"][0]["assertion"] = json!("AQID");
    let response = parse_response(&message, Op::Reg).unwrap();
    assert_eq!(response.fc_params, padded);
    assert_eq!(response.final_challenge.channel_binding, Value::Null);
}

#[test]
fn assertions_of_other_schemes_are_skipped() {
    let mut message = good();
    let tlv = message[0]["assertions"][0].clone();
    message[0]["assertions"] = json!([{ "assertionScheme": "WAV1CBOR", "assertion": "AQID" }, tlv]);
    let response = parse_response(&message, Op::Reg).unwrap();
    assert_eq!(response.assertions.len(), 1);
}

#[test]
fn a_deregistration_has_no_response_to_parse() {
    let mut message = good();
    message[0]["header"]["op"] = json!("Dereg");
    refused(
        parse_response(&message, Op::Dereg),
        StatusCode::BadRequest,
        "op",
    );
}

#[test]
fn the_any_policy_allows_every_aaid_and_a_named_policy_only_its_own() {
    assert!(Policy::any().allows_aaid("ABCD#ABCD"));
    let named = Policy {
        accepted: vec![
            vec![MatchCriteria {
                aaid: Some(vec!["abcd#0001".into()]),
                ..MatchCriteria::default()
            }],
            vec![MatchCriteria {
                vendor_id: Some(vec!["1234".into()]),
                ..MatchCriteria::default()
            }],
        ],
        disallowed: vec![MatchCriteria {
            aaid: Some(vec!["1234#0009".into()]),
            ..MatchCriteria::default()
        }],
    };
    assert!(named.allows_aaid("ABCD#0001"));
    assert!(named.allows_aaid("1234#0001"));
    assert!(!named.allows_aaid("1234#0009"));
    assert!(!named.allows_aaid("ABCD#0002"));
}

#[test]
fn status_codes_round_trip_through_their_numbers() {
    let all = [
        (StatusCode::Ok, 1200),
        (StatusCode::Accepted, 1202),
        (StatusCode::BadRequest, 1400),
        (StatusCode::Unauthorized, 1401),
        (StatusCode::Forbidden, 1403),
        (StatusCode::NotFound, 1404),
        (StatusCode::RequestTimeout, 1408),
        (StatusCode::UnknownAaid, 1480),
        (StatusCode::UnknownKeyId, 1481),
        (StatusCode::ChannelBindingRefused, 1490),
        (StatusCode::RequestInvalid, 1491),
        (StatusCode::UnacceptableAuthenticator, 1492),
        (StatusCode::RevokedAuthenticator, 1493),
        (StatusCode::UnacceptableKey, 1494),
        (StatusCode::UnacceptableAlgorithm, 1495),
        (StatusCode::UnacceptableAttestation, 1496),
        (StatusCode::UnacceptableClientCapabilities, 1497),
        (StatusCode::UnacceptableContent, 1498),
        (StatusCode::InternalServerError, 1500),
    ];
    for (status, code) in all {
        assert_eq!(status.code(), code);
        assert_eq!(StatusCode::from_code(code), Some(status));
        assert!(!status.description().is_empty());
    }
    assert_eq!(StatusCode::UnknownKeyId.description(), "Unknown KeyID");
    assert_eq!(StatusCode::from_code(1499), None);
}
