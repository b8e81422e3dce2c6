//! Metadata BLOBs made here: an rcgen root, a signer certificate, a JWS signed with ring ES256.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::*;

const AAGUID: &str = "0132d110-bf4e-4208-a403-ab4f5f12efe5";

fn now() -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der_list(&[self.der()]).unwrap()
    }
}

fn dn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, "fidoflow MDS tests");
    dn.push(DnType::CommonName, name);
    dn
}

fn root(name: &str) -> Ca {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

struct Signer {
    der: Vec<u8>,
    serial: Vec<u8>,
    key: KeyPair,
}

fn signer(issuer: &Ca, from: i32, until: i32) -> Signer {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("Metadata BLOB signer");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(until, 1, 1);
    let serial = vec![0x12, 0x34, 0x56, rand::random::<u8>() & 0x7f];
    params.serial_number = Some(SerialNumber::from(serial.clone()));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Signer {
        der: cert.der().to_vec(),
        serial,
        key,
    }
}

fn crl(issuer: &Ca, revoked: &[&[u8]]) -> Crl {
    let list = crate::fido::tests::signed_crl(&issuer.cert, &issuer.key, revoked);
    Crl::from_pem(&list.pem().unwrap()).unwrap().remove(0)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A compact JWS of `payload`, ES256 with `key`, `x5c` = `chain`.
fn jws(payload: &Value, chain: &[&[u8]], key: &KeyPair) -> String {
    let header = json!({
        "alg": "ES256",
        "typ": "JWT",
        "x5c": chain.iter().map(|c| b64(c)).collect::<Vec<_>>(),
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &rng)
            .unwrap();
    let signature = pair.sign(&rng, signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", b64url(signature.as_ref()))
}

fn payload(reports: Value) -> Value {
    json!({
        "legalHeader": "Test metadata, no legal meaning.",
        "no": 42,
        "nextUpdate": "2025-07-01",
        "entries": [
            {
                "aaguid": AAGUID,
                "metadataStatement": {
                    "description": "Example Key Model 2",
                    "icon": "data:image/png;base64,iVBORw0KGgo=",
                    "aaguid": AAGUID,
                    "authenticatorVersion": 5,
                    "attestationRootCertificates": [],
                },
                "statusReports": reports,
                "timeOfLastStatusChange": "2024-03-01",
            },
            {
                "attestationCertificateKeyIdentifiers": ["AbCdef0123456789abcdef0123456789abcdef01"],
                "metadataStatement": {"description": "Old U2F key"},
                "statusReports": [{"status": "NOT_FIDO_CERTIFIED", "effectiveDate": "2019-01-01"}],
            },
            {"metadataStatement": {"description": "names nothing"}},
        ],
    })
}

fn certified() -> Value {
    json!([
        {"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2023-01-01"},
        {"status": "FIDO_CERTIFIED_L2", "effectiveDate": "2024-03-01"},
    ])
}

#[test]
fn a_blob_signed_by_a_signer_chaining_to_a_configured_root_verifies() {
    let root = root("MDS Root");
    let signer = signer(&root, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let blob = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap();
    assert_eq!(blob.number, 42);
    assert_eq!(blob.next_update.to_string(), "2025-07-01");
    assert_eq!(blob.entries.len(), 2);
    assert_eq!(blob.skipped, 1, "the entry that names nothing is left out");
    assert!(!blob.is_stale(now()));
    let aaguid = parse_aaguid(AAGUID).unwrap();
    let entry = blob.find(Lookup::Aaguid(&aaguid)).unwrap();
    assert_eq!(entry.description.as_deref(), Some("Example Key Model 2"));
    assert!(entry.icon.as_deref().unwrap().starts_with("data:image/png"));
    assert_eq!(entry.certification_level, Some(CertificationLevel::L2));
    assert_eq!(entry.refusal(None, None), None);
    let u2f = blob
        .find(Lookup::KeyIdentifier(
            "abcdef0123456789abcdef0123456789abcdef01",
        ))
        .unwrap();
    assert_eq!(u2f.description.as_deref(), Some("Old U2F key"));
    assert_eq!(u2f.certification_level, None);
}

/// The FIDO Alliance signs the real MDS3 BLOB with RS256 under an RSA root. ring cannot make
/// RSA keys, so two fixed 2048-bit test keys (made with `openssl genpkey`, used nowhere else)
/// sign an RSA root, an RSA signer and the BLOB.
#[test]
fn a_blob_signed_rs256_by_an_rsa_chain_verifies_and_a_tampered_one_does_not() {
    let rsa_key = |pkcs8: &[u8]| {
        KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap()
    };
    let root_key = rsa_key(include_bytes!("rsa-root.test-key.pk8"));
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("MDS RSA Root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let root = Ca {
        cert: params.self_signed(&root_key).unwrap(),
        key: root_key,
    };
    let signer_pkcs8 = include_bytes!("rsa-signer.test-key.pk8");
    let signer_key = rsa_key(signer_pkcs8);
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("Metadata BLOB RSA signer");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2027, 1, 1);
    let signer = params
        .signed_by(&signer_key, &root.cert, &root.key)
        .unwrap();

    let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [b64(signer.der())]});
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload(certified()).to_string().as_bytes())
    );
    let pair = ring::signature::RsaKeyPair::from_pkcs8(signer_pkcs8).unwrap();
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let jwt = format!("{signing_input}.{}", b64url(&signature));
    let blob = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap();
    assert_eq!(blob.number, 42);
    assert_eq!(blob.entries.len(), 2);

    signature[10] ^= 1;
    let tampered = format!("{signing_input}.{}", b64url(&signature));
    assert!(matches!(
        verify_blob(&tampered, &root.anchors(), &[], now()),
        Err(MdsError::SignatureInvalid)
    ));
    let other = root_named_other();
    assert!(matches!(
        verify_blob(&jwt, &other.anchors(), &[], now()),
        Err(MdsError::Untrusted(_))
    ));
}

