//! Judging an attestation with the configured anchors and the FIDO metadata: by a configured
//! anchor, by a metadata root only, untrusted, refused by its status, U2F found by key
//! identifier; and the same judgement again from the stored attestation object.

use base64::Engine as _;

use super::*;
use crate::fido::mds::{self, CertificationLevel, MetadataBlob};
use crate::fido::{
    judge, judge_stored, verify_registration, Judgement, TrustedBy, VerifiedRegistration,
};

const AAGUID_TEXT: &str = "11111111-1111-1111-1111-111111111111";
const CHAINED: &str = "the certificate chain validates to a configured anchor";

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Verified as the server does: with `anchors`, accepting untrusted attestations.
fn verified(reg: &Reg, anchors: &TrustAnchors) -> VerifiedRegistration {
    let origins = origins();
    verify_registration(&reg.json(), &expectations(&origins, anchors)).unwrap()
}

/// Metadata in JSON (statements or BLOB entries), as `fidoflow verify --mds` takes it.
fn metadata(items: Value) -> MetadataBlob {
    mds::unsigned_metadata(&items).unwrap()
}

/// A statement for the test AAGUID with these attestation roots.
fn statement(roots: &[&Issued]) -> Value {
    json!({
        "aaguid": AAGUID_TEXT,
        "description": "Test Key",
        "attestationRootCertificates": roots.iter().map(|r| b64(&r.der())).collect::<Vec<_>>(),
    })
}

/// Judges `verified` and checks that the stored attestation object is judged the same.
fn judged(
    verified: &VerifiedRegistration,
    metadata: Option<&MetadataBlob>,
    anchors: &TrustAnchors,
) -> Judgement {
    let judged = judge(verified, metadata, anchors, now());
    let again = judge_stored(&verified.attestation_object, metadata, anchors, now()).unwrap();
    assert_eq!(again, judged, "the stored object is judged differently");
    judged
}

#[test]
fn a_chain_to_a_configured_anchor_is_trusted_by_it_and_the_entry_names_the_model() {
    let pki = Pki::new();
    let anchors = pki.anchors();
    let v = verified(&pki.packed(), &anchors);
    let blob = metadata(json!([{
        "aaguid": AAGUID_TEXT,
        "metadataStatement": statement(&[&pki.root]),
        "statusReports": [{ "status": "FIDO_CERTIFIED_L2" }],
    }]));
    let j = judged(&v, Some(&blob), &anchors);
    assert_eq!(j.trusted_by(), Some(TrustedBy::ConfiguredAnchor));
    assert_eq!(j.trust.as_ref().unwrap().detail, CHAINED);
    assert_eq!(j.model(), Some("Test Key"));
    assert_eq!(j.certification_level(), Some(CertificationLevel::L2));
    assert_eq!(j.refusal, None);
    // Without metadata: the configured anchor alone.
    let j = judged(&v, None, &anchors);
    assert_eq!(j.trusted_by(), Some(TrustedBy::ConfiguredAnchor));
    assert_eq!(j.entry, None);
}

#[test]
fn a_chain_to_a_root_of_its_metadata_entry_only_is_trusted_by_that_root() {
    let pki = Pki::new();
    let none = TrustAnchors::empty();
    let v = verified(&pki.packed(), &none);
    assert!(!v.attestation_trusted);
    let blob = metadata(json!([statement(&[&pki.root])]));
    let j = judged(&v, Some(&blob), &none);
    assert_eq!(j.trusted_by(), Some(TrustedBy::MetadataRoot));
    assert_eq!(j.trust.as_ref().unwrap().detail, CHAINED);
    // Configured anchors of another PKI do not stand in the way.
    let other = Pki::new();
    let j = judged(&v, Some(&blob), &other.anchors());
    assert_eq!(j.trusted_by(), Some(TrustedBy::MetadataRoot));
    // Another model's roots are not this authenticator's.
    let mut elsewhere = statement(&[&pki.root]);
    elsewhere["aaguid"] = json!("22222222-2222-2222-2222-222222222222");
    let j = judged(&v, Some(&metadata(json!([elsewhere]))), &none);
    assert_eq!(j.entry, None);
    assert!(!j.trusted());
}

#[test]
fn an_attestation_that_leads_to_no_anchor_or_root_is_untrusted_with_the_reason() {
    let pki = Pki::new();
    let other = Pki::new();
    let none = TrustAnchors::empty();
    let v = verified(&pki.packed(), &none);
    let j = judged(&v, None, &none);
    assert_eq!(
        j.trust,
        Err("no attestation trust anchors are configured".to_string())
    );
    // The entry is found, but its root is another vendor's.
    let j = judged(
        &v,
        Some(&metadata(json!([statement(&[&other.root])]))),
        &none,
    );
    assert!(j.entry.is_some());
    assert_eq!(
        j.trust,
        Err(
            "the attestation certificate chain does not lead to a configured trust anchor"
                .to_string()
        )
    );
    // Neither none nor self attestation is ever trusted, whatever the metadata.
    let blob = metadata(json!([statement(&[&pki.root])]));
    let v = verified(&Reg::with(Att::None), &pki.anchors());
    let j = judged(&v, Some(&blob), &pki.anchors());
    assert!(j.entry.is_some());
    assert_eq!(
        j.trust,
        Err("the authenticator gave no attestation".to_string())
    );
    let v = verified(&Reg::with(Att::SelfPacked { alg: -7 }), &pki.anchors());
    let j = judged(&v, Some(&blob), &pki.anchors());
    assert_eq!(
        j.trust,
        Err("a self attestation cannot be traced to a trust anchor".to_string())
    );
}

