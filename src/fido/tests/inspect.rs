//! Describing responses for the `fidoflow verify` tool: every part of a packed registration with
//! its chain, a compound statement's inner formats, an authentication response, and what cannot
//! be decoded described as an error.

use serde_json::json;

use super::*;
use crate::fido::inspect::{describe_attestation, describe_client_data, describe_response};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_packed_registration_is_described_with_its_client_data_authenticator_data_and_chain() {
    let pki = Pki::new();
    let reg = pki.packed();
    let d = describe_response(&reg.json());

    assert_eq!(d["clientData"]["type"], "webauthn.create");
    assert_eq!(d["clientData"]["origin"], ORIGIN);

    let a = &d["authenticatorData"];
    assert_eq!(a["rpIdHash"], hex(&sha256(RP_ID.as_bytes())));
    assert_eq!(a["aaguid"], "11111111-1111-1111-1111-111111111111");
    assert_eq!(a["credentialId"], b64url(&reg.credential_id));
    assert_eq!(a["credentialPublicKey"]["alg"], -7);
    assert_eq!(a["signCount"], 0);
    assert_eq!(a["flags"]["value"], "0x45");

    let s = &d["attestation"];
    assert_eq!(s["fmt"], "packed");
    assert_eq!(s["statementMembers"], json!(["alg", "sig", "x5c"]));
    assert_eq!(s["alg"], -7);
    let certs = s["certificates"].as_array().expect("a described chain");
    assert_eq!(certs.len(), 2);
    let leaf = &certs[0];
    assert!(leaf["subject"]
        .as_str()
        .unwrap()
        .contains("CN=Test Authenticator"));
    assert!(leaf["issuer"]
        .as_str()
        .unwrap()
        .contains("CN=Test Intermediate"));
    assert!(certs[1]["issuer"]
        .as_str()
        .unwrap()
        .contains("CN=Test Root"));
    let serial = leaf["serial"].as_str().unwrap();
    assert!(!serial.is_empty() && serial.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(leaf["notBefore"], "2024-01-01T00:00:00Z");
    assert_eq!(leaf["notAfter"], "2030-01-01T00:00:00Z");
}

#[test]
fn the_aaguid_is_written_in_its_dashed_form_from_its_hex_digits() {
    let mut reg = Reg::new();
    reg.aaguid = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96,
        0x87,
    ];
    let d = describe_response(&reg.json());
    assert_eq!(
        d["authenticatorData"]["aaguid"],
        "01234567-89ab-cdef-f0e1-d2c3b4a59687"
    );
    assert_eq!(d["attestation"]["fmt"], "none");
    assert_eq!(d["attestation"]["statementMembers"], json!([]));
    assert!(d["attestation"].get("certificates").is_none());
}

#[test]
fn a_compound_statement_is_described_with_each_inner_format() {
    let inner =
        |fmt: &str, stmt: Cbor| Cbor::Map(vec![(text("fmt"), text(fmt)), (text("attStmt"), stmt)]);
    let reg = Reg::with(Att::Raw {
        fmt: "compound".into(),
        stmt: Cbor::Array(vec![
            inner(
                "packed",
                Cbor::Map(vec![
                    (text("alg"), int(-7)),
                    (text("sig"), Cbor::Bytes(vec![1])),
                ]),
            ),
            inner("tpm", Cbor::Map(vec![(text("ver"), text("2.0"))])),
            Cbor::Map(vec![(text("fmt"), int(3))]),
        ]),
    });
    let d = describe_attestation(&reg.attestation_object());
    assert_eq!(d["fmt"], "compound");
    let inner = d["statements"].as_array().unwrap();
    assert_eq!(inner.len(), 3);
    assert_eq!(inner[0]["fmt"], "packed");
    assert_eq!(inner[0]["alg"], -7);
    assert_eq!(inner[1]["fmt"], "tpm");
    assert_eq!(inner[1]["ver"], "2.0");
    assert_eq!(inner[2], json!({"fmt": "?", "error": "no attStmt"}));
}

#[test]
fn an_x5c_that_is_no_array_or_holds_no_certificate_is_described_as_an_error() {
    let raw = |x5c: Cbor| {
        Reg::with(Att::Raw {
            fmt: "packed".into(),
            stmt: Cbor::Map(vec![(text("x5c"), x5c)]),
        })
        .attestation_object()
    };
    let d = describe_attestation(&raw(Cbor::Bytes(vec![1, 2, 3])));
    assert_eq!(d["certificates"]["error"], "x5c is not an array");
    let d = describe_attestation(&raw(Cbor::Array(vec![Cbor::Bytes(vec![0x30, 0x00])])));
    assert_eq!(
        d["certificates"]["error"],
        "an x5c entry is not an X.509 certificate"
    );
}

#[test]
fn an_attestation_object_without_a_text_fmt_is_described_as_an_error() {
    let object = cbor(&Cbor::Map(vec![(text("fmt"), int(1))]));
    assert_eq!(
        describe_attestation(&object),
        json!({"error": "the attestation object has no fmt"})
    );
    let object = cbor(&Cbor::Map(vec![(text("fmt"), text("none"))]));
    assert_eq!(
        describe_attestation(&object),
        json!({"fmt": "none", "error": "no attStmt"})
    );
    assert_eq!(
        describe_attestation(&[0xff]),
        json!({"error": "the attestation object is not one CBOR item"})
    );
}

#[test]
fn an_authentication_response_is_described_without_an_attestation() {
    let reg = Reg {
        flags: UP | UV,
        sign_count: 7,
        ..Reg::new()
    };
    let credential = json!({
        "response": {
            "clientDataJSON": b64url(&reg.client_data()),
            "authenticatorData": b64url(&reg.auth_data()),
        }
    });
    let d = describe_response(&credential);
    assert_eq!(d["attestation"], Value::Null);
    assert_eq!(d["clientData"]["challenge"], b64url(&CHALLENGE));
    assert_eq!(d["authenticatorData"]["signCount"], 7);
    assert_eq!(d["authenticatorData"]["length"], 37);
    assert!(d["authenticatorData"].get("aaguid").is_none());
}

#[test]
fn client_data_that_is_not_json_is_described_as_an_error() {
    let d = describe_client_data(b"{not json");
    assert!(d["error"].as_str().unwrap().starts_with("not JSON: "));
    let d = describe_response(&json!({}));
    assert_eq!(
        d["clientData"],
        json!({"error": "the response member is missing"})
    );
}