#[test]
fn any_of_several_roots_may_anchor_the_blob_so_a_root_rollover_works() {
    let old = root("MDS Root 2020");
    let new = root("MDS Root 2025");
    let signer = signer(&new, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let roots = old.anchors().merged(&new.anchors());
    assert!(verify_blob(&jwt, &roots, &[], now()).is_ok());
}

#[test]
fn a_blob_whose_signer_chains_to_an_unknown_root_is_refused() {
    let root = root("MDS Root");
    let other = root_named_other();
    let signer = signer(&other, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let error = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap_err();
    assert!(matches!(error, MdsError::Untrusted(_)), "{error}");
}

fn root_named_other() -> Ca {
    root("Somebody else's root")
}

#[test]
fn a_blob_whose_signer_certificate_expired_is_refused() {
    let root = root("MDS Root");
    let signer = signer(&root, 2021, 2024);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let error = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap_err();
    assert!(
        matches!(&error, MdsError::Untrusted(m) if m.contains("expired")),
        "{error}"
    );
}

#[test]
fn a_blob_whose_signature_does_not_verify_is_refused() {
    let root = root("MDS Root");
    let signer = signer(&root, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    // Another payload under the same header and signature.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut changed = payload(certified());
    changed["no"] = json!(43);
    parts[1] = b64url(changed.to_string().as_bytes());
    let error = verify_blob(&parts.join("."), &root.anchors(), &[], now()).unwrap_err();
    assert!(matches!(error, MdsError::SignatureInvalid), "{error}");
    // Signed by a key other than the certificate's.
    let stranger = KeyPair::generate().unwrap();
    let jwt = jws(&payload(certified()), &[&signer.der], &stranger);
    let error = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap_err();
    assert!(matches!(error, MdsError::SignatureInvalid), "{error}");
}

#[test]
fn a_blob_that_is_not_a_jws_or_uses_another_algorithm_is_refused() {
    let root = root("MDS Root");
    for junk in ["", "a.b", "a.b.c.d", "!!.??.**"] {
        assert!(matches!(
            verify_blob(junk, &root.anchors(), &[], now()),
            Err(MdsError::Malformed(_))
        ));
    }
    let header = b64url(br#"{"alg":"none","x5c":[]}"#);
    let jwt = format!("{header}.{}.", b64url(b"{}"));
    assert!(verify_blob(&jwt, &root.anchors(), &[], now()).is_err());
    let signer = signer(&root, 2024, 2027);
    let header = json!({"alg": "HS256", "x5c": [b64(&signer.der)]});
    let jwt = format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(b"{}"),
        b64url(b"mac")
    );
    assert!(matches!(
        verify_blob(&jwt, &root.anchors(), &[], now()),
        Err(MdsError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn a_crl_of_the_root_revoking_the_signer_refuses_the_blob() {
    let root = root("MDS Root");
    let signer = signer(&root, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let revoking = crl(&root, &[&signer.serial]);
    let error = verify_blob(&jwt, &root.anchors(), &[revoking], now()).unwrap_err();
    assert!(matches!(error, MdsError::Revoked(_)), "{error}");
    let other = crl(&root, &[&[0x01, 0x02]]);
    assert!(verify_blob(&jwt, &root.anchors(), &[other], now()).is_ok());
}

#[test]
fn a_crl_that_claims_the_issuer_but_does_not_verify_is_refused() {
    let real = root("MDS Root");
    // Same name, another key: its CRLs do not verify with the real root.
    let impostor = root("MDS Root");
    let signer = signer(&real, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let forged = crl(&impostor, &[]);
    let error = verify_blob(&jwt, &real.anchors(), &[forged], now()).unwrap_err();
    assert!(matches!(error, MdsError::InvalidCrl(_)), "{error}");
}

#[test]
fn a_blob_past_next_update_still_verifies_but_is_stale() {
    let root = root("MDS Root");
    let signer = signer(&root, 2024, 2027);
    let jwt = jws(&payload(certified()), &[&signer.der], &signer.key);
    let later: DateTime<Utc> = "2025-07-02T00:00:00Z".parse().unwrap();
    let blob = verify_blob(&jwt, &root.anchors(), &[], later).unwrap();
    assert!(blob.is_stale(later));
}

fn entry_with(reports: Value) -> MetadataEntry {
    let value = payload(reports)["entries"][0].clone();
    MetadataEntry::from_json(&value).unwrap()
}

#[test]
fn revoked_and_user_key_compromised_authenticators_are_refused() {
    for status in [
        "REVOKED",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
    ] {
        let entry = entry_with(json!([
            {"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2023-01-01"},
            {"status": status, "effectiveDate": "2025-01-01"},
        ]));
        let why = entry.refusal(Some(9), None).unwrap();
        assert!(why.contains(status) && why.contains("2025-01-01"), "{why}");
    }
    for status in [
        "UPDATE_AVAILABLE",
        "NOT_FIDO_CERTIFIED",
        "SELF_ASSERTION_SUBMITTED",
    ] {
        assert_eq!(
            entry_with(json!([{ "status": status }])).refusal(None, None),
            None
        );
    }
}

#[test]
fn an_attestation_key_compromise_refuses_the_named_certificate_or_all_when_none_is_named() {
    let named = entry_with(json!([
        {"status": "ATTESTATION_KEY_COMPROMISE", "certificate": b64(b"compromised cert")},
    ]));
    assert!(named.refusal(None, Some(b"compromised cert")).is_some());
    assert_eq!(named.refusal(None, Some(b"another cert")), None);
    assert_eq!(named.refusal(None, None), None);
    let unnamed = entry_with(json!([{ "status": "ATTESTATION_KEY_COMPROMISE" }]));
    assert!(unnamed.refusal(None, Some(b"any cert")).is_some());
}

#[test]
fn a_user_verification_bypass_refuses_versions_up_to_the_reported_one() {
    let entry = entry_with(json!([
        {"status": "USER_VERIFICATION_BYPASS", "authenticatorVersion": 3},
    ]));
    assert!(entry.refusal(Some(2), None).is_some());
    assert!(entry.refusal(Some(3), None).is_some());
    assert_eq!(entry.refusal(Some(4), None), None);
    assert!(
        entry.refusal(None, None).is_some(),
        "an unknown version is refused"
    );
    let every = entry_with(json!([{ "status": "USER_VERIFICATION_BYPASS" }]));
    assert!(every.refusal(Some(100), None).is_some());
}

#[test]
fn the_certification_level_is_the_highest_certified_one() {
    let level = |reports| entry_with(reports).certification_level;
    assert_eq!(level(json!([])), None);
    assert_eq!(
        level(json!([{ "status": "FIDO_CERTIFIED" }])),
        Some(CertificationLevel::L1)
    );
    assert_eq!(
        level(json!([
            {"status": "FIDO_CERTIFIED_L3plus"},
            {"status": "FIDO_CERTIFIED_L1plus"},
        ])),
        Some(CertificationLevel::L3Plus)
    );
    assert!(CertificationLevel::L1Plus > CertificationLevel::L1);
    assert_eq!(
        CertificationLevel::parse("L2+"),
        Some(CertificationLevel::L2Plus)
    );
    assert_eq!(CertificationLevel::parse("L4"), None);
}

#[test]
fn entries_survive_a_round_trip_through_json() {
    let entry = entry_with(json!([
        {"status": "ATTESTATION_KEY_COMPROMISE", "certificate": b64(b"cert")},
    ]));
    let text = serde_json::to_string(&entry).unwrap();
    let back: MetadataEntry = serde_json::from_str(&text).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn u2f_authenticators_are_found_by_the_key_identifier_of_their_certificate() {
    let root = root("U2F vendor");
    let leaf = signer(&root, 2024, 2027);
    let id = key_identifier(&leaf.der).unwrap();
    assert_eq!(id.len(), 40);
    let blob = MetadataBlob {
        number: 1,
        next_update: "2030-01-01".parse().unwrap(),
        legal_header: None,
        entries: vec![MetadataEntry {
            key_identifiers: vec![id],
            ..MetadataEntry::from_statement(&json!({"description": "U2F key"})).unwrap()
        }],
        skipped: 0,
    };
    let found = blob
        .find_for(&[0; 16], std::slice::from_ref(&leaf.der))
        .unwrap();
    assert_eq!(found.description.as_deref(), Some("U2F key"));
    assert!(blob.find_for(&[1; 16], &[leaf.der]).is_none());
}

/// UAF authenticators are found by their AAID, ignoring the case of its hex digits.
#[test]
fn a_uaf_entry_is_found_by_its_aaid_in_any_case() {
    let root = root("MDS Root");
    let signer = signer(&root, 2024, 2027);
    let mut body = payload(certified());
    body["entries"].as_array_mut().unwrap().push(json!({
        "aaid": "4E4E#4005",
        "metadataStatement": {"description": "UAF Key", "aaid": "4E4E#4005"},
        "statusReports": [{"status": "REVOKED", "effectiveDate": "2024-05-01"}],
    }));
    let jwt = jws(&body, &[&signer.der], &signer.key);
    let blob = verify_blob(&jwt, &root.anchors(), &[], now()).unwrap();
    let entry = blob
        .find(Lookup::Aaid("4e4e#4005"))
        .expect("found ignoring case");
    assert_eq!(entry.description.as_deref(), Some("UAF Key"));
    assert!(entry.refusal(None, None).unwrap().contains("REVOKED"));
    assert!(blob.find(Lookup::Aaid("4e4e#4006")).is_none());
    // An AAGUID entry is no AAID match.
    assert!(blob.find(Lookup::Aaid("")).is_none());
}
