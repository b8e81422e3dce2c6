//! The FIDO MDS test PKI and metadata statements of fido2-net-lib (`tests/vectors/mds/`, see
//! its README): the root, CA-1 and the TOC signer chain, their CRLs, and four conformance
//! metadata statements.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use fidoflow::fido::mds::{self, Crl, MdsError, MetadataEntry};
use fidoflow::fido::TrustAnchors;

fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/mds")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn der_of(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

/// Inside every validity period of the test PKI and of both CRLs.
fn august_2018() -> DateTime<Utc> {
    "2018-08-10T12:00:00Z".parse().unwrap()
}

fn chain() -> Vec<Vec<u8>> {
    vec![
        der_of(&read("mds-toc-signer-3.pem")),
        der_of(&read("mds-ca-1.pem")),
    ]
}

fn crls() -> Vec<Crl> {
    let mut crls = Crl::from_pem(&read("mds-root.crl.pem")).unwrap();
    crls.extend(Crl::from_pem(&read("mds-ca-1.crl.pem")).unwrap());
    crls
}

#[test]
fn the_toc_signer_chains_to_the_mds_test_root_with_its_empty_crls() {
    let root = TrustAnchors::from_pem(&read("mds-root.pem")).unwrap();
    mds::verify_signer_chain(&chain(), &root, &crls(), august_2018()).unwrap();
}

#[test]
fn the_toc_signer_is_refused_after_it_expired_and_under_another_root() {
    let root = TrustAnchors::from_pem(&read("mds-root.pem")).unwrap();
    let later: DateTime<Utc> = "2019-01-01T00:00:00Z".parse().unwrap();
    let error = mds::verify_signer_chain(&chain(), &root, &crls(), later).unwrap_err();
    assert!(
        matches!(&error, MdsError::Untrusted(m) if m.contains("expired")),
        "{error}"
    );
    // CA-1 as the only root still anchors the signer; an unrelated root does not.
    let ca = TrustAnchors::from_pem(&read("mds-ca-1.pem")).unwrap();
    mds::verify_signer_chain(&chain()[..1], &ca, &[], august_2018()).unwrap();
    let stranger = TrustAnchors::from_der_list(&[chain()[0].clone()]).unwrap();
    assert!(mds::verify_signer_chain(&chain()[..1], &stranger, &[], august_2018()).is_err());
}

#[test]
fn a_crl_given_for_the_wrong_issuer_key_is_refused() {
    // The CA-1 CRL swapped for the root's: names match nothing, so it is not consulted; but a
    // CRL of CA-1 must verify with CA-1's key, which the test CRL does.
    let root = TrustAnchors::from_pem(&read("mds-root.pem")).unwrap();
    let only_ca1 = Crl::from_pem(&read("mds-ca-1.crl.pem")).unwrap();
    mds::verify_signer_chain(&chain(), &root, &only_ca1, august_2018()).unwrap();
    assert!(
        Crl::from_pem(&read("mds-root.pem")).is_err(),
        "a certificate is not a CRL"
    );
}

#[test]
fn the_conformance_metadata_statements_parse_with_their_roots() {
    let files = [
        (
            "256k1-u2f-authenticator-anonca.metadata.json",
            "00000000-0000-0000-0000-000000000002",
        ),
        (
            "256k1-u2f-authenticator-basic_full.metadata.json",
            "00000000-0000-0000-0000-000000000001",
        ),
        (
            "256k1-u2f-authenticator-basic_surrogate.metadata.json",
            "00000000-0000-0000-0000-000000000003",
        ),
        (
            "secp256r1-packed-authenticator.metadata.json",
            "00000000-0000-0000-0000-000000000004",
        ),
    ];
    for (file, aaguid) in files {
        let statement: serde_json::Value = serde_json::from_str(&read(file)).unwrap();
        let entry = MetadataEntry::from_statement(&statement).unwrap();
        let description = entry.description.clone().unwrap_or_default();
        assert!(!description.is_empty(), "{file}: no description");
        assert!(entry.icon.as_deref().is_none_or(|i| i.starts_with("data:")));
        assert!(!entry.attestation_roots.is_empty(), "{file}: no roots");
        assert_eq!(
            entry.anchors().len(),
            entry.attestation_roots.len(),
            "{file}: every root is a certificate"
        );
        assert!(entry.status_reports.is_empty());
        assert_eq!(entry.refusal(None, None), None);
        assert_eq!(
            entry.aaguid,
            Some(mds::parse_aaguid(aaguid).unwrap()),
            "{file}"
        );
    }
}

/// The expected values were computed outside fidoflow, with openssl, as the SHA-1 of the
/// subjectPublicKey BIT STRING contents less its unused-bits byte (the 65-byte P-256 or 97-byte
/// P-384 point):
/// `openssl x509 -in F -pubkey -noout | openssl pkey -pubin -outform DER | tail -c 65 | sha1sum`
/// (`tail -c 97` for the P-384 root).
#[test]
fn the_key_identifier_is_the_sha1_of_the_subject_public_key_bits_as_openssl_computes_it() {
    for (file, expected) in [
        (
            "mds-toc-signer-3.pem",
            "5c90d17ecf3c4cb8bbe6faa4632de2507f40f0cb",
        ),
        ("mds-ca-1.pem", "69115e2d6964859d96b8d6ff5ccdbf3c75cf4c18"),
        ("mds-root.pem", "d2a51f0ba7f662c840d4d8bdb9d78ed154bbbc46"),
    ] {
        let der = der_of(&read(file));
        assert_eq!(
            mds::key_identifier(&der).as_deref(),
            Some(expected),
            "{file}"
        );
    }
    assert_eq!(mds::key_identifier(b"not a certificate"), None);
}
