//! A tenant's UAF rules beyond AAIDs: `[[tenants.uaf.accepted]]` and
//! `[[tenants.uaf.disallowed]]` criteria on key protection, user verification, matcher
//! protection and attachment, sent in the registration request's policy and judged at
//! registration against the AAID's metadata statement — also for an app that ignores the
//! policy and answers anyway; and channel bindings that must name the relying party's TLS
//! server certificate (`tls_server_certificates`, `require_channel_binding`).

use serde_json::{json, Value};

use crate::common::softuaf::{SoftUaf, Traits, UafTamper};
use crate::uaf::{bank, bank_with_metadata, status, Backend, AAID, FACET};

const POLICY: &str = r#"
[[tenants.uaf.accepted]]
key_protection = ["hardware", "secure_element"]
user_verification = ["fingerprint"]
attachment_hint = ["internal"]

[[tenants.uaf.disallowed]]
matcher_protection = ["software"]
"#;

/// A metadata entry (MDS3 names) for `aaid`.
fn statement(aaid: &str, key: &str, matcher: &str, uv: &str) -> Value {
    json!({
        "aaid": aaid,
        "metadataStatement": {
            "aaid": aaid,
            "description": format!("Phone {aaid}"),
            "keyProtection": [key],
            "matcherProtection": [matcher],
            "attachmentHint": ["internal"],
            "userVerificationDetails": [[{"userVerificationMethod": uv}]],
        },
        "statusReports": [{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-03-01"}],
    })
}

#[tokio::test]
async fn key_protection_user_verification_matcher_and_attachment_are_judged_by_metadata() {
    let app = bank_with_metadata(
        POLICY,
        vec![
            statement(AAID, "hardware", "tee", "fingerprint_internal"),
            statement("4e4e#4007", "software", "tee", "fingerprint_internal"),
            statement("4e4e#4008", "secure_element", "tee", "passcode_internal"),
            statement("4e4e#4009", "hardware", "software", "fingerprint_internal"),
        ],
    )
    .await;
    let backend = Backend::new(&app);

    let request = backend
        .uaf_request("registration", json!({"username": "dora"}))
        .await;
    let policy = &request[0]["policy"];
    assert_eq!(
        policy["accepted"],
        json!([[{
            "keyProtection": 0x0a, "userVerification": 0x02, "attachmentHint": 0x01,
            "assertionSchemes": ["UAFV1TLV"]
        }]]),
        "{policy}"
    );
    assert_eq!(
        policy["disallowed"],
        json!([{"matcherProtection": 0x01}]),
        "{policy}"
    );

    // A client whose authenticator does not fit stays silent; sent anyway, the server refuses.
    let ignore = UafTamper {
        ignore_policy: true,
        ..UafTamper::default()
    };
    let refused = |aaid: &str, traits: Traits| {
        let mut app = SoftUaf::new(aaid);
        app.traits = traits;
        app
    };
    let phone = Traits::default();
    for (mut authenticator, why) in [
        (
            refused(
                "4e4e#4007",
                Traits {
                    key_protection: 0x1,
                    ..phone
                },
            ),
            "meets none of the criteria this relying party accepts",
        ),
        (
            refused(
                "4e4e#4008",
                Traits {
                    user_verification: 0x4,
                    ..phone
                },
            ),
            "meets none of the criteria this relying party accepts",
        ),
        (
            refused(
                "4e4e#4009",
                Traits {
                    matcher_protection: 0x1,
                    ..phone
                },
            ),
            "meets criteria this relying party refuses (disallowed[0])",
        ),
        (
            refused("4e4e#400a", phone),
            "the metadata has no statement for it",
        ),
    ] {
        let request = backend
            .uaf_request("registration", json!({"username": "dora"}))
            .await;
        if authenticator.aaid() != "4e4e#400a" {
            let silent = authenticator.register(&request, Some(FACET)).unwrap_err();
            assert!(silent.contains("softuaf: the policy"), "{silent}");
        }
        let response = authenticator
            .register_with(&request, Some(FACET), &ignore)
            .unwrap();
        let answer = backend.respond("registration", &response).await;
        assert_eq!(status(&answer), 1492, "{answer}");
        let description = answer["description"].as_str().unwrap();
        assert!(description.contains(authenticator.aaid()), "{answer}");
        assert!(description.contains(why), "{answer}");
    }

    // The authenticator the metadata describes as the policy wants registers and signs in.
    let mut fitting = SoftUaf::new(AAID);
    let ok = backend.register("dora", &mut fitting).await;
    assert_eq!(status(&ok), 1200, "{ok}");
    let signed_in = backend
        .authenticate("dora", &mut fitting, &UafTamper::default())
        .await;
    assert_eq!(status(&signed_in), 1200, "{signed_in}");
    let (_, listed) = app
        .admin(
            reqwest::Method::GET,
            "/rest/admin/tenants/bank/users/dora/fido/credentials",
            Some(crate::common::app::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn channel_bindings_must_name_the_relying_partys_tls_certificate() {
    use ring::digest::{digest, SHA256};
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = |name: &str| {
        rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
    };
    let (rp, proxy) = (certificate("bank.example"), certificate("bank.example"));
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("bank-tls.pem");
    std::fs::write(&pem, rp.pem()).unwrap();
    let app = bank(
        &format!(
            "tls_server_certificates = [{:?}]\nrequire_channel_binding = true\n",
            pem.display().to_string()
        ),
        None,
    )
    .await;
    let backend = Backend::new(&app);
    let b64url = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let binding = |binding: Value| UafTamper {
        channel_binding: Some(binding),
        ..UafTamper::default()
    };
    let mut phone = SoftUaf::new(AAID);

    let register = |tamper: UafTamper| {
        let backend = &backend;
        async move {
            let request = backend
                .uaf_request("registration", json!({"username": "ines"}))
                .await;
            let mut phone = SoftUaf::new(AAID);
            let response = phone.register_with(&request, Some(FACET), &tamper).unwrap();
            backend.respond("registration", &response).await
        }
    };
    let none = register(UafTamper::default()).await;
    assert_eq!(status(&none), 1490, "{none}");
    assert!(
        none["description"].as_str().unwrap().contains("requires"),
        "{none}"
    );
    let proxied = register(binding(
        json!({"serverEndPoint": b64url(digest(&SHA256, proxy.der()).as_ref())}),
    ))
    .await;
    assert_eq!(status(&proxied), 1490, "{proxied}");

    let request = backend
        .uaf_request("registration", json!({"username": "ines"}))
        .await;
    let end_point = binding(json!({
        "serverEndPoint": b64url(digest(&SHA256, rp.der()).as_ref()),
        "tlsUnique": "aGVsbG8",
    }));
    let response = phone
        .register_with(&request, Some(FACET), &end_point)
        .unwrap();
    let registered = backend.respond("registration", &response).await;
    assert_eq!(status(&registered), 1200, "{registered}");

    // Authentication is bound the same way.
    let proxied = backend
        .authenticate(
            "ines",
            &mut phone,
            &binding(json!({"tlsServerCertificate": b64url(proxy.der())})),
        )
        .await;
    assert_eq!(status(&proxied), 1490, "{proxied}");
    let bound = backend
        .authenticate(
            "ines",
            &mut phone,
            &binding(json!({"tlsServerCertificate": b64url(rp.der())})),
        )
        .await;
    assert_eq!(status(&bound), 1200, "{bound}");
}
