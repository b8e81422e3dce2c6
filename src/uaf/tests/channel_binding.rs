//! The channel binding check (`channel_binding.rs`): shape only without certificates; with the
//! relying party's TLS server certificates, `tlsServerCertificate` and `serverEndPoint` must
//! name one of them, and `required` wants one of the two.

use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
use serde_json::{json, Value};

use crate::domain::b64url;
use crate::uaf::channel_binding::{check_channel_binding, ChannelBindingPolicy};
use crate::uaf::StatusCode;

/// Stand-ins for DER certificates: the check compares bytes and hashes, nothing else.
fn certs() -> Vec<Vec<u8>> {
    vec![b"rp certificate".to_vec(), b"next rp certificate".to_vec()]
}

fn check(binding: Value, certificates: &[Vec<u8>], required: bool) -> Result<(), String> {
    check_channel_binding(
        &binding,
        &ChannelBindingPolicy {
            server_certificates: certificates,
            required,
        },
    )
    .map_err(|r| {
        assert_eq!(r.status, StatusCode::ChannelBindingRefused, "{r:?}");
        assert_eq!(r.check, "channelBinding");
        r.detail
    })
}

#[test]
fn without_certificates_only_the_shape_is_checked() {
    for ok in [
        Value::Null,
        json!({}),
        json!({"serverEndPoint": "anything", "tlsUnique": "x"}),
    ] {
        assert_eq!(check(ok.clone(), &[], false), Ok(()), "{ok}");
    }
    for bad in [
        json!("x"),
        json!([]),
        json!({"tlsUnique": 5}),
        json!({"cid_pubkey": {}}),
    ] {
        let why = check(bad.clone(), &[], false).unwrap_err();
        assert!(why.contains("not an object of strings"), "{bad}: {why}");
        // Malformed is malformed whatever the policy.
        assert!(check(bad, &certs(), true).is_err());
    }
}

#[test]
fn the_certificate_or_any_sha2_hash_of_a_configured_one_is_accepted() {
    let certs = certs();
    for der in &certs {
        assert_eq!(
            check(json!({"tlsServerCertificate": b64url(der)}), &certs, true),
            Ok(())
        );
        for alg in [&SHA256, &SHA384, &SHA512] {
            let hash = b64url(digest(alg, der).as_ref());
            assert_eq!(check(json!({"serverEndPoint": hash}), &certs, true), Ok(()));
        }
    }
    // Padding and the two members together.
    let padded = format!("{}=", b64url(digest(&SHA256, &certs[0]).as_ref()));
    assert_eq!(
        check(
            json!({"serverEndPoint": padded, "tlsServerCertificate": b64url(&certs[1]), "tlsUnique": "u"}),
            &certs,
            true
        ),
        Ok(())
    );
}

#[test]
fn another_certificate_or_its_hash_is_refused() {
    let certs = certs();
    let proxy = b"a proxy's certificate".to_vec();
    let why = check(
        json!({"tlsServerCertificate": b64url(&proxy)}),
        &certs,
        false,
    )
    .unwrap_err();
    assert!(
        why.starts_with("tlsServerCertificate is not the relying party's"),
        "{why}"
    );
    for hash in [
        digest(&SHA256, &proxy).as_ref().to_vec(),
        digest(&SHA1_FOR_LEGACY_USE_ONLY, &certs[0])
            .as_ref()
            .to_vec(),
        certs[0].clone(),
    ] {
        let why = check(json!({"serverEndPoint": b64url(&hash)}), &certs, false).unwrap_err();
        assert!(why.starts_with("serverEndPoint is not the hash"), "{why}");
    }
    // One good member does not excuse a bad one.
    let why = check(
        json!({
            "serverEndPoint": b64url(digest(&SHA256, &certs[0]).as_ref()),
            "tlsServerCertificate": b64url(&proxy),
        }),
        &certs,
        false,
    )
    .unwrap_err();
    assert!(why.starts_with("tlsServerCertificate"), "{why}");
    let why = check(
        json!({
            "serverEndPoint": b64url(digest(&SHA256, &proxy).as_ref()),
            "tlsServerCertificate": b64url(&certs[0]),
        }),
        &certs,
        false,
    )
    .unwrap_err();
    assert!(why.starts_with("serverEndPoint"), "{why}");
}

#[test]
fn members_that_are_not_base64url_are_refused() {
    for (binding, named) in [
        (
            json!({"tlsServerCertificate": "#"}),
            "tlsServerCertificate is not base64url",
        ),
        (
            json!({"serverEndPoint": "a+b/"}),
            "serverEndPoint is not base64url",
        ),
    ] {
        assert_eq!(check(binding, &certs(), false), Err(named.to_string()));
    }
}

#[test]
fn a_missing_binding_is_refused_only_when_required() {
    for missing in [
        Value::Null,
        json!({}),
        json!({"tlsUnique": "u", "cid_pubkey": "unused"}),
        json!({"serverEndPoint": "", "tlsServerCertificate": ""}),
    ] {
        assert_eq!(check(missing.clone(), &certs(), false), Ok(()), "{missing}");
        let why = check(missing.clone(), &certs(), true).unwrap_err();
        assert!(
            why.contains("which this relying party requires"),
            "{missing}: {why}"
        );
    }
}