#[test]
fn a_revoked_entry_refuses_the_authenticator_whatever_its_trust() {
    let pki = Pki::new();
    let anchors = pki.anchors();
    let v = verified(&pki.packed(), &anchors);
    let blob = metadata(json!([{
        "aaguid": AAGUID_TEXT,
        "metadataStatement": statement(&[]),
        "statusReports": [
            { "status": "FIDO_CERTIFIED_L1" },
            { "status": "REVOKED", "effectiveDate": "2025-01-01" },
        ],
    }]));
    let j = judged(&v, Some(&blob), &anchors);
    assert!(j.trusted());
    assert_eq!(
        j.refusal.as_deref(),
        Some("the FIDO metadata reports this authenticator as REVOKED since 2025-01-01")
    );
    // An attestation key compromise names the attestation certificate in use.
    let compromised = |cert: &Issued| {
        metadata(json!([{
            "aaguid": AAGUID_TEXT,
            "metadataStatement": statement(&[]),
            "statusReports": [{ "status": "ATTESTATION_KEY_COMPROMISE", "certificate": b64(&cert.der()) }],
        }]))
    };
    assert!(judged(&v, Some(&compromised(&pki.leaf)), &anchors)
        .refusal
        .is_some());
    assert_eq!(
        judged(&v, Some(&compromised(&pki.intermediate)), &anchors).refusal,
        None
    );
}

#[test]
fn a_u2f_authenticator_is_found_by_the_key_identifier_of_its_certificate() {
    let pki = Pki::new();
    let mut params = ca_params("U2F Device", None);
    params.is_ca = rcgen::IsCa::NoCa;
    params.key_usages = vec![];
    let leaf = issue(params, &pki.intermediate);
    let mut reg = Reg::with(Att::U2f {
        x5c: vec![leaf.der()],
        signer: leaf.signer(),
    });
    reg.aaguid = [0; 16];
    let none = TrustAnchors::empty();
    let v = verified(&reg, &none);
    let id = mds::key_identifier(&leaf.der()).unwrap();
    let blob = metadata(json!([
        { "aaguid": "00000000-0000-0000-0000-000000000000", "description": "Not this one" },
        {
            "attestationCertificateKeyIdentifiers": [id],
            "description": "U2F Key",
            // A U2F statement holds one certificate: its issuer is the root here.
            "attestationRootCertificates": [b64(&pki.intermediate.der())],
        },
    ]));
    let j = judged(&v, Some(&blob), &none);
    assert_eq!(j.model(), Some("U2F Key"));
    assert_eq!(j.trusted_by(), Some(TrustedBy::MetadataRoot));
    // Another certificate's identifier finds nothing.
    let unknown = metadata(json!([{
        "attestationCertificateKeyIdentifiers": [mds::key_identifier(&pki.leaf.der()).unwrap()],
        "description": "U2F Key",
    }]));
    assert_eq!(judged(&v, Some(&unknown), &none).entry, None);
}

#[test]
fn a_compound_attestation_is_trusted_by_the_statement_that_chains_to_a_root() {
    let pki = Pki::new();
    let mut reg = Reg::new();
    let mut signed = reg.auth_data();
    signed.extend_from_slice(&sha256(&reg.client_data()));
    let packed = Cbor::Map(vec![
        (text("fmt"), text("packed")),
        (
            text("attStmt"),
            Cbor::Map(vec![
                (text("alg"), int(-7)),
                (text("sig"), Cbor::Bytes(pki.leaf.signer().sign(&signed))),
                (
                    text("x5c"),
                    Cbor::Array(vec![
                        Cbor::Bytes(pki.leaf.der()),
                        Cbor::Bytes(pki.intermediate.der()),
                    ]),
                ),
            ]),
        ),
    ]);
    let none_statement = Cbor::Map(vec![
        (text("fmt"), text("none")),
        (text("attStmt"), Cbor::Map(vec![])),
    ]);
    reg.att = Att::Raw {
        fmt: "compound".into(),
        stmt: Cbor::Array(vec![none_statement, packed]),
    };
    let none = TrustAnchors::empty();
    let v = verified(&reg, &none);
    assert_eq!(v.attestation_statements.len(), 2);
    let j = judged(&v, Some(&metadata(json!([statement(&[&pki.root])]))), &none);
    assert_eq!(j.trusted_by(), Some(TrustedBy::MetadataRoot));
    assert_eq!(
        j.trust.unwrap().detail,
        format!("statement 2 (packed): {CHAINED}")
    );
    let j = judged(&v, None, &none);
    assert_eq!(
        j.trust,
        Err("statement 1 (none): the authenticator gave no attestation; statement 2 (packed): no attestation trust anchors are configured".to_string())
    );
}

#[test]
fn a_stored_object_that_is_not_an_attestation_object_is_not_judged() {
    assert!(judge_stored(b"not cbor", None, &TrustAnchors::empty(), now()).is_none());
    assert!(judge_stored(&[], None, &TrustAnchors::empty(), now()).is_none());
}
